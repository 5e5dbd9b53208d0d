//! The nftables provider against the real kernel: network namespaces made by each test, a TCP
//! listener in "server", connections from "client" across a veth pair. Needs root, `ip` and
//! `nft`; without them each test prints why and passes without checking anything.
//!
//! Run: `cargo test --test nftables` (as root).

mod lab;

mod enforcement;
mod errors;
mod overlap;
mod policy;
mod readback;
