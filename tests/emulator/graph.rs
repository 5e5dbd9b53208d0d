//! Azure Resource Graph (api-version 2024-04-01): `POST /providers/Microsoft.ResourceGraph/
//! resources` over the emulator's NSGs, across subscriptions. Shaped as the official
//! `resourcegraph-Resources*PageQuery` examples: `{totalRecords, count, resultTruncated,
//! facets, data, $skipToken}`, rows sorted by `id`, at most `$top` (≤ 1,000) a page, an opaque
//! `$skipToken` while more remain — and none when the query does not project `id`, as Azure
//! pages only queries with a stable sort key.
//!
//! It understands the queries a client asks of NSGs, not KQL at large: the query must start
//! with `Resources`, filter `type =~ 'microsoft.network/networksecuritygroups'` (or `==`, any
//! case), and may end with `| project` over `id`, `name`, `type`, `location`, `resourceGroup`,
//! `subscriptionId`, `tags`, `properties`. Anything else is `400 BadRequest` / `InvalidQuery`,
//! so a client bug shows up as one. Rows have the `resources` table's columns: no `etag` (the
//! table has none); the rules inside `properties` keep theirs.
//!
//! Also: the per-principal quota (`quota` queries a `quota_window` of emulated time, headers
//! `x-ms-user-quota-remaining` and `x-ms-user-quota-resets-after` as a `hh:mm:ss.fffffff`
//! span of real time; past it `429 RateLimiting` with only those headers), a lag (a change to
//! an NSG becomes visible here only `lag` of emulated time after ARM made it; seeded NSGs are
//! indexed already), and principals denied Resource Graph (`403 AuthorizationFailed`).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::auth;
use super::errors::{arm_error, error_body, json_response};
use super::state::Shared;

pub const API_VERSION: &str = "2024-04-01";
/// Rows a page at most, as Azure caps `$top`.
pub const MAX_TOP: usize = 1000;
/// Rows a page when the request sets no `$top` (Azure's default).
pub const DEFAULT_TOP: usize = 100;

const NSG_TYPE: &str = "microsoft.network/networksecuritygroups";
const COLUMNS: [&str; 8] = [
    "id",
    "name",
    "type",
    "location",
    "resourceGroup",
    "subscriptionId",
    "tags",
    "properties",
];

/// What Resource Graph sees, which lags behind ARM, plus quota windows and denials.
#[derive(Debug, Default)]
pub struct GraphState {
    /// NSG key → the NSG as Resource Graph still shows it, and ARM's later versions (emulated
    /// time of the change, `None` once deleted) not yet visible. Only NSGs changed while a lag
    /// applies are here; every other NSG is seen as ARM has it.
    lagging: HashMap<String, Lagging>,
    /// Principal → (window start, queries in it), emulated seconds.
    windows: HashMap<String, (f64, u32)>,
    /// Principals that get 403 (`Emulator::deny_resource_graph`).
    pub denied: HashSet<String>,
}

#[derive(Debug)]
struct Lagging {
    shown: Option<Value>,
    later: VecDeque<(f64, Option<Value>)>,
}

impl GraphState {
    /// ARM changed the NSG `key` from `before` at emulated time `at` (now `after`). With a
    /// lag, Resource Graph keeps showing `before` until `at + lag`.
    pub fn changed(&mut self, key: &str, before: Option<Value>, after: Option<Value>, at: f64) {
        let entry = self.lagging.entry(key.to_string()).or_insert(Lagging {
            shown: before,
            later: VecDeque::new(),
        });
        entry.later.push_back((at, after));
    }

    /// Lets every change older than `lag` through to what Resource Graph shows.
    fn catch_up(&mut self, now: f64, lag: f64) {
        self.lagging.retain(|_, l| {
            while l.later.front().is_some_and(|(at, _)| *at + lag <= now) {
                l.shown = l.later.pop_front().and_then(|(_, v)| v);
            }
            !l.later.is_empty()
        });
    }

    /// What Resource Graph shows of every NSG, by key, from ARM's `nsgs` (after
    /// [`GraphState::catch_up`]).
    fn view<'a>(&'a self, nsgs: &'a BTreeMap<String, Value>) -> Vec<(&'a str, &'a Value)> {
        let mut rows: Vec<(&str, &Value)> = nsgs
            .iter()
            .filter(|(k, _)| !self.lagging.contains_key(*k))
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        rows.extend(
            self.lagging
                .iter()
                .filter_map(|(k, l)| Some((k.as_str(), l.shown.as_ref()?))),
        );
        rows.sort_by(|a, b| a.0.cmp(b.0));
        rows
    }

    /// Counts a query of `principal` at `now`; `Err(resets_after)` when the quota is spent.
    fn draw(&mut self, principal: &str, now: f64, quota: u32, window: f64) -> Draw {
        let (start, used) = self
            .windows
            .entry(principal.to_string())
            .or_insert((now, 0));
        if now >= *start + window {
            *start = now;
            *used = 0;
        }
        let resets_after = (*start + window - now).max(0.0);
        if *used >= quota {
            return Draw::Throttled { resets_after };
        }
        *used += 1;
        Draw::Allowed {
            remaining: quota - *used,
            resets_after,
        }
    }
}

