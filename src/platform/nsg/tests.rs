//! Unit tests of `diff`: one per reason, finding and error, over small hand-built policies.

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use crate::live::Live;
use crate::model::{Grant, Policy, Port, Protocol, ProviderConfig, ProviderDecl, Target};
use crate::plan::{compile, diff, Action, ActionReason, FindingKind, Plan, ResourceChange};
use crate::platform::nsg::{self, LiveRule, Rule};

pub(crate) const NSG: &str =
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-a";

pub(crate) fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

pub(crate) fn now() -> Timestamp {
    ts("2026-11-25T14:37:00Z")
}

pub(crate) fn policy(grants: Vec<Grant>) -> Policy {
    Policy {
        providers: vec![ProviderDecl {
            name: "demo".into(),
            config: ProviderConfig::Snapshot {
                path: "live.json".into(),
            },
        }],
        targets: vec![Target {
            name: "web-1".into(),
            provider: "snapshot.demo".into(),
            vm_id: None,
            nsg_id: Some(NSG.into()),
            destination: "10.0.1.4".into(),
            ports: vec![Port {
                name: "ssh".into(),
                number: 22,
                protocol: Protocol::Tcp,
                allowed_sources: vec!["198.51.100.0/24".parse().unwrap()],
                max_duration: SignedDuration::from_hours(3),
            }],
        }],
        grants,
        ..Policy::default()
    }
}

pub(crate) fn grant(id: &str, start: &str, hours: i64) -> Grant {
    Grant {
        id: id.into(),
        target: "web-1".into(),
        ports: vec!["ssh".into()],
        source: "198.51.100.7/32".parse().unwrap(),
        requester: "alice@example.com".into(),
        approvers: vec!["bob@example.com".into()],
        justification: format!("{id} investigate"),
        start: ts(start),
        duration: SignedDuration::from_hours(hours),
    }
}

pub(crate) fn rule(
    name: &str,
    access: &str,
    priority: u16,
    source: &str,
    port: &str,
    desc: Option<&str>,
) -> Rule {
    let mut props = json!({"protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": port,
        "sourceAddressPrefix": source, "destinationAddressPrefix": "10.0.1.4", "access": access,
        "priority": priority, "direction": "Inbound"});
    if let Some(d) = desc {
        props["description"] = json!(d);
    }
    Rule::from_arm(&json!({"name": name, "properties": props})).unwrap()
}

pub(crate) fn deny(priority: u16) -> Rule {
    let mut r = rule(
        "jit-deny-web-1-ssh",
        "Deny",
        priority,
        "*",
        "22",
        Some("managed-by=jit"),
    );
    r.protocol = "Tcp".into();
    r
}

pub(crate) fn live(rules: Vec<Rule>) -> Live {
    let mut live = Live::default();
    live.insert(nsg::scope(
        NSG.into(),
        "nsg-a".into(),
        "etag-1".into(),
        rules
            .into_iter()
            .map(|rule| LiveRule { rule, etag: None })
            .collect(),
    ));
    live
}

/// The rule a change writes.
pub(crate) fn after(change: &ResourceChange) -> Rule {
    Rule::from_resource(change.change.after.as_ref().expect("an after rule")).unwrap()
}

/// The live rule a change replaces or deletes.
pub(crate) fn before(change: &ResourceChange) -> Rule {
    Rule::from_resource(change.change.before.as_ref().expect("a before rule")).unwrap()
}

/// Live state once every change of `plan` is applied, as an NSG provider would leave it.
pub(crate) fn apply_to_live(live: &Live, plan: &Plan) -> Live {
    let mut out = live.clone();
    for change in &plan.resource_changes {
        let Some(scope) = out.scopes.get_mut(&crate::live::scope_key(&change.scope)) else {
            continue;
        };
        let crate::platform::Content::Nsg(rules) = &mut scope.content else {
            continue;
        };
        rules.retain(|r| !r.rule.name.eq_ignore_ascii_case(&change.name));
        if change.change.after.is_some() {
            rules.push(LiveRule {
                rule: after(change),
                etag: None,
            });
        }
    }
    out
}

