//! Live state for the peers whose scopes are NSGs (snapshot, azure in NSG mode): two NSGs made
//! from Azure's official `NetworkSecurityGroupGet` example payload, seeded with foreign rules,
//! a look-alike and a managed rule of an expired grant; the policy's targets on them; and what
//! of an NSG is foreign.

use serde_json::{json, Value};

use jit::platform::nsg::names::is_managed;

pub const SUB: &str = "subid";
/// The NSGs the policy's targets sit behind.
pub const NSGS: [&str; 2] = ["a", "b"];

pub fn nsg_id(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/{name}")
}

/// An official example payload from `tests/fixtures/azure-examples/`.
fn example(file: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/azure-examples")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn rule(nsg: &str, name: &str, properties: Value) -> Value {
    json!({"name": name, "id": format!("{}/securityRules/{name}", nsg_id(nsg)), "properties": properties})
}

/// NSG `name` as Azure's example returns it (its `rule1`, its default rules), renamed, plus:
/// Defender's JIT rule, a hand-made rule carrying the `jit-` prefix without the marker and,
/// in NSG `a`, jit's allow of a grant that ended an hour ago.
pub fn seeded(name: &str) -> Value {
    let body = example("network-NetworkSecurityGroupGet.json")["responses"]["200"]["body"].clone();
    let text = serde_json::to_string(&body)
        .unwrap()
        .replace("testnsg", name);
    let mut nsg: Value = serde_json::from_str(&text).unwrap();
    let rules = nsg["properties"]["securityRules"].as_array_mut().unwrap();
    rules.push(rule(
        name,
        "SecurityCenter-JITRule_-1234_ABCD",
        json!({
        "provisioningState": "Succeeded",
        "description": "MDC JIT Network Access rule for policy 'default' of VM 'web-1'.",
        "protocol": "*", "sourcePortRange": "*", "destinationPortRange": "22",
        "sourceAddressPrefix": "*", "destinationAddressPrefix": "10.0.1.4",
        "access": "Deny", "priority": 1000, "direction": "Inbound"}),
    ));
    rules.push(rule(
        name,
        "jit-deny-handmade",
        json!({
        "provisioningState": "Succeeded", "description": "made by hand",
        "protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "3389",
        "sourceAddressPrefix": "*", "destinationAddressPrefix": "*",
        "access": "Deny", "priority": 4090, "direction": "Inbound"}),
    ));
    if name == "a" {
        let ended =
            jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 3600).unwrap();
        rules.push(rule(
            name,
            "jit-allow-inc-0-old-ssh",
            json!({
            "provisioningState": "Succeeded",
            "description": format!("managed-by=jit; request=INC-0-old; expires={ended}"),
            "protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "22",
            "sourceAddressPrefix": "203.0.113.9/32", "destinationAddressPrefix": "10.0.1.4",
            "access": "Allow", "priority": 150, "direction": "Inbound"}),
        ));
    }
    nsg
}

/// The targets: `web-1` (ssh) behind NSG `a`, `web-2` (ssh, rdp) behind NSG `b`, all of
/// provider `provider`; the grant is for `web-1`'s ssh.
pub fn targets(provider: &str) -> String {
    let target = |name: &str, nsg: &str, destination: &str, ports: &[(&str, u16)]| {
        let ports: String = ports
            .iter()
            .map(|(port, number)| {
                format!(
                    "  port \"{port}\" {{\n    number          = {number}\n    protocol        = \"tcp\"\n    \
                     allowed_sources = [\"198.51.100.0/24\"]\n    max_duration    = \"3h\"\n  }}\n"
                )
            })
            .collect();
        format!(
            "target \"{name}\" {{\n  provider    = \"{provider}\"\n  nsg_id      = \"{}\"\n  \
             destination = \"{destination}\"\n{ports}}}\n\n",
            nsg_id(nsg)
        )
    };
    target("web-1", "a", "10.0.1.4", &[("ssh", 22)])
        + &target("web-2", "b", "10.0.1.5", &[("ssh", 22), ("rdp", 3389)])
}

/// Everything of these NSGs that is not jit's, as canonical JSON: each NSG (by id) without its
/// etag and its managed rules, the rest of its rules and fields exactly as stored.
pub fn foreign(nsgs: &[Value]) -> String {
    let mut out: Vec<Value> = nsgs
        .iter()
        .map(|nsg| {
            let mut nsg = nsg.clone();
            let object = nsg.as_object_mut().unwrap();
            object.remove("etag");
            if let Some(rules) = nsg["properties"]["securityRules"].as_array_mut() {
                rules.retain(|r| !managed(r));
            }
            nsg
        })
        .collect();
    out.sort_by_key(|nsg| nsg["id"].as_str().unwrap_or_default().to_ascii_lowercase());
    serde_json::to_string_pretty(&out).unwrap()
}

/// A rule in ARM's raw shape that jit owns.
fn managed(rule: &Value) -> bool {
    is_managed(
        rule["name"].as_str().unwrap_or_default(),
        rule["properties"]["description"].as_str(),
        "jit",
    )
}

/// Another writer's edit of NSG `a`: its foreign `rule1` moves from priority 130 to 131.
pub fn edit_out_of_band(nsg: &mut Value) {
    let rules = nsg["properties"]["securityRules"].as_array_mut().unwrap();
    let rule1 = rules.iter_mut().find(|r| r["name"] == "rule1").unwrap();
    rule1["properties"]["priority"] = json!(131);
}

/// Opens an NSG rule of a saved plan to any source.
pub fn widen(after: &mut Value) {
    after["source_address_prefix"] = json!("0.0.0.0/0");
}

/// Moves the `expires=` of a saved plan's allow rule a day later.
pub fn lengthen(after: &mut Value) {
    let description = after["description"].as_str().unwrap().to_string();
    let (head, expires) = description.split_once("expires=").unwrap();
    let end: jiff::Timestamp = expires.parse().unwrap();
    let later = end + jiff::SignedDuration::from_hours(24);
    after["description"] = json!(format!("{head}expires={later}"));
}

/// Gives a change of a saved plan (and its rule) another rule name in the same NSG.
pub fn rename(change: &mut Value, name: &str) {
    let scope = change["scope"].as_str().unwrap().to_string();
    let nsg = scope.rsplit('/').next().unwrap().to_string();
    crate::plan_doc::set_index(change, &format!("{nsg}/{name}"));
    for side in ["before", "after"] {
        if !change["change"][side].is_null() {
            change["change"][side]["name"] = json!(name);
        }
    }
}
