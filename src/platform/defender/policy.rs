//! The `jitNetworkAccessPolicies` document (Microsoft.Security 2020-01-01) as jit reads and
//! writes it. The document is kept as the JSON it was read as, so every field jit does not
//! understand — and every VM entry jit does not manage — goes back unchanged (same keys, same
//! order, same values) in the PUT that replaces the whole document. A VM entry jit manages is
//! a typed [`VmEntry`], compared by meaning ([`VmEntry::differences`]): ports by number,
//! `"x"` and `["x"]` as one source, `PT3H` and `PT180M` as one duration.

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::scope::DefenderError;
use crate::digest;
use crate::model::{Port, Protocol};

/// Defender's bounds on `maxRequestAccessDuration`.
pub const MIN_WINDOW: SignedDuration = SignedDuration::from_mins(5);
pub const MAX_WINDOW: SignedDuration = SignedDuration::from_hours(24);

/// One policy document, as read (or as jit will write it).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDocument {
    body: Value,
}

/// A `virtualMachines[]` entry: the VM and its ports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmEntry {
    pub id: String,
    pub ports: Vec<PortRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip_address: Option<String>,
    /// Fields jit does not know, kept.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// A `JitNetworkAccessPortRule`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortRule {
    pub number: u16,
    /// `TCP`, `UDP` or `*`.
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_source_address_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_source_address_prefixes: Option<Vec<String>>,
    /// ISO 8601, as written (`PT3H`).
    pub max_request_access_duration: String,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl PortRule {
    /// The allowed sources, whichever field holds them.
    pub fn sources(&self) -> Vec<String> {
        match (
            &self.allowed_source_address_prefix,
            &self.allowed_source_address_prefixes,
        ) {
            (Some(one), _) => vec![one.clone()],
            (None, Some(many)) => many.clone(),
            (None, None) => Vec::new(),
        }
    }

    /// True when the port lets any source request access.
    pub fn allows_any_source(&self) -> bool {
        self.sources().iter().any(|s| s == "*")
    }

    pub fn max_duration(&self) -> Option<SignedDuration> {
        parse_iso_duration(&self.max_request_access_duration)
    }
}

/// `PT3H`, `PT1H30M`, `PT90M`, `P1D` (a day of 24 hours).
pub fn parse_iso_duration(text: &str) -> Option<SignedDuration> {
    if !text.starts_with('P') {
        return None;
    }
    text.parse::<SignedDuration>().ok().or_else(|| {
        let rest = text.strip_prefix('P')?;
        let (days, time) = match rest.split_once('T') {
            Some((d, t)) => (d, Some(t)),
            None => (rest, None),
        };
        let days: i64 = days.strip_suffix('D')?.parse().ok()?;
        let mut total = SignedDuration::from_hours(days.checked_mul(24)?);
        if let Some(t) = time {
            total = total.checked_add(format!("PT{t}").parse::<SignedDuration>().ok()?)?;
        }
        Some(total)
    })
}

/// ISO 8601 as Defender writes it: `PT3H`, `PT1H30M`, `PT5M`, `PT24H`.
pub fn iso_duration(d: SignedDuration) -> String {
    let secs = d.as_secs().max(0);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::from("PT");
    if h > 0 {
        out.push_str(&format!("{h}H"));
    }
    if m > 0 {
        out.push_str(&format!("{m}M"));
    }
    if s > 0 || out == "PT" {
        out.push_str(&format!("{s}S"));
    }
    out
}

/// A source as Defender writes it: `*`, a bare address for one host, else the CIDR.
fn source_text(net: &ipnet::IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// Normalises a source for comparison (`10.0.0.1` and `10.0.0.1/32` are one; `*` stays).
fn source_key(text: &str) -> String {
    text.parse::<ipnet::IpNet>()
        .map(|n| source_text(&n.trunc()))
        .unwrap_or_else(|_| text.trim().to_ascii_lowercase())
}

/// The protocol as Defender spells it.
pub fn jit_protocol(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
        Protocol::Any => "*",
    }
}

