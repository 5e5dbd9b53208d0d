//! The clock is not an input to a live apply: `apply --at` far from now is refused for providers
//! that change a real firewall (before anything is read or written), accepted on the snapshot
//! (an offline rehearsal, audited with the real `time` and the simulated `at`), and times out of
//! range or not RFC 3339 are clear errors, never a panic.

use jiff::{SignedDuration, Timestamp};

use crate::lab::{self, audit_lines, jit, read, request, DURING};
use crate::support::config_dir;

#[test]
fn apply_at_on_the_snapshot_is_a_rehearsal_audited_with_both_clocks() {
    let dir = lab::lab(&[("requests/a.hcl", &request("INC-1-alice", "198.51.100.7/32"))]);
    let d = dir.path();
    jit(d, &["apply", "--auto-approve", "--at", DURING])
        .run()
        .code(0)
        .stdout_has("Apply complete! Resources: 2 added");
    let lines = audit_lines(&d.join(".jit/audit.jsonl"));
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(line["at"], DURING, "{line}");
        let time: Timestamp = line["time"].as_str().unwrap().parse().unwrap();
        let off = time.duration_until(Timestamp::now()).abs();
        assert!(
            off < SignedDuration::from_mins(5),
            "time is the real clock: {time}"
        );
    }
    // Without `--at`, no `at`.
    jit(d, &["apply", "--auto-approve"]).run().code(0);
    let lines = audit_lines(&d.join(".jit/audit.jsonl"));
    assert!(
        lines.len() > 2,
        "the grant expired long ago: its rule is revoked"
    );
    assert!(
        lines[2..].iter().all(|l| l.get("at").is_none()),
        "{lines:?}"
    );
}

/// A target on an nftables provider: a live firewall, so `apply --at` an hour away is refused
/// before the provider is even opened (opening it would read this host's ruleset).
#[test]
fn apply_at_far_from_now_is_refused_for_a_live_firewall_kind() {
    let policy = r#"provider "nftables" "bastion" {
  table = "jit"
}

target "bastion" {
  provider = "nftables.bastion"
  port "ssh" {
    number          = 22
    allowed_sources = ["198.51.100.0/24"]
    max_duration    = "3h"
  }
}
"#;
    let dir = config_dir(&[("policy.hcl", policy)]);
    let d = dir.path();
    let an_hour_ago = (Timestamp::now() - SignedDuration::from_hours(1)).to_string();
    let run = jit(d, &["apply", "--auto-approve", "--at", &an_hour_ago])
        .env("PATH", "/nonexistent")
        .run()
        .code(1)
        .stderr_has("error: refusing to apply at `")
        .stderr_has("before this machine's clock")
        .stderr_has("provider `nftables.bastion` changes a real firewall")
        .stderr_has("hint: on a live firewall apply runs at the machine's time: drop `--at`");
    assert!(
        !run.stderr.contains("`nft`"),
        "refused first: {}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(!d.join(".jit").exists(), "no audit log");
}

/// Out of range or not RFC 3339: a usage error naming the value, exit 1, no panic, nothing
/// written, for every command that takes `--at`.
#[test]
fn at_out_of_range_or_not_rfc3339_is_a_clear_error() {
    let dir = lab::lab(&[("requests/a.hcl", &request("INC-1-alice", "198.51.100.7/32"))]);
    let d = dir.path();
    let before = read(&d.join("live/nsgs.json"));
    let cases = [
        (
            "9999-12-30T22:00:00Z",
            "time `9999-12-30T22:00:00Z` is out of range",
        ),
        ("9999-06-01T00:00:00Z", "is out of range"),
        ("1969-07-20T20:17:00Z", "is out of range"),
        (
            "2026-11-25 14:30:00Z",
            "time `2026-11-25 14:30:00Z` is not RFC 3339",
        ),
        ("2026-11-25T14:30Z", "is not RFC 3339"),
        ("2026-11-25T14:30:00+0100", "is not RFC 3339"),
        ("2026-11-25T14:30:00", "has no UTC offset"),
    ];
    for (at, message) in cases {
        for command in [
            &["plan", "--at", at][..],
            &["apply", "--auto-approve", "--at", at],
            &["status", "--at", at],
        ] {
            let run = jit(d, command).run().code(1).stderr_has(message);
            assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        }
    }
    assert_eq!(read(&d.join("live/nsgs.json")), before, "nothing written");
    assert!(!d.join(".jit").exists(), "no audit log");
}

/// The last instants jit accepts still plan and apply on the snapshot without overflowing.
#[test]
fn at_near_the_end_of_the_range_plans_and_applies() {
    let dir = lab::lab(&[("requests/a.hcl", &request("INC-1-alice", "198.51.100.7/32"))]);
    let d = dir.path();
    jit(d, &["plan", "--at", "9998-12-31T23:59:59Z"])
        .run()
        .code(0)
        .stdout_has("Plan: 1 to add");
    jit(
        d,
        &["apply", "--auto-approve", "--at", "9998-12-31T23:59:59Z"],
    )
    .run()
    .code(0);
    jit(d, &["status", "--at", "9998-12-31T23:59:59Z"])
        .run()
        .code(0);
}
