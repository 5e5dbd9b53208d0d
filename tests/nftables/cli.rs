//! The real `jit` binary run inside "server" (`ip netns exec`), with policy and request files
//! in a config dir: lock-down, grants over IPv4 and IPv6, the kernel closing a grant at its end
//! with jit not running, hand edits put back, `status` from the kernel, and clear refusals
//! when nft is missing or jit may not change the ruleset.

use std::path::Path;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::fixture::{now, request, POLICY};
use super::lab::{still_open, Lab, CLIENT4, CLIENT6, OTHER4, OTHER6};
use super::support::{config_dir, TestCommand};

fn write(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A config dir with the policy and request `id` for the client's IPv4 address.
fn granted(id: &str, start: Timestamp, duration: &str) -> tempfile::TempDir {
    let text = request(id, &format!("{CLIENT4}/32"), start, duration);
    config_dir(&[("policy.hcl", POLICY), ("requests/a.hcl", &text)])
}

/// `jit status --json` in "server".
fn status(lab: &Lab, dir: &Path) -> serde_json::Value {
    let run = jit(lab, dir, &["status", "--json"]).run().code(0);
    serde_json::from_str(&run.stdout).unwrap()
}

fn jit(lab: &Lab, dir: &Path, args: &[&str]) -> TestCommand {
    TestCommand::in_netns(&lab.server, dir, args).env("JIT_ACTOR", "tester")
}

#[test]
fn apply_locks_the_port_then_grants_each_source_over_both_families() {
    let Some(lab) = Lab::new("cli-grants") else {
        return;
    };
    let dir = config_dir(&[("policy.hcl", POLICY)]);
    let d = dir.path();
    assert!(lab.connect(OTHER4).is_some(), "open before jit");

    jit(&lab, d, &["plan", "--detailed-exitcode"])
        .run()
        .code(2)
        .stdout_has("+ resource \"jit_nftables_table\" \"jit/jit\"")
        .stdout_has("the table is missing");
    jit(&lab, d, &["apply", "--auto-approve"])
        .run()
        .code(0)
        .stdout_has("Apply complete!");
    assert!(lab.connect(CLIENT4).is_none(), "closed with no grant");
    assert!(lab.connect(CLIENT6).is_none(), "closed with no grant");

    let start = now() - SignedDuration::from_mins(1);
    write(
        d,
        "requests/v4.hcl",
        &request("INC-1-alice", &format!("{CLIENT4}/32"), start, "1h"),
    );
    write(
        d,
        "requests/v6.hcl",
        &request("INC-2-alice", &format!("{CLIENT6}/128"), start, "1h"),
    );
    jit(&lab, d, &["plan", "--detailed-exitcode"])
        .run()
        .code(2)
        .stdout_has("grants4_0:192.0.2.2/32 . tcp . 22")
        .stdout_has("grants6_0:2001:db8::2/128 . tcp . 22")
        .stdout_has("59m left");
    jit(&lab, d, &["apply", "--auto-approve"])
        .run()
        .code(0)
        .stdout_has("2 added");
    // The one transaction's outcomes, a line each in the audit log.
    let audit = std::fs::read_to_string(d.join(".jit/audit.jsonl")).unwrap();
    let elements: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("\"type\":\"jit_nftables_element\""))
        .collect();
    assert_eq!(elements.len(), 2, "{audit}");
    assert!(
        elements
            .iter()
            .all(|l| l.contains("\"outcome\":\"applied\"")),
        "{audit}"
    );
    assert!(lab.connect(CLIENT4).is_some(), "granted over IPv4");
    assert!(lab.connect(CLIENT6).is_some(), "granted over IPv6");
    assert!(lab.connect(OTHER4).is_none(), "an ungranted source");
    assert!(lab.connect(OTHER6).is_none(), "an ungranted source");
    jit(&lab, d, &["plan", "--detailed-exitcode"]).run().code(0);

    // `status` shows each grant with the kernel's remaining time.
    let doc = status(&lab, d);
    let grants = doc["grants"].as_array().expect("grants");
    assert_eq!(grants.len(), 2, "{doc}");
    let alice = grants
        .iter()
        .find(|g| g["request"] == "INC-1-alice")
        .expect("INC-1-alice");
    assert_eq!(alice["sources"][0], "192.0.2.2/32");
    let left = alice["seconds_left"].as_i64().unwrap();
    assert!((3000..=3540).contains(&left), "{left}");

    // Revoked early: the request file is gone; the next apply closes it, and only it.
    std::fs::remove_file(d.join("requests/v4.hcl")).unwrap();
    jit(&lab, d, &["apply", "--auto-approve"])
        .run()
        .code(0)
        .stdout_has("1 destroyed");
    assert!(lab.connect(CLIENT4).is_none(), "revoked");
    assert!(lab.connect(CLIENT6).is_some(), "the other grant stays");
}

