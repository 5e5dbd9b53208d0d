//! Rule writes: validation errors, etags and 412, LRO polling for PUT and DELETE, and the
//! per-NSG exclusive-write 429.

use serde_json::{json, Value};

use crate::emulator::{DeletePolling, Emulator, EmulatorConfig};
use crate::support::*;

fn seeded(config: EmulatorConfig) -> (Emulator, Client) {
    let emu = Emulator::start(config);
    emu.add_nsg(
        example("network-NetworkSecurityGroupGet.json")["responses"]["200"]["body"].clone(),
    );
    let client = Client::new(emu.base_url());
    (emu, client)
}

/// PUTs a rule and polls its operation to the end.
async fn put_done(client: &Client, name: &str, body: &Value) -> Answer {
    let answer = client.put(&rule_path(name), body).await;
    assert!(answer.status == 200 || answer.status == 201, "{answer:?}");
    let url = answer.header("azure-asyncoperation").unwrap();
    assert_eq!(poll_async(client, &url).await.last().unwrap(), "Succeeded");
    answer
}

#[tokio::test]
async fn put_runs_a_long_running_operation() {
    let (emu, client) = seeded(EmulatorConfig {
        lro_polls: 2,
        lro_auto_complete: None,
        ..EmulatorConfig::fast()
    });
    let nsg_etag = emu.nsg(NSG_ID).unwrap()["etag"].clone();
    let put = client
        .put(&rule_path("jit-allow-1"), &rule_body(150, "22"))
        .await;
    assert_eq!(put.status, 201);
    assert_eq!(put.body["properties"]["provisioningState"], "Updating");
    assert_eq!(put.body["name"], "jit-allow-1");
    assert_eq!(
        put.body["id"],
        format!("{NSG_ID}/securityRules/jit-allow-1")
    );
    assert_eq!(put.header("retry-after").as_deref(), Some("0"));
    assert_eq!(put.header("retry-after-ms").as_deref(), Some("1"));
    let url = put.header("azure-asyncoperation").unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/subscriptions/subid/providers/Microsoft.Network/locations/westus/operations/",
            emu.base_url()
        )) && url.ends_with("?api-version=2024-05-01"),
        "{url}"
    );
    // Not visible until the operation completes.
    assert_eq!(client.get(&rule_path("jit-allow-1")).await.status, 404);
    assert_eq!(emu.pending_operations(), 1);
    assert_eq!(
        poll_async(&client, &url).await,
        ["InProgress", "InProgress", "Succeeded"]
    );
    let got = client.get(&rule_path("JIT-ALLOW-1")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(got.body["etag"], put.body["etag"]);
    assert_eq!(got.body["properties"]["sourceAddressPrefixes"], json!([]));
    assert_ne!(emu.nsg(NSG_ID).unwrap()["etag"], nsg_etag);
    let stats = emu.stats();
    assert_eq!((stats.lro_polls, stats.writes_applied), (3, 1));

    // An update answers 200 and changes the rule's etag again.
    let update = put_done(&client, "jit-allow-1", &rule_body(150, "3389")).await;
    assert_eq!(update.status, 200);
    assert_ne!(update.body["etag"], put.body["etag"]);
    let rule = client.get(&rule_path("jit-allow-1")).await;
    assert_eq!(rule.body["properties"]["destinationPortRange"], "3389");
}

#[tokio::test]
async fn delete_polls_azure_async_operation() {
    let (emu, client) = seeded(EmulatorConfig {
        lro_polls: 1,
        lro_auto_complete: None,
        ..EmulatorConfig::fast()
    });
    let nsg_etag = emu.nsg(NSG_ID).unwrap()["etag"].clone();
    let del = client.delete(&rule_path("Rule1")).await;
    assert_eq!(del.status, 202);
    assert!(del.header("location").is_none());
    let url = del.header("azure-asyncoperation").unwrap();
    assert_eq!(
        client.get(&rule_path("rule1")).await.status,
        200,
        "still there while in progress"
    );
    assert_eq!(poll_async(&client, &url).await, ["InProgress", "Succeeded"]);
    assert_eq!(client.get(&rule_path("rule1")).await.status, 404);
    assert_ne!(emu.nsg(NSG_ID).unwrap()["etag"], nsg_etag);
    assert_eq!(emu.stats().deletes_applied, 1);
    // Deleting a missing rule is a no-op 204.
    assert_eq!(client.delete(&rule_path("rule1")).await.status, 204);
}

