//! Drift and exposure fail the drift check, through the real binary on a snapshot: findings
//! make `plan --detailed-exitcode` exit 2 (0 without the flag, 1 on error) and the summary
//! counts them; application security groups are exposures; an `accept` block lists a foreign
//! rule as accepted until it expires, and is validated at file:line:column; `status` shows
//! requester and approvers, flags grants wider than their request, lists exposures and exits 2
//! on them with `--detailed-exitcode`. Every run checks that nothing was written.

use std::fs;
use std::path::Path;

use serde_json::{json, Value};

use crate::support::{config_dir, Run, TestCommand};

const WEB_NSG: &str =
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/web-nsg";
const ASG: &str =
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/ops-asg";

const DURING: &str = "2026-11-25T14:30:00Z";
const AFTER: &str = "2026-11-25T17:00:00Z";

fn policy() -> String {
    format!(
        r#"settings {{
  approvals_required    = 1
  justification_pattern = "^(INC|CHG)-[0-9]+"
}}

provider "snapshot" "lab" {{
  path = "live/nsgs.json"
}}

target "web-1" {{
  provider    = "snapshot.lab"
  nsg_id      = "{WEB_NSG}"
  destination = "10.0.1.4"

  port "ssh" {{
    number          = 22
    protocol        = "tcp"
    allowed_sources = ["198.51.100.0/24"]
    max_duration    = "3h"
  }}
}}
"#
    )
}

const REQUEST: &str = r#"request "INC-1-alice" {
  target        = "web-1"
  ports         = ["ssh"]
  source        = "198.51.100.7/32"
  requester     = "alice@example.com"
  approvers     = ["bob@example.com", "carol@example.com"]
  justification = "INC-1 investigate failed deploy"
  start         = "2026-11-25T14:00:00Z"
  duration      = "2h"
}
"#;

fn accept(expires: &str) -> String {
    format!(
        r#"accept "lb-health-probe" {{
  nsg_id        = "{WEB_NSG}"
  rule          = "allow-lb-probe-22"
  justification = "CHG-88 load balancer probes port 22 until the migration"
  expires       = "{expires}"
}}
"#
    )
}

/// A rule in ARM's raw shape; `props` overrides the defaults (an inbound Tcp allow to port 22).
fn rule(name: &str, priority: u16, props: Value) -> Value {
    let mut p = json!({
        "provisioningState": "Succeeded",
        "protocol": "Tcp",
        "sourcePortRange": "*",
        "destinationPortRange": "22",
        "sourceAddressPrefix": "*",
        "destinationAddressPrefix": "*",
        "access": "Allow",
        "priority": priority,
        "direction": "Inbound"
    });
    for (k, v) in props.as_object().unwrap() {
        if v.is_null() {
            p.as_object_mut().unwrap().remove(k);
        } else {
            p[k] = v.clone();
        }
    }
    json!({"name": name, "id": format!("{WEB_NSG}/securityRules/{name}"), "properties": p})
}

/// The lock-down jit makes for web-1's ssh, so a plan without findings has no changes.
fn lock_down() -> Value {
    rule(
        "jit-deny-web-1-ssh",
        4000,
        json!({"description": "managed-by=jit", "access": "Deny",
            "destinationAddressPrefix": "10.0.1.4"}),
    )
}

/// The allow rule jit makes for INC-1-alice.
fn grant_rule() -> Value {
    rule(
        "jit-allow-INC-1-alice-ssh",
        100,
        json!({"description": "managed-by=jit; request=INC-1-alice; expires=2026-11-25T16:00:00Z",
            "sourceAddressPrefix": "198.51.100.7/32", "destinationAddressPrefix": "10.0.1.4"}),
    )
}

fn snapshot(rules: Vec<Value>) -> String {
    let doc = json!({"value": [{
        "name": "web-nsg",
        "id": WEB_NSG,
        "type": "Microsoft.Network/networkSecurityGroups",
        "location": "westeurope",
        "properties": {"provisioningState": "Succeeded", "securityRules": rules}
    }]});
    serde_json::to_string_pretty(&doc).unwrap() + "\n"
}

