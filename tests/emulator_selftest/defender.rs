//! Defender for Cloud JIT policies: every official security-* example answered as the example
//! says; PUT validation and whole-document replacement; initiate checked against the policy,
//! recorded in `requests[]`, opening Defender's own rules in every NSG of the VM and closing
//! them at `endTimeUtc` by the emulator's wall clock.

use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};

use crate::emulator::{Emulator, EmulatorConfig};
use crate::support::*;
use crate::vm_fixture::{self, defender_rules, empty_nsg, VM_ID};

const SEC: &str = "api-version=2020-01-01";
const POLICY: &str = "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/myRg1/providers/Microsoft.Security/locations/westeurope/jitNetworkAccessPolicies/default";

fn emulator() -> (Emulator, Client) {
    let emu = Emulator::start(EmulatorConfig::fast());
    let client = Client::new(emu.base_url());
    (emu, client)
}

/// An emulator whose wall clock stands at a moment the examples describe: their request
/// (2018-05-17 08:06 to 09:06 UTC) still open.
fn at_example_time() -> (Emulator, Client) {
    let (emu, client) = emulator();
    emu.set_wall_clock("2018-05-17T08:30:00Z".parse().unwrap());
    (emu, client)
}

fn body_of(file: &str) -> Value {
    example(file)["responses"]["200"]["body"].clone()
}

#[tokio::test]
async fn put_example_answers_the_official_response() {
    let (emu, client) = at_example_time();
    let ex = example("security-CreateJitNetworkAccessPolicy_example.json");
    let answer = client
        .put(&format!("{POLICY}?{SEC}"), &ex["parameters"]["body"])
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, ex["responses"]["200"]["body"]);
    assert_eq!(emu.jit_policy(POLICY).unwrap(), answer.body);
}

