//! Tests of the text and JSON renderings of one plan with every kind of change and finding.

use crate::plan::tests::{deny, grant, live, plan, policy, rule};
use crate::plan::Plan;
use crate::render::{json, text};

fn sample() -> Plan {
    let policy = policy(vec![
        grant("INC-4211", "2026-11-25T14:00:00Z", 2),
        grant("INC-1", "2026-11-25T12:00:00Z", 2),
    ]);
    let stale = rule(
        "jit-allow-INC-1-ssh",
        "Allow",
        101,
        "198.51.100.7/32",
        "22",
        Some("managed-by=jit; request=INC-1; expires=2026-11-25T14:25:00Z"),
    );
    let mut drifted = deny(4000);
    drifted.sources = vec!["10.0.0.0/8".into()];
    let open = rule("AllowSSH", "Allow", 120, "*", "22", None);
    plan(&policy, &live(vec![stale, drifted, open]))
}

#[test]
fn text_plan_reads_like_terraform() {
    let mut out = Vec::new();
    text::render(&sample(), false, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let expected = r#"jit plan at 2026-11-25T14:37:00Z, valid until 2026-11-25T16:00:00Z

Resource actions are indicated with the following symbols:
  + create
  ~ update in-place
  - destroy

jit will perform the following actions:

  # nsg-a/jit-allow-INC-1-ssh will be destroyed
  # (request expired 12m ago)
  - security_rule "nsg-a/jit-allow-INC-1-ssh" {
      - priority                   = 101
      - direction                  = "Inbound"
      - access                     = "Allow"
      - protocol                   = "Tcp"
      - source_address_prefix      = "198.51.100.7/32"
      - source_port_range          = "*"
      - destination_address_prefix = "10.0.1.4"
      - destination_port_range     = "22"
      - description                = "managed-by=jit; request=INC-1; expires=2026-11-25T14:25:00Z"
    }

  # nsg-a/jit-allow-INC-4211-ssh will be created
  # (request INC-4211 active until 16:00Z)
  + security_rule "nsg-a/jit-allow-INC-4211-ssh" {
      + priority                   = 100
      + direction                  = "Inbound"
      + access                     = "Allow"
      + protocol                   = "Tcp"
      + source_address_prefix      = "198.51.100.7/32"
      + source_port_range          = "*"
      + destination_address_prefix = "10.0.1.4"
      + destination_port_range     = "22"
      + description                = "managed-by=jit; request=INC-4211; expires=2026-11-25T16:00:00Z"
    }

  # nsg-a/jit-deny-web-1-ssh will be updated in-place
  # (changed outside jit)
  ~ security_rule "nsg-a/jit-deny-web-1-ssh" {
      ~ source_address_prefix = "10.0.0.0/8" -> "*"
    }

Warning: exposure in NSG nsg-a
  rule `AllowSSH` (priority 120) opens port 22 (ssh of web-1) to `*` ahead of its lock-down at priority 4000; policy allows only `198.51.100.0/24`

Warning: overdue grant in NSG nsg-a
  rule `jit-allow-INC-1-ssh` of request `INC-1` expired 12m ago and is still open

Plan: 1 to add, 1 to change, 1 to destroy.
"#;
    assert_eq!(text, expected, "\n{text}");
}

#[test]
fn colour_only_when_asked() {
    let plan = sample();
    let mut plain = Vec::new();
    text::render(&plan, false, &mut plain).unwrap();
    assert!(!plain.contains(&0x1b));
    let mut coloured = Vec::new();
    text::render(&plan, true, &mut coloured).unwrap();
    let coloured = String::from_utf8(coloured).unwrap();
    assert!(
        coloured.contains("\x1b[32m+\x1b[0m security_rule"),
        "{coloured}"
    );
    assert!(coloured.contains("\x1b[31m-"));
    assert!(coloured.contains("\x1b[33m~"));
}

#[test]
fn no_changes_and_errors_are_said_plainly() {
    let policy = policy(vec![]);
    let mut out = Vec::new();
    text::render(&plan(&policy, &live(vec![deny(4000)])), false, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "jit plan at 2026-11-25T14:37:00Z\n\nNo changes. Live state matches the policy.\n"
    );
    let mut out = Vec::new();
    text::render(
        &plan(&policy, &crate::live::Live::default()),
        false,
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("Error: NSG `/subscriptions/"), "{text}");
    assert!(text.ends_with("Plan incomplete (1 error): 0 to add, 0 to change, 0 to destroy.\n"));
}

#[test]
fn json_plan_has_the_terraform_shape() {
    let mut out = Vec::new();
    json::render(&sample(), &mut out).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(value["format_version"], "1.0");
    assert_eq!(value["valid_until"], "2026-11-25T16:00:00Z");
    let create = &value["resource_changes"][1];
    assert_eq!(create["address"], "nsg-a/jit-allow-INC-4211-ssh");
    assert_eq!(create["change"]["actions"], serde_json::json!(["create"]));
    assert_eq!(create["change"]["before"], serde_json::Value::Null);
    assert_eq!(create["change"]["after"]["properties"]["priority"], 100);
    assert_eq!(create["action_reason"], "request_active");
    assert_eq!(
        value["resource_changes"][0]["action_reason"],
        "request_expired"
    );
    assert_eq!(value["resource_changes"][2]["action_reason"], "drifted");
    assert_eq!(value["findings"][0]["kind"], "exposure");
    let back: Plan = serde_json::from_slice(&out).unwrap();
    assert_eq!(back, sample());
}