enum Draw {
    Allowed { remaining: u32, resets_after: f64 },
    Throttled { resets_after: f64 },
}

/// Whether `segs` (the lowercased path) is the Resource Graph query endpoint.
pub fn is_query(method: &str, segs: &[String]) -> bool {
    method == "POST" && segs == ["providers", "microsoft.resourcegraph", "resources"]
}

/// A .NET `TimeSpan` as Resource Graph writes it: `hh:mm:ss` and, under a scaled clock, the
/// fraction (`00:00:00.5000000`).
fn time_span(real_seconds: f64, fractional: bool) -> String {
    let total = real_seconds.max(0.0);
    let whole = total.floor() as u64;
    let base = format!(
        "{:02}:{:02}:{:02}",
        whole / 3600,
        (whole / 60) % 60,
        whole % 60
    );
    if fractional {
        format!(
            "{base}.{:07}",
            ((total - whole as f64) * 1e7).round().min(9_999_999.0) as u64
        )
    } else {
        base
    }
}

fn bad_query(message: &str) -> Response {
    json_response(
        400,
        &error_body(
            "BadRequest",
            "Please provide below info when asking for support: timestamp = 2026-01-01T00:00:00.0000000Z, correlationId = 00000000-0000-0000-0000-000000000000.",
            &[("InvalidQuery", message)],
        ),
        &[],
    )
}

/// The query's projected columns (`None`: every column), or why it is not one the emulator
/// serves.
fn parse_query(query: &str) -> Result<Option<Vec<String>>, String> {
    let stages: Vec<&str> = query.split('|').map(str::trim).collect();
    if !stages[0].eq_ignore_ascii_case("resources") {
        return Err(format!(
            "Query must start with the `Resources` table; found `{}`.",
            stages[0]
        ));
    }
    let mut typed = false;
    let mut projected = None;
    for stage in &stages[1..] {
        let lower = stage.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("where ") {
            let compact: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
            let wanted = [
                format!("type=~'{NSG_TYPE}'"),
                format!("type=='{NSG_TYPE}'"),
                format!("type=~\"{NSG_TYPE}\""),
                format!("type==\"{NSG_TYPE}\""),
            ];
            if !wanted.contains(&compact) {
                return Err(format!(
                    "The emulator serves only `where type =~ '{NSG_TYPE}'`; found `{stage}`."
                ));
            }
            typed = true;
        } else if let Some(rest) = stage
            .strip_prefix("project ")
            .or_else(|| stage.strip_prefix("project\t"))
        {
            let mut columns = Vec::new();
            for column in rest.split(',').map(str::trim) {
                let Some(known) = COLUMNS.iter().find(|c| c.eq_ignore_ascii_case(column)) else {
                    return Err(format!(
                        "Column `{column}` is not in the `Resources` table."
                    ));
                };
                columns.push(known.to_string());
            }
            projected = Some(columns);
        } else {
            return Err(format!(
                "The emulator does not serve the operator `{stage}`."
            ));
        }
    }
    if !typed {
        return Err(format!(
            "The emulator serves only NSG queries (`where type =~ '{NSG_TYPE}'`)."
        ));
    }
    Ok(projected)
}

/// A `resources` table row for an NSG as ARM stores it.
fn row(nsg: &Value, columns: Option<&[String]>) -> Value {
    let id = nsg.get("id").and_then(Value::as_str).unwrap_or_default();
    let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
    let field = |k: &str| nsg.get(k).cloned().unwrap_or(Value::Null);
    let full = json!({
        "id": id,
        "name": field("name"),
        "type": NSG_TYPE,
        "tenantId": "00000000-0000-0000-0000-000000000000",
        "kind": "",
        "location": field("location"),
        "resourceGroup": parts.get(3).map(|g| g.to_ascii_lowercase()),
        "subscriptionId": parts.get(1),
        "managedBy": "",
        "sku": null,
        "plan": null,
        "properties": field("properties"),
        "tags": nsg.get("tags").cloned().unwrap_or(json!({})),
        "identity": null,
        "zones": null,
        "extendedLocation": null,
    });
    match columns {
        None => full,
        Some(columns) => {
            let mut out = Map::new();
            for c in columns {
                out.insert(c.clone(), full.get(c).cloned().unwrap_or(Value::Null));
            }
            Value::Object(out)
        }
    }
}

