//! `--subscription` through the real `jit` binary: a shard reads and writes only its own
//! subscriptions, a subscription no target is in is refused before anything is read, `-v`
//! sums up the requests sent, and the subscriptions of one apply are written at once.

use std::time::Duration;

use serde_json::json;

use crate::cli::setup_with;
use crate::common::*;
use crate::emulator::{Emulator, EmulatorConfig, Fault, FaultKind, Trigger};

fn id(sub: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/{name}")
}

fn policy(endpoint: &str) -> String {
    let mut text = String::new();
    for sub in ["sub-a", "sub-b"] {
        text.push_str(&format!(
            "provider \"azure\" \"{sub}\" {{\n  subscription_id = \"{sub}\"\n  endpoint = \"{endpoint}\"\n}}\n"
        ));
        for n in 0..2 {
            text.push_str(&format!(
                r#"
target "{sub}-web-{n}" {{
  provider    = "azure.{sub}"
  nsg_id      = "{id}"
  destination = "10.0.1.4"
  port "ssh" {{ number = 22 }}
}}
"#,
                id = id(sub, &format!("web-{n}"))
            ));
        }
    }
    text
}

fn estate() -> Emulator {
    let emu = Emulator::start(EmulatorConfig::fast());
    for sub in ["sub-a", "sub-b"] {
        for n in 0..2 {
            let mut body = nsg_body(&format!("web-{n}"), vec![]);
            body["id"] = json!(id(sub, &format!("web-{n}")));
            emu.add_nsg(body);
        }
    }
    emu
}

fn managed(emu: &Emulator, sub: &str) -> usize {
    (0..2)
        .map(|n| {
            emu.nsg(&id(sub, &format!("web-{n}"))).unwrap()["properties"]["securityRules"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .sum()
}

#[test]
fn a_shard_plans_and_applies_only_its_subscription() {
    let emu = estate();
    let s = setup_with(&emu, &[("policy.hcl", &policy(&emu.base_url()))]);
    emu.reset_stats();
    s.jit(&["plan", "--subscription", "SUB-B"])
        .run()
        .code(0)
        .stdout_has("Plan: 2 to add, 0 to change, 0 to destroy.")
        .stdout_has("sub-b-web-0")
        .stdout_lacks("sub-a-web");
    assert_eq!(emu.stats().requests_by("GET"), 2, "only sub-b's NSGs read");

    s.jit(&["apply", "--auto-approve", "--subscription", "sub-a"])
        .run()
        .code(0)
        .stdout_has("2 added");
    assert_eq!((managed(&emu, "sub-a"), managed(&emu, "sub-b")), (2, 0));
    // The other shard still sees its own drift; the applied one is clean.
    s.jit(&["plan", "--detailed-exitcode", "--subscription", "sub-a"])
        .run()
        .code(0);
    s.jit(&["plan", "--detailed-exitcode", "--subscription", "sub-b"])
        .run()
        .code(2);
    // Both shards together are the whole estate.
    s.jit(&[
        "apply",
        "--auto-approve",
        "--subscription",
        "sub-a",
        "--subscription",
        "sub-b",
    ])
    .run()
    .code(0)
    .stdout_has("2 added");
    s.jit(&["plan", "--detailed-exitcode"]).run().code(0);
    s.jit(&["status", "--subscription", "sub-b"]).run().code(0);
}

#[test]
fn an_unknown_subscription_is_refused_before_any_read() {
    let emu = estate();
    let s = setup_with(&emu, &[("policy.hcl", &policy(&emu.base_url()))]);
    emu.reset_stats();
    for command in [
        &["plan", "--subscription", "sub-c"][..],
        &["apply", "--auto-approve", "--subscription", "sub-c"][..],
        &["status", "--subscription", "sub-c"][..],
    ] {
        s.jit(command)
            .run()
            .code(1)
            .stderr_has("no target is in subscription `sub-c`; did you mean `sub-");
    }
    assert_eq!(emu.stats().requests_total(), 0, "nothing read or written");
    assert_eq!((managed(&emu, "sub-a"), managed(&emu, "sub-b")), (0, 0));
}

#[test]
fn verbose_sums_up_the_requests() {
    let emu = estate();
    let s = setup_with(&emu, &[("policy.hcl", &policy(&emu.base_url()))]);
    s.jit(&["-v", "plan"])
        .run()
        .code(0)
        .stderr_has("azure: 4 requests (4 reads), 0 throttled (429)");
    let quiet = s.jit(&["plan"]).run().code(0);
    assert!(
        !quiet.stderr.contains("requests ("),
        "no summary without -v: {}",
        quiet.stderr
    );
}

/// Each subscription is its own provider, and `apply` writes through them at once: with every
/// write held in flight for a while (answered late), the writes of sub-a and sub-b are in
/// flight together. The emulator counts the subscriptions with a write in flight at one
/// moment; applied one shard after the other, the same writes never overlap.
#[test]
fn the_subscriptions_of_one_apply_are_written_at_once() {
    let hold_writes = || {
        vec![Fault::new(
            "PUT",
            "^/subscriptions/",
            Trigger::Always,
            FaultKind::Latency(Duration::from_millis(600)),
        )]
    };
    let emu = estate();
    let s = setup_with(&emu, &[("policy.hcl", &policy(&emu.base_url()))]);
    emu.set_faults(hold_writes());
    emu.reset_stats();
    s.jit(&["apply", "--auto-approve"])
        .run()
        .code(0)
        .stdout_has("4 added");
    let stats = emu.stats();
    assert_eq!(stats.kind("rule_write"), 4);
    assert_eq!(
        stats.subscriptions_writing_at_once, 2,
        "writes of both subscriptions were in flight together: {stats:?}"
    );

    // The control: one shard, then the other.
    let emu = estate();
    let s = setup_with(&emu, &[("policy.hcl", &policy(&emu.base_url()))]);
    emu.set_faults(hold_writes());
    emu.reset_stats();
    for sub in ["sub-a", "sub-b"] {
        s.jit(&["apply", "--auto-approve", "--subscription", sub])
            .run()
            .code(0)
            .stdout_has("2 added");
    }
    let stats = emu.stats();
    assert_eq!(stats.kind("rule_write"), 4);
    assert_eq!(stats.subscriptions_writing_at_once, 1, "{stats:?}");
}
