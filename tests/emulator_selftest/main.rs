//! Self-tests of the ARM emulator over real HTTP with reqwest: reads against the official
//! examples, writes (validation, etags, long-running operations), auth, throttling, faults,
//! Resource Graph.

#[path = "../emulator/mod.rs"]
mod emulator;

mod support;

mod auth;
mod faults;
mod graph;
mod reads;
mod throttle;
mod writes;