/// `$skipToken`: an opaque token carrying the next offset and what it pages.
fn skip_token(offset: usize, signature: &str) -> String {
    let text = json!({"offset": offset, "query": signature}).to_string();
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn read_skip_token(token: &str, signature: &str) -> Option<usize> {
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    let value: Value = serde_json::from_slice(&bytes?).ok()?;
    (value.get("query")?.as_str()? == signature)
        .then(|| value.get("offset")?.as_u64().map(|n| n as usize))
        .flatten()
}

/// Answers one Resource Graph query.
pub fn query(shared: &Shared, headers: &HeaderMap, raw_query: &str, body: &[u8]) -> Response {
    let principal = match auth::principal(shared, headers) {
        Ok(p) => p,
        Err(response) => return response,
    };
    let params = auth::parse_pairs(raw_query);
    match params.get("api-version") {
        Some(v) if v == API_VERSION => {}
        Some(v) => {
            return arm_error(
                400,
                "InvalidApiVersionParameter",
                &format!(
                    "The api-version '{v}' is invalid. The supported versions are '{API_VERSION}'."
                ),
            )
        }
        None => {
            return arm_error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        }
    }
    let config = &shared.config.graph;
    let now = shared.clock.now();
    let fractional = shared.config.time_scale != 1.0;
    let quota_headers = |remaining: u32, resets_after: f64| {
        vec![
            ("x-ms-user-quota-remaining", remaining.to_string()),
            (
                "x-ms-user-quota-resets-after",
                time_span(shared.clock.real(resets_after).as_secs_f64(), fractional),
            ),
        ]
    };
    let (remaining, resets_after) = {
        let mut inner = shared.lock();
        inner.stats.graph_queries += 1;
        if inner.graph.denied.contains(&principal) {
            inner.stats.graph_denied += 1;
            drop(inner);
            return arm_error(
                403,
                "AuthorizationFailed",
                &format!(
                    "The client '{principal}' does not have authorization to perform action 'Microsoft.ResourceGraph/resources/read' over scope '/providers/Microsoft.ResourceGraph' or the scope is invalid."
                ),
            );
        }
        match inner.graph.draw(
            &principal,
            now,
            config.quota,
            config.quota_window.as_secs_f64(),
        ) {
            Draw::Allowed {
                remaining,
                resets_after,
            } => (remaining, resets_after),
            Draw::Throttled { resets_after } => {
                inner.stats.bump_throttled("resource_graph");
                drop(inner);
                return json_response(
                    429,
                    &error_body(
                        "RateLimiting",
                        "Client application has been throttled and should not attempt to repeat the request until an amount of time has elapsed. Please see https://aka.ms/resourcegraph-throttling for help.",
                        &[],
                    ),
                    &quota_headers(0, resets_after),
                );
            }
        }
    };
    let request: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        _ => return bad_query("The request body is not a JSON object."),
    };
    let Some(text) = request.get("query").and_then(Value::as_str) else {
        return bad_query("The request has no `query`.");
    };
    let columns = match parse_query(text) {
        Ok(c) => c,
        Err(message) => return bad_query(&message),
    };
    let subscriptions: Option<HashSet<String>> = match request.get("subscriptions") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_ascii_lowercase)
                .collect(),
        ),
        Some(_) => return bad_query("`subscriptions` must be an array of ids."),
    };
    let options = request.get("options").cloned().unwrap_or(json!({}));
    let top = match options.get("$top") {
        None | Some(Value::Null) => DEFAULT_TOP,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_TOP as u64).contains(&n) => n as usize,
            _ => return bad_query(&format!("`$top` must be 1–{MAX_TOP}; found {v}.")),
        },
    };
    let signature = format!(
        "{text}|{:?}",
        subscriptions.as_ref().map(|s| {
            let mut v: Vec<&String> = s.iter().collect();
            v.sort();
            v.into_iter().cloned().collect::<Vec<_>>().join(",")
        })
    );
    let skip = match options.get("$skipToken").and_then(Value::as_str) {
        Some(token) => match read_skip_token(token, &signature) {
            Some(offset) => offset,
            None => return bad_query("The `$skipToken` is not valid for this query."),
        },
        None => options.get("$skip").and_then(Value::as_u64).unwrap_or(0) as usize,
    };
    let (total, data) = {
        let mut inner = shared.lock();
        inner.stats.graph_pages += 1;
        if let Some(subs) = &subscriptions {
            inner.stats.graph_subscriptions.extend(subs.iter().cloned());
        }
        let inner = &mut *inner;
        inner.graph.catch_up(now, config.lag.as_secs_f64());
        let in_scope: Vec<&Value> = inner
            .graph
            .view(&inner.nsgs)
            .into_iter()
            .filter(|(key, _)| {
                let sub = key.trim_matches('/').split('/').nth(1).unwrap_or_default();
                subscriptions.as_ref().is_none_or(|set| set.contains(sub))
            })
            .map(|(_, nsg)| nsg)
            .collect();
        let end = (skip + top).min(in_scope.len());
        let data: Vec<Value> = in_scope[skip.min(end)..end]
            .iter()
            .map(|nsg| row(nsg, columns.as_deref()))
            .collect();
        (in_scope.len(), data)
    };
    let end = (skip + data.len()).min(total);
    let pages_by_id = columns.as_ref().is_none_or(|c| c.iter().any(|c| c == "id"));
    let mut answer = json!({
        "totalRecords": total,
        "count": data.len(),
        "resultTruncated": if end < total && !pages_by_id { "true" } else { "false" },
        "facets": [],
        "data": data,
    });
    if end < total && pages_by_id {
        answer["$skipToken"] = json!(skip_token(end, &signature));
    }
    json_response(200, &answer, &quota_headers(remaining, resets_after))
}