#[test]
fn the_kernel_closes_a_grant_at_its_end_with_jit_not_running() {
    let Some(lab) = Lab::new("cli-expiry") else {
        return;
    };
    // A five-minute window that ends five seconds from now.
    let start = now() - SignedDuration::from_secs(5 * 60 - 5);
    let end = start + SignedDuration::from_mins(5);
    let dir = granted("INC-3-alice", start, "5m");
    let d = dir.path();
    jit(&lab, d, &["apply", "--auto-approve"]).run().code(0);
    let mut open = lab.connect(CLIENT4).expect("granted");
    assert!(lab.connect(OTHER4).is_none());

    let wait = (end - Timestamp::now()).as_secs_f64().max(0.0) + 0.3;
    std::thread::sleep(Duration::from_secs_f64(wait));
    assert!(
        lab.connect(CLIENT4).is_none(),
        "closed at the request's end"
    );
    assert!(
        still_open(&mut open),
        "a connection opened during the grant survives"
    );
    // Nothing is left for jit to do: the kernel removed the element.
    jit(&lab, d, &["plan", "--detailed-exitcode"]).run().code(0);
}

#[test]
fn hand_edits_to_jits_table_are_drift_and_put_back() {
    let Some(lab) = Lab::new("cli-drift") else {
        return;
    };
    let start = now() - SignedDuration::from_mins(1);
    let dir = granted("INC-4-alice", start, "1h");
    let d = dir.path();
    jit(&lab, d, &["apply", "--auto-approve"]).run().code(0);
    assert!(lab.connect(OTHER4).is_none());

    // A rule opening the port to everyone, inserted first in jit's chain.
    lab.nft_text(&[
        "insert", "rule", "inet", "jit", "input", "tcp", "dport", "22", "accept",
    ]);
    assert!(
        lab.connect(OTHER4).is_some(),
        "the hand edit opened the port"
    );
    jit(&lab, d, &["plan", "--detailed-exitcode"])
        .run()
        .code(2)
        .stdout_has("changed by hand")
        .stdout_has("is not jit's");
    jit(&lab, d, &["apply", "--auto-approve"]).run().code(0);
    assert!(lab.connect(OTHER4).is_none(), "put back");
    assert!(
        lab.connect(CLIENT4).is_some(),
        "the grant survives the rebuild"
    );

    // An element nobody granted, without a timeout.
    lab.nft_text(&[
        "add",
        "element",
        "inet",
        "jit",
        "grants4_0",
        "{ 192.0.2.3 . tcp . 22 }",
    ]);
    assert!(lab.connect(OTHER4).is_some());
    jit(&lab, d, &["plan", "--detailed-exitcode"])
        .run()
        .code(2)
        .stdout_has("no grant stands for it");
    jit(&lab, d, &["apply", "--auto-approve"])
        .run()
        .code(0)
        .stdout_has("1 destroyed");
    assert!(lab.connect(OTHER4).is_none(), "removed");
    assert!(lab.connect(CLIENT4).is_some());
    jit(&lab, d, &["plan", "--detailed-exitcode"]).run().code(0);

    // The grant's own element, re-added by hand to last ten hours.
    lab.nft_text(&[
        "delete",
        "element",
        "inet",
        "jit",
        "grants4_0",
        "{ 192.0.2.2 . tcp . 22 }",
    ]);
    lab.nft_text(&[
        "add",
        "element",
        "inet",
        "jit",
        "grants4_0",
        "{ 192.0.2.2 . tcp . 22 timeout 10h comment \"INC-4-alice\" }",
    ]);
    jit(&lab, d, &["plan", "--detailed-exitcode"])
        .run()
        .code(2)
        .stdout_has("longer than its grant");
    jit(&lab, d, &["apply", "--auto-approve"])
        .run()
        .code(0)
        .stdout_has("1 changed");
    let doc = status(&lab, d);
    let left = doc["grants"][0]["seconds_left"].as_i64().unwrap();
    assert!(left <= 59 * 60, "back to the grant's end: {left} s left");
    assert!(lab.connect(CLIENT4).is_some());
}

#[test]
fn a_saved_plan_applied_later_closes_its_grant_no_later_than_the_grant_ends() {
    let Some(lab) = Lab::new("cli-saved") else {
        return;
    };
    let start = now() - SignedDuration::from_mins(50);
    let dir = granted("INC-5-alice", start, "1h");
    let d = dir.path();
    let plan = d.join("plan.json");
    let plan_arg = plan.to_str().unwrap();
    jit(&lab, d, &["plan", "--out", plan_arg]).run().code(0);
    std::thread::sleep(Duration::from_secs(3));
    jit(&lab, d, &["apply", plan_arg]).run().code(0);
    assert!(lab.connect(CLIENT4).is_some());
    let doc = status(&lab, d);
    let left = doc["grants"][0]["seconds_left"].as_i64().unwrap();
    let grant_left = (start + SignedDuration::from_hours(1) - Timestamp::now()).as_secs();
    assert!(
        left <= grant_left,
        "the kernel keeps it {left} s, the grant has {grant_left} s"
    );
}

