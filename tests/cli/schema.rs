//! `jit schema`: the printed schemas match `schemas/`, every example validates against the
//! schema of its kind, and invalid documents are rejected.

use jit::lang::schema::FileKind;
use serde_json::{json, Value};

use crate::support::{config_dir, repo_path, TestCommand};

#[test]
fn printed_schemas_equal_the_committed_ones() {
    let dir = config_dir(&[]);
    for (args, file) in [
        (&["schema", "policy"][..], "schemas/policy.schema.json"),
        (&["schema", "request"][..], "schemas/request.schema.json"),
        (&["schema"][..], "schemas/config.schema.json"),
    ] {
        let run = TestCommand::new(dir.path(), args).run().code(0);
        let committed = std::fs::read_to_string(repo_path(file)).unwrap();
        assert_eq!(
            run.stdout,
            committed,
            "`jit {}` differs from {file}; regenerate it with `cargo run -- {} > {file}`",
            args.join(" "),
            args.join(" ")
        );
    }
}

#[test]
fn an_unknown_kind_is_refused() {
    let dir = config_dir(&[]);
    // Usage errors exit 1 (DESIGN: bad input), never 2, which means "changes pending".
    TestCommand::new(dir.path(), &["schema", "plan"])
        .run()
        .code(1)
        .stderr_has("invalid value 'plan'");
}

fn validator(file: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo_path(file)).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn every_example_file_validates_against_its_kind() {
    let policy = validator("schemas/policy.schema.json");
    let request = validator("schemas/request.schema.json");
    let config = validator("schemas/config.schema.json");
    let root = repo_path("examples");
    let files = jit::ops::config::discover(&root).unwrap();
    assert!(files.len() >= 4, "{files:?}");
    let mut kinds = Vec::new();
    for rel in files {
        let text = std::fs::read_to_string(root.join(&rel)).unwrap();
        let doc: Value = hcl::from_str(&text).unwrap();
        let kind = FileKind::of(&doc);
        kinds.push(kind);
        let schema = match kind {
            FileKind::Policy => &policy,
            FileKind::Request => &request,
        };
        let found = errors(schema, &doc);
        assert!(found.is_empty(), "{}: {found:#?}", rel.display());
        assert!(config.is_valid(&doc), "{}", rel.display());
    }
    assert!(kinds.contains(&FileKind::Policy) && kinds.contains(&FileKind::Request));
}