/// A config directory: the policy, the live snapshot and any other files.
fn lab(rules: Vec<Value>, extra: &[(&str, &str)]) -> tempfile::TempDir {
    let policy = policy();
    let live = snapshot(rules);
    let mut files = vec![
        ("policy.hcl", policy.as_str()),
        ("live/nsgs.json", live.as_str()),
    ];
    files.extend_from_slice(extra);
    config_dir(&files)
}

fn live_bytes(dir: &Path) -> Vec<u8> {
    fs::read(dir.join("live/nsgs.json")).unwrap()
}

/// Runs `jit` and checks that it wrote nothing: the snapshot's bytes are unchanged and no
/// audit log appeared.
fn read_only(dir: &Path, args: &[&str]) -> Run {
    let before = live_bytes(dir);
    let run = TestCommand::new(dir, args).run();
    assert_eq!(
        live_bytes(dir),
        before,
        "`jit {}` wrote the snapshot",
        args.join(" ")
    );
    assert!(
        !dir.join(".jit/audit.jsonl").exists(),
        "`jit {}` wrote an audit line",
        args.join(" ")
    );
    run
}

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// A foreign rule opening port 22 to `Internet`, at a priority of its own (from its name, so
/// two never clash) ahead of the lock-down.
fn exposure(name: &str) -> Value {
    let priority = 200 + name.bytes().map(u16::from).sum::<u16>() % 500;
    rule(name, priority, json!({"sourceAddressPrefix": "Internet"}))
}

#[test]
fn the_fixture_lock_down_and_grant_are_what_jit_would_make() {
    let dir = lab(
        vec![lock_down(), grant_rule()],
        &[("requests/a.hcl", REQUEST)],
    );
    read_only(dir.path(), &["plan", "--detailed-exitcode", "--at", DURING])
        .code(0)
        .stdout_has("No changes. Live state matches the policy.");
}

#[test]
fn an_exposure_exits_2_with_the_flag_and_0_without() {
    let dir = lab(vec![lock_down(), exposure("ssh-anywhere")], &[]);
    let d = dir.path();
    read_only(d, &["plan"])
        .code(0)
        .stdout_has("Warning: exposure in NSG web-nsg")
        .stdout_has("rule `ssh-anywhere` (priority ")
        .stdout_has("opens port 22 (ssh of web-1) to `Internet` ahead of its lock-down")
        .stdout_has("No changes. 1 finding needs attention.")
        .stdout_lacks("Live state matches the policy");
    read_only(d, &["plan", "--detailed-exitcode"])
        .code(2)
        .stdout_has("No changes. 1 finding needs attention.");
    // Terraform's single-dash spelling, and `status`, agree.
    read_only(d, &["plan", "-detailed-exitcode"]).code(2);
    read_only(d, &["status", "-detailed-exitcode"])
        .code(2)
        .stdout_has("Exposures:");
    // The JSON plan agrees.
    let run = read_only(d, &["plan", "--json", "--detailed-exitcode"]).code(2);
    let plan = json_of(&run);
    assert_eq!(plan["resource_changes"], json!([]));
    assert_eq!(plan["findings"][0]["kind"], "exposure");
    assert_eq!(plan["findings"][0]["resource"], "ssh-anywhere");
    assert!(plan.get("accepted").is_none(), "{plan}");
}

#[test]
fn several_findings_and_pending_changes_are_counted_together() {
    let dir = lab(vec![exposure("ssh-anywhere"), exposure("ssh-too")], &[]);
    let d = dir.path();
    read_only(d, &["plan", "--detailed-exitcode"])
        .code(2)
        .stdout_has("Plan: 1 to add, 0 to change, 0 to destroy. 2 findings need attention.");
    let dir = lab(
        vec![lock_down(), exposure("a"), exposure("b"), exposure("c")],
        &[],
    );
    read_only(dir.path(), &["plan"])
        .code(0)
        .stdout_has("No changes. 3 findings need attention.");
}