impl VmEntry {
    /// The entry jit wants for a VM protecting `ports`. A port whose sources cover both whole
    /// families (`*` in the policy) allows `*`; one source goes in the singular field, more in
    /// the plural. A port that allows no source cannot be a Defender port.
    pub fn desired(vm_id: &str, ports: &[Port]) -> Result<VmEntry, DefenderError> {
        let mut rules = Vec::with_capacity(ports.len());
        for port in ports {
            let any = port.allowed_sources.iter().any(|n| n.prefix_len() == 0);
            let sources: Vec<String> = if any {
                vec!["*".to_string()]
            } else {
                port.allowed_sources.iter().map(source_text).collect()
            };
            let (one, many) = match sources.as_slice() {
                [] => {
                    return Err(DefenderError::Invalid(format!(
                        "port `{}` of VM `{vm_id}` allows no sources; a Defender port needs at least one",
                        port.name
                    )))
                }
                [one] => (Some(one.clone()), None),
                _ => (None, Some(sources.clone())),
            };
            if port.max_duration < MIN_WINDOW || port.max_duration > MAX_WINDOW {
                return Err(DefenderError::Invalid(format!(
                    "port `{}` of VM `{vm_id}` has a `max_duration` outside 5 minutes to 1 day",
                    port.name
                )));
            }
            rules.push(PortRule {
                number: port.number,
                protocol: jit_protocol(port.protocol).to_string(),
                allowed_source_address_prefix: one,
                allowed_source_address_prefixes: many,
                max_request_access_duration: iso_duration(port.max_duration),
                rest: Map::new(),
            });
        }
        rules.sort_by_key(|r| r.number);
        Ok(VmEntry {
            id: vm_id.to_string(),
            ports: rules,
            public_ip_address: None,
            rest: Map::new(),
        })
    }

    /// What differs between `self` (desired) and `live`, in words; empty when they mean the
    /// same. Fields jit does not set (`publicIpAddress`, unknown ones) are not compared.
    pub fn differences(&self, live: &VmEntry) -> Vec<String> {
        let mut out = Vec::new();
        for want in &self.ports {
            let Some(have) = live.ports.iter().find(|p| p.number == want.number) else {
                out.push(format!("port {} is missing", want.number));
                continue;
            };
            if !want.protocol.eq_ignore_ascii_case(&have.protocol) {
                out.push(format!(
                    "port {}: protocol `{}`, want `{}`",
                    want.number, have.protocol, want.protocol
                ));
            }
            let keys = |p: &PortRule| {
                let mut k: Vec<String> = p.sources().iter().map(|s| source_key(s)).collect();
                k.sort();
                k.dedup();
                k
            };
            if keys(want) != keys(have) {
                out.push(format!(
                    "port {}: sources `{}`, want `{}`",
                    want.number,
                    have.sources().join(", "),
                    want.sources().join(", ")
                ));
            }
            if want.max_duration() != have.max_duration() {
                out.push(format!(
                    "port {}: maxRequestAccessDuration `{}`, want `{}`",
                    want.number, have.max_request_access_duration, want.max_request_access_duration
                ));
            }
        }
        for have in &live.ports {
            if !self.ports.iter().any(|p| p.number == have.number) {
                out.push(format!("port {} is not in the policy", have.number));
            }
        }
        out
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn vm_key(id: &str) -> String {
    id.trim_end_matches('/').to_ascii_lowercase()
}

impl PolicyDocument {
    /// A policy that does not exist yet: `kind: Basic`, no VMs, no requests.
    pub fn empty() -> PolicyDocument {
        PolicyDocument {
            body: json!({"kind": "Basic", "properties": {"virtualMachines": []}}),
        }
    }

    /// Checks the shape jit relies on (an object whose `properties.virtualMachines` is an array
    /// of objects with a string `id`); `url` names the document in errors.
    pub fn parse(url: &str, body: Value) -> Result<PolicyDocument, DefenderError> {
        let corrupt = |m: &str| DefenderError::Corrupt {
            url: url.to_string(),
            message: m.to_string(),
        };
        if !body.is_object() {
            return Err(corrupt("the answer is not a JSON object"));
        }
        match body.pointer("/properties/virtualMachines") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                if items
                    .iter()
                    .any(|vm| vm.get("id").and_then(Value::as_str).is_none())
                {
                    return Err(corrupt(
                        "a `properties.virtualMachines` entry has no string `id`",
                    ));
                }
            }
            Some(_) => return Err(corrupt("`properties.virtualMachines` should be an array")),
        }
        match body.pointer("/properties/requests") {
            None | Some(Value::Null) | Some(Value::Array(_)) => {}
            Some(_) => return Err(corrupt("`properties.requests` should be an array")),
        }
        Ok(PolicyDocument { body })
    }

