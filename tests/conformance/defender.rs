//! Azure in Defender mode as a conformance peer: the real `jit` binary against the ARM
//! emulator, the policy's two targets named by their VMs (`web-1` in `rg1`, `web-2` in `rg2`),
//! so its scopes are two JIT policy documents named `default`. The emulator's Defender wall
//! clock is frozen when the peer is made (it moves only when [`Peer::end_grant`] says), so
//! nothing Defender does depends on how fast the test runs.
//!
//! Live state is the three JIT policy documents of the subscription and the VMs' NSGs. What
//! jit owns there: in documents named `default`, the entries of the VMs its targets name and
//! the requests it initiated for the repository's grant; and, by proxy, the
//! `SecurityCenter-JITRule…` rules Defender makes for those entries and requests. Everything
//! else is foreign:
//! - in `rg1`'s `default` document, another tool's VM entry (`legacy`), its open request, and
//!   an old request of jit's (`INC-0-old`, closed by Defender long ago);
//! - another JIT policy, `legacy-jit`, naming `web-1` too (a look-alike: same VM, not jit's
//!   policy name), with the deny rules Defender keeps for it in `web-1`'s NSG;
//! - every other rule of the NSGs: Azure's example rules, a `SecurityCenter-JITRule…` rule
//!   Defender made for `legacy`, a hand-made rule carrying jit's NSG prefix, even an NSG-mode
//!   jit rule (a Defender-mode provider writes no NSG rule at all).
//!
//! The first plan puts `web-1`'s hand-widened entry back (an update), creates `web-2`'s
//! document (a create) and initiates the grant: three writes, two scopes. There is nothing to
//! delete: Defender mode never revokes (Azure closes a request at its `endTimeUtc`), so
//! [`Peer::revocation`] is [`Revocation::Platform`]. An apply is stopped after `k` writes as
//! for the NSG-mode peer: a `400` on the PUT of a document or the POST of an initiate, from the
//! plan's `k + 1`-th change on.

use std::path::Path;

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::emulator::{Emulator, EmulatorConfig, Fault, FaultKind, Trigger};
use crate::grant::{self, Phase};
use crate::nsg::{self, SUB};
use crate::peer::{Peer, Revocation, Stop};
use crate::support::{config_dir, TestCommand};
use crate::vm_fixture;

/// Jit's policy name (the provider block sets none).
const POLICY: &str = "default";
/// The managed VMs: (resource group, name, NSG of its NIC).
const VMS: [(&str, &str, &str); 2] = [("rg1", "web-1", "a"), ("rg2", "web-2", "b")];
/// The request the repository holds (see [`grant::write`]).
const REQUEST: &str = "INC-1-alice";

fn vm_id(rg: &str, name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}")
}

fn policy_id(rg: &str, name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Security/locations/westus/jitNetworkAccessPolicies/{name}")
}

/// Every JIT policy document of the subscription, by id: jit's two, and the look-alike.
fn policy_ids() -> [String; 3] {
    [
        policy_id("rg1", POLICY),
        policy_id("rg1", "legacy-jit"),
        policy_id("rg2", POLICY),
    ]
}

pub struct DefenderPeer {
    emu: Emulator,
    dir: TempDir,
    bin: TempDir,
}

impl DefenderPeer {
    pub fn new() -> DefenderPeer {
        let emu = Emulator::start(EmulatorConfig::fast());
        emu.set_wall_clock(jiff::Timestamp::now());
        let (_, _, subnet) = vm_fixture::bodies(None, None);
        emu.add_subnet(subnet);
        for (rg, name, nsg) in VMS {
            let (vm, nic) = vm_bodies(rg, name, nsg);
            emu.add_vm(vm);
            emu.add_nic(nic);
            emu.add_nsg(seeded_nsg(nsg));
        }
        emu.add_jit_policy(jit_document());
        emu.add_jit_policy(look_alike());
        let targets: String = VMS
            .iter()
            .map(|(rg, name, _)| target(name, &vm_id(rg, name)))
            .collect();
        let policy = format!(
            "provider \"azure\" \"sec\" {{\n  subscription_id = \"{SUB}\"\n  mode            = \"defender\"\n  \
             endpoint        = \"{}\"\n}}\n\n{targets}",
            emu.base_url(),
        );
        let dir = config_dir(&[("policy.hcl", &policy)]);
        grant::write(dir.path(), "web-1", "ssh", Phase::During);
        DefenderPeer {
            emu,
            dir,
            bin: crate::azure::stand_in_az(),
        }
    }

