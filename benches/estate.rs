//! `cargo bench --bench estate`: an estate on the ARM emulator with ARM's token buckets and
//! Resource Graph's quota on (15 queries per 5 s) and 20 ms latency per call, under a scaled
//! clock (`JIT_BENCH_SCALE`, default 10: buckets refill, quota windows pass and every
//! Retry-After runs 10× faster; latency stays real).
//!
//! 1. Plan 10,000 NSGs of which 100 need a change, once in one subscription and once spread
//!    over 10 (one provider block each): discovery through Resource Graph, then a direct read
//!    of every NSG the discovered plan would change, and the plan from that read — as
//!    `ops::plan` does with a provider that can discover. Prints plan time, requests by kind,
//!    429s, and the bound one GET per NSG would impose (emulated and at this scale). Goal:
//!    under 15 s of real time in both.
//! 2. Apply 2,000 rule writes (1,000 NSGs, two lock-down rules each) in one subscription, with
//!    operations that finish in the `Retry-After` they announce, right after the plan as `jit
//!    apply` does (each NSG written from the plan's read). Goal: within 1.1× of the write
//!    bucket's bound, no failed action.
//!
//! Knobs (environment): `JIT_BENCH_NSGS` (10000), `JIT_BENCH_CHANGED` (100), `JIT_BENCH_SUBS`
//! (10), `JIT_BENCH_WRITE_NSGS` (1000), `JIT_BENCH_SCALE` (10), `JIT_BENCH_PARALLELISM` (50).

#[path = "../tests/emulator/mod.rs"]
mod emulator;

mod common;

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::{json, Value};

use common::{bucket_bound, knob, timed_apply};
use emulator::{Emulator, EmulatorConfig, Stats};
use jit::lang::{load, SourceFile};
use jit::live::{scope_key as nsg_key, Live};
use jit::model::AzureRead;
use jit::platform::nsg::Rule;
use jit::providers::azure::{auth, AzureOptions, AzureProvider, TokenProvider};
use jit::providers::{Outcome, Provider};

fn sub(s: usize) -> String {
    format!("00000000-0000-0000-0000-{s:012}")
}

fn nsg_id(subs: usize, i: usize) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/rg-estate/providers/Microsoft.Network/networkSecurityGroups/nsg-{i:05}",
        sub(i % subs)
    )
}

/// One provider per subscription; one target per NSG with `ports` lock-downs.
fn policy_text(n: usize, subs: usize, ports: &[(&str, u16)], endpoint: &str) -> String {
    let mut text = String::new();
    for s in 0..subs {
        let _ = write!(
            text,
            "provider \"azure\" \"s{s}\" {{\n  subscription_id = \"{}\"\n  endpoint = \"{endpoint}\"\n  read = \"resource_graph\"\n}}\n",
            sub(s)
        );
    }
    for i in 0..n {
        let _ = write!(
            text,
            "target \"vm-{i:05}\" {{\n  provider = \"azure.s{}\"\n  nsg_id = \"{}\"\n  destination = \"10.0.0.4\"\n",
            i % subs,
            nsg_id(subs, i)
        );
        for (name, number) in ports {
            let _ = writeln!(
                text,
                "  port \"{name}\" {{\n    number = {number}\n    protocol = \"tcp\"\n  }}"
            );
        }
        text.push_str("}\n");
    }
    text
}

fn foreign_rule() -> Value {
    json!({"name": "allow-https", "properties": {
        "protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "443",
        "sourceAddressPrefix": "*", "destinationAddressPrefix": "*", "access": "Allow",
        "priority": 300, "direction": "Inbound"}})
}

fn nsg_body(id: &str, rules: Vec<Value>) -> Value {
    json!({
        "name": jit::live::name_from_id(id), "id": id, "location": "westeurope",
        "type": "Microsoft.Network/networkSecurityGroups",
        "properties": {"securityRules": rules}
    })
}

struct Estate {
    emu: Emulator,
    policy: jit::model::Policy,
    providers: Vec<AzureProvider>,
    /// By provider index: the NSG ids it owns.
    ids: Vec<Vec<String>>,
}

fn tokens(emu: &Emulator) -> Arc<dyn TokenProvider> {
    let env: HashMap<&str, String> = HashMap::from([
        (
            "AZURE_TOKEN_CREDENTIALS",
            "EnvironmentCredential".to_string(),
        ),
        ("AZURE_TENANT_ID", "bench-tenant".into()),
        ("AZURE_CLIENT_ID", "bench-client".into()),
        ("AZURE_CLIENT_SECRET", emu.config().client_secret.clone()),
        ("AZURE_AUTHORITY_HOST", emu.base_url()),
    ]);
    Arc::new(auth::from_env(&reqwest::Client::new(), &|k| env.get(k).cloned()).unwrap())
}

