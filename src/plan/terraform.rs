//! Pure: the plan's JSON form, a Terraform JSON plan as `terraform show -json` writes it, so
//! policies written for Terraform plans (conftest/OPA, checkov) read it unchanged: each
//! resource under its type's name (`azurerm_network_security_rule` for NSG rules) with its
//! schema's attribute values. [`to_document`] writes it; [`from_document`] reads it back and
//! refuses a document whose derived parts (`planned_values`, addresses, attribute values) are
//! not what jit writes for the changes it holds, so a policy and `jit apply` always see the
//! same plan.
//!
//! Terraform's keys: `format_version`, `terraform_version` (jit's version),
//! `planned_values.root_module.resources[]`, `resource_changes[]` with `address`, `mode`,
//! `type`, `name`, `index`, `provider_name`, `change.{actions, before, after, after_unknown,
//! before_sensitive, after_sensitive}` and `action_reason`. jit's own keys, which Terraform
//! does not use: `jit_format`, `created_at`, `valid_until`, `findings`, `accepted`, `errors`,
//! `warnings`, `fingerprints`, `config_digest`, `targets` at the top; `provider`, `scope`,
//! `target`, `reason`, `request` in each change; `scope` in each planned resource. A document
//! without `jit_format` [`JIT_FORMAT`] was written by an older jit and is refused. `action_reason` holds jit's reasons (`request_active`,
//! `lock_down`, `request_expired`, `not_in_policy`, `drifted`).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::plan::{
    AcceptedFinding, Action, ActionReason, Change, Finding, Plan, PlanError, PlanWarning,
    PriorResource, RequestInfo, ResourceChange,
};
use crate::platform;
use crate::resource::{name_order, Resource};

/// The version of jit's own keys in the document, bumped on any incompatible change to them.
/// `2`: scopes and typed resources (`scope` where `nsg_id` was).
pub const JIT_FORMAT: u32 = 2;

/// The resource name of every jit resource in a Terraform address: the resources of a type are
/// instances of one `for_each` resource, keyed by `<scope name>/<resource name>`.
pub const RESOURCE_NAME: &str = "jit";

