//! Fault injection: 5xx, dropped connections, latency, failed operations, busy-NSG 429s,
//! and seeded probabilities.

use std::time::{Duration, Instant};

use crate::emulator::{DeletePolling, Emulator, EmulatorConfig, Fault, FaultKind, Trigger};
use crate::support::*;

fn start(config: EmulatorConfig) -> (Emulator, Client) {
    let emu = Emulator::start(config);
    emu.add_nsg(
        example("network-NetworkSecurityGroupGet.json")["responses"]["200"]["body"].clone(),
    );
    let client = Client::new(emu.base_url());
    (emu, client)
}

fn nsg_path() -> String {
    format!("{NSG_ID}?{API}")
}

#[tokio::test]
async fn status_faults_hit_the_nth_matching_request() {
    let (emu, client) = start(EmulatorConfig::fast());
    emu.set_faults(vec![
        Fault::new(
            "GET",
            "networkSecurityGroups/testnsg$",
            Trigger::Nth(2),
            FaultKind::Status(503),
        ),
        Fault::new(
            "PUT",
            "/securityRules/",
            Trigger::FirstN(1),
            FaultKind::Status(500),
        ),
    ]);
    let statuses: Vec<u16> = [
        client.get(&nsg_path()).await,
        client.get(&nsg_path()).await,
        client.get(&nsg_path()).await,
    ]
    .iter()
    .map(|a| a.status)
    .collect();
    assert_eq!(statuses, [200, 503, 200]);
    // Rule GETs do not match the NSG regex.
    assert_eq!(client.get(&rule_path("rule1")).await.status, 200);
    let put = client.put(&rule_path("x"), &rule_body(150, "22")).await;
    assert_eq!((put.status, put.code()), (500, "InternalServerError"));
    assert_eq!(
        client
            .put(&rule_path("x"), &rule_body(150, "22"))
            .await
            .status,
        201
    );
    assert_eq!(emu.stats().faults_injected, 2);
}

#[tokio::test]
async fn connection_reset_drops_the_connection_without_a_response() {
    let (emu, client) = start(EmulatorConfig::fast());
    emu.set_faults(vec![Fault::new(
        "GET",
        "testnsg$",
        Trigger::Nth(2),
        FaultKind::ConnectionReset,
    )]);
    assert_eq!(client.get(&nsg_path()).await.status, 200); // opens a pooled connection
    let dropped = client.try_send("GET", &nsg_path(), None, &[]).await;
    let error = dropped.expect_err("the connection should have been dropped");
    assert!(
        error.is_request() || error.is_connect() || error.is_body(),
        "{error:?}"
    );
    // The server lives on; a fresh connection works.
    assert_eq!(client.get(&nsg_path()).await.status, 200);
}