/// A plan with nothing in it, made at [`now`].
pub(crate) fn empty_plan() -> Plan {
    plan(&Policy::default(), &Live::default())
}

pub(crate) fn plan(policy: &Policy, live: &Live) -> Plan {
    diff(policy, &compile(policy, now()), live, now())
}

fn actions(plan: &Plan) -> Vec<(Action, &str, ActionReason, &str)> {
    plan.resource_changes
        .iter()
        .map(|c| {
            (
                c.action(),
                c.name.as_str(),
                c.action_reason,
                c.reason.as_str(),
            )
        })
        .collect()
}

#[test]
fn empty_nsg_gets_lock_down_and_active_grant() {
    let policy = policy(vec![grant("INC-4211", "2026-11-25T14:00:00Z", 2)]);
    let plan = plan(&policy, &live(vec![]));
    assert_eq!(
        actions(&plan),
        [
            (
                Action::Create,
                "jit-allow-INC-4211-ssh",
                ActionReason::RequestActive,
                "request INC-4211 active until 16:00Z"
            ),
            (
                Action::Create,
                "jit-deny-web-1-ssh",
                ActionReason::LockDown,
                "lock down port ssh of web-1"
            ),
        ]
    );
    let allow = after(&plan.resource_changes[0]);
    assert_eq!(allow.priority, 100);
    assert_eq!(after(&plan.resource_changes[1]).priority, 4000);
    assert_eq!(
        plan.resource_changes[0].address,
        "nsg-a/jit-allow-INC-4211-ssh"
    );
    assert_eq!(plan.resource_changes[0].target.as_deref(), Some("web-1"));
    assert_eq!(
        plan.resource_changes[0].request.as_ref().unwrap().requester,
        "alice@example.com"
    );
    assert_eq!(plan.valid_until, Some(ts("2026-11-25T16:00:00Z")));
    assert_eq!(plan.fingerprints[NSG], "etag-1");
    assert_eq!(plan.created_at, now());
    assert!(plan.errors.is_empty() && plan.findings.is_empty());
}

#[test]
fn matching_live_state_means_no_changes() {
    let policy = policy(vec![]);
    let plan = plan(&policy, &live(vec![deny(4007)]));
    assert!(!plan.has_changes(), "{:?}", actions(&plan));
    assert_eq!(plan.valid_until, None);
}

#[test]
fn drifted_rule_is_updated_and_keeps_its_priority() {
    let policy = policy(vec![]);
    let mut drifted = deny(4010);
    drifted.destination_ports = vec!["2222".into()];
    let plan = plan(&policy, &live(vec![drifted.clone()]));
    assert_eq!(
        actions(&plan),
        [(
            Action::Update,
            "jit-deny-web-1-ssh",
            ActionReason::Drifted,
            "changed outside jit"
        )]
    );
    let change = &plan.resource_changes[0];
    assert_eq!(before(change), drifted);
    let after = after(change);
    assert_eq!(after.priority, 4010);
    assert_eq!(after.destination_ports, ["22"]);
}

#[test]
fn rule_out_of_its_band_moves_into_it() {
    let policy = policy(vec![]);
    let plan = plan(&policy, &live(vec![deny(300)]));
    assert_eq!(plan.resource_changes.len(), 1);
    assert_eq!(plan.resource_changes[0].action(), Action::Update);
    assert_eq!(after(&plan.resource_changes[0]).priority, 4000);
}

#[test]
fn names_match_case_insensitively() {
    let policy = policy(vec![]);
    let mut upper = deny(4000);
    upper.name = "JIT-DENY-WEB-1-SSH".into();
    let plan = plan(&policy, &live(vec![upper]));
    assert!(!plan.has_changes(), "{:?}", actions(&plan));
}

