//! The safety invariants as properties, through the real binary and the real kernel: for any
//! set of request files — valid or not (a source outside policy, a port the target does not
//! have, a window longer than the port allows), active, ended or scheduled — after `jit apply`
//! every element in the kernel stands for a valid, active request: its source is that
//! request's, its protocol and port one the request asked for, and the kernel keeps it no
//! longer than the request lasts. With no invalid request, the kernel holds exactly those.

use std::collections::BTreeSet;

use ipnet::IpNet;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use jit::providers::nftables;

use super::fixture::request;
use super::lab::Lab;
use super::support::{config_dir, TestCommand};

const POLICY: &str = r#"provider "nftables" "host" {
  table = "jit"
}

target "bastion" {
  provider = "nftables.host"
  port "ssh" {
    number          = 22
    allowed_sources = ["192.0.2.0/24", "2001:db8::/32"]
    max_duration    = "4h"
  }
  port "dns" {
    number          = 53
    protocol        = "any"
    allowed_sources = ["192.0.2.0/24", "2001:db8::/32"]
    max_duration    = "4h"
  }
}
"#;

#[derive(Debug, Clone)]
struct Req {
    source: IpNet,
    ports: Vec<&'static str>,
    start_mins: i64,
    duration_mins: i64,
}

impl Req {
    fn valid(&self) -> bool {
        let allowed: [IpNet; 2] = [
            "192.0.2.0/24".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ];
        allowed.iter().any(|a| a.contains(&self.source))
            && self.ports.iter().all(|p| *p != "rdp")
            && self.duration_mins <= 240
    }

    /// The (protocol, port) pairs it opens.
    fn opens(&self) -> Vec<(&'static str, u16)> {
        let mut out = Vec::new();
        for port in &self.ports {
            match *port {
                "ssh" => out.push(("tcp", 22)),
                "dns" => out.extend([("tcp", 53), ("udp", 53)]),
                _ => {}
            }
        }
        out
    }
}

fn source() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        6 => (0u8..=255, 24u8..=32)
            .prop_map(|(host, len)| { IpNet::new([192, 0, 2, host].into(), len).unwrap().trunc() }),
        6 => (any::<u64>(), 32u8..=128).prop_map(|(bits, len)| {
            let addr = (0x2001_0db8u128 << 96) | (u128::from(bits) << 32);
            IpNet::new(std::net::Ipv6Addr::from(addr).into(), len)
                .unwrap()
                .trunc()
        }),
        // Outside the allowed sources.
        1 => (0u8..=255).prop_map(|host| IpNet::new([198, 51, 100, host].into(), 32).unwrap()),
    ]
}

fn req() -> impl Strategy<Value = Req> {
    (
        source(),
        prop_oneof![
            8 => prop::sample::subsequence(vec!["ssh", "dns"], 1..=2),
            // A port the target does not have.
            1 => Just(vec!["ssh", "rdp"]),
        ],
        -180i64..30,
        // Past the ports' four hours, one time in ten.
        prop_oneof![9 => 1i64..=240, 1 => 241i64..300],
    )
        .prop_map(|(source, ports, start_mins, duration_mins)| Req {
            source,
            ports,
            start_mins,
            duration_mins,
        })
}

#[test]
fn every_element_stands_for_a_valid_active_request_and_outlives_none() {
    let Some(lab) = Lab::new("properties") else {
        return;
    };
    let mut runner = TestRunner::new(Config {
        cases: 32,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&prop::collection::vec(req(), 0..6), |reqs| {
        let now = Timestamp::from_second(Timestamp::now().as_second()).unwrap();
        let mut files: Vec<(String, String)> = vec![("policy.hcl".into(), POLICY.into())];
        for (i, r) in reqs.iter().enumerate() {
            let start = now + SignedDuration::from_mins(r.start_mins);
            let text = request(
                &format!("REQ-{i}"),
                &r.source.to_string(),
                start,
                &format!("{}m", r.duration_mins),
            )
            .replace(
                "ports         = [\"ssh\"]",
                &format!("ports         = {:?}", r.ports),
            )
            // One requester each: one person's back-to-back requests form one stretch, which
            // the port's `max_duration` bounds too.
            .replace("alice@example.com", &format!("user{i}@example.com"));
            files.push((format!("requests/r{i}.hcl"), text));
        }
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let dir = config_dir(&refs);
        let run = TestCommand::in_netns(&lab.server, dir.path(), &["apply", "--auto-approve"])
            .env("JIT_ACTOR", "tester")
            .run();
        let all_valid = reqs.iter().all(Req::valid);
        prop_assert_eq!(run.code, if all_valid { 0 } else { 1 }, "{}", run.stderr);
        prop_assert!(!run.stderr.contains("panicked"), "{}", run.stderr);

        let after = Timestamp::now();
        let table = nftables::read(&lab.nft(), "jit")
            .unwrap()
            .expect("the table");
        let active = |r: &Req| {
            let start = now + SignedDuration::from_mins(r.start_mins);
            let end = start + SignedDuration::from_mins(r.duration_mins);
            start <= now && now < end
        };
        let mut held = BTreeSet::new();
        for element in &table.elements {
            let key = element.key.expect("an element jit writes");
            let comment = element.comment.as_deref().unwrap_or_default();
            let index: usize = comment
                .strip_prefix("REQ-")
                .and_then(|n| n.parse().ok())
                .unwrap_or(usize::MAX);
            let r = reqs.get(index);
            prop_assert!(r.is_some(), "element {key} names no request: {comment:?}");
            let r = r.unwrap();
            prop_assert!(r.valid() && active(r), "element {key} of {comment}: {r:?}");
            prop_assert_eq!(key.source, r.source, "source of {}", comment);
            prop_assert!(
                r.opens().contains(&(key.proto.nft(), key.port)),
                "{key} is not a port {comment} asked for"
            );
            let end = now + SignedDuration::from_mins(r.start_mins + r.duration_mins);
            let left = (end - after).as_secs();
            let kept = element.expires.unwrap_or(u64::MAX) as i64;
            prop_assert!(
                kept <= left + 1,
                "{key}: the kernel keeps it {kept} s, {comment} has {left} s"
            );
            held.insert((key.source, key.proto.nft(), key.port));
        }
        if all_valid {
            let wanted: BTreeSet<_> = reqs
                .iter()
                .filter(|r| active(r))
                .flat_map(|r| r.opens().into_iter().map(move |(p, n)| (r.source, p, n)))
                .collect();
            prop_assert_eq!(held, wanted);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
