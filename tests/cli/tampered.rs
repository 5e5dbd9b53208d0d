//! Saved plans are checked, never trusted (DESIGN §5b): a plan file edited between `jit plan
//! --out` and `jit apply FILE` is refused through the real binary against the snapshot
//! provider, with the exit code, a `stale plan: …` message naming what differs, the snapshot's
//! bytes unchanged and no audit line. A malformed file is a clear error, never a panic. What an
//! accepted plan writes, the audit log included, comes from the configuration, not the file.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::lifecycle::{audit_lines, jit, lab, live_file, save_plan, web_rules, DURING, WEB_NSG};

const ALLOW: &str = "jit-allow-INC-1-alice-ssh";
const WEB_DENY: &str = "jit-deny-web-1-ssh";

/// A lab with the grant active, and a plan saved at `DURING` (3 creates: both lock-downs and
/// the grant's allow).
fn planned() -> (tempfile::TempDir, PathBuf) {
    let dir = lab(true);
    let (plan, _) = save_plan(dir.path(), DURING);
    (dir, plan)
}

fn read_plan(plan: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(plan).unwrap()).unwrap()
}

/// Rewrites the saved plan through `edit`.
fn tamper(plan: &Path, edit: impl FnOnce(&mut Value)) {
    let mut doc = read_plan(plan);
    edit(&mut doc);
    crate::plan_doc::resync(&mut doc);
    fs::write(plan, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
}

/// The change of the plan whose rule is `name`.
fn change<'a>(doc: &'a mut Value, name: &str) -> &'a mut Value {
    doc["resource_changes"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| crate::plan_doc::rule_name(c) == name)
        .unwrap_or_else(|| panic!("no change of `{name}`"))
}

/// `jit apply PLAN` must exit 1 with every `expected` on stderr, leaving the snapshot's bytes
/// as they were and writing no audit line.
fn refused(d: &Path, plan: &Path, expected: &[&str]) {
    let before = live_file(d);
    let mut run = jit(d, &["apply", plan.to_str().unwrap(), "--at", DURING])
        .run()
        .code(1);
    for needle in expected {
        run = run.stderr_has(needle);
    }
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(live_file(d), before, "nothing written");
    assert!(
        audit_lines(&d.join(".jit/audit.jsonl")).is_empty(),
        "no audit line"
    );
}

const MISMATCH: &str =
    "stale plan: re-run jit plan (the plan file does not match what jit would do";

#[test]
fn the_untouched_plan_applies() {
    let (dir, plan) = planned();
    jit(
        dir.path(),
        &["apply", plan.to_str().unwrap(), "--at", DURING],
    )
    .run()
    .code(0)
    .stdout_has("Apply complete! Resources: 3 added, 0 changed, 0 destroyed.");
}

#[test]
fn a_widened_source_is_refused() {
    let (dir, plan) = planned();
    tamper(&plan, |doc| {
        change(doc, ALLOW)["change"]["after"]["source_address_prefix"] = json!("0.0.0.0/0");
    });
    refused(
        dir.path(),
        &plan,
        &[
            MISMATCH,
            "`web-nsg/jit-allow-INC-1-alice-ssh`: `source_address_prefix` is `\"0.0.0.0/0\"` in \
             the plan file, jit would write `\"198.51.100.7/32\"`",
        ],
    );
}

#[test]
fn a_widened_port_is_refused() {
    let (dir, plan) = planned();
    tamper(&plan, |doc| {
        change(doc, ALLOW)["change"]["after"]["destination_port_range"] = json!("0-65535");
    });
    refused(
        dir.path(),
        &plan,
        &[MISMATCH, "`destination_port_range` is `\"0-65535\"`"],
    );
}

#[test]
fn a_widened_protocol_is_refused() {
    let (dir, plan) = planned();
    tamper(&plan, |doc| {
        change(doc, ALLOW)["change"]["after"]["protocol"] = json!("*");
    });
    refused(
        dir.path(),
        &plan,
        &[MISMATCH, "`protocol` is `\"*\"` in the plan file"],
    );
}

