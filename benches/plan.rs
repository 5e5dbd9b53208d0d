//! Plan at scale: 10,000 NSGs with 20 foreign rules each, a policy of 10,000 targets and
//! 5,000 active grants, all generated in a temporary directory. Times the whole plan (load the
//! config → read the snapshot → compile → diff → render JSON) and reports peak memory.
//!
//!     cargo bench --bench plan
//!
//! Goal: under 3 s and under 1 GB of peak RSS.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use jiff::Timestamp;

const NSGS: usize = 10_000;
const FOREIGN_RULES: usize = 20;
const GRANTS: usize = 5_000;
const AT: &str = "2026-11-25T15:00:00Z";

fn nsg_id(i: usize) -> String {
    format!(
        "/subscriptions/00000000-0000-0000-0000-{:012}/resourceGroups/rg-{}/providers/Microsoft.Network/networkSecurityGroups/nsg-{i}",
        i / 1000,
        i / 100
    )
}

/// Streams the snapshot as compact ARM-shaped JSON, so generating it costs little memory and
/// the peak RSS measured is the plan's.
fn write_snapshot(path: &Path) {
    let mut out = BufWriter::new(fs::File::create(path).unwrap());
    out.write_all(b"{\"value\":[").unwrap();
    for i in 0..NSGS {
        let id = nsg_id(i);
        let rules: Vec<String> = (0..FOREIGN_RULES)
            .map(|r| {
                format!(
                    "{{\"name\":\"app-rule-{r}\",\"id\":\"{id}/securityRules/app-rule-{r}\",\
                     \"etag\":\"W/\\\"00000000-0000-0000-0000-000000000000\\\"\",\
                     \"type\":\"Microsoft.Network/networkSecurityGroups/securityRules\",\
                     \"properties\":{{\"provisioningState\":\"Succeeded\",\
                     \"description\":\"application rule {r}\",\"protocol\":\"Tcp\",\
                     \"sourcePortRange\":\"*\",\"destinationPortRange\":\"{}\",\
                     \"sourceAddressPrefix\":\"10.0.0.0/8\",\"destinationAddressPrefix\":\"*\",\
                     \"access\":\"Allow\",\"priority\":{},\"direction\":\"Inbound\",\
                     \"sourcePortRanges\":[],\"destinationPortRanges\":[],\
                     \"sourceAddressPrefixes\":[],\"destinationAddressPrefixes\":[]}}}}",
                    8000 + r,
                    1000 + r
                )
            })
            .collect();
        if i > 0 {
            out.write_all(b",").unwrap();
        }
        write!(
            out,
            "{{\"name\":\"nsg-{i}\",\"id\":\"{id}\",\
             \"etag\":\"W/\\\"{i:08}-0000-0000-0000-000000000000\\\"\",\
             \"type\":\"Microsoft.Network/networkSecurityGroups\",\"location\":\"westeurope\",\
             \"properties\":{{\"provisioningState\":\"Succeeded\",\"securityRules\":[{}]}}}}",
            rules.join(",")
        )
        .unwrap();
    }
    out.write_all(b"]}\n").unwrap();
    out.flush().unwrap();
}

fn write_policy(dir: &Path) {
    let mut text = String::from(
        "settings {\n  rule_prefix = \"jit\"\n  approvals_required = 1\n}\n\n\
         provider \"snapshot\" \"estate\" {\n  path = \"live/nsgs.json\"\n}\n\n",
    );
    for i in 0..NSGS {
        let _ = write!(
            text,
            "target \"vm-{i}\" {{\n  provider    = \"snapshot.estate\"\n  nsg_id      = \"{}\"\n  \
             destination = \"10.{}.{}.4\"\n\n  port \"ssh\" {{\n    number          = 22\n    \
             protocol        = \"tcp\"\n    allowed_sources = [\"198.51.100.0/24\"]\n    \
             max_duration    = \"3h\"\n  }}\n}}\n\n",
            nsg_id(i),
            i / 256 % 256,
            i % 256
        );
    }
    fs::write(dir.join("policy.hcl"), text).unwrap();
    let mut requests = String::new();
    for g in 0..GRANTS {
        let _ = write!(
            requests,
            "request \"INC-{g}-ops\" {{\n  target        = \"vm-{}\"\n  ports         = [\"ssh\"]\n  \
             source        = \"198.51.100.{}/32\"\n  requester     = \"user{g}@example.com\"\n  \
             approvers     = [\"lead@example.com\"]\n  justification = \"INC-{g} maintenance\"\n  \
             start         = \"2026-11-25T14:00:00Z\"\n  duration      = \"2h\"\n}}\n\n",
            g * 2,
            g % 250 + 1
        );
    }
    fs::create_dir_all(dir.join("requests")).unwrap();
    fs::write(dir.join("requests/all.hcl"), requests).unwrap();
}