#[test]
fn expired_rule_is_deleted_and_reported_overdue() {
    let policy = policy(vec![grant("INC-1", "2026-11-25T12:25:00Z", 2)]);
    let stale = rule(
        "jit-allow-INC-1-ssh",
        "Allow",
        100,
        "198.51.100.7/32",
        "22",
        Some("managed-by=jit; request=INC-1; expires=2026-11-25T14:25:00Z"),
    );
    let plan = plan(&policy, &live(vec![stale, deny(4000)]));
    assert_eq!(
        actions(&plan),
        [(
            Action::Delete,
            "jit-allow-INC-1-ssh",
            ActionReason::RequestExpired,
            "request expired 12m ago"
        )]
    );
    assert_eq!(
        plan.resource_changes[0].request.as_ref().unwrap().id,
        "INC-1"
    );
    assert_eq!(plan.resource_changes[0].target.as_deref(), Some("web-1"));
    assert_eq!(plan.findings.len(), 1);
    assert_eq!(plan.findings[0].kind, FindingKind::Overdue);
    assert_eq!(
        plan.findings[0].message,
        "rule `jit-allow-INC-1-ssh` of request `INC-1` expired 12m ago and is still open"
    );
}

#[test]
fn rule_of_an_ended_request_is_deleted_as_expired() {
    let policy = policy(vec![grant("INC-1", "2026-11-25T10:00:00Z", 1)]);
    let stale = rule(
        "jit-allow-INC-1-ssh",
        "Allow",
        100,
        "198.51.100.7/32",
        "22",
        Some("managed-by=jit; request=INC-1; expires=2026-11-25T18:00:00Z"),
    );
    let plan = plan(&policy, &live(vec![stale, deny(4000)]));
    assert_eq!(
        actions(&plan),
        [(
            Action::Delete,
            "jit-allow-INC-1-ssh",
            ActionReason::RequestExpired,
            "request INC-1 ended 3h 37m ago"
        )]
    );
}

#[test]
fn unexplained_managed_rule_is_deleted_as_not_in_policy() {
    let policy = policy(vec![]);
    let orphan = rule(
        "jit-deny-old-rdp",
        "Deny",
        4001,
        "*",
        "3389",
        Some("managed-by=jit"),
    );
    let plan = plan(&policy, &live(vec![deny(4000), orphan]));
    assert_eq!(
        actions(&plan),
        [(
            Action::Delete,
            "jit-deny-old-rdp",
            ActionReason::NotInPolicy,
            "not in policy"
        )]
    );
    assert_eq!(plan.resource_changes[0].target.as_deref(), Some("web-1"));
}

#[test]
fn foreign_rules_are_never_changed_even_with_the_prefix() {
    let policy = policy(vec![]);
    let lookalike = rule(
        "jit-allow-by-hand",
        "Allow",
        150,
        "198.51.100.9/32",
        "22",
        None,
    );
    let defender = rule(
        "SecurityCenter-JITRule_1",
        "Allow",
        101,
        "198.51.100.9",
        "22",
        None,
    );
    let plan = plan(&policy, &live(vec![deny(4000), lookalike, defender]));
    assert!(!plan.has_changes(), "{:?}", actions(&plan));
}

#[test]
fn foreign_rule_with_a_managed_name_is_an_error() {
    let policy = policy(vec![]);
    let squatter = rule(
        "jit-deny-web-1-ssh",
        "Deny",
        4000,
        "*",
        "22",
        Some("by hand"),
    );
    let plan = plan(&policy, &live(vec![squatter]));
    assert!(!plan.has_changes());
    assert_eq!(plan.errors.len(), 1);
    assert!(
        plan.errors[0].message.contains("is not managed by jit"),
        "{}",
        plan.errors[0].message
    );
}

#[test]
fn new_rules_take_the_lowest_free_priority_of_their_band() {
    let policy = policy(vec![grant("INC-1", "2026-11-25T14:00:00Z", 2)]);
    let foreign = rule("by-hand", "Allow", 100, "198.51.100.9/32", "22", None);
    let foreign2 = rule("by-hand-2", "Deny", 4000, "*", "80", None);
    let plan = plan(&policy, &live(vec![foreign, foreign2]));
    let priorities: Vec<u16> = plan
        .resource_changes
        .iter()
        .map(|c| after(c).priority)
        .collect();
    assert_eq!(priorities, [101, 4001]);
}

