//! How long `lang::load` takes on a large estate, and how much memory it needs: 10,000 targets
//! with 2 ports each and 50,000 requests (one file per request, as a request repo has them),
//! generated as text in memory. Prints seconds and the process's peak RSS (VmHWM).
//!
//! Run: `cargo bench --bench validate`. Goal: under 2 s and under 500 MB. Wall time depends on
//! what else the machine runs; CPU time (all threads) is printed too.

use std::fmt::Write;
use std::time::Instant;

use jit::lang::{load, SourceFile};

const TARGETS: usize = 10_000;
const REQUESTS: usize = 50_000;
const TARGETS_PER_FILE: usize = 100;

fn policy_files() -> Vec<SourceFile> {
    let mut files = vec![SourceFile {
        path: "policy.hcl".to_string(),
        text: r#"settings {
  rule_prefix           = "jit"
  allow_priority        = [100, 1999]
  deny_priority         = [2000, 4095]
  approvals_required    = 1
  justification_pattern = "^(INC|CHG)-[0-9]+"
}

provider "azure" "prod" {
  subscription_id = "00000000-0000-0000-0000-000000000000"
}
"#
        .to_string(),
    }];
    for chunk in 0..TARGETS / TARGETS_PER_FILE {
        let mut text = String::new();
        for i in chunk * TARGETS_PER_FILE..(chunk + 1) * TARGETS_PER_FILE {
            write!(
                text,
                r#"# Machine {i}.
target "vm-{i}" {{
  provider    = "azure.prod"
  nsg_id      = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-{g}/providers/Microsoft.Network/networkSecurityGroups/vm-{i}-nsg"
  destination = "10.{a}.{b}.4"

  port "ssh" {{
    number          = 22
    protocol        = "tcp"
    allowed_sources = ["198.51.100.0/24", "2001:db8::/48"]
    max_duration    = "3h"
  }}

  port "rdp" {{
    number          = 3389
    allowed_sources = ["198.51.100.0/24"]
    max_duration    = "PT90M"
  }}
}}

"#,
                g = i / 100,
                a = i / 256 % 256,
                b = i % 256,
            )
            .unwrap();
        }
        files.push(SourceFile {
            path: format!("targets/{chunk:03}.hcl"),
            text,
        });
    }
    files
}

fn request_files() -> Vec<SourceFile> {
    (0..REQUESTS)
        .map(|i| SourceFile {
            path: format!("requests/INC-{i:05}.hcl"),
            text: format!(
                r#"request "INC-{i:05}-user{u}" {{
  target        = "vm-{t}"
  ports         = ["ssh", 3389]
  source        = "198.51.100.{h}/32"
  requester     = "user{u}@example.com"
  approvers     = ["lead{l}@example.com"]
  justification = "INC-{i} investigate alert"
  start         = "2026-11-25T{hh:02}:00:00Z"
  duration      = "{m}m"
}}
"#,
                t = i % TARGETS,
                u = i % 997,
                l = i % 13,
                h = i % 250,
                hh = i % 24,
                m = 5 + i % 85,
            ),
        })
        .collect()
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU time of this process so far (user + system, all threads), from /proc/self/stat, in
/// clock ticks of 1/100 s (the Linux default of `CLK_TCK`).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields = rest.split_whitespace().collect::<Vec<_>>();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn main() {
    let mut files = policy_files();
    files.extend(request_files());
    let bytes: usize = files.iter().map(|f| f.text.len()).sum();
    println!(
        "config: {} files, {:.1} MB, {TARGETS} targets, {REQUESTS} requests",
        files.len(),
        bytes as f64 / 1e6
    );
    let rss_before = peak_rss_mb().unwrap_or(0.0);
    let cpu_before = cpu_seconds().unwrap_or(f64::NAN);
    let started = Instant::now();
    let policy = match load(&files) {
        Ok(policy) => policy,
        Err(diagnostics) => {
            for d in diagnostics.iter().take(5) {
                eprintln!(
                    "{}:{}:{}: {} {}",
                    d.file, d.line, d.column, d.code, d.message
                );
            }
            panic!(
                "the generated config is invalid: {} errors",
                diagnostics.len()
            );
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds().unwrap_or(f64::NAN) - cpu_before;
    assert_eq!(policy.targets.len(), TARGETS);
    assert_eq!(policy.grants.len(), REQUESTS);
    println!(
        "lang::load: {seconds:.3} s wall, {cpu:.2} s CPU on {} threads available",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "peak RSS: {:.0} MB (text alone: {:.0} MB before loading)",
        peak_rss_mb().unwrap_or(f64::NAN),
        rss_before
    );
}
