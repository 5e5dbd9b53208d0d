//! Saved plans are checked, never trusted, against the ARM emulator: a plan file edited between
//! `jit plan --out` and `jit apply FILE` is refused through the real binary with exit 1, a
//! `stale plan: …` message, no write request and no audit line. And, independently, the
//! provider itself refuses before any request a rule name that is not ARM-legal (a path
//! traversal never reaches another NSG), a create without jit's marks, and an update or delete
//! of a rule that is not managed.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use jit::plan::Action;
use jit::providers::Outcome;

use crate::cli::{setup, Setup, DURING};
use crate::common::*;
use crate::emulator::{Emulator, EmulatorConfig, Fault, FaultKind, Trigger};

const OTHER_NSG: &str = "/subscriptions/othersub/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/crown-jewels";

const TRAVERSAL: &str = "../../../../othersub/resourceGroups/rg1/providers/Microsoft.Network/\
                         networkSecurityGroups/crown-jewels/securityRules/open-all";

/// Any request that names the other subscription's NSG or the rule it would get.
fn spy() -> Vec<Fault> {
    ["GET", "PUT", "DELETE", "PATCH", "POST"]
        .iter()
        .map(|m| {
            Fault::new(
                m,
                "(?i)othersub|crown-jewels|open-all|%2e%2e|\\.\\.",
                Trigger::Always,
                FaultKind::Latency(std::time::Duration::ZERO),
            )
        })
        .collect()
}

/// NSGs a and b (with foreign rules) and another subscription's NSG; a plan saved `DURING`
/// (lock-downs on a and b, the grant's allow on a).
fn planned() -> (Emulator, Setup, PathBuf) {
    let emu = emulator_with(EmulatorConfig::fast(), &["a", "b"]);
    let mut other = nsg_body("crown-jewels", vec![]);
    other["id"] = json!(OTHER_NSG);
    emu.add_nsg(other);
    let s = setup(&emu);
    let plan = s.path().join("plan.json");
    s.phase(DURING)
        .jit(&["plan", "--out", plan.to_str().unwrap()])
        .run()
        .code(0);
    (emu, s, plan)
}

fn tamper(plan: &Path, edit: impl FnOnce(&mut Value)) {
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(plan).unwrap()).unwrap();
    edit(&mut doc);
    crate::plan_doc::resync(&mut doc);
    std::fs::write(plan, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
}

fn change_of<'a>(doc: &'a mut Value, part: &str) -> &'a mut Value {
    doc["resource_changes"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| crate::plan_doc::rule_name(c).contains(part))
        .unwrap_or_else(|| panic!("no change named like `{part}`"))
}

/// `jit apply PLAN` exits 1 with `expected` on stderr; the emulator got no write and nothing
/// about the other subscription, its NSGs are as they were, and no audit line was written.
fn refused(emu: &Emulator, s: &Setup, plan: &Path, expected: &str) {
    let before: Vec<Value> = emu.nsgs();
    emu.reset_stats();
    emu.set_faults(spy());
    let run = s
        .jit(&["apply", plan.to_str().unwrap()])
        .run()
        .code(1)
        .stderr_has(expected);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let stats = emu.stats();
    assert_eq!(stats.requests_by("PUT") + stats.requests_by("DELETE"), 0);
    assert_eq!(stats.faults_injected, 0, "a request named the other NSG");
    assert_eq!(emu.nsgs(), before, "nothing written");
    assert!(!s.path().join(".jit/audit.jsonl").exists(), "no audit line");
}

const MISMATCH: &str =
    "stale plan: re-run jit plan (the plan file does not match what jit would do";