    fn nsgs(&self) -> Vec<Value> {
        let mut nsgs = self.emu.nsgs();
        nsgs.sort_by_key(|n| n["id"].as_str().unwrap_or_default().to_ascii_lowercase());
        nsgs
    }

    /// Defender's open allow rules for jit's grant.
    fn opened(&self) -> Vec<Value> {
        self.nsgs()
            .iter()
            .flat_map(|n| rules(n).to_vec())
            .filter(|r| by_proxy(r) && r["properties"]["access"] == "Allow")
            .collect()
    }
}

/// A target named by its VM, with Defender-valid ports: each allows the grant's source
/// exactly (Defender refuses a request narrower than the allowed prefix).
fn target(name: &str, vm_id: &str) -> String {
    let ports: &[(&str, u16)] = if name == "web-1" {
        &[("ssh", 22)]
    } else {
        &[("ssh", 22), ("rdp", 3389)]
    };
    let ports: String = ports
        .iter()
        .map(|(port, number)| {
            format!(
                "  port \"{port}\" {{\n    number          = {number}\n    protocol        = \"tcp\"\n    \
                 allowed_sources = [\"198.51.100.7/32\"]\n    max_duration    = \"3h\"\n  }}\n"
            )
        })
        .collect();
    format!(
        "target \"{name}\" {{\n  provider = \"azure.sec\"\n  vm_id    = \"{vm_id}\"\n{ports}}}\n\n"
    )
}

/// The VM `name` in `rg` and its NIC (in `rg1`, on the example's subnet, filtered by NSG
/// `nsg`), from the official examples.
fn vm_bodies(rg: &str, name: &str, nsg: &str) -> (Value, Value) {
    let (mut vm, mut nic, _) = vm_fixture::bodies(Some(nsg), None);
    let nic_id = format!("{}-{name}", vm_fixture::NIC_ID);
    vm["id"] = json!(vm_id(rg, name));
    vm["name"] = json!(name);
    vm["properties"]["networkProfile"]["networkInterfaces"] = json!([{ "id": nic_id }]);
    nic["id"] = json!(nic_id);
    nic["name"] = json!(format!("test-nic-{name}"));
    (vm, nic)
}

/// NSG `name` as the NSG-mode peers seed it, its `SecurityCenter-JITRule…` rule made for the
/// foreign VM `legacy`.
fn seeded_nsg(name: &str) -> Value {
    let mut nsg = nsg::seeded(name);
    for rule in nsg["properties"]["securityRules"].as_array_mut().unwrap() {
        if let Some(d) = rule["properties"]["description"].as_str() {
            if d.starts_with("MDC JIT") {
                rule["properties"]["description"] =
                    json!("MDC JIT Network Access rule for policy 'default' of VM 'legacy'.");
            }
        }
    }
    nsg
}

