//! CLI tests through the real `jit` binary, one module per command.

mod lifecycle;
mod support;

mod findings;
mod fmt;
mod schema;
mod terminal;
mod validate;
