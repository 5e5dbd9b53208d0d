//! Property tests: compile → diff → apply through the real snapshot provider (a JSON file in a
//! temporary directory, written and read back by `SnapshotProvider`) over generated policies,
//! grants, clocks and live NSGs (foreign rules, look-alikes with the jit prefix but no marker,
//! managed rules left by an earlier plan, drifted and stale ones). The provider conformance
//! suite (tests/conformance/) proves the same kind of invariants for every provider.
//!
//! Invariants: no allow rule wider than its grant and the policy; foreign rules never in an
//! action and untouched by apply; a plan applied then re-planned at the same instant has no
//! changes (for an NSG in error, after one more apply); plans and their renderings are
//! deterministic; existing managed rules keep their priority; no two rules of a direction
//! share a priority after apply unless foreign rules already did.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use jit::live::{scope_key, Live};
use jit::model::{
    Grant, Policy, Port, PriorityBand, Protocol, ProviderConfig, ProviderDecl, Settings, Target,
};
use jit::plan::{compile, diff, Action, Plan};
use jit::platform::nsg::{self, Access, Direction, LiveRule, Rule};
use jit::platform::Content;
use jit::providers::snapshot::SnapshotProvider;
use jit::providers::{Batch, Provider};
use jit::render::{json, text};
use jit::resource::Resource;

const NSGS: [&str; 2] = [
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-a",
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-b",
];
const PORTS: [(&str, u16); 4] = [("ssh", 22), ("rdp", 3389), ("winrm", 5985), ("dns", 53)];
const ALLOWED: [&str; 4] = [
    "198.51.100.0/24",
    "203.0.113.0/25",
    "2001:db8::/48",
    "10.0.0.0/8",
];
/// `asg:` stands for a source application security group instead of a prefix.
const FOREIGN_SOURCES: [&str; 8] = [
    "*",
    "Internet",
    "0.0.0.0/0",
    "198.51.100.9/32",
    "10.1.2.3",
    "2001:db8::/64",
    "VirtualNetwork",
    "asg:ops",
];
const ASG: &str =
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/ops";
const FOREIGN_PORTS: [&str; 5] = ["*", "22", "20-30", "3389", "80"];
const FOREIGN_NAMES: [&str; 7] = [
    "AllowSSH",
    "SecurityCenter-JITRule_1",
    "jit-allow-by-hand",
    "JIT-deny-x-ssh",
    "rule1",
    "allow-rdp",
    "jit-allow-G0-ssh",
];

fn base() -> Timestamp {
    "2026-11-25T14:00:00Z".parse().unwrap()
}