/// `rg1`'s `default` document: `web-1`'s entry widened by hand to any source, another tool's
/// entry and request, and an old request of jit's that Defender closed.
fn jit_document() -> Value {
    let now = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap();
    let hours = |h: i64| (now + jiff::SignedDuration::from_hours(h)).to_string();
    json!({
        "id": policy_id("rg1", POLICY), "name": POLICY, "location": "westus", "kind": "Basic",
        "type": "Microsoft.Security/locations/jitNetworkAccessPolicies",
        "properties": {
            "virtualMachines": [
                {"id": vm_id("rg1", "web-1"), "ports": [{"number": 22, "protocol": "TCP",
                    "allowedSourceAddressPrefix": "*", "maxRequestAccessDuration": "PT3H"}]},
                {"id": vm_id("rg1", "legacy"), "publicIpAddress": "203.0.113.9",
                    "ports": [{"number": 5985, "protocol": "TCP", "maxRequestAccessDuration": "PT1H",
                        "allowedSourceAddressPrefixes": ["10.0.0.0/8"]}]},
            ],
            "requests": [
                {"virtualMachines": [{"id": vm_id("rg1", "legacy"), "ports": [{"number": 5985,
                    "allowedSourceAddressPrefix": "10.0.0.0/8", "endTimeUtc": hours(20),
                    "status": "Initiated", "statusReason": "UserRequested"}]}],
                 "startTimeUtc": hours(-1), "requestor": "barbara@contoso.com",
                 "justification": "patching"},
                {"virtualMachines": [{"id": vm_id("rg1", "web-1"), "ports": [{"number": 22,
                    "allowedSourceAddressPrefix": "198.51.100.7", "endTimeUtc": hours(-20),
                    "status": "Revoked", "statusReason": "Expired"}]}],
                 "startTimeUtc": hours(-22), "requestor": "ci@example.com",
                 "justification": "jit request INC-0-old: an old grant"},
            ],
            "provisioningState": "Succeeded"
        }
    })
}

/// Another JIT policy naming `web-1`: not jit's name, so every part of it is foreign.
fn look_alike() -> Value {
    json!({
        "id": policy_id("rg1", "legacy-jit"), "name": "legacy-jit", "location": "westus",
        "kind": "Basic", "type": "Microsoft.Security/locations/jitNetworkAccessPolicies",
        "properties": {
            "virtualMachines": [{"id": vm_id("rg1", "web-1"), "ports": [{"number": 3389,
                "protocol": "*", "allowedSourceAddressPrefix": "*", "maxRequestAccessDuration": "PT1H"}]}],
            "provisioningState": "Succeeded"
        }
    })
}

fn rules(nsg: &Value) -> &[Value] {
    nsg["properties"]["securityRules"]
        .as_array()
        .map_or(&[], Vec::as_slice)
}

/// A rule Defender made for an entry or a request of jit's: named for jit's policy and a
/// managed VM.
fn by_proxy(rule: &Value) -> bool {
    let description = rule["properties"]["description"]
        .as_str()
        .unwrap_or_default();
    VMS.iter().any(|(_, vm, _)| {
        description == format!("MDC JIT Network Access rule for policy '{POLICY}' of VM '{vm}'.")
    })
}

fn managed_vm(entry: &Value) -> bool {
    let id = entry["id"].as_str().unwrap_or_default();
    VMS.iter()
        .any(|(rg, name, _)| id.eq_ignore_ascii_case(&vm_id(rg, name)))
}

fn jits_request(request: &Value) -> bool {
    request["justification"]
        .as_str()
        .is_some_and(|j| j.starts_with(&format!("jit request {REQUEST}:")))
}

/// A document without what jit owns in it; `None` when nothing foreign is left (a document
/// jit created holds nothing else). The keys of the document and of its `properties` are
/// sorted: their order is the service's (a PUT answers in its own order); everything below
/// them is compared as stored.
fn foreign_document(doc: &Value) -> Option<Value> {
    let mut doc = sorted(doc);
    doc["properties"] = sorted(&doc["properties"]);
    if doc["name"].as_str() != Some(POLICY) {
        return Some(doc);
    }
    let props = &mut doc["properties"];
    let mut kept = 0;
    for (key, owned) in [
        ("virtualMachines", managed_vm as fn(&Value) -> bool),
        ("requests", jits_request),
    ] {
        if let Some(items) = props[key].as_array_mut() {
            items.retain(|i| !owned(i));
            kept += items.len();
        }
    }
    (kept > 0).then_some(doc)
}

/// An object with its keys in order (its values as they are).
fn sorted(object: &Value) -> Value {
    let Some(map) = object.as_object() else {
        return object.clone();
    };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    Value::Object(
        keys.into_iter()
            .map(|k| (k.clone(), map[k].clone()))
            .collect(),
    )
}

impl Peer for DefenderPeer {
    fn name(&self) -> &'static str {
        "defender"
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn jit(&self, args: &[&str]) -> TestCommand {
        crate::azure::command(self.dir(), self.bin.path(), args)
    }

