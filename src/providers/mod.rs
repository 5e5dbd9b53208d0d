//! Providers: the only home of I/O against a firewall. Each reads live state (with a
//! fingerprint per NSG) and applies a list of changes. The core never sees HTTP, `nft` or files.

pub mod azure;
pub mod nftables;
pub mod snapshot;

use std::path::PathBuf;

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

/// What happened to one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Failed(String),
    /// Not attempted because an earlier change to the same NSG failed.
    Skipped(String),
}

/// The result of applying a plan's changes.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub applied: usize,
    pub failed: usize,
    pub skipped: usize,
    /// NSGs whose live state moved away from the plan during apply (etag changed, 412): their
    /// changes failed or were skipped, and re-planning them is the way forward.
    pub stale: Vec<String>,
}

impl ApplyReport {
    pub fn record(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Applied => self.applied += 1,
            Outcome::Failed(_) => self.failed += 1,
            Outcome::Skipped(_) => self.skipped += 1,
        }
    }

    pub fn ok(&self) -> bool {
        self.failed == 0 && self.skipped == 0
    }
}

/// Called once per change, as soon as its outcome is known (before the next write to that
/// NSG), so the audit log is never behind the firewall. May be called from several threads.
pub type OnOutcome<'a> = dyn Fn(&ResourceChange, &Outcome) + Sync + 'a;

pub trait Provider {
    /// `<kind>.<name>`.
    fn address(&self) -> String;

    /// Read the NSGs with these ids (as written in policy). An NSG that cannot be read on its
    /// own account (it does not exist, the service refuses it, its body is not understood) is
    /// listed in [`Live::failed`] with the error, and the others are still read: one missing
    /// NSG never keeps jit from revoking access in the rest. `Err` is for a failure of the
    /// whole read (the snapshot file cannot be read, no credentials, no connection).
    fn read(&self, nsg_ids: &[String]) -> Result<Live, ProviderError>;

    /// Apply `changes` (all for this provider, in plan order). Changes to one NSG are applied
    /// in order and stop at the first failure; NSGs are independent. Every change gets exactly
    /// one `on_outcome` call.
    fn apply(
        &self,
        changes: &[ResourceChange],
        on_outcome: &OnOutcome<'_>,
    ) -> Result<ApplyReport, ProviderError>;
}

/// Checks, before anything is written, that every change is one a provider may make, whatever
/// the plan it came from says (DESIGN §5b): its rule name is a legal security rule name and is
/// the name of its `after` rule; a create or update has an `after` rule that is managed (name
/// prefix `<prefix>-` **and** the description marker). Whether the live rule an update or
/// delete touches is managed is checked by each provider against the rule as it reads it.
pub fn check_changes(changes: &[ResourceChange], rule_prefix: &str) -> Result<(), ProviderError> {
    use crate::plan::Action;
    for change in changes {
        let refuse = |why: String| {
            Err(ProviderError::Other(format!(
                "refusing to apply `{}`: {why}; nothing was written",
                change.address
            )))
        };
        if !crate::compile::is_legal_rule_name(&change.name) {
            return refuse(format!(
                "`{}` is not a legal security rule name",
                change.name
            ));
        }
        let after = change.change.after.as_ref();
        if let Some(after) = after {
            if after.name != change.name {
                return refuse(format!(
                    "its rule is named `{}`, not `{}`",
                    after.name, change.name
                ));
            }
        }
        match (change.action(), after) {
            (Action::Delete, _) => {}
            (_, None) => return refuse("it has no `after` rule".to_string()),
            (_, Some(after)) if !after.is_managed(rule_prefix) => {
                return refuse(format!(
                    "the rule it would write is not managed by jit (a name starting with \
                     `{rule_prefix}-` and `managed-by=jit` in its description)"
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// What every provider may need to start: where the config lives, how much to do at once.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// The config directory; relative paths in provider blocks are resolved against it.
    pub config_dir: PathBuf,
    /// Writes in flight at once, across NSGs (`--parallelism`).
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
        ProviderConfig::Nftables { .. } => Err(ProviderError::Other(format!(
            "provider `{}`: the {} provider is not available yet in this build",
            decl.address(),
            decl.config.kind()
        ))),
    }
}