fn minutes(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

/// A port: (kind in `PORTS`, protocol, bitmask over `ALLOWED`).
type PortSpec = (usize, usize, u8);
/// A target: (NSG index, destination index, ports).
type TargetSpec = (usize, usize, Vec<PortSpec>);
/// A foreign rule: (NSG, name, inbound?, allow?, (priority region, raw priority), source,
/// destination ports, protocol).
type ForeignSpec = (usize, usize, bool, bool, (u8, u16), usize, usize, usize);

/// Raw generated data; `build` turns it into a valid policy and a live state.
#[derive(Debug, Clone)]
struct Spec {
    allow_width: u16,
    deny_width: u16,
    targets: Vec<TargetSpec>,
    grants: Vec<(usize, usize, usize, bool, i64, i64)>,
    clock: i64,
    history: i64,
    foreign: Vec<ForeignSpec>,
    drifts: Vec<(usize, usize, u8, u16)>,
    stale: Vec<(usize, i64, u16)>,
}

fn spec() -> impl Strategy<Value = Spec> {
    let port = (0..4usize, 0..3usize, 0..16u8);
    let target = (0..2usize, 0..3usize, prop::collection::vec(port, 1..4));
    let grant = (
        0..8usize,
        0..8usize,
        0..8usize,
        any::<bool>(),
        -240..240i64,
        5..180i64,
    );
    let foreign = (
        0..2usize,
        0..7usize,
        any::<bool>(),
        any::<bool>(),
        (0..3u8, 0..4000u16),
        0..8usize,
        0..6usize,
        0..3usize,
    );
    (
        1..12u16,
        1..12u16,
        prop::collection::vec(target, 1..4),
        prop::collection::vec(grant, 0..6),
        0..600i64,
        0..600i64,
        prop::collection::vec(foreign, 0..8),
        prop::collection::vec((0..2usize, 0..8usize, 0..6u8, 0..4096u16), 0..4),
        prop::collection::vec((0..2usize, -300..300i64, 0..4096u16), 0..3),
    )
        .prop_map(
            |(allow_width, deny_width, targets, grants, clock, history, foreign, drifts, stale)| {
                Spec {
                    allow_width,
                    deny_width,
                    targets,
                    grants,
                    clock,
                    history,
                    foreign,
                    drifts,
                    stale,
                }
            },
        )
}

struct Scenario {
    policy: Policy,
    live: Live,
    now: Timestamp,
}

fn protocol(i: usize) -> Protocol {
    [Protocol::Tcp, Protocol::Udp, Protocol::Any][i % 3]
}

fn build_policy(spec: &Spec) -> Policy {
    let targets: Vec<Target> = spec
        .targets
        .iter()
        .enumerate()
        .map(|(i, (nsg, dest, ports))| {
            let mut seen = BTreeSet::new();
            let ports = ports
                .iter()
                .filter(|(kind, _, _)| seen.insert(*kind))
                .map(|&(kind, proto, mask)| Port {
                    name: PORTS[kind].0.into(),
                    number: PORTS[kind].1,
                    protocol: protocol(proto),
                    allowed_sources: (0..4)
                        .filter(|b| mask & (1 << b) != 0)
                        .map(|b| ALLOWED[b].parse().unwrap())
                        .collect(),
                    max_duration: SignedDuration::from_hours(3),
                })
                .collect();
            Target {
                name: format!("t{i}"),
                provider: "snapshot.demo".into(),
                vm_id: None,
                nsg_id: Some(NSGS[*nsg].into()),
                destination: ["*", "10.0.1.4", "10.0.2.0/24"][*dest].into(),
                ports,
            }
        })
        .collect();
    let mut grants = Vec::new();
    for (i, &(t, p, s, host, start, duration)) in spec.grants.iter().enumerate() {
        let target = &targets[t % targets.len()];
        let open: Vec<&Port> = target
            .ports
            .iter()
            .filter(|p| !p.allowed_sources.is_empty())
            .collect();
        if open.is_empty() {
            continue;
        }
        let first = open[p % open.len()];
        let allowed = first.allowed_sources[s % first.allowed_sources.len()];
        let source = if host {
            IpNet::from(allowed.network())
        } else {
            allowed
        };
        let ports = target
            .ports
            .iter()
            .filter(|p| p.allowed_sources.iter().any(|a| a.contains(&source)))
            .map(|p| p.name.clone())
            .collect();
        let id = match i % 3 {
            0 => format!("G{i}"),
            1 => format!("chg {i}/weird;id"),
            _ => format!("INC-{i}-{}", "long".repeat(20)),
        };
        grants.push(Grant {
            id,
            target: target.name.clone(),
            ports,
            source,
            requester: "alice@example.com".into(),
            approvers: vec!["bob@example.com".into()],
            justification: format!("INC-{i}"),
            start: base() + minutes(start),
            duration: minutes(duration),
        });
    }
    Policy {
        settings: Settings {
            allow_priority: PriorityBand {
                low: 100,
                high: 100 + spec.allow_width,
            },
            deny_priority: PriorityBand {
                low: 4000,
                high: 4000 + spec.deny_width,
            },
            ..Settings::default()
        },
        providers: vec![ProviderDecl {
            name: "demo".into(),
            config: ProviderConfig::Snapshot {
                path: "live.json".into(),
            },
        }],
        targets,
        grants,
        ..Policy::default()
    }
}

/// A priority likely to collide: mostly in or near the default bands.
fn near_bands(value: u16) -> u16 {
    match value % 3 {
        0 => 100 + value / 3 % 14,
        1 => 4000 + value / 3 % 14,
        _ => 100 + value % 3997,
    }
}

fn has_name(rules: &[LiveRule], name: &str) -> bool {
    rules.iter().any(|r| r.rule.name.eq_ignore_ascii_case(name))
}

/// The rules of NSG `id` in `live`.
fn rules_of<'a>(live: &'a Live, id: &str) -> &'a [LiveRule] {
    nsg::rules(live.scope(id).expect("the NSG is in live state"))
}

