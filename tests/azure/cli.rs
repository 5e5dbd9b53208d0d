//! End to end through the real `jit` binary against the emulator: the provider's `endpoint` is
//! the emulator, tokens come from a stand-in `az` on PATH (`AZURE_TOKEN_CREDENTIALS=
//! AzureCliCredential`) or from the emulator's token endpoint (client secret).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use crate::common::*;
use crate::emulator::{Emulator, EmulatorConfig, Fault, FaultKind, Trigger};
use crate::support::{config_dir, Run, TestCommand};

/// Before the grant starts, during it, after it. A live apply runs at the machine's clock
/// (`apply --at` far from it is refused), so the request's start moves instead: each phase puts
/// the machine's clock there, relative to when the tests began.
pub(crate) const BEFORE: &str = "before";
pub(crate) const DURING: &str = "during";
pub(crate) const AFTER: &str = "after";

static T0: std::sync::LazyLock<jiff::Timestamp> = std::sync::LazyLock::new(|| {
    jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap()
});

/// The request's start in `phase` (it lasts 2h).
fn start(phase: &str) -> String {
    let minutes = match phase {
        BEFORE => 60,
        DURING => -30,
        AFTER => -180,
        other => panic!("unknown phase {other}"),
    };
    (*T0 + jiff::SignedDuration::from_mins(minutes)).to_string()
}

pub(crate) fn policy(endpoint: &str) -> String {
    policy_at(endpoint, BEFORE)
}

