//! The azure provider against the ARM emulator on 127.0.0.1: reads, writes, faults and
//! credentials through the library, and end to end through the real `jit` binary.

#[path = "../emulator/mod.rs"]
mod emulator;

#[allow(dead_code)]
#[path = "../cli/support.rs"]
mod support;

mod common;
#[path = "../common/plan_doc.rs"]
mod plan_doc;
#[allow(dead_code)]
#[path = "../common/vm_fixture.rs"]
mod vm_fixture;

mod approvals;
mod cli;
mod credentials;
mod defender;
mod defender_cli;
mod estate;
mod findings;
mod fresh;
mod graph;
mod missing;
mod provider;
mod revocation;
mod shard;
mod tampered;
mod verbose;
mod vm_targets;