#[test]
fn overdue_and_priority_clash_are_findings_too() {
    // The grant ended at 16:00 and nobody applied: the rule is overdue and pending deletion.
    let dir = lab(
        vec![lock_down(), grant_rule()],
        &[("requests/a.hcl", REQUEST)],
    );
    read_only(dir.path(), &["plan", "--detailed-exitcode", "--at", AFTER])
        .code(2)
        .stdout_has("Warning: overdue grant")
        .stdout_has("Plan: 0 to add, 0 to change, 1 to destroy. 1 finding needs attention.");
    // Two foreign rules on one priority: nothing to change, still a finding.
    let clash = |name: &str| {
        rule(
            name,
            300,
            json!({"destinationPortRange": "80", "sourceAddressPrefix": "10.0.0.1"}),
        )
    };
    let dir = lab(vec![lock_down(), clash("a"), clash("b")], &[]);
    read_only(dir.path(), &["plan", "--detailed-exitcode"])
        .code(2)
        .stdout_has("Warning: priority clash")
        .stdout_has("No changes. 1 finding needs attention.");
}

#[test]
fn an_error_exits_1_even_with_findings() {
    let dir = lab(vec![lock_down(), exposure("ssh-anywhere")], &[]);
    let d = dir.path();
    fs::write(d.join("live/nsgs.json"), "{\"value\": [").unwrap();
    read_only(d, &["plan", "--detailed-exitcode"])
        .code(1)
        .stderr_has("nsgs.json");
    read_only(d, &["status", "--detailed-exitcode"]).code(1);
    // A broken config is an error too, not a finding.
    let dir = lab(
        vec![lock_down(), exposure("ssh-anywhere")],
        &[("bad.hcl", "target {")],
    );
    read_only(dir.path(), &["plan", "--detailed-exitcode"]).code(1);
}

#[test]
fn rules_with_application_security_groups_are_exposures() {
    let from_asg = rule(
        "from-asg",
        200,
        json!({"sourceAddressPrefix": null, "sourceApplicationSecurityGroups": [{"id": ASG}]}),
    );
    let to_asg = rule(
        "to-asg",
        210,
        json!({"sourceAddressPrefix": "Internet", "destinationAddressPrefix": null,
            "destinationApplicationSecurityGroups": [{"id": ASG}]}),
    );
    // An ASG rule on another port, or from an allowed source, is no exposure.
    let web_asg = rule(
        "web-asg",
        220,
        json!({"destinationPortRange": "443", "sourceAddressPrefix": null,
            "sourceApplicationSecurityGroups": [{"id": ASG}]}),
    );
    let office_to_asg = rule(
        "office-to-asg",
        230,
        json!({"sourceAddressPrefix": "198.51.100.0/26", "destinationAddressPrefix": null,
            "destinationApplicationSecurityGroups": [{"id": ASG}]}),
    );
    let dir = lab(
        vec![lock_down(), web_asg.clone(), office_to_asg.clone()],
        &[],
    );
    read_only(dir.path(), &["plan", "--detailed-exitcode"])
        .code(0)
        .stdout_has("No changes. Live state matches the policy.");

    let dir = lab(
        vec![lock_down(), from_asg, to_asg, web_asg, office_to_asg],
        &[],
    );
    let d = dir.path();
    read_only(d, &["plan", "--detailed-exitcode"])
        .code(2)
        .stdout_has("rule `from-asg` (priority 200) opens port 22 (ssh of web-1) to application security group `ops-asg` ahead of its lock-down at priority 4000")
        .stdout_has("rule `to-asg` (priority 210) opens port 22 (ssh of web-1) to `Internet` through destination application security group `ops-asg` (it may hold the target) ahead of its lock-down")
        .stdout_has("No changes. 2 findings need attention.");
    let plan = json_of(&read_only(d, &["plan", "--json"]).code(0));
    let rules: Vec<&str> = plan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["resource"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["from-asg", "to-asg"]);
}