#[test]
fn full_band_is_an_error_and_no_change_for_that_nsg() {
    let mut policy = policy(vec![grant("INC-1", "2026-11-25T14:00:00Z", 2)]);
    policy.settings.allow_priority = crate::model::PriorityBand {
        low: 100,
        high: 101,
    };
    let taken = (100..=101)
        .map(|p| {
            rule(
                &format!("other-{p}"),
                "Allow",
                p,
                "198.51.100.9/32",
                "80",
                None,
            )
        })
        .chain([deny(4000)])
        .collect();
    let plan = plan(&policy, &live(taken));
    assert!(!plan.has_changes());
    assert_eq!(
        plan.errors[0].message,
        "the allow priority band 100-101 of NSG `nsg-a` is full: no free priority for `jit-allow-INC-1-ssh`"
    );
    assert_eq!(plan.fingerprints.len(), 1);
}

#[test]
fn missing_nsg_is_an_error() {
    let policy = policy(vec![]);
    let plan = plan(&policy, &Live::default());
    assert_eq!(plan.errors.len(), 1);
    assert_eq!(plan.errors[0].message, format!("NSG `{NSG}` not found"));
    assert!(plan.fingerprints.is_empty());
}

#[test]
fn exposure_is_found_for_wide_sources_ahead_of_the_lock_down() {
    let policy = policy(vec![]);
    let cases = [
        ("*", "22", 200, true),
        ("Internet", "20-30", 200, true),
        ("0.0.0.0/0", "*", 200, true),
        ("VirtualNetwork", "22", 200, true),
        ("198.51.100.9", "22", 200, false),
        ("198.51.100.0/25", "22", 200, false),
        ("*", "23-30", 200, false),
        ("*", "22", 4001, false),
    ];
    for (source, port, priority, exposed) in cases {
        let open = rule("open", "Allow", priority, source, port, None);
        let plan = plan(&policy, &live(vec![deny(4000), open]));
        let found: Vec<_> = plan
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::Exposure)
            .collect();
        assert_eq!(
            found.len(),
            exposed as usize,
            "{source} {port} {priority}: {found:?}"
        );
    }
    let mut listed = rule("listed", "Allow", 200, "*", "22", None);
    listed.destination_ports = vec!["80".into(), "443".into(), "22".into()];
    listed.sources = vec!["198.51.100.9/32".into(), "203.0.113.0/24".into()];
    let plan = plan(&policy, &live(vec![deny(4000), listed.clone()]));
    assert_eq!(
        plan.findings[0].message,
        "rule `listed` (priority 200) opens port 22 (ssh of web-1) to `203.0.113.0/24` ahead of its lock-down at priority 4000; policy allows only `198.51.100.0/24`"
    );
    listed.protocol = "Udp".into();
    assert!(crate::plan::diff(
        &policy,
        &compile(&policy, now()),
        &live(vec![deny(4000), listed]),
        now()
    )
    .findings
    .is_empty());
}

const ASG: &str =
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/ops-asg";

