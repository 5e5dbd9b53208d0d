//! The emulator's mutable world: NSGs by id, long-running operations, issued tokens, buckets,
//! faults and counters, all behind one mutex that no handler holds across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{json, Value};

use super::clock::{Clock, Rng};
use super::config::EmulatorConfig;
use super::faults::FaultSet;
use super::graph::GraphState;
use super::throttle::Throttle;

/// Counters a test reads through [`super::Emulator::stats`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Requests received, by HTTP method.
    pub requests: BTreeMap<String, u64>,
    /// 429s sent, by kind: `reads`, `writes`, `deletes` (throttle), `another_operation` and
    /// `resource_graph` (its quota).
    pub throttled: BTreeMap<String, u64>,
    /// 412s sent.
    pub precondition_failed: u64,
    /// 401s sent (token endpoint and ARM).
    pub unauthorized: u64,
    /// Status polls of long-running operations (`Azure-AsyncOperation` and `Location`).
    pub lro_polls: u64,
    /// Rule PUTs that completed and changed state.
    pub writes_applied: u64,
    /// Rule DELETEs that completed and removed a rule.
    pub deletes_applied: u64,
    /// Long-running operations that ended `Failed`.
    pub lro_failed: u64,
    /// Faults injected, of any kind.
    pub faults_injected: u64,
    /// Tokens issued by the token and IMDS endpoints.
    pub tokens_issued: u64,
    /// Resource Graph queries received (answered or not).
    pub graph_queries: u64,
    /// Resource Graph pages answered.
    pub graph_pages: u64,
    /// Resource Graph queries refused with 403 (`Emulator::deny_resource_graph`).
    pub graph_denied: u64,
    /// Every subscription a Resource Graph query asked for (lowercased).
    pub graph_subscriptions: std::collections::BTreeSet<String>,
    /// Requests received, by what they ask for ([`request_kind`]): `nsg_read`, `rule_read`,
    /// `poll`, `rule_write`, `rule_delete`, `list`, `graph`, `token`, `other`.
    pub by_kind: BTreeMap<&'static str, u64>,
    /// The most subscriptions that had a rule write (PUT or DELETE) in flight at one moment:
    /// 2 or more means writes of different subscriptions overlapped.
    pub subscriptions_writing_at_once: usize,
}

impl Stats {
    pub fn requests_total(&self) -> u64 {
        self.requests.values().sum()
    }

    pub fn throttled_total(&self) -> u64 {
        self.throttled.values().sum()
    }

    pub fn requests_by(&self, method: &str) -> u64 {
        self.requests.get(method).copied().unwrap_or(0)
    }

    pub fn throttled_by(&self, kind: &str) -> u64 {
        self.throttled.get(kind).copied().unwrap_or(0)
    }

    /// Requests of a [`request_kind`] (`nsg_read`, `poll`, …).
    pub fn kind(&self, kind: &str) -> u64 {
        self.by_kind.get(kind).copied().unwrap_or(0)
    }

    pub(crate) fn bump_throttled(&mut self, kind: &str) {
        *self.throttled.entry(kind.to_string()).or_default() += 1;
    }
}

/// What a request asks for, by method and path: `nsg_read` (GET of an NSG), `rule_read`,
/// `poll` (an operation's status), `rule_write` (PUT of a rule), `rule_delete`, `list` (NSGs
/// or rules of a group or subscription), `graph` (a Resource Graph query), `token`, `other`.
pub fn request_kind(method: &str, path: &str) -> &'static str {
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(str::to_ascii_lowercase)
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (method, s.as_slice()) {
        ("POST", [.., "microsoft.resourcegraph", "resources"]) => "graph",
        ("POST", [_, "oauth2", "v2.0", "token"]) | ("GET", ["metadata", "identity", ..]) => "token",
        ("GET", [.., "operations" | "operationresults", _]) => "poll",
        ("GET", [.., "networksecuritygroups", _]) => "nsg_read",
        ("GET", [.., "networksecuritygroups"] | [.., "securityrules"]) => "list",
        ("GET", [.., "securityrules", _]) => "rule_read",
        ("PUT", [.., "securityrules", _]) => "rule_write",
        ("DELETE", [.., "securityrules", _]) => "rule_delete",
        _ => "other",
    }
}

