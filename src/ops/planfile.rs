//! Saved plans: `jit plan --out FILE` writes the JSON plan (the same document `jit show --json`
//! prints) atomically; `jit apply FILE` and `jit show FILE` read it back. A file that is not
//! JSON, was cut short, has another `format_version`, or is not shaped like a plan (a change
//! with no action or several, an unknown action, a field missing or of the wrong type) is a
//! clear error naming the file and the place in it, never a panic. Reading a plan only checks
//! its shape: `ops::apply` checks what it says against the configuration and live state.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::atomic::write_atomic;
use crate::ops::OpsError;
use crate::plan::{Plan, FORMAT_VERSION};

/// The plan as pretty JSON ending with a newline: the bytes of a saved plan.
pub fn to_json(plan: &Plan) -> Vec<u8> {
    let mut out = Vec::new();
    crate::render::json::render(plan, &mut out).expect("writing to memory cannot fail");
    out
}

/// `sha256:<hex>` of a plan's JSON bytes; recorded in the audit log.
pub fn hash(json: &[u8]) -> String {
    crate::digest::tagged(json)
}

/// Writes the plan to `path` atomically; returns the bytes written.
pub fn write(path: &Path, plan: &Plan) -> Result<Vec<u8>, OpsError> {
    let json = to_json(plan);
    write_atomic(path, |file| std::io::Write::write_all(file, &json)).map_err(|source| {
        OpsError::Io {
            context: format!("cannot write plan file `{}`", path.display()),
            source,
        }
    })?;
    Ok(json)
}

/// Reads a saved plan; returns it with the file's bytes (for the plan hash).
pub fn read(path: &Path) -> Result<(Plan, Vec<u8>), OpsError> {
    let file = path.display().to_string();
    let bytes = fs::read(path).map_err(|source| OpsError::Io {
        context: format!("cannot read plan file `{file}`"),
        source,
    })?;
    let plan = parse(&bytes).map_err(|message| OpsError::PlanFile { file, message })?;
    Ok((plan, bytes))
}