fn rules_mut<'a>(live: &'a mut Live, id: &str) -> &'a mut Vec<LiveRule> {
    let scope = live
        .scopes
        .get_mut(&scope_key(id))
        .expect("the NSG is in live state");
    match &mut scope.content {
        Content::Nsg(rules) => rules,
        other => panic!("not an NSG: {other:?}"),
    }
}

fn rule(resource: &Resource) -> Rule {
    Rule::from_resource(resource).expect("a security rule")
}

/// `live` after applying `plan` through the snapshot provider: the NSGs written to a snapshot
/// file (raw ARM shape, each NSG's fingerprint as its etag), the plan's changes applied by
/// `SnapshotProvider::apply` with the plan's fingerprints, and the file read back.
fn through_snapshot(live: &Live, plan: &Plan) -> Live {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nsgs.json");
    let nsgs: Vec<serde_json::Value> = live
        .scopes
        .values()
        .map(|scope| {
            let rules: Vec<serde_json::Value> =
                nsg::rules(scope).iter().map(|r| r.rule.to_arm()).collect();
            serde_json::json!({
                "id": scope.id, "name": scope.name, "etag": scope.fingerprint,
                "type": "Microsoft.Network/networkSecurityGroups",
                "properties": {"securityRules": rules},
            })
        })
        .collect();
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(&serde_json::json!({"value": nsgs})).unwrap(),
    )
    .unwrap();
    let provider = SnapshotProvider::new("snapshot.demo", &path);
    let batch = Batch {
        changes: &plan.resource_changes,
        fingerprints: &plan.fingerprints,
        now: Timestamp::now(),
        read_at: None,
    };
    let outcomes = provider
        .apply(batch, &|_| {})
        .expect("the batch is accepted");
    assert!(
        outcomes
            .iter()
            .all(|o| *o == jit::providers::Outcome::Applied),
        "{outcomes:?}"
    );
    let ids: Vec<String> = live.scopes.values().map(|s| s.id.clone()).collect();
    provider.read(&ids).expect("the snapshot reads back")
}