/// Starts the emulator and seeds `n` NSGs over `subs` subscriptions; every NSG but `changed`
/// of them already holds the rules the policy wants.
fn estate(
    config: EmulatorConfig,
    n: usize,
    subs: usize,
    changed: usize,
    ports: &[(&str, u16)],
    parallelism: usize,
    now: Timestamp,
) -> Estate {
    let emu = Emulator::start(config);
    let files = [SourceFile {
        path: "estate.hcl".into(),
        text: policy_text(n, subs, ports, &emu.base_url()),
    }];
    let policy = load(&files).unwrap_or_else(|d| panic!("bench policy does not load: {d:?}"));
    // What the policy wants in each NSG: the plan against empty NSGs, offline.
    let desired = jit::plan::compile(&policy, now);
    let mut empty = Live::default();
    for i in 0..n {
        let id = nsg_id(subs, i);
        let name = jit::live::name_from_id(&id).to_string();
        empty.insert(jit::platform::nsg::scope(id, name, "seed".into(), vec![]));
    }
    let seed = jit::plan::diff(&policy, &desired, &empty, now);
    let mut wanted: HashMap<String, Vec<Value>> = HashMap::new();
    for change in &seed.resource_changes {
        if let Some(after) = &change.change.after {
            let rule = Rule::from_resource(after).expect("an NSG rule");
            wanted
                .entry(nsg_key(&change.scope))
                .or_default()
                .push(rule.to_arm());
        }
    }
    let every = n.checked_div(changed).unwrap_or(usize::MAX);
    for i in 0..n {
        let id = nsg_id(subs, i);
        let mut rules = vec![foreign_rule()];
        if i % every != 0 {
            rules.extend(wanted.remove(&nsg_key(&id)).unwrap_or_default());
        }
        emu.add_nsg(nsg_body(&id, rules));
    }
    let tokens = tokens(&emu);
    let providers: Vec<AzureProvider> = (0..subs)
        .map(|s| {
            AzureProvider::new(
                format!("azure.s{s}"),
                &sub(s),
                Some(&emu.base_url()),
                AzureOptions {
                    parallelism,
                    tokens: Some(tokens.clone()),
                    ..AzureOptions::default()
                },
            )
            .unwrap()
            .with_read(AzureRead::ResourceGraph)
        })
        .collect();
    let mut ids = vec![Vec::new(); subs];
    for i in 0..n {
        ids[i % subs].push(nsg_id(subs, i));
    }
    Estate {
        emu,
        policy,
        providers,
        ids,
    }
}

/// Requests by kind, and the 429s (each retried, so also counted in its kind).
fn requests_line(stats: &Stats) -> String {
    format!(
        "{} requests (Resource Graph pages {}, NSG GET {}, rule GET {}, status polls {}, PUT {}, \
         DELETE {}), 429s retried {} {:?}",
        stats.requests_total(),
        stats.graph_pages,
        stats.kind("nsg_read"),
        stats.kind("rule_read"),
        stats.kind("poll"),
        stats.kind("rule_write"),
        stats.kind("rule_delete"),
        stats.throttled_total(),
        stats.throttled,
    )
}

/// Seconds one GET per NSG costs at least: what exceeds the read bucket's burst, at its
/// refill rate (emulated), per subscription; subscriptions have their own buckets.
fn direct_read_bound(per_subscription: usize) -> f64 {
    (per_subscription as f64 - 250.0).max(0.0) / 25.0
}

/// Plans the estate as `ops::plan` does with providers that can discover: discovery, the
/// plan from it, an exact read of what it would change, the plan from that.
fn plan_case(n: usize, subs: usize, changed: usize, scale: f64, parallelism: usize) -> bool {
    let now = Timestamp::now();
    let config = EmulatorConfig {
        time_scale: scale,
        latency: Duration::from_millis(20),
        lro_auto_complete: None,
        ..EmulatorConfig::default()
    };
    let e = estate(config, n, subs, changed, &[("ssh", 22)], parallelism, now);
    e.emu.reset_stats();
    let start = Instant::now();
    let desired = jit::plan::compile(&e.policy, now);
    let mut live = Live::default();
    for (p, provider) in e.providers.iter().enumerate() {
        let part = provider
            .discover_nsgs(&e.ids[p])
            .expect("discovery")
            .expect("Resource Graph is on");
        live.merge(part);
    }
    let discovered_wall = start.elapsed();
    let rough = jit::plan::diff(&e.policy, &desired, &live, now);
    let touched: BTreeSet<String> = rough
        .resource_changes
        .iter()
        .map(|c| nsg_key(&c.scope))
        .collect();
    for (p, provider) in e.providers.iter().enumerate() {
        let exact: Vec<String> = e.ids[p]
            .iter()
            .filter(|id| touched.contains(&nsg_key(id)))
            .cloned()
            .collect();
        if !exact.is_empty() {
            let part = provider.read(&exact).expect("exact read");
            live.merge(part);
        }
    }
    let plan = jit::plan::diff(&e.policy, &desired, &live, now);
    let wall = start.elapsed();
    let stats = e.emu.stats();
    let (add, change, destroy) = plan.counts();
    let bound = direct_read_bound(n.div_ceil(subs));
    println!(
        "plan, {n} NSGs in {subs} subscription{}: {:.2} s wall ({:.2} s discovery), {}",
        if subs == 1 { "" } else { "s" },
        wall.as_secs_f64(),
        discovered_wall.as_secs_f64(),
        requests_line(&stats)
    );
    println!(
        "  plan: {add} to add, {change} to change, {destroy} to destroy, {} NSGs read directly, {} errors; \
         one GET per NSG would take at least {bound:.0} s (emulated), {:.1} s at this scale",
        touched.len(),
        plan.errors.len(),
        bound / scale
    );
    let ok = wall < Duration::from_secs(15)
        && touched.len() == changed
        && add == changed
        && plan.errors.is_empty()
        // A throttled GET took no token and was sent again: count the answered ones.
        && stats.kind("nsg_read") - stats.throttled_by("reads") == changed as u64;
    if !ok {
        println!("  plan goal NOT met (under 15 s, only the {changed} changed NSGs read directly)");
    }
    ok
}

