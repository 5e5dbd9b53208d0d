//! Forged approvals against the ARM emulator, through the real binary and on the real clock
//! (no `--at`): a request whose approval does not verify opens nothing — no PUT, the stored
//! rules unchanged — while the same request with a valid approval is opened.

use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::cli::setup_with;
use crate::common::*;
use crate::emulator::EmulatorConfig;

fn policy(endpoint: &str) -> String {
    format!(
        r#"settings {{
  approvals_required = 1
  approval_signers   = "allowed_signers"
}}

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
    allowed_sources = ["198.51.100.0/24"]
    max_duration    = "3h"
  }}
}}
"#,
        a = nsg_id("a"),
    )
}

/// Active now when `start` is: ten minutes ago (read once per test, so every version of the
/// request has the same start).
fn request(start: jiff::Timestamp, duration: &str) -> String {
    format!(
        r#"request "INC-7-alice" {{
  target        = "web-1"
  ports         = ["ssh"]
  source        = "198.51.100.7/32"
  requester     = "alice@example.com"
  justification = "INC-7 investigate"
  start         = "{start}"
  duration      = "{duration}"
}}
"#
    )
}

fn sign(key: &std::path::Path, message: &str) -> String {
    let mut child = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", "jit-approval", "-f"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh-keygen runs (install openssh-client)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let body = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| format!("    {l}\n"))
        .collect::<String>();
    format!("\napproval \"INC-7-alice\" {{\n  by = \"bob@example.com\"\n  signature = <<-EOT\n{body}  EOT\n}}\n")
}

#[test]
fn a_forged_approval_opens_nothing_and_a_valid_one_opens_the_grant() {
    let emu = emulator_with(EmulatorConfig::fast(), &["a"]);
    let keys = tempfile::tempdir().unwrap();
    let bob = keys.path().join("bob");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&bob)
        .status()
        .unwrap();
    assert!(made.success());
    let public = std::fs::read_to_string(keys.path().join("bob.pub")).unwrap();
    let signers = format!("bob@example.com {public}");
    let s = setup_with(
        &emu,
        &[
            ("policy.hcl", &policy(&emu.base_url())),
            ("allowed_signers", &signers),
        ],
    );
    s.jit(&["apply", "--auto-approve"])
        .run()
        .code(0)
        .stdout_has("1 added");

    // bob approved a 1h request; the file now asks for 2h.
    let start = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 600).unwrap();
    std::fs::write(s.path().join("request.hcl"), request(start, "1h")).unwrap();
    let approved = s
        .jit(&["approve", "INC-7-alice", "--message"])
        .run()
        .code(0);
    let block = sign(&bob, &approved.stdout);
    std::fs::write(s.path().join("request.hcl"), request(start, "2h") + &block).unwrap();
    let before = stored_rules(&emu, "a");
    emu.reset_stats();
    s.jit(&["apply", "--auto-approve"])
        .run()
        .code(1)
        .stderr_has("error[E065]: the signature by `bob@example.com` does not match request `INC-7-alice` as it is now");
    assert_eq!(emu.stats().requests_by("PUT"), 0, "nothing written");
    assert_eq!(stored_rules(&emu, "a"), before);

    // The same request as approved: opened.
    std::fs::write(s.path().join("request.hcl"), request(start, "1h") + &block).unwrap();
    s.jit(&["apply", "--auto-approve"])
        .run()
        .code(0)
        .stdout_has("1 added");
    let opened = stored_rules(&emu, "a").into_iter().any(|r| {
        r["name"]
            .as_str()
            .is_some_and(|n| n.contains("allow-INC-7-alice"))
    });
    assert!(opened, "{:#?}", stored_rules(&emu, "a"));
}
