//! A VM wired to its network, made from the official examples (compute-VirtualMachine_Get,
//! network-NetworkInterfaceGet, network-SubnetGet) with their ids linked: VM `vm1` in
//! `subid/rg1` has NIC `test-nic` (NSG `nic-nsg`, private IP 172.20.2.4 on subnet
//! `rg1-vnet/default`, whose NSG is `subnet-nsg`). Include with
//! `#[path = "../common/vm_fixture.rs"] mod vm_fixture;`.

use serde_json::{json, Value};

pub const SUB: &str = "subid";
pub const VM_ID: &str =
    "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1";
pub const NIC_ID: &str = "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkInterfaces/test-nic";
pub const SUBNET_ID: &str = "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/rg1-vnet/subnets/default";
pub const PRIVATE_IP: &str = "172.20.2.4";

pub fn nsg_id(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/{name}")
}

/// An official example payload from `tests/fixtures/azure-examples/`.
pub fn official(file: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/azure-examples/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

/// The linked bodies: (VM, NIC, subnet). `nic_nsg` / `subnet_nsg` name the NSGs attached
/// (`None`: none).
pub fn bodies(nic_nsg: Option<&str>, subnet_nsg: Option<&str>) -> (Value, Value, Value) {
    let mut vm = official("compute-VirtualMachine_Get.json")["responses"]["200"]["body"].clone();
    vm["id"] = json!(VM_ID);
    vm["name"] = json!("vm1");
    vm["location"] = json!("westus");
    vm["properties"]["networkProfile"]["networkInterfaces"] = json!([{"id": NIC_ID}]);
    let mut nic = official("network-NetworkInterfaceGet.json")["responses"]["200"]["body"].clone();
    // One IP configuration: the first of the example.
    let first = nic["properties"]["ipConfigurations"][0].clone();
    nic["properties"]["ipConfigurations"] = json!([first]);
    match nic_nsg {
        Some(name) => nic["properties"]["networkSecurityGroup"] = json!({"id": nsg_id(name)}),
        None => {
            if let Some(p) = nic["properties"].as_object_mut() {
                p.remove("networkSecurityGroup");
            }
        }
    }
    let mut subnet = official("network-SubnetGet.json")["responses"]["200"]["body"].clone();
    subnet["id"] = json!(SUBNET_ID);
    subnet["name"] = json!("default");
    if let Some(name) = subnet_nsg {
        subnet["properties"]["networkSecurityGroup"] = json!({"id": nsg_id(name)});
    }
    (vm, nic, subnet)
}

/// An empty NSG in ARM raw shape.
pub fn empty_nsg(name: &str) -> Value {
    json!({
        "name": name,
        "id": nsg_id(name),
        "type": "Microsoft.Network/networkSecurityGroups",
        "location": "westus",
        "properties": {"provisioningState": "Succeeded", "securityRules": [], "defaultSecurityRules": []}
    })
}

/// The `SecurityCenter-JITRule…` rules of an NSG body.
pub fn defender_rules(nsg: &Value) -> Vec<Value> {
    nsg["properties"]["securityRules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            r["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("SecurityCenter-JITRule"))
        })
        .cloned()
        .collect()
}
