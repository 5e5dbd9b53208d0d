//! Self-tests of the ARM emulator over real HTTP with reqwest: reads against the official
//! examples, writes (validation, etags, long-running operations), auth, throttling, faults,
//! Resource Graph, VM/NIC/subnet reads and Defender for Cloud JIT policies.

#[path = "../emulator/mod.rs"]
mod emulator;

mod support;
#[allow(dead_code)]
#[path = "../common/vm_fixture.rs"]
mod vm_fixture;

mod auth;
mod compute;
mod defender;
mod faults;
mod graph;
mod reads;
mod throttle;
mod writes;
