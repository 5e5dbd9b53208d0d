//! CLI tests through the real `jit` binary, one module per command.

mod approvals;
mod lab;
mod lifecycle;
#[path = "../common/plan_doc.rs"]
mod plan_doc;
mod revocation;
mod support;
mod tampered;

mod clock;
mod files;
mod findings;
mod inputs;

mod fmt;
mod fmt_golden;
mod policies;
mod schema;
mod spellings;
mod terminal;
mod validate;
