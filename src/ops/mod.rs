//! Operations: the only code that calls both the pure core and a provider (or the file system).

pub mod config;
pub mod fmt;
