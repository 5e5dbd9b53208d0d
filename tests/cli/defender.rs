//! `jit validate` for Defender for Cloud through the real binary: `policy_name`, targets named
//! by `vm_id` alone in either mode, and what Defender would refuse (a source narrower than the
//! port's, a window under 5 minutes, policy name + VM name over 56 characters), each at its
//! file:line:column with its code and hint, exit 1 and nothing on stdout.

use crate::support::{config_dir, TestCommand};

const VM: &str =
    "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1";

const POLICY: &str = r#"provider "azure" "sec" {
  subscription_id = "subid"
  mode            = "defender"
}

target "vm1" {
  provider = "azure.sec"
  vm_id    = "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1"

  port "ssh" {
    number          = 22
    allowed_sources = ["10.0.0.0/8"]
    max_duration    = "1h"
  }

  port "rdp" {
    protocol        = "any"
    allowed_sources = ["*"]
  }
}
"#;

const REQUEST: &str = r#"request "INC-7" {
  target        = "vm1"
  ports         = ["ssh"]
  source        = "10.0.0.0/8"
  requester     = "alice@example.com"
  justification = "INC-7 patch"
  start         = "2026-11-25T14:00:00Z"
  duration      = "30m"
}
"#;

const P: &str = "policy.hcl";
const R: &str = "requests/INC-7.hcl";

/// 1-based line and column of the first `anchor` in `text`.
fn position(text: &str, anchor: &str) -> (usize, usize) {
    let offset = text
        .find(anchor)
        .unwrap_or_else(|| panic!("anchor {anchor:?} not in {text}"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap().chars().count() + 1;
    (line, column)
}

/// Replaces `from` by `to` in `file`, runs `jit validate`, and checks the diagnostic `says`
/// at `anchor` and its `hint`.
fn refused(file: &str, from: &str, to: &str, anchor: &str, says: &str, hint: &str) {
    let (mut policy, mut request) = (POLICY.to_string(), REQUEST.to_string());
    let text = if file == P { &mut policy } else { &mut request };
    assert!(text.contains(from), "{from:?} not in {file}");
    *text = text.replacen(from, to, 1);
    let (line, column) = position(text, anchor);
    let dir = config_dir(&[(P, &policy), (R, &request)]);
    let place = format!("--> {}/{file}:{line}:{column}", dir.path().display());
    let run = TestCommand::new(dir.path(), &["validate"]).run().code(1);
    assert!(
        run.stderr.contains(&place) && run.stderr.contains(says) && run.stderr.contains(hint),
        "expected {place:?}, {says:?} and {hint:?}\n--- stderr\n{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "diagnostics go to stderr");
}

fn valid(policy: &str, request: &str) {
    let dir = config_dir(&[(P, policy), (R, request)]);
    TestCommand::new(dir.path(), &["validate"]).run().code(0);
}

#[test]
fn the_defender_base_config_is_valid() {
    valid(POLICY, REQUEST);
    // Any source on a port that allows `*`; exactly 5 minutes; a policy name that fits.
    valid(
        &POLICY.replace(
            "  mode            = \"defender\"\n",
            "  mode            = \"defender\"\n  policy_name     = \"prod-jit\"\n",
        ),
        &REQUEST
            .replace("[\"ssh\"]", "[\"rdp\"]")
            .replace("\"10.0.0.0/8\"", "\"198.51.100.7\"")
            .replace("\"30m\"", "\"5m\""),
    );
}

#[test]
fn a_source_narrower_than_the_port_allows_is_refused() {
    refused(
        R,
        "\"10.0.0.0/8\"",
        "\"10.1.2.3\"",
        "\"10.1.2.3\"",
        "error[E100]: source `10.1.2.3/32` is narrower than the allowed source of port `ssh` of target `vm1`",
        "must equal one of the port's `allowed_sources` (here `10.0.0.0/8`), or the port must allow `*`",
    );
    // Outside every allowed source stays E045, not E100 too.
    let dir = config_dir(&[
        (P, POLICY),
        (R, &REQUEST.replace("\"10.0.0.0/8\"", "\"192.0.2.1\"")),
    ]);
    let run = TestCommand::new(dir.path(), &["validate"]).run().code(1);
    assert!(
        run.stderr.contains("E045") && !run.stderr.contains("E100"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_window_under_five_minutes_is_refused() {
    refused(
        R,
        "\"30m\"",
        "\"4m\"",
        "\"4m\"",
        "error[E102]: duration `4m` is shorter than Defender's shortest window of 5 minutes",
        "ask for `5m` or more",
    );
}

#[test]
fn policy_name_and_vm_name_over_56_characters_are_refused() {
    let long = format!("{}{}", "v".repeat(40), "-longer-than-fits");
    let long_vm = VM.replace("/vm1", &format!("/{long}"));
    refused(
        P,
        &format!("\"{VM}\""),
        &format!("\"{long_vm}\""),
        &format!("\"{long_vm}\""),
        "error[E101]: policy name `default` and VM name",
        "set a shorter `policy_name` on the provider",
    );
    let name = "p".repeat(54);
    refused(
        P,
        "  mode            = \"defender\"\n",
        &format!("  mode            = \"defender\"\n  policy_name     = \"{name}\"\n"),
        &format!("\"{VM}\""),
        &format!("error[E101]: policy name `{name}` and VM name `vm1` are 57 characters together"),
        "at most 53 characters for this VM",
    );
}

#[test]
fn bad_or_unused_policy_names_are_refused() {
    refused(
        P,
        "  mode            = \"defender\"\n",
        "  mode            = \"defender\"\n  policy_name     = \"prod policy\"\n",
        "\"prod policy\"",
        "error[E103]: invalid `policy_name` `prod policy`",
        "letters, digits, `-`, `_` or `.`",
    );
    refused(
        P,
        "  mode            = \"defender\"\n",
        "  mode            = \"nsg\"\n  policy_name     = \"jit\"\n",
        "\"jit\"",
        "error[E104]: `policy_name` is used only in mode `defender`",
        "remove `policy_name`",
    );
}

#[test]
fn a_target_named_by_its_vm_alone_is_valid_in_either_mode() {
    let nsg_mode = POLICY.replace("\"defender\"", "\"nsg\"");
    valid(&nsg_mode, REQUEST);
    // Neither `vm_id` nor `nsg_id`: the error says either will do.
    let bare = nsg_mode.replace(&format!("  vm_id    = \"{VM}\"\n"), "");
    let dir = config_dir(&[(P, &bare), (R, REQUEST)]);
    TestCommand::new(dir.path(), &["validate"])
        .run()
        .code(1)
        .stderr_has(
        "error[E041]: target `vm1` needs `vm_id` or `nsg_id` for provider `azure.sec` (mode `nsg`)",
    );
    // In mode `nsg` a narrower source is fine: jit writes the rule itself.
    valid(
        &nsg_mode,
        &REQUEST.replace("\"10.0.0.0/8\"", "\"10.1.2.3\""),
    );
}
