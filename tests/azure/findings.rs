//! Drift and exposure fail the drift check, through the real `jit` binary against the ARM
//! emulator: exposure exit codes (0 without `--detailed-exitcode`, 2 with it, 1 on error),
//! exposures through application security groups (source and destination), an `accept`
//! block listing a foreign rule until it expires, and `status` flags with their exit codes.
//! Every run is checked to have written nothing: no PUT or DELETE reached the emulator and
//! every rule is stored exactly as seeded.

use std::path::PathBuf;

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::common::*;
use crate::emulator::{Emulator, EmulatorConfig};
use crate::support::{config_dir, Run, TestCommand};

const DURING: &str = "2026-11-25T14:30:00Z";
const AFTER: &str = "2026-11-25T17:00:00Z";

fn asg() -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Network/applicationSecurityGroups/ops-asg")
}

fn policy(endpoint: &str, extra: &str) -> String {
    format!(
        r#"provider "azure" "prod" {{
  subscription_id = "{SUB}"
  endpoint        = "{endpoint}"
}}

target "web-1" {{
  provider    = "azure.prod"
  nsg_id      = "{a}"
  destination = "10.0.1.4"
  port "ssh" {{
    number          = 22
    protocol        = "tcp"
    allowed_sources = ["198.51.100.0/24"]
    max_duration    = "3h"
  }}
}}

request "INC-1-alice" {{
  target        = "web-1"
  ports         = ["ssh"]
  source        = "198.51.100.7/32"
  requester     = "alice@example.com"
  approvers     = ["bob@example.com"]
  justification = "INC-1 investigate"
  start         = "2026-11-25T14:00:00Z"
  duration      = "2h"
}}
{extra}"#,
        a = nsg_id("a"),
    )
}

/// A rule as ARM stores it; `props` overrides the defaults (an inbound Tcp allow to port 22;
/// `null` removes a field).
fn rule(name: &str, priority: u16, props: Value) -> Value {
    let mut p = json!({
        "provisioningState": "Succeeded", "protocol": "Tcp", "sourcePortRange": "*",
        "destinationPortRange": "22", "sourceAddressPrefix": "*",
        "destinationAddressPrefix": "*", "access": "Allow", "priority": priority,
        "direction": "Inbound"
    });
    for (k, v) in props.as_object().unwrap() {
        if v.is_null() {
            p.as_object_mut().unwrap().remove(k);
        } else {
            p[k] = v.clone();
        }
    }
    json!({"name": name, "id": format!("{}/securityRules/{name}", nsg_id("a")),
        "etag": format!("W/\"{name}\""), "properties": p})
}

/// The lock-down jit makes for web-1's ssh.
fn lock_down() -> Value {
    rule(
        "jit-deny-web-1-ssh",
        4000,
        json!({"description": "managed-by=jit", "access": "Deny",
            "destinationAddressPrefix": "10.0.1.4"}),
    )
}

/// The allow rule jit makes for INC-1-alice, with `props` changed.
fn grant_rule(props: Value) -> Value {
    let mut r = rule(
        "jit-allow-INC-1-alice-ssh",
        100,
        json!({"description": "managed-by=jit; request=INC-1-alice; expires=2026-11-25T16:00:00Z",
            "sourceAddressPrefix": "198.51.100.7/32", "destinationAddressPrefix": "10.0.1.4"}),
    );
    for (k, v) in props.as_object().unwrap() {
        r["properties"][k] = v.clone();
    }
    r
}

fn internet(name: &str, priority: u16) -> Value {
    rule(name, priority, json!({"sourceAddressPrefix": "Internet"}))
}

struct Lab {
    emu: Emulator,
    dir: TempDir,
    bin: TempDir,
    seeded: Vec<Value>,
}

/// An emulator holding NSG `a` with `rules`, a config dir (the policy plus `extra` HCL) and a
/// stand-in `az` that prints a token the emulator accepts.
fn lab(rules: Vec<Value>, extra: &str) -> Lab {
    let emu = Emulator::start(EmulatorConfig::fast());
    emu.add_nsg(nsg_body("a", rules));
    let seeded = stored_rules(&emu, "a");
    let dir = config_dir(&[("policy.hcl", &policy(&emu.base_url(), extra))]);
    let bin = stand_in_az();
    Lab {
        emu,
        dir,
        bin,
        seeded,
    }
}

impl Lab {
    /// Runs `jit`, which may write.
    fn jit(&self, args: &[&str]) -> Run {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths: Vec<PathBuf> = vec![self.bin.path().to_path_buf()];
        paths.extend(std::env::split_paths(&path));
        TestCommand::new(self.dir.path(), args)
            .env("PATH", std::env::join_paths(paths).unwrap())
            .env("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")
            .run()
    }