pub(crate) fn policy_at(endpoint: &str, phase: &str) -> String {
    format!(
        r#"
provider "azure" "prod" {{
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

target "web-2" {{
  provider    = "azure.prod"
  nsg_id      = "{b}"
  destination = "10.0.1.5"
  port "ssh" {{
    number          = 22
    protocol        = "tcp"
    allowed_sources = ["198.51.100.0/24"]
    max_duration    = "3h"
  }}
  port "rdp" {{
    number          = 3389
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
  start         = "{start}"
  duration      = "2h"
}}
"#,
        a = nsg_id("a"),
        b = nsg_id("b"),
        start = start(phase),
    )
}

/// A config dir for the emulator, and a bin dir with a stand-in `az` printing a token it accepts.
pub(crate) struct Setup {
    dir: TempDir,
    bin: TempDir,
    endpoint: String,
}

pub(crate) fn setup(emu: &Emulator) -> Setup {
    setup_with(emu, &[("policy.hcl", &policy(&emu.base_url()))])
}

/// [`setup`] with other config files.
pub(crate) fn setup_with(emu: &Emulator, files: &[(&str, &str)]) -> Setup {
    let dir = config_dir(files);
    let bin = stand_in_az();
    Setup {
        dir,
        bin,
        endpoint: emu.base_url(),
    }
}

impl Setup {
    pub(crate) fn jit(&self, args: &[&str]) -> TestCommand {
        TestCommand::new(self.dir.path(), args)
            .env("PATH", self.path_env())
            .env("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")
    }

    /// `PATH` with the stand-in `az` first.
    pub(crate) fn path_env(&self) -> std::ffi::OsString {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths: Vec<PathBuf> = vec![self.bin.path().to_path_buf()];
        paths.extend(std::env::split_paths(&path));
        std::env::join_paths(paths).unwrap()
    }

    /// Moves the request so that the machine's clock is in `phase`.
    pub(crate) fn phase(&self, phase: &str) -> &Setup {
        std::fs::write(
            self.dir.path().join("policy.hcl"),
            policy_at(&self.endpoint, phase),
        )
        .unwrap();
        self
    }

    pub(crate) fn apply(&self, phase: &str) -> Run {
        self.phase(phase).jit(&["apply", "--auto-approve"]).run()
    }

    pub(crate) fn plan_exit(&self, phase: &str) -> Run {
        self.phase(phase)
            .jit(&["plan", "--detailed-exitcode"])
            .run()
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

pub(crate) fn managed_names(emu: &Emulator, nsg: &str) -> Vec<String> {
    let mut names: Vec<String> = stored_rules(emu, nsg)
        .iter()
        .filter(|r| {
            r["properties"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("managed-by=jit"))
        })
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

pub(crate) fn seeded(emu: &Emulator) -> (Vec<Value>, Vec<Value>) {
    (stored_rules(emu, "a"), stored_rules(emu, "b"))
}

pub(crate) fn foreign_untouched(emu: &Emulator, seeded: &(Vec<Value>, Vec<Value>)) {
    assert_foreign_untouched(emu, "a", &seeded.0);
    assert_foreign_untouched(emu, "b", &seeded.1);
}

#[test]
fn lock_down_grant_and_expiry_leave_foreign_rules_alone() {
    let emu = emulator_with(EmulatorConfig::fast(), &["a", "b"]);
    let seeded = seeded(&emu);
    let s = setup(&emu);

    s.plan_exit(BEFORE)
        .code(2)
        .stdout_has("Plan: 3 to add, 0 to change, 0 to destroy.");
    emu.reset_stats();
    s.jit(&["plan"]).run().code(0);
    assert_eq!(emu.stats().requests_by("GET"), 2, "plan: one GET per NSG");
    assert_eq!(emu.stats().requests_by("PUT"), 0, "plan writes nothing");

    s.apply(BEFORE)
        .code(0)
        .stdout_has("Apply complete! Resources: 3 added, 0 changed, 0 destroyed.");
    assert_eq!(managed_names(&emu, "a").len(), 1);
    assert_eq!(managed_names(&emu, "b").len(), 2);
    s.plan_exit(BEFORE).code(0);
    foreign_untouched(&emu, &seeded);

    s.apply(DURING).code(0).stdout_has("1 added");
    let allow: Vec<String> = managed_names(&emu, "a")
        .into_iter()
        .filter(|n| n.contains("allow"))
        .collect();
    assert_eq!(allow.len(), 1, "{:?}", managed_names(&emu, "a"));
    let rule = stored_rule(&emu, "a", &allow[0]).unwrap();
    assert_eq!(rule["properties"]["sourceAddressPrefix"], "198.51.100.7/32");
    assert_eq!(rule["properties"]["access"], "Allow");
    s.plan_exit(DURING).code(0);

    s.apply(AFTER).code(0).stdout_has("1 destroyed");
    assert!(managed_names(&emu, "a")
        .iter()
        .all(|n| !n.contains("allow")));
    s.plan_exit(AFTER).code(0);
    foreign_untouched(&emu, &seeded);
}

/// The clock is not an input to a live apply: `apply --at` inside a grant that ended an hour
/// ago is refused before anything is read or written (fresh and saved plans alike); within a
/// minute of the machine's clock it is accepted.
#[test]
fn apply_at_far_from_now_is_refused_before_any_request() {
    let emu = emulator_with(EmulatorConfig::fast(), &["a", "b"]);
    let seeded = seeded(&emu);
    let s = setup(&emu);
    s.phase(AFTER);
    let inside_ended_grant = (*T0 - jiff::SignedDuration::from_hours(2)).to_string();
    let plan = s.path().join("plan.json");
    // Previews may use any time.
    s.jit(&[
        "plan",
        "--out",
        plan.to_str().unwrap(),
        "--at",
        &inside_ended_grant,
    ])
    .run()
    .code(0)
    .stdout_has("4 to add");
    emu.reset_stats();
    for args in [
        vec!["apply", "--auto-approve", "--at", &inside_ended_grant],
        vec!["apply", plan.to_str().unwrap(), "--at", &inside_ended_grant],
    ] {
        s.jit(&args)
            .run()
            .code(1)
            .stderr_has("error: refusing to apply at `")
            .stderr_has("before this machine's clock")
            .stderr_has("provider `azure.prod` changes a real firewall")
            .stdout_lacks("Apply");
    }
    let stats = emu.stats();
    assert_eq!(
        (
            stats.requests_by("GET"),
            stats.requests_by("PUT"),
            stats.requests_by("DELETE")
        ),
        (0, 0, 0),
        "nothing read or written"
    );
    assert!(managed_names(&emu, "a").is_empty() && managed_names(&emu, "b").is_empty());
    assert!(audit_lines(&s).is_empty(), "no audit line claims an apply");
    foreign_untouched(&emu, &seeded);

    let near = (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(20)).to_string();
    s.jit(&["apply", "--auto-approve", "--at", &near])
        .run()
        .code(0)
        .stdout_has("3 added");
    assert!(audit_lines(&s).iter().all(|l| l["at"] == near.as_str()));
}

#[test]
fn a_saved_plan_is_refused_when_an_nsg_changed() {
    let emu = emulator_with(EmulatorConfig::fast(), &["a", "b"]);
    let s = setup(&emu);
    let plan = s.path().join("plan.json");
    s.jit(&["plan", "--out", plan.to_str().unwrap()])
        .run()
        .code(0);
    emu.edit_nsg(&nsg_id("a"), |nsg| {
        nsg["properties"]["securityRules"][0]["properties"]["priority"] = serde_json::json!(131);
    });
    emu.reset_stats();
    s.jit(&["apply", plan.to_str().unwrap()])
        .run()
        .code(1)
        .stderr_has("stale plan");
    assert_eq!(emu.stats().requests_by("PUT"), 0);
    // A fresh plan goes through.
    s.jit(&["plan", "--out", plan.to_str().unwrap()])
        .run()
        .code(0);
    s.jit(&["apply", plan.to_str().unwrap()]).run().code(0);
}

#[test]
fn client_secret_against_the_emulator_token_endpoint() {
    let emu = emulator_with(EmulatorConfig::fast(), &["a", "b"]);
    let s = setup(&emu);
    let run = |secret: &str| {
        TestCommand::new(s.path(), &["plan"])
            .env("AZURE_TOKEN_CREDENTIALS", "EnvironmentCredential")
            .env("AZURE_TENANT_ID", "tenant-1")
            .env("AZURE_CLIENT_ID", "client-1")
            .env("AZURE_CLIENT_SECRET", secret)
            .env("AZURE_AUTHORITY_HOST", emu.base_url())
            .run()
    };
    run("emulator-secret").code(0).stdout_has("3 to add");
    let bad = run("not-the-secret")
        .code(1)
        .stderr_has("EnvironmentCredential")
        .stderr_has("AADSTS");
    assert!(
        !bad.stderr.contains("not-the-secret"),
        "secret printed: {}",
        bad.stderr
    );
}

#[test]
fn no_credential_names_each_one_tried() {
    let emu = emulator_with(EmulatorConfig::fast(), &["a", "b"]);
    let s = setup(&emu);
    TestCommand::new(s.path(), &["plan"])
        .env("AZURE_TOKEN_CREDENTIALS", "prod")
        .env("JIT_IMDS_ENDPOINT", "http://127.0.0.1:9")
        .run()
        .code(1)
        .stderr_has(
            "EnvironmentCredential: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET not set",
        )
        .stderr_has("WorkloadIdentityCredential")
        .stderr_has("ManagedIdentityCredential");
}

#[test]
fn plain_http_endpoint_off_loopback_is_refused() {
    let s = config_dir(&[("policy.hcl", &policy("http://arm.example.com"))]);
    TestCommand::new(s.path(), &["plan"])
        .env("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")
        .run()
        .code(1)
        .stderr_has("loopback");
}

/// One cell of the fault matrix: the fault fires during `jit apply` (at BEFORE then DURING,
/// 4 writes in all); the apply may fail (exit 1 with a summary); a re-run converges.
fn fault_cell(
    name: &str,
    fault: Option<Fault>,
    config: EmulatorConfig,
    concurrent_edit: bool,
) -> Run {
    let emu = emulator_with(config, &["a", "b"]);
    let seeded = seeded(&emu);
    let s = setup(&emu);
    emu.set_faults(fault.into_iter().collect());
    let first = std::thread::scope(|scope| {
        if concurrent_edit {
            let emu = &emu;
            scope.spawn(move || {
                std::thread::sleep(Duration::from_millis(150));
                emu.edit_nsg(&nsg_id("b"), |nsg| {
                    nsg["properties"]["securityRules"][0]["properties"]["priority"] =
                        serde_json::json!(131);
                });
            });
        }
        s.apply(DURING)
    });
    match first.code {
        0 => assert!(
            first.stdout.contains("Apply complete!"),
            "{name}: {}",
            first.stdout
        ),
        1 => assert!(
            first.stdout.contains("Apply failed!") || first.stderr.contains("stale plan"),
            "{name}: exit 1 without a summary\n{}\n{}",
            first.stdout,
            first.stderr
        ),
        other => panic!("{name}: exit {other}\n{}\n{}", first.stdout, first.stderr),
    }
    emu.set_faults(vec![]);
    s.apply(DURING).code(0);
    s.plan_exit(DURING).code(0);
    assert_eq!(managed_names(&emu, "a").len(), 2, "{name}");
    assert_eq!(managed_names(&emu, "b").len(), 2, "{name}");
    if concurrent_edit {
        assert_foreign_untouched(&emu, "a", &seeded.0);
    } else {
        foreign_untouched(&emu, &seeded);
    }
    first
}

#[test]
fn fault_matrix_converges_on_re_run() {
    let kinds = [
        ("500", FaultKind::Status(500)),
        ("503", FaultKind::Status(503)),
        ("reset", FaultKind::ConnectionReset),
        ("latency", FaultKind::Latency(Duration::from_millis(300))),
        ("lro-failed", FaultKind::LroFailed),
        ("another-operation", FaultKind::AnotherOperation),
    ];
    let steps = [
        ("write", "PUT", "/securityRules/"),
        ("poll", "GET", "/operations/"),
        ("read", "GET", "/networkSecurityGroups/[^/]+$"),
        ("confirm", "GET", "/securityRules/"),
    ];
    // Each cell has its own emulator and mostly waits (backoff, Retry-After), so cells run in
    // parallel batches.
    let mut cells = Vec::new();
    for (kind_name, kind) in &kinds {
        for (step, method, path) in steps {
            if matches!(kind, FaultKind::LroFailed) && method != "PUT" {
                continue;
            }
            for nth in [1, 2, 4] {
                let name = format!("{kind_name} at {step} #{nth}");
                cells.push((
                    name,
                    Fault::new(method, path, Trigger::Nth(nth), kind.clone()),
                ));
            }
        }
    }
    for batch in cells.chunks(6) {
        std::thread::scope(|scope| {
            for (name, fault) in batch {
                scope.spawn(move || {
                    fault_cell(name, Some(fault.clone()), EmulatorConfig::fast(), false)
                });
            }
        });
    }
    // The fault every time: the apply fails with a summary, the re-run converges.
    std::thread::scope(|scope| {
        for (kind_name, kind) in &kinds {
            scope.spawn(move || {
                let name = format!("{kind_name} always on b");
                let fault = Fault::new(
                    "PUT",
                    "/networkSecurityGroups/b/",
                    Trigger::Always,
                    kind.clone(),
                );
                let first = fault_cell(&name, Some(fault), EmulatorConfig::fast(), false);
                if !matches!(kind, FaultKind::Latency(_)) {
                    assert_eq!(first.code, 1, "{name}\n{}", first.stdout);
                    assert!(
                        first.stdout.contains("Apply failed! Resources: 2 added")
                            && first.stdout.contains("1 failed, 1 not attempted"),
                        "{name}: NSG a applied, b failed then skipped\n{}\n{}",
                        first.stdout,
                        first.stderr
                    );
                }
            });
        }
    });
}

#[test]
fn throttling_and_a_concurrent_change_converge() {
    let mut config = EmulatorConfig::fast();
    config.time_scale = 50.0;
    config.throttle.writes.capacity = 1.0;
    config.throttle.reads.capacity = 3.0;
    fault_cell("throttled", None, config, false);
    // Another writer edits NSG b while jit's first PUT is held: a 412 or a stale NSG.
    let hold = Fault::new(
        "PUT",
        "/securityRules/",
        Trigger::Nth(1),
        FaultKind::Latency(Duration::from_millis(400)),
    );
    fault_cell(
        "concurrent change",
        Some(hold),
        EmulatorConfig::fast(),
        true,
    );
}

/// Another tool's rule, written into NSG b between jit's read and its write; it takes the
/// priority jit's first plan gave one of b's lock-down rules.
fn concurrent_rule() -> Value {
    serde_json::json!({"name": "other-tool-deny", "properties": {
        "description": "added by another pipeline", "protocol": "Tcp", "sourcePortRange": "*",
        "destinationPortRange": "8080", "sourceAddressPrefix": "*",
        "destinationAddressPrefix": "*", "access": "Deny", "priority": 4000,
        "direction": "Inbound"}})
}

/// Fires right after the 2nd GET of NSG b: for a saved plan, the apply's derivation (after the
/// plan's read), so the apply's own look before writing finds b moved.
fn edit_b_after_second_read() -> Fault {
    Fault::new(
        "GET",
        "/networkSecurityGroups/b$",
        Trigger::Nth(2),
        FaultKind::ConcurrentRule(concurrent_rule()),
    )
}

pub(crate) fn audit_lines(s: &Setup) -> Vec<Value> {
    std::fs::read_to_string(s.path().join(".jit/audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Fires right after the plan's read of NSG b: a fresh apply writes from that read (no GET
/// of its own), so its first write to b finds the priority it was planned with taken (400
/// SecurityRuleConflict).
fn edit_b_after_first_read() -> Fault {
    Fault::new(
        "GET",
        "/networkSecurityGroups/b$",
        Trigger::Nth(1),
        FaultKind::ConcurrentRule(concurrent_rule()),
    )
}

#[test]
fn a_fresh_apply_re_plans_an_nsg_changed_between_read_and_write() {
    let emu = emulator_with(EmulatorConfig::fast(), &["a", "b"]);
    let seeded = seeded(&emu);
    let s = setup(&emu);
    emu.set_faults(vec![edit_b_after_first_read()]);
    let run = s
        .apply(BEFORE)
        .code(0)
        .stdout_has("NSG `b` changed during apply; re-planned (round 1 of 3)")
        .stdout_has("Plan: 2 to add, 0 to change, 0 to destroy.")
        .stdout_has(
            "Apply complete! Resources: 3 added, 0 changed, 0 destroyed; 2 stale changes re-planned.",
        );
    assert!(!run.stderr.contains("error"), "{}", run.stderr);
    assert_eq!(emu.stats().faults_injected, 1);

    // b ends as the policy wants, around the other tool's rule, which is intact.
    assert_eq!(managed_names(&emu, "b").len(), 2);
    let other = stored_rule(&emu, "b", "other-tool-deny").expect("the other tool's rule");
    assert_eq!(other["properties"]["priority"], 4000);
    assert_eq!(
        other["properties"]["description"],
        "added by another pipeline"
    );
    for name in managed_names(&emu, "b") {
        let rule = stored_rule(&emu, "b", &name).unwrap();
        assert_ne!(
            rule["properties"]["priority"], 4000,
            "{name} took a used priority"
        );
    }
    foreign_untouched(&emu, &seeded);
    s.plan_exit(BEFORE).code(0);

    // The audit log: b's first attempt skipped as stale, its re-planned changes applied under
    // the re-plan's hash.
    let lines = audit_lines(&s);
    let on_b = |outcome: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| l["scope"] == nsg_id("b") && l["outcome"] == outcome)
            .collect()
    };
    let mut skipped = on_b("stale");
    skipped.extend(on_b("skipped"));
    let applied = on_b("applied");
    assert_eq!((skipped.len(), applied.len()), (2, 2), "{lines:#?}");
    assert!(skipped[0]["error"].as_str().unwrap().contains("stale"));
    assert_ne!(skipped[0]["plan_hash"], applied[0]["plan_hash"]);
    assert_eq!(lines.len(), 5, "and a's one create: {lines:#?}");
}

#[test]
fn a_saved_plan_fails_an_nsg_changed_between_read_and_write() {
    let emu = emulator_with(EmulatorConfig::fast(), &["a", "b"]);
    let s = setup(&emu);
    let plan = s.path().join("plan.json");
    emu.set_faults(vec![edit_b_after_second_read()]);
    s.jit(&["plan", "--out", plan.to_str().unwrap()])
        .run()
        .code(0);
    let run = s
        .jit(&["apply", plan.to_str().unwrap()])
        .run()
        .code(1)
        .stderr_has("stale plan: re-run jit plan (NSG `b` changed since the plan was made)")
        .stdout_has("Apply failed! Resources: 1 added");
    assert!(!run.stdout.contains("re-planned"), "{}", run.stdout);
    assert_eq!(emu.stats().faults_injected, 1);
    assert!(managed_names(&emu, "b").is_empty(), "nothing written to b");
    assert_eq!(managed_names(&emu, "a").len(), 1);
    assert!(stored_rule(&emu, "b", "other-tool-deny").is_some());
    assert_eq!(emu.stats().requests_by("PUT"), 1, "only a's create");
}

#[test]
fn a_fresh_apply_gives_up_on_an_nsg_that_keeps_changing() {
    let emu = emulator_with(EmulatorConfig::fast(), &["a", "b"]);
    let s = setup(&emu);
    // After every read of b, another writer takes the priority that read leaves free.
    let faults = (0..12)
        .map(|i| {
            // The priority the plan after read i gives b's first lock-down.
            let mut rule = concurrent_rule();
            rule["name"] = serde_json::json!(format!("other-tool-deny-{i}"));
            rule["properties"]["priority"] = serde_json::json!(4000 + i);
            Fault::new(
                "GET",
                "/networkSecurityGroups/b$",
                Trigger::Nth(1 + i as u64),
                FaultKind::ConcurrentRule(rule),
            )
        })
        .collect();
    emu.set_faults(faults);
    let run = s
        .apply(BEFORE)
        .code(1)
        .stdout_has("re-planned (round 3 of 3)")
        .stdout_has("Apply failed! Resources: 1 added, 0 changed, 0 destroyed; 0 failed, 2 not attempted; 6 stale changes re-planned.")
        .stderr_has("NSG `b` changed under jit in each of 3 re-plans; giving up");
    assert!(!run.stdout.contains("round 4"), "{}", run.stdout);
    assert!(managed_names(&emu, "b").is_empty(), "nothing written to b");
    assert_eq!(managed_names(&emu, "a").len(), 1);
}

/// `jit apply` writes from its own plan's read: one GET per NSG in all, none before writing
/// and none to confirm. `jit apply FILE` derives the plan again (one GET per NSG) and reads
/// each NSG it writes once more right before writing it.
#[test]
fn a_fresh_apply_writes_from_the_plans_read_and_a_saved_plan_reads_again() {
    let emu = emulator_with(EmulatorConfig::fast(), &["a", "b"]);
    let s = setup(&emu);
    emu.reset_stats();
    s.apply(BEFORE).code(0).stdout_has("3 added");
    let stats = emu.stats();
    assert_eq!(
        stats.kind("nsg_read"),
        2,
        "the plan's reads only: {stats:?}"
    );
    assert_eq!(stats.kind("rule_read"), 0, "no confirming GET: {stats:?}");
    assert_eq!(stats.kind("rule_write"), 3);

    // During the grant: one allow to add, in NSG a.
    s.phase(DURING);
    let plan = s.path().join("plan.json");
    s.jit(&["plan", "--out", plan.to_str().unwrap()])
        .run()
        .code(0)
        .stdout_has("1 to add");
    emu.reset_stats();
    s.jit(&["apply", plan.to_str().unwrap()])
        .run()
        .code(0)
        .stdout_has("1 added");
    let stats = emu.stats();
    assert_eq!(
        stats.kind("nsg_read"),
        2 + 1,
        "the derivation's reads, then a again before writing: {stats:?}"
    );
    assert_eq!(stats.kind("rule_write"), 1);
    s.plan_exit(DURING).code(0);
}

#[test]
fn plan_names_a_missing_nsg_and_suggests_the_near_one() {
    let emu = emulator_with(
        EmulatorConfig::fast(),
        &["a", "web-nsg", "db-nsg", "app-nsg", "mgmt-nsg"],
    );
    let s = setup(&emu);
    let text = policy(&emu.base_url()).replace(&nsg_id("b"), &nsg_id("web-nsgg"));
    std::fs::write(s.path().join("policy.hcl"), text).unwrap();
    // An error for that NSG only: NSG `a` is still planned (its lock-down, a narrowing change).
    s.jit(&["plan"])
        .run()
        .code(1)
        .stderr_has(&format!(
            "error: cannot read NSG `web-nsgg`: network security group not found: {}; did you \
             mean `web-nsg`?",
            nsg_id("web-nsgg")
        ))
        .stdout_has("a/jit-deny-web-1-ssh")
        .stdout_has("Plan incomplete (1 error): 1 to add");
}