#[test]
fn a_lock_down_made_allow_is_refused() {
    let (dir, plan) = planned();
    tamper(&plan, |doc| {
        change(doc, WEB_DENY)["change"]["after"]["access"] = json!("Allow");
    });
    refused(
        dir.path(),
        &plan,
        &[
            MISMATCH,
            "`web-nsg/jit-deny-web-1-ssh`: `access` is `\"Allow\"` in the plan file, jit would \
             write `\"Deny\"`",
        ],
    );
}

#[test]
fn an_extra_create_is_refused_even_when_it_looks_managed() {
    let (dir, plan) = planned();
    tamper(&plan, |doc| {
        let mut extra = change(doc, ALLOW).clone();
        let name = "jit-allow-backdoor-ssh";
        crate::plan_doc::set_index(&mut extra, &format!("web-nsg/{name}"));
        extra["change"]["after"]["name"] = json!(name);
        extra["change"]["after"]["source_address_prefix"] = json!("*");
        doc["resource_changes"].as_array_mut().unwrap().push(extra);
    });
    refused(
        dir.path(),
        &plan,
        &[
            MISMATCH,
            "the plan file would create `web-nsg/jit-allow-backdoor-ssh`, which jit would not do",
        ],
    );
}

#[test]
fn a_delete_of_a_foreign_rule_is_refused() {
    let (dir, plan) = planned();
    assert_eq!(web_rules(dir.path())[0]["name"], "allow-http");
    tamper(&plan, |doc| {
        let mut delete = change(doc, ALLOW).clone();
        let mut foreign = delete["change"]["after"].clone();
        foreign["name"] = json!("allow-http");
        crate::plan_doc::set_index(&mut delete, "web-nsg/allow-http");
        delete["change"] = json!({"actions": ["delete"], "before": foreign, "after": null,
            "after_unknown": {}, "before_sensitive": {}, "after_sensitive": false});
        doc["resource_changes"].as_array_mut().unwrap().push(delete);
    });
    refused(
        dir.path(),
        &plan,
        &[
            MISMATCH,
            "the plan file would delete `web-nsg/allow-http`, which jit would not do",
        ],
    );
}

#[test]
fn a_path_traversal_rule_name_is_refused() {
    let (dir, plan) = planned();
    let evil = "../../../../othersub/resourceGroups/rg/providers/Microsoft.Network/\
                networkSecurityGroups/crown-jewels/securityRules/open-all";
    tamper(&plan, |doc| {
        let c = change(doc, ALLOW);
        crate::plan_doc::set_index(c, &format!("web-nsg/{evil}"));
        c["change"]["after"]["name"] = json!(evil);
    });
    refused(
        dir.path(),
        &plan,
        &[
            MISMATCH,
            "jit would create `web-nsg/jit-allow-INC-1-alice-ssh`, which the plan file does not \
             hold",
        ],
    );
}

#[test]
fn valid_until_removed_or_null_is_refused() {
    for edit in [
        (|doc: &mut Value| {
            doc.as_object_mut().unwrap().remove("valid_until");
        }) as fn(&mut Value),
        |doc| doc["valid_until"] = Value::Null,
    ] {
        let (dir, plan) = planned();
        tamper(&plan, edit);
        refused(
            dir.path(),
            &plan,
            &[
                MISMATCH,
                "its `valid_until` is null, jit would set `2026-11-25T16:00:00Z`",
            ],
        );
    }
}

#[test]
fn a_later_valid_until_is_refused() {
    let (dir, plan) = planned();
    tamper(&plan, |doc| {
        doc["valid_until"] = json!("2099-01-01T00:00:00Z")
    });
    refused(
        dir.path(),
        &plan,
        &[MISMATCH, "its `valid_until` is `2099-01-01T00:00:00Z`"],
    );
}