/// What a long-running operation does when it completes.
#[derive(Clone, Debug)]
pub enum Change {
    /// Insert or replace this rule (already in its final shape).
    Put(Value),
    /// Remove the rule of this name (compared case-insensitively).
    Delete(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpStatus {
    InProgress,
    Succeeded,
    Failed,
}

#[derive(Clone, Debug)]
pub struct Operation {
    pub scope_key: String,
    pub change: Change,
    pub polls: u32,
    pub fail: bool,
    pub started: Instant,
    pub status: OpStatus,
}

/// An issued bearer token.
#[derive(Clone, Debug)]
pub struct Token {
    pub principal: String,
    pub expires: Instant,
}

pub struct Shared {
    pub config: EmulatorConfig,
    pub clock: Clock,
    pub base_url: String,
    pub inner: Mutex<Inner>,
}

impl Shared {
    /// The state; a handler that panicked while holding it does not poison the emulator.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct Inner {
    pub nsgs: BTreeMap<String, Value>,
    /// VMs, NICs and subnets by lowercased id (see `compute.rs`).
    pub resources: BTreeMap<String, Value>,
    /// Defender for Cloud JIT policies, its clock and its open rules (see `defender.rs`).
    pub defender: super::defender::JitState,
    pub ops: HashMap<String, Operation>,
    /// NSG key → id of the operation holding its write lock.
    pub locks: HashMap<String, String>,
    pub tokens: HashMap<String, Token>,
    pub throttle: Throttle,
    pub faults: FaultSet,
    pub stats: Stats,
    pub rng: Rng,
    /// What Resource Graph shows, its quota windows and denials.
    pub graph: GraphState,
    /// The emulated clock and Resource Graph's lag (emulated seconds), to timestamp changes.
    pub clock: Clock,
    pub graph_lag: f64,
    /// Rule writes (PUT, DELETE) being handled now, by lowercased subscription.
    pub writes_in_flight: BTreeMap<String, usize>,
}

/// The lookup key of an NSG: its id, lowercased.
pub fn scope_key(subscription: &str, resource_group: &str, name: &str) -> String {
    format!(
        "/subscriptions/{subscription}/resourcegroups/{resource_group}/providers/microsoft.network/networksecuritygroups/{name}"
    )
    .to_ascii_lowercase()
}

/// The rules of an NSG (`properties.securityRules`), empty when absent.
pub fn rules(nsg: &Value) -> &[Value] {
    nsg.pointer("/properties/securityRules")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The rule of `name` (case-insensitive) in `nsg`.
pub fn find_rule<'a>(nsg: &'a Value, name: &str) -> Option<&'a Value> {
    rules(nsg).iter().find(|r| {
        r.get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

impl Inner {
    pub fn new(rng_seed: u64, clock: Clock, graph_lag: f64) -> Self {
        Inner {
            graph: GraphState::default(),
            clock,
            graph_lag,
            writes_in_flight: BTreeMap::new(),
            nsgs: BTreeMap::new(),
            resources: BTreeMap::new(),
            defender: super::defender::JitState::new(),
            ops: HashMap::new(),
            locks: HashMap::new(),
            tokens: HashMap::new(),
            throttle: Throttle::default(),
            faults: FaultSet::default(),
            stats: Stats::default(),
            rng: Rng::new(rng_seed),
        }
    }

    /// Seeds an NSG in ARM raw shape, adding `W/"<uuid>"` etags where missing.
    pub fn add_nsg(&mut self, mut nsg: Value) -> Result<String, String> {
        let id = nsg
            .get("id")
            .and_then(Value::as_str)
            .ok_or("nsg has no string `id`")?
            .to_string();
        let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
        let well_formed = parts.len() == 8
            && parts[0].eq_ignore_ascii_case("subscriptions")
            && parts[2].eq_ignore_ascii_case("resourceGroups")
            && parts[4].eq_ignore_ascii_case("providers")
            && parts[5].eq_ignore_ascii_case("Microsoft.Network")
            && parts[6].eq_ignore_ascii_case("networkSecurityGroups");
        if !well_formed {
            return Err(format!("nsg id `{id}` is not an NSG resource id"));
        }
        let object = nsg.as_object_mut().ok_or("nsg is not a JSON object")?;
        if !object.contains_key("etag") {
            object.insert("etag".to_string(), json!(self.rng.etag()));
        }
        for list in ["securityRules", "defaultSecurityRules"] {
            if let Some(Value::Array(items)) =
                object.get_mut("properties").and_then(|p| p.get_mut(list))
            {
                for rule in items.iter_mut().filter_map(Value::as_object_mut) {
                    if !rule.contains_key("etag") {
                        rule.insert("etag".to_string(), json!(self.rng.etag()));
                    }
                }
            }
        }
        let key = scope_key(parts[1], parts[3], parts[7]);
        self.nsgs.insert(key.clone(), nsg);
        Ok(key)
    }

    /// ARM changed the NSG `key` from `before`: with a lag, Resource Graph shows `before` a
    /// while longer.
    pub fn record_change(&mut self, key: &str, before: Option<Value>) {
        if self.graph_lag > 0.0 {
            let after = self.nsgs.get(key).cloned();
            let now = self.clock.now();
            self.graph.changed(key, before, after, now);
        }
    }

    /// Completes every operation older than `auto_complete` (real time), and, with
    /// `duration`, every one that has run that long.
    pub fn settle(
        &mut self,
        auto_complete: Option<std::time::Duration>,
        duration: Option<std::time::Duration>,
    ) {
        let limit = match (auto_complete, duration) {
            (Some(a), Some(d)) => a.min(d),
            (a, d) => match a.or(d) {
                Some(limit) => limit,
                None => return,
            },
        };
        let due: Vec<String> = self
            .ops
            .iter()
            .filter(|(_, op)| op.status == OpStatus::InProgress && op.started.elapsed() >= limit)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.complete(&id);
        }
    }

    /// Finishes operation `id`: applies its change (unless it fails) and frees the NSG.
    pub fn complete(&mut self, id: &str) {
        let Some(op) = self.ops.get_mut(id) else {
            return;
        };
        if op.status != OpStatus::InProgress {
            return;
        }
        let op_snapshot = op.clone();
        op.status = if op.fail {
            OpStatus::Failed
        } else {
            OpStatus::Succeeded
        };
        self.locks.remove(&op_snapshot.scope_key);
        if op_snapshot.fail {
            self.stats.lro_failed += 1;
            return;
        }
        let etag = self.rng.etag();
        let before = (self.graph_lag > 0.0)
            .then(|| self.nsgs.get(&op_snapshot.scope_key).cloned())
            .flatten();
        self.apply_change(&op_snapshot, etag);
        self.record_change(&op_snapshot.scope_key, before);
    }

    fn apply_change(&mut self, op_snapshot: &Operation, etag: String) {
        let Some(nsg) = self.nsgs.get_mut(&op_snapshot.scope_key) else {
            return;
        };
        nsg["etag"] = json!(etag);
        let Some(props) = nsg.get_mut("properties").and_then(Value::as_object_mut) else {
            return;
        };
        let list = props.entry("securityRules").or_insert_with(|| json!([]));
        let Some(list) = list.as_array_mut() else {
            return;
        };
        let same = |r: &Value, name: &str| {
            r.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        };
        match op_snapshot.change.clone() {
            Change::Put(rule) => {
                let name = rule
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                match list.iter_mut().find(|r| same(r, &name)) {
                    Some(existing) => *existing = rule,
                    None => list.push(rule),
                }
                self.stats.writes_applied += 1;
            }
            Change::Delete(name) => {
                let before = list.len();
                list.retain(|r| !same(r, &name));
                if list.len() != before {
                    self.stats.deletes_applied += 1;
                }
            }
        }
    }
}
