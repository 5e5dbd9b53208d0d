//! GETs and lists: every official NSG example comes back unchanged apart from etags; paging.

use serde_json::{json, Value};

use crate::emulator::{Emulator, EmulatorConfig};
use crate::support::*;

fn emulator() -> (Emulator, Client) {
    let emu = Emulator::start(EmulatorConfig::fast());
    let client = Client::new(emu.base_url());
    (emu, client)
}

async fn get_round_trip(file: &str, status: &str) {
    let (emu, client) = emulator();
    let body = example(file)["responses"][status]["body"].clone();
    emu.add_nsg(body.clone());
    let id = body["id"].as_str().unwrap();
    let mut answer = client.get(&format!("{id}?{API}")).await;
    assert_eq!(answer.status, 200, "{file}: {answer:?}");
    assert!(answer.body["etag"].is_string(), "{file}: nsg etag missing");
    for list in ["securityRules", "defaultSecurityRules"] {
        for rule in answer.body["properties"][list]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert!(
                rule["etag"].is_string(),
                "{file}: rule etag missing in {rule}"
            );
        }
    }
    strip_etags(&mut answer.body);
    assert_eq!(answer.body, body, "{file}");
}

#[tokio::test]
async fn nsg_get_example_round_trips() {
    get_round_trip("network-NetworkSecurityGroupGet.json", "200").await;
}

#[tokio::test]
async fn nsg_create_with_rule_example_round_trips() {
    get_round_trip("network-NetworkSecurityGroupCreateWithRule.json", "200").await;
    get_round_trip("network-NetworkSecurityGroupCreateWithRule.json", "201").await;
}

async fn list_round_trip(file: &str, path: &str) {
    let (emu, client) = emulator();
    let expected = example(file)["responses"]["200"]["body"]["value"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!expected.is_empty());
    for nsg in &expected {
        emu.add_nsg(nsg.clone());
    }
    let mut got = Vec::new();
    let mut url = format!("{path}?{API}");
    let mut pages = 0;
    loop {
        let mut answer = client.get(&url).await;
        assert_eq!(answer.status, 200, "{file}: {answer:?}");
        pages += 1;
        strip_etags(&mut answer.body);
        let value = answer.body["value"].as_array().unwrap();
        assert!(value.len() <= 2);
        got.extend(value.iter().cloned());
        match answer.body.get("nextLink").and_then(Value::as_str) {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, expected.len().div_ceil(2));
    let by_id = |v: &Vec<Value>| {
        let mut v = v.clone();
        v.sort_by_key(|n| n["id"].as_str().unwrap().to_ascii_lowercase());
        v
    };
    assert_eq!(by_id(&got), by_id(&expected), "{file}");
}

#[tokio::test]
async fn nsg_list_example_round_trips() {
    list_round_trip(
        "network-NetworkSecurityGroupList.json",
        "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups",
    )
    .await;
}

#[tokio::test]
async fn nsg_list_all_example_round_trips() {
    list_round_trip(
        "network-NetworkSecurityGroupListAll.json",
        "/subscriptions/subid/providers/Microsoft.Network/networkSecurityGroups",
    )
    .await;
}

#[tokio::test]
async fn rule_get_and_list_examples_round_trip() {
    let (emu, client) = emulator();
    emu.add_nsg(
        example("network-NetworkSecurityGroupGet.json")["responses"]["200"]["body"].clone(),
    );
    let mut rule = client.get(&rule_path("RULE1")).await;
    assert_eq!(rule.status, 200);
    strip_etags(&mut rule.body);
    assert_eq!(
        rule.body,
        example("network-NetworkSecurityGroupRuleGet.json")["responses"]["200"]["body"]
    );
    let mut list = client.get(&format!("{NSG_ID}/securityRules?{API}")).await;
    strip_etags(&mut list.body);
    assert_eq!(
        list.body,
        example("network-NetworkSecurityGroupRuleList.json")["responses"]["200"]["body"]
    );
}

#[tokio::test]
async fn paging_follows_next_link_across_many_nsgs() {
    let (emu, client) = emulator();
    for i in 0..5 {
        emu.add_nsg(json!({
            "name": format!("nsg{i}"),
            "id": format!("/subscriptions/subid/resourceGroups/rg{}/providers/Microsoft.Network/networkSecurityGroups/nsg{i}", i % 2),
            "location": "westus",
            "properties": {"securityRules": []}
        }));
    }
    let first = client
        .get(&format!(
            "/subscriptions/subid/providers/Microsoft.Network/networkSecurityGroups?{API}"
        ))
        .await;
    assert_eq!(first.body["value"].as_array().unwrap().len(), 2);
    let next = first.body["nextLink"].as_str().unwrap();
    assert!(
        next.starts_with(&emu.base_url()) && next.contains("api-version=2024-05-01"),
        "{next}"
    );
    let second = client.get(next).await;
    let third = client.get(second.body["nextLink"].as_str().unwrap()).await;
    assert_eq!(third.body["value"].as_array().unwrap().len(), 1);
    assert!(third.body.get("nextLink").is_none());
    let rg0 = client.get(&format!("/subscriptions/subid/resourceGroups/RG0/providers/Microsoft.Network/networkSecurityGroups?{API}")).await;
    let rg0_next = client.get(rg0.body["nextLink"].as_str().unwrap()).await;
    assert_eq!(
        rg0.body["value"].as_array().unwrap().len()
            + rg0_next.body["value"].as_array().unwrap().len(),
        3
    );
}

#[tokio::test]
async fn missing_resources_answer_arm_404s() {
    let (emu, client) = emulator();
    emu.add_nsg(
        example("network-NetworkSecurityGroupGet.json")["responses"]["200"]["body"].clone(),
    );
    let nsg = client.get(&format!("/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/other?{API}")).await;
    assert_eq!((nsg.status, nsg.code()), (404, "ResourceNotFound"));
    let rule = client.get(&rule_path("nope")).await;
    assert_eq!((rule.status, rule.code()), (404, "NotFound"));
}

#[tokio::test]
async fn api_version_is_required() {
    let (emu, client) = emulator();
    emu.add_nsg(
        example("network-NetworkSecurityGroupGet.json")["responses"]["200"]["body"].clone(),
    );
    let wrong = client
        .get(&format!("{NSG_ID}?api-version=2023-09-01"))
        .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (400, "InvalidApiVersionParameter")
    );
    let missing = client.get(NSG_ID).await;
    assert_eq!(
        (missing.status, missing.code()),
        (400, "MissingApiVersionParameter")
    );
}

