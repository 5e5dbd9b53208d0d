//! The token-bucket throttle: remaining-count headers, 429 `SubscriptionRequestsThrottled`
//! and a Retry-After that is exact under a scaled clock.

use std::time::{Duration, Instant};

use crate::emulator::{Bucket, Emulator, EmulatorConfig, ThrottleConfig};
use crate::support::*;

fn start(time_scale: f64, reads: Bucket) -> (Emulator, Client) {
    let throttle = ThrottleConfig {
        reads,
        ..ThrottleConfig::default()
    };
    let config = EmulatorConfig {
        time_scale,
        throttle,
        lro_polls: 0,
        ..EmulatorConfig::fast()
    };
    let emu = Emulator::start(config);
    emu.add_nsg(
        example("network-NetworkSecurityGroupGet.json")["responses"]["200"]["body"].clone(),
    );
    let client = Client::new(emu.base_url());
    (emu, client)
}

#[tokio::test]
async fn reads_drain_then_429_with_scaled_retry_after() {
    // 5 reads, then 0.5/s emulated; at 4× that is 2/s real, so one token takes ≤ 500 ms.
    let (emu, client) = start(
        4.0,
        Bucket {
            capacity: 5.0,
            per_second: 0.5,
        },
    );
    let path = format!("{NSG_ID}?{API}");
    let mut remaining = Vec::new();
    for _ in 0..5 {
        let answer = client.get(&path).await;
        assert_eq!(answer.status, 200);
        remaining.push(
            answer
                .header("x-ms-ratelimit-remaining-subscription-reads")
                .unwrap(),
        );
    }
    assert_eq!(remaining, ["4", "3", "2", "1", "0"]);
    let throttled = client.get(&path).await;
    assert_eq!(
        (throttled.status, throttled.code()),
        (429, "SubscriptionRequestsThrottled")
    );
    let ms: u64 = throttled.header("retry-after-ms").unwrap().parse().unwrap();
    assert!((1..=500).contains(&ms), "retry-after-ms {ms}");
    assert_eq!(throttled.header("retry-after").as_deref(), Some("0"));
    assert_eq!(emu.stats().throttled_by("reads"), 1);

    // Writes draw from their own bucket.
    assert_eq!(
        client
            .put(&rule_path("w"), &rule_body(150, "22"))
            .await
            .status,
        201
    );

    tokio::time::sleep(Duration::from_millis(ms)).await;
    let after = client.get(&path).await;
    assert_eq!(after.status, 200, "a token is back after retry-after-ms");
}

#[tokio::test]
async fn unscaled_retry_after_rounds_up_to_whole_seconds() {
    // One read, then 0.5/s: the next token is 2 s away (a little less, as time passes).
    let (_emu, client) = start(
        1.0,
        Bucket {
            capacity: 1.0,
            per_second: 0.5,
        },
    );
    let path = format!("{NSG_ID}?{API}");
    assert_eq!(client.get(&path).await.status, 200);
    let started = Instant::now();
    let throttled = client.get(&path).await;
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.header("retry-after").as_deref(), Some("2"));
    let ms: u64 = throttled.header("retry-after-ms").unwrap().parse().unwrap();
    assert!(
        ms <= 2000 && ms + started.elapsed().as_millis() as u64 >= 1900,
        "{ms}"
    );
    assert!(throttled
        .body
        .to_string()
        .contains("Please try again after '2' seconds"));
}

#[tokio::test]
async fn buckets_are_per_principal() {
    let throttle = ThrottleConfig {
        reads: Bucket {
            capacity: 1.0,
            per_second: 0.001,
        },
        ..ThrottleConfig::default()
    };
    let config = EmulatorConfig {
        throttle,
        static_tokens: vec!["a".into(), "b".into()],
        ..EmulatorConfig::fast()
    };
    let emu = Emulator::start(config);
    emu.add_nsg(
        example("network-NetworkSecurityGroupGet.json")["responses"]["200"]["body"].clone(),
    );
    let path = format!("{NSG_ID}?{API}");
    let a = Client {
        token: Some("a".into()),
        ..Client::new(emu.base_url())
    };
    let b = Client {
        token: Some("b".into()),
        ..Client::new(emu.base_url())
    };
    assert_eq!(a.get(&path).await.status, 200);
    assert_eq!(a.get(&path).await.status, 429);
    assert_eq!(b.get(&path).await.status, 200);
}
