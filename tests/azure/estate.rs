//! An estate through the real `jit` binary, planned through Resource Graph: a cron over an
//! estate needing no change reads nothing but Resource Graph pages; the plan right after jit's
//! own apply is still right while Resource Graph lags; a principal Resource Graph refuses falls
//! back to direct reads, said once; `--subscription` shards ask Resource Graph only for their
//! own subscriptions.

use std::time::Duration;

use serde_json::json;

use crate::cli::setup_with;
use crate::common::*;
use crate::emulator::{Emulator, EmulatorConfig, GraphConfig};

/// NSGs per subscription: past `read = "auto"`'s threshold (48).
const PER_SUB: usize = 60;

fn id(sub: &str, i: usize) -> String {
    format!("/subscriptions/{sub}/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/nsg-{i:03}")
}

fn policy(endpoint: &str, subs: &[&str]) -> String {
    let mut text = String::new();
    for sub in subs {
        text.push_str(&format!(
            "provider \"azure\" \"{sub}\" {{\n  subscription_id = \"{sub}\"\n  endpoint = \"{endpoint}\"\n}}\n"
        ));
        for i in 0..PER_SUB {
            text.push_str(&format!(
                "target \"{sub}-vm-{i:03}\" {{\n  provider = \"azure.{sub}\"\n  nsg_id = \"{}\"\n  destination = \"10.0.1.4\"\n  port \"ssh\" {{ number = 22 }}\n}}\n",
                id(sub, i)
            ));
        }
    }
    text
}

fn estate(config: EmulatorConfig, subs: &[&str]) -> Emulator {
    let emu = Emulator::start(config);
    for sub in subs {
        for i in 0..PER_SUB {
            let mut body = nsg_body(&format!("nsg-{i:03}"), foreign_rules("x"));
            body["id"] = json!(id(sub, i));
            emu.add_nsg(body);
        }
    }
    emu
}

#[test]
fn a_cron_over_an_estate_needing_no_change_reads_only_resource_graph_pages() {
    let subs = ["sub-a", "sub-b"];
    let emu = estate(EmulatorConfig::fast(), &subs);
    let s = setup_with(&emu, &[("policy.hcl", &policy(&emu.base_url(), &subs))]);
    s.jit(&["apply", "--auto-approve"])
        .run()
        .code(0)
        .stdout_has("120 added");
    emu.reset_stats();
    s.jit(&["plan", "--detailed-exitcode"])
        .run()
        .code(0)
        .stdout_has("No changes.");
    let stats = emu.stats();
    assert_eq!(stats.requests_by("GET"), 0, "no direct read: {stats:?}");
    assert_eq!(stats.requests_by("PUT") + stats.requests_by("DELETE"), 0);
    assert_eq!(
        stats.graph_pages, 1,
        "one query for both subscriptions' 120 NSGs"
    );
    // Drift in one NSG: only that one is read from ARM, and the plan is made from that read.
    let drifted = id("sub-b", 7);
    emu.edit_nsg(&drifted, |nsg| {
        for rule in nsg["properties"]["securityRules"].as_array_mut().unwrap() {
            if rule["name"].as_str().unwrap().starts_with("jit-deny-sub-b") {
                rule["properties"]["destinationPortRange"] = json!("2222");
            }
        }
    });
    emu.reset_stats();
    s.jit(&["plan", "--detailed-exitcode"])
        .run()
        .code(2)
        .stdout_has("Plan: 0 to add, 1 to change, 0 to destroy.");
    assert_eq!(emu.stats().requests_by("GET"), 1);
}