#[tokio::test]
async fn seeding_rejects_bodies_without_an_nsg_id() {
    let (emu, _client) = emulator();
    assert!(emu.try_add_nsg(json!({"name": "x"})).is_err());
    assert!(emu
        .try_add_nsg(json!({"id": "/subscriptions/s/resourceGroups/r"}))
        .is_err());
}

/// Requests per second the emulator serves on this machine (no latency, no throttle):
/// `cargo test --test emulator_selftest -- --ignored --nocapture throughput`.
#[tokio::test]
#[ignore]
async fn throughput() {
    use crate::emulator::ThrottleConfig;
    let throttle = ThrottleConfig {
        enabled: false,
        ..ThrottleConfig::default()
    };
    let emu = Emulator::start(EmulatorConfig {
        throttle,
        lro_polls: 0,
        lro_auto_complete: None,
        ..EmulatorConfig::fast()
    });
    emu.add_nsg(
        example("network-NetworkSecurityGroupGet.json")["responses"]["200"]["body"].clone(),
    );
    let client = Client::new(emu.base_url());
    let n = 2000;
    let started = std::time::Instant::now();
    for _ in 0..n {
        assert_eq!(client.get(&format!("{NSG_ID}?{API}")).await.status, 200);
    }
    let gets = n as f64 / started.elapsed().as_secs_f64();
    let started = std::time::Instant::now();
    for i in 0..n / 2 {
        let put = client
            .put(
                &rule_path(&format!("r{}", i % 50)),
                &crate::support::rule_body(200 + (i % 50), "22"),
            )
            .await;
        poll_async(&client, &put.header("azure-asyncoperation").unwrap()).await;
    }
    let writes = (n / 2) as f64 / started.elapsed().as_secs_f64();
    println!("sequential GET NSG: {gets:.0}/s; PUT rule + poll to Succeeded: {writes:.0}/s");
}