fn build(spec: &Spec) -> Scenario {
    let policy = build_policy(spec);
    let now = base() + SignedDuration::from_secs(spec.clock * 60 + 7);
    let mut live = Live::default();
    for id in NSGS {
        live.insert(nsg::scope(
            id.into(),
            jit::live::name_from_id(id).into(),
            format!("etag-{}", jit::live::name_from_id(id)),
            Vec::new(),
        ));
    }
    for &(nsg, name, inbound, allow, (region, x), src, port, proto) in &spec.foreign {
        let nsg = rules_mut(&mut live, NSGS[nsg]);
        if has_name(nsg, FOREIGN_NAMES[name]) {
            continue;
        }
        let priority = match region {
            0 => 100 + x % 14,
            1 => 4000 + x % 14,
            _ => 100 + x % 3997,
        };
        let ports = if port == 5 {
            vec!["22".to_string(), "3389".to_string()]
        } else {
            vec![FOREIGN_PORTS[port].to_string()]
        };
        let rule = Rule {
            name: FOREIGN_NAMES[name].into(),
            priority,
            direction: if inbound {
                Direction::Inbound
            } else {
                Direction::Outbound
            },
            access: if allow { Access::Allow } else { Access::Deny },
            protocol: ["Tcp", "Udp", "*"][proto].into(),
            sources: match FOREIGN_SOURCES[src] {
                asg if asg.starts_with("asg:") => vec![],
                prefix => vec![prefix.into()],
            },
            source_ports: vec!["*".into()],
            destinations: vec!["*".into()],
            destination_ports: ports,
            source_asgs: match FOREIGN_SOURCES[src] {
                asg if asg.starts_with("asg:") => vec![ASG.into()],
                _ => vec![],
            },
            destination_asgs: vec![],
            description: (name % 2 == 0).then(|| "made by hand".to_string()),
        };
        nsg.push(LiveRule { rule, etag: None });
    }
    // Managed rules an earlier run left behind.
    let earlier = now - minutes(spec.history);
    let first = diff(&policy, &compile(&policy, earlier), &live, earlier);
    live = through_snapshot(&live, &first);
    for &(nsg, index, kind, value) in &spec.drifts {
        let nsg = rules_mut(&mut live, NSGS[nsg]);
        let managed: Vec<usize> = (0..nsg.len())
            .filter(|&i| nsg[i].rule.is_managed("jit"))
            .collect();
        if managed.is_empty() {
            continue;
        }
        let rule = &mut nsg[managed[index % managed.len()]].rule;
        match kind {
            0 => rule.sources = vec!["*".into()],
            1 => rule.priority = near_bands(value),
            2 => rule.direction = Direction::Outbound,
            3 => rule.protocol = rule.protocol.to_uppercase(),
            4 => rule.destination_asgs = vec![ASG.into()],
            _ => rule.name = rule.name.to_uppercase(),
        }
    }
    for (i, &(nsg, expires, priority)) in spec.stale.iter().enumerate() {
        let nsg = rules_mut(&mut live, NSGS[nsg]);
        let name = format!("jit-allow-OLD-{i}-ssh");
        let expires = now + minutes(expires);
        let rule = Rule {
            name: name.clone(),
            priority: near_bands(priority),
            direction: Direction::Inbound,
            access: Access::Allow,
            protocol: "Tcp".into(),
            sources: vec!["198.51.100.1/32".into()],
            source_ports: vec!["*".into()],
            destinations: vec!["*".into()],
            destination_ports: vec!["22".into()],
            source_asgs: vec![],
            destination_asgs: vec![],
            description: Some(format!(
                "managed-by=jit; request=OLD-{i}; expires={expires}"
            )),
        };
        nsg.push(LiveRule { rule, etag: None });
    }
    Scenario { policy, live, now }
}

fn plan_of(s: &Scenario, live: &Live) -> Plan {
    diff(&s.policy, &compile(&s.policy, s.now), live, s.now)
}

fn foreign_rules(live: &Live) -> BTreeMap<String, Vec<Rule>> {
    live.scopes
        .iter()
        .map(|(key, scope)| {
            let rules = nsg::rules(scope)
                .iter()
                .filter(|r| !r.rule.is_managed("jit"))
                .map(|r| r.rule.clone())
                .collect();
            (key.clone(), rules)
        })
        .collect()
}

