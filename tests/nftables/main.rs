//! The nftables provider against the real kernel: network namespaces made by each test, a TCP
//! listener in "server", connections from "client" across a veth pair. Needs root, `ip` and
//! `nft`; without them each test prints why and passes without checking anything, except where
//! `JIT_NETNS_TESTS=required` (CI sets it), where it fails.
//!
//! Run: `cargo test --test nftables` (as root).

mod lab;

#[allow(dead_code)]
#[path = "../cli/support.rs"]
mod support;

mod cli;
mod fixture;

mod enforcement;
mod errors;
mod overlap;
mod policy;
mod properties;
mod readback;
