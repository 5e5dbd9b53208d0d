//! `cargo bench --bench azure`: plan and apply over 1,000 NSGs in one subscription on the ARM
//! emulator, with 20 ms latency per call and ARM's token buckets on (reads 250 + 25/s, writes
//! 200 + 10/s), under a scaled clock. Prints requests sent, 429s received, wall time, and the
//! lower bound the buckets impose at that scale. The apply is `jit apply`'s: right after the
//! plan, in the same process, so each NSG is written from the plan's read (no GET before
//! writing; see `providers::azure::write`). Goal: the apply within 1.1× of the write bucket's
//! bound, no failed action; the plan exactly one answered GET per NSG (429s are retried, and
//! counted and reported apart, not as extra reads).
//!
//! Knobs (environment): `JIT_BENCH_NSGS` (1000), `JIT_BENCH_SCALE` (10: buckets refill and
//! every Retry-After runs 10× faster; latency stays real), `JIT_BENCH_PARALLELISM` (50).

#[path = "../tests/emulator/mod.rs"]
mod emulator;

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::json;

use common::{bucket_bound, knob, timed_apply};
use emulator::{Emulator, EmulatorConfig, Stats};
use jit::lang::{load, SourceFile};
use jit::providers::azure::{auth, AzureOptions, AzureProvider};
use jit::providers::{Outcome, Provider};

const SUB: &str = "00000000-0000-0000-0000-00000000beef";

fn nsg_id(i: usize) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg-bench/providers/Microsoft.Network/networkSecurityGroups/nsg-{i:04}")
}

fn policy(n: usize, endpoint: &str) -> String {
    let mut text = format!(
        "provider \"azure\" \"bench\" {{\n  subscription_id = \"{SUB}\"\n  endpoint = \"{endpoint}\"\n}}\n"
    );
    for i in 0..n {
        let _ = write!(
            text,
            r#"
target "vm-{i:04}" {{
  provider    = "azure.bench"
  nsg_id      = "{id}"
  destination = "10.0.0.4"
  port "ssh" {{
    number       = 22
    protocol     = "tcp"
    max_duration = "3h"
  }}
  port "rdp" {{
    number       = 3389
    protocol     = "tcp"
    max_duration = "3h"
  }}
}}
"#,
            id = nsg_id(i)
        );
    }
    text
}

/// Requests of `method` the buckets let through (a throttled request took no token).
fn accepted(stats: &Stats, method: &str, bucket: &str) -> u64 {
    stats.requests_by(method) - stats.throttled_by(bucket)
}

/// Prints the phase's requests by kind and its 429s (each retried, so also in the kinds'
/// counts); true when within `goal` of `bound`.
fn report(phase: &str, wall: Duration, stats: &Stats, bound: f64, goal: f64) -> bool {
    let ratio = if bound > 0.0 {
        wall.as_secs_f64() / bound
    } else {
        0.0
    };
    println!(
        "{phase}: {:.2} s wall, {} requests (NSG GET {}, rule GET {}, status polls {}, PUT {}, \
         DELETE {}), 429s retried {} {:?}, bucket bound {:.2} s, ratio {:.2}",
        wall.as_secs_f64(),
        stats.requests_total(),
        stats.kind("nsg_read"),
        stats.kind("rule_read"),
        stats.kind("poll"),
        stats.kind("rule_write"),
        stats.kind("rule_delete"),
        stats.throttled_total(),
        stats.throttled,
        bound,
        ratio,
    );
    bound == 0.0 || ratio <= goal
}

