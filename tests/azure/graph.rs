//! Discovery through Resource Graph and the leaner write path, through the library against
//! the emulator: the same NSGs as a direct read, pages followed, the quota waited out, NSGs the
//! index does not show read directly, fallback on 403 said once, `read = "direct"` honoured;
//! writes confirmed by their own answer.

use std::time::Duration;

use jit::model::AzureRead;
use jit::providers::{Outcome, Provider};

use crate::common::*;
use crate::emulator::{EmulatorConfig, GraphConfig};

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("nsg-{i:04}")).collect()
}

#[test]
fn discovery_sees_what_a_direct_read_sees_across_pages() {
    let all = names(2500);
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let emu = emulator_with(EmulatorConfig::fast(), &refs);
    let provider = provider(&emu).with_read(AzureRead::ResourceGraph);
    let ids: Vec<String> = all.iter().map(|n| nsg_id(n)).collect();
    emu.reset_stats();
    let discovered = provider
        .discover_nsgs(&ids)
        .unwrap()
        .expect("Resource Graph is asked");
    let stats = emu.stats();
    assert_eq!(stats.graph_pages, 3, "1,000 rows a page");
    assert_eq!(stats.requests_by("GET"), 0, "no direct read");
    assert_eq!(discovered.scopes.len(), 2500);
    assert!(discovered.failed.is_empty());
    let direct = provider.read(&ids[..3]).unwrap();
    for (key, nsg) in &direct.scopes {
        let found = &discovered.scopes[key];
        assert_eq!(found.content, nsg.content, "{key}");
        assert_eq!(found.name, nsg.name);
        // No NSG etag in Resource Graph: the rules' hash stands in, never ARM's etag.
        assert!(
            found.fingerprint.starts_with("sha256:"),
            "{}",
            found.fingerprint
        );
    }
}

#[test]
fn auto_reads_a_few_nsgs_directly_and_many_through_resource_graph() {
    let all = names(60);
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let emu = emulator_with(EmulatorConfig::fast(), &refs);
    let provider = provider(&emu);
    let ids: Vec<String> = all.iter().map(|n| nsg_id(n)).collect();
    assert!(provider.discover_nsgs(&ids[..10]).unwrap().is_none());
    assert_eq!(emu.stats().graph_queries, 0);
    assert!(provider.discover_nsgs(&ids).unwrap().is_some());
    assert_eq!(emu.stats().graph_queries, 1);
    let direct = crate::common::provider(&emu).with_read(AzureRead::Direct);
    assert!(direct.discover_nsgs(&ids).unwrap().is_none());
    assert_eq!(emu.stats().graph_queries, 1, "`direct` never asks");
}

#[test]
fn nsgs_the_index_does_not_show_are_read_directly() {
    let emu = emulator_with(EmulatorConfig::fast(), &["a", "b"]);
    let provider = provider(&emu).with_read(AzureRead::ResourceGraph);
    let ids = vec![nsg_id("a"), nsg_id("b"), nsg_id("missing")];
    emu.reset_stats();
    let live = provider.discover_nsgs(&ids).unwrap().unwrap();
    assert_eq!(live.scopes.len(), 2);
    let why = &live.failed[&nsg_id("missing").to_ascii_lowercase()];
    assert!(why.contains("not found"), "{why}");
    assert!(
        emu.stats().requests_by("GET") >= 1,
        "the missing one was asked of ARM"
    );
}

#[test]
fn a_spent_quota_is_waited_out() {
    // 2 queries a window of 200 emulated seconds (0.2 s real at scale 1000): 5 pages need
    // two waits.
    let all = names(4500);
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let emu = emulator_with(
        EmulatorConfig {
            graph: GraphConfig {
                quota: 2,
                quota_window: Duration::from_secs(200),
                ..GraphConfig::default()
            },
            ..EmulatorConfig::fast()
        },
        &refs,
    );
    let provider = provider(&emu).with_read(AzureRead::ResourceGraph);
    let ids: Vec<String> = all.iter().map(|n| nsg_id(n)).collect();
    let started = std::time::Instant::now();
    let live = provider.discover_nsgs(&ids).unwrap().unwrap();
    assert_eq!(live.scopes.len(), 4500);
    let stats = emu.stats();
    assert_eq!(stats.graph_pages, 5);
    assert_eq!(
        stats.throttled_by("resource_graph"),
        0,
        "the quota headers were honoured before a 429"
    );
    assert!(started.elapsed() >= Duration::from_millis(300), "two waits");
}

