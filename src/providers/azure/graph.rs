//! Discovering NSGs through Azure Resource Graph (`POST /providers/Microsoft.ResourceGraph/
//! resources`, api-version 2024-04-01): one query over the NSGs of up to
//! [`SUBSCRIPTIONS_PER_QUERY`] subscriptions, projecting `id` (Resource Graph pages only a
//! query with a stable sort key) and each NSG's `properties`, [`PAGE_ROWS`] rows a page,
//! followed by `$skipToken`. Each row is parsed by [`read::parse_nsg`] like a direct read: a
//! row has no NSG `etag` (the `resources` table has none), so its fingerprint is the hash of
//! its rules, whose own etags are kept.
//!
//! **Batched over providers.** Each provider block is one subscription; every provider of the
//! process that may discover registers its subscription, so the first discovery on an endpoint
//! asks for all of them in one query (in batches of [`SUBSCRIPTIONS_PER_QUERY`]) and leaves
//! the other providers' rows for them: ten subscriptions cost the pages of their NSGs, not ten
//! queries' worth of quota.
//!
//! **Quota.** Resource Graph allows a principal a few queries per window (the documented
//! example: 15 per 5 s) and says what is left in `x-ms-user-quota-remaining` and
//! `x-ms-user-quota-resets-after`. When a page leaves none, the next query waits until the
//! window resets; a 429 is retried after the same header (see [`super::retry`]).
//!
//! **Discovery only.** Resource Graph is eventually consistent (most changes within 30 s, no
//! upper bound), so its rows are never the basis of a write: [`discover`] gives the ops layer
//! a cheap first read, and every NSG a plan from it would change is read again from ARM.
//! Referenced NSGs Resource Graph does not show (just created, or missing) are read directly
//! here. A principal Resource Graph refuses, or any failure of the query, falls back to
//! direct reads, said once per provider.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{json, Value};

use super::activity;
use super::client::{ArmClient, Request};
use super::endpoint::join;
use super::error::ArmError;
use super::read::{self, parse_nsg};
use super::retry::quota_resets_after;
use crate::live::{scope_key as nsg_key, Live};
use crate::model::AzureRead;
use crate::providers::ProviderError;

pub const API_VERSION: &str = "2024-04-01";
const PATH: &str = "/providers/Microsoft.ResourceGraph/resources";
/// Rows a page: Resource Graph's maximum `$top`.
pub const PAGE_ROWS: usize = 1000;
/// Subscriptions one query covers; more are split into several queries.
pub const SUBSCRIPTIONS_PER_QUERY: usize = 100;
/// Pages one query may span (a million NSGs) before it is given up.
const MAX_PAGES: usize = 1000;
/// With `read = "auto"`, Resource Graph is used from this many referenced NSGs on: below it,
/// direct reads cost no more than a page or two and are never behind.
pub const AUTO_FROM: usize = 48;
/// The query: every NSG of the given subscriptions with its rules.
pub const QUERY: &str =
    "Resources | where type =~ 'microsoft.network/networksecuritygroups' | project id, name, properties";

/// What [`read::parse_nsg`] makes of one NSG.
pub type Parsed = crate::live::Scope;

/// Why Resource Graph could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphError {
    /// The principal may not query Resource Graph (403).
    Denied(String),
    /// Anything else: transport, throttled past the retry policy, an answer not understood.
    Failed(String),
}

impl std::fmt::Display for GraphError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GraphError::Denied(why) | GraphError::Failed(why) => f.write_str(why),
        }
    }
}

/// NSGs as Resource Graph shows them, by [`nsg_key`]; a row that does not parse keeps its
/// error (that NSG is then read directly).
#[derive(Debug, Default)]
pub struct Rows {
    pub nsgs: BTreeMap<String, Result<Parsed, ProviderError>>,
    pub pages: usize,
}

/// Whether `mode` asks for Resource Graph when `referenced` NSGs are to be read.
pub fn wanted(mode: AzureRead, referenced: usize) -> bool {
    match mode {
        AzureRead::Direct => false,
        AzureRead::ResourceGraph => referenced > 0,
        AzureRead::Auto => referenced >= AUTO_FROM,
    }
}

