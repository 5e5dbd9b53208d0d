//! CLI tests through the real `jit` binary, one module per command.

mod approvals;
mod lab;
mod lifecycle;
mod next_steps;
#[path = "../common/plan_doc.rs"]
mod plan_doc;
mod request;
mod revocation;
mod support;
mod tampered;

mod clock;
mod defaults;
mod defender;
mod files;
mod findings;
mod inputs;

mod fmt;
mod fmt_golden;
mod policies;
mod schema;
mod schema_agreement;
mod spellings;
mod terminal;
mod validate;
