//! Tests of the text and JSON renderings of one plan with every kind of change and finding.

use crate::plan::Plan;
use crate::platform::nsg::tests::{deny, grant, live, plan, policy, rule};
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
  - resource "azurerm_network_security_rule" "nsg-a/jit-allow-INC-1-ssh" {
      - access                     = "Allow"
      - description                = "managed-by=jit; request=INC-1; expires=2026-11-25T14:25:00Z"
      - destination_address_prefix = "10.0.1.4"
      - destination_port_range     = "22"
      - direction                  = "Inbound"
      - priority                   = 101
      - protocol                   = "Tcp"
      - source_address_prefix      = "198.51.100.7/32"
      - source_port_range          = "*"
    }

  # nsg-a/jit-allow-INC-4211-ssh will be created
  # (request INC-4211 active until 16:00Z)
  + resource "azurerm_network_security_rule" "nsg-a/jit-allow-INC-4211-ssh" {
      + access                     = "Allow"
      + description                = "managed-by=jit; request=INC-4211; expires=2026-11-25T16:00:00Z"
      + destination_address_prefix = "10.0.1.4"
      + destination_port_range     = "22"
      + direction                  = "Inbound"
      + priority                   = 100
      + protocol                   = "Tcp"
      + source_address_prefix      = "198.51.100.7/32"
      + source_port_range          = "*"
    }

  # nsg-a/jit-deny-web-1-ssh will be updated in-place
  # (changed outside jit)
  ~ resource "azurerm_network_security_rule" "nsg-a/jit-deny-web-1-ssh" {
      ~ source_address_prefix = "10.0.0.0/8" -> "*"
    }

Warning: exposure in NSG nsg-a
  rule `AllowSSH` (priority 120) opens port 22 (ssh of web-1) to `*` ahead of its lock-down at priority 4000; policy allows only `198.51.100.0/24`

Warning: overdue grant in NSG nsg-a
  rule `jit-allow-INC-1-ssh` of request `INC-1` expired 12m ago and is still open

