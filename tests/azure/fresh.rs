//! Writing from the plan's own read: an NSG that this run read moments ago is written without
//! another GET, an old or saved plan's NSG is read again first, and a change made since the
//! read is still caught — by the write's own precondition (412) or by ARM's priority check
//! (`SecurityRuleConflict`) — with nothing wrong written. Requests are counted by kind.

use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};

use crate::common::*;
use crate::emulator::{Emulator, EmulatorConfig};
use jit::plan::{Action, ResourceChange};
use jit::providers::Outcome;

/// An emulator whose NSG `a` holds the foreign rules and two managed lock-downs.
fn seeded() -> Emulator {
    let emu = Emulator::start(EmulatorConfig::fast());
    let mut rules = foreign_rules("a");
    rules.push(deny("jit-deny-web-1-ssh", 22, 4000).to_arm());
    rules.push(deny("jit-deny-web-1-rdp", 3389, 4001).to_arm());
    emu.add_nsg(nsg_body("a", rules));
    emu
}

fn apply(
    p: &dyn jit::providers::Provider,
    changes: &[ResourceChange],
    read_at: Option<Timestamp>,
) -> Vec<Outcome> {
    // Not `batch_apply`, which reads again afterwards: these tests count requests.
    let fingerprints = last_fingerprints();
    let batch = jit::providers::Batch {
        changes,
        fingerprints: &fingerprints,
        now: Timestamp::now(),
        read_at,
    };
    p.apply(batch, &|_| {}).expect("the batch is accepted")
}

/// The plan: a new lock-down at the band's next free priority, then a changed and a deleted
/// managed rule.
fn changes() -> Vec<ResourceChange> {
    let mut moved = deny("jit-deny-web-1-ssh", 22, 4000);
    moved.description = Some("managed-by=jit; moved".into());
    vec![
        create("a", deny("jit-deny-web-1-winrm", 5985, 4002)),
        change(
            "a",
            Action::Update,
            Some(deny("jit-deny-web-1-ssh", 22, 4000)),
            Some(moved),
        ),
        change(
            "a",
            Action::Delete,
            Some(deny("jit-deny-web-1-rdp", 3389, 4001)),
            None,
        ),
    ]
}

#[test]
fn a_fresh_plan_is_written_without_reading_the_nsg_again() {
    let emu = seeded();
    let p = provider(&emu);
    read(&p, &[nsg_id("a")]).unwrap();
    emu.reset_stats();
    let outcomes = apply(&p, &changes(), Some(Timestamp::now()));
    assert_eq!(outcomes, vec![Outcome::Applied; 3]);
    let stats = emu.stats();
    assert_eq!(
        stats.kind("nsg_read"),
        0,
        "no GET before writing: {stats:?}"
    );
    assert_eq!(stats.kind("rule_read"), 0, "no confirming GET: {stats:?}");
    assert_eq!(
        (stats.kind("rule_write"), stats.kind("rule_delete")),
        (2, 1)
    );
    assert!(stored_rule(&emu, "a", "jit-deny-web-1-winrm").is_some());
    assert!(stored_rule(&emu, "a", "jit-deny-web-1-rdp").is_none());
    let ssh = stored_rule(&emu, "a", "jit-deny-web-1-ssh").unwrap();
    assert_eq!(ssh["properties"]["description"], "managed-by=jit; moved");
}

#[test]
fn an_old_or_saved_plan_is_read_again_before_writing() {
    let old = Timestamp::now() - SignedDuration::from_mins(10);
    for read_at in [Some(old), None] {
        let emu = seeded();
        let p = provider(&emu);
        read(&p, &[nsg_id("a")]).unwrap();
        emu.reset_stats();
        let outcomes = apply(&p, &changes(), read_at);
        assert_eq!(outcomes, vec![Outcome::Applied; 3], "{read_at:?}");
        assert_eq!(emu.stats().kind("nsg_read"), 1, "{read_at:?}");
    }
    // A plan from a read this process did not make (another etag) is read again too, and found
    // stale.
    let emu = seeded();
    let p = provider(&emu);
    read(&p, &[nsg_id("a")]).unwrap();
    emu.edit_nsg(&nsg_id("a"), |nsg| {
        nsg["properties"]["securityRules"][0]["properties"]["priority"] = json!(131);
    });
    let other = provider(&emu);
    // Another read since (by this process) leaves the plan's etag behind.
    jit::providers::Provider::read(&other, &[nsg_id("a")]).unwrap();
    emu.reset_stats();
    let outcomes = apply(&p, &changes(), Some(Timestamp::now()));
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::Stale(_))),
        "{outcomes:?}"
    );
    assert_eq!(emu.stats().kind("nsg_read"), 1);
    assert_eq!(
        emu.stats().kind("rule_write") + emu.stats().kind("rule_delete"),
        0
    );
}

