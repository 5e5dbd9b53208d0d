//! Property: a saved plan is checked, never trusted. For any mutation of a saved plan file
//! (fields changed, removed or added; changes removed, duplicated or added; actions and rules
//! edited), `apply FILE` either refuses with nothing written (the snapshot's bytes unchanged,
//! no audit line) or writes exactly what applying a fresh plan writes. Through the ops API and
//! the real snapshot provider, on a lab with creates, an update and a delete to make.

use std::fs;
use std::path::Path;

use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::{json, Value};

use jit::ops::apply::{apply, ApplyOptions};
use jit::ops::audit::AuditContext;
use jit::ops::config::load_lenient;
use jit::ops::plan::{plan, PlanOptions};
use jit::ops::planfile;
use jit::providers::OpenOptions;

const AT: &str = "2026-11-25T14:30:00Z";
const WEB: &str =
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/web-nsg";
const DB: &str =
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/db-nsg";

fn policy() -> String {
    let port = |name: &str, number: u16| {
        format!(
            "  port \"{name}\" {{\n    number          = {number}\n    allowed_sources = [\"198.51.100.0/24\"]\n    max_duration    = \"3h\"\n  }}\n"
        )
    };
    let target = |name: &str, nsg: &str, ports: &[(&str, u16)]| {
        let ports: String = ports.iter().map(|(n, p)| port(n, *p)).collect();
        format!(
            "target \"{name}\" {{\n  provider    = \"snapshot.lab\"\n  nsg_id      = \"{nsg}\"\n  destination = \"10.0.1.4\"\n{ports}}}\n\n"
        )
    };
    let request = |id: &str, target: &str, port: &str, source: &str| {
        format!(
            "request \"{id}\" {{\n  target        = \"{target}\"\n  ports         = [\"{port}\"]\n  source        = \"{source}\"\n  requester     = \"alice@example.com\"\n  approvers     = [\"bob@example.com\"]\n  justification = \"{id} work\"\n  start         = \"2026-11-25T14:00:00Z\"\n  duration      = \"2h\"\n}}\n\n"
        )
    };
    format!(
        "provider \"snapshot\" \"lab\" {{\n  path = \"live/nsgs.json\"\n}}\n\n{}{}{}{}",
        target("web-1", WEB, &[("ssh", 22), ("rdp", 3389)]),
        target("db-1", DB, &[("ssh", 22)]),
        request("INC-1", "web-1", "ssh", "198.51.100.7/32"),
        request("INC-2", "db-1", "ssh", "198.51.100.8/32"),
    )
}

fn rule(name: &str, access: &str, priority: u16, source: &str, port: &str, desc: &str) -> Value {
    json!({"name": name, "properties": {"protocol": "Tcp", "sourcePortRange": "*",
        "destinationPortRange": port, "sourceAddressPrefix": source,
        "destinationAddressPrefix": "10.0.1.4", "access": access, "priority": priority,
        "direction": "Inbound", "description": desc}})
}

fn snapshot() -> String {
    let nsg = |id: &str, rules: Vec<Value>| {
        json!({"id": id, "name": id.rsplit('/').next().unwrap(),
            "properties": {"securityRules": rules}})
    };
    let doc = json!({"value": [
        nsg(WEB, vec![
            rule("allow-http", "Allow", 300, "*", "80", "web team"),
            // An expired grant to revoke.
            rule("jit-allow-INC-0-ssh", "Allow", 100, "198.51.100.9/32", "22",
                "managed-by=jit; request=INC-0; expires=2026-11-25T13:00:00Z"),
        ]),
        nsg(DB, vec![
            // A lock-down whose description drifted: an update.
            rule("jit-deny-db-1-ssh", "Deny", 4000, "*", "22", "managed-by=jit; edited"),
        ]),
    ]});
    serde_json::to_string_pretty(&doc).unwrap() + "\n"
}

fn lab() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("live")).unwrap();
    fs::write(dir.path().join("policy.hcl"), policy()).unwrap();
    fs::write(dir.path().join("live/nsgs.json"), snapshot()).unwrap();
    dir
}

fn at() -> Timestamp {
    AT.parse().unwrap()
}

fn open(dir: &Path) -> OpenOptions {
    OpenOptions {
        config_dir: dir.to_path_buf(),
        parallelism: 1,
        ..OpenOptions::default()
    }
}