#[test]
fn tampered_saved_plans_are_refused_with_nothing_written() {
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "widened source",
            Box::new(|doc| {
                change_of(doc, "allow")["change"]["after"]["source_address_prefix"] =
                    json!("0.0.0.0/0")
            }),
            "`source_address_prefix` is `\"0.0.0.0/0\"` in the plan file",
        ),
        (
            "widened port",
            Box::new(|doc| {
                change_of(doc, "allow")["change"]["after"]["destination_port_range"] = json!("*")
            }),
            "`destination_port_range` is `\"*\"`",
        ),
        (
            "widened protocol",
            Box::new(|doc| change_of(doc, "allow")["change"]["after"]["protocol"] = json!("*")),
            "`protocol` is `\"*\"`",
        ),
        (
            "deny made allow",
            Box::new(|doc| {
                change_of(doc, "deny-web-1")["change"]["after"]["access"] = json!("Allow")
            }),
            "`a/jit-deny-web-1-ssh`: `access` is `\"Allow\"`",
        ),
        (
            "extra create",
            Box::new(|doc| {
                let mut extra = change_of(doc, "allow").clone();
                crate::plan_doc::set_index(&mut extra, "b/jit-allow-backdoor-ssh");
                extra["scope"] = json!(nsg_id("b"));
                let after = &mut extra["change"]["after"];
                after["name"] = json!("jit-allow-backdoor-ssh");
                after["network_security_group_name"] = json!("b");
                after["id"] = json!(format!(
                    "{}/securityRules/jit-allow-backdoor-ssh",
                    nsg_id("b")
                ));
                doc["resource_changes"].as_array_mut().unwrap().push(extra);
            }),
            "the plan file would create `b/jit-allow-backdoor-ssh`, which jit would not do",
        ),
        (
            "delete of a foreign rule",
            Box::new(|doc| {
                let mut delete = change_of(doc, "allow").clone();
                crate::plan_doc::set_index(&mut delete, "a/rule1");
                delete["change"]["actions"] = json!(["delete"]);
                delete["change"]["before"] = delete["change"]["after"].clone();
                delete["change"]["before"]["name"] = json!("rule1");
                delete["change"]["after"] = Value::Null;
                doc["resource_changes"].as_array_mut().unwrap().push(delete);
            }),
            "the plan file would delete `a/rule1`, which jit would not do",
        ),
        (
            "path traversal",
            Box::new(|doc| {
                let c = change_of(doc, "allow");
                crate::plan_doc::set_index(c, &format!("a/{TRAVERSAL}"));
                c["change"]["after"]["name"] = json!(TRAVERSAL);
            }),
            MISMATCH,
        ),
        (
            "valid_until null",
            Box::new(|doc| doc["valid_until"] = Value::Null),
            "its `valid_until` is null, jit would set `",
        ),
        (
            "valid_until removed",
            Box::new(|doc| {
                doc.as_object_mut().unwrap().remove("valid_until");
            }),
            "its `valid_until` is null",
        ),
        (
            "empty actions",
            Box::new(|doc| change_of(doc, "allow")["change"]["actions"] = json!([])),
            "a change has no action",
        ),
    ];
    let (emu, s, plan) = planned();
    let original = std::fs::read_to_string(&plan).unwrap();
    for (name, edit, expected) in cases {
        std::fs::write(&plan, &original).unwrap();
        tamper(&plan, edit);
        eprintln!("case: {name}");
        refused(&emu, &s, &plan, expected);
    }
    // The file as jit wrote it still applies.
    std::fs::write(&plan, &original).unwrap();
    emu.set_faults(spy());
    s.jit(&["apply", plan.to_str().unwrap()])
        .run()
        .code(0)
        .stdout_has("Apply complete! Resources: 4 added");
    assert_eq!(emu.stats().faults_injected, 0);
    assert!(emu.nsg(OTHER_NSG).unwrap()["properties"]["securityRules"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn a_request_removed_after_planning_is_not_granted() {
    let (emu, s, plan) = planned();
    let policy = std::fs::read_to_string(s.path().join("policy.hcl")).unwrap();
    let cut = policy.find("request \"INC-1-alice\"").unwrap();
    std::fs::write(s.path().join("policy.hcl"), &policy[..cut]).unwrap();
    refused(
        &emu,
        &s,
        &plan,
        "stale plan: re-run jit plan (the configuration changed since the plan was made)",
    );
}

#[test]
fn the_provider_refuses_illegal_names_and_unmanaged_rules_before_writing() {
    let emu = emulator_with(EmulatorConfig::fast(), &["a"]);
    let mut other = nsg_body("crown-jewels", vec![]);
    other["id"] = json!(OTHER_NSG);
    emu.add_nsg(other);
    let seeded = stored_rules(&emu, "a");
    let p = provider(&emu);
    read(&p, &[nsg_id("a")]).unwrap();
    emu.reset_stats();
    emu.set_faults(spy());
    let apply = |changes: &[jit::plan::ResourceChange]| {
        batch_apply(&p, changes, &|_| {})
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    // A traversal name, even on a change that looks managed, and next to a legal change.
    let mut evil = create("a", allow("jit-allow-x-ssh", 22, 101, "*"));
    evil.name = TRAVERSAL.into();
    evil.change
        .after
        .as_mut()
        .unwrap()
        .values
        .insert("name".into(), TRAVERSAL.into());
    let legal = create("a", deny("jit-deny-web-1-ssh", 22, 4000));
    let err = apply(&[legal.clone(), evil]).unwrap_err();
    assert!(err.contains("is not a legal security rule name"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    // A name that is not the name of the rule written.
    let mut renamed = legal.clone();
    renamed
        .change
        .after
        .as_mut()
        .unwrap()
        .values
        .insert("name".into(), "jit-deny-other".into());
    let err = apply(&[renamed]).unwrap_err();
    assert!(err.contains("its rule is named `jit-deny-other`"), "{err}");
    // A create without the marker, or without the prefix.
    let mut unmarked = deny("jit-deny-x", 22, 4001);
    unmarked.description = Some("by hand".into());
    let err = apply(&[create("a", unmarked)]).unwrap_err();
    assert!(err.contains("is not managed by jit"), "{err}");
    let err = apply(&[create("a", deny("other-deny-x", 22, 4001))]).unwrap_err();
    assert!(err.contains("is not managed by jit"), "{err}");
    let stats = emu.stats();
    assert_eq!(stats.requests_by("PUT") + stats.requests_by("DELETE"), 0);
    assert_eq!(stats.faults_injected, 0);

    // Updates and deletes are checked on the live rule: `jit-deny-handmade` has the prefix and
    // no marker, `rule1` neither; the plan claiming they are managed changes nothing.
    let handmade = deny("jit-deny-handmade", 3389, 4090);
    let outcomes = std::sync::Mutex::new(Vec::new());
    batch_apply(
        &p,
        &[
            change("a", Action::Delete, Some(handmade.clone()), None),
            change(
                "a",
                Action::Update,
                Some(handmade.clone()),
                Some(deny("jit-deny-handmade", 3389, 4091)),
            ),
        ],
        &|written| {
            let mut outcomes = outcomes.lock().unwrap();
            outcomes.extend(written.iter().map(|(c, o)| (c.name.clone(), (*o).clone())));
        },
    )
    .unwrap();
    let outcomes = outcomes.into_inner().unwrap();
    assert!(
        matches!(&outcomes[0].1, Outcome::Failed { message: m, .. } if m.contains("is not managed by jit") && m.contains("refusing to delete")),
        "{outcomes:?}"
    );
    assert!(
        matches!(&outcomes[1].1, Outcome::Skipped(_)),
        "{outcomes:?}"
    );
    let mut foreign = allow("rule1", 80, 130, "*");
    foreign.description = None;
    read(&p, &[nsg_id("a")]).unwrap();
    let outcomes = batch_apply(
        &p,
        &[change("a", Action::Delete, Some(foreign), None)],
        &|_| {},
    )
    .unwrap();
    assert!(
        matches!(outcomes[..], [Outcome::Failed { .. }]),
        "{outcomes:?}"
    );
    assert_eq!(emu.stats().requests_by("DELETE"), 0);
    assert_foreign_untouched(&emu, "a", &seeded);
}
