//! Resource Graph: the query over NSGs across subscriptions, paging with `$skipToken` as the
//! official examples show, the quota headers and 429, the lag behind ARM, and the 403 switch.

use std::time::Duration;

use serde_json::{json, Value};

use crate::emulator::{Emulator, EmulatorConfig, GraphConfig};
use crate::support::*;

const GRAPH: &str = "/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01";
const QUERY: &str = "Resources | where type =~ 'microsoft.network/networksecuritygroups' | project id, name, resourceGroup, subscriptionId, properties";

fn nsg(sub: &str, i: usize) -> Value {
    json!({
        "id": format!("/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-{i:03}"),
        "name": format!("nsg-{i:03}"), "location": "westeurope",
        "properties": {"securityRules": []}
    })
}

fn start(graph: GraphConfig) -> (Emulator, Client) {
    let emu = Emulator::start(EmulatorConfig {
        graph,
        lro_polls: 0,
        ..EmulatorConfig::fast()
    });
    let client = Client::new(emu.base_url());
    (emu, client)
}

fn query(subs: &[&str], options: Value) -> Value {
    json!({"subscriptions": subs, "query": QUERY, "options": options})
}

async fn post(client: &Client, body: &Value) -> Answer {
    client.send("POST", GRAPH, Some(body), &[]).await
}

#[tokio::test]
async fn pages_nsgs_of_the_asked_subscriptions_with_skip_tokens() {
    let (emu, client) = start(GraphConfig::default());
    for i in 0..5 {
        emu.add_nsg(nsg("sub-a", i));
        emu.add_nsg(nsg("sub-b", i));
    }
    emu.add_nsg(nsg("sub-c", 0));
    let first = post(&client, &query(&["sub-a", "SUB-B"], json!({"$top": 4}))).await;
    assert_eq!(first.status, 200, "{first:?}");
    // The official first page's shape.
    let example = example("resourcegraph-ResourcesFirstPageQuery.json");
    let shape = &example["responses"]["200"]["body"];
    for key in shape.as_object().unwrap().keys() {
        assert!(
            first.body.get(key).is_some(),
            "no `{key}` in {:?}",
            first.body
        );
    }
    assert_eq!(first.body["totalRecords"], 10);
    assert_eq!(first.body["count"], 4);
    assert_eq!(first.body["resultTruncated"], "false");
    let mut ids: Vec<String> = Vec::new();
    let mut body = first.body;
    let mut pages = 1;
    loop {
        for row in body["data"].as_array().unwrap() {
            assert_eq!(
                row.as_object().unwrap().len(),
                5,
                "projected columns only: {row}"
            );
            assert_eq!(row["properties"]["securityRules"], json!([]));
            ids.push(row["id"].as_str().unwrap().to_string());
        }
        let Some(token) = body.get("$skipToken").and_then(Value::as_str) else {
            break;
        };
        let next = post(
            &client,
            &query(&["sub-a", "SUB-B"], json!({"$top": 4, "$skipToken": token})),
        )
        .await;
        assert_eq!(next.status, 200, "{next:?}");
        body = next.body;
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(ids.len(), 10);
    let mut sorted = ids.clone();
    sorted.sort_by_key(|id| id.to_ascii_lowercase());
    assert_eq!(ids, sorted, "rows sorted by id");
    assert!(ids.iter().all(|id| !id.contains("sub-c")));
    assert_eq!(emu.stats().graph_pages, 3);
}

#[tokio::test]
async fn refuses_what_it_does_not_serve() {
    let (emu, client) = start(GraphConfig::default());
    emu.add_nsg(nsg("sub-a", 0));
    let bad = |q: &str| json!({"subscriptions": ["sub-a"], "query": q});
    let answer = post(
        &client,
        &bad("Resources | where type =~ 'microsoft.compute/disks'"),
    )
    .await;
    assert_eq!((answer.status, answer.code()), (400, "BadRequest"));
    assert_eq!(answer.detail_codes(), ["InvalidQuery"]);
    let answer = post(
        &client,
        &bad("Resources | where type =~ 'microsoft.network/networksecuritygroups' | project nope"),
    )
    .await;
    assert_eq!(answer.status, 400);
    let answer = post(&client, &query(&["sub-a"], json!({"$top": 1001}))).await;
    assert_eq!(answer.status, 400, "$top is at most 1000");
    let answer = post(&client, &query(&["sub-a"], json!({"$skipToken": "zz"}))).await;
    assert_eq!(answer.status, 400);
    let answer = client
        .send(
            "POST",
            "/providers/Microsoft.ResourceGraph/resources?api-version=2024-05-01",
            Some(&query(&["sub-a"], json!({}))),
            &[],
        )
        .await;
    assert_eq!(
        (answer.status, answer.code()),
        (400, "InvalidApiVersionParameter")
    );
}

#[tokio::test]
async fn no_skip_token_without_id_projected() {
    let (emu, client) = start(GraphConfig::default());
    for i in 0..3 {
        emu.add_nsg(nsg("sub-a", i));
    }
    let body = json!({"subscriptions": ["sub-a"], "options": {"$top": 2},
        "query": "Resources | where type =~ 'microsoft.network/networksecuritygroups' | project name"});
    let answer = post(&client, &body).await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.get("$skipToken").is_none(), "{:?}", answer.body);
    assert_eq!(answer.body["resultTruncated"], "true");
}