#[tokio::test]
async fn delete_polls_location_until_204() {
    let config = EmulatorConfig {
        lro_polls: 2,
        lro_auto_complete: None,
        delete_polling: DeletePolling::Location,
        ..EmulatorConfig::fast()
    };
    let (_emu, client) = seeded(config);
    let del = client.delete(&rule_path("rule1")).await;
    assert_eq!(del.status, 202);
    assert!(del.header("azure-asyncoperation").is_none());
    let mut url = del.header("location").unwrap();
    assert!(url.contains("/operationResults/"), "{url}");
    let mut statuses = Vec::new();
    loop {
        let answer = client.get(&url).await;
        statuses.push(answer.status);
        if answer.status != 202 {
            break;
        }
        url = answer.header("location").unwrap();
    }
    assert_eq!(statuses, [202, 202, 204]);
    assert_eq!(client.get(&rule_path("rule1")).await.status, 404);
}

#[tokio::test]
async fn unpolled_operations_complete_by_themselves() {
    let config = EmulatorConfig {
        lro_auto_complete: Some(std::time::Duration::from_secs(10)),
        ..EmulatorConfig::fast()
    };
    let (emu, client) = seeded(config);
    client.put(&rule_path("a"), &rule_body(150, "22")).await;
    tokio::time::sleep(std::time::Duration::from_millis(30)).await; // 10 s emulated at 1000×
    assert_eq!(client.get(&rule_path("a")).await.status, 200);
    assert_eq!(emu.pending_operations(), 0);
}

#[tokio::test]
async fn etags_are_enforced_with_412() {
    let (emu, client) = seeded(EmulatorConfig {
        lro_polls: 0,
        lro_auto_complete: None,
        ..EmulatorConfig::fast()
    });
    let rule = client.get(&rule_path("rule1")).await;
    let etag = rule.body["etag"].as_str().unwrap().to_string();
    let stale = "W/\"00000000-0000-0000-0000-000000000000\"";

    let put = client
        .send(
            "PUT",
            &rule_path("rule1"),
            Some(&rule_body(130, "80")),
            &[("If-Match", stale)],
        )
        .await;
    assert_eq!((put.status, put.code()), (412, "PreconditionFailed"));
    assert_eq!(put.detail_codes(), ["PreconditionFailedEtagMismatch"]);
    let del = client
        .send("DELETE", &rule_path("rule1"), None, &[("If-Match", stale)])
        .await;
    assert_eq!((del.status, del.code()), (412, "PreconditionFailed"));
    let create = client
        .send(
            "PUT",
            &rule_path("rule1"),
            Some(&rule_body(130, "80")),
            &[("If-None-Match", "*")],
        )
        .await;
    assert_eq!(create.status, 412);
    assert_eq!(emu.stats().precondition_failed, 3);

    let ok = client
        .send(
            "PUT",
            &rule_path("rule1"),
            Some(&rule_body(130, "81")),
            &[("If-Match", &etag)],
        )
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    poll_async(&client, &ok.header("azure-asyncoperation").unwrap()).await;
    // The old etag is now stale.
    let again = client
        .send("DELETE", &rule_path("rule1"), None, &[("If-Match", &etag)])
        .await;
    assert_eq!(again.status, 412);
    let new_etag = ok.body["etag"].as_str().unwrap();
    let del = client
        .send(
            "DELETE",
            &rule_path("rule1"),
            None,
            &[("If-Match", new_etag)],
        )
        .await;
    assert_eq!(del.status, 202);
}

#[tokio::test]
async fn writes_to_a_busy_nsg_get_another_operation_429() {
    let (emu, client) = seeded(EmulatorConfig {
        lro_polls: 1,
        lro_auto_complete: None,
        ..EmulatorConfig::fast()
    });
    let first = client.put(&rule_path("a"), &rule_body(150, "22")).await;
    let busy = client.put(&rule_path("b"), &rule_body(151, "22")).await;
    assert_eq!((busy.status, busy.code()), (429, "RetryableError"));
    assert_eq!(busy.detail_codes(), ["RetryableErrorDueToAnotherOperation"]);
    assert!(busy
        .body
        .to_string()
        .contains("The call can be retried in 1 seconds."));
    assert!(busy.header("retry-after").is_some());
    let busy_delete = client.delete(&rule_path("rule1")).await;
    assert_eq!(busy_delete.status, 429);
    assert_eq!(emu.stats().throttled_by("another_operation"), 2);
    poll_async(&client, &first.header("azure-asyncoperation").unwrap()).await;
    assert_eq!(
        client
            .put(&rule_path("b"), &rule_body(151, "22"))
            .await
            .status,
        201
    );
}

async fn rejected(client: &Client, name: &str, body: Value) -> Answer {
    let answer = client.put(&rule_path(name), &body).await;
    assert_eq!(answer.status, 400, "{name}: {answer:?}");
    answer
}