/// Every NSG of `subscriptions`, through Resource Graph: subscriptions in batches, every page
/// of each, the quota honoured.
pub async fn query_nsgs(client: &ArmClient, subscriptions: &[String]) -> Result<Rows, GraphError> {
    let url = join(client.base(), &format!("{PATH}?api-version={API_VERSION}"));
    let mut rows = Rows::default();
    let batches: Vec<&[String]> = subscriptions.chunks(SUBSCRIPTIONS_PER_QUERY).collect();
    for (b, batch) in batches.iter().enumerate() {
        let mut skip_token: Option<String> = None;
        for page in 0.. {
            if page == MAX_PAGES {
                return Err(GraphError::Failed(format!(
                    "POST {}: still a `$skipToken` after {MAX_PAGES} pages; giving up",
                    url.split('?').next().unwrap_or(&url)
                )));
            }
            let mut options = json!({"$top": PAGE_ROWS, "resultFormat": "objectArray"});
            if let Some(token) = &skip_token {
                options["$skipToken"] = json!(token);
            }
            let request = Request {
                method: reqwest::Method::POST,
                url: url.clone(),
                if_match: None,
                if_none_match_any: false,
                body: Some(json!({"subscriptions": batch, "query": QUERY, "options": options})),
            };
            let what = request.what();
            let response = match client.send(&request).await {
                Ok(r) => r,
                Err(ArmError::Remote(e)) if e.status == 403 => {
                    return Err(GraphError::Denied(e.to_string()))
                }
                Err(e) => return Err(GraphError::Failed(e.to_string())),
            };
            rows.pages += 1;
            let body = response
                .json(&what)
                .map_err(|e| GraphError::Failed(e.to_string()))?;
            skip_token = page_rows(&what, &body, &mut rows)?;
            let more = skip_token.is_some() || b + 1 < batches.len();
            if let Some(wait) = quota_resets_after(&response.headers).filter(|_| more) {
                tracing::debug!("Resource Graph quota spent: waiting {wait:?}");
                activity::waiting(wait);
                tokio::time::sleep(wait).await;
            }
            if skip_token.is_none() {
                break;
            }
        }
    }
    Ok(rows)
}

/// Adds one page's rows to `rows`; returns its `$skipToken`.
fn page_rows(what: &str, body: &Value, rows: &mut Rows) -> Result<Option<String>, GraphError> {
    let corrupt = |m: &str| GraphError::Failed(format!("{what}: {m}"));
    let data = body
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| corrupt("the answer has no `data` array"))?;
    let before = rows.nsgs.len();
    for row in data {
        let Some(id) = row.get("id").and_then(Value::as_str) else {
            return Err(corrupt("a row has no `id`"));
        };
        let source = format!("Resource Graph row `{id}`");
        rows.nsgs.insert(nsg_key(id), parse_nsg(id, &source, row));
    }
    activity::nsgs_discovered((rows.nsgs.len() - before) as u64);
    Ok(match body.get("$skipToken") {
        Some(Value::String(token)) if !token.is_empty() => Some(token.clone()),
        _ => None,
    })
}

/// Azure subscriptions whose NSGs one query discovers together, by endpoint: every provider of
/// this process that may discover registers its subscription ([`register`]), and the first to
/// discover asks for all of them at once (credentials come from the environment, so one
/// principal). Rows for the others wait here until their provider takes them, for
/// [`FRESH`] at most.
static ESTATE: std::sync::Mutex<BTreeMap<String, Estate>> = std::sync::Mutex::new(BTreeMap::new());

/// How long rows discovered for another provider stay usable.
const FRESH: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Default)]
struct Estate {
    subscriptions: BTreeSet<String>,
    /// By subscription: when they were read, and the rows.
    waiting: BTreeMap<String, (std::time::Instant, Rows)>,
}

fn estate() -> std::sync::MutexGuard<'static, BTreeMap<String, Estate>> {
    ESTATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Lets discoveries on `endpoint` ask for `subscription` along with their own.
pub fn register(endpoint: &str, subscription: &str) {
    estate()
        .entry(endpoint.to_string())
        .or_default()
        .subscriptions
        .insert(subscription.to_ascii_lowercase());
}

/// The subscription of an [`nsg_key`].
fn key_subscription(key: &str) -> &str {
    key.split('/').nth(2).unwrap_or_default()
}