fn peak_rss_mib() -> Option<f64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent; keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("plan bench: run with `cargo bench --bench plan`");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("live")).unwrap();
    let generated = Instant::now();
    write_snapshot(&dir.path().join("live/nsgs.json"));
    write_policy(dir.path());
    let snapshot_mib = fs::metadata(dir.path().join("live/nsgs.json"))
        .unwrap()
        .len() as f64
        / (1024.0 * 1024.0);
    println!(
        "generated {NSGS} NSGs × {FOREIGN_RULES} foreign rules ({snapshot_mib:.0} MiB), \
         {NSGS} targets, {GRANTS} grants in {:.2} s",
        generated.elapsed().as_secs_f64()
    );
    let rss_before = peak_rss_mib().unwrap_or(0.0);

    let at: Timestamp = AT.parse().unwrap();
    let start = Instant::now();
    let config = jit::ops::config::load(dir.path()).expect("generated policy is valid");
    let policy = &config.policy;
    let loaded = start.elapsed();
    let opts = jit::ops::plan::PlanOptions {
        at,
        targets: vec![],
    };
    let open = jit::providers::OpenOptions {
        config_dir: dir.path().to_path_buf(),
        parallelism: 10,
        ..Default::default()
    };
    let plan = jit::ops::plan::plan(&config, &opts, &open).expect("plan succeeds");
    let planned = start.elapsed();
    let json = jit::ops::planfile::to_json(&plan);
    let total = start.elapsed();
    let peak_after_plan = peak_rss_mib();

    // The same work again, step by step, to show where the time goes.
    let step = Instant::now();
    let desired = jit::plan::compile(policy, at);
    let compiled = step.elapsed();
    let ids: Vec<String> = desired.scopes().into_iter().map(|(_, id)| id).collect();
    let provider = jit::providers::open(&policy.providers[0], &open).unwrap();
    let step = Instant::now();
    let live = provider.read(&ids).unwrap();
    let read = step.elapsed();
    let step = Instant::now();
    let mut again = jit::plan::diff(policy, &desired, &live, at);
    again.config_digest = plan.config_digest.clone();
    let diffed = step.elapsed();
    assert_eq!(again, plan, "plans are deterministic");
    println!(
        "steps: read snapshot {:.2} s, compile {:.2} s, diff {:.2} s",
        read.as_secs_f64(),
        compiled.as_secs_f64(),
        diffed.as_secs_f64()
    );
    drop((desired, live, again));

    let (add, change, destroy) = plan.counts();
    assert_eq!(
        add,
        NSGS + GRANTS,
        "one deny per target, one allow per grant"
    );
    assert_eq!((change, destroy), (0, 0));
    println!(
        "plan: {add} to add, {} findings, {:.1} MiB of JSON",
        plan.findings.len(),
        json.len() as f64 / (1024.0 * 1024.0)
    );
    println!(
        "time: load {:.2} s, read + compile + diff {:.2} s, render JSON {:.2} s, total {:.2} s",
        loaded.as_secs_f64(),
        (planned - loaded).as_secs_f64(),
        (total - planned).as_secs_f64(),
        total.as_secs_f64()
    );
    match peak_after_plan {
        Some(peak) => println!(
            "peak RSS (VmHWM): {peak:.0} MiB (after generating the inputs: {rss_before:.0} MiB)"
        ),
        None => println!("peak RSS: /proc/self/status not available"),
    }
}
