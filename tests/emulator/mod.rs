//! An Azure Resource Manager emulator for tests and benchmarks: Microsoft.Network security
//! groups and rules (api-version 2024-05-01) plus the Entra ID token endpoints, served by axum
//! on 127.0.0.1. Not a test binary: include it with
//! `#[path = "../emulator/mod.rs"] mod emulator;` (tests) or
//! `#[path = "../tests/emulator/mod.rs"] mod emulator;` (benches). It does not use the `jit`
//! crate.
//!
//! ```ignore
//! let emu = Emulator::start(EmulatorConfig::fast());           // background thread + runtime
//! emu.add_nsg(example["responses"]["200"]["body"].clone());    // ARM raw shape; etags added
//! let url = emu.base_url();                                    // http://127.0.0.1:PORT
//! emu.set_faults(vec![Fault::new("PUT", "/securityRules/", Trigger::Nth(1), FaultKind::Status(503))]);
//! let stats = emu.stats();                                     // requests, 429s, 412s, polls…
//! let nsg = emu.nsg("/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/testnsg");
//! ```                                                          // dropped: server stops
//!
//! Also: `try_add_nsg` (error instead of panic), `edit_nsg(id, |json| …)` for out-of-band
//! drift (fresh etags on what changed), `nsgs()`, `pending_operations()`, `reset_stats()`.
//! `stats()` counts requests by method and by kind (`Stats::kind`: `nsg_read`, `poll`,
//! `rule_write`, …), and the most subscriptions with rule writes in flight at once.
//! [`EmulatorConfig::fast`] (time scale 1000, static token `test-token`) suits most tests.
//!
//! What it serves:
//! - `POST /{tenant}/oauth2/v2.0/token` (client credentials: `client_secret`, or
//!   `client_assertion` + `client_assertion_type` jwt-bearer) and IMDS
//!   `GET /metadata/identity/oauth2/token?api-version=…&resource=…` (header `Metadata: true`).
//!   Wrong secrets answer 401 with Entra's `error`/`error_description` (`AADSTS…`).
//! - ARM calls need `Authorization: Bearer` with an issued token or one of
//!   `static_tokens` (else 401 `AuthenticationFailed` / `InvalidAuthenticationToken` /
//!   `ExpiredAuthenticationToken`) and the api-version of the path's resource provider:
//!   Microsoft.Network 2024-05-01, Microsoft.Compute 2024-07-01, Microsoft.Security 2020-01-01
//!   (else 400 `InvalidApiVersionParameter` / `MissingApiVersionParameter`).
//! - GET a VM, NIC or subnet seeded with `add_vm` / `add_nic` / `add_subnet` (`compute.rs`).
//! - Defender for Cloud JIT policies and `initiate` (`defender.rs`): seed with
//!   `add_jit_policy`, read with `jit_policy`; Defender's rules open and close in the NSGs of
//!   the VM by the emulator's wall clock (`set_wall_clock`, `advance_wall_clock`).
//! - GET an NSG; list NSGs per resource group or subscription and rules per NSG, `page_size`
//!   items per page with `nextLink`; GET/PUT/DELETE `…/securityRules/{rule}`. A resource group
//!   exists while it holds a seeded NSG: GET of an NSG or the NSG list in any other group answers
//!   404 `ResourceGroupNotFound`, as ARM does. Names are
//!   compared case-insensitively; seeded bodies come back unchanged (plus etags). Rules written
//!   by PUT come back with `type` and the unused plural fields as `[]`, as Azure sends them.
//!   PUT/DELETE of a whole NSG is not served (405): `jit` never does it.
//! - PUT validation (400, see `validate.rs`), `If-Match`/`If-None-Match: *` (412
//!   `PreconditionFailed` / `PreconditionFailedEtagMismatch`), every write changes the rule's
//!   and the NSG's `W/"<uuid>"` etag.
//! - Writes are long-running: PUT answers 201/200 with `provisioningState: "Updating"`,
//!   `Azure-AsyncOperation` and `Retry-After`; DELETE answers 202 with `Azure-AsyncOperation`
//!   and/or `Location` ([`DeletePolling`]); DELETE of a missing rule answers 204. The status
//!   answers `InProgress` `lro_polls` times, then `Succeeded` (or `Failed`); the change becomes
//!   visible then, or after `lro_auto_complete` if nobody polls. While an operation runs, other
//!   writes to the NSG get 429 `RetryableError` / `RetryableErrorDueToAnotherOperation`.
//! - Token buckets per subscription and principal (reads 250 + 25/s, writes and deletes
//!   200 + 10/s) with `x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}`; empty →
//!   429 `SubscriptionRequestsThrottled`. `time_scale` speeds up refills and shortens every
//!   Retry-After and LRO delay. Waits are sent as `Retry-After` (whole seconds, rounded up;
//!   `0` for sub-second waits under a scaled clock) and `retry-after-ms` (exact, rounded up):
//!   clients should prefer `retry-after-ms` when present.
//! - Azure Resource Graph (`POST /providers/Microsoft.ResourceGraph/resources`, api-version
//!   2024-04-01) over the NSGs of every subscription: paging with `$skipToken`, the
//!   per-principal quota, a configurable lag behind ARM, and principals denied it
//!   ([`Emulator::deny_resource_graph`]); see `graph.rs`.
//! - `latency` on every request; [`Fault`]s by method + path regex + [`Trigger`]: 5xx with an
//!   ARM body, connection reset (RST, no response), extra latency, LRO ending `Failed`,
//!   429 `RetryableErrorDueToAnotherOperation`, and a concurrent writer adding a rule right
//!   after the request is answered ([`FaultKind::ConcurrentRule`]).
// Each test binary uses a different part; Response-sized errors are how handlers bail out.
#![allow(dead_code, unused_imports, clippy::result_large_err)]