/// Each out-of-band change, made between the plan's read and the fresh apply, stops the NSG
/// at the write it concerns: that change is stale, the rest not attempted, and the other
/// writer's rule is exactly as it left it.
#[test]
fn a_change_since_the_read_is_caught_by_the_write_itself() {
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit, usize); 4] = [
        (
            "another tool's rule took the priority planned for the create",
            |nsg| {
                rules_of(nsg).push(json!({"name": "other-tool-deny", "properties": {
                    "description": "added by another pipeline", "protocol": "Tcp",
                    "sourcePortRange": "*", "destinationPortRange": "8080",
                    "sourceAddressPrefix": "*", "destinationAddressPrefix": "*",
                    "access": "Deny", "priority": 4002, "direction": "Inbound"}}));
            },
            0,
        ),
        (
            "a foreign rule appeared under the create's name",
            |nsg| {
                rules_of(nsg).push(json!({"name": "jit-deny-web-1-winrm", "properties": {
                    "description": "made by hand", "protocol": "Tcp", "sourcePortRange": "*",
                    "destinationPortRange": "5985", "sourceAddressPrefix": "*",
                    "destinationAddressPrefix": "*", "access": "Deny", "priority": 300,
                    "direction": "Inbound"}}));
            },
            0,
        ),
        (
            "someone edited the rule the plan updates",
            |nsg| {
                let ssh = rule_named(nsg, "jit-deny-web-1-ssh");
                ssh["properties"]["description"] = json!("edited by hand");
            },
            1,
        ),
        (
            "someone replaced the rule the plan deletes with a foreign one",
            |nsg| {
                let rdp = rule_named(nsg, "jit-deny-web-1-rdp");
                rdp["properties"]["description"] = json!("kept open on purpose");
            },
            2,
        ),
    ];
    for (why, edit, stale_at) in cases {
        let emu = seeded();
        let p = provider(&emu);
        read(&p, &[nsg_id("a")]).unwrap();
        emu.edit_nsg(&nsg_id("a"), edit);
        let before = stored_rules(&emu, "a");
        let changes = changes();
        emu.reset_stats();
        let outcomes = apply(&p, &changes, Some(Timestamp::now()));
        assert!(
            outcomes[..stale_at].iter().all(|o| *o == Outcome::Applied),
            "{why}: the changes before it apply: {outcomes:?}"
        );
        assert_eq!(
            emu.stats().kind("nsg_read"),
            0,
            "{why}: no GET before writing"
        );
        assert!(
            matches!(&outcomes[stale_at], Outcome::Stale(w) if w.contains("stale")),
            "{why}: {outcomes:?}"
        );
        assert!(
            outcomes[stale_at + 1..]
                .iter()
                .all(|o| matches!(o, Outcome::Skipped(_))),
            "{why}: {outcomes:?}"
        );
        // What the other writer made is untouched; only earlier changes were written.
        let after = stored_rules(&emu, "a");
        for rule in &before {
            let name = rule["name"].as_str().unwrap();
            let written = changes[..stale_at].iter().any(|c| c.name == name);
            if !written {
                assert!(after.contains(rule), "{why}: `{name}` changed");
            }
        }
        let stats = emu.stats();
        assert_eq!(
            stats.kind("rule_write") + stats.kind("rule_delete"),
            stale_at as u64 + 1,
            "{why}: the stale write was refused by ARM, nothing after it was sent: {stats:?}"
        );
    }
}

fn rules_of(nsg: &mut Value) -> &mut Vec<Value> {
    nsg["properties"]["securityRules"].as_array_mut().unwrap()
}

fn rule_named<'a>(nsg: &'a mut Value, name: &str) -> &'a mut Value {
    rules_of(nsg)
        .iter_mut()
        .find(|r| r["name"] == name)
        .unwrap()
}
