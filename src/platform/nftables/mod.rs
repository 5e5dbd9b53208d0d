//! The nftables platform: one table `inet <table>` per provider on this host, grants as set
//! elements the kernel removes at their end. Pure: the table jit wants ([`spec`], [`policy`]),
//! the grant-set layers ([`layers`]), its nft JSON ([`ruleset`]), the table as read
//! ([`readback`]), the changes and the transaction ([`reconcile`]), open grants ([`status`]).
//! Running `nft` is `providers::nftables`.

pub mod diff;
#[cfg(test)]
mod fixture;
pub mod layers;
pub mod policy;
pub mod readback;
pub mod reconcile;
pub mod resources;
pub mod ruleset;
pub mod spec;
pub mod status;
pub mod typed;