#[derive(Serialize, Deserialize)]
struct Document {
    format_version: String,
    terraform_version: String,
    jit_format: u32,
    created_at: Timestamp,
    valid_until: Option<Timestamp>,
    planned_values: PlannedValues,
    resource_changes: Vec<WireChange>,
    findings: Vec<Finding>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    accepted: Vec<AcceptedFinding>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    errors: Vec<PlanError>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<PlanWarning>,
    fingerprints: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    config_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    targets: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct PlannedValues {
    root_module: RootModule,
}

#[derive(Serialize, Deserialize)]
struct RootModule {
    resources: Vec<WireResource>,
}

#[derive(Serialize, Deserialize)]
struct WireResource {
    address: String,
    mode: String,
    #[serde(rename = "type")]
    kind: String,
    name: String,
    index: String,
    provider_name: String,
    schema_version: u32,
    values: Value,
    sensitive_values: Value,
    scope: String,
}

#[derive(Serialize, Deserialize)]
struct WireChange {
    address: String,
    mode: String,
    #[serde(rename = "type")]
    kind: String,
    name: String,
    index: String,
    provider_name: String,
    change: WireChangeBody,
    action_reason: ActionReason,
    provider: String,
    scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request: Option<RequestInfo>,
}

#[derive(Serialize, Deserialize)]
struct WireChangeBody {
    #[serde(deserialize_with = "super::exactly_one_action")]
    actions: Vec<Action>,
    before: Option<Value>,
    after: Option<Value>,
    after_unknown: Value,
    before_sensitive: Value,
    after_sensitive: Value,
}

/// `<type>.jit["<scope>/<name>"]`, e.g. `azurerm_network_security_rule.jit["nsg/rule"]`.
pub fn address(type_name: &str, index: &str) -> String {
    format!(
        "{type_name}.{RESOURCE_NAME}[{}]",
        Value::String(index.to_string())
    )
}

/// The type of a change: that of its `after`, else its `before`.
fn resource_of(change: &ResourceChange) -> Option<&Resource> {
    change
        .change
        .after
        .as_ref()
        .or(change.change.before.as_ref())
}

fn sensitive(side: Option<&Value>) -> Value {
    match side {
        Some(_) => json!({}),
        None => json!(false),
    }
}

/// Writes the plan as a pretty Terraform JSON plan, without building the whole document as a
/// JSON tree first (a large estate's plan is tens of MiB).
pub fn write_pretty(plan: &Plan, out: &mut dyn std::io::Write) -> serde_json::Result<()> {
    serde_json::to_writer_pretty(out, &document(plan))
}

/// The plan as a Terraform JSON plan.
pub fn to_document(plan: &Plan) -> Value {
    serde_json::to_value(document(plan)).expect("a plan always converts to JSON")
}

fn document(plan: &Plan) -> Document {
    let resource_changes = plan
        .resource_changes
        .iter()
        .map(|c| {
            let before = c.change.before.as_ref().map(Resource::to_value);
            let after = c.change.after.as_ref().map(Resource::to_value);
            let schema = resource_of(c).map(|r| r.schema);
            let type_name = schema.map_or("", |s| s.type_name);
            WireChange {
                address: address(type_name, &c.address),
                mode: "managed".into(),
                kind: type_name.into(),
                name: RESOURCE_NAME.into(),
                index: c.address.clone(),
                provider_name: schema.map_or("", |s| s.provider_name).into(),
                change: WireChangeBody {
                    actions: c.change.actions.clone(),
                    before_sensitive: sensitive(before.as_ref()),
                    after_sensitive: sensitive(after.as_ref()),
                    after_unknown: json!({}),
                    before,
                    after,
                },
                action_reason: c.action_reason,
                provider: c.provider.clone(),
                scope: c.scope.clone(),
                target: c.target.clone(),
                reason: c.reason.clone(),
                request: c.request.clone(),
            }
        })
        .collect();
    Document {
        format_version: plan.format_version.clone(),
        jit_format: JIT_FORMAT,
        terraform_version: env!("CARGO_PKG_VERSION").into(),
        created_at: plan.created_at,
        valid_until: plan.valid_until,
        planned_values: PlannedValues {
            root_module: RootModule {
                resources: planned(plan),
            },
        },
        resource_changes,
        findings: plan.findings.clone(),
        accepted: plan.accepted.clone(),
        errors: plan.errors.clone(),
        warnings: plan.warnings.clone(),
        fingerprints: plan.fingerprints.clone(),
        config_digest: plan.config_digest.clone(),
        targets: plan.targets.clone(),
    }
}

/// Every managed resource as it will be after apply: the live ones no change touches, and the
/// `after` of every create and update, in address order.
fn planned(plan: &Plan) -> Vec<WireResource> {
    let changed = changed_addresses(&plan.resource_changes);
    let mut out: Vec<(&str, &str, &Resource)> = plan
        .prior
        .iter()
        .filter(|p| !changed.contains(&p.address.to_ascii_lowercase()))
        .map(|p| (p.address.as_str(), p.scope.as_str(), &p.resource))
        .collect();
    out.extend(plan.resource_changes.iter().filter_map(|c| {
        let after = c.change.after.as_ref()?;
        Some((c.address.as_str(), c.scope.as_str(), after))
    }));
    out.sort_by(|a, b| name_order(a.0, b.0));
    out.into_iter()
        .map(|(index, scope, resource)| WireResource {
            address: address(resource.type_name(), index),
            mode: "managed".into(),
            kind: resource.type_name().into(),
            name: RESOURCE_NAME.into(),
            index: index.to_string(),
            provider_name: resource.schema.provider_name.into(),
            schema_version: 0,
            values: resource.to_value(),
            sensitive_values: json!({}),
            scope: scope.to_string(),
        })
        .collect()
}

/// The addresses of the changes, lower-cased: names compare case-insensitively (ARM's do), so
/// a change of `jit-x` replaces a live `JIT-x`.
fn changed_addresses(changes: &[ResourceChange]) -> std::collections::HashSet<String> {
    changes
        .iter()
        .map(|c| c.address.to_ascii_lowercase())
        .collect()
}

/// A resource of type `type_name` in `scope` from a document's values at `path`, which must
/// be exactly what its platform writes.
fn read_resource(
    path: &str,
    type_name: &str,
    scope: &str,
    values: &Value,
) -> Result<Resource, String> {
    let at = |path: &str, why: String| format!("not a valid jit plan: at `{path}`: {why}");
    let schema = platform::schema(type_name)
        .ok_or_else(|| at(path, format!("unknown resource type `{type_name}`")))?;
    let Value::Object(map) = values else {
        return Err(at(
            path,
            format!("a {type_name} is an object, not {values}"),
        ));
    };
    let resource = Resource::new(schema, map.clone()).map_err(|e| at(path, e))?;
    let canonical = platform::canonical(&resource, scope).map_err(|e| at(path, e))?;
    match resource.differing(&canonical).first() {
        None if canonical == resource => Ok(resource),
        first => Err(at(
            &format!("{path}.{}", first.unwrap_or(&"name")),
            "not what jit writes for the changes the plan holds; re-run jit plan".into(),
        )),
    }
}

/// Reads a Terraform JSON plan jit wrote. The error is a phrase, with the place in the
/// document (`at \`resource_changes[0].change.after\``) when there is one.
pub fn from_document(value: Value) -> Result<Plan, String> {
    if value.get("jit_format").and_then(Value::as_u64) != Some(u64::from(JIT_FORMAT)) {
        return Err(format!(
            "this plan file was written by another version of jit (its `jit_format` is {}, this \
             jit writes {JIT_FORMAT}); re-run jit plan",
            value
                .get("jit_format")
                .map_or("missing".to_string(), Value::to_string)
        ));
    }
    let original = value.clone();
    let doc: Document = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            format!("not a valid jit plan: {inner}")
        } else {
            format!("not a valid jit plan: at `{path}`: {inner}")
        }
    })?;
    let at = |path: String, why: String| format!("not a valid jit plan: at `{path}`: {why}");
    let read_side = |path: String, kind: &str, scope: &str, v: &Option<Value>| {
        v.as_ref()
            .map(|v| read_resource(&path, kind, scope, v))
            .transpose()
    };
    let mut resource_changes = Vec::new();
    let mut prior = Vec::new();
    for (i, c) in doc.resource_changes.into_iter().enumerate() {
        let place = format!("resource_changes[{i}].change");
        let before = read_side(
            format!("{place}.before"),
            &c.kind,
            &c.scope,
            &c.change.before,
        )?;
        let after = read_side(format!("{place}.after"), &c.kind, &c.scope, &c.change.after)?;
        let Some(name) = after
            .as_ref()
            .or(before.as_ref())
            .map(|r| r.name().to_string())
        else {
            return Err(at(
                place,
                "a change has neither `before` nor `after`".into(),
            ));
        };
        if let Some(before) = &before {
            prior.push(PriorResource {
                address: c.index.clone(),
                scope: c.scope.clone(),
                resource: before.clone(),
            });
        }
        resource_changes.push(ResourceChange {
            address: c.index,
            provider: c.provider,
            scope: c.scope,
            name,
            target: c.target,
            change: Change {
                actions: c.change.actions,
                before,
                after,
            },
            action_reason: c.action_reason,
            reason: c.reason,
            request: c.request,
        });
    }
    let changed = changed_addresses(&resource_changes);
    for (i, r) in doc
        .planned_values
        .root_module
        .resources
        .into_iter()
        .enumerate()
    {
        if changed.contains(&r.index.to_ascii_lowercase()) {
            continue;
        }
        let path = format!("planned_values.root_module.resources[{i}].values");
        let resource = read_resource(&path, &r.kind, &r.scope, &r.values)?;
        prior.push(PriorResource {
            address: r.index,
            scope: r.scope,
            resource,
        });
    }
    prior.sort_by(|a, b| name_order(&a.address, &b.address));
    let plan = Plan {
        format_version: doc.format_version,
        created_at: doc.created_at,
        valid_until: doc.valid_until,
        resource_changes,
        prior,
        findings: doc.findings,
        accepted: doc.accepted,
        errors: doc.errors,
        warnings: doc.warnings,
        fingerprints: doc.fingerprints,
        config_digest: doc.config_digest,
        targets: doc.targets,
    };
    if let Some(path) = first_derived_difference(&original, &to_document(&plan)) {
        return Err(at(
            path,
            "not what jit writes for the changes the plan holds; re-run jit plan".into(),
        ));
    }
    Ok(plan)
}