/// The rows of `mine` (the subscriptions of one provider): left by an earlier query when still
/// fresh, else from a query that also covers every registered subscription of the endpoint
/// without fresh rows, whose rows are left for their providers.
async fn rows_for(client: &ArmClient, mine: &[String]) -> Result<Rows, GraphError> {
    let endpoint = client.base().as_str().to_string();
    let mine: BTreeSet<String> = mine.iter().map(|s| s.to_ascii_lowercase()).collect();
    let ask: Vec<String> = {
        let mut all = estate();
        let here = all.entry(endpoint.clone()).or_default();
        here.waiting.retain(|_, (at, _)| at.elapsed() < FRESH);
        if mine.iter().all(|s| here.waiting.contains_key(s)) {
            let mut rows = Rows::default();
            for sub in &mine {
                if let Some((_, part)) = here.waiting.remove(sub) {
                    rows.nsgs.extend(part.nsgs);
                }
            }
            return Ok(rows);
        }
        let mut ask: BTreeSet<String> = here
            .subscriptions
            .iter()
            .filter(|s| !here.waiting.contains_key(*s))
            .cloned()
            .collect();
        ask.extend(mine.iter().cloned());
        ask.into_iter().collect()
    };
    let found = query_nsgs(client, &ask).await?;
    let mut rows = Rows {
        nsgs: BTreeMap::new(),
        pages: found.pages,
    };
    let mut others: BTreeMap<String, Rows> = ask
        .iter()
        .filter(|s| !mine.contains(*s))
        .map(|s| (s.clone(), Rows::default()))
        .collect();
    for (key, row) in found.nsgs {
        let sub = key_subscription(&key).to_string();
        match others.get_mut(&sub) {
            Some(theirs) => {
                theirs.nsgs.insert(key, row);
            }
            None => {
                rows.nsgs.insert(key, row);
            }
        }
    }
    let now = std::time::Instant::now();
    let mut all = estate();
    let here = all.entry(endpoint).or_default();
    for (sub, theirs) in others {
        here.waiting.insert(sub, (now, theirs));
    }
    Ok(rows)
}

/// What a discovery read found: the NSGs, and those that could not be read directly either.
#[derive(Debug, Default)]
pub struct Discovered {
    pub nsgs: BTreeMap<String, Parsed>,
    pub failed: BTreeMap<String, String>,
    /// Referenced NSGs Resource Graph did not show (or could not be parsed), read from ARM.
    pub read_directly: usize,
}