/// Applies 2,000 rule writes and compares with the write bucket's bound.
fn apply_case(nsgs: usize, scale: f64, parallelism: usize) -> bool {
    let now = Timestamp::now();
    let config = EmulatorConfig {
        time_scale: scale,
        latency: Duration::from_millis(20),
        lro_auto_complete: None,
        lro_duration: Some(Duration::from_secs(1)),
        ..EmulatorConfig::default()
    };
    let throttle = config.throttle;
    let e = estate(
        config,
        nsgs,
        1,
        nsgs,
        &[("ssh", 22), ("rdp", 3389)],
        parallelism,
        now,
    );
    let provider = &e.providers[0];
    let desired = jit::plan::compile(&e.policy, now);
    let read_at = Some(Timestamp::now());
    let live = provider.read(&e.ids[0]).expect("read");
    let plan = jit::plan::diff(&e.policy, &desired, &live, now);
    let refill =
        Duration::from_secs_f64(throttle.reads.capacity / throttle.reads.per_second / scale + 0.2);
    let run = timed_apply(provider, &plan, read_at, refill, &e.emu);
    let (wall, stats) = (run.wall, &run.stats);
    let writes = stats.requests_by("PUT") - stats.throttled_by("writes");
    let write_bound = bucket_bound(
        writes,
        throttle.writes.capacity,
        throttle.writes.per_second,
        scale,
    );
    let reads = stats.requests_by("GET") - stats.throttled_by("reads");
    let read_bound = bucket_bound(
        reads,
        throttle.reads.capacity,
        throttle.reads.per_second,
        scale,
    );
    let ratio = wall.as_secs_f64() / write_bound.max(f64::MIN_POSITIVE);
    println!(
        "apply, {} rule writes over {nsgs} NSGs: {:.2} s wall, write bound {write_bound:.2} s at this scale ({:.0} s emulated), \
         ratio {ratio:.2}; reads' own bound {read_bound:.2} s; {}",
        plan.resource_changes.len(),
        wall.as_secs_f64(),
        write_bound * scale,
        requests_line(stats)
    );
    let failed = run.count(|o| !matches!(o, Outcome::Applied));
    println!(
        "  apply: {} applied, {} failed, {} stale, {} skipped",
        run.count(|o| matches!(o, Outcome::Applied)),
        run.count(|o| matches!(o, Outcome::Failed { .. })),
        run.count(|o| matches!(o, Outcome::Stale(_))),
        run.count(|o| matches!(o, Outcome::Skipped(_)))
    );
    let ok = ratio <= 1.1 && failed == 0;
    if !ok {
        println!("  apply goal NOT met (within 1.1x of the write bound, 0 failed)");
    }
    ok
}

fn main() -> ExitCode {
    let n = knob("JIT_BENCH_NSGS", 10_000.0) as usize;
    let changed = knob("JIT_BENCH_CHANGED", 100.0) as usize;
    let subs = knob("JIT_BENCH_SUBS", 10.0) as usize;
    let write_nsgs = knob("JIT_BENCH_WRITE_NSGS", 1000.0) as usize;
    let scale = knob("JIT_BENCH_SCALE", 10.0);
    let parallelism = knob("JIT_BENCH_PARALLELISM", 50.0) as usize;
    println!(
        "latency 20 ms; ARM buckets (reads 250 + 25/s, writes 200 + 10/s) and Resource Graph's \
         quota (15 per 5 s) on; time scale {scale}; parallelism {parallelism}"
    );
    let mut ok = plan_case(n, 1, changed, scale, parallelism);
    ok &= plan_case(n, subs, changed, scale, parallelism);
    ok &= apply_case(write_nsgs, scale, parallelism);
    if ok {
        println!("goals met");
        ExitCode::SUCCESS
    } else {
        println!("goals NOT met");
        ExitCode::FAILURE
    }
}
