//! Providers: the only home of I/O against a firewall. Each reads scopes of live state (with a
//! fingerprint each) and applies a batch of changes, one typed outcome per change, holding no
//! state between the two. The core never sees HTTP, `nft` or files. docs/providers.md says what
//! a provider implements and what the conformance suite (tests/conformance/) proves.

pub mod azure;
pub mod nftables;
pub mod snapshot;

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;

use crate::live::Live;
use crate::model::{ProviderConfig, ProviderDecl};
use crate::plan::ResourceChange;

/// A failure talking to the live firewall, with the remote error code where there is one.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The NSG (or other object) a target names does not exist. `hint` explains what is
    /// there instead (a near name, the resource group missing), when the provider knows.
    #[error("{what} not found: {id}{}", hint.as_deref().map(|h| format!("; {h}")).unwrap_or_default())]
    NotFound {
        what: &'static str,
        id: String,
        hint: Option<String>,
    },
    /// The live data could not be understood; names the file or URL and what was wrong.
    #[error("{source_name}: {message}")]
    Corrupt {
        source_name: String,
        message: String,
    },
    /// A remote service refused; `code` is the service's own error code.
    #[error("{message}")]
    Remote { code: String, message: String },
    /// Local I/O (files, processes).
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    /// Live state changed under us (etag mismatch): re-plan.
    #[error("stale: {0}")]
    Stale(String),
    #[error("{0}")]
    Other(String),
}

/// What happened to one change: exactly one per change of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// The service refused or the write could not be made; `code` is the remote error code
    /// where there is one (`PreconditionFailed`, `ENOENT`, …).
    Failed {
        code: Option<String>,
        message: String,
    },
    /// Not attempted: the scope is not as it was planned (its fingerprint moved, or a write
    /// found it changed). Re-planning that scope is the way forward.
    Stale(String),
    /// Not attempted because an earlier change to the same scope failed.
    Skipped(String),
}

impl Outcome {
    /// A failure without a remote code.
    pub fn failed(message: impl Into<String>) -> Outcome {
        Outcome::Failed {
            code: None,
            message: message.into(),
        }
    }

    /// `applied`, `failed`, `stale`, `skipped`: the audit log's word.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Failed { .. } => "failed",
            Outcome::Stale(_) => "stale",
            Outcome::Skipped(_) => "skipped",
        }
    }

    /// Why it was not applied, with the remote code: `PreconditionFailed: …`.
    pub fn why(&self) -> Option<String> {
        match self {
            Outcome::Applied => None,
            Outcome::Failed {
                code: Some(code),
                message,
            } if !message.contains(code.as_str()) => Some(format!("{code}: {message}")),
            Outcome::Failed { message, .. } => Some(message.clone()),
            Outcome::Stale(why) | Outcome::Skipped(why) => Some(why.clone()),
        }
    }
}

/// What `apply` is asked to do: changes for one provider, in plan order, with the fingerprint
/// of every scope as the plan saw it and the clock. A provider holds no state between `read`
/// and `apply` that could change what it writes: it checks each scope against `fingerprints`
/// itself, right before writing it (or, for a fresh read, lets each write's own precondition
/// check it: see [`Batch::read_at`]), and reports the changes of a scope that moved as
/// [`Outcome::Stale`], writing none of them.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    pub changes: &'a [ResourceChange],
    /// By scope id as the plan writes it (compare with [`crate::live::scope_key`]).
    pub fingerprints: &'a BTreeMap<String, String>,
    /// The clock of the apply, read when the run started (for a live firewall within a minute
    /// of the machine's). A provider whose writes count down in real time (nftables timeouts)
    /// reads the machine's clock itself, right before writing.
    pub now: Timestamp,
    /// When the live state the plan was made from was read, if this process read it for this
    /// apply (`jit apply` planning and applying in one run; the read is no older than this).
    /// A provider may then write a scope from that read without reading it again, while the
    /// read is younger than the provider's own freshness bound and its writes carry
    /// preconditions that catch a change since (the azure provider: etags, see docs/azure.md).
    /// `None` (a plan from a file): every scope is read again right before it is written.
    pub read_at: Option<Timestamp>,
}