fn errored(plan: &Plan) -> BTreeSet<String> {
    plan.errors
        .iter()
        .filter_map(|e| e.scope.as_deref())
        .map(scope_key)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn allow_rules_stay_within_grant_and_policy(spec in spec()) {
        let s = build(&spec);
        let plan = plan_of(&s, &s.live);
        let settings = &s.policy.settings;
        for change in &plan.resource_changes {
            let Some(after) = change.change.after.as_ref().map(rule) else { continue };
            let target = s.policy.target(change.target.as_deref().unwrap()).unwrap();
            prop_assert_eq!(&after.destinations, &vec![target.destination.clone()]);
            prop_assert_eq!(after.direction, Direction::Inbound);
            prop_assert_eq!(&after.source_ports, &vec!["*".to_string()]);
            // Application security groups are never bounded by policy: jit never writes one.
            prop_assert!(after.source_asgs.is_empty() && after.destination_asgs.is_empty());
            let port = target
                .ports
                .iter()
                .find(|p| after.destination_ports == vec![p.number.to_string()])
                .expect("a port of the target");
            prop_assert_eq!(&after.protocol, port.protocol.arm());
            prop_assert!(after.description.as_ref().unwrap().len() <= 140);
            prop_assert!(nsg::names::is_legal_rule_name(&after.name));
            if after.access == Access::Deny {
                prop_assert_eq!(&after.sources, &vec!["*".to_string()]);
                prop_assert!(settings.deny_priority.contains(after.priority));
                continue;
            }
            prop_assert!(settings.allow_priority.contains(after.priority));
            let info = change.request.as_ref().expect("allow rules carry their request");
            let grant = s.policy.grants.iter().find(|g| g.id == info.id).unwrap();
            prop_assert!(grant.is_active(s.now));
            prop_assert_eq!(&grant.target, &target.name);
            prop_assert!(grant.ports.contains(&port.name));
            prop_assert_eq!(&after.sources, &vec![grant.source.to_string()]);
            let source: IpNet = after.sources[0].parse().unwrap();
            prop_assert!(port.allowed_sources.iter().any(|a| a.contains(&source)));
            let expires = grant.end().to_string();
            prop_assert_eq!(after.description_field("expires"), Some(expires.as_str()));
        }
    }

    #[test]
    fn foreign_rules_are_never_touched(spec in spec()) {
        let s = build(&spec);
        let plan = plan_of(&s, &s.live);
        for change in &plan.resource_changes {
            let nsg = rules_of(&s.live, &change.scope);
            let foreign = nsg.iter().any(|r| {
                !r.rule.is_managed("jit") && r.rule.name.eq_ignore_ascii_case(&change.name)
            });
            prop_assert!(!foreign, "{} is foreign", change.address);
            if let Some(before) = &change.change.before {
                prop_assert!(rule(before).is_managed("jit"));
            }
        }
        let after = through_snapshot(&s.live, &plan);
        prop_assert_eq!(foreign_rules(&after), foreign_rules(&s.live));
    }

    #[test]
    fn applying_then_planning_again_gives_no_changes(spec in spec()) {
        let s = build(&spec);
        let plan = plan_of(&s, &s.live);
        let after = through_snapshot(&s.live, &plan);
        let again = plan_of(&s, &after);
        // An NSG without errors converges in one apply.
        let pending: Vec<_> = again
            .resource_changes
            .iter()
            .filter(|c| !errored(&plan).contains(&scope_key(&c.scope)))
            .map(|c| (&c.address, &c.reason))
            .collect();
        prop_assert!(pending.is_empty(), "second plan: {:#?}", pending);
        // An NSG in error is still planned as far as it can be. Applying that may clear the
        // error or let a rule in (a rule deleted frees a priority the plan could not reuse),
        // so it converges in one more apply, and never gains an error.
        let after = through_snapshot(&after, &again);
        let last = plan_of(&s, &after);
        prop_assert!(
            !last.has_changes(),
            "third plan: {:#?}",
            last.resource_changes.iter().map(|c| (&c.address, &c.reason)).collect::<Vec<_>>()
        );
        prop_assert!(errored(&again).is_subset(&errored(&plan)));
        prop_assert!(errored(&last).is_subset(&errored(&again)));
        // Every managed rule left is one the policy wants (in NSGs that could be planned).
        let desired = compile(&s.policy, s.now);
        for nsg in &desired.nsg.nsgs {
            if errored(&last).contains(&scope_key(&nsg.nsg_id)) {
                continue;
            }
            let wanted: BTreeSet<String> =
                nsg.rules.iter().map(|r| r.rule.name.to_ascii_lowercase()).collect();
            let managed: BTreeSet<String> = rules_of(&after, &nsg.nsg_id)
                .iter()
                .filter(|r| r.rule.is_managed("jit"))
                .map(|r| r.rule.name.to_ascii_lowercase())
                .collect();
            prop_assert_eq!(managed, wanted);
        }
    }

    #[test]
    fn plans_and_renderings_are_deterministic(spec in spec(), seed in any::<u64>()) {
        let s = build(&spec);
        let render = |plan: &Plan| {
            let (mut j, mut t) = (Vec::new(), Vec::new());
            json::render(plan, &mut j).unwrap();
            text::render(plan, false, &mut t).unwrap();
            (j, t)
        };
        let one = render(&plan_of(&s, &s.live));
        let two = render(&plan_of(&s, &s.live));
        prop_assert_eq!(&one, &two);
        // The order rules are listed in live state does not matter either.
        let mut shuffled = s.live.clone();
        for scope in shuffled.scopes.values_mut() {
            let Content::Nsg(rules) = &mut scope.content else {
                continue;
            };
            let n = rules.len();
            if n > 1 {
                rules.rotate_left((seed as usize) % n);
                rules.swap(0, (seed as usize / 7) % n);
            }
        }
        prop_assert_eq!(&render(&plan_of(&s, &shuffled)), &one);
        let read_back: Plan =
            jit::plan::terraform::from_document(serde_json::from_slice(&one.0).unwrap()).unwrap();
        prop_assert_eq!(read_back, plan_of(&s, &s.live));
    }

    #[test]
    fn priorities_are_stable_and_unique(spec in spec()) {
        let s = build(&spec);
        let plan = plan_of(&s, &s.live);
        let settings = &s.policy.settings;
        for change in &plan.resource_changes {
            let (Some(before), Some(after)) = (&change.change.before, &change.change.after) else {
                continue;
            };
            let (before, after) = (rule(before), rule(after));
            let band = if after.access == Access::Allow {
                settings.allow_priority
            } else {
                settings.deny_priority
            };
            let alone = rules_of(&s.live, &change.scope)
                .iter()
                .filter(|r| r.rule.direction == before.direction && r.rule.priority == before.priority)
                .count()
                == 1;
            if band.contains(before.priority) && alone && before.direction == after.direction {
                prop_assert_eq!(after.priority, before.priority, "{}", change.address);
            }
        }
        let after = through_snapshot(&s.live, &plan);
        // Only NSGs the policy names are planned; the others are left as they are.
        let planned: BTreeSet<String> =
            compile(&s.policy, s.now).scopes().iter().map(|(_, id)| scope_key(id)).collect();
        for (key, scope) in &after.scopes {
            if errored(&plan).contains(key) || !planned.contains(key) {
                continue;
            }
            let mut slots: BTreeMap<(Direction, u16), Vec<&Rule>> = BTreeMap::new();
            for r in nsg::rules(scope) {
                slots.entry((r.rule.direction, r.rule.priority)).or_default().push(&r.rule);
            }
            for rules in slots.values().filter(|r| r.len() > 1) {
                prop_assert!(
                    rules.iter().all(|r| !r.is_managed("jit")),
                    "managed rule in a clash: {:?}",
                    rules.iter().map(|r| &r.name).collect::<Vec<_>>()
                );
            }
        }
        // Unchanged managed rules keep their priority: apply only touches rules in the plan.
        let touched: BTreeSet<String> =
            plan.resource_changes.iter().map(|c| c.name.to_ascii_lowercase()).collect();
        for (key, scope) in &s.live.scopes {
            for r in nsg::rules(scope).iter().filter(|r| !touched.contains(&r.rule.name.to_ascii_lowercase())) {
                let kept = rules_of(&after, key).iter().find(|a| a.rule.name == r.rule.name);
                prop_assert_eq!(kept.map(|a| a.rule.priority), Some(r.rule.priority));
            }
        }
        prop_assert!(plan.resource_changes.iter().all(|c| c.action() != Action::Update
            || c.change.before.is_some()));
    }
}

/// The core stays pure: no I/O crates, no files, no processes, no clock.
#[test]
fn core_modules_do_no_io_and_read_no_clock() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![
        root.join("duration.rs"),
        root.join("resource.rs"),
        root.join("live.rs"),
    ];
    let mut dirs: Vec<std::path::PathBuf> = ["plan", "platform", "render", "approval", "lang"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for forbidden in [
            "reqwest",
            "tokio",
            "std::fs",
            "std::process",
            "std::net::Tcp",
            "Timestamp::now",
            "SystemTime",
            "Zoned::now",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} uses `{forbidden}`",
                file.display()
            );
        }
    }
}
