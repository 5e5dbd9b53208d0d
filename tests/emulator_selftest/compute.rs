//! VM, NIC and subnet GETs: the official examples come back as seeded, at each resource
//! provider's own api-version.

use crate::emulator::{Emulator, EmulatorConfig};
use crate::support::*;

fn emulator() -> (Emulator, Client) {
    let emu = Emulator::start(EmulatorConfig::fast());
    let client = Client::new(emu.base_url());
    (emu, client)
}

#[tokio::test]
async fn vm_nic_and_subnet_examples_round_trip() {
    let (emu, client) = emulator();
    for (file, version) in [
        ("compute-VirtualMachine_Get.json", "2024-07-01"),
        ("network-NetworkInterfaceGet.json", "2024-05-01"),
        ("network-SubnetGet.json", "2024-05-01"),
    ] {
        let ex = example(file);
        assert_eq!(ex["parameters"]["api-version"], version, "{file}");
        let body = ex["responses"]["200"]["body"].clone();
        match file {
            "compute-VirtualMachine_Get.json" => emu.add_vm(body.clone()),
            "network-NetworkInterfaceGet.json" => emu.add_nic(body.clone()),
            _ => emu.add_subnet(body.clone()),
        }
        let id = body["id"].as_str().unwrap();
        let path = id.replace('{', "%7B").replace('}', "%7D");
        let answer = client.get(&format!("{path}?api-version={version}")).await;
        assert_eq!(answer.status, 200, "{file}: {answer:?}");
        assert_eq!(answer.body, body, "{file}");
    }
}

#[tokio::test]
async fn api_versions_are_per_resource_provider() {
    let (emu, client) = emulator();
    let vm = example("compute-VirtualMachine_Get.json")["responses"]["200"]["body"].clone();
    emu.add_vm(vm.clone());
    let path = vm["id"]
        .as_str()
        .unwrap()
        .replace('{', "%7B")
        .replace('}', "%7D");
    // Compute refuses Network's version, and Network Compute's.
    let wrong = client.get(&format!("{path}?{API}")).await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.code(), "InvalidApiVersionParameter");
    assert!(
        wrong.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'2024-07-01'"),
        "{wrong:?}"
    );
    let nsg = client
        .get(&format!("{NSG_ID}?api-version=2024-07-01"))
        .await;
    assert_eq!(nsg.status, 400);
    assert_eq!(nsg.code(), "InvalidApiVersionParameter");
    let jit = client
        .get("/subscriptions/subid/providers/Microsoft.Security/jitNetworkAccessPolicies?api-version=2024-05-01")
        .await;
    assert_eq!(jit.code(), "InvalidApiVersionParameter");
}

#[tokio::test]
async fn missing_resources_answer_404_and_writes_are_refused() {
    let (_emu, client) = emulator();
    let vm =
        "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/nope";
    let answer = client.get(&format!("{vm}?api-version=2024-07-01")).await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.code(), "ResourceNotFound");
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Microsoft.Compute/virtualMachines/nope"),
        "{answer:?}"
    );
    let put = client
        .put(
            &format!("{vm}?api-version=2024-07-01"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(put.status, 405);
}