    /// Runs `jit` and checks it wrote nothing to ARM nor to an audit log.
    fn run(&self, args: &[&str]) -> Run {
        self.emu.reset_stats();
        let run = self.jit(args);
        let stats = self.emu.stats();
        assert_eq!(
            stats.requests_by("PUT"),
            0,
            "`jit {}` wrote",
            args.join(" ")
        );
        assert_eq!(
            stats.requests_by("DELETE"),
            0,
            "`jit {}` deleted",
            args.join(" ")
        );
        assert_eq!(stored_rules(&self.emu, "a"), self.seeded, "rules changed");
        assert!(!self.dir.path().join(".jit/audit.jsonl").exists());
        run
    }
}

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

#[test]
fn an_exposure_through_arm_exits_2_with_the_flag_0_without_and_1_on_error() {
    let lab = lab(vec![lock_down(), internet("ssh-anywhere", 200)], "");
    lab.run(&["plan", "--at", DURING])
        .code(0)
        .stdout_has("Warning: exposure in NSG a")
        .stdout_has("rule `ssh-anywhere` (priority 200) opens port 22 (ssh of web-1) to `Internet`")
        .stdout_has("Plan: 1 to add, 0 to change, 0 to destroy. 1 finding needs attention.");
    lab.run(&["plan", "--detailed-exitcode", "--at", BEFORE_GRANT])
        .code(2)
        .stdout_has("No changes. 1 finding needs attention.");
    let plan = json_of(
        &lab.run(&[
            "plan",
            "--json",
            "--detailed-exitcode",
            "--at",
            BEFORE_GRANT,
        ])
        .code(2),
    );
    assert_eq!(plan["resource_changes"], json!([]));
    assert_eq!(plan["findings"][0]["resource"], "ssh-anywhere");
    // Without the exposure, nothing needs attention.
    let clean = self::lab(vec![lock_down()], "");
    clean
        .run(&["plan", "--detailed-exitcode", "--at", BEFORE_GRANT])
        .code(0)
        .stdout_has("No changes. Live state matches the policy.");
    // An error is 1, whatever the findings: another target's NSG does not exist (ARM 404).
    let web_2 = format!(
        r#"
target "web-2" {{
  provider = "azure.prod"
  nsg_id   = "{}"
  port "ssh" {{
    number       = 22
    max_duration = "3h"
  }}
}}
"#,
        nsg_id("gone")
    );
    let broken = self::lab(vec![lock_down(), internet("ssh-anywhere", 200)], &web_2);
    broken
        .run(&["plan", "--detailed-exitcode", "--at", BEFORE_GRANT])
        .code(1)
        .stderr_has("not found");
    broken
        .run(&["status", "--detailed-exitcode", "--at", BEFORE_GRANT])
        .code(1);
}

/// Before the grant starts: only the lock-down is desired.
const BEFORE_GRANT: &str = "2026-11-25T13:00:00Z";