/// The first place where a document's derived parts differ from what jit writes for the
/// plan read from it: `planned_values`, and each change's Terraform keys and attribute values.
fn first_derived_difference(read: &Value, written: &Value) -> Option<String> {
    let (theirs, ours) = (&read["planned_values"], &written["planned_values"]);
    if theirs != ours {
        return Some(first_path("planned_values", theirs, ours));
    }
    let empty = Vec::new();
    let changes = |v: &Value| v["resource_changes"].as_array().unwrap_or(&empty).clone();
    for (i, (theirs, ours)) in changes(read)
        .iter()
        .zip(changes(written).iter())
        .enumerate()
    {
        for key in [
            "address",
            "mode",
            "type",
            "name",
            "index",
            "provider_name",
            "change",
        ] {
            if theirs[key] != ours[key] {
                return Some(first_path(
                    &format!("resource_changes[{i}].{key}"),
                    &theirs[key],
                    &ours[key],
                ));
            }
        }
    }
    None
}

/// The deepest path under `path` where two JSON values differ.
fn first_path(path: &str, a: &Value, b: &Value) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys = y.keys().chain(x.keys().filter(|k| !y.contains_key(*k)));
            for key in keys {
                let (p, q) = (
                    x.get(key).unwrap_or(&Value::Null),
                    y.get(key).unwrap_or(&Value::Null),
                );
                if p != q {
                    return first_path(&format!("{path}.{key}"), p, q);
                }
            }
            path.to_string()
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .position(|(p, q)| p != q)
            .map_or(path.to_string(), |i| {
                first_path(&format!("{path}[{i}]"), &x[i], &y[i])
            }),
        _ => path.to_string(),
    }
}
