//! Revocation never waits (DESIGN §5b), through the real binary against the snapshot provider:
//! a broken request file, a missing NSG, a foreign rule squatting a managed name or a broken
//! target never keeps jit from closing an expired grant elsewhere. Such a plan holds only
//! narrowing changes (no new grant opens), `plan` prints it and exits 1, `apply` applies it and
//! exits 1 naming the errors, and a saved one is checked and applied the same way. Name
//! collisions are validation errors.

use std::fs;
use std::path::Path;

use serde_json::{json, Value};

use crate::lifecycle::{
    audit_lines, foreign_rule, jit, lab, live_file, live_json, policy, rule_names, AFTER, DB_NSG,
    DURING,
};

const ALLOW: &str = "jit-allow-INC-1-alice-ssh";

/// A lab whose grant on web-1 was applied at `DURING` and has expired by `AFTER`.
fn expired_grant() -> tempfile::TempDir {
    let dir = lab(true);
    jit(dir.path(), &["apply", "--auto-approve", "--at", DURING])
        .run()
        .code(0);
    assert!(rule_names(dir.path()).contains(&ALLOW.to_string()));
    dir
}

/// A valid request on db-1, active at `AFTER`: a widening change jit must hold back while
/// anything is in error.
const NEW_GRANT: &str = r#"request "INC-2-carol" {
  target        = "db-1"
  ports         = ["ssh"]
  source        = "198.51.100.9/32"
  requester     = "carol@example.com"
  approvers     = ["bob@example.com"]
  justification = "INC-2 look at the database"
  start         = "2026-11-25T16:30:00Z"
  duration      = "1h"
}
"#;

/// A request with an error (its source is outside the port's allowed sources).
const BROKEN: &str = r#"request "INC-3-dave" {
  target        = "db-1"
  ports         = ["ssh"]
  source        = "203.0.113.7/32"
  requester     = "dave@example.com"
  approvers     = ["bob@example.com"]
  justification = "INC-3"
  start         = "2026-11-25T16:30:00Z"
  duration      = "1h"
}
"#;

fn db_rules(d: &Path) -> Vec<Value> {
    live_json(d)["value"][1]["properties"]["securityRules"]
        .as_array()
        .unwrap()
        .clone()
}

fn add(d: &Path, path: &str, text: &str) {
    let full = d.join(path);
    fs::create_dir_all(full.parent().unwrap()).unwrap();
    fs::write(full, text).unwrap();
}

#[test]
fn a_broken_request_file_does_not_keep_an_expired_grant_open() {
    let dir = expired_grant();
    let d = dir.path();
    add(d, "requests/INC-2-carol.hcl", NEW_GRANT);
    add(d, "requests/INC-3-dave.hcl", BROKEN);
    let before = live_file(d);
    jit(d, &["plan", "--detailed-exitcode", "--at", AFTER])
        .run()
        .code(1)
        .stderr_has("requests/INC-3-dave.hcl:4:19")
        .stderr_has("error[E045]")
        .stderr_has("error: invalid config: 1 error")
        .stdout_has(&format!("web-nsg/{ALLOW} will be destroyed"))
        .stdout_lacks("INC-2-carol")
        .stdout_has("Plan incomplete (1 error): 0 to add, 0 to change, 1 to destroy.");
    assert_eq!(live_file(d), before, "plan writes nothing");

    jit(d, &["apply", "--auto-approve", "--at", AFTER])
        .run()
        .code(1)
        .stdout_has("Apply incomplete! Resources: 0 added, 0 changed, 1 destroyed")
        .stderr_has("requests/INC-3-dave.hcl:4:19: source `203.0.113.7/32` is not allowed");
    assert!(!rule_names(d).contains(&ALLOW.to_string()), "revoked");
    assert!(
        db_rules(d)
            .iter()
            .all(|r| r["properties"]["access"] == "Deny"),
        "the new grant waits for a valid config"
    );
    let lines = audit_lines(&d.join(".jit/audit.jsonl"));
    let last = lines.last().unwrap();
    assert_eq!(
        (last["action"].as_str(), last["resource"].as_str()),
        (Some("delete"), Some(ALLOW))
    );

    // Fixed: the new grant opens.
    fs::remove_file(d.join("requests/INC-3-dave.hcl")).unwrap();
    jit(d, &["apply", "--auto-approve", "--at", AFTER])
        .run()
        .code(0)
        .stdout_has("Apply complete! Resources: 1 added");
}

