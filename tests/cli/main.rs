//! CLI tests through the real `jit` binary, one module per command.

mod lifecycle;
mod revocation;
mod support;
mod tampered;

mod fmt;
mod schema;
mod terminal;
mod validate;
