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
pub mod git;
pub mod next;
pub mod plan;
pub mod planfile;
pub mod request;
pub mod shard;
pub mod signers;
pub mod status;

use std::collections::BTreeMap;

use crate::live::{scope_key, Live};
use crate::model::Policy;
use crate::providers::{self, Batch, Provider, ProviderError};
pub use crate::providers::{OnOutcome, OpenOptions, Outcome};

/// What the azure providers have done so far (requests, 429s, pages, writes), for progress
/// and the `-v` summary.
pub use crate::providers::azure::activity;

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

/// Every scope a plan of `config` may change, keyed by [`scope_key`]: (provider address, id as
/// written). Those the policy's targets name, and those of targets an error left out of the
/// policy (a plan still closes access there).
pub(crate) fn config_scopes(config: &config::Loaded) -> BTreeMap<String, (String, String)> {
    let mut out = crate::platform::scopes(&config.policy);
    for (provider, id) in &config.invalid_target_scopes {
        out.entry(scope_key(id))
            .or_insert_with(|| (provider.clone(), id.clone()));
    }
    out
}

/// Opened providers, each opened once, by address. Every read and write is logged with its
/// duration (`-v`), and the NSGs and changes it covers (`-vv`); errors name the provider block.
pub(crate) struct Providers<'a> {
    policy: &'a Policy,
    opts: &'a OpenOptions,
    open: BTreeMap<String, Box<dyn Provider>>,
    /// Where each provider block is written (`file:line:column`), by address.
    places: BTreeMap<String, String>,
    /// The `read` mode of azure provider blocks that set one, by address.
    azure_reads: BTreeMap<String, crate::model::AzureRead>,
}

