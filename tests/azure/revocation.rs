//! Revocation never waits, against the ARM emulator through the real binary: a missing NSG or
//! a broken request file is an error (exit 1), and the expired grant in another NSG is closed
//! all the same; nothing is opened meanwhile.

use crate::cli::{managed_names, setup, AFTER, DURING};
use crate::common::*;
use crate::emulator::EmulatorConfig;

/// A third target whose NSG does not exist in the emulator.
fn missing_target(nsg: &str) -> String {
    format!(
        r#"
target "gone-1" {{
  provider    = "azure.prod"
  nsg_id      = "{}"
  port "ssh" {{
    number          = 22
    allowed_sources = ["198.51.100.0/24"]
    max_duration    = "3h"
  }}
}}
"#,
        nsg_id(nsg)
    )
}

const BROKEN: &str = r#"request "INC-2-bob" {
  target        = "web-2"
  ports         = ["rdp"]
  source        = "203.0.113.7/32"
  requester     = "bob@example.com"
  approvers     = ["carol@example.com"]
  justification = "INC-2"
  start         = "2026-11-25T16:00:00Z"
  duration      = "1h"
}
"#;

fn allows(emu: &crate::emulator::Emulator, nsg: &str) -> Vec<String> {
    managed_names(emu, nsg)
        .into_iter()
        .filter(|n| n.contains("-allow-"))
        .collect()
}

#[test]
fn a_missing_nsg_does_not_keep_an_expired_grant_open() {
    let emu = emulator_with(EmulatorConfig::fast(), &["a", "b"]);
    let s = setup(&emu);
    s.apply(DURING).code(0);
    assert_eq!(allows(&emu, "a").len(), 1);
    std::fs::write(s.path().join("gone.hcl"), missing_target("gone")).unwrap();
    s.plan_exit(AFTER)
        .code(1)
        .stderr_has("error: cannot read NSG `gone`: network security group not found")
        .stdout_has("a/jit-allow-INC-1-alice-ssh will be destroyed");
    s.apply(AFTER)
        .code(1)
        .stdout_has("Apply incomplete! Resources: 0 added, 0 changed, 1 destroyed")
        .stderr_has("network security group not found");
    assert!(allows(&emu, "a").is_empty(), "the expired grant is closed");
    assert_eq!(managed_names(&emu, "b").len(), 2, "lock-downs kept");
}

#[test]
fn a_broken_request_file_does_not_keep_an_expired_grant_open() {
    let emu = emulator_with(EmulatorConfig::fast(), &["a", "b"]);
    let s = setup(&emu);
    s.apply(DURING).code(0);
    std::fs::write(s.path().join("broken.hcl"), BROKEN).unwrap();
    let plan = s.path().join("plan.json");
    s.phase(AFTER)
        .jit(&["plan", "--out", plan.to_str().unwrap()])
        .run()
        .code(1)
        .stderr_has("error[E045]");
    emu.reset_stats();
    s.jit(&["apply", plan.to_str().unwrap()])
        .run()
        .code(1)
        .stdout_has("Apply incomplete! Resources: 0 added, 0 changed, 1 destroyed")
        .stderr_has("[E045]");
    assert_eq!(emu.stats().requests_by("PUT"), 0, "nothing opened");
    assert!(allows(&emu, "a").is_empty());
    assert!(allows(&emu, "b").is_empty());
}