fn parse(bytes: &[u8]) -> Result<Plan, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        if e.is_eof() {
            format!(
                "plan file is truncated (ends at line {}, column {})",
                e.line(),
                e.column()
            )
        } else {
            format!(
                "plan file is not valid JSON at line {}, column {}",
                e.line(),
                e.column()
            )
        }
    })?;
    match value.get("format_version") {
        Some(Value::String(v)) if v == FORMAT_VERSION => {}
        Some(Value::String(v)) => {
            return Err(format!(
                "plan format version `{v}` is not supported (this jit reads `{FORMAT_VERSION}`); \
                 re-run jit plan with this version"
            ))
        }
        _ => return Err("not a jit plan: no `format_version`".into()),
    }
    crate::plan::terraform::from_document(value)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn plan() -> Plan {
        Plan {
            format_version: FORMAT_VERSION.into(),
            created_at: "2026-11-25T15:00:00Z".parse().unwrap(),
            valid_until: Some("2026-11-25T16:00:00Z".parse().unwrap()),
            resource_changes: vec![],
            prior: vec![],
            findings: vec![],
            accepted: vec![],
            errors: vec![],
            warnings: vec![],
            config_digest: None,
            targets: vec![],
            fingerprints: BTreeMap::from([("/x/nsg".to_string(), "sha256:00".to_string())]),
        }
    }

    #[test]
    fn round_trips_and_hashes_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        let written = write(&path, &plan()).unwrap();
        let (read_back, bytes) = read(&path).unwrap();
        assert_eq!(read_back, plan());
        assert_eq!(bytes, written);
        assert!(written.ends_with(b"\n"));
        assert_eq!(hash(&bytes), hash(&to_json(&plan())));
        assert_eq!(hash(b"").len(), "sha256:".len() + 64);
    }

    #[test]
    fn bad_files_are_clear_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        let full = String::from_utf8(to_json(&plan())).unwrap();
        let cases = [
            (full[..full.len() / 2].to_string(), "plan file is truncated"),
            (
                "{\"format_version\": 1.0,}".to_string(),
                "not valid JSON at line 1",
            ),
            ("[]".to_string(), "not a jit plan"),
            (
                full.replace("\"1.2\"", "\"9.9\""),
                "format version `9.9` is not supported",
            ),
            (
                full.replace("\"jit_format\": 2", "\"jit_format\": 1"),
                "written by another version of jit (its `jit_format` is 1, this jit writes 2); \
                 re-run jit plan",
            ),
            (
                full.replace("\"1.2\"", "\"1.0\""),
                "plan format version `1.0` is not supported (this jit reads `1.2`); re-run jit plan",
            ),
            (
                full.replace("\"created_at\"", "\"made_at\""),
                "not a valid jit plan: missing field `created_at`",
            ),
        ];
        let mut cases = cases.to_vec();
        let before = serde_json::json!({"access": "Deny", "description": "managed-by=jit",
            "destination_address_prefix": "*", "destination_address_prefixes": null,
            "destination_application_security_group_ids": null, "destination_port_range": "22",
            "destination_port_ranges": null, "direction": "Inbound", "id": "/x/nsg/securityRules/r",
            "name": "r", "network_security_group_name": "nsg", "priority": 4000,
            "protocol": "Tcp", "resource_group_name": null, "source_address_prefix": "*",
            "source_address_prefixes": null, "source_application_security_group_ids": null,
            "source_port_range": "*", "source_port_ranges": null});
        let change = serde_json::json!({
            "address": "azurerm_network_security_rule.jit[\"nsg/r\"]", "mode": "managed",
            "type": "azurerm_network_security_rule", "name": "jit", "index": "nsg/r",
            "provider_name": "registry.terraform.io/hashicorp/azurerm",
            "provider": "snapshot.s", "scope": "/x/nsg",
            "change": {"actions": ["delete"], "before": before, "after": null,
                "after_unknown": {}, "before_sensitive": {}, "after_sensitive": false},
            "action_reason": "not_in_policy", "reason": ""
        });
        let with_change = |edit: &dyn Fn(&mut Value)| {
            let mut doc: Value = serde_json::from_str(&full).unwrap();
            let mut c = change.clone();
            edit(&mut c);
            doc["resource_changes"] = serde_json::json!([c]);
            doc.to_string()
        };
        for (edit, expected) in [
            (
                &(|c: &mut Value| c["change"]["actions"] = serde_json::json!([]))
                    as &dyn Fn(&mut Value),
                "at `resource_changes[0].change.actions`: a change has no action",
            ),
            (
                &|c| c["change"]["actions"] = serde_json::json!(["create", "delete"]),
                "a change has 2 actions",
            ),
            (
                &|c| c["change"]["actions"] = serde_json::json!(["open"]),
                "unknown variant `open`",
            ),
            (
                &|c| c["change"]["actions"] = serde_json::json!("delete"),
                "at `resource_changes[0].change.actions`: invalid type",
            ),
            (
                &|c| {
                    c.as_object_mut().unwrap().remove("change");
                },
                "missing field `change`",
            ),
            (
                &|c| c["change"]["after"] = serde_json::json!({"name": 3}),
                "at `resource_changes[0].change.after`",
            ),
            (
                &|c| c["change"]["before"]["properties"] = serde_json::json!({}),
                "at `resource_changes[0].change.before`: `properties` is not an attribute of \
                 azurerm_network_security_rule",
            ),
            (
                &|c| c["change"]["before"]["priority"] = serde_json::json!("high"),
                "`priority` should be a number",
            ),
            (
                &|c| c["address"] = serde_json::json!("nsg/r"),
                "at `resource_changes[0].address`: not what jit writes",
            ),
            (
                &|c| c["change"]["before"]["resource_group_name"] = serde_json::json!("rg"),
                "at `resource_changes[0].change.before.resource_group_name`: not what jit writes",
            ),
            (
                &|c| c["scope"] = serde_json::json!(7),
                "at `resource_changes[0].scope`: invalid type: integer `7`",
            ),
        ] {
            cases.push((with_change(edit), expected));
        }
        // A create hidden from `planned_values`, where a policy over planned values reads.
        let mut create = plan();
        create.resource_changes = vec![crate::plan::ResourceChange {
            address: "nsg/r".into(),
            provider: "snapshot.s".into(),
            scope: "/x/nsg".into(),
            name: "r".into(),
            target: None,
            change: crate::plan::Change {
                actions: vec![crate::plan::Action::Create],
                before: None,
                after: Some(
                    crate::platform::nsg::Rule::from_azurerm(&before)
                        .unwrap()
                        .to_resource("/x/nsg"),
                ),
            },
            action_reason: crate::plan::ActionReason::LockDown,
            reason: String::new(),
            request: None,
        }];
        let bytes = to_json(&create);
        assert_eq!(parse(&bytes).unwrap(), create);
        let mut hidden: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            hidden["planned_values"]["root_module"]["resources"][0]["values"]["name"],
            "r"
        );
        hidden["planned_values"]["root_module"]["resources"] = serde_json::json!([]);
        cases.push((
            hidden.to_string(),
            "at `planned_values.root_module.resources`: not what jit writes",
        ));
        assert!(parse(with_change(&|_| {}).as_bytes()).is_ok());
        for (text, expected) in cases {
            fs::write(&path, &text).unwrap();
            let err = read(&path).unwrap_err().to_string();
            assert!(err.starts_with(&path.display().to_string()), "{err}");
            assert!(err.contains(expected), "{text}\n→ {err}");
        }
        let err = read(&dir.path().join("absent.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read plan file"), "{err}");
    }
}
