//! CLI tests through the real `jit` binary, one module per command.

mod lab;
mod lifecycle;
mod support;

mod clock;
mod files;
mod inputs;

mod fmt;
mod schema;
mod terminal;
mod validate;