#[test]
fn asg_rules_in_the_cli_flattened_shape_are_exposures_and_survive_an_apply_byte_for_byte() {
    // What `az network nsg show -o json` prints: no `properties`, every field at the top.
    let flat = json!({
        "name": "web-nsg", "id": WEB_NSG, "location": "westeurope", "resourceGroup": "rg",
        "securityRules": [{
            "name": "from-asg", "id": format!("{WEB_NSG}/securityRules/from-asg"),
            "access": "Allow", "direction": "Inbound", "priority": 200, "protocol": "*",
            "sourcePortRange": "*", "sourceAddressPrefixes": [],
            "sourceApplicationSecurityGroups": [{"id": ASG, "resourceGroup": "rg"}],
            "destinationPortRanges": ["22", "3389"], "destinationAddressPrefix": "10.0.1.4",
            "provisioningState": "Succeeded", "resourceGroup": "rg"
        }]
    });
    let text = serde_json::to_string_pretty(&flat).unwrap() + "\n";
    let policy = policy();
    let dir = config_dir(&[("policy.hcl", &policy), ("live/nsgs.json", &text)]);
    let d = dir.path();
    read_only(d, &["plan", "--detailed-exitcode"])
        .code(2)
        .stdout_has("to application security group `ops-asg`")
        .stdout_has("Plan: 1 to add, 0 to change, 0 to destroy. 1 finding needs attention.");
    // Applying the lock-down rewrites the file; the foreign ASG rule keeps its exact JSON.
    TestCommand::new(d, &["apply", "--auto-approve"])
        .run()
        .code(0);
    fs::remove_dir_all(d.join(".jit")).unwrap();
    let after: Value = serde_json::from_slice(&live_bytes(d)).unwrap();
    let rules = after["securityRules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0], flat["securityRules"][0]);
    let rendered = String::from_utf8(live_bytes(d)).unwrap();
    let foreign = serde_json::to_string_pretty(&flat["securityRules"][0]).unwrap();
    let indented: String = foreign
        .lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(rendered.contains(indented.trim_start()), "{rendered}");
    // The lock-down did not close the ASG rule's door: it is still an exposure.
    read_only(d, &["plan", "--detailed-exitcode"])
        .code(2)
        .stdout_has("No changes. 1 finding needs attention.");
}

#[test]
fn an_accepted_rule_is_listed_until_it_expires_then_is_a_finding_again() {
    let accepts = accept("2026-11-26T00:00:00Z");
    let dir = lab(
        vec![lock_down(), exposure("allow-lb-probe-22")],
        &[("accepts.hcl", &accepts)],
    );
    let d = dir.path();
    read_only(d, &["plan", "--detailed-exitcode", "--at", DURING])
        .code(0)
        .stdout_has("Accepted: exposure in NSG web-nsg")
        .stdout_has("rule `allow-lb-probe-22` (priority ")
        .stdout_has("accepted by `lb-health-probe` until 2026-11-26T00:00:00Z: CHG-88 load balancer probes port 22 until the migration")
        .stdout_has("No changes. Live state matches the policy.")
        .stdout_lacks("Warning:");
    let plan = json_of(&read_only(d, &["plan", "--json", "--at", DURING]).code(0));
    assert_eq!(plan["findings"], json!([]));
    let accepted = &plan["accepted"][0];
    assert_eq!(accepted["kind"], "exposure");
    assert_eq!(accepted["resource"], "allow-lb-probe-22");
    assert_eq!(accepted["scope"], WEB_NSG);
    assert_eq!(accepted["accept"], "lb-health-probe");
    assert_eq!(accepted["expires"], "2026-11-26T00:00:00Z");
    assert!(accepted["justification"]
        .as_str()
        .unwrap()
        .starts_with("CHG-88"));

    // At `expires` it needs attention again, and says which accept ran out.
    read_only(
        d,
        &[
            "plan",
            "--detailed-exitcode",
            "--at",
            "2026-11-26T00:00:00Z",
        ],
    )
    .code(2)
    .stdout_has("Warning: exposure in NSG web-nsg")
    .stdout_has("; accept `lb-health-probe` expired at 2026-11-26T00:00:00Z (0s ago)")
    .stdout_has("No changes. 1 finding needs attention.")
    .stdout_lacks("Accepted:")
    .stderr_has("warning[E093]: accept `lb-health-probe` expired at 2026-11-26T00:00:00Z")
    .stderr_has("accepts.hcl:5:19");

    // An accept covers only the rule it names.
    let dir = lab(
        vec![
            lock_down(),
            exposure("allow-lb-probe-22"),
            exposure("other"),
        ],
        &[("accepts.hcl", &accepts)],
    );
    read_only(dir.path(), &["plan", "--detailed-exitcode", "--at", DURING])
        .code(2)
        .stdout_has("Accepted: exposure")
        .stdout_has("rule `other`")
        .stdout_has("No changes. 1 finding needs attention.");
}

#[test]
fn an_expired_accept_is_a_warning_of_validate() {
    // 2026-11-26 is behind the machine's clock; 2999 is not.
    let accepts = accept("2026-11-26T00:00:00Z");
    let dir = lab(vec![lock_down()], &[("accepts.hcl", &accepts)]);
    let run = read_only(dir.path(), &["validate", "--format", "json"]).code(0);
    let diags = json_of(&run);
    // Besides E068, the warning that name approvals are not verified.
    let diags: Vec<&serde_json::Value> = diags
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] != "E068")
        .collect();
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = diags[0];
    assert_eq!(d["code"], "E093");
    assert_eq!(d["severity"], "warning");
    assert_eq!(at(d), ("accepts.hcl".to_string(), 5, 19));
    assert_eq!(
        d["message"],
        "accept `lb-health-probe` expired at 2026-11-26T00:00:00Z"
    );
    read_only(dir.path(), &["validate"])
        .code(0)
        .stderr_has("warning[E093]: accept `lb-health-probe` expired")
        .stderr_has("accepts.hcl:5:19")
        .stderr_has("(2 warnings)");
    let accepts = accept("2999-01-01T00:00:00Z");
    let dir = lab(vec![lock_down()], &[("accepts.hcl", &accepts)]);
    let diags = json_of(&read_only(dir.path(), &["validate", "--format", "json"]).code(0));
    let codes: Vec<&Value> = diags
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["code"])
        .collect();
    assert_eq!(codes, [&json!("E068")], "{diags}");
}