#[test]
fn a_request_deleted_after_planning_is_not_granted() {
    let (dir, plan) = planned();
    fs::remove_file(dir.path().join("requests/INC-1-alice.hcl")).unwrap();
    refused(
        dir.path(),
        &plan,
        &["stale plan: re-run jit plan (the configuration changed since the plan was made)"],
    );
}

#[test]
fn a_plan_without_config_digest_is_refused() {
    let (dir, plan) = planned();
    tamper(&plan, |doc| {
        doc.as_object_mut().unwrap().remove("config_digest");
    });
    refused(
        dir.path(),
        &plan,
        &["stale plan: re-run jit plan (the plan file records no `config_digest`)"],
    );
    tamper(&plan, |doc| doc["config_digest"] = json!("sha256:00"));
    refused(dir.path(), &plan, &["the configuration changed"]);
}

#[test]
fn malformed_plans_are_clear_errors_never_panics() {
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|doc| change(doc, ALLOW)["change"]["actions"] = json!([])),
            "a change has no action",
        ),
        (
            Box::new(|doc| change(doc, ALLOW)["change"]["actions"] = json!(["create", "delete"])),
            "a change has 2 actions",
        ),
        (
            Box::new(|doc| change(doc, ALLOW)["change"]["actions"] = json!(["open"])),
            "unknown variant `open`",
        ),
        (
            Box::new(|doc| change(doc, ALLOW)["change"]["actions"] = json!("create")),
            "invalid type: string \"create\", expected a sequence",
        ),
        (
            Box::new(|doc| {
                change(doc, ALLOW).as_object_mut().unwrap().remove("index");
            }),
            "missing field `index`",
        ),
        (
            Box::new(|doc| change(doc, ALLOW)["change"]["after"]["priority"] = json!("high")),
            "`priority` should be a number",
        ),
        (
            Box::new(|doc| doc["resource_changes"] = json!({"a": 1})),
            "at `resource_changes`: invalid type: map",
        ),
        (
            Box::new(|doc| doc["fingerprints"] = json!([1])),
            "at `fingerprints`",
        ),
    ];
    let (dir, plan) = planned();
    let original = fs::read_to_string(&plan).unwrap();
    for (edit, expected) in cases {
        fs::write(&plan, &original).unwrap();
        tamper(&plan, edit);
        refused(
            dir.path(),
            &plan,
            &[
                &format!("error: {}: not a valid jit plan", plan.display()),
                expected,
            ],
        );
        jit(dir.path(), &["show", plan.to_str().unwrap()])
            .run()
            .code(1)
            .stderr_has(expected);
    }
}

#[test]
fn forged_request_details_never_reach_the_audit_log() {
    let (dir, plan) = planned();
    let d = dir.path();
    tamper(&plan, |doc| {
        let c = change(doc, ALLOW);
        c["request"]["requester"] = json!("mallory@example.com");
        c["request"]["approvers"] = json!(["mallory@example.com", "eve@example.com"]);
        c["request"]["justification"] = json!("forged");
        c["reason"] = json!("nothing to see");
    });
    jit(d, &["apply", plan.to_str().unwrap(), "--at", DURING])
        .run()
        .code(0)
        .stdout_has("3 added");
    let lines = audit_lines(&d.join(".jit/audit.jsonl"));
    let grant = lines.iter().find(|l| l["resource"] == ALLOW).unwrap();
    assert_eq!(grant["requester"], "alice@example.com");
    assert_eq!(grant["approvers"], json!(["bob@example.com"]));
    assert_eq!(grant["justification"], "INC-1 investigate failed deploy");
    assert_ne!(grant["reason"], "nothing to see");
    let text = fs::read_to_string(d.join(".jit/audit.jsonl")).unwrap();
    assert!(
        !text.contains("mallory") && !text.contains("forged"),
        "{text}"
    );
    assert!(WEB_NSG.ends_with("web-nsg"));
}