impl<'a> Providers<'a> {
    pub(crate) fn new(policy: &'a Policy, opts: &'a OpenOptions) -> Providers<'a> {
        Providers {
            policy,
            opts,
            open: BTreeMap::new(),
            places: BTreeMap::new(),
            azure_reads: BTreeMap::new(),
        }
    }

    /// Knows where the provider blocks are written in `sources`, so that a provider's error
    /// names its block.
    pub(crate) fn placed(mut self, sources: &[crate::lang::SourceFile]) -> Providers<'a> {
        self.places = provider_places(sources);
        self.azure_reads = crate::lang::azure_reads(sources);
        self
    }

    /// A provider's error, saying once where its block is and, for a relative snapshot path,
    /// what it is relative to.
    fn blame(&self, address: &str, error: &ProviderError) -> String {
        let why = error.to_string();
        let Some(place) = self.places.get(address) else {
            return why;
        };
        let mut out = format!("{why}\n  --> provider `{address}` at {place}");
        let relative = self.policy.provider(address).and_then(|d| match &d.config {
            crate::model::ProviderConfig::Snapshot { path }
                if std::path::Path::new(path).is_relative() =>
            {
                Some(path.clone())
            }
            _ => None,
        });
        if let (Some(path), ProviderError::Io { .. }) = (relative, error) {
            out.push_str(&format!(
                "\n  hint: `{path}` is relative to the config directory `{}`; pass `-C DIR` \
                 with the directory that holds the policy",
                self.opts.config_dir.display()
            ));
        }
        out
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
            let started = std::time::Instant::now();
            let provider = match self.azure_reads.get(address) {
                Some(read) => providers::azure::open_reading(decl, &opts, *read),
                None => providers::open(decl, &opts),
            }
            .map_err(|e| OpsError::Invalid(self.blame(address, &e)))?;
            tracing::info!("provider `{address}`: opened in {:.2?}", started.elapsed());
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

    /// Reads the given scopes, `(provider address, id)` pairs, one `read` per provider. Any
    /// scope that cannot be read is an error.
    pub(crate) fn read(
        &mut self,
        scopes: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Live, OpsError> {
        let live = self.read_each(scopes, false)?;
        match live.failed.values().next() {
            Some(why) => Err(OpsError::Invalid(why.clone())),
            None => Ok(live),
        }
    }

    /// Like [`Providers::read`], but a scope that cannot be read, even because its whole
    /// provider failed (a snapshot file that cannot be read, no credentials), is listed in
    /// [`Live::failed`] and the others are still read: what a plan needs to keep revoking
    /// access elsewhere. Only a provider that cannot be opened is an error. With `discover`,
    /// providers that have a cheaper read that may lag ([`Provider::discover`]) use it; the
    /// keys of the scopes read that way are returned too, to be read exactly before anything
    /// is planned from them.
    pub(crate) fn read_each(
        &mut self,
        scopes: impl IntoIterator<Item = (String, String)>,
        discover: bool,
    ) -> Result<Live, OpsError> {
        Ok(self.read_scopes(scopes, discover)?.0)
    }

    /// [`Providers::read_each`], and the keys of the scopes that were only discovered.
    pub(crate) fn read_scopes(
        &mut self,
        scopes: impl IntoIterator<Item = (String, String)>,
        discover: bool,
    ) -> Result<(Live, std::collections::BTreeSet<String>), OpsError> {
        let mut by_provider: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (provider, id) in scopes {
            by_provider.entry(provider).or_default().push(id);
        }
        let mut live = Live::default();
        let mut discovered = std::collections::BTreeSet::new();
        for (address, ids) in by_provider {
            for id in &ids {
                tracing::debug!("provider `{address}`: reading `{id}`");
            }
            let started = std::time::Instant::now();
            let provider = self.get(&address)?;
            let rough = if discover {
                provider.discover(&ids).transpose()
            } else {
                None
            };
            let was_discovered = rough.is_some();
            let result = rough.unwrap_or_else(|| provider.read(&ids));
            let took = started.elapsed();
            match result {
                Ok(part) => {
                    tracing::info!(
                        "provider `{address}`: {} {} scope{} in {took:.2?}",
                        if was_discovered { "discovered" } else { "read" },
                        ids.len(),
                        if ids.len() == 1 { "" } else { "s" }
                    );
                    if was_discovered {
                        discovered.extend(part.scopes.keys().cloned());
                    }
                    live.merge(part);
                }
                Err(e) => {
                    tracing::info!("provider `{address}`: read failed after {took:.2?}: {e}");
                    let why = self.blame(&address, &e);
                    live.failed
                        .extend(ids.iter().map(|id| (scope_key(id), why.clone())));
                }
            }
        }
        Ok((live, discovered))
    }

    /// Applies each `(provider address, batch)` through its provider, the providers at once
    /// (each paces itself to its own limits; a subscription's throttle is not another's),
    /// logging each write and its duration. Results in the order of `batches`.
    pub(crate) fn apply_all(
        &mut self,
        batches: &[(String, Batch<'_>)],
        on_outcome: &providers::OnOutcome<'_>,
    ) -> Vec<Result<Vec<Outcome>, OpsError>> {
        // Opened one by one first: opening may fail, with the error naming the provider block.
        let mut failed: BTreeMap<usize, OpsError> = BTreeMap::new();
        for (i, (address, _)) in batches.iter().enumerate() {
            if let Err(e) = self.get(address) {
                failed.insert(i, e);
            }
        }
        let opened: Vec<Result<&dyn Provider, OpsError>> = batches
            .iter()
            .enumerate()
            .map(|(i, (address, _))| match failed.remove(&i) {
                Some(e) => Err(e),
                None => Ok(self.open[address].as_ref()),
            })
            .collect();
        std::thread::scope(|scope| {
            let handles: Vec<_> = batches
                .iter()
                .zip(opened)
                .map(|((address, batch), provider)| {
                    scope.spawn(move || {
                        let provider = provider?;
                        for change in batch.changes {
                            tracing::debug!(
                                "provider `{address}`: {:?} `{}`",
                                change.action(),
                                change.address
                            );
                        }
                        let started = std::time::Instant::now();
                        let result = provider.apply(*batch, on_outcome);
                        let took = started.elapsed();
                        let n = batch.changes.len();
                        match &result {
                            Ok(_) => tracing::info!(
                                "provider `{address}`: wrote {n} change{} in {took:.2?}",
                                if n == 1 { "" } else { "s" }
                            ),
                            Err(e) => tracing::info!(
                                "provider `{address}`: write failed after {took:.2?}: {e}"
                            ),
                        }
                        Ok(result?)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(OpsError::Invalid("a provider's apply panicked".into()))
                    })
                })
                .collect()
        })
    }
}

/// Pure: `file:line:column` of each `provider "<kind>" "<name>"` block in `sources`, by address
/// (`<kind>.<name>`).
pub(crate) fn provider_places(sources: &[crate::lang::SourceFile]) -> BTreeMap<String, String> {
    use hcl_edit::Span as _;
    let mut out = BTreeMap::new();
    for source in sources {
        let Ok(body) = source.text.parse::<hcl_edit::structure::Body>() else {
            continue;
        };
        for block in body.blocks() {
            let labels: Vec<&str> = block.labels.iter().map(|l| l.as_str()).collect();
            if block.ident.as_str() != "provider" || labels.len() != 2 {
                continue;
            }
            let offset = block.ident.span().map_or(0, |s| s.start);
            let before = &source.text[..offset.min(source.text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            out.entry(format!("{}.{}", labels[0], labels[1]))
                .or_insert_with(|| format!("{}:{line}:{column}", source.path));
        }
    }
    out
}