/// `jit validate --format json` on the policy plus `accepts.hcl` holding `text`: exit 1, and
/// the one diagnostic with `code`.
fn invalid(text: &str, code: &str) -> Value {
    let dir = lab(vec![lock_down()], &[("accepts.hcl", text)]);
    let run = read_only(dir.path(), &["validate", "--format", "json"]).code(1);
    let diags = json_of(&run);
    let found: Vec<&Value> = diags
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == code)
        .collect();
    assert_eq!(found.len(), 1, "{diags:#}");
    // `plan` refuses the same config before reading or writing anything.
    read_only(dir.path(), &["plan", "--detailed-exitcode"])
        .code(1)
        .stderr_has(&format!("[{code}]"));
    found[0].clone()
}

/// File name, line and column of a diagnostic (its path starts with the config directory).
fn at(d: &Value) -> (String, u64, u64) {
    (
        d["file"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string(),
        d["line"].as_u64().unwrap(),
        d["column"].as_u64().unwrap(),
    )
}

#[test]
fn accept_validation_errors_point_at_file_line_column() {
    let good = accept("2999-01-01T00:00:00Z");
    let file = "accepts.hcl".to_string();

    let d = invalid(&good.replace("web-nsg\"", "web-nsq\""), "E090");
    assert_eq!(at(&d), (file.clone(), 2, 19));
    assert!(d["message"]
        .as_str()
        .unwrap()
        .starts_with("no target names NSG `"));
    assert_eq!(d["hint"], format!("did you mean `{WEB_NSG}`?"));

    let d = invalid(
        &good.replace(
            "resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/web-nsg",
            "x",
        ),
        "E031",
    );
    assert_eq!(at(&d), (file.clone(), 2, 19));
    assert_eq!(
        d["message"],
        "`nsg_id` is not a Microsoft.Network/networkSecurityGroups resource id"
    );

    let d = invalid(&good.replace("2999-01-01T00:00:00Z", "2999-01-01"), "E022");
    assert_eq!(at(&d), (file.clone(), 5, 19));

    let d = invalid(&good.replace("CHG-88 load", "load"), "E092");
    assert_eq!(at(&d), (file.clone(), 4, 19));
    assert!(
        d["hint"].as_str().unwrap().contains("policy.hcl:3:27"),
        "{d}"
    );

    let d = invalid(
        &good.replace("allow-lb-probe-22", "../../other/open-all"),
        "E094",
    );
    assert_eq!(at(&d), (file.clone(), 3, 19));

    let d = invalid(
        &good.replace(
            "  justification = \"CHG-88 load balancer probes port 22 until the migration\"\n",
            "",
        ),
        "E013",
    );
    assert_eq!(at(&d), (file.clone(), 1, 1));
    assert_eq!(
        d["message"],
        "accept `lb-health-probe` is missing `justification`"
    );

    let d = invalid(&good.replace("  rule ", "  rules"), "E012");
    assert_eq!(d["hint"], "did you mean `rule`?");

    let twice = format!("{good}\n{}", good.replace("allow-lb-probe-22", "other"));
    let d = invalid(&twice, "E091");
    assert_eq!(at(&d), (file.clone(), 8, 8));
    assert_eq!(d["message"], "accept `lb-health-probe` is declared twice");
    assert!(
        d["hint"].as_str().unwrap().ends_with("/accepts.hcl:1:8"),
        "{d}"
    );

    let same_rule = format!(
        "{good}\n{}",
        good.replace("\"lb-health-probe\"", "\"again\"")
    );
    let d = invalid(&same_rule, "E091");
    assert_eq!(at(&d), (file.clone(), 10, 19));
    assert_eq!(
        d["message"],
        "rule `allow-lb-probe-22` of this NSG is accepted twice"
    );

    let d = invalid("acept \"x\" {}\n", "E010");
    assert_eq!(d["hint"], "did you mean `accept`?");
}

#[test]
fn fmt_formats_an_accept_block_and_keeps_its_comments() {
    let ugly = format!(
        "accept \"lb\" {{\nnsg_id=\"{WEB_NSG}\"   # the web NSG\n  rule = \"allow-lb-probe-22\"\n\n    justification = \"CHG-88 probes\"\nexpires = \"2999-01-01T00:00:00Z\"\n}}\n"
    );
    let pretty = format!(
        "accept \"lb\" {{\n  nsg_id = \"{WEB_NSG}\" # the web NSG\n  rule   = \"allow-lb-probe-22\"\n\n  justification = \"CHG-88 probes\"\n  expires       = \"2999-01-01T00:00:00Z\"\n}}\n"
    );
    let dir = lab(vec![lock_down()], &[("accepts.hcl", &ugly)]);
    TestCommand::new(dir.path(), &["fmt", "--check"])
        .run()
        .code(1);
    TestCommand::new(dir.path(), &["fmt"]).run().code(0);
    assert_eq!(
        fs::read_to_string(dir.path().join("accepts.hcl")).unwrap(),
        pretty
    );
    TestCommand::new(dir.path(), &["fmt", "--check"])
        .run()
        .code(0);
    read_only(dir.path(), &["validate"]).code(0);
}

#[test]
fn the_schema_knows_the_accept_block() {
    let dir = config_dir(&[]);
    let run = TestCommand::new(dir.path(), &["schema", "policy"])
        .run()
        .code(0);
    let schema: Value = serde_json::from_str(&run.stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let doc: Value = hcl::from_str(&accept("2027-01-31T00:00:00Z")).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let with = |key: &str, value: Value| {
        let mut d = doc.clone();
        d["accept"]["lb-health-probe"][key] = value;
        d
    };
    let without = |key: &str| {
        let mut d = doc.clone();
        d["accept"]["lb-health-probe"]
            .as_object_mut()
            .unwrap()
            .remove(key);
        d
    };
    for (what, bad) in [
        ("no expires", without("expires")),
        ("no justification", without("justification")),
        (
            "expires without offset",
            with("expires", json!("2027-01-31")),
        ),
        ("nsg id", with("nsg_id", json!("web-nsg"))),
        ("rule name", with("rule", json!("a/b"))),
        ("unknown attribute", with("owner", json!("x"))),
    ] {
        assert!(!validator.is_valid(&bad), "accepted: {what}: {bad}");
    }
}

#[test]
fn status_shows_who_asked_and_who_approved() {
    let dir = lab(
        vec![lock_down(), grant_rule()],
        &[("requests/a.hcl", REQUEST)],
    );
    let d = dir.path();
    read_only(d, &["status", "--detailed-exitcode", "--at", DURING])
        .code(0)
        .stdout_has("REQUESTER")
        .stdout_has("APPROVERS")
        .stdout_has("alice@example.com")
        .stdout_has("bob@example.com,carol@example.com")
        .stdout_has("1h 30m")
        .stdout_lacks("WIDER")
        .stdout_lacks("Exposures:");
    let status = json_of(&read_only(d, &["status", "--json", "--at", DURING]).code(0));
    let g = &status["grants"][0];
    assert_eq!(g["request"], "INC-1-alice");
    assert_eq!(g["requester"], "alice@example.com");
    assert_eq!(
        g["approvers"],
        json!(["bob@example.com", "carol@example.com"])
    );
    assert_eq!(g["wider"], json!([]));
    assert_eq!(status["exposures"], json!([]));
    // Overdue needs attention.
    read_only(d, &["status", "--detailed-exitcode", "--at", AFTER])
        .code(2)
        .stdout_has("OVERDUE by 1h")
        .stderr_has("1 grant is past its expiry");
    read_only(d, &["status", "--at", AFTER]).code(0);
}

#[test]
fn status_flags_a_grant_wider_than_its_request() {
    let cases = [
        (
            json!({"sourceAddressPrefix": "0.0.0.0/0"}),
            "source `0.0.0.0/0` (requested `198.51.100.7/32`)",
            "source",
        ),
        (
            json!({"destinationPortRange": "20-30"}),
            "port `20-30` (requested `22`)",
            "port",
        ),
        (
            json!({"protocol": "*"}),
            "protocol `*` (requested `Tcp`)",
            "protocol",
        ),
        (
            json!({"destinationAddressPrefix": "10.0.0.0/16"}),
            "destination `10.0.0.0/16` (requested `10.0.1.4`)",
            "destination",
        ),
    ];
    for (change, words, property) in cases {
        let mut widened = grant_rule();
        for (k, v) in change.as_object().unwrap() {
            widened["properties"][k] = v.clone();
        }
        let dir = lab(vec![lock_down(), widened], &[("requests/a.hcl", REQUEST)]);
        let d = dir.path();
        read_only(d, &["status", "--detailed-exitcode", "--at", DURING])
            .code(2)
            .stdout_has("1h 30m, WIDER than requested")
            .stdout_has("Wider than requested:")
            .stdout_has(&format!(
                "web-nsg/jit-allow-INC-1-alice-ssh of request `INC-1-alice`: {words}"
            ))
            .stderr_has(&format!(
                "1 grant is wider than its request; `jit -C {} apply` restores it",
                d.display()
            ));
        read_only(d, &["status", "--at", DURING]).code(0);
        let status = json_of(&read_only(d, &["status", "--json", "--at", DURING]).code(0));
        assert_eq!(status["grants"][0]["wider"][0]["property"], property);
        // The plan puts it back.
        read_only(d, &["plan", "--at", DURING])
            .code(0)
            .stdout_has("Plan: 0 to add, 1 to change, 0 to destroy.");
    }
}

#[test]
fn status_lists_exposures_and_accepted_rules() {
    let accepts = accept("2026-11-26T00:00:00Z");
    let dir = lab(
        vec![
            lock_down(),
            exposure("ssh-anywhere"),
            exposure("allow-lb-probe-22"),
        ],
        &[("accepts.hcl", &accepts)],
    );
    let d = dir.path();
    read_only(d, &["status", "--detailed-exitcode", "--at", DURING])
        .code(2)
        .stdout_has("No open grants in live state.")
        .stdout_has("Exposures:\n  NSG web-nsg: rule `ssh-anywhere` (priority ")
        .stdout_has("Accepted:\n  NSG web-nsg: rule `allow-lb-probe-22` accepted by `lb-health-probe` until 2026-11-26T00:00:00Z")
        .stderr_has("1 exposure found");
    let status = json_of(&read_only(d, &["status", "--json", "--at", DURING]).code(0));
    assert_eq!(status["exposures"].as_array().unwrap().len(), 1);
    assert_eq!(status["exposures"][0]["resource"], "ssh-anywhere");
    assert_eq!(status["accepted"][0]["accept"], "lb-health-probe");
    // Only the accepted rule left: nothing needs attention until the accept expires.
    let dir = lab(
        vec![lock_down(), exposure("allow-lb-probe-22")],
        &[("accepts.hcl", &accepts)],
    );
    read_only(
        dir.path(),
        &["status", "--detailed-exitcode", "--at", DURING],
    )
    .code(0);
    read_only(
        dir.path(),
        &[
            "status",
            "--detailed-exitcode",
            "--at",
            "2026-11-26T00:00:01Z",
        ],
    )
    .code(2)
    .stdout_has("accept `lb-health-probe` expired at");
}

#[test]
fn the_drift_cron_reports_before_it_repairs() {
    let text = fs::read_to_string(crate::support::repo_path(
        "examples/pipelines/jit-drift-cron.yml",
    ))
    .unwrap();
    let report = text
        .find("plan --detailed-exitcode")
        .expect("the cron reports drift");
    let repair = text.find("apply --auto-approve").expect("the cron repairs");
    assert!(
        report < repair,
        "the cron must report drift before it repairs it"
    );
    // Exit 2 opens an issue and fails the job; exit 1 stops before anything is applied.
    assert!(text.contains("if: steps.drift.outputs.code == '2'"));
    assert!(text.contains("gh issue create"));
    let fail = text.rfind("exit 1").unwrap();
    assert!(fail > repair, "the job fails on drift after the repair");
}

#[test]
fn status_with_an_nsg_it_cannot_find_is_an_error() {
    let dir = lab(vec![lock_down(), exposure("ssh-anywhere")], &[]);
    let d = dir.path();
    let other = policy()
        .replace("target \"web-1\"", "target \"web-2\"")
        .replace("web-nsg", "gone-nsg")
        .replace("settings {", "settings_unused {");
    let other = other[other.find("target").unwrap()..].to_string();
    fs::write(d.join("web-2.hcl"), other).unwrap();
    read_only(d, &["status", "--detailed-exitcode"])
        .code(1)
        .stderr_has("NSG not found")
        .stderr_has("gone-nsg");
    read_only(d, &["status"]).code(1);
}
