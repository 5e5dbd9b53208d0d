//! The nftables provider behind the [`Provider`] trait: reads jit's table on this host (scope
//! `nftables:<table>`) and applies the changes of a batch as one transaction per table, checked
//! with `nft -c` first, right after re-reading the table and comparing its fingerprint with
//! the plan's.
//!
//! Timeouts are counted from the machine's clock right before the write, not from the batch's
//! clock: the kernel counts them down in real time from its commit.
//!
//! A transaction is all or nothing, so every change of a table shares one outcome: applied, or
//! failed with nft's error (the ruleset as it was). An element whose grant ended between plan
//! and apply is not written ([`Outcome::Skipped`]: nothing is left to open).
//!
//! Two applies on one host at once take turns ([`super::lock`]): the second re-reads the table
//! the first left, sees it moved, and re-plans (or, for a saved plan, stops).

use std::collections::{BTreeMap, HashMap};

use jiff::{SignedDuration, Timestamp};

use super::{read, Nft, NftError};
use crate::live::{scope_key, Live, Scope};
use crate::platform::nftables::diff::table_of;
use crate::platform::nftables::typed;
use crate::platform::Content;
use crate::providers::{in_order, Batch, OnOutcome, Outcome, Provider, ProviderError};

/// The fingerprint of a table that does not exist.
pub const ABSENT: &str = "absent";

/// Kept in hand between counting the timeouts and the kernel's commit (two runs of `nft`), so
/// that an element closes a little early, never late.
pub const COMMIT_MARGIN: SignedDuration = SignedDuration::from_millis(500);

pub struct NftablesProvider {
    address: String,
    table: String,
    nft: Nft,
}

impl NftablesProvider {
    /// Provider `address` (`nftables.<name>`) serving table `inet <table>`, running `nft` from
    /// PATH.
    pub fn new(address: impl Into<String>, table: impl Into<String>) -> NftablesProvider {
        NftablesProvider {
            address: address.into(),
            table: table.into(),
            nft: Nft::default(),
        }
    }

    /// Runs nft as `nft` says (a wrapper such as `ip netns exec NAME nft`).
    pub fn with_nft(mut self, nft: Nft) -> NftablesProvider {
        self.nft = nft;
        self
    }

    /// The table a scope id names, when it is this provider's.
    fn table_of<'s>(&self, scope: &'s str) -> Result<&'s str, String> {
        match table_of(scope) {
            Some(table) if table == self.table => Ok(table),
            Some(table) => Err(format!(
                "provider `{}` serves table `inet {}`, not `{table}`",
                self.address, self.table
            )),
            None => Err(format!("`{scope}` is not an nftables table")),
        }
    }

    fn read_scope(&self, id: &str, table: &str) -> Result<Scope, NftError> {
        let live = read(&self.nft, table)?;
        Ok(Scope {
            id: id.to_string(),
            name: table.to_string(),
            fingerprint: live
                .as_ref()
                .map_or_else(|| ABSENT.to_string(), |t| t.fingerprint.clone()),
            content: Content::Nftables(live),
        })
    }

    /// The outcome of every change of one table (by index into `changes`).
    fn apply_table(
        &self,
        batch: &Batch<'_>,
        scope: &str,
        changes: &[&crate::plan::ResourceChange],
    ) -> Vec<Outcome> {
        let all = |outcome: Outcome| vec![outcome; changes.len()];
        let table = match self.table_of(scope) {
            Ok(table) => table,
            Err(why) => return all(Outcome::failed(why)),
        };
        // Held until the commit: no other jit run writes this table in between.
        let _lock = match super::lock::lock(table) {
            Ok(lock) => lock,
            Err(e) => return all(failed(&e)),
        };
        let now = match self.read_scope(scope, table) {
            Ok(now) => now,
            Err(e) => return all(failed(&e)),
        };
        if batch.fingerprint(scope) != Some(now.fingerprint.as_str()) {
            return all(Outcome::Stale(format!(
                "table `inet {table}` changed since the plan was made"
            )));
        }
        let Content::Nftables(live) = &now.content else {
            return all(Outcome::failed(
                "this is a bug in jit: not an nftables scope",
            ));
        };
        // The kernel counts a timeout from the commit, in real time: the machine's clock now
        // (not the batch's, read when the run started), with a margin for the check and the
        // commit that follow.
        let commit = Timestamp::now() + COMMIT_MARGIN;
        let written = match typed::transaction(table, changes, live.as_ref(), commit) {
            Ok(written) => written,
            Err(refused) => {
                let mut outcomes = all(Outcome::Skipped(format!(
                    "not written: another change of table `inet {table}` was refused"
                )));
                outcomes[refused.index] = Outcome::failed(refused.message);
                return outcomes;
            }
        };
        let result = match &written.document {
            Some(document) => self
                .nft
                .check(document)
                .and_then(|()| self.nft.apply(document)),
            None => Ok(()),
        };
        let mut outcomes = match result {
            Ok(()) => all(Outcome::Applied),
            Err(e) => all(failed(&e)),
        };
        for index in written.ended {
            outcomes[index] = Outcome::Skipped(
                "its grant ended before the apply: there is nothing left to open".to_string(),
            );
        }
        outcomes
    }
}

impl Provider for NftablesProvider {
    fn address(&self) -> String {
        self.address.clone()
    }

    fn read(&self, scopes: &[String]) -> Result<Live, ProviderError> {
        self.nft.preflight().map_err(provider_error)?;
        let mut live = Live::default();
        for id in scopes {
            let table = match self.table_of(id) {
                Ok(table) => table,
                Err(why) => {
                    live.failed.insert(scope_key(id), why);
                    continue;
                }
            };
            match self.read_scope(id, table) {
                Ok(scope) => live.insert(scope),
                // A listing jit cannot understand fails this table only.
                Err(NftError::Read(e)) => {
                    live.failed.insert(scope_key(id), e.to_string());
                }
                Err(e) => return Err(provider_error(e)),
            }
        }
        Ok(live)
    }

    fn apply(
        &self,
        batch: Batch<'_>,
        on_outcome: &OnOutcome<'_>,
    ) -> Result<Vec<Outcome>, ProviderError> {
        self.nft.preflight().map_err(provider_error)?;
        let mut by_scope: BTreeMap<String, Vec<&crate::plan::ResourceChange>> = BTreeMap::new();
        for change in batch.changes {
            by_scope
                .entry(change.scope.clone())
                .or_default()
                .push(change);
        }
        let mut reported = HashMap::new();
        for (scope, changes) in &by_scope {
            let outcomes = self.apply_table(&batch, scope, changes);
            // One transaction: its outcomes in one report.
            let pairs: Vec<_> = changes.iter().copied().zip(&outcomes).collect();
            on_outcome(&pairs);
            for (change, outcome) in changes.iter().zip(outcomes) {
                reported.insert(change.address.clone(), outcome);
            }
        }
        Ok(in_order(batch.changes, &reported))
    }
}

/// An nft failure as the outcome of a change, with the errno name where there is one.
fn failed(e: &NftError) -> Outcome {
    Outcome::Failed {
        code: e.code().map(str::to_string),
        message: e.to_string(),
    }
}

/// An nft failure of the whole read or batch.
fn provider_error(e: NftError) -> ProviderError {
    match e.code() {
        Some(code) => ProviderError::Remote {
            code: code.to_string(),
            message: e.to_string(),
        },
        None => ProviderError::Other(e.to_string()),
    }
}