Plan: 1 to add, 1 to change, 1 to destroy. 2 findings need attention.
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
        coloured.contains("\x1b[32m+\x1b[0m resource \"azurerm_network_security_rule\""),
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
    assert_eq!(value["format_version"], "1.2");
    assert_eq!(value["terraform_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(value["valid_until"], "2026-11-25T16:00:00Z");
    let create = &value["resource_changes"][1];
    assert_eq!(
        create["address"],
        "azurerm_network_security_rule.jit[\"nsg-a/jit-allow-INC-4211-ssh\"]"
    );
    assert_eq!(create["index"], "nsg-a/jit-allow-INC-4211-ssh");
    assert_eq!(create["mode"], "managed");
    assert_eq!(create["type"], "azurerm_network_security_rule");
    assert_eq!(
        create["provider_name"],
        "registry.terraform.io/hashicorp/azurerm"
    );
    assert_eq!(create["change"]["actions"], serde_json::json!(["create"]));
    assert_eq!(create["change"]["before"], serde_json::Value::Null);
    assert_eq!(create["change"]["after"]["priority"], 100);
    assert_eq!(create["change"]["after"]["direction"], "Inbound");
    assert_eq!(create["change"]["after_unknown"], serde_json::json!({}));
    assert_eq!(
        create["change"]["before_sensitive"],
        serde_json::json!(false)
    );
    assert_eq!(create["change"]["after_sensitive"], serde_json::json!({}));
    // Every managed resource after apply: the create and the update, not the delete.
    let planned = value["planned_values"]["root_module"]["resources"]
        .as_array()
        .unwrap();
    let indexes: Vec<&str> = planned
        .iter()
        .map(|r| r["index"].as_str().unwrap())
        .collect();
    assert!(
        indexes.contains(&"nsg-a/jit-allow-INC-4211-ssh"),
        "{indexes:?}"
    );
    assert!(planned.iter().all(|r| r["mode"] == "managed"
        && r["type"] == "azurerm_network_security_rule"
        && r["values"]["name"].is_string()));
    assert_eq!(create["action_reason"], "request_active");
    assert_eq!(
        value["resource_changes"][0]["action_reason"],
        "request_expired"
    );
    assert_eq!(value["resource_changes"][2]["action_reason"], "drifted");
    assert_eq!(value["findings"][0]["kind"], "exposure");
    let back =
        crate::plan::terraform::from_document(serde_json::from_slice(&out).unwrap()).unwrap();
    assert_eq!(back, sample());
}

/// The quickstart example, planned at 14:37 on 2026-11-25: INC-4211 is active, CHG-1007 ended
/// at 11:00 and its rule is still open, CHG-1010 is scheduled for tomorrow.
#[test]
fn quickstart_plan() {
    use crate::live::Live;
    use crate::model::{
        Grant, Policy, Port, Protocol, ProviderConfig, ProviderDecl, Settings, Target,
    };
    use crate::plan::compile;
    use crate::platform::nsg::Rule;
    use crate::platform::nsg::{self, LiveRule};
    use jiff::SignedDuration;

    let snapshot: serde_json::Value =
        serde_json::from_str(include_str!("../../examples/quickstart/live/nsgs.json")).unwrap();
    let mut live = Live::default();
    for nsg in snapshot["value"].as_array().unwrap() {
        let id = nsg["id"].as_str().unwrap();
        let rules = nsg["properties"]["securityRules"].as_array().unwrap();
        live.insert(nsg::scope(
            id.into(),
            nsg["name"].as_str().unwrap().into(),
            "etag".into(),
            rules
                .iter()
                .map(|r| LiveRule {
                    rule: Rule::from_arm(r).unwrap(),
                    etag: None,
                })
                .collect(),
        ));
    }
    let nsg = |name: &str| {
        format!("/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/{name}")
    };
    let port = |name: &str, number, sources: &[&str], max: i64| Port {
        name: name.into(),
        number,
        protocol: Protocol::Tcp,
        allowed_sources: sources.iter().map(|s| s.parse().unwrap()).collect(),
        max_duration: SignedDuration::from_mins(max),
    };
    let grant = |id: &str, target: &str, port: &str, source: &str, start: &str, mins| Grant {
        id: id.into(),
        target: target.into(),
        ports: vec![port.into()],
        source: source.parse().unwrap(),
        requester: "someone@example.com".into(),
        approvers: vec!["bob@example.com".into()],
        justification: id.into(),
        start: start.parse().unwrap(),
        duration: SignedDuration::from_mins(mins),
    };
    let policy = Policy {
        settings: Settings {
            approvals_required: 1,
            ..Settings::default()
        },
        providers: vec![ProviderDecl {
            name: "demo".into(),
            config: ProviderConfig::Snapshot {
                path: "live/nsgs.json".into(),
            },
        }],
        targets: vec![
            Target {
                name: "web-1".into(),
                provider: "snapshot.demo".into(),
                vm_id: None,
                nsg_id: Some(nsg("testnsg")),
                destination: "10.0.1.4".into(),
                ports: vec![port("ssh", 22, &["198.51.100.0/24", "2001:db8::/48"], 180)],
            },
            Target {
                name: "jump-1".into(),
                provider: "snapshot.demo".into(),
                vm_id: None,
                nsg_id: Some(nsg("nsg1")),
                destination: "10.0.2.5".into(),
                ports: vec![port("rdp", 3389, &["198.51.100.0/24"], 90)],
            },
        ],
        grants: vec![
            grant(
                "CHG-1007-carol",
                "jump-1",
                "rdp",
                "198.51.100.20/32",
                "2026-11-25T10:00:00Z",
                60,
            ),
            grant(
                "CHG-1010-erin",
                "jump-1",
                "rdp",
                "198.51.100.0/28",
                "2026-11-26T09:00:00Z",
                90,
            ),
            grant(
                "INC-4211-alice",
                "web-1",
                "ssh",
                "198.51.100.7/32",
                "2026-11-25T14:00:00Z",
                120,
            ),
        ],
        accepts: vec![],
    };
    let now = "2026-11-25T14:37:00Z".parse().unwrap();
    let plan = crate::plan::diff(&policy, &compile(&policy, now), &live, now);
    let mut out = Vec::new();
    text::render(&plan, false, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let headlines: Vec<&str> = text.lines().filter(|l| l.starts_with("  # ")).collect();
    assert_eq!(
        headlines,
        [
            "  # nsg1/jit-allow-CHG-1007-carol-rdp will be destroyed",
            "  # (request expired 3h 37m ago)",
            "  # nsg1/jit-deny-jump-1-rdp will be created",
            "  # (lock down port rdp of jump-1)",
            "  # testnsg/jit-allow-INC-4211-alice-ssh will be created",
            "  # (request INC-4211-alice active until 16:00Z)",
            "  # testnsg/jit-deny-web-1-ssh will be created",
            "  # (lock down port ssh of web-1)",
        ],
        "\n{text}"
    );
    assert!(
        text.contains("Warning: overdue grant in NSG nsg1"),
        "{text}"
    );
    assert!(
        text.ends_with("Plan: 3 to add, 0 to change, 1 to destroy. 1 finding needs attention.\n"),
        "{text}"
    );
    assert_eq!(
        plan.valid_until,
        Some("2026-11-25T16:00:00Z".parse().unwrap())
    );
}

#[test]
fn summary_counts_findings_and_lists_accepted_ones() {
    use crate::plan::{AcceptedFinding, Finding, FindingKind};
    let policy = policy(vec![]);
    let mut plan = plan(&policy, &live(vec![deny(4000)]));
    let render = |plan: &Plan| {
        let mut out = Vec::new();
        text::render(plan, false, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let finding = Finding {
        kind: FindingKind::Exposure,
        scope: crate::platform::nsg::tests::NSG.into(),
        resource: "open".into(),
        message: "rule `open` opens port 22".into(),
    };
    plan.findings = vec![finding.clone()];
    assert!(render(&plan).ends_with(
        "Warning: exposure in NSG nsg-a\n  rule `open` opens port 22\n\nNo changes. 1 finding needs attention.\n"
    ));
    plan.findings.push(finding.clone());
    assert!(render(&plan).ends_with("\nNo changes. 2 findings need attention.\n"));
    plan.findings.clear();
    plan.accepted = vec![AcceptedFinding {
        kind: FindingKind::Exposure,
        scope: finding.scope,
        resource: finding.resource,
        message: finding.message,
        accept: "lb-health-probe".into(),
        justification: "CHG-88 probes".into(),
        expires: "2027-01-31T00:00:00Z".parse().unwrap(),
    }];
    let text = render(&plan);
    assert!(
        text.ends_with(
            "Accepted: exposure in NSG nsg-a\n  rule `open` opens port 22\n  accepted by `lb-health-probe` until 2027-01-31T00:00:00Z: CHG-88 probes\n\nNo changes. Live state matches the policy.\n"
        ),
        "{text}"
    );
    let mut out = Vec::new();
    json::render(&plan, &mut out).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(doc["accepted"][0]["accept"], "lb-health-probe");
    assert_eq!(doc["accepted"][0]["expires"], "2027-01-31T00:00:00Z");
}