#[test]
fn a_429_from_resource_graph_is_retried_after_its_reset() {
    let all = names(60);
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let emu = emulator_with(
        EmulatorConfig {
            graph: GraphConfig {
                quota: 1,
                quota_window: Duration::from_secs(1000),
                ..GraphConfig::default()
            },
            ..EmulatorConfig::fast()
        },
        &refs,
    );
    let ids: Vec<String> = all.iter().map(|n| nsg_id(n)).collect();
    // Another process of the same principal spent the window.
    provider(&emu).discover_nsgs(&ids).unwrap().unwrap();
    let live = provider(&emu).discover_nsgs(&ids).unwrap().unwrap();
    assert_eq!(live.scopes.len(), 60);
    assert_eq!(emu.stats().throttled_by("resource_graph"), 1);
}

#[test]
fn a_principal_without_resource_graph_falls_back_to_direct_reads() {
    let all = names(60);
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let emu = emulator_with(EmulatorConfig::fast(), &refs);
    emu.deny_resource_graph("static-0");
    let provider = provider(&emu).with_read(AzureRead::ResourceGraph);
    let ids: Vec<String> = all.iter().map(|n| nsg_id(n)).collect();
    assert!(
        provider.discover_nsgs(&ids).unwrap().is_none(),
        "read directly"
    );
    assert!(provider.discover_nsgs(&ids).unwrap().is_none());
    assert_eq!(
        emu.stats().graph_queries,
        1,
        "refused once, not asked again by this provider"
    );
    assert_eq!(provider.read(&ids).unwrap().scopes.len(), 60);
}

#[test]
fn a_write_is_not_read_back_when_its_answer_carries_the_rule() {
    let emu = emulator_with(
        EmulatorConfig {
            lro_duration: Some(Duration::from_secs(1)),
            ..EmulatorConfig::fast()
        },
        &["web-1-nsg"],
    );
    let provider = provider(&emu);
    read(&provider, &[nsg_id("web-1-nsg")]).unwrap();
    emu.reset_stats();
    let changes = vec![
        create("web-1-nsg", deny("jit-deny-web-1-ssh", 22, 4000)),
        create("web-1-nsg", deny("jit-deny-web-1-rdp", 3389, 4001)),
    ];
    let outcomes = batch_apply(&provider, &changes, &|written| {
        assert!(written.iter().all(|(_, o)| **o == Outcome::Applied))
    })
    .unwrap();
    assert_eq!(outcomes, [Outcome::Applied, Outcome::Applied]);
    let stats = emu.stats();
    // One read of the NSG before writing, then per write one PUT and one status poll that
    // finds it done: no confirming GET.
    assert_eq!(stats.requests_by("PUT"), 2);
    assert_eq!(stats.lro_polls, 2);
    // (`batch_apply` reads the NSG again afterwards, as the next plan would.)
    assert_eq!(stats.requests_by("GET"), 1 + 2 + 1, "{stats:?}");
    let nsg = emu.nsg(&nsg_id("web-1-nsg")).unwrap();
    let rules = nsg["properties"]["securityRules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["name"] == "jit-deny-web-1-rdp"));
}

#[test]
fn one_query_discovers_the_subscriptions_of_every_provider() {
    use serde_json::json;
    let emu = emulator_with(EmulatorConfig::fast(), &[]);
    let id = |sub: &str, i: usize| {
        format!("/subscriptions/{sub}/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/n{i}")
    };
    for sub in ["sub-1", "sub-2", "sub-3"] {
        for i in 0..3 {
            let mut body = nsg_body(&format!("n{i}"), vec![]);
            body["id"] = json!(id(sub, i));
            emu.add_nsg(body);
        }
    }
    let for_sub = |sub: &str| {
        jit::providers::azure::AzureProvider::new(
            format!("azure.{sub}"),
            sub,
            Some(&emu.base_url()),
            jit::providers::azure::AzureOptions {
                parallelism: 4,
                retry: fast_retry(),
                tokens: Some(std::sync::Arc::new(StaticToken("test-token"))),
            },
        )
        .unwrap()
        .with_read(AzureRead::ResourceGraph)
    };
    let providers: Vec<_> = ["sub-1", "sub-2", "sub-3"]
        .iter()
        .map(|s| for_sub(s))
        .collect();
    emu.reset_stats();
    for (p, sub) in providers.iter().zip(["sub-1", "sub-2", "sub-3"]) {
        let ids: Vec<String> = (0..3).map(|i| id(sub, i)).collect();
        let live = p.discover_nsgs(&ids).unwrap().unwrap();
        assert_eq!(live.scopes.len(), 3, "{sub}");
        assert!(live.failed.is_empty());
    }
    let stats = emu.stats();
    assert_eq!(
        stats.graph_queries, 1,
        "one query for the three subscriptions"
    );
    assert_eq!(stats.requests_by("GET"), 0);
    // The next discovery asks again: rows are handed out once.
    let ids: Vec<String> = (0..3).map(|i| id("sub-2", i)).collect();
    providers[1].discover_nsgs(&ids).unwrap().unwrap();
    assert_eq!(emu.stats().graph_queries, 2);
}
