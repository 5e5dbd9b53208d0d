//! The azure provider in NSG mode: live state is the security rules of Azure network security
//! groups, read and written through Azure Resource Manager (api-version 2024-05-01) over
//! reqwest + rustls.
//!
//! - `read`: one GET per NSG, in parallel up to `parallelism`; the NSG's etag is its
//!   fingerprint, and each rule keeps its own etag. A missing NSG's error carries a hint from
//!   the NSGs of its resource group, listed through `nextLink` pages (see `missing.rs`).
//! - `apply`: NSGs in parallel up to `parallelism`, the changes of one NSG in plan order (see
//!   [`write`]). A failure on one NSG does not stop the others.
//!
//! **Stale plans.** Before writing an NSG the provider reads it again, unless the batch says
//! its plan was read by this run moments ago (see [`write`]: [`write::FRESH_READ`]); if its
//! etag is not the fingerprint the batch carries for it, that NSG's changes are
//! [`Outcome::Stale`] and nothing is written to it (`ops::apply` re-plans a fresh plan's stale
//! NSGs, and fails a saved plan's). A 412 or a `SecurityRuleConflict` in the middle of an
//! NSG's writes (someone changed one of our rules, or took a priority the plan gave one) is
//! reported the same way.
//!
//! The `Provider` trait is synchronous; the provider owns a small tokio runtime and blocks on it.

pub mod activity;
pub mod auth;
mod client;
pub mod defender;
mod endpoint;
mod error;
pub mod graph;
mod lro;
mod missing;
mod paging;
mod read;
mod recall;
mod retry;
pub mod vm;
mod write;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{stream, StreamExt};

use crate::live::{scope_key, Live};
use crate::model::{AzureMode, AzureRead, ProviderConfig, ProviderDecl};
use crate::platform::nsg::typed::{rule_changes, RuleChange};
use crate::providers::{Batch, OnOutcome, OpenOptions, Outcome, Provider, ProviderError};

pub use auth::{AccessToken, AuthError, TokenProvider};
pub use client::API_VERSION;
pub use retry::RetryPolicy;

/// Azure's public cloud.
pub const DEFAULT_ENDPOINT: &str = "https://management.azure.com";

/// How the provider behaves, beyond what the policy declares.
pub struct AzureOptions {
    /// NSGs read or written at once.
    pub parallelism: usize,
    pub retry: RetryPolicy,
    /// Where tokens come from; `None` builds the credential chain from the environment.
    pub tokens: Option<Arc<dyn TokenProvider>>,
}

impl Default for AzureOptions {
    fn default() -> Self {
        AzureOptions {
            parallelism: 10,
            retry: RetryPolicy::default(),
            tokens: None,
        }
    }
}

pub struct AzureProvider {
    address: String,
    subscription_id: String,
    client: client::ArmClient,
    parallelism: usize,
    runtime: tokio::runtime::Runtime,
    /// Only rules named `<prefix>-…` that carry the marker are changed, deleted or created.
    rule_prefix: String,
    /// The block's `read`: whether [`AzureProvider::discover_nsgs`] uses Resource Graph.
    read: AzureRead,
    /// Resource Graph failed once (said so): this provider reads directly from then on.
    graph_refused: std::sync::atomic::AtomicBool,
    /// `defender`: scopes are JIT policy documents, not NSGs.
    mode: AzureMode,
}

impl std::fmt::Debug for AzureProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureProvider")
            .field("address", &self.address)
            .field("endpoint", &self.client.base().as_str())
            .finish_non_exhaustive()
    }
}

