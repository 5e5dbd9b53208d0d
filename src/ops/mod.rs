//! Operations: the only code that calls both the pure core and a provider (or the file system).
//! Each takes a loaded policy and an options struct and returns data; the CLI renders it.
//!
//! `plan` reads live state and diffs it; `apply` re-checks a plan against live state, applies
//! it and writes the audit log; `status` lists the grants open in live state; `planfile`
//! saves and loads plans.

pub mod apply;
pub mod approve;
pub mod audit;
pub mod config;
pub mod fmt;
pub mod plan;
pub mod planfile;
pub mod signers;
pub mod status;

use std::collections::BTreeMap;

use crate::compile::is_nsg_shaped;
use crate::live::{nsg_key, Live};
use crate::model::Policy;
use crate::providers::{self, OpenOptions, Provider, ProviderError};

/// Why an operation could not run. Provider failures keep their own wording.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The plan no longer describes live state or the policy's clock.
    #[error("stale plan: re-run jit plan ({0})")]
    Stale(String),
    #[error("{file}: {message}")]
    PlanFile { file: String, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

/// Every NSG the policy names, keyed by [`nsg_key`]: (provider address, id as written).
pub(crate) fn policy_nsgs(policy: &Policy) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for target in policy.targets.iter().filter(|t| is_nsg_shaped(policy, t)) {
        if let Some(id) = &target.nsg_id {
            out.entry(nsg_key(id))
                .or_insert_with(|| (target.provider.clone(), id.clone()));
        }
    }
    out
}

/// [`policy_nsgs`], and the NSGs of targets left out of the policy by an error (a plan still
/// closes access there): every NSG a plan of `config` may change.
pub(crate) fn config_nsgs(config: &config::Loaded) -> BTreeMap<String, (String, String)> {
    let mut out = policy_nsgs(&config.policy);
    for (provider, id) in &config.invalid_target_nsgs {
        out.entry(nsg_key(id))
            .or_insert_with(|| (provider.clone(), id.clone()));
    }
    out
}

/// Opened providers, each opened once, by address.
pub(crate) struct Providers<'a> {
    policy: &'a Policy,
    opts: &'a OpenOptions,
    open: BTreeMap<String, Box<dyn Provider>>,
}

impl<'a> Providers<'a> {
    pub(crate) fn new(policy: &'a Policy, opts: &'a OpenOptions) -> Providers<'a> {
        Providers {
            policy,
            opts,
            open: BTreeMap::new(),
        }
    }

    pub(crate) fn get(&mut self, address: &str) -> Result<&dyn Provider, OpsError> {
        if !self.open.contains_key(address) {
            let decl = self.policy.provider(address).ok_or_else(|| {
                OpsError::Invalid(format!(
                    "provider `{address}` is not declared in the policy"
                ))
            })?;
            let opts = OpenOptions {
                rule_prefix: self.policy.settings.rule_prefix.clone(),
                ..self.opts.clone()
            };
            let provider = providers::open(decl, &opts)?;
            self.open.insert(address.to_string(), provider);
        }
        Ok(self.open[address].as_ref())
    }

    /// Opens the provider of every target, so that a target whose provider cannot be planned
    /// (one not built yet) is an error, never a silent "No changes" that leaves its ports open.
    pub(crate) fn open_all(&mut self) -> Result<(), OpsError> {
        for target in &self.policy.targets {
            self.get(&target.provider)?;
        }
        Ok(())
    }

    /// Reads the given NSGs, `(provider address, id)` pairs, one `read` per provider. Any NSG
    /// that cannot be read is an error.
    pub(crate) fn read(
        &mut self,
        nsgs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Live, OpsError> {
        let live = self.read_each(nsgs)?;
        match live.failed.values().next() {
            Some(why) => Err(OpsError::Invalid(why.clone())),
            None => Ok(live),
        }
    }

    /// Like [`Providers::read`], but an NSG that cannot be read, even because its whole
    /// provider failed (a snapshot file that cannot be read, no credentials), is listed in
    /// [`Live::failed`] and the others are still read: what a plan needs to keep revoking
    /// access elsewhere. Only a provider that cannot be opened is an error.
    pub(crate) fn read_each(
        &mut self,
        nsgs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Live, OpsError> {
        let mut by_provider: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (provider, id) in nsgs {
            by_provider.entry(provider).or_default().push(id);
        }
        let mut live = Live::default();
        for (address, ids) in by_provider {
            match self.get(&address)?.read(&ids) {
                Ok(part) => {
                    live.nsgs.extend(part.nsgs);
                    live.failed.extend(part.failed);
                }
                Err(e) => {
                    let why = e.to_string();
                    live.failed
                        .extend(ids.iter().map(|id| (nsg_key(id), why.clone())));
                }
            }
        }
        Ok(live)
    }
}