    /// The document as JSON.
    pub fn as_value(&self) -> &Value {
        &self.body
    }

    /// What the document was read as, for the re-read-and-compare before a PUT: a hash of
    /// the whole JSON, ignoring `provisioningState`.
    pub fn fingerprint(&self) -> String {
        let mut body = self.body.clone();
        if let Some(props) = body.get_mut("properties").and_then(Value::as_object_mut) {
            props.remove("provisioningState");
        }
        digest::json_fingerprint(&body)
    }

    fn vms(&self) -> &[Value] {
        self.body
            .pointer("/properties/virtualMachines")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// Every VM entry's id, in document order.
    pub fn vm_ids(&self) -> Vec<&str> {
        self.vms()
            .iter()
            .filter_map(|vm| vm.get("id").and_then(Value::as_str))
            .collect()
    }

    /// The raw entry of VM `id` (compared without case).
    pub fn vm_raw(&self, id: &str) -> Option<&Value> {
        self.vms().iter().find(|vm| {
            vm.get("id")
                .and_then(Value::as_str)
                .is_some_and(|v| vm_key(v) == vm_key(id))
        })
    }

    /// The typed entry of VM `id`; an entry that does not parse is an error naming the VM.
    pub fn vm(&self, id: &str) -> Option<Result<VmEntry, DefenderError>> {
        self.vm_raw(id).map(|raw| {
            serde_json::from_value(raw.clone()).map_err(|e| DefenderError::Corrupt {
                url: id.to_string(),
                message: format!("the policy's entry for this VM is not a JIT VM entry: {e}"),
            })
        })
    }

    /// Runs `edit` on the `virtualMachines` list (made an empty one when absent) and puts it
    /// back in place.
    fn with_vms<R>(&mut self, edit: impl FnOnce(&mut Vec<Value>) -> R) -> R {
        let mut list = match self
            .body
            .pointer_mut("/properties/virtualMachines")
            .map(Value::take)
        {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        let out = edit(&mut list);
        if !self.body.is_object() {
            self.body = json!({});
        }
        if !self.body["properties"].is_object() {
            self.body["properties"] = json!({});
        }
        self.body["properties"]["virtualMachines"] = Value::Array(list);
        out
    }

    /// Sets VM `entry.id`'s entry: merged over the one there (fields jit does not set, such as
    /// `publicIpAddress` and unknown ones, kept, per port too), or appended.
    pub fn set_vm(&mut self, entry: &VmEntry) {
        self.with_vms(|list| set_in(list, entry));
    }

    /// Removes VM `id`'s entry; false when there was none.
    pub fn remove_vm(&mut self, id: &str) -> bool {
        self.with_vms(|list| {
            let before = list.len();
            list.retain(|vm| {
                vm.get("id")
                    .and_then(Value::as_str)
                    .is_none_or(|v| vm_key(v) != vm_key(id))
            });
            list.len() != before
        })
    }

    /// The body of the PUT that replaces the document: `kind` and `properties` (without the
    /// read-only `provisioningState`), every other field of `properties` — `requests` included
    /// — as read.
    pub fn put_body(&self) -> Value {
        let mut properties = self.body.get("properties").cloned().unwrap_or(json!({}));
        if let Some(p) = properties.as_object_mut() {
            p.remove("provisioningState");
        }
        json!({
            "kind": self.body.get("kind").cloned().unwrap_or(json!("Basic")),
            "properties": properties,
        })
    }

    /// The raw `requests[]`.
    pub fn requests_raw(&self) -> &[Value] {
        self.body
            .pointer("/properties/requests")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }
}

/// Sets `entry` in `list`: merged over the entry of its VM, or appended.
fn set_in(list: &mut Vec<Value>, entry: &VmEntry) {
    let at = list.iter().position(|vm| {
        vm.get("id")
            .and_then(Value::as_str)
            .is_some_and(|v| vm_key(v) == vm_key(&entry.id))
    });
    let mut value = entry.to_value();
    if let Some(i) = at {
        if let (Some(old), Some(new)) = (list[i].as_object(), value.as_object_mut()) {
            for (k, v) in old {
                if k != "ports" && !new.contains_key(k) {
                    new.insert(k.clone(), v.clone());
                }
            }
            // Unknown port fields survive on ports that stay.
            if let (Some(old_ports), Some(new_ports)) = (
                old.get("ports").and_then(Value::as_array),
                new.get_mut("ports").and_then(Value::as_array_mut),
            ) {
                for port in new_ports.iter_mut() {
                    let number = port.get("number").cloned();
                    let Some(prev) = old_ports
                        .iter()
                        .find(|p| p.get("number") == number.as_ref())
                        .and_then(Value::as_object)
                    else {
                        continue;
                    };
                    if let Some(port) = port.as_object_mut() {
                        for (k, v) in prev {
                            let known = matches!(
                                k.as_str(),
                                "allowedSourceAddressPrefix" | "allowedSourceAddressPrefixes"
                            );
                            if !known && !port.contains_key(k) {
                                port.insert(k.clone(), v.clone());
                            }
                        }
                    }
                }
            }
        }
        list[i] = value;
    } else {
        list.push(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An official example payload, compiled in.
    macro_rules! example {
        ($file:literal) => {
            serde_json::from_str::<Value>(include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/azure-examples/",
                $file
            )))
            .unwrap()
        };
    }

    fn official() -> PolicyDocument {
        let body = example!("security-GetJitNetworkAccessPolicy_example.json")["responses"]["200"]
            ["body"]
            .clone();
        PolicyDocument::parse("u", body).unwrap()
    }

    const VM1: &str = "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/myRg1/providers/Microsoft.Compute/virtualMachines/vm1";

    fn port(name: &str, number: u16, sources: &[&str], hours: i64) -> Port {
        Port {
            name: name.into(),
            number,
            protocol: Protocol::Any,
            allowed_sources: sources.iter().map(|s| s.parse().unwrap()).collect(),
            max_duration: SignedDuration::from_hours(hours),
        }
    }

    fn any() -> [&'static str; 2] {
        ["0.0.0.0/0", "::/0"]
    }

    #[test]
    fn the_official_document_parses_and_its_vm_entry_is_typed() {
        let doc = official();
        assert_eq!(doc.vm_ids(), [VM1]);
        let vm = doc.vm(&VM1.to_uppercase()).unwrap().unwrap();
        assert_eq!(vm.ports.len(), 2);
        assert_eq!(vm.ports[0].number, 22);
        assert!(vm.ports[0].allows_any_source());
        assert_eq!(
            vm.ports[1].max_duration(),
            Some(SignedDuration::from_hours(3))
        );
        // Typed and back: the same JSON.
        assert_eq!(&vm.to_value(), doc.vm_raw(VM1).unwrap());
    }

    #[test]
    fn the_set_azjitnetworkaccesspolicy_example_is_what_jit_writes() {
        // Ports 22 and 3389, protocol `*`, any source, at most PT3H: the official PUT body.
        let want = VmEntry::desired(
            VM1,
            &[port("ssh", 22, &any(), 3), port("rdp", 3389, &any(), 3)],
        )
        .unwrap();
        let put = example!("security-CreateJitNetworkAccessPolicy_example.json");
        let official = &put["parameters"]["body"]["properties"]["virtualMachines"][0];
        assert_eq!(&want.to_value(), official);
        let live: VmEntry = serde_json::from_value(official.clone()).unwrap();
        assert!(want.differences(&live).is_empty());
    }

    #[test]
    fn differences_are_by_meaning_not_spelling() {
        let want = VmEntry::desired(VM1, &[port("ssh", 22, &["192.0.2.7/32"], 3)]).unwrap();
        assert_eq!(
            want.ports[0].allowed_source_address_prefix.as_deref(),
            Some("192.0.2.7")
        );
        let mut live = want.clone();
        live.ports[0].allowed_source_address_prefix = None;
        live.ports[0].allowed_source_address_prefixes = Some(vec!["192.0.2.7/32".into()]);
        live.ports[0].max_request_access_duration = "PT180M".into();
        live.ports[0].protocol = "*".into();
        assert!(
            want.differences(&live).is_empty(),
            "{:?}",
            want.differences(&live)
        );
        live.ports[0].max_request_access_duration = "PT4H".into();
        live.ports.push(PortRule {
            number: 3389,
            ..live.ports[0].clone()
        });
        let diff = want.differences(&live);
        assert_eq!(diff.len(), 2, "{diff:?}");
        assert!(
            diff[0].contains("PT4H") && diff[1].contains("3389"),
            "{diff:?}"
        );
    }

    #[test]
    fn several_sources_go_in_the_plural_field_and_none_is_refused() {
        let want =
            VmEntry::desired(VM1, &[port("ssh", 22, &["10.0.0.0/8", "192.0.2.0/24"], 1)]).unwrap();
        assert_eq!(want.ports[0].allowed_source_address_prefix, None);
        assert_eq!(
            want.ports[0].allowed_source_address_prefixes,
            Some(vec!["10.0.0.0/8".to_string(), "192.0.2.0/24".to_string()])
        );
        assert_eq!(want.ports[0].max_request_access_duration, "PT1H");
        let err = VmEntry::desired(VM1, &[port("ssh", 22, &[], 1)]).unwrap_err();
        assert!(err.to_string().contains("allows no sources"), "{err}");
    }

    #[test]
    fn setting_a_vm_keeps_foreign_entries_and_unknown_fields_byte_for_byte() {
        let mut doc = official();
        let foreign = json!({"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/other",
            "ports": [{"number": 5985, "protocol": "TCP", "allowedSourceAddressPrefixes": ["10.0.0.0/8"], "maxRequestAccessDuration": "PT1H", "mappedPort": 15985}],
            "publicIpAddress": "203.0.113.9", "x-future": {"a": 1}});
        doc.with_vms(|l| l.push(foreign.clone()));
        let before = serde_json::to_string(&doc.vm_raw(VM1).unwrap()["ports"][0]).unwrap();
        let mut raw_vm1 = doc.vm_raw(VM1).unwrap().clone();
        raw_vm1["x-keep"] = json!(true);
        doc.set_vm(&serde_json::from_value(raw_vm1).unwrap());
        let want = VmEntry::desired(VM1, &[port("ssh", 22, &any(), 2)]).unwrap();
        doc.set_vm(&want);
        let vm1 = doc.vm_raw(VM1).unwrap();
        assert_eq!(vm1["x-keep"], json!(true));
        assert_eq!(vm1["ports"].as_array().unwrap().len(), 1);
        assert_ne!(serde_json::to_string(&vm1["ports"][0]).unwrap(), before);
        let other = doc.vm_raw(
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/OTHER",
        );
        assert_eq!(
            serde_json::to_string(other.unwrap()).unwrap(),
            serde_json::to_string(&foreign).unwrap()
        );
        // The PUT carries requests as read and drops the read-only state.
        let put = doc.put_body();
        assert_eq!(
            put["properties"]["requests"],
            official().as_value()["properties"]["requests"]
        );
        assert!(put["properties"].get("provisioningState").is_none());
        assert!(doc.remove_vm(VM1));
        assert!(!doc.remove_vm(VM1));
        assert_eq!(doc.vm_ids().len(), 1);
    }

    #[test]
    fn fingerprints_ignore_provisioning_state_only() {
        let doc = official();
        let mut other = doc.as_value().clone();
        other["properties"]["provisioningState"] = json!("Updating");
        let same = PolicyDocument::parse("u", other.clone()).unwrap();
        assert_eq!(doc.fingerprint(), same.fingerprint());
        other["properties"]["virtualMachines"][0]["ports"][0]["maxRequestAccessDuration"] =
            json!("PT2H");
        let edited = PolicyDocument::parse("u", other).unwrap();
        assert_ne!(doc.fingerprint(), edited.fingerprint());
    }

    #[test]
    fn malformed_documents_are_refused_naming_the_url() {
        for bad in [
            json!([]),
            json!({"properties": {"virtualMachines": {}}}),
            json!({"properties": {"virtualMachines": [{"ports": []}]}}),
            json!({"properties": {"virtualMachines": [], "requests": 1}}),
        ] {
            let err = PolicyDocument::parse("https://arm/p", bad).unwrap_err();
            assert!(err.to_string().starts_with("https://arm/p: "), "{err}");
        }
    }

    #[test]
    fn iso_durations_round_trip() {
        for (text, mins) in [("PT3H", 180), ("PT1H30M", 90), ("PT5M", 5), ("PT24H", 1440)] {
            let d = parse_iso_duration(text).unwrap();
            assert_eq!(d, SignedDuration::from_mins(mins));
            assert_eq!(iso_duration(d), text);
        }
        assert_eq!(
            parse_iso_duration("P1D"),
            Some(SignedDuration::from_hours(24))
        );
        assert_eq!(parse_iso_duration("3 hours"), None);
    }
}