/// The saved plan's bytes, as `jit plan --out` writes them.
fn saved_plan(dir: &Path) -> Vec<u8> {
    let config = load_lenient(dir).unwrap();
    let made = plan(
        &config,
        &PlanOptions {
            at: at(),
            targets: vec![],
        },
        &open(dir),
    )
    .unwrap();
    planfile::to_json(&made)
}

/// `jit apply FILE` through ops: `Ok(ok)` when the plan was accepted (ok: every change
/// applied), `Err` when refused.
fn apply_file(dir: &Path, bytes: &[u8]) -> Result<bool, String> {
    let path = dir.join("plan.json");
    fs::write(&path, bytes).unwrap();
    let (saved, json) = planfile::read(&path).map_err(|e| e.to_string())?;
    let config = load_lenient(dir).unwrap();
    let opts = ApplyOptions {
        at: at(),
        now: at(),
        audit_log: dir.join(".jit/audit.jsonl"),
        audit: AuditContext {
            time: at(),
            at: None,
            actor: "prop".into(),
            plan_hash: planfile::hash(&json),
            git_commit: None,
        },
        replan: None,
    };
    apply(&config, &saved, &opts, &open(dir), &|_, _| {}, &|_, _| {})
        .map(|summary| summary.ok())
        .map_err(|e| e.to_string())
}

/// What a fresh plan leaves in the snapshot (computed once).
fn expected_snapshot() -> String {
    static EXPECTED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    EXPECTED.get_or_init(fresh_snapshot).clone()
}

fn fresh_snapshot() -> String {
    let dir = lab();
    let bytes = saved_plan(dir.path());
    assert_eq!(apply_file(dir.path(), &bytes), Ok(true));
    let after = fs::read_to_string(dir.path().join("live/nsgs.json")).unwrap();
    assert_ne!(after, snapshot(), "the fresh plan changes something");
    after
}

/// Every JSON pointer in `v`, parents before children.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                pointers(
                    child,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Values a mutation may write.
fn pool(i: usize) -> Value {
    let values = [
        json!(null),
        json!("0.0.0.0/0"),
        json!("*"),
        json!("Allow"),
        json!("Deny"),
        json!("create"),
        json!("delete"),
        json!(["create"]),
        json!(["delete"]),
        json!([]),
        json!(22),
        json!(100),
        json!(4096),
        json!("0-65535"),
        json!("jit-allow-backdoor-ssh"),
        json!("../../x/securityRules/open-all"),
        json!("managed-by=jit"),
        json!("2099-01-01T00:00:00Z"),
        json!(true),
        json!({}),
    ];
    values[i % values.len()].clone()
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the value at the n-th pointer.
    Set(usize, usize),
    /// Remove the n-th pointer's key or element.
    Remove(usize),
    /// Add a key to the n-th pointer's object (or push onto its array).
    Add(usize, usize, usize),
    /// Duplicate the n-th resource change.
    Duplicate(usize),
    /// Copy change n's `after` into change m (with its name and address).
    Transplant(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Set(a, b)),
        any::<usize>().prop_map(Mutation::Remove),
        (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(a, b, c)| Mutation::Add(a, b, c)),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Transplant(a, b)),
    ]
}