#[test]
fn asg_rules_read_from_arm_are_exposures() {
    let from_asg = rule(
        "from-asg",
        200,
        json!({"sourceAddressPrefix": null, "sourceAddressPrefixes": [],
            "sourceApplicationSecurityGroups": [{"id": asg()}]}),
    );
    let to_asg = rule(
        "to-asg",
        210,
        json!({"sourceAddressPrefix": "Internet", "destinationAddressPrefix": null,
            "destinationAddressPrefixes": [],
            "destinationApplicationSecurityGroups": [{"id": asg(), "location": "westus"}]}),
    );
    let other_port = rule(
        "asg-https",
        220,
        json!({"destinationPortRange": "443", "sourceAddressPrefix": null,
            "sourceApplicationSecurityGroups": [{"id": asg()}]}),
    );
    let lab = lab(vec![lock_down(), from_asg, to_asg, other_port], "");
    lab.run(&["plan", "--detailed-exitcode", "--at", BEFORE_GRANT])
        .code(2)
        .stdout_has("rule `from-asg` (priority 200) opens port 22 (ssh of web-1) to application security group `ops-asg` ahead of its lock-down at priority 4000")
        .stdout_has("rule `to-asg` (priority 210) opens port 22 (ssh of web-1) to `Internet` through destination application security group `ops-asg` (it may hold the target)")
        .stdout_lacks("asg-https")
        .stdout_has("No changes. 2 findings need attention.");
    let status = json_of(&lab.run(&["status", "--json", "--at", BEFORE_GRANT]).code(0));
    let rules: Vec<&str> = status["exposures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["resource"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["from-asg", "to-asg"]);
}

#[test]
fn an_accepted_rule_on_arm_is_listed_until_it_expires() {
    let accept = format!(
        r#"
accept "lb-health-probe" {{
  nsg_id        = "{}"
  rule          = "allow-lb-probe-22"
  justification = "CHG-88 load balancer probes port 22"
  expires       = "2026-11-26T00:00:00Z"
}}
"#,
        nsg_id("a")
    );
    let lab = lab(
        vec![lock_down(), internet("allow-lb-probe-22", 200)],
        &accept,
    );
    lab.run(&["plan", "--detailed-exitcode", "--at", BEFORE_GRANT])
        .code(0)
        .stdout_has("Accepted: exposure in NSG a")
        .stdout_has("accepted by `lb-health-probe` until 2026-11-26T00:00:00Z: CHG-88")
        .stdout_has("No changes. Live state matches the policy.");
    lab.run(&["status", "--detailed-exitcode", "--at", BEFORE_GRANT])
        .code(0)
        .stdout_has("Accepted:");
    lab.run(&[
        "plan",
        "--detailed-exitcode",
        "--at",
        "2026-11-26T00:00:00Z",
    ])
    .code(2)
    .stdout_has("accept `lb-health-probe` expired at 2026-11-26T00:00:00Z")
    .stdout_has("No changes. 1 finding needs attention.");
    lab.run(&[
        "status",
        "--detailed-exitcode",
        "--at",
        "2026-11-26T00:00:00Z",
    ])
    .code(2)
    .stdout_has("Exposures:");
}

#[test]
fn status_on_arm_shows_people_and_flags_wider_and_overdue_grants() {
    let lab = lab(vec![lock_down(), grant_rule(json!({}))], "");
    lab.run(&["status", "--detailed-exitcode", "--at", DURING])
        .code(0)
        .stdout_has("alice@example.com")
        .stdout_has("bob@example.com")
        .stdout_lacks("WIDER");
    lab.run(&["status", "--detailed-exitcode", "--at", AFTER])
        .code(2)
        .stdout_has("OVERDUE");

    let wide = self::lab(
        vec![
            lock_down(),
            grant_rule(json!({"sourceAddressPrefix": "0.0.0.0/0", "protocol": "*"})),
        ],
        "",
    );
    wide.run(&["status", "--detailed-exitcode", "--at", DURING])
        .code(2)
        .stdout_has("WIDER than requested")
        .stdout_has("a/jit-allow-INC-1-alice-ssh of request `INC-1-alice`: source `0.0.0.0/0` (requested `198.51.100.7/32`), protocol `*` (requested `Tcp`)")
        .stderr_has("1 grant is wider than its request");
    wide.run(&["status", "--at", DURING]).code(0);
    let status = json_of(&wide.run(&["status", "--json", "--at", DURING]).code(0));
    let wider: Vec<&str> = status["grants"][0]["wider"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["property"].as_str().unwrap())
        .collect();
    assert_eq!(wider, ["source", "protocol"]);
    assert_eq!(status["grants"][0]["requester"], "alice@example.com");
}

#[test]
fn a_stray_asg_on_a_managed_rule_is_shown_and_put_back_through_arm() {
    let mut deny = lock_down();
    let props = deny["properties"].as_object_mut().unwrap();
    props.remove("sourceAddressPrefix");
    props.insert(
        "sourceApplicationSecurityGroups".into(),
        json!([{"id": asg()}]),
    );
    let lab = lab(vec![deny], "");
    lab.run(&["plan", "--detailed-exitcode", "--at", BEFORE_GRANT])
        .code(2)
        .stdout_has("# a/jit-deny-web-1-ssh will be updated in-place")
        .stdout_has(&format!(
            "~ source_application_security_group_ids = [\"{}\"] -> null",
            asg()
        ))
        .stdout_has("Plan: 0 to add, 1 to change, 0 to destroy.");
    // The grant of the policy has long ended by the machine's clock: only the lock-down moves.
    lab.jit(&["apply", "--auto-approve"])
        .code(0)
        .stdout_has("0 added, 1 changed, 0 destroyed");
    let stored = stored_rule(&lab.emu, "a", "jit-deny-web-1-ssh").unwrap();
    assert!(stored["properties"]
        .get("sourceApplicationSecurityGroups")
        .is_none());
    assert_eq!(stored["properties"]["sourceAddressPrefix"], "*");
    lab.jit(&["plan", "--detailed-exitcode"]).code(0);
}

#[test]
fn the_emulator_refuses_prefixes_beside_application_security_groups() {
    let emu = emulator_with(EmulatorConfig::fast(), &["a"]);
    let p = provider(&emu);
    let mut both = deny("jit-deny-web-1-ssh", 22, 4000);
    both.source_asgs = vec![asg()];
    let outcomes = std::sync::Mutex::new(Vec::new());
    read(&p, &[nsg_id("a")]).unwrap();
    batch_apply(&p, &[create("a", both)], &|written| {
        let mut outcomes = outcomes.lock().unwrap();
        outcomes.extend(written.iter().map(|(_, o)| format!("{o:?}")));
    })
    .unwrap();
    let outcomes = outcomes.into_inner().unwrap();
    assert!(
        outcomes[0].contains("SecurityRuleParametersMutuallyExclusive"),
        "{outcomes:?}"
    );
    assert!(stored_rule(&emu, "a", "jit-deny-web-1-ssh").is_none());
}