#[test]
fn the_plan_right_after_jits_own_apply_is_right_while_resource_graph_lags() {
    // Resource Graph shows nothing written in the last 600 s of real time.
    let emu = estate(
        EmulatorConfig {
            graph: GraphConfig {
                lag: Duration::from_secs(600_000),
                ..GraphConfig::default()
            },
            ..EmulatorConfig::fast()
        },
        &["sub-a"],
    );
    let s = setup_with(
        &emu,
        &[("policy.hcl", &policy(&emu.base_url(), &["sub-a"]))],
    );
    s.jit(&["apply", "--auto-approve"])
        .run()
        .code(0)
        .stdout_has("60 added");
    emu.reset_stats();
    // Resource Graph still shows the NSGs without their lock-downs; ARM says they are there.
    s.jit(&["plan", "--detailed-exitcode"])
        .run()
        .code(0)
        .stdout_has("No changes.");
    let stats = emu.stats();
    assert_eq!(stats.graph_pages, 1);
    assert_eq!(
        stats.requests_by("GET"),
        PER_SUB as u64,
        "what the lagging index said would change was read from ARM"
    );
    // And a second apply writes nothing.
    emu.reset_stats();
    s.jit(&["apply", "--auto-approve"]).run().code(0);
    assert_eq!(emu.stats().requests_by("PUT"), 0);
}

#[test]
fn a_principal_without_resource_graph_falls_back_to_direct_reads_said_once() {
    let emu = estate(EmulatorConfig::fast(), &["sub-a"]);
    emu.deny_resource_graph("static-0");
    let s = setup_with(
        &emu,
        &[("policy.hcl", &policy(&emu.base_url(), &["sub-a"]))],
    );
    let run = s
        .jit(&["plan", "--detailed-exitcode"])
        .run()
        .code(2)
        .stdout_has("Plan: 60 to add, 0 to change, 0 to destroy.")
        .stderr_has("Resource Graph refused the principal");
    assert_eq!(
        run.stderr.matches("Resource Graph").count(),
        1,
        "said once: {}",
        run.stderr
    );
    let stats = emu.stats();
    assert_eq!(stats.graph_denied, 1);
    assert_eq!(stats.requests_by("GET"), PER_SUB as u64);
}

#[test]
fn read_direct_never_asks_resource_graph() {
    let emu = estate(EmulatorConfig::fast(), &["sub-a"]);
    let text = policy(&emu.base_url(), &["sub-a"]).replace(
        "subscription_id = \"sub-a\"",
        "subscription_id = \"sub-a\"\n  read = \"direct\"",
    );
    let s = setup_with(&emu, &[("policy.hcl", &text)]);
    s.jit(&["plan"]).run().code(0);
    let stats = emu.stats();
    assert_eq!(stats.graph_queries, 0);
    assert_eq!(stats.requests_by("GET"), PER_SUB as u64);
}