impl Batch<'_> {
    /// The fingerprint the plan saw for scope `id`.
    pub fn fingerprint(&self, id: &str) -> Option<&str> {
        let key = crate::live::scope_key(id);
        self.fingerprints
            .iter()
            .find(|(k, _)| crate::live::scope_key(k) == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Called with the outcomes of one write as soon as they are known (before the next write to
/// that scope), so the audit log is never behind the firewall: one change for most writes,
/// every change of a scope written in one step (an nftables transaction, the snapshot file) in
/// one call, which the audit log makes durable with one sync. Every change is reported exactly
/// once. May be called from several threads.
pub type OnOutcome<'a> = dyn Fn(&[(&ResourceChange, &Outcome)]) + Sync + 'a;

/// A live firewall. Stateless between calls: everything `apply` needs is in its [`Batch`].
/// `Send + Sync`: `ops::apply` writes through several providers (subscriptions, hosts) at
/// once, each paced to its own limits.
pub trait Provider: Send + Sync {
    /// `<kind>.<name>`.
    fn address(&self) -> String;

    /// Read the scopes with these ids (as written in policy), with a fingerprint each. A scope
    /// that cannot be read on its own account (it does not exist, the service refuses it, its
    /// body is not understood) is listed in [`Live::failed`] with the error, and the others are
    /// still read: one missing scope never keeps jit from revoking access in the rest. `Err`
    /// is for a failure of the whole read (the snapshot file cannot be read, no credentials,
    /// no connection).
    fn read(&self, scopes: &[String]) -> Result<Live, ProviderError>;

    /// A cheaper read of many scopes that may lag behind the truth (an index that is
    /// eventually consistent), for discovery only: `ops::plan` plans from it, then reads
    /// again with [`Provider::read`] every scope the plan would change and plans those from
    /// that read. `None` (the default) when the provider has no such read.
    fn discover(&self, _scopes: &[String]) -> Result<Option<Live>, ProviderError> {
        Ok(None)
    }

    /// Targets named by their VM: what filters each VM (every NSG on its path) and its private
    /// addresses, one result per id. `None` (the default) when the provider does not know VMs.
    fn resolve_vms(
        &self,
        _vm_ids: &[String],
    ) -> Option<Vec<Result<azure::vm::VmNetwork, ProviderError>>> {
        None
    }

    /// Targets named by their VM whose VM cannot be resolved: the scopes that hold a managed
    /// rule (`prefix` and marker) of one of `rule_names`, where jit wrote that VM's rules.
    /// `None` (the default) when the provider does not know VMs.
    fn nsgs_holding(
        &self,
        _prefix: &str,
        _rule_names: &[String],
    ) -> Option<Result<Vec<String>, ProviderError>> {
        None
    }

    /// Apply the batch. Changes to one scope are applied in order and stop at the first
    /// failure (the rest [`Outcome::Skipped`]); scopes are independent. Every change is
    /// reported to `on_outcome` exactly once, and the outcomes are returned in batch order. `Err` is
    /// for a batch refused as a whole before anything was written.
    fn apply(
        &self,
        batch: Batch<'_>,
        on_outcome: &OnOutcome<'_>,
    ) -> Result<Vec<Outcome>, ProviderError>;
}

/// The outcomes of `changes` in batch order, from outcomes reported by address.
pub fn in_order(
    changes: &[ResourceChange],
    reported: &std::collections::HashMap<String, Outcome>,
) -> Vec<Outcome> {
    changes
        .iter()
        .map(|c| {
            reported
                .get(&c.address)
                .cloned()
                .unwrap_or_else(|| Outcome::failed("this is a bug in jit: no outcome"))
        })
        .collect()
}

/// What every provider may need to start: where the config lives, how much to do at once.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// The config directory; relative paths in provider blocks are resolved against it.
    pub config_dir: PathBuf,
    /// Writes in flight at once, across scopes (`--parallelism`).
    pub parallelism: usize,
    /// The policy's `rule_prefix`: a provider changes or deletes only live rules whose name
    /// starts with `<prefix>-` and whose description carries the marker, and creates only such
    /// rules. `ops` sets it from the policy.
    pub rule_prefix: String,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            config_dir: PathBuf::from("."),
            parallelism: 10,
            rule_prefix: "jit".to_string(),
        }
    }
}

/// The provider a `provider` block declares.
pub fn open(decl: &ProviderDecl, opts: &OpenOptions) -> Result<Box<dyn Provider>, ProviderError> {
    match &decl.config {
        ProviderConfig::Snapshot { path } => Ok(Box::new(
            snapshot::SnapshotProvider::new(decl.address(), opts.config_dir.join(path))
                .with_rule_prefix(&opts.rule_prefix),
        )),
        ProviderConfig::Azure { .. } => azure::open(decl, opts),
        ProviderConfig::Nftables { table } => Ok(Box::new(nftables::NftablesProvider::new(
            decl.address(),
            table,
        ))),
    }
}
