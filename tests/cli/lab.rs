//! A small snapshot lab for the trust tests (clock, inputs, files): one target per NSG, a
//! foreign rule carrying unknown fields, requests by template, and readers for the snapshot and
//! the audit log.

use std::fs;
use std::path::Path;

use serde_json::{json, Value};

use crate::support::{config_dir, TestCommand};

/// Inside the grant's window (the request starts at 14:00 and lasts 2h).
pub const DURING: &str = "2026-11-25T14:30:00Z";

pub fn nsg_id(name: &str) -> String {
    format!(
        "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/{name}"
    )
}

/// A policy with a snapshot provider at `snapshot` and one target `web-1` on NSG `nsg`.
/// `allowed` is the HCL list of allowed sources.
pub fn policy(snapshot: &str, nsg: &str, allowed: &str) -> String {
    format!(
        r#"provider "snapshot" "lab" {{
  path = "{snapshot}"
}}

target "web-1" {{
  provider    = "snapshot.lab"
  nsg_id      = "{id}"
  destination = "10.0.1.4"

  port "ssh" {{
    number          = 22
    protocol        = "tcp"
    allowed_sources = {allowed}
    max_duration    = "3h"
  }}
}}
"#,
        id = nsg_id(nsg)
    )
}

/// A request for ssh on `web-1` from `source`, active 14:00–16:00 on 2026-11-25.
pub fn request(id: &str, source: &str) -> String {
    format!(
        r#"request "{id}" {{
  target        = "web-1"
  ports         = ["ssh"]
  source        = "{source}"
  requester     = "alice@example.com"
  approvers     = ["bob@example.com"]
  justification = "INC-1 investigate"
  start         = "2026-11-25T14:00:00Z"
  duration      = "2h"
}}
"#
    )
}

/// A foreign rule with fields jit does not know, numbers among them.
pub fn foreign_rule(nsg: &str) -> Value {
    json!({
        "name": "allow-http",
        "id": format!("{}/securityRules/allow-http", nsg_id(nsg)),
        "properties": {
            "provisioningState": "Succeeded",
            "protocol": "Tcp",
            "sourcePortRange": "*",
            "destinationPortRange": "80",
            "sourceAddressPrefix": "*",
            "destinationAddressPrefix": "*",
            "access": "Allow",
            "priority": 300,
            "direction": "Inbound",
            "x-owner": "web team"
        }
    })
}

/// An NSG in ARM's raw shape.
pub fn nsg(name: &str, rules: Vec<Value>) -> Value {
    json!({
        "name": name,
        "id": nsg_id(name),
        "type": "Microsoft.Network/networkSecurityGroups",
        "location": "westeurope",
        "properties": {"provisioningState": "Succeeded", "securityRules": rules}
    })
}

/// `{"value": [nsgs…]}`, pretty, with a final newline.
pub fn snapshot(nsgs: Vec<Value>) -> String {
    serde_json::to_string_pretty(&json!({ "value": nsgs })).unwrap() + "\n"
}

/// A config dir with the policy, a snapshot `live/nsgs.json` holding NSG `web-nsg` with the
/// foreign rule, and the given request files.
pub fn lab(requests: &[(&str, &str)]) -> tempfile::TempDir {
    let policy = policy("live/nsgs.json", "web-nsg", r#"["198.51.100.0/24"]"#);
    let live = snapshot(vec![nsg("web-nsg", vec![foreign_rule("web-nsg")])]);
    let mut files = vec![
        ("policy.hcl", policy.as_str()),
        ("live/nsgs.json", live.as_str()),
    ];
    files.extend_from_slice(requests);
    config_dir(&files)
}

pub fn jit(dir: &Path, args: &[&str]) -> TestCommand {
    TestCommand::new(dir, args).env("JIT_ACTOR", "tester")
}

pub fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap()
}

/// The security rules of the NSG with this name in a `{"value": [...]}` snapshot.
pub fn rules(snapshot: &Path, nsg: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_slice(&read(snapshot)).unwrap();
    doc["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == nsg)
        .unwrap()["properties"]["securityRules"]
        .as_array()
        .unwrap()
        .clone()
}

pub fn audit_lines(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