#[tokio::test]
async fn latency_is_added_per_request_and_per_fault() {
    let (emu, client) = start(EmulatorConfig {
        latency: Duration::from_millis(20),
        ..EmulatorConfig::fast()
    });
    let started = Instant::now();
    client.get(&nsg_path()).await;
    assert!(started.elapsed() >= Duration::from_millis(20));
    emu.set_faults(vec![Fault::new(
        "GET",
        "testnsg",
        Trigger::Always,
        FaultKind::Latency(Duration::from_millis(150)),
    )]);
    let started = Instant::now();
    assert_eq!(client.get(&nsg_path()).await.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(170),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn lro_failed_leaves_state_unchanged_and_frees_the_nsg() {
    let (emu, client) = start(EmulatorConfig {
        lro_polls: 1,
        lro_auto_complete: None,
        ..EmulatorConfig::fast()
    });
    emu.set_faults(vec![Fault::new(
        "PUT",
        "/securityRules/a$",
        Trigger::Nth(1),
        FaultKind::LroFailed,
    )]);
    let put = client.put(&rule_path("a"), &rule_body(150, "22")).await;
    assert_eq!(put.status, 201);
    let url = put.header("azure-asyncoperation").unwrap();
    assert_eq!(poll_async(&client, &url).await, ["InProgress", "Failed"]);
    let last = client.get(&url).await;
    assert_eq!(last.body["status"], "Failed");
    assert!(last.body["error"]["code"].is_string() && last.body["error"]["message"].is_string());
    assert_eq!(client.get(&rule_path("a")).await.status, 404);
    assert_eq!(emu.stats().lro_failed, 1);
    assert_eq!(
        client
            .put(&rule_path("a"), &rule_body(150, "22"))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn lro_failed_on_location_polling_ends_in_an_error_status() {
    let config = EmulatorConfig {
        lro_polls: 0,
        lro_auto_complete: None,
        delete_polling: DeletePolling::Location,
        ..EmulatorConfig::fast()
    };
    let (emu, client) = start(config);
    emu.set_faults(vec![Fault::new(
        "DELETE",
        "/securityRules/rule1$",
        Trigger::Always,
        FaultKind::LroFailed,
    )]);
    let del = client.delete(&rule_path("rule1")).await;
    let polled = client.get(&del.header("location").unwrap()).await;
    assert_eq!(polled.status, 500);
    assert!(!polled.code().is_empty());
    assert_eq!(client.get(&rule_path("rule1")).await.status, 200);
}

#[tokio::test]
async fn another_operation_fault_answers_retryable_429() {
    let (emu, client) = start(EmulatorConfig::fast());
    emu.set_faults(vec![Fault::new(
        "PUT",
        "/securityRules/",
        Trigger::Nth(1),
        FaultKind::AnotherOperation,
    )]);
    let busy = client.put(&rule_path("a"), &rule_body(150, "22")).await;
    assert_eq!((busy.status, busy.code()), (429, "RetryableError"));
    assert_eq!(busy.detail_codes(), ["RetryableErrorDueToAnotherOperation"]);
    assert_eq!(
        client
            .put(&rule_path("a"), &rule_body(150, "22"))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn token_endpoint_faults_apply_too() {
    let (emu, client) = start(EmulatorConfig::fast());
    emu.set_faults(vec![Fault::new(
        "POST",
        "/oauth2/v2.0/token$",
        Trigger::Always,
        FaultKind::Status(503),
    )]);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "a"),
        ("client_secret", "emulator-secret"),
        ("scope", "x/.default"),
    ];
    let response = client
        .http
        .post(client.url("/t/oauth2/v2.0/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
}

async fn pattern(seed: u64) -> Vec<u16> {
    let (emu, client) = start(EmulatorConfig::fast());
    emu.set_faults(vec![Fault::new(
        "GET",
        "testnsg$",
        Trigger::Probability { p: 0.5, seed },
        FaultKind::Status(500),
    )]);
    let mut out = Vec::new();
    for _ in 0..40 {
        out.push(client.get(&nsg_path()).await.status);
    }
    out
}

#[tokio::test]
async fn probability_faults_are_reproducible_from_the_seed() {
    let a = pattern(7).await;
    assert_eq!(a, pattern(7).await);
    let failures = a.iter().filter(|s| **s == 500).count();
    assert!((8..=32).contains(&failures), "{failures} of 40");
    assert_ne!(a, pattern(8).await);
}

#[tokio::test]
async fn a_concurrent_rule_lands_right_after_the_nth_read() {
    let (emu, client) = start(EmulatorConfig::fast());
    let foreign = serde_json::json!({"name": "other-tool", "properties": {
        "protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "8080",
        "sourceAddressPrefix": "10.9.0.0/16", "destinationAddressPrefix": "*",
        "access": "Allow", "priority": 300, "direction": "Inbound"}});
    emu.set_faults(vec![Fault::new(
        "GET",
        "networkSecurityGroups/testnsg$",
        Trigger::Nth(2),
        FaultKind::ConcurrentRule(foreign.clone()),
    )]);
    let rule_names = |a: &crate::support::Answer| -> Vec<String> {
        a.body["properties"]["securityRules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    let first = client.get(&nsg_path()).await;
    let second = client.get(&nsg_path()).await;
    let third = client.get(&nsg_path()).await;
    assert_eq!([first.status, second.status, third.status], [200; 3]);
    // The triggering read is answered with the NSG as it was.
    assert_eq!(first.body["etag"], second.body["etag"]);
    assert!(!rule_names(&second).contains(&"other-tool".to_string()));
    // The next read sees the other writer's rule, with fresh etags on it and on the NSG.
    assert_ne!(second.body["etag"], third.body["etag"]);
    assert!(rule_names(&third).contains(&"other-tool".to_string()));
    let rule = client.get(&rule_path("other-tool")).await;
    assert_eq!(rule.status, 200);
    assert!(rule.body["etag"].as_str().unwrap().starts_with("W/\""));
    assert_eq!(rule.body["properties"]["priority"], 300);
    // Rules other than the written one keep their etags.
    let before: Vec<_> = second.body["properties"]["securityRules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].clone(), r["etag"].clone()))
        .collect();
    let after = third.body["properties"]["securityRules"]
        .as_array()
        .unwrap();
    for (name, etag) in before {
        let now = after.iter().find(|r| r["name"] == name).unwrap();
        assert_eq!(now["etag"], etag, "{name}");
    }
    // Only the nth read triggers it: a fourth read changes nothing.
    let fourth = client.get(&nsg_path()).await;
    assert_eq!(third.body["etag"], fourth.body["etag"]);
}