#[test]
fn application_security_groups_are_exposures_when_they_reach_the_port() {
    let policy = policy(vec![]);
    let exposures = |r: Rule| {
        plan(&policy, &live(vec![deny(4000), r]))
            .findings
            .into_iter()
            .filter(|f| f.kind == FindingKind::Exposure)
            .map(|f| f.message)
            .collect::<Vec<_>>()
    };
    // A source ASG: its members are not bounded by policy.
    let mut from_asg = rule("from-asg", "Allow", 200, "*", "22", None);
    from_asg.sources.clear();
    from_asg.source_asgs = vec![ASG.into()];
    assert_eq!(
        exposures(from_asg.clone()),
        ["rule `from-asg` (priority 200) opens port 22 (ssh of web-1) to application security group `ops-asg` ahead of its lock-down at priority 4000; policy allows only `198.51.100.0/24`"]
    );
    // A destination ASG may hold the target, even when no prefix names it.
    let mut to_asg = rule("to-asg", "Allow", 200, "Internet", "22", None);
    to_asg.destinations.clear();
    to_asg.destination_asgs = vec![ASG.into()];
    assert_eq!(
        exposures(to_asg.clone()),
        ["rule `to-asg` (priority 200) opens port 22 (ssh of web-1) to `Internet` through destination application security group `ops-asg` (it may hold the target) ahead of its lock-down at priority 4000; policy allows only `198.51.100.0/24`"]
    );
    // A destination ASG from an allowed source is no exposure.
    let mut inside = to_asg.clone();
    inside.sources = vec!["198.51.100.0/26".into()];
    assert!(exposures(inside).is_empty());
    // Not the protected port, protocol, or behind the lock-down: no exposure.
    let mut other_port = from_asg.clone();
    other_port.destination_ports = vec!["80".into()];
    assert!(exposures(other_port).is_empty());
    let mut udp = from_asg.clone();
    udp.protocol = "Udp".into();
    assert!(exposures(udp).is_empty());
    let mut behind = to_asg.clone();
    behind.priority = 4001;
    assert!(exposures(behind).is_empty());
    let mut outbound = from_asg;
    outbound.direction = crate::platform::nsg::Direction::Outbound;
    assert!(exposures(outbound).is_empty());
}

#[test]
fn an_accepted_exposure_is_listed_until_it_expires_then_is_a_finding_again() {
    let mut policy = policy(vec![]);
    policy.accepts = vec![crate::model::Accept {
        name: "lb-health-probe".into(),
        nsg_id: NSG.to_uppercase(),
        rule: "ALLOW-LB-PROBE".into(),
        justification: "CHG-88 probes".into(),
        expires: ts("2026-11-25T15:00:00Z"),
        expires_at: Default::default(),
    }];
    let probe = rule("allow-lb-probe", "Allow", 200, "Internet", "22", None);
    let other = rule("other", "Allow", 201, "*", "22", None);
    let live = live(vec![deny(4000), probe, other]);
    let at = |t: &str| diff(&policy, &compile(&policy, ts(t)), &live, ts(t));

    let before = at("2026-11-25T14:59:59Z");
    assert_eq!(before.accepted.len(), 1);
    let accepted = &before.accepted[0];
    assert_eq!(
        (accepted.resource.as_str(), accepted.accept.as_str()),
        ("allow-lb-probe", "lb-health-probe")
    );
    assert_eq!(accepted.kind, FindingKind::Exposure);
    assert!(accepted
        .message
        .starts_with("rule `allow-lb-probe` (priority 200) opens port 22"));
    // Only the rule it names: another exposure in the same NSG is still a finding.
    let rules: Vec<&str> = before
        .findings
        .iter()
        .map(|f| f.resource.as_str())
        .collect();
    assert_eq!(rules, ["other"]);
    assert!(before.has_findings());

    let after = at("2026-11-25T15:00:00Z");
    assert!(after.accepted.is_empty());
    let probe = after
        .findings
        .iter()
        .find(|f| f.resource == "allow-lb-probe")
        .expect("a finding again");
    assert!(
        probe
            .message
            .ends_with("; accept `lb-health-probe` expired at 2026-11-25T15:00:00Z (0s ago)"),
        "{}",
        probe.message
    );
}