    fn foreign(&self) -> String {
        let policies: Vec<Value> = policy_ids()
            .iter()
            .filter_map(|id| self.emu.jit_policy(id))
            .filter_map(|d| foreign_document(&d))
            .collect();
        let nsgs: Vec<Value> = self
            .nsgs()
            .into_iter()
            .map(|mut n| {
                n.as_object_mut().unwrap().remove("etag");
                if let Some(list) = n["properties"]["securityRules"].as_array_mut() {
                    list.retain(|r| !by_proxy(r));
                }
                n
            })
            .collect();
        serde_json::to_string_pretty(&json!({"policies": policies, "nsgs": nsgs})).unwrap()
    }

    fn live(&self) -> String {
        let policies: Vec<Value> = policy_ids()
            .iter()
            .map(|id| self.emu.jit_policy(id).unwrap_or(Value::Null))
            .collect();
        serde_json::to_string_pretty(&json!({"policies": policies, "nsgs": self.nsgs()})).unwrap()
    }

    fn change_out_of_band(&self) {
        assert!(self.emu.edit_jit_policy(&policy_id("rg1", POLICY), |d| {
            let vms = d["properties"]["virtualMachines"].as_array_mut().unwrap();
            let legacy = vms.iter_mut().find(|v| !managed_vm(v)).unwrap();
            legacy["ports"][0]["maxRequestAccessDuration"] = json!("PT2H");
        }));
    }

    fn stop_after(&self, plan: &Path, k: usize) -> Stop {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(plan).unwrap()).unwrap();
        let faults = doc["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .skip(k)
            .map(|c| {
                // The location-less scope id: /subscriptions/S/resourceGroups/RG/…/NAME.
                let scope: Vec<&str> = c["scope"].as_str().unwrap().split('/').collect();
                let (rg, name) = (scope[4], scope[8]);
                let document = format!(
                    "(?i)/resourceGroups/{}/providers/Microsoft\\.Security/locations/[^/]+/jitNetworkAccessPolicies/{}",
                    regex::escape(rg),
                    regex::escape(name)
                );
                match c["type"].as_str().unwrap() {
                    "jit_defender_initiate" => Fault::new(
                        "POST",
                        &format!("{document}/initiate$"),
                        Trigger::Always,
                        FaultKind::Status(400),
                    ),
                    _ => Fault::new(
                        "PUT",
                        &format!("{document}$"),
                        Trigger::Always,
                        FaultKind::Status(400),
                    ),
                }
            })
            .collect();
        self.emu.set_faults(faults);
        Stop::NextApply
    }

    fn clear_stop(&self) {
        self.emu.set_faults(vec![]);
    }

    fn widen(&self, after: &mut Value) {
        after["allowed_source_address_prefix"] = json!("*");
    }

    fn lengthen(&self, after: &mut Value) {
        let end: jiff::Timestamp = after["end_time_utc"].as_str().unwrap().parse().unwrap();
        after["end_time_utc"] = json!((end + jiff::SignedDuration::from_hours(24)).to_string());
    }

    fn rename(&self, change: &mut Value, name: &str) {
        let index = change["index"].as_str().unwrap().to_string();
        let (head, _) = index.rsplit_once('/').unwrap();
        crate::plan_doc::set_index(change, &format!("{head}/{name}"));
        change["change"]["after"]["request_id"] = json!(name);
    }

    fn resync(&self, doc: &mut Value) {
        crate::plan_doc::resync(doc)
    }

    fn revocation(&self) -> Revocation {
        Revocation::Platform
    }

    /// Defender's wall clock passes the grant's end: it removes its allow rules and marks the
    /// request `Revoked` / `Expired`.
    fn end_grant(&self) {
        assert!(
            !self.opened().is_empty(),
            "defender: no rule was open for the grant"
        );
        self.emu
            .advance_wall_clock(jiff::SignedDuration::from_hours(3));
        assert_eq!(self.opened(), Vec::<Value>::new(), "defender: still open");
    }
}