/// The discovery read of `ids` (already checked to be in `subscriptions`): `Ok(None)` when
/// `mode` does not ask for Resource Graph, or when Resource Graph failed (said once per
/// `warned` flag), so the caller reads directly. NSGs the query did not show are read
/// directly, `parallelism` at a time.
pub async fn discover(
    client: &ArmClient,
    address: &str,
    mode: AzureRead,
    warned: &AtomicBool,
    subscriptions: &[String],
    ids: &[&String],
    parallelism: usize,
) -> Result<Option<Discovered>, ProviderError> {
    if !wanted(mode, ids.len()) || warned.load(Ordering::Relaxed) {
        return Ok(None);
    }
    let mut rows = match rows_for(client, subscriptions).await {
        Ok(rows) => rows,
        Err(e) => {
            if !warned.swap(true, Ordering::Relaxed) {
                let why = match &e {
                    GraphError::Denied(_) => "Resource Graph refused the principal",
                    GraphError::Failed(_) => "Resource Graph could not be read",
                };
                tracing::warn!(
                    "provider `{address}`: {why} ({e}); reading the {} NSGs directly from ARM",
                    ids.len()
                );
            }
            return Ok(None);
        }
    };
    tracing::info!(
        "provider `{address}`: Resource Graph showed {} NSGs in {} page{}",
        rows.nsgs.len(),
        rows.pages,
        if rows.pages == 1 { "" } else { "s" }
    );
    let mut found = Discovered::default();
    let mut direct: Vec<&String> = Vec::new();
    let mut seen = BTreeSet::new();
    for id in ids {
        let key = nsg_key(id);
        if !seen.insert(key.clone()) {
            continue;
        }
        match rows.nsgs.remove(&key) {
            Some(Ok(nsg)) => {
                found.nsgs.insert(key, nsg);
            }
            Some(Err(e)) => {
                tracing::debug!("{e}; reading it directly");
                direct.push(id);
            }
            None => direct.push(id),
        }
    }
    found.read_directly = direct.len();
    for (id, result) in read_directly(client, &direct, parallelism).await {
        match result {
            Ok(nsg) => {
                found.nsgs.insert(nsg_key(id), nsg);
            }
            Err(
                e @ (ProviderError::NotFound { .. }
                | ProviderError::Remote { .. }
                | ProviderError::Corrupt { .. }),
            ) => {
                found.failed.insert(nsg_key(id), e.to_string());
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Some(found))
}

/// One GET per NSG, `parallelism` at a time, in order.
pub async fn read_directly<'a>(
    client: &ArmClient,
    ids: &[&'a String],
    parallelism: usize,
) -> Vec<(&'a String, Result<Parsed, ProviderError>)> {
    use futures::{stream, StreamExt};
    let results: Vec<_> = stream::iter(ids.iter().map(|id| read::read_nsg(client, id)))
        .buffered(parallelism.max(1))
        .collect()
        .await;
    ids.iter().copied().zip(results).collect()
}

impl super::AzureProvider {
    /// The discovery read of `nsg_ids` through Resource Graph (see [`discover`]), as live
    /// state; `Ok(None)` when the provider's `read` mode does not ask for it or Resource Graph
    /// failed, so the caller reads directly. NSGs outside the provider's subscription are
    /// refused as a direct read refuses them.
    pub fn discover_nsgs(&self, nsg_ids: &[String]) -> Result<Option<Live>, ProviderError> {
        let mut refused = BTreeMap::new();
        let mut ids: Vec<&String> = Vec::new();
        for id in nsg_ids {
            match self.check_id(id) {
                Err(e) => {
                    refused.insert(nsg_key(id), e.to_string());
                }
                Ok(()) => ids.push(id),
            }
        }
        let subscriptions = [self.subscription_id.clone()];
        let found = self.runtime.block_on(discover(
            &self.client,
            &self.address,
            self.read,
            &self.graph_refused,
            &subscriptions,
            &ids,
            self.parallelism,
        ))?;
        Ok(found.map(|found| {
            let mut live = Live {
                scopes: found.nsgs,
                failed: found.failed,
            };
            live.failed.extend(refused);
            live
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_uses_resource_graph_only_for_many_nsgs() {
        assert!(!wanted(AzureRead::Auto, AUTO_FROM - 1));
        assert!(wanted(AzureRead::Auto, AUTO_FROM));
        assert!(wanted(AzureRead::ResourceGraph, 1));
        assert!(!wanted(AzureRead::ResourceGraph, 0));
        assert!(!wanted(AzureRead::Direct, 100_000));
    }

    #[test]
    fn rows_are_parsed_as_direct_reads_are() {
        let example: Value = serde_json::from_str(
            &std::fs::read_to_string(format!(
                "{}/tests/fixtures/azure-examples/network-NetworkSecurityGroupGet.json",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap();
        let nsg = &example["responses"]["200"]["body"];
        let row = json!({"id": nsg["id"], "name": nsg["name"], "properties": nsg["properties"]});
        let page = json!({"totalRecords": 2, "count": 1, "data": [row], "$skipToken": "abc"});
        let mut rows = Rows::default();
        assert_eq!(
            page_rows("POST u", &page, &mut rows).unwrap().as_deref(),
            Some("abc")
        );
        let key = nsg_key(nsg["id"].as_str().unwrap());
        let parsed = rows.nsgs[&key].as_ref().unwrap();
        let direct = parse_nsg(nsg["id"].as_str().unwrap(), "GET u", nsg).unwrap();
        assert_eq!(parsed.content, direct.content);
        assert_eq!(parsed.name, "testnsg");
        let last = json!({"data": [], "$skipToken": null});
        assert_eq!(page_rows("POST u", &last, &mut rows).unwrap(), None);
        let err = page_rows("POST u", &json!({"value": []}), &mut rows).unwrap_err();
        assert!(err.to_string().contains("`data`"), "{err}");
        let err = page_rows("POST u", &json!({"data": [{"name": "x"}]}), &mut rows).unwrap_err();
        assert!(err.to_string().contains("no `id`"), "{err}");
    }
}
