//! CLI tests through the real `jit` binary, one module per command.

mod lifecycle;
mod support;

mod findings;
mod fmt;
mod fmt_golden;
mod schema;
mod spellings;
mod terminal;
mod validate;