#[test]
fn a_grant_rule_wider_than_its_request_says_how() {
    use crate::platform::nsg::findings::wider;
    let g = grant("INC-1", "2026-11-25T14:00:00Z", 2);
    let policy = policy(vec![g.clone()]);
    let target = &policy.targets[0];
    let desired = compile(&policy, now());
    let exact = desired.nsg.nsgs[0]
        .rules
        .iter()
        .find(|d| d.rule.access == crate::platform::nsg::Access::Allow)
        .unwrap()
        .rule
        .clone();
    assert!(wider("jit", &exact, &g, target).is_empty());
    let props = |r: &Rule| {
        wider("jit", r, &g, target)
            .into_iter()
            .map(|w| (w.property, w.live.join(","), w.requested.join(",")))
            .collect::<Vec<_>>()
    };
    let mut r = exact.clone();
    r.sources = vec!["0.0.0.0/0".into()];
    assert_eq!(
        props(&r),
        [("source", "0.0.0.0/0".into(), "198.51.100.7/32".into())]
    );
    let mut r = exact.clone();
    r.sources.clear();
    r.source_asgs = vec![ASG.into()];
    assert_eq!(props(&r)[0].0, "source");
    let mut r = exact.clone();
    r.destination_ports = vec!["20-30".into()];
    assert_eq!(props(&r), [("port", "20-30".into(), "22".into())]);
    let mut r = exact.clone();
    r.protocol = "*".into();
    assert_eq!(props(&r), [("protocol", "*".into(), "Tcp".into())]);
    let mut r = exact.clone();
    r.destinations = vec!["10.0.0.0/16".into()];
    r.protocol = "tcp".into();
    assert_eq!(
        props(&r),
        [("destination", "10.0.0.0/16".into(), "10.0.1.4".into())]
    );
    // Narrower is not wider.
    let mut r = exact;
    r.sources = vec!["198.51.100.7".into()];
    assert!(props(&r).is_empty());
}

#[test]
fn priority_clash_is_reported() {
    let policy = policy(vec![]);
    let a = rule("a", "Allow", 300, "10.0.0.1", "80", None);
    let b = rule("B", "Deny", 300, "10.0.0.2", "81", None);
    let plan = plan(&policy, &live(vec![deny(4000), b, a]));
    assert_eq!(plan.findings.len(), 1);
    assert_eq!(plan.findings[0].kind, FindingKind::PriorityClash);
    assert_eq!(plan.findings[0].resource, "a");
    assert_eq!(
        plan.findings[0].message,
        "rules `a`, `B` share priority 300 (Inbound)"
    );
}

#[test]
fn applying_the_plan_converges() {
    let policy = policy(vec![grant("INC-1", "2026-11-25T14:00:00Z", 2)]);
    let stale = rule(
        "jit-allow-INC-0-ssh",
        "Allow",
        100,
        "198.51.100.7/32",
        "22",
        Some("managed-by=jit; request=INC-0; expires=2026-11-25T14:00:00Z"),
    );
    let before = live(vec![stale, deny(300)]);
    let first = plan(&policy, &before);
    let after = apply_to_live(&before, &first);
    let second = plan(&policy, &after);
    assert!(!second.has_changes(), "{:?}", actions(&second));
    assert_eq!(first.resource_changes.len(), 3, "{:?}", actions(&first));
}

#[test]
fn extended_grant_updates_its_rule_as_request_active() {
    let policy = policy(vec![grant("INC-1", "2026-11-25T14:00:00Z", 3)]);
    let old = rule(
        "jit-allow-INC-1-ssh",
        "Allow",
        100,
        "198.51.100.7/32",
        "22",
        Some("managed-by=jit; request=INC-1; expires=2026-11-25T16:00:00Z"),
    );
    let plan = plan(&policy, &live(vec![old, deny(4000)]));
    assert_eq!(
        actions(&plan),
        [(
            Action::Update,
            "jit-allow-INC-1-ssh",
            ActionReason::RequestActive,
            "request INC-1 active until 17:00Z"
        )]
    );
    assert_eq!(
        plan.resource_changes[0].request.as_ref().unwrap().id,
        "INC-1"
    );
}

#[test]
fn two_rules_with_one_name_are_an_error() {
    let mut policy = policy(vec![]);
    let mut other = policy.targets[0].clone();
    other.name = "web".into();
    other.ports[0].name = "1-ssh".into();
    policy.targets.push(other);
    let plan = plan(&policy, &live(vec![]));
    assert!(!plan.has_changes());
    assert_eq!(
        plan.errors[0].message,
        "two managed rules of NSG `nsg-a` would both be named `jit-deny-web-1-ssh`: rename a target, port or request"
    );
}