#[test]
fn a_saved_plan_with_errors_applies_its_narrowing_changes_and_fails() {
    let dir = expired_grant();
    let d = dir.path();
    add(d, "requests/INC-3-dave.hcl", BROKEN);
    let plan = d.join("plan.json");
    jit(d, &["plan", "--out", plan.to_str().unwrap(), "--at", AFTER])
        .run()
        .code(1)
        .stderr_has("Saved the plan to:");
    let saved: Value = serde_json::from_str(&fs::read_to_string(&plan).unwrap()).unwrap();
    assert_eq!(saved["resource_changes"].as_array().unwrap().len(), 1);
    assert!(saved["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("[E045]"));
    jit(d, &["apply", plan.to_str().unwrap(), "--at", AFTER])
        .run()
        .code(1)
        .stdout_has("Apply incomplete! Resources: 0 added, 0 changed, 1 destroyed")
        .stderr_has("[E045]");
    assert!(!rule_names(d).contains(&ALLOW.to_string()));
}

#[test]
fn a_missing_nsg_is_an_error_for_that_nsg_only() {
    let dir = expired_grant();
    let d = dir.path();
    let gone = DB_NSG.replace("db-nsg", "gone-nsg");
    let extra = format!(
        r#"
target "gone-1" {{
  provider = "snapshot.lab"
  nsg_id   = "{gone}"
  port "ssh" {{
    number          = 22
    allowed_sources = ["198.51.100.0/24"]
    max_duration    = "3h"
  }}
}}
"#
    );
    add(d, "gone.hcl", &extra);
    add(d, "requests/INC-2-carol.hcl", NEW_GRANT);
    jit(d, &["plan", "--at", AFTER])
        .run()
        .code(1)
        .stderr_has("error: cannot read NSG `gone-nsg`: NSG not found: ")
        .stdout_has(&format!("web-nsg/{ALLOW} will be destroyed"))
        .stdout_lacks("INC-2-carol");
    jit(d, &["apply", "--auto-approve", "--at", AFTER])
        .run()
        .code(1)
        .stdout_has("Apply incomplete! Resources: 0 added, 0 changed, 1 destroyed")
        .stderr_has("gone-nsg");
    assert!(!rule_names(d).contains(&ALLOW.to_string()));
}

#[test]
fn a_foreign_rule_squatting_a_managed_name_is_an_error_for_that_rule_only() {
    let dir = expired_grant();
    let d = dir.path();
    // Someone hand-makes a rule with db-1's lock-down name but no marker, and drops jit's one.
    let mut live = live_json(d);
    let mut squatter = foreign_rule("jit-deny-db-1-ssh", "22", "*", 4001);
    squatter["id"] = json!(format!("{DB_NSG}/securityRules/jit-deny-db-1-ssh"));
    live["value"][1]["properties"]["securityRules"] = json!([squatter]);
    fs::write(
        d.join("live/nsgs.json"),
        serde_json::to_string_pretty(&live).unwrap(),
    )
    .unwrap();
    jit(d, &["apply", "--auto-approve", "--at", AFTER])
        .run()
        .code(1)
        .stdout_has("Apply incomplete! Resources: 0 added, 0 changed, 1 destroyed")
        .stderr_has("rule `jit-deny-db-1-ssh` in NSG `db-nsg` is not managed by jit");
    assert!(!rule_names(d).contains(&ALLOW.to_string()));
    assert_eq!(db_rules(d), [squatter], "the squatter is left alone");
}

#[test]
fn a_broken_target_still_has_its_grants_closed_and_its_lock_down_kept() {
    let dir = expired_grant();
    let d = dir.path();
    // web-1 gets a port with an error: the target is left out of the policy.
    let text = policy().replacen(
        "    max_duration    = \"3h\"\n  }\n}\n\ntarget \"db-1\"",
        "    max_duration    = \"3h\"\n  }\n  port \"bad\" {\n    number = 70000\n    max_duration = \"1h\"\n  }\n}\n\ntarget \"db-1\"",
        1,
    );
    assert!(text.contains("70000"), "{text}");
    fs::write(d.join("policy.hcl"), text).unwrap();
    fs::remove_file(d.join("requests/INC-1-alice.hcl")).unwrap();
    // The grant is still active at DURING: a broken target closes it all the same.
    jit(d, &["apply", "--auto-approve", "--at", DURING])
        .run()
        .code(1)
        .stderr_has("error[E023]")
        .stdout_has("Apply incomplete! Resources: 0 added, 0 changed, 1 destroyed");
    assert_eq!(rule_names(d), ["allow-http", "jit-deny-web-1-ssh"]);
}

#[test]
fn name_collisions_are_validation_errors() {
    let dir = lab(false);
    let d = dir.path();
    let request = |id: &str, port: &str| {
        crate::lifecycle::REQUEST
            .replace("INC-1-alice", id)
            .replace("[\"ssh\"]", &format!("[\"{port}\"]"))
    };
    add(d, "requests/a.hcl", &request("INC-9", "ssh"));
    add(d, "requests/b.hcl", &request("inc-9", "ssh"));
    jit(d, &["validate"])
        .run()
        .code(1)
        .stderr_has("error[E080]: request `inc-9` differs from request `INC-9` only in case")
        .stderr_has("requests/b.hcl:1:9")
        .stderr_has("the first is `INC-9`");
    fs::remove_file(d.join("requests/b.hcl")).unwrap();
    jit(d, &["validate"]).run().code(0);

    // `INC-9` on port `x-ssh` and `INC-9-x` on port `ssh` are both `jit-allow-INC-9-x-ssh`.
    let text = policy().replacen(
        "    max_duration    = \"3h\"\n  }\n}\n\ntarget \"db-1\"",
        "    max_duration    = \"3h\"\n  }\n  port \"x-ssh\" {\n    number          = 2222\n    allowed_sources = [\"198.51.100.0/24\"]\n    max_duration    = \"3h\"\n  }\n}\n\ntarget \"db-1\"",
        1,
    );
    fs::write(d.join("policy.hcl"), text).unwrap();
    add(d, "requests/a.hcl", &request("INC-9", "x-ssh"));
    add(d, "requests/c.hcl", &request("INC-9-x", "ssh"));
    jit(d, &["validate"])
        .run()
        .code(1)
        .stderr_has(
            "error[E081]: request `INC-9-x` port `ssh` compiles to rule `jit-allow-INC-9-x-ssh`, \
             as request `INC-9` port `x-ssh` does",
        )
        .stderr_has("requests/c.hcl:1:9");
    // A plan keeps closing access meanwhile, and opens neither.
    jit(d, &["plan", "--at", DURING])
        .run()
        .code(1)
        .stdout_lacks("security_rule \"web-nsg/jit-allow")
        .stdout_has("jit-deny-web-1-ssh");
}

/// A managed allow whose `expires=` has passed is revoked whatever else is wrong: even when its
/// grant was extended (which, without errors, updates the rule), a plan with errors deletes it.
#[test]
fn an_allow_past_its_expires_is_revoked_even_when_its_grant_was_extended() {
    let dir = expired_grant();
    let d = dir.path();
    let request = d.join("requests/INC-1-alice.hcl");
    let text = fs::read_to_string(&request)
        .unwrap()
        .replace("\"2h\"", "\"3h\"");
    fs::write(&request, text).unwrap();
    let at = "2026-11-25T16:30:00Z";
    jit(d, &["plan", "--at", at])
        .run()
        .code(0)
        .stdout_has(&format!("web-nsg/{ALLOW} will be updated in-place"));
    add(d, "requests/INC-3-dave.hcl", BROKEN);
    jit(d, &["apply", "--auto-approve", "--at", at])
        .run()
        .code(1)
        .stdout_has("request expired 30m ago")
        .stdout_has("Apply incomplete! Resources: 0 added, 0 changed, 1 destroyed");
    assert!(!rule_names(d).contains(&ALLOW.to_string()));
}
