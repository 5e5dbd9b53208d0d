//! The language's defaults and durations through the real binary: well-known port names fill in
//! number and protocol, `max_duration` defaults to `3h`, an explicit value wins, `validate -v`
//! shows which values were defaulted, a plan and an apply use them; every documented duration
//! form is accepted and every near miss refused at its file:line:column with the hint.

use serde_json::Value;

use crate::lifecycle::{jit, snapshot, web_rules, DURING, WEB_NSG};
use crate::support::{config_dir, TestCommand};

/// Defender's standard example: ports 22 and 3389, protocol any, the requester chooses the
/// source, 3 hours; and two ports that show an explicit value winning.
fn defender_policy() -> String {
    format!(
        r#"provider "snapshot" "lab" {{
  path = "live/nsgs.json"
}}

target "web-1" {{
  provider    = "snapshot.lab"
  nsg_id      = "{WEB_NSG}"
  destination = "10.0.1.4"

  port "ssh" {{
    protocol        = "any"
    allowed_sources = ["*"]
  }}

  port "rdp" {{
    protocol        = "any"
    allowed_sources = ["*"]
  }}

  port "winrm" {{
    number          = 15985
    max_duration    = "1h"
    allowed_sources = ["198.51.100.0/24"]
  }}

  port "winrm-https" {{}}
}}
"#
    )
}

fn request(ports: &str, duration: &str) -> String {
    format!(
        r#"request "INC-7-alice" {{
  target        = "web-1"
  ports         = {ports}
  source        = "203.0.113.9"
  requester     = "alice@example.com"
  justification = "INC-7 patch the hosts"
  start         = "2026-11-25T14:00:00Z"
  duration      = "{duration}"
}}
"#
    )
}

#[test]
fn validate_v_shows_each_port_and_what_was_defaulted() {
    let policy = defender_policy();
    let dir = config_dir(&[("policy.hcl", &policy)]);
    let run = TestCommand::new(dir.path(), &["validate", "-v"])
        .run()
        .code(0);
    for line in [
        "target `web-1` port `ssh`: number 22 (default for `ssh`), protocol any, max_duration 3h (default), allowed_sources *",
        "target `web-1` port `rdp`: number 3389 (default for `rdp`), protocol any, max_duration 3h (default), allowed_sources *",
        "target `web-1` port `winrm`: number 15985, protocol tcp (default), max_duration 1h, allowed_sources 198.51.100.0/24",
        "target `web-1` port `winrm-https`: number 5986 (default for `winrm-https`), protocol tcp (default), max_duration 3h (default), allowed_sources none",
    ] {
        assert!(
            run.stderr.lines().any(|l| l == line),
            "stderr lacks the line {line:?}\n{}",
            run.stderr
        );
    }
    assert!(
        run.stderr.contains("valid: 1 target, 0 requests"),
        "{}",
        run.stderr
    );
    // Without -v, no such lines; with --format json, stdout stays data.
    let run = TestCommand::new(dir.path(), &["validate"]).run().code(0);
    assert!(!run.stderr.contains("port `ssh`"), "{}", run.stderr);
    let run = TestCommand::new(dir.path(), &["validate", "-v", "--format", "json"])
        .run()
        .code(0);
    let data: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(data.is_array(), "{}", run.stdout);
}