fn main() -> ExitCode {
    let n = knob("JIT_BENCH_NSGS", 1000.0) as usize;
    let scale = knob("JIT_BENCH_SCALE", 10.0);
    let parallelism = knob("JIT_BENCH_PARALLELISM", 50.0) as usize;
    let config = EmulatorConfig {
        time_scale: scale,
        latency: Duration::from_millis(20),
        lro_auto_complete: None,
        ..EmulatorConfig::default()
    };
    let throttle = config.throttle;
    let emu = Emulator::start(config);
    for i in 0..n {
        emu.add_nsg(json!({
            "name": format!("nsg-{i:04}"), "id": nsg_id(i), "location": "westeurope",
            "type": "Microsoft.Network/networkSecurityGroups",
            "properties": {"securityRules": [{"name": "allow-https", "properties": {
                "protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "443",
                "sourceAddressPrefix": "*", "destinationAddressPrefix": "*", "access": "Allow",
                "priority": 300, "direction": "Inbound"}}]}
        }));
    }
    println!(
        "{n} NSGs, 2 lock-down rules each; latency 20 ms; time scale {scale}; parallelism {parallelism}"
    );

    let files = [SourceFile {
        path: "bench.hcl".into(),
        text: policy(n, &emu.base_url()),
    }];
    let policy = match load(&files) {
        Ok(p) => p,
        Err(diags) => {
            eprintln!("bench policy does not load: {diags:?}");
            return ExitCode::FAILURE;
        }
    };
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
    let tokens = auth::from_env(&reqwest::Client::new(), &|k| env.get(k).cloned()).unwrap();
    let provider = AzureProvider::new(
        "azure.bench".into(),
        SUB,
        Some(&emu.base_url()),
        AzureOptions {
            parallelism,
            tokens: Some(Arc::new(tokens)),
            ..AzureOptions::default()
        },
    )
    .unwrap();

    // Plan: one GET per NSG, no writes.
    let now = Timestamp::now();
    let ids: Vec<String> = (0..n).map(nsg_id).collect();
    emu.reset_stats();
    let start = Instant::now();
    let desired = jit::plan::compile(&policy, now);
    let live = provider.read(&ids).expect("plan read");
    let plan = jit::plan::diff(&policy, &desired, &live, now);
    let plan_wall = start.elapsed();
    let stats = emu.stats();
    // Only NSG GETs in this phase: a throttled one took no token and was sent again.
    let arm_gets = stats.kind("nsg_read") - stats.throttled_by("reads");
    let plan_bound = bucket_bound(
        accepted(&stats, "GET", "reads"),
        throttle.reads.capacity,
        throttle.reads.per_second,
        scale,
    );
    let mut ok = report("plan ", plan_wall, &stats, plan_bound, 1.3);
    let (add, change, destroy) = plan.counts();
    println!(
        "plan : {add} to add, {change} to change, {destroy} to destroy; {arm_gets} NSG GETs \
         answered, {} throttled and retried",
        stats.throttled_by("reads")
    );
    ok &= arm_gets == n as u64 && stats.requests_by("PUT") == 0 && add == 2 * n;
    if arm_gets != n as u64 {
        println!("plan : expected exactly {n} answered GETs");
    }
    let read_at = Some(now);

    let refill =
        Duration::from_secs_f64(throttle.reads.capacity / throttle.reads.per_second / scale + 0.2);
    let run = timed_apply(&provider, &plan, read_at, refill, &emu);
    let (apply_wall, stats) = (run.wall, &run.stats);
    let applied = run.count(|o| matches!(o, Outcome::Applied));
    let writes = bucket_bound(
        accepted(stats, "PUT", "writes"),
        throttle.writes.capacity,
        throttle.writes.per_second,
        scale,
    );
    let reads = bucket_bound(
        accepted(stats, "GET", "reads"),
        throttle.reads.capacity,
        throttle.reads.per_second,
        scale,
    );
    println!("apply: bounds at this scale: writes {writes:.2} s, reads {reads:.2} s (LRO polls)");
    ok &= report("apply", apply_wall, stats, writes.max(reads), 1.1);
    // Written from the plan's read, and no write re-read to confirm it.
    let unneeded = stats.kind("nsg_read") + stats.kind("rule_read");
    if unneeded > 0 {
        println!("apply: {unneeded} GETs of NSGs or rules that the result does not need");
        ok = false;
    }
    println!(
        "apply: {applied} applied, {} failed, {} stale or skipped",
        run.count(|o| matches!(o, Outcome::Failed { .. })),
        run.count(|o| matches!(o, Outcome::Stale(_) | Outcome::Skipped(_)))
    );
    ok &= applied == plan.resource_changes.len();
    if ok {
        println!("goal met: apply within 1.1x of the bucket bound, no failed action");
        ExitCode::SUCCESS
    } else {
        println!("goal NOT met");
        ExitCode::FAILURE
    }
}