#[tokio::test]
async fn quota_headers_count_down_then_429() {
    // 3 queries a 5 s window; at time scale 1000 the window lasts 5 ms of real time.
    let (emu, client) = start(GraphConfig {
        quota: 3,
        quota_window: Duration::from_secs(5000),
        ..GraphConfig::default()
    });
    emu.add_nsg(nsg("sub-a", 0));
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let answer = post(&client, &query(&["sub-a"], json!({}))).await;
        assert_eq!(answer.status, 200);
        remaining.push(answer.header("x-ms-user-quota-remaining").unwrap());
        let resets = answer.header("x-ms-user-quota-resets-after").unwrap();
        assert!(
            resets.len() == 16 && resets.starts_with("00:00:0"),
            "{resets}"
        );
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let throttled = post(&client, &query(&["sub-a"], json!({}))).await;
    assert_eq!((throttled.status, throttled.code()), (429, "RateLimiting"));
    assert_eq!(
        throttled.header("x-ms-user-quota-remaining").as_deref(),
        Some("0")
    );
    assert!(throttled.header("retry-after").is_none());
    assert_eq!(emu.stats().throttled_by("resource_graph"), 1);
    // 5000 emulated seconds are 5 s of real time at scale 1000.
    let resets = throttled.header("x-ms-user-quota-resets-after").unwrap();
    let secs: f64 = resets.rsplit(':').next().unwrap().parse().unwrap();
    assert!(secs > 0.0 && secs <= 5.0, "{resets}");
    tokio::time::sleep(Duration::from_secs_f64(secs + 0.05)).await;
    let again = post(&client, &query(&["sub-a"], json!({}))).await;
    assert_eq!(again.status, 200, "the window reset: {again:?}");
}

#[tokio::test]
async fn a_write_shows_only_after_the_lag() {
    // 2000 emulated seconds of lag are 2 s of real time at scale 1000.
    let (emu, client) = start(GraphConfig {
        lag: Duration::from_secs(2000),
        ..GraphConfig::default()
    });
    let id = nsg("sub-a", 0)["id"].as_str().unwrap().to_string();
    emu.add_nsg(nsg("sub-a", 0));
    let rules = |answer: &Answer| answer.body["data"][0]["properties"]["securityRules"].clone();
    let seen = post(&client, &query(&["sub-a"], json!({}))).await;
    assert_eq!(rules(&seen), json!([]), "seeded NSGs are indexed at once");
    let put = client
        .put(
            &format!("{id}/securityRules/r1?{API}"),
            &rule_body(100, "22"),
        )
        .await;
    assert!(put.status == 201, "{put:?}");
    poll_async(&client, &put.header("azure-asyncoperation").unwrap()).await;
    assert_eq!(
        emu.nsg(&id).unwrap()["properties"]["securityRules"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "ARM has the rule"
    );
    let lagging = post(&client, &query(&["sub-a"], json!({}))).await;
    assert_eq!(rules(&lagging), json!([]), "Resource Graph does not yet");
    // Out-of-band edits lag too.
    emu.edit_nsg(&id, |n| {
        let mut r2 = rule_body(101, "23");
        r2["name"] = json!("r2");
        n["properties"]["securityRules"]
            .as_array_mut()
            .unwrap()
            .push(r2);
    });
    let still = post(&client, &query(&["sub-a"], json!({}))).await;
    assert_eq!(rules(&still), json!([]));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let caught_up = post(&client, &query(&["sub-a"], json!({}))).await;
    let names: Vec<&str> = caught_up.body["data"][0]["properties"]["securityRules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["r1", "r2"], "both changes visible");
}

#[tokio::test]
async fn a_principal_can_be_denied() {
    let (emu, client) = start(GraphConfig::default());
    emu.add_nsg(nsg("sub-a", 0));
    emu.deny_resource_graph("static-0");
    let answer = post(&client, &query(&["sub-a"], json!({}))).await;
    assert_eq!((answer.status, answer.code()), (403, "AuthorizationFailed"));
    assert_eq!(emu.stats().graph_denied, 1);
    // ARM itself still answers.
    let direct = client
        .get(&format!(
            "{}?{API}",
            nsg("sub-a", 0)["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(direct.status, 200);
}

#[tokio::test]
async fn lro_duration_completes_by_time_not_polls() {
    let emu = Emulator::start(EmulatorConfig {
        lro_polls: 5,
        lro_duration: Some(Duration::from_secs(1)),
        ..EmulatorConfig::fast()
    });
    emu.add_nsg(
        example("network-NetworkSecurityGroupGet.json")["responses"]["200"]["body"].clone(),
    );
    let client = Client::new(emu.base_url());
    let put = client.put(&rule_path("r1"), &rule_body(100, "22")).await;
    assert_eq!(put.status, 201, "{put:?}");
    // 1 emulated second is 1 ms here: waiting the Retry-After finds it done at the first poll.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let seen = poll_async(&client, &put.header("azure-asyncoperation").unwrap()).await;
    assert_eq!(seen, ["Succeeded"]);
}