#[test]
fn the_design_example_validates() {
    let policy = r#"
settings {
  rule_prefix           = "jit"
  allow_priority        = [100, 199]
  deny_priority         = [4000, 4095]
  approvals_required    = 1
  justification_pattern = "^(INC|CHG)-[0-9]+"
}

provider "azure" "prod" {
  subscription_id = "00000000-0000-0000-0000-000000000000"
  mode            = "nsg"
  endpoint        = "https://management.azure.com"
}

provider "nftables" "bastion" { table = "jit" }

provider "snapshot" "demo" { path = "live/nsgs.json" }

target "web-1" {
  provider    = "azure.prod"
  vm_id       = "/subscriptions/s/providers/Microsoft.Compute/virtualMachines/web-1"
  nsg_id      = "/subscriptions/s/providers/Microsoft.Network/networkSecurityGroups/web-1-nsg"
  destination = "10.0.1.4"

  port "ssh" {
    number          = 22
    protocol        = "tcp"
    allowed_sources = ["203.0.113.0/24", "2001:db8::/48"]
    max_duration    = "3h"
  }
}
"#;
    let request = r#"
request "INC-4211-alice" {
  target        = "web-1"
  ports         = ["ssh", 3389]
  source        = "198.51.100.7/32"
  requester     = "alice@example.com"
  approvers     = ["bob@example.com"]
  justification = "INC-4211 investigate failed deploy"
  start         = "2026-11-25T14:00:00Z"
  duration      = "2h"
}
"#;
    let policy: Value = hcl::from_str(policy).unwrap();
    let request: Value = hcl::from_str(request).unwrap();
    let found = errors(&validator("schemas/policy.schema.json"), &policy);
    assert!(found.is_empty(), "{found:#?}");
    let found = errors(&validator("schemas/request.schema.json"), &request);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn invalid_documents_are_rejected() {
    let policy = validator("schemas/policy.schema.json");
    let request = validator("schemas/request.schema.json");
    let port = |extra: Value| {
        let mut port = json!({"number": 22, "max_duration": "3h"});
        port.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"target": {"web-1": {"provider": "snapshot.demo", "port": {"ssh": port}}}})
    };
    let valid_request = json!({
        "target": "web-1", "ports": ["ssh"], "source": "198.51.100.7/32",
        "requester": "alice@example.com", "justification": "INC-1",
        "start": "2026-11-25T14:00:00Z", "duration": "2h"
    });
    assert!(policy.is_valid(&port(json!({}))));
    assert!(request.is_valid(&json!({"request": {"r": valid_request}})));

    let bad_policies = [
        ("unknown block", json!({"resource": {"x": {}}})),
        ("two settings blocks", json!({"settings": [{}, {}]})),
        (
            "priority out of range",
            json!({"settings": {"allow_priority": [50, 99]}}),
        ),
        (
            "band of three",
            json!({"settings": {"deny_priority": [4000, 4001, 4002]}}),
        ),
        (
            "unknown provider kind",
            json!({"provider": {"aws": {"x": {}}}}),
        ),
        (
            "azure mode",
            json!({"provider": {"azure": {"p": {"subscription_id": "s", "mode": "arm"}}}}),
        ),
        (
            "missing subscription",
            json!({"provider": {"azure": {"p": {}}}}),
        ),
        ("target without provider", json!({"target": {"t": {}}})),
        (
            "provider address",
            json!({"target": {"t": {"provider": "prod"}}}),
        ),
        (
            "unknown target attribute",
            json!({"target": {"t": {"provider": "snapshot.x", "ip": "1"}}}),
        ),
        ("port zero", port(json!({"number": 0}))),
        ("port number as string", port(json!({"number": "22"}))),
        ("protocol", port(json!({"protocol": "icmp"}))),
        ("cidr", port(json!({"allowed_sources": ["office"]}))),
        ("duration", port(json!({"max_duration": "three hours!"}))),
        (
            "requests belong in request files",
            json!({"request": {"r": valid_request}}),
        ),
    ];
    for (what, doc) in bad_policies {
        assert!(!policy.is_valid(&doc), "accepted: {what}: {doc}");
    }

    let with = |key: &str, value: Value| {
        let mut r = valid_request.clone();
        r[key] = value;
        json!({"request": {"r": r}})
    };
    let without = |key: &str| {
        let mut r = valid_request.clone();
        r.as_object_mut().unwrap().remove(key);
        json!({"request": {"r": r}})
    };
    let bad_requests = [
        ("no request", json!({})),
        (
            "policy blocks",
            json!({"request": {"r": valid_request}, "settings": {}}),
        ),
        ("missing source", without("source")),
        ("missing duration", without("duration")),
        ("empty ports", with("ports", json!([]))),
        ("port 70000", with("ports", json!([70000]))),
        ("source", with("source", json!("10.0.0.0/8, 10.1.0.0/16"))),
        (
            "start without offset",
            with("start", json!("2026-11-25 14:00")),
        ),
        ("unknown attribute", with("ticket", json!("x"))),
        (
            "approvers not a list",
            with("approvers", json!("bob@example.com")),
        ),
    ];
    for (what, doc) in bad_requests {
        assert!(!request.is_valid(&doc), "accepted: {what}: {doc}");
    }
}

#[test]
fn approval_blocks_and_approval_signers_are_in_the_schemas() {
    let request = validator("schemas/request.schema.json");
    let policy = validator("schemas/policy.schema.json");
    let text = r#"
request "INC-1-alice" {
  target        = "web-1"
  ports         = ["ssh"]
  source        = "198.51.100.7/32"
  requester     = "alice@example.com"
  justification = "INC-1 deploy"
  start         = "2026-11-25T14:00:00Z"
  duration      = "2h"
}

approval "INC-1-alice" {
  by = "bob@example.com"
  signature = <<-EOT
    -----BEGIN SSH SIGNATURE-----
    U1NIU0lH
    -----END SSH SIGNATURE-----
  EOT
}
"#;
    let doc: Value = hcl::from_str(text).unwrap();
    assert_eq!(FileKind::of(&doc), FileKind::Request);
    let found = errors(&request, &doc);
    assert!(found.is_empty(), "{found:#?}");
    let mut bad = doc.clone();
    bad["approval"]["INC-1-alice"]["signature"] = json!("signed, bob");
    assert!(!request.is_valid(&bad));
    let mut bad = doc;
    bad["approval"]["INC-1-alice"]["key"] = json!("x");
    assert!(!request.is_valid(&bad));

    let settings = json!({"settings": {"approval_signers": "approvers/allowed_signers"}});
    assert!(errors(&policy, &settings).is_empty());
    assert!(!policy.is_valid(&json!({"settings": {"approval_signers": ""}})));
}