impl AzureProvider {
    /// `address` is `azure.<name>`; `endpoint` the ARM base URL (`https://`, or `http://` on a
    /// loopback host), default the public cloud.
    pub fn new(
        address: String,
        subscription_id: &str,
        endpoint: Option<&str>,
        options: AzureOptions,
    ) -> Result<AzureProvider, ProviderError> {
        let config = |m: String| ProviderError::Other(format!("provider `{address}`: {m}"));
        let base = endpoint::parse_base_url(endpoint.unwrap_or(DEFAULT_ENDPOINT), "endpoint")
            .map_err(config)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .pool_max_idle_per_host(options.parallelism.max(1) * 2)
            .user_agent(concat!("jit/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| config(format!("cannot build an HTTP client: {e}")))?;
        let tokens: Arc<dyn TokenProvider> = match options.tokens {
            Some(t) => t,
            None => {
                Arc::new(auth::from_env(&http, &|name| std::env::var(name).ok()).map_err(config)?)
            }
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| ProviderError::Io {
                context: "cannot start the async runtime".into(),
                source: e,
            })?;
        let client =
            client::ArmClient::new(http, base.clone(), tokens, arm_scope(&base), options.retry);
        Ok(AzureProvider {
            subscription_id: subscription_id.to_string(),
            client,
            parallelism: options.parallelism.max(1),
            runtime,
            rule_prefix: "jit".to_string(),
            read: AzureRead::Auto,
            graph_refused: std::sync::atomic::AtomicBool::new(false),
            mode: AzureMode::Nsg,
            address,
        })
    }

    /// The block's `read` mode (default `auto`).
    pub fn with_read(mut self, read: AzureRead) -> AzureProvider {
        self.read = read;
        if read != AzureRead::Direct {
            graph::register(self.client.base().as_str(), &self.subscription_id);
        }
        self
    }

    /// Serves Defender for Cloud JIT policies instead of NSGs.
    pub fn in_mode(mut self, mode: AzureMode) -> AzureProvider {
        self.mode = mode;
        self
    }

    /// The policy's `rule_prefix` (default `jit`): the provider changes, deletes and creates
    /// only rules named `<prefix>-…` with the marker in their description.
    pub fn with_rule_prefix(mut self, prefix: &str) -> AzureProvider {
        self.rule_prefix = prefix.to_string();
        self
    }

    fn check_id(&self, id: &str) -> Result<(), ProviderError> {
        let sub = endpoint::nsg_subscription(id)
            .map_err(|m| ProviderError::Other(format!("provider `{}`: {m}", self.address)))?;
        if !sub.eq_ignore_ascii_case(&self.subscription_id) {
            return Err(ProviderError::Other(format!(
                "`{id}` is in subscription `{sub}`, but provider `{}` is for subscription `{}`",
                self.address, self.subscription_id
            )));
        }
        Ok(())
    }
}

/// Opens an `azure` provider block (mode `nsg` or `defender`), credentials from the
/// environment.
pub fn open(decl: &ProviderDecl, opts: &OpenOptions) -> Result<Box<dyn Provider>, ProviderError> {
    open_reading(decl, opts, AzureRead::Auto)
}

/// [`open`] with the block's `read` mode.
pub fn open_reading(
    decl: &ProviderDecl,
    opts: &OpenOptions,
    read: AzureRead,
) -> Result<Box<dyn Provider>, ProviderError> {
    let ProviderConfig::Azure {
        subscription_id,
        mode,
        endpoint,
    } = &decl.config
    else {
        return Err(ProviderError::Other(format!(
            "provider `{}` is not an azure provider: this is a bug in jit",
            decl.address()
        )));
    };
    let options = AzureOptions {
        parallelism: opts.parallelism,
        ..AzureOptions::default()
    };
    let provider = AzureProvider::new(
        decl.address(),
        subscription_id,
        endpoint.as_deref(),
        options,
    )?
    .with_rule_prefix(&opts.rule_prefix)
    .with_read(read)
    .in_mode(*mode);
    Ok(Box::new(provider))
}

/// The token scope for an ARM endpoint: the endpoint's own `/.default`, except for a loopback
/// emulator, which stands in for the public cloud.
fn arm_scope(base: &reqwest::Url) -> String {
    if endpoint::is_loopback(base) {
        format!("{DEFAULT_ENDPOINT}/.default")
    } else {
        format!("{}/.default", base.as_str().trim_end_matches('/'))
    }
}

impl Provider for AzureProvider {
    fn address(&self) -> String {
        self.address.clone()
    }

    /// Through Resource Graph when the block's `read` asks for it (see [`graph`]).
    fn discover(&self, nsg_ids: &[String]) -> Result<Option<Live>, ProviderError> {
        self.discover_nsgs(nsg_ids)
    }

    fn resolve_vms(&self, vm_ids: &[String]) -> Option<Vec<Result<vm::VmNetwork, ProviderError>>> {
        Some(AzureProvider::resolve_vms(self, vm_ids))
    }

    fn nsgs_holding(
        &self,
        prefix: &str,
        rule_names: &[String],
    ) -> Option<Result<Vec<String>, ProviderError>> {
        Some(AzureProvider::nsgs_holding(self, prefix, rule_names))
    }

    fn read(&self, nsg_ids: &[String]) -> Result<Live, ProviderError> {
        if self.mode == AzureMode::Defender {
            return self.read_defender(nsg_ids);
        }
        let mut ids: Vec<&String> = Vec::new();
        let mut refused = Vec::new();
        for id in nsg_ids {
            if let Err(e) = self.check_id(id) {
                refused.push((scope_key(id), e.to_string()));
                continue;
            }
            if !ids.iter().any(|seen| scope_key(seen) == scope_key(id)) {
                ids.push(id);
            }
        }
        let results: Vec<_> = self.runtime.block_on(
            stream::iter(ids.iter().map(|id| read::read_nsg(&self.client, id)))
                .buffered(self.parallelism)
                .collect(),
        );
        let mut live = Live::default();
        live.failed.extend(refused);
        for (id, result) in ids.iter().zip(results) {
            match result {
                Ok(nsg) => {
                    live.scopes.insert(scope_key(id), nsg);
                }
                // This NSG's own failure: the others are still read and planned.
                Err(
                    e @ (ProviderError::NotFound { .. }
                    | ProviderError::Remote { .. }
                    | ProviderError::Corrupt { .. }),
                ) => {
                    live.failed.insert(scope_key(id), e.to_string());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(live)
    }

    fn apply(
        &self,
        batch: Batch<'_>,
        on_outcome: &OnOutcome<'_>,
    ) -> Result<Vec<Outcome>, ProviderError> {
        if self.mode == AzureMode::Defender {
            return self.apply_defender(batch, on_outcome);
        }
        // Refused before any request is sent: nothing is written.
        let changes =
            rule_changes(batch.changes, &self.rule_prefix).map_err(ProviderError::Other)?;
        let mut groups: Vec<(String, Vec<&RuleChange<'_>>)> = Vec::new();
        for change in &changes {
            self.check_id(change.nsg_id())?;
            endpoint::rule_path(change.nsg_id(), change.name()).map_err(|why| {
                ProviderError::Other(format!(
                    "refusing to apply `{}`: {why}; nothing was written",
                    change.address()
                ))
            })?;
            let key = scope_key(change.nsg_id());
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, group)) => group.push(change),
                None => groups.push((key, vec![change])),
            }
        }
        let reported: Mutex<HashMap<String, Outcome>> = Mutex::new(HashMap::new());
        let record = |change: &RuleChange<'_>, outcome: Outcome| {
            match outcome.why() {
                None => tracing::info!("{}: applied", change.address()),
                Some(why) => tracing::warn!("{}: {why}", change.address()),
            }
            on_outcome(&[(change.change, &outcome)]);
            reported
                .lock()
                .expect("no panics while held")
                .insert(change.address().to_string(), outcome);
        };
        self.runtime.block_on(
            stream::iter(groups.iter().map(|(_, group)| {
                let record = &record;
                let id = group[0].nsg_id();
                write::apply_nsg(
                    &self.client,
                    id,
                    batch.fingerprint(id),
                    batch.read_at,
                    &self.rule_prefix,
                    group,
                    record,
                )
            }))
            .buffer_unordered(self.parallelism)
            .collect::<Vec<()>>(),
        );
        let reported = reported.into_inner().expect("no panics while held");
        Ok(super::in_order(batch.changes, &reported))
    }
}