#[test]
fn a_shard_asks_resource_graph_for_its_own_subscription_only() {
    let subs = ["sub-a", "sub-b"];
    let emu = estate(EmulatorConfig::fast(), &subs);
    let s = setup_with(&emu, &[("policy.hcl", &policy(&emu.base_url(), &subs))]);
    let saved = s.path().join("b.json");
    let saved = saved.to_str().unwrap();
    s.jit(&["plan", "--subscription", "sub-b", "--out", saved])
        .run()
        .code(0)
        .stdout_has("Plan: 60 to add, 0 to change, 0 to destroy.");
    let stats = emu.stats();
    assert_eq!(
        stats.graph_subscriptions.iter().collect::<Vec<_>>(),
        ["sub-b"]
    );
    // The saved shard applies with the same flag; without it the plan is stale.
    s.jit(&["apply", saved])
        .run()
        .code(1)
        .stderr_has("stale plan");
    s.jit(&["apply", saved, "--subscription", "sub-b"])
        .run()
        .code(0)
        .stdout_has("60 added");
    let managed = |sub: &str| {
        (0..PER_SUB)
            .filter(|i| {
                emu.nsg(&id(sub, *i)).unwrap()["properties"]["securityRules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["name"].as_str().unwrap().starts_with("jit-deny-sub"))
            })
            .count()
    };
    assert_eq!((managed("sub-a"), managed("sub-b")), (0, PER_SUB));
}

/// [`policy`] with NSG 5 of `sub-a` allowing ssh from a range, and a grant there active now.
fn policy_with_grant(endpoint: &str, subs: &[&str]) -> String {
    let port = |body: &str| {
        format!(
            "nsg_id = \"{}\"\n  destination = \"10.0.1.4\"\n  port \"ssh\" {body}",
            id("sub-a", 5)
        )
    };
    let text = policy(endpoint, subs);
    let plain = port("{ number = 22 }");
    assert!(text.contains(&plain));
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(10);
    text.replace(
        &plain,
        &port("{\n    number          = 22\n    allowed_sources = [\"198.51.100.0/24\"]\n  }"),
    ) + &format!(
        r#"
request "INC-7-alice" {{
  target        = "sub-a-vm-005"
  ports         = ["ssh"]
  source        = "198.51.100.7/32"
  requester     = "alice@example.com"
  approvers     = ["bob@example.com"]
  justification = "INC-7 investigate"
  start         = "{start}"
  duration      = "2h"
}}
"#
    )
}

/// The grants `jit status --json` lists, by request.
fn status_grants(run: &crate::support::Run) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("status JSON");
    doc["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["request"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn status_over_an_estate_reads_resource_graph_pages_not_one_get_per_nsg() {
    let subs = ["sub-a", "sub-b"];
    let emu = estate(EmulatorConfig::fast(), &subs);
    let text = policy_with_grant(&emu.base_url(), &subs);
    let s = setup_with(&emu, &[("policy.hcl", &text)]);
    s.jit(&["apply", "--auto-approve"])
        .run()
        .code(0)
        .stdout_has("121 added");
    emu.reset_stats();
    let run = s.jit(&["-v", "status", "--json"]).run().code(0);
    assert_eq!(status_grants(&run), ["INC-7-alice"]);
    let stats = emu.stats();
    assert_eq!(stats.graph_pages, 1, "both subscriptions in one page");
    assert_eq!(
        stats.kind("nsg_read"),
        1,
        "only the NSG holding the grant is read from ARM: {stats:?}"
    );
    assert_eq!(stats.requests_by("PUT") + stats.requests_by("DELETE"), 0);
    // `-v`: the requests by kind and the 429s.
    assert!(
        run.stderr
            .contains("azure: 2 requests (1 read, 1 Resource Graph page), 0 throttled (429)"),
        "{}",
        run.stderr
    );
}

#[test]
fn status_right_after_apply_lists_the_grant_while_resource_graph_lags() {
    let emu = estate(
        EmulatorConfig {
            graph: GraphConfig {
                lag: Duration::from_secs(600_000),
                ..GraphConfig::default()
            },
            ..EmulatorConfig::fast()
        },
        &["sub-a"],
    );
    let text = policy_with_grant(&emu.base_url(), &["sub-a"]);
    let s = setup_with(&emu, &[("policy.hcl", &text)]);
    s.jit(&["apply", "--auto-approve"])
        .run()
        .code(0)
        .stdout_has("61 added");
    emu.reset_stats();
    // Resource Graph still shows no managed rule anywhere; ARM holds the grant.
    let run = s.jit(&["status", "--json"]).run().code(0);
    assert_eq!(status_grants(&run), ["INC-7-alice"]);
    let stats = emu.stats();
    assert_eq!(stats.graph_pages, 1);
    assert_eq!(stats.kind("nsg_read"), PER_SUB as u64, "{stats:?}");
}

#[test]
fn status_without_resource_graph_reads_directly_said_once() {
    let emu = estate(EmulatorConfig::fast(), &["sub-a"]);
    let text = policy_with_grant(&emu.base_url(), &["sub-a"]);
    let s = setup_with(&emu, &[("policy.hcl", &text)]);
    s.jit(&["apply", "--auto-approve"]).run().code(0);
    emu.deny_resource_graph("static-0");
    emu.reset_stats();
    let run = s
        .jit(&["status", "--json"])
        .run()
        .code(0)
        .stderr_has("Resource Graph refused the principal");
    assert_eq!(
        run.stderr.matches("Resource Graph").count(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(status_grants(&run), ["INC-7-alice"]);
    assert_eq!(emu.stats().kind("nsg_read"), PER_SUB as u64);
}
