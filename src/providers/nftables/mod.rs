//! The nftables provider: one table `inet <table>` on this host that jit owns entirely, grants
//! as set elements the kernel itself removes at their end, so access closes on time even if jit
//! never runs again. Reads the table back, plans element adds and removals, applies them as one
//! checked transaction.
//!
//! The pure parts live in `platform::nftables` (re-exported here); this module runs `nft`.
//!
//! - [`spec`]: the plain description of the table jit wants, and [`policy`], which fills it from
//!   the policy, its grants and the clock;
//! - [`layers`]: which grant set each element goes in, so overlapping sources never share one;
//! - [`ruleset`]: the nft JSON of the table and of a transaction;
//! - [`readback`]: `nft -j list table` into the same terms, with a fingerprint;
//! - [`reconcile`]: desired against live — changes, drift, the transaction;
//! - [`runner`]: running `nft`, and its errors;
//! - [`lock`]: one apply at a time per table on this host;
//! - [`provider`]: all of it behind the [`crate::providers::Provider`] trait;
//! - [`status`]: the grants a live table holds, with the kernel's remaining time.
//!
//! **`nft -j` JSON, not the `nftables` crate.** jit writes the JSON with `serde_json` and runs
//! `nft` itself (std::process). The crate (0.6) is a typed layer over the same `nft -j`
//! process; it would bring async variants jit does not use, it serializes unset fields as
//! `null` where jit must compare its own objects with `nft -j list` output field for field,
//! and its typed listing would fail on objects a hand edit can put in the table — exactly what
//! jit must read to report drift. Plain `serde_json::Value`s in the listed shape keep the
//! comparison exact and the dependency list shorter.

pub mod lock;
pub mod provider;
pub mod runner;

pub use crate::platform::nftables::{layers, policy, readback, reconcile, ruleset, spec, status};

pub use provider::NftablesProvider;
pub use readback::{LiveElement, LiveTable};
pub use reconcile::{Change, Reason, Rebuild, TablePlan};
pub use runner::{Nft, NftError};
pub use spec::{ElementKey, GrantElement, GrantInput, GuardedPort, Proto, TableSpec};

/// Reads table `inet <table>`; `None` when it does not exist.
pub fn read(nft: &Nft, table: &str) -> Result<Option<LiveTable>, NftError> {
    match nft.list_table(table)? {
        None => Ok(None),
        Some(listing) => Ok(Some(readback::parse(table, &listing)?)),
    }
}

/// What [`apply`] did.
#[derive(Debug)]
pub struct Applied {
    /// The plan carried out (empty when the table already matched).
    pub plan: TablePlan,
    /// The table's fingerprint before the apply.
    pub before: Option<String>,
}

/// Makes the table match `spec`: reads it, plans, checks the transaction with `nft -c`, then
/// applies it as one transaction. Nothing is written when the table already matches; a failed
/// check or apply leaves the ruleset as it was. (`jit apply` goes through [`NftablesProvider`],
/// which writes a plan's changes; this writes a spec, for tests, benches and seeding.)
pub fn apply(nft: &Nft, spec: &TableSpec) -> Result<Applied, NftError> {
    nft.preflight()?;
    let live = read(nft, &spec.table)?;
    let before = live.as_ref().map(|l| l.fingerprint.clone());
    let plan = reconcile::plan(spec, live.as_ref());
    if let Some(document) = reconcile::transaction(spec, &plan) {
        nft.check(&document)?;
        nft.apply(&document)?;
    }
    Ok(Applied { plan, before })
}
