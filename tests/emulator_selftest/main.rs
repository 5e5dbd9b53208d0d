//! Self-tests of the ARM emulator over real HTTP with reqwest: reads against the official
//! examples, writes (validation, etags, long-running operations), auth, throttling, faults.

#[path = "../emulator/mod.rs"]
mod emulator;

mod support;

mod auth;
mod faults;
mod reads;
mod throttle;
mod writes;
