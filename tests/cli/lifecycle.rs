//! The life of a grant through the real binary, on temporary copies of a config and a snapshot:
//! lock-down, a grant opened and expired, saved plans refused when stale, findings, JSON shape,
//! `show`, `status`, the audit log, confirmation, `--target`, and the quickstart example.

use std::fs;
use std::path::Path;

use serde_json::{json, Value};

use crate::support::{config_dir, copy_dir, repo_path, TestCommand};

pub(crate) const WEB_NSG: &str =
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/web-nsg";
pub(crate) const DB_NSG: &str =
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/db-nsg";

/// Before the grant starts, during it, after it.
pub(crate) const BEFORE: &str = "2026-11-25T13:00:00Z";
pub(crate) const START: &str = "2026-11-25T14:00:00Z";
pub(crate) const DURING: &str = "2026-11-25T14:30:00Z";
pub(crate) const AFTER: &str = "2026-11-25T17:00:00Z";

pub(crate) fn policy() -> String {
    format!(
        r#"settings {{
  rule_prefix        = "jit"
  approvals_required = 1
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

target "db-1" {{
  provider    = "snapshot.lab"
  nsg_id      = "{DB_NSG}"
  destination = "10.0.2.4"

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

pub(crate) const REQUEST: &str = r#"request "INC-1-alice" {
  target        = "web-1"
  ports         = ["ssh"]
  source        = "198.51.100.7/32"
  requester     = "alice@example.com"
  approvers     = ["bob@example.com"]
  justification = "INC-1 investigate failed deploy"
  start         = "2026-11-25T14:00:00Z"
  duration      = "2h"
}
"#;

pub(crate) fn foreign_rule(name: &str, port: &str, source: &str, priority: u16) -> Value {
    json!({
        "name": name,
        "id": format!("{WEB_NSG}/securityRules/{name}"),
        "properties": {
            "provisioningState": "Succeeded",
            "protocol": "Tcp",
            "sourcePortRange": "*",
            "destinationPortRange": port,
            "sourceAddressPrefix": source,
            "destinationAddressPrefix": "*",
            "access": "Allow",
            "priority": priority,
            "direction": "Inbound",
            "x-owner": "web team"
        }
    })
}

pub(crate) fn nsg(id: &str, rules: Vec<Value>) -> Value {
    json!({
        "name": id.rsplit('/').next().unwrap(),
        "id": id,
        "type": "Microsoft.Network/networkSecurityGroups",
        "location": "westeurope",
        "properties": {"provisioningState": "Succeeded", "securityRules": rules}
    })
}

pub(crate) fn snapshot(web_rules: Vec<Value>) -> String {
    let doc = json!({"value": [nsg(WEB_NSG, web_rules), nsg(DB_NSG, vec![])]});
    serde_json::to_string_pretty(&doc).unwrap() + "\n"
}

/// A config with one foreign HTTP rule on web-1's NSG, and optionally the request.
pub(crate) fn lab(with_request: bool) -> tempfile::TempDir {
    let live = snapshot(vec![foreign_rule("allow-http", "80", "*", 300)]);
    let policy = policy();
    let mut files = vec![
        ("policy.hcl", policy.as_str()),
        ("live/nsgs.json", live.as_str()),
    ];
    if with_request {
        files.push(("requests/INC-1-alice.hcl", REQUEST));
    }
    config_dir(&files)
}

pub(crate) fn jit(dir: &Path, args: &[&str]) -> TestCommand {
    TestCommand::new(dir, args).env("JIT_ACTOR", "tester")
}

pub(crate) fn live_file(dir: &Path) -> String {
    fs::read_to_string(dir.join("live/nsgs.json")).unwrap()
}

pub(crate) fn live_json(dir: &Path) -> Value {
    serde_json::from_str(&live_file(dir)).unwrap()
}

pub(crate) fn web_rules(dir: &Path) -> Vec<Value> {
    live_json(dir)["value"][0]["properties"]["securityRules"]
        .as_array()
        .unwrap()
        .clone()
}

pub(crate) fn rule_names(dir: &Path) -> Vec<String> {
    web_rules(dir)
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

pub(crate) fn audit_lines(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn lock_down_then_no_changes() {
    let dir = lab(false);
    let d = dir.path();
    jit(d, &["plan", "--detailed-exitcode", "--at", BEFORE])
        .run()
        .code(2)
        .stdout_has("jit-deny-web-1-ssh")
        .stdout_has("jit-deny-db-1-ssh")
        .stdout_has("Plan: 2 to add, 0 to change, 0 to destroy.");
    let applied = jit(d, &["apply", "--auto-approve", "--at", BEFORE])
        .run()
        .code(0)
        .stdout_has("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.");
    assert!(
        !applied.stderr.contains("2/2"),
        "no progress bar off a terminal:\n{}",
        applied.stderr
    );
    jit(d, &["plan", "--detailed-exitcode", "--at", BEFORE])
        .run()
        .code(0)
        .stdout_has("No changes.");

    let rules = web_rules(d);
    assert_eq!(rules.len(), 2);
    // The foreign rule is untouched, unknown field included, and stays first.
    assert_eq!(rules[0], foreign_rule("allow-http", "80", "*", 300));
    let deny = &rules[1];
    assert_eq!(deny["name"], "jit-deny-web-1-ssh");
    assert_eq!(
        deny["id"],
        format!("{WEB_NSG}/securityRules/jit-deny-web-1-ssh")
    );
    assert_eq!(deny["properties"]["access"], "Deny");
    assert_eq!(deny["properties"]["destinationPortRange"], "22");
    assert_eq!(deny["properties"]["provisioningState"], "Succeeded");
    let priority = deny["properties"]["priority"].as_u64().unwrap();
    assert!((4000..=4095).contains(&priority), "{priority}");
}

#[test]
fn a_grant_opens_and_expires() {
    let dir = lab(true);
    let d = dir.path();
    jit(d, &["apply", "--auto-approve", "--at", DURING])
        .run()
        .code(0)
        .stdout_has("jit-allow-INC-1-alice-ssh")
        .stdout_has("Apply complete! Resources: 3 added, 0 changed, 0 destroyed.");
    let allow = web_rules(d)
        .into_iter()
        .find(|r| r["name"] == "jit-allow-INC-1-alice-ssh")
        .expect("allow rule written");
    assert_eq!(
        allow["properties"]["sourceAddressPrefix"],
        "198.51.100.7/32"
    );
    assert_eq!(allow["properties"]["access"], "Allow");
    let description = allow["properties"]["description"].as_str().unwrap();
    assert!(description.contains("request=INC-1-alice"), "{description}");
    assert!(
        description.contains("expires=2026-11-25T16:00:00Z"),
        "{description}"
    );
    jit(d, &["plan", "--detailed-exitcode", "--at", DURING])
        .run()
        .code(0)
        .stdout_has("No changes.");

    // Later, the grant has expired: its rule is removed, and only it.
    jit(d, &["plan", "--detailed-exitcode", "--at", AFTER])
        .run()
        .code(2)
        .stdout_has("jit-allow-INC-1-alice-ssh")
        .stdout_has("expired")
        .stdout_has("Plan: 0 to add, 0 to change, 1 to destroy.");
    jit(d, &["apply", "--auto-approve", "--at", AFTER])
        .run()
        .code(0)
        .stdout_has("Apply complete! Resources: 0 added, 0 changed, 1 destroyed.");
    assert_eq!(rule_names(d), ["allow-http", "jit-deny-web-1-ssh"]);
    jit(d, &["plan", "--detailed-exitcode", "--at", AFTER])
        .run()
        .code(0)
        .stdout_has("No changes.");
}

#[test]
fn saved_plan_is_refused_after_the_snapshot_changed() {
    let dir = lab(false);
    let d = dir.path();
    let (plan, saved) = save_plan(d, BEFORE);
    saved.stderr_has("Saved the plan to:");
    // Someone adds a rule by hand.
    let mut live = live_json(d);
    live["value"][0]["properties"]["securityRules"]
        .as_array_mut()
        .unwrap()
        .push(foreign_rule("allow-https", "443", "*", 301));
    let edited = serde_json::to_string_pretty(&live).unwrap();
    fs::write(d.join("live/nsgs.json"), &edited).unwrap();

    jit(d, &["apply", plan.to_str().unwrap(), "--at", BEFORE])
        .run()
        .code(1)
        .stderr_has("stale plan: re-run jit plan")
        .stderr_has("web-nsg");
    assert_eq!(live_file(d), edited, "nothing written");
    assert!(!d.join(".jit/audit.jsonl").exists());
}

#[test]
fn saved_plan_is_refused_after_valid_until() {
    let dir = lab(true);
    let d = dir.path();
    // Made before the grant starts: it is valid until the start.
    let (plan, _) = save_plan(d, BEFORE);
    let saved: Value = serde_json::from_str(&fs::read_to_string(&plan).unwrap()).unwrap();
    assert_eq!(saved["valid_until"], START);
    let before = live_file(d);
    jit(d, &["apply", plan.to_str().unwrap(), "--at", DURING])
        .run()
        .code(1)
        .stderr_has("stale plan: re-run jit plan");
    assert_eq!(live_file(d), before, "nothing written");

    // In time, the same plan applies exactly its actions.
    jit(
        d,
        &[
            "apply",
            plan.to_str().unwrap(),
            "--at",
            "2026-11-25T13:30:00Z",
        ],
    )
    .run()
    .code(0)
    .stdout_has("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.");
}

#[test]
fn exposure_finding_for_a_foreign_rule_ahead_of_the_lock_down() {
    let live = snapshot(vec![foreign_rule("ssh-anywhere", "22", "*", 200)]);
    let policy = policy();
    let dir = config_dir(&[("policy.hcl", &policy), ("live/nsgs.json", &live)]);
    let run = jit(dir.path(), &["plan", "--json", "--at", BEFORE])
        .run()
        .code(0);
    let plan: Value = serde_json::from_str(&run.stdout).unwrap();
    let exposures: Vec<&Value> = plan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "exposure")
        .collect();
    assert_eq!(exposures.len(), 1, "{}", run.stdout);
    assert_eq!(exposures[0]["resource"], "ssh-anywhere");
    // The finding is reported, never acted on: the foreign rule is in no change.
    for change in plan["resource_changes"].as_array().unwrap() {
        assert_ne!(change["index"], "web-nsg/ssh-anywhere");
    }
    jit(dir.path(), &["plan", "--at", BEFORE])
        .run()
        .code(0)
        .stdout_has("ssh-anywhere");
}

#[test]
fn corrupt_snapshot_is_a_clear_error() {
    let policy = policy();
    let dir = config_dir(&[
        ("policy.hcl", &policy),
        ("live/nsgs.json", "{\n  \"value\": [\n    {\"id\": \n"),
    ]);
    jit(dir.path(), &["plan", "--at", BEFORE])
        .run()
        .code(1)
        .stderr_has("live/nsgs.json")
        .stderr_has("invalid JSON at line 4");

    // An NSG that cannot be understood fails alone: the other is still locked down, and the
    // odd one is written back as it was.
    let odd = json!({"name": "odd", "properties": {
        "protocol": "Tcp", "access": "Allow", "direction": "Inbound"}});
    let no_priority = snapshot(vec![odd.clone()]);
    fs::write(dir.path().join("live/nsgs.json"), &no_priority).unwrap();
    jit(dir.path(), &["apply", "--auto-approve", "--at", BEFORE])
        .run()
        .code(1)
        .stderr_has("cannot read NSG `web-nsg`")
        .stderr_has("rule `odd`: missing `priority`")
        .stdout_has("Apply incomplete! Resources: 1 added");
    assert_eq!(web_rules(dir.path()), [odd]);

    fs::remove_file(dir.path().join("live/nsgs.json")).unwrap();
    jit(dir.path(), &["plan", "--at", BEFORE])
        .run()
        .code(1)
        .stderr_has("cannot read snapshot");
}

#[test]
fn json_plan_shape() {
    let dir = lab(true);
    let run = jit(dir.path(), &["plan", "--json", "--at", DURING])
        .run()
        .code(0);
    let plan: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(plan["format_version"], "1.2");
    assert_eq!(plan["terraform_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(plan["created_at"], DURING);
    assert_eq!(plan["valid_until"], "2026-11-25T16:00:00Z");
    assert!(plan["findings"].is_array());
    let changes = plan["resource_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 3);
    let allow = changes
        .iter()
        .find(|c| c["index"] == "web-nsg/jit-allow-INC-1-alice-ssh")
        .unwrap();
    assert_eq!(
        allow["address"],
        "azurerm_network_security_rule.jit[\"web-nsg/jit-allow-INC-1-alice-ssh\"]"
    );
    assert_eq!(allow["type"], "azurerm_network_security_rule");
    assert_eq!(allow["mode"], "managed");
    assert_eq!(allow["provider"], "snapshot.lab");
    assert_eq!(allow["change"]["actions"], json!(["create"]));
    assert_eq!(allow["change"]["before"], Value::Null);
    assert_eq!(
        allow["change"]["after"]["name"],
        "jit-allow-INC-1-alice-ssh"
    );
    assert_eq!(allow["change"]["after"]["access"], "Allow");
    assert_eq!(allow["change"]["after"]["destination_port_range"], "22");
    assert_eq!(
        allow["change"]["after"]["network_security_group_name"],
        "web-nsg"
    );
    assert_eq!(allow["action_reason"], "request_active");

    // After expiry, the delete carries `before` and no `after`.
    jit(dir.path(), &["apply", "--auto-approve", "--at", DURING])
        .run()
        .code(0);
    let run = jit(dir.path(), &["plan", "--json", "--at", AFTER])
        .run()
        .code(0);
    let plan: Value = serde_json::from_str(&run.stdout).unwrap();
    let delete = &plan["resource_changes"][0];
    assert_eq!(delete["change"]["actions"], json!(["delete"]));
    assert_eq!(delete["change"]["after"], Value::Null);
    assert_eq!(
        delete["change"]["before"]["name"],
        "jit-allow-INC-1-alice-ssh"
    );
    assert_eq!(delete["action_reason"], "request_expired");
}

#[test]
fn show_prints_a_saved_plan() {
    let dir = lab(true);
    let d = dir.path();
    let (plan, planned) = save_plan(d, DURING);
    let shown = jit(d, &["show", plan.to_str().unwrap()]).run().code(0);
    assert_eq!(shown.stdout, planned.stdout);
    let shown = jit(d, &["show", "--json", plan.to_str().unwrap()])
        .run()
        .code(0);
    assert_eq!(shown.stdout, fs::read_to_string(&plan).unwrap());

    fs::write(&plan, "{\"format_version\": \"1.0\", \"created_at\": ").unwrap();
    jit(d, &["show", plan.to_str().unwrap()])
        .run()
        .code(1)
        .stderr_has("plan.json")
        .stderr_has("truncated");
}

#[test]
fn status_lists_open_grants_and_flags_overdue_ones() {
    let dir = lab(true);
    let d = dir.path();
    jit(d, &["status", "--at", DURING])
        .run()
        .code(0)
        .stdout_has("No open grants");
    jit(d, &["apply", "--auto-approve", "--at", DURING])
        .run()
        .code(0);
    jit(d, &["status", "--at", DURING])
        .run()
        .code(0)
        .stdout_has("INC-1-alice")
        .stdout_has("web-1")
        .stdout_has("198.51.100.7/32")
        .stdout_has("1h 30m");
    // Nobody ran apply after the end: the rule is still open, overdue.
    jit(d, &["status", "--at", AFTER])
        .run()
        .code(0)
        .stdout_has("OVERDUE by 1h")
        .stderr_has("1 grant is past its expiry");
    let run = jit(d, &["status", "--json", "--at", AFTER]).run().code(0);
    let status: Value = serde_json::from_str(&run.stdout).unwrap();
    let grants = status["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["request"], "INC-1-alice");
    assert_eq!(grants[0]["overdue"], true);
    assert_eq!(grants[0]["seconds_left"], -3600);
}

#[test]
fn audit_log_has_one_line_per_action() {
    let dir = lab(true);
    let d = dir.path();
    jit(d, &["apply", "--auto-approve", "--at", DURING])
        .run()
        .code(0);
    let lines = audit_lines(&d.join(".jit/audit.jsonl"));
    assert_eq!(lines.len(), 3);
    for line in &lines {
        // A rehearsal on the snapshot: `time` is the machine's clock, `at` the simulated one.
        assert_eq!(line["at"], DURING);
        let time: jiff::Timestamp = line["time"].as_str().unwrap().parse().unwrap();
        assert!(
            time.duration_until(jiff::Timestamp::now()).abs() < jiff::SignedDuration::from_mins(5),
            "{time}"
        );
        assert_eq!(line["actor"], "tester");
        assert_eq!(line["action"], "create");
        assert_eq!(line["outcome"], "applied");
        assert!(line["plan_hash"].as_str().unwrap().starts_with("sha256:"));
        assert!(line.get("git_commit").is_none(), "not a repository");
    }
    let grant = lines
        .iter()
        .find(|l| l["resource"] == "jit-allow-INC-1-alice-ssh")
        .unwrap();
    assert_eq!(grant["request"], "INC-1-alice");
    assert_eq!(grant["requester"], "alice@example.com");
    assert_eq!(grant["approvers"], json!(["bob@example.com"]));
    assert_eq!(grant["justification"], "INC-1 investigate failed deploy");
    assert_eq!(grant["address"], "web-nsg/jit-allow-INC-1-alice-ssh");

    // A saved plan's hash is the hash of the file; --audit-log puts the log elsewhere.
    let plan = d.join("plan.json");
    let log = d.join("elsewhere/audit.jsonl");
    jit(d, &["plan", "--out", plan.to_str().unwrap(), "--at", AFTER])
        .run()
        .code(0);
    jit(
        d,
        &[
            "apply",
            plan.to_str().unwrap(),
            "--at",
            AFTER,
            "--audit-log",
            log.to_str().unwrap(),
        ],
    )
    .run()
    .code(0);
    let lines = audit_lines(&log);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["action"], "delete");
    assert_eq!(lines[0]["request"], "INC-1-alice");
    use sha2::Digest;
    let digest = sha2::Sha256::digest(fs::read(&plan).unwrap());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(lines[0]["plan_hash"], format!("sha256:{hex}"));
    assert_eq!(audit_lines(&d.join(".jit/audit.jsonl")).len(), 3);
}

#[test]
fn audit_log_names_the_git_commit() {
    let dir = lab(false);
    let d = dir.path();
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(d)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if !git(&["init", "-q"]) {
        return; // no git here
    }
    assert!(git(&["add", "."]) && git(&["commit", "-q", "-m", "policy"]));
    jit(d, &["apply", "--auto-approve", "--at", BEFORE])
        .run()
        .code(0);
    let lines = audit_lines(&d.join(".jit/audit.jsonl"));
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["git_commit"].as_str().unwrap().len(), 40);
}

#[test]
fn apply_off_a_terminal_needs_auto_approve() {
    let dir = lab(true);
    let d = dir.path();
    let before = live_file(d);
    jit(d, &["apply", "--at", DURING])
        .stdin("yes\n")
        .run()
        .code(1)
        .stdout_has("Plan: 3 to add")
        .stderr_has("refusing to apply without confirmation")
        .stderr_has("--auto-approve");
    assert_eq!(live_file(d), before);
    assert!(!d.join(".jit/audit.jsonl").exists());
}

#[test]
fn target_narrows_the_plan() {
    let dir = lab(true);
    let d = dir.path();
    jit(d, &["plan", "--target", "db-1", "--at", DURING])
        .run()
        .code(0)
        .stdout_has("jit-deny-db-1-ssh")
        .stdout_lacks("web-1")
        .stdout_has("Plan: 1 to add, 0 to change, 0 to destroy.");
    jit(
        d,
        &[
            "apply",
            "--auto-approve",
            "--target",
            "db-1",
            "--at",
            DURING,
        ],
    )
    .run()
    .code(0)
    .stdout_has("Resources: 1 added");
    assert_eq!(rule_names(d), ["allow-http"]);
    jit(d, &["plan", "--target", "web1", "--at", DURING])
        .run()
        .code(1)
        .stderr_has("unknown target `web1`; did you mean `web-1`?");
}

#[test]
fn quickstart_plans_as_documented() {
    // A copy, so nothing in the repository changes.
    let src = repo_path("examples/quickstart");
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&src, dir.path());
    let run = jit(
        dir.path(),
        &[
            "plan",
            "--detailed-exitcode",
            "--at",
            "2026-11-25T15:00:00Z",
        ],
    )
    .run()
    .code(2);
    insta::assert_snapshot!("quickstart_plan", run.stdout);
    jit(
        dir.path(),
        &["apply", "--auto-approve", "--at", "2026-11-25T15:00:00Z"],
    )
    .run()
    .code(0);
    jit(
        dir.path(),
        &[
            "plan",
            "--detailed-exitcode",
            "--at",
            "2026-11-25T15:00:00Z",
        ],
    )
    .run()
    .code(0);
    let run = jit(dir.path(), &["status", "--at", "2026-11-25T15:00:00Z"])
        .run()
        .code(0);
    // The FILE column (last) names the temporary copy.
    let shown = run
        .stdout
        .replace(&dir.path().display().to_string(), "<dir>");
    insta::assert_snapshot!("quickstart_status", shown);
}

#[test]
fn saved_plan_from_the_future_is_refused() {
    let dir = lab(true);
    let d = dir.path();
    let (plan, _) = save_plan(d, DURING);
    let before = live_file(d);
    // Applying it an hour early would open the grant before its start.
    jit(d, &["apply", plan.to_str().unwrap(), "--at", BEFORE])
        .run()
        .code(1)
        .stderr_has("stale plan: re-run jit plan")
        .stderr_has("later than now");
    assert_eq!(live_file(d), before);
}

/// A broken request keeps jit from opening anything, never from closing: plan and apply hold
/// only the narrowing changes (here the lock-downs), print the diagnostics and exit 1; status
/// (which only reports) refuses an invalid config.
#[test]
fn invalid_config_allows_only_narrowing_changes() {
    let dir = lab(false);
    let d = dir.path();
    fs::write(
        d.join("requests.hcl"),
        "request \"x\" {\n  target = \"nope\"\n}\n",
    )
    .unwrap();
    let before = live_file(d);
    jit(d, &["plan", "--detailed-exitcode", "--at", BEFORE])
        .run()
        .code(1)
        .stderr_has("requests.hcl:2:12")
        .stderr_has("error: invalid config: ")
        .stderr_has("holds only changes that close access")
        .stdout_has("Plan incomplete (")
        .stdout_has("2 to add, 0 to change, 0 to destroy.");
    jit(d, &["status"])
        .run()
        .code(1)
        .stderr_has("requests.hcl:")
        .stderr_has("invalid config");
    assert_eq!(live_file(d), before);
    jit(d, &["apply", "--auto-approve", "--at", BEFORE])
        .run()
        .code(1)
        .stdout_has("Apply incomplete! Resources: 2 added, 0 changed, 0 destroyed")
        .stderr_has("requests.hcl:2:12");
    assert_eq!(rule_names(d), ["allow-http", "jit-deny-web-1-ssh"]);
}

#[test]
fn usage_errors_exit_1_never_2() {
    let dir = lab(false);
    let d = dir.path();
    jit(d, &["plan", "--detailed-exitcode", "--bogus"])
        .run()
        .code(1)
        .stderr_has("--bogus");
    jit(d, &["plan", "--detailed-exitcode", "--at", "yesterday"])
        .run()
        .code(1)
        .stderr_has("yesterday");
    jit(d, &["apply", "plan.json", "--target", "web-1"])
        .run()
        .code(1)
        .stderr_has("cannot be used with");
    jit(d, &["plan", "--help"])
        .run()
        .code(0)
        .stdout_has("--detailed-exitcode");
}

/// A target whose live state jit cannot read must fail the run: a "No changes" there would
/// leave its ports open while the pipeline reports green. (nftables: tests/nftables/cli.rs,
/// inside namespaces of its own.)
#[test]
fn a_target_on_an_unreadable_provider_is_an_error_not_no_changes() {
    let defender = r#"
provider "azure" "sec" {
  subscription_id = "00000000-0000-0000-0000-000000000000"
  mode            = "defender"
}

target "vm" {
  provider = "azure.sec"
  vm_id    = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"
  port "rdp" {
    number          = 3389
    allowed_sources = ["10.0.0.0/8"]
    max_duration    = "1h"
  }
}
"#;
    // Defender mode is built: without a credential its policy cannot be read, an error too.
    let dir = config_dir(&[("policy.hcl", defender)]);
    jit(dir.path(), &["plan", "--detailed-exitcode"])
        .run()
        .code(1)
        .stderr_has("cannot read JIT policy `default`")
        .stdout_lacks("No changes");
}

/// `jit plan --out <d>/plan.json --at <at>`, which must succeed; the file's path and the run.
pub(crate) fn save_plan(d: &Path, at: &str) -> (std::path::PathBuf, crate::support::Run) {
    let plan = d.join("plan.json");
    let run = jit(d, &["plan", "--out", plan.to_str().unwrap(), "--at", at])
        .run()
        .code(0);
    (plan, run)
}