#[tokio::test]
async fn get_and_list_examples_answer_the_official_responses() {
    let (emu, client) = at_example_time();
    let policy = body_of("security-GetJitNetworkAccessPolicy_example.json");
    emu.add_jit_policy(policy.clone());
    let got = client.get(&format!("{POLICY}?{SEC}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, policy);
    for (file, path) in [
        (
            "security-GetJitNetworkAccessPoliciesSubscription_example.json",
            "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/providers/Microsoft.Security/jitNetworkAccessPolicies",
        ),
        (
            "security-GetJitNetworkAccessPoliciesSubscriptionLocation_example.json",
            "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/providers/Microsoft.Security/locations/westeurope/jitNetworkAccessPolicies",
        ),
        (
            "security-GetJitNetworkAccessPoliciesResourceGroup_example.json",
            "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/myRg1/providers/Microsoft.Security/jitNetworkAccessPolicies",
        ),
        (
            "security-GetJitNetworkAccessPoliciesResourceGroupLocation_example.json",
            "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/myRg1/providers/Microsoft.Security/locations/westeurope/jitNetworkAccessPolicies",
        ),
    ] {
        let answer = client.get(&format!("{path}?{SEC}")).await;
        assert_eq!(answer.status, 200, "{file}: {answer:?}");
        assert_eq!(answer.body, body_of(file), "{file}");
    }
    // Another region, another group: empty lists.
    let other = client
        .get("/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/providers/Microsoft.Security/locations/centralus/jitNetworkAccessPolicies?api-version=2020-01-01")
        .await;
    assert_eq!(other.body, json!({"value": []}));
}

#[tokio::test]
async fn lists_page_with_next_link() {
    let (emu, client) = at_example_time();
    let policy = body_of("security-GetJitNetworkAccessPolicy_example.json");
    for name in ["a", "b", "c"] {
        let mut p = policy.clone();
        p["name"] = json!(name);
        p["id"] = json!(POLICY.replace("/default", &format!("/{name}")));
        emu.add_jit_policy(p);
    }
    let first = client
        .get("/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/providers/Microsoft.Security/jitNetworkAccessPolicies?api-version=2020-01-01")
        .await;
    assert_eq!(first.body["value"].as_array().unwrap().len(), 2);
    let next = first.body["nextLink"].as_str().unwrap();
    assert!(next.contains("api-version=2020-01-01"), "{next}");
    let second = client.get(next).await;
    assert_eq!(second.body["value"][0]["name"], "c");
    assert!(second.body.get("nextLink").is_none());
}

#[tokio::test]
async fn delete_example_answers_200_then_204() {
    let (emu, client) = at_example_time();
    let ex = example("security-DeleteJitNetworkAccessPolicy_example.json");
    assert!(ex["responses"]["200"].is_object() && ex["responses"]["204"].is_object());
    emu.add_jit_policy(body_of("security-GetJitNetworkAccessPolicy_example.json"));
    assert_eq!(client.delete(&format!("{POLICY}?{SEC}")).await.status, 200);
    assert_eq!(client.delete(&format!("{POLICY}?{SEC}")).await.status, 204);
    let gone = client.get(&format!("{POLICY}?{SEC}")).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.code(), "ResourceNotFound");
}

#[tokio::test]
async fn initiate_example_answers_the_official_response() {
    let (emu, client) = emulator();
    emu.add_jit_policy(body_of("security-GetJitNetworkAccessPolicy_example.json"));
    let ex = example("security-InitiateJitNetworkAccessPolicy_example.json");
    let mut expected = ex["responses"]["202"]["body"].clone();
    emu.set_wall_clock(expected["startTimeUtc"].as_str().unwrap().parse().unwrap());
    emu.set_jit_requestor(expected["requestor"].as_str().unwrap());
    let answer = client
        .send(
            "POST",
            &format!("{POLICY}/initiate?{SEC}"),
            Some(&ex["parameters"]["body"]),
            &[],
        )
        .await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert!(answer.header("location").is_none() && answer.header("azure-asyncoperation").is_none());
    // The example's answer names the VM under another subscription than its request (a
    // quirk of the example); the emulator answers with the VM it was asked for.
    expected["virtualMachines"][0]["id"] =
        ex["parameters"]["body"]["virtualMachines"][0]["id"].clone();
    assert_eq!(answer.body, expected);
    // Recorded, now `Initiated`, after the example's own request.
    let policy = emu.jit_policy(POLICY).unwrap();
    let requests = policy["properties"]["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1]["virtualMachines"][0]["ports"][0]["status"],
        "Initiated"
    );
    assert_eq!(
        requests[1]["justification"],
        "testing a new version of the product"
    );
}

fn policy_for(vm: &str, prefix: Value, max: &str) -> Value {
    let mut port = json!({"number": 22, "protocol": "TCP", "maxRequestAccessDuration": max});
    match prefix {
        Value::Array(_) => port["allowedSourceAddressPrefixes"] = prefix,
        other => port["allowedSourceAddressPrefix"] = other,
    }
    json!({"kind": "Basic", "properties": {"virtualMachines": [{"id": vm, "ports": [port]}]}})
}

const FIX_POLICY: &str = "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Security/locations/westus/jitNetworkAccessPolicies/default";

fn initiate_body(end: Timestamp, source: &str) -> Value {
    json!({"virtualMachines": [{"id": VM_ID, "ports": [{"number": 22, "endTimeUtc": end.to_string(), "allowedSourceAddressPrefix": source}]}],
           "justification": "jit request INC-1: deploy"})
}

#[tokio::test]
async fn initiate_is_checked_against_the_policy() {
    let (emu, client) = emulator();
    let now: Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
    emu.set_wall_clock(now);
    let put = client
        .put(
            &format!("{FIX_POLICY}?{SEC}"),
            &policy_for(VM_ID, json!("10.0.0.0/8"), "PT1H"),
        )
        .await;
    assert_eq!(put.status, 200, "{put:?}");
    let url = format!("{FIX_POLICY}/initiate?{SEC}");
    let hour = SignedDuration::from_hours(1);
    let refused = [
        // Narrower than the policy's prefix: Defender refuses it.
        initiate_body(now + hour, "10.1.2.3"),
        initiate_body(now + hour, "10.1.0.0/16"),
        // Longer than maxRequestAccessDuration, or over already.
        initiate_body(now + hour + SignedDuration::from_secs(1), "10.0.0.0/8"),
        initiate_body(now, "10.0.0.0/8"),
        // A port or a VM the policy does not hold.
        json!({"virtualMachines": [{"id": VM_ID, "ports": [{"number": 3389, "endTimeUtc": (now + hour).to_string(), "allowedSourceAddressPrefix": "10.0.0.0/8"}]}]}),
        json!({"virtualMachines": [{"id": VM_ID.replace("vm1", "vm2"), "ports": [{"number": 22, "endTimeUtc": (now + hour).to_string(), "allowedSourceAddressPrefix": "10.0.0.0/8"}]}]}),
    ];
    for body in &refused {
        let answer = client.send("POST", &url, Some(body), &[]).await;
        assert_eq!(answer.status, 400, "{body}: {answer:?}");
        assert_eq!(answer.code(), "JitRequestInvalid", "{answer:?}");
    }
    assert!(emu.jit_policy(FIX_POLICY).unwrap()["properties"]["requests"].is_null());
    let ok = client
        .send(
            "POST",
            &url,
            Some(&initiate_body(now + hour, "10.0.0.0/8")),
            &[],
        )
        .await;
    assert_eq!(ok.status, 202, "{ok:?}");
    // A policy that allows `*` takes any source.
    client
        .put(
            &format!("{FIX_POLICY}?{SEC}"),
            &policy_for(VM_ID, json!("*"), "PT1H"),
        )
        .await;
    let any = client
        .send(
            "POST",
            &url,
            Some(&initiate_body(now + hour, "198.51.100.7")),
            &[],
        )
        .await;
    assert_eq!(any.status, 202, "{any:?}");
    let missing = client
        .send(
            "POST",
            &url.replace("/default/", "/other/"),
            Some(&initiate_body(now + hour, "*")),
            &[],
        )
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn put_is_validated_and_replaces_the_whole_document() {
    let (emu, client) = emulator();
    let url = format!("{FIX_POLICY}?{SEC}");
    let bad = [
        policy_for(VM_ID, json!("*"), "PT1M"),
        policy_for(VM_ID, json!("*"), "P2D"),
        policy_for(VM_ID, json!("*"), "three hours"),
        json!({"properties": {"virtualMachines": [{"id": VM_ID, "ports": [{"number": 22, "protocol": "Tcp", "allowedSourceAddressPrefix": "*", "maxRequestAccessDuration": "PT1H"}]}]}}),
        json!({"properties": {"virtualMachines": [{"id": VM_ID, "ports": [{"number": 22, "protocol": "TCP", "allowedSourceAddressPrefix": "*", "allowedSourceAddressPrefixes": ["10.0.0.0/8"], "maxRequestAccessDuration": "PT1H"}]}]}}),
        policy_for(&format!("{}{}", VM_ID, "x".repeat(50)), json!("*"), "PT1H"),
        json!({"properties": {}}),
    ];
    for body in &bad {
        let answer = client.put(&url, body).await;
        assert_eq!(answer.status, 400, "{body}: {answer:?}");
    }
    assert!(emu.jit_policy(FIX_POLICY).is_none());
    let mut two = policy_for(VM_ID, json!(["10.0.0.0/8", "192.0.2.0/24"]), "PT3H");
    let second = json!({"id": VM_ID.replace("vm1", "vm2"), "ports": [{"number": 3389, "protocol": "*", "allowedSourceAddressPrefix": "*", "maxRequestAccessDuration": "P1D"}]});
    two["properties"]["virtualMachines"]
        .as_array_mut()
        .unwrap()
        .push(second);
    assert_eq!(client.put(&url, &two).await.status, 200);
    let one = policy_for(VM_ID, json!("*"), "PT3H");
    let answer = client.put(&url, &one).await;
    assert_eq!(answer.status, 200);
    let stored = emu.jit_policy(FIX_POLICY).unwrap();
    assert_eq!(
        stored["properties"]["virtualMachines"],
        one["properties"]["virtualMachines"]
    );
    assert_eq!(stored["properties"]["provisioningState"], "Succeeded");
}

fn seed_vm(emu: &Emulator) {
    let (vm, nic, subnet) = vm_fixture::bodies(Some("nic-nsg"), Some("subnet-nsg"));
    emu.add_vm(vm);
    emu.add_nic(nic);
    emu.add_subnet(subnet);
    emu.add_nsg(empty_nsg("nic-nsg"));
    emu.add_nsg(empty_nsg("subnet-nsg"));
}

#[tokio::test]
async fn initiate_opens_every_nsg_of_the_vm_until_end_time() {
    let (emu, client) = emulator();
    seed_vm(&emu);
    let now: Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
    emu.set_wall_clock(now);
    let put = client
        .put(
            &format!("{FIX_POLICY}?{SEC}"),
            &policy_for(VM_ID, json!("*"), "PT3H"),
        )
        .await;
    assert_eq!(put.status, 200);
    // Defender's deny rule in both NSGs, at the bottom of the range.
    for nsg in ["nic-nsg", "subnet-nsg"] {
        let rules = defender_rules(&emu.nsg(&vm_fixture::nsg_id(nsg)).unwrap());
        assert_eq!(rules.len(), 1, "{nsg}: {rules:?}");
        assert_eq!(rules[0]["properties"]["access"], "Deny");
        assert_eq!(rules[0]["properties"]["priority"], 4096);
        assert_eq!(rules[0]["properties"]["destinationPortRange"], "22");
    }
    let etag_before = emu.nsg(&vm_fixture::nsg_id("nic-nsg")).unwrap()["etag"].clone();
    let end = now + SignedDuration::from_mins(30);
    let answer = client
        .send(
            "POST",
            &format!("{FIX_POLICY}/initiate?{SEC}"),
            Some(&initiate_body(end, "198.51.100.7")),
            &[],
        )
        .await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(
        answer.body["virtualMachines"][0]["ports"][0]["status"],
        "Initiating"
    );
    for nsg in ["nic-nsg", "subnet-nsg"] {
        let body = emu.nsg(&vm_fixture::nsg_id(nsg)).unwrap();
        let allows: Vec<Value> = defender_rules(&body)
            .into_iter()
            .filter(|r| r["properties"]["access"] == "Allow")
            .collect();
        assert_eq!(allows.len(), 1, "{nsg}");
        assert_eq!(
            allows[0]["properties"]["sourceAddressPrefix"],
            "198.51.100.7"
        );
        assert_eq!(allows[0]["properties"]["priority"], 100);
        assert_eq!(allows[0]["properties"]["protocol"], "Tcp");
    }
    assert_ne!(
        emu.nsg(&vm_fixture::nsg_id("nic-nsg")).unwrap()["etag"],
        etag_before
    );
    let port = |emu: &Emulator| {
        emu.jit_policy(FIX_POLICY).unwrap()["properties"]["requests"][0]["virtualMachines"][0]
            ["ports"][0]
            .clone()
    };
    assert_eq!(port(&emu)["status"], "Initiated");
    assert_eq!(port(&emu)["statusReason"], "UserRequested");
    // One second before the end: still open. At the end: closed by the emulator's clock.
    emu.advance_wall_clock(SignedDuration::from_mins(30) - SignedDuration::from_secs(1));
    assert_eq!(port(&emu)["status"], "Initiated");
    emu.advance_wall_clock(SignedDuration::from_secs(1));
    assert_eq!(port(&emu)["status"], "Revoked");
    assert_eq!(port(&emu)["statusReason"], "Expired");
    for nsg in ["nic-nsg", "subnet-nsg"] {
        let rules = defender_rules(&emu.nsg(&vm_fixture::nsg_id(nsg)).unwrap());
        assert_eq!(rules.len(), 1, "{nsg}: only the deny is left: {rules:?}");
    }
}

#[tokio::test]
async fn a_newer_request_revokes_the_older_one() {
    let (emu, client) = emulator();
    seed_vm(&emu);
    let now: Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
    emu.set_wall_clock(now);
    client
        .put(
            &format!("{FIX_POLICY}?{SEC}"),
            &policy_for(VM_ID, json!("*"), "PT3H"),
        )
        .await;
    let url = format!("{FIX_POLICY}/initiate?{SEC}");
    let end = now + SignedDuration::from_hours(1);
    client
        .send("POST", &url, Some(&initiate_body(end, "192.0.2.1")), &[])
        .await;
    emu.advance_wall_clock(SignedDuration::from_secs(60));
    client
        .send("POST", &url, Some(&initiate_body(end, "192.0.2.2")), &[])
        .await;
    let policy = emu.jit_policy(FIX_POLICY).unwrap();
    let requests = policy["properties"]["requests"].as_array().unwrap();
    assert_eq!(
        requests[0]["virtualMachines"][0]["ports"][0]["statusReason"],
        "NewerRequestInitiated"
    );
    assert_eq!(
        requests[1]["virtualMachines"][0]["ports"][0]["status"],
        "Initiated"
    );
    let allows: Vec<Value> = defender_rules(&emu.nsg(&vm_fixture::nsg_id("nic-nsg")).unwrap())
        .into_iter()
        .filter(|r| r["properties"]["access"] == "Allow")
        .collect();
    assert_eq!(allows.len(), 1);
    assert_eq!(allows[0]["properties"]["sourceAddressPrefix"], "192.0.2.2");
}