fn with(key: &str, value: Value) -> Value {
    let mut body = rule_body(200, "22");
    body["properties"][key] = value;
    body
}

#[tokio::test]
async fn rule_validation_uses_arm_error_codes() {
    let (emu, client) = seeded(EmulatorConfig::fast());
    for priority in [99, 4097] {
        let a = rejected(&client, "p", with("priority", json!(priority))).await;
        assert_eq!(a.code(), "SecurityRuleInvalidPriority");
    }
    // rule1 is Inbound at 130.
    let a = rejected(&client, "clash", with("priority", json!(130))).await;
    assert_eq!(a.code(), "SecurityRuleConflict");
    let long = "a".repeat(81);
    for name in ["-x", "x-", "x y", long.as_str()] {
        let a = rejected(&client, name, rule_body(200, "22")).await;
        assert_eq!(a.code(), "InvalidResourceName", "{name}");
    }
    let a = rejected(&client, "d", with("description", json!("x".repeat(141)))).await;
    assert_eq!(a.code(), "SecurityRuleDescriptionTooLong");
    let a = rejected(&client, "proto", with("protocol", json!("Gre"))).await;
    assert_eq!(a.code(), "InvalidRequestFormat");
    assert_eq!(a.detail_codes(), ["InvalidJson"]);
    for (singular, plural, value) in [
        (
            "sourceAddressPrefix",
            "sourceAddressPrefixes",
            json!(["10.0.0.0/8", "Internet"]),
        ),
        ("sourceAddressPrefix", "sourceAddressPrefixes", json!(["*"])),
        (
            "destinationAddressPrefix",
            "destinationAddressPrefixes",
            json!(["VirtualNetwork"]),
        ),
        (
            "destinationPortRange",
            "destinationPortRanges",
            json!(["22", "*"]),
        ),
    ] {
        let mut body = with(plural, value);
        body["properties"].as_object_mut().unwrap().remove(singular);
        let a = rejected(&client, "plural", body).await;
        assert_eq!(
            a.code(),
            "SecurityRuleParameterContainsUnsupportedValue",
            "{plural}"
        );
    }
    let a = rejected(
        &client,
        "both",
        with("sourceAddressPrefixes", json!(["10.0.0.0/8"])),
    )
    .await;
    assert_eq!(a.code(), "SecurityRuleParametersMutuallyExclusive");
    let a = client
        .send(
            "PUT",
            &rule_path("junk"),
            None,
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!((a.status, a.code()), (400, "InvalidRequestFormat"));
    // The same priority in the other direction is fine; 4096 and 100 are in range.
    let mut outbound = with("priority", json!(130));
    outbound["properties"]["direction"] = json!("Outbound");
    assert_eq!(client.put(&rule_path("out_"), &outbound).await.status, 201);
    assert_eq!(emu.pending_operations(), 1);
}

#[tokio::test]
async fn plural_fields_accept_addresses() {
    let (_emu, client) = seeded(EmulatorConfig {
        lro_polls: 0,
        lro_auto_complete: None,
        ..EmulatorConfig::fast()
    });
    let mut body = rule_body(4096, "22");
    let props = body["properties"].as_object_mut().unwrap();
    props.remove("sourceAddressPrefix");
    props.remove("destinationPortRange");
    props.insert(
        "sourceAddressPrefixes".into(),
        json!(["203.0.113.0/24", "2001:db8::/48", "10.0.0.1"]),
    );
    props.insert("destinationPortRanges".into(), json!(["22", "3389-3390"]));
    put_done(&client, "plural.rule_", &body).await;
    let got = client.get(&rule_path("plural.rule_")).await;
    assert_eq!(
        got.body["properties"]["sourceAddressPrefixes"][1],
        "2001:db8::/48"
    );
    assert!(got.body["properties"].get("sourceAddressPrefix").is_none());
}

#[tokio::test]
async fn out_of_band_edits_change_etags() {
    let (emu, client) = seeded(EmulatorConfig::fast());
    let before = client.get(&rule_path("rule1")).await.body["etag"].clone();
    let nsg_before = emu.nsg(NSG_ID).unwrap()["etag"].clone();
    assert!(emu.edit_nsg(NSG_ID, |nsg| {
        nsg["properties"]["securityRules"][0]["properties"]["priority"] = json!(140);
    }));
    let after = client.get(&rule_path("rule1")).await;
    assert_eq!(after.body["properties"]["priority"], 140);
    assert_ne!(after.body["etag"], before);
    assert_ne!(emu.nsg(NSG_ID).unwrap()["etag"], nsg_before);
    assert!(!emu.edit_nsg(
        "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/networkSecurityGroups/z",
        |_| {}
    ));
}
