//! The Defender resource types: a VM entry of a JIT policy document and a grant to initiate,
//! and their conversion from and to the reconcile's typed values. Terraform has no type for
//! either (azapi would write the whole document); jit names them `jit_defender_vm_policy`
//! and `jit_defender_initiate` under the provider `registry.terraform.io/azure/azapi`.

use serde_json::{json, Map, Value};

use super::policy::VmEntry;
use super::requests::Initiate;
use crate::resource::{Attribute, Compare, Resource, Role, Schema};

pub const VM_TYPE: &str = "jit_defender_vm_policy";
pub const INITIATE_TYPE: &str = "jit_defender_initiate";
const PROVIDER: &str = "registry.terraform.io/azure/azapi";

/// A VM entry of a JIT policy document.
pub static VM_SCHEMA: Schema = Schema {
    type_name: VM_TYPE,
    provider_name: PROVIDER,
    doc: "One VM entry (`properties.virtualMachines[]`) of a Defender for Cloud JIT policy document (the scope); no Terraform type exists, so jit names it.",
    attributes: &[
        Attribute {
            name: "vm_id",
            role: Role::Identity,
            compare: Compare::IgnoreCase,
            shown: true,
            doc: "the VM's resource id",
        },
        Attribute {
            name: "ports",
            role: Role::Descriptive,
            compare: Compare::Exact,
            shown: true,
            doc: "the entry's `ports[]` as Defender writes them (`number`, `protocol`, `allowedSourceAddressPrefix(es)`, `maxRequestAccessDuration`)",
        },
    ],
};

/// A grant to initiate: `POST …/initiate`. Defender closes it at `end_time_utc` itself.
pub static INITIATE_SCHEMA: Schema = Schema {
    type_name: INITIATE_TYPE,
    provider_name: PROVIDER,
    doc: "One grant initiated on one VM through a Defender for Cloud JIT policy (the scope); Defender closes it at `end_time_utc`, and this API cannot close it earlier.",
    attributes: &[
        Attribute {
            name: "vm_id",
            role: Role::Identity,
            compare: Compare::IgnoreCase,
            shown: true,
            doc: "the VM's resource id",
        },
        Attribute {
            name: "request_id",
            role: Role::Identity,
            compare: Compare::Exact,
            shown: true,
            doc: "the request the grant is for (carried in the justification as `jit:<id>: …`)",
        },
        Attribute {
            name: "ports",
            role: Role::Descriptive,
            compare: Compare::Exact,
            shown: true,
            doc: "the port numbers opened",
        },
        Attribute {
            name: "allowed_source_address_prefix",
            role: Role::Descriptive,
            compare: Compare::Exact,
            shown: true,
            doc: "the request's source (`*`, an address or a CIDR)",
        },
        Attribute {
            name: "end_time_utc",
            role: Role::Descriptive,
            compare: Compare::Exact,
            shown: true,
            doc: "when Defender closes it",
        },
        Attribute {
            name: "justification",
            role: Role::Descriptive,
            compare: Compare::Exact,
            shown: true,
            doc: "the request's justification",
        },
    ],
};

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// A VM entry as a resource.
pub fn vm_resource(entry: &VmEntry) -> Resource {
    let ports = entry.to_value().get("ports").cloned().unwrap_or(json!([]));
    Resource::new(
        &VM_SCHEMA,
        object(json!({"vm_id": entry.id, "ports": ports})),
    )
    .unwrap_or_else(|_| unreachable_resource(&VM_SCHEMA))
}

/// The VM entry a resource holds.
pub fn vm_entry(resource: &Resource) -> Result<VmEntry, String> {
    let body = json!({"id": resource.get("vm_id"), "ports": resource.get("ports")});
    serde_json::from_value(body).map_err(|e| format!("not a JIT VM entry: {e}"))
}

/// A grant to initiate as a resource.
pub fn initiate_resource(grant: &Initiate) -> Resource {
    Resource::new(
        &INITIATE_SCHEMA,
        object(json!({
            "vm_id": grant.vm_id,
            "request_id": grant.request_id,
            "ports": grant.ports,
            "allowed_source_address_prefix": grant.source,
            "end_time_utc": grant.end.to_string(),
            "justification": grant.justification,
        })),
    )
    .unwrap_or_else(|_| unreachable_resource(&INITIATE_SCHEMA))
}

/// The grant a resource holds.
pub fn initiate(resource: &Resource) -> Result<Initiate, String> {
    let text = |name: &str| {
        resource
            .get(name)
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("`{name}` is not a string"))
    };
    let ports = resource
        .get("ports")
        .as_array()
        .ok_or("`ports` is not a list")?
        .iter()
        .map(|p| {
            p.as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .ok_or_else(|| format!("port `{p}` is not a port number"))
        })
        .collect::<Result<Vec<u16>, String>>()?;
    let end = text("end_time_utc")?
        .parse()
        .map_err(|e| format!("`end_time_utc` is not a time: {e}"))?;
    Ok(Initiate {
        vm_id: text("vm_id")?,
        ports,
        end,
        source: text("allowed_source_address_prefix")?,
        request_id: text("request_id")?,
        justification: text("justification")?,
    })
}

/// A resource with every attribute null (never reached: the keys above are the schema's).
fn unreachable_resource(schema: &'static Schema) -> Resource {
    Resource {
        schema,
        values: schema
            .attributes
            .iter()
            .map(|a| (a.name.to_string(), Value::Null))
            .collect(),
    }
}