#[test]
fn a_plan_and_an_apply_use_the_defaults() {
    let policy = defender_policy();
    let live = snapshot(vec![]);
    let req = request("[\"ssh\", 3389]", "3h");
    let dir = config_dir(&[
        ("policy.hcl", &policy),
        ("live/nsgs.json", &live),
        ("requests/INC-7-alice.hcl", &req),
    ]);
    let d = dir.path();
    jit(d, &["plan", "--at", DURING])
        .run()
        .code(0)
        .stdout_has("jit-deny-web-1-ssh")
        .stdout_has("jit-deny-web-1-winrm-https")
        .stdout_has("jit-allow-INC-7-alice-rdp");
    jit(d, &["apply", "--auto-approve", "--at", DURING])
        .run()
        .code(0);
    let rules = web_rules(d);
    let rule = |name: &str| -> Value {
        rules
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no rule {name}: {rules:#?}"))["properties"]
            .clone()
    };
    for (name, port, protocol) in [
        ("jit-deny-web-1-ssh", "22", "*"),
        ("jit-deny-web-1-rdp", "3389", "*"),
        ("jit-deny-web-1-winrm", "15985", "Tcp"),
        ("jit-deny-web-1-winrm-https", "5986", "Tcp"),
        ("jit-allow-INC-7-alice-ssh", "22", "*"),
        ("jit-allow-INC-7-alice-rdp", "3389", "*"),
    ] {
        let r = rule(name);
        assert_eq!(r["destinationPortRange"], port, "{name}: {r}");
        assert_eq!(r["protocol"], protocol, "{name}: {r}");
    }
    let allow = rule("jit-allow-INC-7-alice-ssh");
    assert_eq!(allow["sourceAddressPrefix"], "203.0.113.9/32");
    assert!(
        allow["description"]
            .as_str()
            .unwrap()
            .contains("expires=2026-11-25T17:00:00Z"),
        "{allow}"
    );
}

#[test]
fn the_default_max_duration_is_3h_and_an_explicit_one_wins() {
    let policy = defender_policy();
    for (ports, duration, fragment) in [
        (
            "[\"ssh\"]",
            "3h30m",
            "exceeds the `max_duration` `3h` of port `ssh`",
        ),
        (
            "[\"winrm\"]",
            "2h",
            "exceeds the `max_duration` `1h` of port `winrm`",
        ),
    ] {
        let req = request(ports, duration);
        let dir = config_dir(&[("policy.hcl", &policy), ("requests/r.hcl", &req)]);
        TestCommand::new(dir.path(), &["validate"])
            .run()
            .code(1)
            .stderr_has("error[E046]")
            .stderr_has(fragment)
            .stderr_has("requests/r.hcl:8:19");
    }
}

#[test]
fn a_port_without_number_needs_a_well_known_name() {
    let policy = format!(
        r#"provider "snapshot" "lab" {{
  path = "live/nsgs.json"
}}

target "web-1" {{
  provider = "snapshot.lab"
  nsg_id   = "{WEB_NSG}"

  port "SSH" {{}}

  port "ssh" {{
    protocol = "TCP"
  }}
}}
"#
    );
    let dir = config_dir(&[("policy.hcl", &policy)]);
    TestCommand::new(dir.path(), &["validate"])
        .run()
        .code(1)
        .stderr_has("error[E013]: port `SSH` of target `web-1` is missing `number`")
        .stderr_has("policy.hcl:9:3")
        .stderr_has("only the well-known names `ssh` (22), `rdp` (3389), `winrm` (5985), `winrm-https` (5986) have a default number")
        .stderr_has("error[E024]: unknown protocol `TCP`")
        .stderr_has("policy.hcl:12:16")
        .stderr_has("protocols are written in lower case: write `tcp`");
}

fn duration_config(max: &str, duration: &str) -> tempfile::TempDir {
    let policy = format!(
        r#"provider "snapshot" "lab" {{
  path = "live/nsgs.json"
}}

target "web-1" {{
  provider = "snapshot.lab"
  nsg_id   = "{WEB_NSG}"

  port "ssh" {{
    allowed_sources = ["203.0.113.0/24"]
    max_duration    = "{max}"
  }}
}}
"#
    );
    let req = request("[\"ssh\"]", duration);
    config_dir(&[("policy.hcl", &policy), ("requests/r.hcl", &req)])
}

/// `validate --format json` of a config: exit code and diagnostics.
fn diagnostics(dir: &tempfile::TempDir) -> (i32, Vec<Value>) {
    let run = TestCommand::new(dir.path(), &["validate", "--format", "json"]).run();
    let list: Value = serde_json::from_str(&run.stdout).unwrap();
    let errors = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .cloned()
        .collect();
    (run.code, errors)
}

fn file(diagnostic: &Value) -> &str {
    diagnostic["file"].as_str().unwrap_or_default()
}

