//! Editing a saved plan (a Terraform JSON plan) the way an attacker would: consistently. After
//! an edit of `resource_changes`, [`resync`] rewrites what jit derives from them (each change's
//! Terraform `address` and `name`, and `planned_values`), so that the edit reaches the check
//! against what jit would do instead of stopping at the document's own consistency check.
//! Changes of any resource type are resynced; an NSG rule's copies of its scope (`id`,
//! `network_security_group_name`, `resource_group_name`) are rewritten too.

#![allow(dead_code)]

use serde_json::{json, Value};

pub const TYPE: &str = "azurerm_network_security_rule";

/// `azurerm_network_security_rule.jit["<index>"]`.
pub fn address(index: &str) -> String {
    typed_address(TYPE, index)
}

/// `<type>.jit["<index>"]`.
pub fn typed_address(type_name: &str, index: &str) -> String {
    format!("{type_name}.jit[{}]", Value::String(index.to_string()))
}

/// The resource type of a change (an NSG rule when the change does not say).
fn type_of(change: &Value) -> String {
    change["type"].as_str().unwrap_or(TYPE).to_string()
}

/// The change whose rule (`after`, else `before`) is named `name`.
pub fn rule_name(change: &Value) -> &str {
    let side = if change["change"]["after"].is_null() {
        &change["change"]["before"]
    } else {
        &change["change"]["after"]
    };
    side["name"].as_str().unwrap_or_default()
}

/// Sets a change's `index` (`<scope>/<name>`, e.g. `<nsg>/<rule>`) and, with it, its
/// `address`.
pub fn set_index(change: &mut Value, index: &str) {
    change["index"] = json!(index);
    change["address"] = json!(typed_address(&type_of(change), index));
}

/// Rewrites each change's `address` and `name` from its `index`, and `planned_values` from the
/// changes: the unchanged resources stay, each change's `after` replaces or adds its resource.
pub fn resync(doc: &mut Value) {
    let Some(changes) = doc["resource_changes"].as_array_mut() else {
        return;
    };
    let mut afters = Vec::new();
    let mut indexes = Vec::new();
    for c in changes.iter_mut() {
        let Some(index) = c["index"].as_str().map(str::to_string) else {
            continue;
        };
        let type_name = type_of(c);
        c["address"] = json!(typed_address(&type_name, &index));
        c["name"] = json!("jit");
        indexes.push(index.to_ascii_lowercase());
        let nsg_id = c["scope"].as_str().unwrap_or_default().to_string();
        for side in ["before", "after"] {
            let there = !c["change"][side].is_null();
            c["change"][format!("{side}_sensitive")] = if there { json!({}) } else { json!(false) };
            let rule = &mut c["change"][side];
            // An NSG rule's id and names follow its scope; other types carry no such copy.
            let name = rule["name"].as_str().filter(|_| type_name == TYPE);
            if let Some(name) = name.map(str::to_string) {
                rule["id"] = json!(format!("{nsg_id}/securityRules/{name}"));
                rule["network_security_group_name"] = json!(nsg_id.rsplit('/').next());
                let mut parts = nsg_id.split('/');
                let rg = parts
                    .by_ref()
                    .find(|p| p.eq_ignore_ascii_case("resourceGroups"))
                    .and_then(|_| parts.next());
                rule["resource_group_name"] = json!(rg);
            }
        }
        if !c["change"]["after"].is_null() {
            afters.push(json!({
                "address": typed_address(&type_name, &index),
                "mode": "managed",
                "type": type_name,
                "name": "jit",
                "index": index,
                "provider_name": c["provider_name"],
                "schema_version": 0,
                "values": c["change"]["after"],
                "sensitive_values": {},
                "scope": c["scope"],
            }));
        }
    }
    let Some(resources) = doc["planned_values"]["root_module"]["resources"].as_array_mut() else {
        return;
    };
    resources.retain(|r| {
        !indexes.contains(&r["index"].as_str().unwrap_or_default().to_ascii_lowercase())
    });
    resources.extend(afters);
    resources.sort_by_key(|r| {
        let index = r["index"].as_str().unwrap_or_default().to_string();
        (index.to_ascii_lowercase(), index)
    });
}
