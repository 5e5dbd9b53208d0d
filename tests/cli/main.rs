//! CLI tests through the real `jit` binary, one module per command.

mod support;
mod validate;
