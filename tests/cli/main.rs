//! CLI tests through the real `jit` binary, one module per command.

mod approvals;
mod lifecycle;
mod support;

mod fmt;
mod schema;
mod terminal;
mod validate;
