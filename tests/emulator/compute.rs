//! The resources a VM's network path is made of, read-only: `GET` of a virtual machine
//! (Microsoft.Compute, api-version 2024-07-01), a network interface and a subnet
//! (Microsoft.Network, 2024-05-01). Seeded bodies come back exactly as seeded (no etags are
//! added: the official examples carry none). Also the walk Defender itself makes from a VM to
//! the NSGs that filter it (the NIC's and each IP configuration's subnet's).

use axum::response::Response;
use serde_json::Value;

use super::arm::Call;
use super::errors::{arm_error, json_response};
use super::state::Inner;

/// Compute's api-version.
pub const COMPUTE_API_VERSION: &str = "2024-07-01";

/// What a seeded id is, by its path.
fn kind_of(lower: &[&str]) -> Option<&'static str> {
    match lower {
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.compute", "virtualmachines", _] => {
            Some("Microsoft.Compute/virtualMachines")
        }
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.network", "networkinterfaces", _] => {
            Some("Microsoft.Network/networkInterfaces")
        }
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.network", "virtualnetworks", _, "subnets", _] => {
            Some("Microsoft.Network/virtualNetworks/subnets")
        }
        _ => None,
    }
}

/// The path's segments, percent-decoded and lowercased.
pub fn lower_segments(path: &str) -> Vec<String> {
    path.trim_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .to_ascii_lowercase()
        })
        .collect()
}

/// Seeds (or replaces) a VM, NIC or subnet body, keyed by its `id`.
pub fn add(inner: &mut Inner, body: Value) -> Result<String, String> {
    let id = body
        .get("id")
        .and_then(Value::as_str)
        .ok_or("resource has no string `id`")?
        .to_string();
    let lower = lower_segments(&id);
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    if kind_of(&l).is_none() {
        return Err(format!(
            "`{id}` is not the id of a virtual machine, network interface or subnet"
        ));
    }
    let key = id.to_ascii_lowercase();
    inner.resources.insert(key.clone(), body);
    Ok(key)
}

/// Answers GETs of VMs, NICs and subnets; `None` for any other request.
pub fn dispatch(call: &Call) -> Option<Response> {
    let lower = lower_segments(call.path);
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    let kind = kind_of(&l)?;
    if call.method != "GET" {
        return Some(arm_error(
            405,
            "MethodNotAllowed",
            &format!(
                "The requested method '{}' is not allowed: the emulator serves {kind} read-only.",
                call.method
            ),
        ));
    }
    let key = format!("/{}", lower.join("/"));
    let inner = call.shared.lock();
    Some(match inner.resources.get(&key) {
        Some(body) => json_response(200, body, &[]),
        None => {
            let segs: Vec<&str> = call.path.trim_matches('/').split('/').collect();
            let name = segs[7..].join("/");
            arm_error(
                404,
                "ResourceNotFound",
                &format!(
                    "The Resource '{}/{name}' under resource group '{}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
                    kind.split('/').take(2).collect::<Vec<_>>().join("/"),
                    segs[3]
                ),
            )
        }
    })
}

fn ids_at<'a>(value: &'a Value, pointer: &str) -> Vec<&'a str> {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("id").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

/// Lowercased ids of the seeded NSGs that filter the inbound traffic of VM `vm_id`: each NIC's
/// own NSG and the NSG of each IP configuration's subnet, without repeats. Empty for a VM the
/// emulator does not hold.
pub fn nsgs_of_vm(inner: &Inner, vm_id: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut push = |id: Option<&str>| {
        if let Some(id) = id {
            let key = id.to_ascii_lowercase();
            if inner.nsgs.contains_key(&key) && !found.contains(&key) {
                found.push(key);
            }
        }
    };
    let Some(vm) = inner.resources.get(&vm_id.to_ascii_lowercase()) else {
        return Vec::new();
    };
    for nic_id in ids_at(vm, "/properties/networkProfile/networkInterfaces") {
        let Some(nic) = inner.resources.get(&nic_id.to_ascii_lowercase()) else {
            continue;
        };
        push(
            nic.pointer("/properties/networkSecurityGroup/id")
                .and_then(Value::as_str),
        );
        let configs = nic
            .pointer("/properties/ipConfigurations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for config in &configs {
            let Some(subnet_id) = config
                .pointer("/properties/subnet/id")
                .and_then(Value::as_str)
            else {
                continue;
            };
            push(
                inner
                    .resources
                    .get(&subnet_id.to_ascii_lowercase())
                    .and_then(|s| s.pointer("/properties/networkSecurityGroup/id"))
                    .and_then(Value::as_str),
            );
        }
    }
    found
}