#[test]
fn every_documented_duration_form_is_accepted() {
    for form in [
        "90m", "3h", "1h30m", "1d", "24h", "1440m", "1d0h", "PT3H", "PT90M", "PT1H30M", "P1D",
        "PT24H", "P0DT3H",
    ] {
        // As a port's `max_duration` and as a request's `duration`.
        let dir = duration_config(form, form);
        let (code, errors) = diagnostics(&dir);
        assert_eq!((code, errors.len()), (0, 0), "{form}: {errors:#?}");
    }
}

#[test]
fn every_other_duration_is_refused_at_its_place_with_the_hint() {
    for (form, hint) in [
        ("3 hours", "write `3h`"),
        ("1.5h", "write `1h30m`"),
        ("3H", "write `3h`"),
        ("1H30M", "write `1h30m`"),
        ("pt3h", "write `PT3H`"),
        ("PT1.5H", "write `PT1H30M`"),
        (
            "45s",
            "write a duration as `90m`, `3h`, `1h30m`, `1d` or ISO 8601",
        ),
        ("PT300S", "write `PT5M`"),
        ("P1W", "write a duration as"),
        ("-2h", "write a duration as"),
        (" 3h", "write `3h`"),
        ("1h 30m", "write `1h30m`"),
        ("3", "write a duration as"),
        ("P1DT", "write a duration as"),
        ("30m1h", "write a duration as"),
        ("three hours", "write a duration as"),
    ] {
        // In a request: line 8, column 19 of requests/r.hcl.
        let dir = duration_config("1d", form);
        let (code, errors) = diagnostics(&dir);
        assert_eq!(code, 1, "{form}");
        assert_eq!(errors.len(), 1, "{form}: {errors:#?}");
        let e = &errors[0];
        assert_eq!(e["code"], "E021", "{form}: {e}");
        assert!(file(e).ends_with("/requests/r.hcl"), "{form}: {e}");
        assert_eq!(
            (e["line"].as_u64(), e["column"].as_u64()),
            (Some(8), Some(19)),
            "{form}: {e}"
        );
        assert_eq!(e["message"], format!("invalid duration `{form}`"), "{e}");
        let h = e["hint"].as_str().unwrap_or_default();
        assert!(h.starts_with(hint), "{form}: {h}");
        assert!(h.contains("`P1D`"), "{form}: the hint lists the forms: {h}");

        // As a port's `max_duration`: line 11, column 23 of policy.hcl.
        let dir = duration_config(form, "1h");
        let (code, errors) = diagnostics(&dir);
        assert_eq!(code, 1, "{form}");
        let e = errors
            .iter()
            .find(|e| e["code"] == "E021")
            .unwrap_or_else(|| panic!("{form}: {errors:#?}"));
        assert!(file(e).ends_with("/policy.hcl"), "{form}: {e}");
        assert_eq!(
            (e["line"].as_u64(), e["column"].as_u64()),
            (Some(11), Some(23)),
            "{form}: {e}"
        );
    }
    // The text form shows the place and the hint too.
    let dir = duration_config("1d", "3 hours");
    TestCommand::new(dir.path(), &["validate"])
        .run()
        .code(1)
        .stderr_has("error[E021]: invalid duration `3 hours`")
        .stderr_has("requests/r.hcl:8:19")
        .stderr_has("hint: write `3h`");
}

#[test]
fn a_day_is_the_longest_max_duration() {
    let dir = duration_config("P1D", "1d");
    assert_eq!(diagnostics(&dir).0, 0);
    for max in ["25h", "1d1h", "P1DT1M", "4m"] {
        let dir = duration_config(max, "1h");
        let (code, errors) = diagnostics(&dir);
        assert_eq!(code, 1, "{max}");
        assert!(
            errors.iter().any(|e| e["code"] == "E025"),
            "{max}: {errors:#?}"
        );
    }
    let dir = duration_config("1d", "25h");
    let (_, errors) = diagnostics(&dir);
    assert!(errors.iter().any(|e| e["code"] == "E046"), "{errors:#?}");
}
