//! The Rego policies in examples/policies/, written the way teams write them for Terraform
//! plans of `azurerm_network_security_rule`, evaluated with a Rego engine on the JSON plan of
//! the real binary: they deny a plan that opens SSH to `0.0.0.0/0` and pass one that does not.

use std::path::Path;

use serde_json::Value;

use crate::lab::{self, jit, request, DURING};
use crate::support::config_dir;

/// `jit plan --json` of a lab whose one request, `INC-9`, comes from `source`.
fn json_plan(allowed: &str, source: &str) -> String {
    let policy = lab::policy("live/nsgs.json", "web-nsg", allowed);
    let live = lab::snapshot(vec![lab::nsg("web-nsg", vec![])]);
    let dir = config_dir(&[
        ("policy.hcl", &policy),
        ("live/nsgs.json", &live),
        ("req.hcl", &request("INC-9", source)),
    ]);
    jit(dir.path(), &["plan", "--json", "--at", DURING])
        .run()
        .code(0)
        .stdout
}

/// Evaluates `rule` (`data.main.deny`, …) of the example policies on `input`.
fn eval(input: &str, rule: &str) -> Value {
    let mut engine = regorus::Engine::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/policies");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rego"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        engine
            .add_policy(file.display().to_string(), text)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
    engine.set_input(regorus::Value::from_json_str(input).unwrap());
    let value = engine.eval_rule(rule.to_string()).unwrap();
    serde_json::from_str(&value.to_json_str().unwrap()).unwrap()
}

fn denials(plan: &str) -> Vec<String> {
    let deny = eval(plan, "data.main.deny");
    deny.as_array()
        .unwrap_or_else(|| panic!("deny is a set: {deny}"))
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn terraform_policies_deny_ssh_from_anywhere() {
    let plan = json_plan(r#"["*"]"#, "*");
    let denied = denials(&plan);
    let address = r#"azurerm_network_security_rule.jit["web-nsg/jit-allow-INC-9-ssh"]"#;
    for needle in [
        format!("{address} allows inbound traffic from anywhere"),
        format!("{address} opens SSH from anywhere"),
        format!("{address} would open SSH from anywhere"),
    ] {
        assert!(
            denied.iter().any(|d| d.starts_with(&needle)),
            "{needle}\nin {denied:#?}\nplan {plan}"
        );
    }
    assert_eq!(denied.len(), 3, "{denied:#?}");
}

#[test]
fn terraform_policies_pass_a_narrow_grant() {
    let plan = json_plan(r#"["198.51.100.0/24"]"#, "198.51.100.7/32");
    assert_eq!(denials(&plan), Vec::<String>::new(), "{plan}");
    // The lock-down and the allow are created; nothing else.
    let counts = eval(&plan, "data.main.changes_by_action");
    assert_eq!(
        counts,
        serde_json::json!({"create": 2, "update": 0, "delete": 0}),
        "{plan}"
    );
}