mod arm;
mod auth;
mod clock;
mod compute;
mod config;
mod defender;
mod errors;
mod faults;
mod graph;
mod server;
mod state;
mod throttle;
mod validate;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::Value;

pub use config::{Bucket, DeletePolling, EmulatorConfig, GraphConfig, ThrottleConfig};
pub use faults::{Fault, FaultKind, Trigger};
pub use state::Stats;

use faults::FaultSet;
use state::{Inner, Shared};

/// A running emulator; dropping it stops the server.
pub struct Emulator {
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Binds 127.0.0.1 on a free port and serves on a background thread with its own runtime.
    pub fn start(config: EmulatorConfig) -> Emulator {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("emulator: bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("emulator: set_nonblocking");
        let port = listener.local_addr().expect("emulator: local_addr").port();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(port);
        let clock = clock::Clock::new(config.time_scale);
        let graph_lag = config.graph.lag.as_secs_f64();
        let shared = Arc::new(Shared {
            clock,
            config,
            base_url: format!("http://127.0.0.1:{port}"),
            inner: Mutex::new(Inner::new(seed, clock, graph_lag)),
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let state = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("arm-emulator-{port}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("emulator: tokio runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("emulator: tokio listener");
                    let app = axum::Router::new()
                        .fallback(server::handle)
                        .with_state(state);
                    let service = app.into_make_service_with_connect_info::<server::Conn>();
                    let serve = axum::serve(server::KillableListener(listener), service);
                    tokio::select! {
                        _ = serve => {}
                        _ = rx => {}
                    }
                });
            })
            .expect("emulator: spawn thread");
        Emulator {
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The config it was started with.
    pub fn config(&self) -> &EmulatorConfig {
        &self.shared.config
    }

    /// Seeds (or replaces) an NSG in ARM raw shape; adds `W/"<uuid>"` etags to the NSG and to
    /// each rule that has none. Panics on a body without an NSG `id` (a broken test fixture).
    pub fn add_nsg(&self, nsg: Value) {
        if let Err(e) = self.try_add_nsg(nsg) {
            panic!("emulator: add_nsg: {e}");
        }
    }

    /// [`Emulator::add_nsg`] that reports a body without a well-formed NSG `id` as an error.
    pub fn try_add_nsg(&self, nsg: Value) -> Result<(), String> {
        self.shared.lock().add_nsg(nsg).map(|_| ())
    }

    /// Changes an NSG out of band (drift, another tool's rule) as a portal edit would: `edit`
    /// works on the raw JSON, then every rule that changed, and the NSG if anything changed,
    /// gets a fresh etag. Returns false when no NSG has that id.
    pub fn edit_nsg(&self, id: &str, edit: impl FnOnce(&mut Value)) -> bool {
        edit_nsg_in(&mut self.shared.lock(), id, edit)
    }

    /// The NSG's current state (id compared case-insensitively).
    pub fn nsg(&self, id: &str) -> Option<Value> {
        let mut inner = self.shared.lock();
        defender::expire(&mut inner, &self.shared.clock);
        inner.nsgs.get(&id.to_ascii_lowercase()).cloned()
    }

    /// Every NSG, ordered by lowercased id.
    pub fn nsgs(&self) -> Vec<Value> {
        self.shared.lock().nsgs.values().cloned().collect()
    }

    /// Replaces the fault list (counters restart). Panics on an invalid path regex.
    pub fn set_faults(&self, faults: Vec<Fault>) {
        match FaultSet::new(faults) {
            Ok(set) => self.shared.lock().faults = set,
            Err(e) => panic!("emulator: set_faults: {e}"),
        }
    }

    /// Long-running operations still in progress.
    pub fn pending_operations(&self) -> usize {
        let inner = self.shared.lock();
        inner
            .ops
            .values()
            .filter(|op| op.status == state::OpStatus::InProgress)
            .count()
    }

    /// Resource Graph answers `principal` (`static-0` for the first static token, else the
    /// client id a token was issued to) with 403 `AuthorizationFailed` from now on.
    pub fn deny_resource_graph(&self, principal: &str) {
        self.shared
            .lock()
            .graph
            .denied
            .insert(principal.to_string());
    }

    /// Seeds (or replaces) a virtual machine in ARM raw shape, served as seeded. Panics on a
    /// body whose `id` is not a VM's (a broken test fixture).
    pub fn add_vm(&self, vm: Value) {
        self.add_resource(vm, "add_vm");
    }

    /// Seeds (or replaces) a network interface, served as seeded.
    pub fn add_nic(&self, nic: Value) {
        self.add_resource(nic, "add_nic");
    }

    /// Seeds (or replaces) a subnet, served as seeded.
    pub fn add_subnet(&self, subnet: Value) {
        self.add_resource(subnet, "add_subnet");
    }

    fn add_resource(&self, body: Value, what: &str) {
        if let Err(e) = compute::add(&mut self.shared.lock(), body) {
            panic!("emulator: {what}: {e}");
        }
    }

    /// Seeds (or replaces) a JIT policy document as given; Defender's deny rules follow.
    /// Panics on a body without a jitNetworkAccessPolicies `id`.
    pub fn add_jit_policy(&self, policy: Value) {
        let mut inner = self.shared.lock();
        if let Err(e) = defender::add_policy(&mut inner, policy, &self.shared.clock) {
            panic!("emulator: add_jit_policy: {e}");
        }
    }

    /// The JIT policy's current document (id compared case-insensitively).
    pub fn jit_policy(&self, id: &str) -> Option<Value> {
        let mut inner = self.shared.lock();
        defender::expire(&mut inner, &self.shared.clock);
        inner
            .defender
            .policies
            .get(&id.to_ascii_lowercase())
            .cloned()
    }

    /// Changes a JIT policy out of band (a portal edit); false when no policy has that id.
    pub fn edit_jit_policy(&self, id: &str, edit: impl FnOnce(&mut Value)) -> bool {
        let mut inner = self.shared.lock();
        match inner.defender.policies.get_mut(&id.to_ascii_lowercase()) {
            Some(policy) => {
                edit(policy);
                true
            }
            None => false,
        }
    }

    /// Freezes Defender's wall clock at `at` (it moves only by `advance_wall_clock`).
    pub fn set_wall_clock(&self, at: jiff::Timestamp) {
        self.shared.lock().defender.clock = defender::WallClock::Frozen(at);
    }

    /// Defender's wall clock now.
    pub fn wall_clock(&self) -> jiff::Timestamp {
        self.shared.lock().defender.clock.now(&self.shared.clock)
    }

    /// Moves Defender's wall clock forward and closes what has expired by then.
    pub fn advance_wall_clock(&self, by: jiff::SignedDuration) {
        let mut inner = self.shared.lock();
        inner.defender.clock.advance(by);
        defender::expire(&mut inner, &self.shared.clock);
    }

    /// The `requestor` recorded on initiated requests.
    pub fn set_jit_requestor(&self, requestor: &str) {
        self.shared.lock().defender.requestor = requestor.to_string();
    }

    pub fn stats(&self) -> Stats {
        self.shared.lock().stats.clone()
    }

    pub fn reset_stats(&self) {
        self.shared.lock().stats = Stats::default();
    }
}

/// [`Emulator::edit_nsg`] on already locked state (also used by [`FaultKind::ConcurrentRule`]).
fn edit_nsg_in(inner: &mut Inner, id: &str, edit: impl FnOnce(&mut Value)) -> bool {
    let Some(before) = inner.nsgs.get(&id.to_ascii_lowercase()).cloned() else {
        return false;
    };
    let mut after = before.clone();
    edit(&mut after);
    if after != before {
        after["etag"] = Value::String(inner.rng.etag());
        if let Some(list) = after
            .pointer_mut("/properties/securityRules")
            .and_then(Value::as_array_mut)
        {
            for rule in list.iter_mut() {
                let name = rule.get("name").and_then(Value::as_str).unwrap_or_default();
                if state::find_rule(&before, name) != Some(&*rule) {
                    rule["etag"] = Value::String(inner.rng.etag());
                }
            }
        }
    }
    let key = id.to_ascii_lowercase();
    let changed = after != before;
    inner.nsgs.insert(key.clone(), after);
    if changed {
        inner.record_change(&key, Some(before));
    }
    true
}

/// Writes `rule` into the NSG that `path` (a request path under an NSG) names, replacing a rule
/// of the same name; false when the path names no stored NSG.
fn put_concurrent_rule(inner: &mut Inner, path: &str, rule: &Value) -> bool {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let Some(at) = segs
        .iter()
        .position(|s| s.eq_ignore_ascii_case("networkSecurityGroups"))
        .filter(|at| at + 1 < segs.len())
    else {
        return false;
    };
    let id = format!("/{}", segs[..at + 2].join("/"));
    let Some(name) = rule.get("name").and_then(Value::as_str).map(str::to_string) else {
        return false;
    };
    let mut rule = rule.clone();
    if rule.get("id").is_none() {
        rule["id"] = Value::String(format!("{id}/securityRules/{name}"));
    }
    edit_nsg_in(inner, &id, |nsg| {
        if nsg.pointer("/properties/securityRules").is_none() {
            nsg["properties"]["securityRules"] = Value::Array(Vec::new());
        }
        if let Some(list) = nsg
            .pointer_mut("/properties/securityRules")
            .and_then(Value::as_array_mut)
        {
            list.retain(|r| {
                !r.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.eq_ignore_ascii_case(&name))
            });
            list.push(rule);
        }
    })
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