#[test]
fn no_nft_and_no_permission_are_refused_with_what_to_do_and_nothing_written() {
    let Some(lab) = Lab::new("cli-errors") else {
        return;
    };
    let start = now() - SignedDuration::from_mins(1);
    let dir = granted("INC-6-alice", start, "1h");
    let d = dir.path();
    // Outside the lab: without `nft` on PATH, jit cannot touch this host's ruleset.
    TestCommand::new(d, &["apply", "--auto-approve"])
        .env("PATH", "/nonexistent")
        .run()
        .code(1)
        .stderr_has("`nft` not found")
        .stderr_has("apt-get install nftables")
        .stderr_has("policy.hcl:1:1");
    // Root, but without CAP_NET_ADMIN.
    let mut cmd = assert_cmd::Command::new("ip");
    cmd.args([
        "netns",
        "exec",
        &lab.server,
        "setpriv",
        "--bounding-set=-net_admin",
        "--inh-caps=-net_admin",
    ])
    .arg(assert_cmd::cargo::cargo_bin("jit"))
    .args(["-C", d.to_str().unwrap(), "apply", "--auto-approve"])
    .env("NO_COLOR", "1");
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("run jit as root"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        lab.nft_text(&["list", "ruleset"]).trim(),
        "",
        "nothing was written"
    );
    assert!(lab.connect(OTHER4).is_some());
}

#[test]
fn a_broken_request_file_still_locks_the_port_and_opens_nothing() {
    let Some(lab) = Lab::new("cli-errors-plan") else {
        return;
    };
    let start = now() - SignedDuration::from_mins(1);
    let dir = config_dir(&[
        ("policy.hcl", POLICY),
        (
            "requests/a.hcl",
            &request("INC-7-alice", &format!("{CLIENT4}/32"), start, "1h"),
        ),
        (
            "requests/broken.hcl",
            "request \"INC-8-bob\" {\n  target = \"bastion\"\n",
        ),
    ]);
    let d = dir.path();
    assert!(lab.connect(OTHER4).is_some(), "open before jit");
    let run = jit(&lab, d, &["apply", "--auto-approve"]).run().code(1);
    assert!(run.stderr.contains("broken.hcl:"), "{}", run.stderr);
    assert!(
        lab.connect(OTHER4).is_none(),
        "the table was still created: closed"
    );
    assert!(
        lab.connect(CLIENT4).is_none(),
        "no grant opens while the configuration has errors"
    );
    // Fixed: the grant opens.
    std::fs::remove_file(d.join("requests/broken.hcl")).unwrap();
    jit(&lab, d, &["apply", "--auto-approve"]).run().code(0);
    assert!(lab.connect(CLIENT4).is_some());
}

#[test]
fn an_apply_waits_for_another_one_on_the_same_table() {
    let Some(lab) = Lab::new("cli-lock") else {
        return;
    };
    let dir = config_dir(&[("policy.hcl", POLICY)]);
    let d = dir.path().to_path_buf();
    // Another run holds the table's lock in "server".
    let held = super::lab::in_netns(&lab.server, || {
        jit::providers::nftables::lock::lock("jit").map_err(std::io::Error::other)
    })
    .expect("the lock");
    let server = lab.server.clone();
    let apply = std::thread::spawn(move || {
        TestCommand::in_netns(&server, &d, &["apply", "--auto-approve"])
            .env("JIT_ACTOR", "tester")
            .run()
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!apply.is_finished(), "the apply waits for the lock");
    assert!(lab.connect(OTHER4).is_some(), "nothing written meanwhile");
    drop(held);
    apply.join().unwrap().code(0).stdout_has("Apply complete!");
    assert!(
        lab.connect(OTHER4).is_none(),
        "applied once the lock was free"
    );
}

#[test]
fn the_bastion_example_plans_its_table_and_grant() {
    let Some(lab) = Lab::new("cli-example") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    super::support::copy_dir(&super::support::repo_path("examples/bastion"), dir.path());
    jit(
        &lab,
        dir.path(),
        &[
            "plan",
            "--at",
            "2026-11-25T15:00:00Z",
            "--detailed-exitcode",
        ],
    )
    .run()
    .code(2)
    .stdout_has("+ resource \"jit_nftables_table\" \"jit/jit\"")
    .stdout_has("+ resource \"jit_nftables_element\" \"jit/grants4_0:192.0.2.10/32 . tcp . 22\"")
    .stdout_has("INC-5120-alice, 1h left")
    .stdout_has("expires  = \"2026-11-25T16:00:00Z\"");
    assert_eq!(
        lab.nft_text(&["list", "ruleset"]).trim(),
        "",
        "a plan writes nothing"
    );
}
