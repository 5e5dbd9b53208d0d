//! Risky input is an error or a warning, never silent, through `jit validate`: the exit code,
//! the code and the file:line:column of each rule (E070–E075); and a grant open to any source
//! is accepted when written out and warned about in the text and JSON plan (E077).

use serde_json::Value;

use crate::lab::{self, jit, request, DURING};
use crate::support::{config_dir, Run};

fn validate(files: &[(&str, &str)]) -> Run {
    let dir = config_dir(files);
    jit(dir.path(), &["validate"]).run()
}

fn policy() -> String {
    lab::policy("live/nsgs.json", "web-nsg", r#"["198.51.100.0/24"]"#)
}

#[test]
fn host_bits_are_an_error_with_both_corrections() {
    let policy = policy();
    validate(&[
        ("policy.hcl", &policy),
        ("req.hcl", &request("INC-1-alice", "198.51.100.7/24")),
    ])
    .code(1)
    .stderr_has("error[E070]: CIDR `198.51.100.7/24` has host bits set")
    .stderr_has("/req.hcl:4:19")
    .stderr_has("hint: write the network `198.51.100.0/24`, or the single host `198.51.100.7/32`");
    let policy = lab::policy("live/nsgs.json", "web-nsg", r#"["198.51.100.9/24"]"#);
    validate(&[("policy.hcl", &policy)])
        .code(1)
        .stderr_has("error[E070]: CIDR `198.51.100.9/24` has host bits set")
        .stderr_has("/policy.hcl:13:24");
}

#[test]
fn a_source_of_another_family_is_an_error() {
    let policy = lab::policy(
        "live/nsgs.json",
        "web-nsg",
        r#"["198.51.100.0/24", "2001:db8::/48"]"#,
    );
    validate(&[
        ("policy.hcl", &policy),
        ("req.hcl", &request("INC-1-alice", "2001:db8::7")),
    ])
    .code(1)
    .stderr_has("error[E071]: source `2001:db8::7/128` is IPv6 but target `web-1` has the IPv4 destination `10.0.1.4`")
    .stderr_has("/req.hcl:4:19");
}

#[test]
fn a_target_without_ports_is_a_warning() {
    let policy = format!(
        "{}\ntarget \"bare\" {{\n  provider = \"snapshot.lab\"\n  nsg_id   = \"{}\"\n}}\n",
        policy(),
        lab::nsg_id("bare-nsg")
    );
    validate(&[("policy.hcl", &policy)])
        .code(0)
        .stderr_has("warning[E072]: target `bare` protects no ports")
        .stderr_has("/policy.hcl:18:1")
        .stderr_has("valid: 2 targets, 0 requests (1 warning)");
}

#[test]
fn the_allow_band_above_the_deny_band_is_an_error() {
    let policy = format!(
        "settings {{\n  allow_priority = [4000, 4095]\n  deny_priority  = [100, 199]\n}}\n\n{}",
        policy()
    );
    validate(&[("policy.hcl", &policy)])
        .code(1)
        .stderr_has(
            "error[E073]: `allow_priority` [4000, 4095] is not below `deny_priority` [100, 199]",
        )
        .stderr_has("/policy.hcl:2:20");
}

#[test]
fn start_is_rfc3339_only_and_in_range() {
    let policy = policy();
    for (start, code, message) in [
        (
            "2026-11-25 14:00:00Z",
            "E074",
            "time `2026-11-25 14:00:00Z` is not RFC 3339",
        ),
        ("2026-11-25T14:00:00+0100", "E074", "is not RFC 3339"),
        (
            "2026-11-25T14:00:00Z[Europe/Paris]",
            "E074",
            "is not RFC 3339",
        ),
        (
            "9999-12-30T22:00:00Z",
            "E075",
            "time `9999-12-30T22:00:00Z` is out of range",
        ),
        (
            "9998-12-31T23:00:00Z",
            "E075",
            "request `INC-1-alice` ends after the last time jit accepts",
        ),
    ] {
        let req = request("INC-1-alice", "198.51.100.7/32").replace("2026-11-25T14:00:00Z", start);
        let run = validate(&[("policy.hcl", &policy), ("req.hcl", &req)])
            .code(1)
            .stderr_has(&format!("error[{code}]: "))
            .stderr_has(message)
            .stderr_has("/req.hcl:8:19");
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
}

/// `allowed_sources = ["*"]` and a request for `*`: accepted, compiled to `0.0.0.0/0` for the
/// IPv4 destination, and warned about in the text and the JSON plan.
#[test]
fn a_grant_open_to_any_source_is_a_warning_in_the_plan() {
    let policy = lab::policy("live/nsgs.json", "web-nsg", r#"["*"]"#);
    let live = lab::snapshot(vec![lab::nsg("web-nsg", vec![])]);
    let dir = config_dir(&[
        ("policy.hcl", &policy),
        ("live/nsgs.json", &live),
        ("req.hcl", &request("INC-9-anywhere", "*")),
    ]);
    let d = dir.path();
    jit(d, &["validate"]).run().code(0);
    jit(d, &["plan", "--at", DURING])
        .run()
        .code(0)
        .stdout_has("Warning: grant open to any source in NSG web-nsg")
        .stdout_has(
            "request `INC-9-anywhere` opens port `ssh` of target `web-1` to any source (`0.0.0.0/0`) until 2026-11-25T16:00:00Z",
        );
    let json: Value = serde_json::from_str(
        &jit(d, &["plan", "--json", "--at", DURING])
            .run()
            .code(0)
            .stdout,
    )
    .unwrap();
    let warnings = json["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{json:#}");
    assert_eq!(warnings[0]["code"], "E077");
    assert_eq!(warnings[0]["resource"], "jit-allow-INC-9-anywhere-ssh");
    jit(d, &["apply", "--auto-approve", "--at", DURING])
        .run()
        .code(0);
    let rules = lab::rules(&d.join("live/nsgs.json"), "web-nsg");
    let allow = rules
        .iter()
        .find(|r| r["name"] == "jit-allow-INC-9-anywhere-ssh")
        .unwrap();
    assert_eq!(allow["properties"]["sourceAddressPrefix"], "0.0.0.0/0");
    // Still warned about once nothing changes.
    jit(d, &["plan", "--detailed-exitcode", "--at", DURING])
        .run()
        .code(0)
        .stdout_has("Warning: grant open to any source");
    // A plain source is not warned about.
    std::fs::write(
        d.join("req.hcl"),
        request("INC-9-anywhere", "198.51.100.7/32"),
    )
    .unwrap();
    jit(d, &["plan", "--at", DURING])
        .run()
        .code(0)
        .stdout_lacks("any source");
}