fn mutate(doc: &mut Value, m: &Mutation) {
    let mut all = Vec::new();
    pointers(doc, String::new(), &mut all);
    let pick = |n: usize| all[n % all.len()].clone();
    let parent_of = |p: &str| {
        p.rsplit_once('/')
            .map(|(parent, last)| (parent.to_string(), last.to_string()))
    };
    match m {
        Mutation::Set(n, v) => {
            let p = pick(*n);
            if let Some(slot) = doc.pointer_mut(&p) {
                *slot = pool(*v);
            }
        }
        Mutation::Remove(n) => {
            let p = pick(*n);
            if let Some((parent, last)) = parent_of(&p) {
                match doc.pointer_mut(&parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&last.replace("~1", "/").replace("~0", "~"));
                    }
                    Some(Value::Array(items)) => {
                        if let Ok(i) = last.parse::<usize>() {
                            if i < items.len() {
                                items.remove(i);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Mutation::Add(n, k, v) => {
            let keys = [
                "extra",
                "after",
                "actions",
                "valid_until",
                "name",
                "target",
                "request",
            ];
            let p = pick(*n);
            match doc.pointer_mut(&p) {
                Some(Value::Object(map)) => {
                    map.insert(keys[k % keys.len()].to_string(), pool(*v));
                }
                Some(Value::Array(items)) => items.push(pool(*v)),
                _ => {}
            }
        }
        Mutation::Duplicate(n) => {
            if let Some(Value::Array(items)) = doc.pointer_mut("/resource_changes") {
                if !items.is_empty() {
                    let copy = items[n % items.len()].clone();
                    items.push(copy);
                }
            }
        }
        Mutation::Transplant(a, b) => {
            if let Some(Value::Array(items)) = doc.pointer_mut("/resource_changes") {
                if !items.is_empty() {
                    let len = items.len();
                    let from = items[a % len].clone();
                    // Only between changes that are still objects (an earlier `Set` may have
                    // made one a string, which `IndexMut` cannot index).
                    let to = &mut items[b % len];
                    if let (Some(to), Some(from)) = (to.as_object_mut(), from.as_object()) {
                        if let (Some(Value::Object(change)), Some(after)) = (
                            to.get_mut("change"),
                            from.get("change").and_then(|c| c.get("after")),
                        ) {
                            change.insert("after".into(), after.clone());
                        }
                        for key in ["name", "address", "index"] {
                            if let Some(v) = from.get(key) {
                                to.insert(key.into(), v.clone());
                            }
                        }
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn a_mutated_plan_is_refused_or_writes_what_a_fresh_plan_writes(
        mutations in prop::collection::vec(mutation(), 1..4)
    ) {
        let expected = expected_snapshot();
        let dir = lab();
        let d = dir.path();
        let bytes = saved_plan(d);
        let mut doc: Value = serde_json::from_slice(&bytes).unwrap();
        for m in &mutations {
            mutate(&mut doc, m);
        }
        let before = fs::read_to_string(d.join("live/nsgs.json")).unwrap();
        match apply_file(d, doc.to_string().as_bytes()) {
            Err(why) => {
                prop_assert!(!why.is_empty());
                prop_assert_eq!(fs::read_to_string(d.join("live/nsgs.json")).unwrap(), before);
                prop_assert!(!d.join(".jit/audit.jsonl").exists(), "an audit line for a refused plan");
            }
            Ok(ok) => {
                prop_assert!(ok, "an accepted plan applies fully here");
                prop_assert_eq!(fs::read_to_string(d.join("live/nsgs.json")).unwrap(), expected);
            }
        }
    }
}

#[test]
fn the_lab_plan_has_creates_an_update_and_a_delete() {
    let dir = lab();
    let doc: Value = serde_json::from_slice(&saved_plan(dir.path())).unwrap();
    let mut actions: Vec<String> = doc["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["change"]["actions"][0].as_str().unwrap().to_string())
        .collect();
    actions.sort();
    actions.dedup();
    assert_eq!(actions, ["create", "delete", "update"]);
    // And an untouched saved plan applies (the property's other half).
    assert!(!expected_snapshot().is_empty());
}

/// The property's two outcomes both happen: a mutation of what apply does not take from the
/// file is accepted and writes the fresh plan's result; one of what it checks is refused.
#[test]
fn known_mutations_go_both_ways() {
    let expected = expected_snapshot();
    for (pointer, value, accepted) in [
        ("/resource_changes/0/reason", json!("forged"), true),
        ("/resource_changes/0/request", json!(null), true),
        ("/findings", json!([]), true),
        (
            "/resource_changes/0/change/after/priority",
            json!(101),
            false,
        ),
        ("/valid_until", json!(null), false),
        ("/created_at", json!("2099-01-01T00:00:00Z"), false),
        ("/resource_changes/0/change/actions", json!([]), false),
    ] {
        let dir = lab();
        let d = dir.path();
        let mut doc: Value = serde_json::from_slice(&saved_plan(d)).unwrap();
        *doc.pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{pointer}")) = value;
        let before = fs::read_to_string(d.join("live/nsgs.json")).unwrap();
        let result = apply_file(d, doc.to_string().as_bytes());
        let now = fs::read_to_string(d.join("live/nsgs.json")).unwrap();
        if accepted {
            assert_eq!(result, Ok(true), "{pointer}");
            assert_eq!(now, expected, "{pointer}");
        } else {
            assert!(result.is_err(), "{pointer}: {result:?}");
            assert_eq!(now, before, "{pointer}");
        }
    }
}