#[test]
fn valid_until_is_the_next_grant_boundary() {
    let policy = policy(vec![
        grant("A", "2026-11-25T14:00:00Z", 2),
        grant("B", "2026-11-25T15:00:00Z", 2),
        grant("C", "2026-11-25T10:00:00Z", 1),
    ]);
    let plan = plan(&policy, &live(vec![]));
    assert_eq!(plan.valid_until, Some(ts("2026-11-25T15:00:00Z")));
}

#[test]
fn a_grant_open_to_any_source_is_a_warning_and_a_plain_one_is_not() {
    let mut open = grant("INC-9", "2026-11-25T14:00:00Z", 2);
    open.source = "0.0.0.0/0".parse().unwrap();
    let plain = grant("INC-1", "2026-11-25T14:00:00Z", 2);
    let mut ended = grant("INC-8", "2026-11-25T10:00:00Z", 1);
    ended.source = "::/0".parse().unwrap();
    let policy = policy(vec![open, plain, ended]);
    let p = plan(&policy, &live(vec![]));
    assert_eq!(p.warnings.len(), 1, "{:#?}", p.warnings);
    let w = &p.warnings[0];
    assert_eq!(w.code, crate::lang::codes::GRANT_ANY_SOURCE);
    assert_eq!(w.resource, "jit-allow-INC-9-ssh");
    assert_eq!(
        w.message,
        "request `INC-9` opens port `ssh` of target `web-1` to any source (`0.0.0.0/0`) until 2026-11-25T16:00:00Z"
    );
    // Warned about in every plan while it is active, with or without changes.
    let after = apply_to_live(&live(vec![]), &p);
    let again = plan(&policy, &after);
    assert!(
        again.resource_changes.is_empty(),
        "{:#?}",
        again.resource_changes
    );
    assert_eq!(again.warnings, p.warnings);
}

#[test]
fn a_squatter_blocks_only_its_own_name() {
    let policy = policy(vec![grant("INC-1", "2026-11-25T14:00:00Z", 2)]);
    let squatter = rule(
        "jit-deny-web-1-ssh",
        "Deny",
        4000,
        "*",
        "22",
        Some("by hand"),
    );
    let plan = plan(&policy, &live(vec![squatter]));
    assert_eq!(plan.errors.len(), 1);
    assert_eq!(plan.errors[0].scope.as_deref(), Some(NSG));
    let names: Vec<(Action, &str)> = plan
        .resource_changes
        .iter()
        .map(|c| (c.action(), c.name.as_str()))
        .collect();
    assert_eq!(names, [(Action::Create, "jit-allow-INC-1-ssh")]);
}

#[test]
fn a_full_allow_band_still_creates_the_lock_down_and_deletes() {
    let mut policy = policy(vec![grant("INC-1", "2026-11-25T14:00:00Z", 2)]);
    policy.settings.allow_priority = crate::model::PriorityBand {
        low: 100,
        high: 100,
    };
    let expired = rule(
        "jit-allow-OLD-ssh",
        "Allow",
        100,
        "198.51.100.9/32",
        "22",
        Some("managed-by=jit; request=OLD; expires=2026-11-25T10:00:00Z"),
    );
    let plan = plan(&policy, &live(vec![expired]));
    assert_eq!(plan.errors.len(), 1, "{:?}", plan.errors);
    assert!(plan.errors[0]
        .message
        .contains("allow priority band 100-100"));
    let mut names: Vec<(Action, &str)> = plan
        .resource_changes
        .iter()
        .map(|c| (c.action(), c.name.as_str()))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            (Action::Create, "jit-deny-web-1-ssh"),
            (Action::Delete, "jit-allow-OLD-ssh")
        ]
    );
}

#[test]
fn an_nsg_that_could_not_be_read_says_why() {
    let policy = policy(vec![]);
    let mut unreadable = Live::default();
    unreadable
        .failed
        .insert(crate::live::scope_key(NSG), "access denied".to_string());
    let plan = plan(&policy, &unreadable);
    assert_eq!(
        plan.errors[0].message,
        "cannot read NSG `nsg-a`: access denied"
    );
    assert!(!plan.has_changes());
}
