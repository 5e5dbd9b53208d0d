//! Pure: findings about live state that no action fixes, reported with the plan (DESIGN §5):
//! exposure (a foreign Inbound Allow ahead of a lock-down that opens a protected port wider than
//! policy allows), overdue (a managed allow whose `expires` has passed) and priority clash (two
//! live rules with the same direction and priority). An `accept` block moves an exposure of the
//! foreign rule it names to the plan's accepted list until it expires. [`wider`] compares a
//! grant's live allow rule with its request, for `jit status`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use jiff::Timestamp;

use super::rule::{Access, Direction, Rule};
use super::LiveNsg;
use crate::live::{name_from_id, scope_key};
use crate::model::{Accept, Grant, Port, Protocol, Target};
use crate::plan::{AcceptedFinding, Finding, FindingKind};
use crate::platform::grants::Widening;

/// A protected port of a target and the priority its lock-down deny has (or will have).
#[derive(Debug, Clone, Copy)]
pub struct Guard<'a> {
    pub target: &'a Target,
    pub port: &'a Port,
    pub priority: u16,
}

/// Every finding for one NSG; `nsg_id` as the policy spells it.
pub fn for_nsg(
    prefix: &str,
    nsg_id: &str,
    live: &LiveNsg<'_>,
    guards: &[Guard<'_>],
    now: Timestamp,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let finding = |kind, rule: &str, message: String| Finding {
        kind,
        scope: nsg_id.to_string(),
        resource: rule.to_string(),
        message,
    };
    for live_rule in live.rules {
        let rule = &live_rule.rule;
        if rule.is_managed(prefix) {
            if let Some(expired) = overdue_since(rule, now) {
                let request = rule.description_field("request").unwrap_or("?");
                out.push(finding(
                    FindingKind::Overdue,
                    &rule.name,
                    format!(
                        "rule `{}` of request `{request}` expired {} ago and is still open",
                        rule.name,
                        crate::duration::span(now.duration_since(expired))
                    ),
                ));
            }
            continue;
        }
        for guard in guards {
            if let Some(wider) = exposes(rule, guard) {
                out.push(finding(
                    FindingKind::Exposure,
                    &rule.name,
                    exposure_message(rule, guard, &wider),
                ));
            }
        }
    }
    let mut by_slot: BTreeMap<(Direction, u16), Vec<&str>> = BTreeMap::new();
    for r in live.rules {
        by_slot
            .entry((r.rule.direction, r.rule.priority))
            .or_default()
            .push(&r.rule.name);
    }
    for ((direction, priority), mut names) in by_slot {
        if names.len() < 2 {
            continue;
        }
        names.sort_by(|a, b| crate::resource::name_order(a, b));
        let list = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(finding(
            FindingKind::PriorityClash,
            names[0],
            format!("rules {list} share priority {priority} ({direction})"),
        ));
    }
    out
}

/// Deterministic order: kind, NSG, rule, message.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (
            a.kind,
            scope_key(&a.scope),
            a.resource.to_ascii_lowercase(),
            &a.message,
        )
            .cmp(&(
                b.kind,
                scope_key(&b.scope),
                b.resource.to_ascii_lowercase(),
                &b.message,
            ))
    });
}

/// Splits `findings` into those that need attention and those an `accept` covers: an
/// exposure of the rule and NSG an accept names, while `now` is before its `expires`. An
/// exposure whose accept has expired stays a finding and says so. Order is kept.
pub fn accept(
    findings: Vec<Finding>,
    accepts: &[Accept],
    now: Timestamp,
) -> (Vec<Finding>, Vec<AcceptedFinding>) {
    let mut open = Vec::with_capacity(findings.len());
    let mut accepted = Vec::new();
    for mut finding in findings {
        let by = (finding.kind == FindingKind::Exposure)
            .then(|| {
                accepts.iter().find(|a| {
                    scope_key(&a.nsg_id) == scope_key(&finding.scope)
                        && a.rule.eq_ignore_ascii_case(&finding.resource)
                })
            })
            .flatten();
        match by {
            Some(a) if now < a.expires => accepted.push(AcceptedFinding {
                kind: finding.kind,
                scope: finding.scope,
                resource: finding.resource,
                message: finding.message,
                accept: a.name.clone(),
                justification: a.justification.clone(),
                expires: a.expires,
            }),
            Some(a) => {
                finding.message.push_str(&format!(
                    "; accept `{}` expired at {} ({} ago)",
                    a.name,
                    a.expires,
                    crate::duration::span(now.duration_since(a.expires))
                ));
                open.push(finding);
            }
            None => open.push(finding),
        }
    }
    (open, accepted)
}

/// How the managed allow rule `rule` of `grant` is wider than the request: a source outside
/// the request's source (or a source application security group), a port other than the
/// requested one (or a range), a protocol beyond the port's, a destination outside the
/// target's (or a destination application security group, unless the target's is `*`).
/// Empty when the rule is no wider; narrower is not reported.
pub fn wider(prefix: &str, rule: &Rule, grant: &Grant, target: &Target) -> Vec<Widening> {
    let ports: Vec<&Port> = grant
        .ports
        .iter()
        .filter_map(|name| target.port(name))
        .collect();
    // The port this rule serves: by name as compiled, else by number.
    let port = ports
        .iter()
        .find(|p| {
            super::names::allow_rule_name(prefix, &grant.id, &p.name)
                .eq_ignore_ascii_case(&rule.name)
        })
        .or_else(|| {
            ports.iter().find(|p| {
                rule.destination_ports
                    .iter()
                    .any(|r| r.trim() == p.number.to_string())
            })
        })
        .copied();
    let mut out = Vec::new();
    let mut push = |property, live: Vec<String>, requested: Vec<String>| {
        out.push(Widening {
            property,
            live,
            requested,
        })
    };
    let source = grant.source;
    let sources_ok = rule.source_asgs.is_empty()
        && rule
            .sources
            .iter()
            .all(|s| parse_prefix(s).is_some_and(|net| source.contains(&net)));
    if !sources_ok {
        let mut live = rule.sources.clone();
        live.extend(rule.source_asgs.iter().cloned());
        push("source", live, vec![source.to_string()]);
    }
    let numbers: Vec<String> = match port {
        Some(p) => vec![p.number.to_string()],
        None => ports.iter().map(|p| p.number.to_string()).collect(),
    };
    if !rule
        .destination_ports
        .iter()
        .all(|r| numbers.iter().any(|n| n == r.trim()))
    {
        push("port", rule.destination_ports.clone(), numbers);
    }
    let protocols: Vec<Protocol> = match port {
        Some(p) => vec![p.protocol],
        None => ports.iter().map(|p| p.protocol).collect(),
    };
    let live = rule.protocol.trim();
    let protocol_ok = protocols.iter().any(|p| match p {
        Protocol::Any => true,
        p => live.eq_ignore_ascii_case(p.arm()),
    });
    if !protocol_ok {
        push(
            "protocol",
            vec![rule.protocol.clone()],
            protocols.iter().map(|p| p.arm().to_string()).collect(),
        );
    }
    let dest = target.destination.trim();
    let any = dest == "*";
    let destinations_ok = any
        || (rule.destination_asgs.is_empty()
            && match parse_prefix(dest) {
                Some(allowed) => rule
                    .destinations
                    .iter()
                    .all(|d| parse_prefix(d).is_some_and(|net| allowed.contains(&net))),
                None => rule.destinations.iter().all(|d| d.trim() == dest),
            });
    if !destinations_ok {
        let mut live = rule.destinations.clone();
        live.extend(rule.destination_asgs.iter().cloned());
        push("destination", live, vec![target.destination.clone()]);
    }
    out
}

/// When a managed allow rule's `expires` lies at or before `now` (the grant is no longer
/// active at its end instant), that instant.
pub fn overdue_since(rule: &Rule, now: Timestamp) -> Option<Timestamp> {
    if rule.access != Access::Allow {
        return None;
    }
    let expires: Timestamp = rule.description_field("expires")?.parse().ok()?;
    (expires <= now).then_some(expires)
}

/// The sources of `rule` wider than policy allows, when `rule` is an Inbound Allow ahead of
/// `guard`'s lock-down that reaches its port.
///
/// Deliberately conservative: destinations that are `*` or service tags are taken to reach the
/// target, and a foreign deny that might shadow the allow is not looked at, so a finding errs
/// on the side of a warning. Application security groups are never bounded by policy: a
/// destination ASG may hold the target, and a source ASG admits whatever machines join it,
/// so each source ASG is a source wider than policy (given as its resource id).
pub fn exposes(rule: &Rule, guard: &Guard<'_>) -> Option<Vec<String>> {
    if rule.direction != Direction::Inbound
        || rule.access != Access::Allow
        || rule.priority >= guard.priority
        || !protocol_overlaps(&rule.protocol, guard.port.protocol)
        || !rule
            .destination_ports
            .iter()
            .any(|r| port_range_covers(r, guard.port.number))
    {
        return None;
    }
    // A destination application security group may hold the target.
    let reaches = !rule.destination_asgs.is_empty()
        || rule
            .destinations
            .iter()
            .any(|d| prefix_overlaps(d, &guard.target.destination));
    if !reaches {
        return None;
    }
    let wider: Vec<String> = rule
        .sources
        .iter()
        .filter(|s| !within(s, &guard.port.allowed_sources))
        .cloned()
        .chain(rule.source_asgs.iter().cloned())
        .collect();
    (!wider.is_empty()).then_some(wider)
}

fn exposure_message(rule: &Rule, guard: &Guard<'_>, wider: &[String]) -> String {
    let quoted = |items: &mut dyn Iterator<Item = String>| {
        items
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let allowed = if guard.port.allowed_sources.is_empty() {
        "policy allows no source".to_string()
    } else {
        format!(
            "policy allows only {}",
            quoted(&mut guard.port.allowed_sources.iter().map(|n| n.to_string()))
        )
    };
    let sources = wider
        .iter()
        .map(|s| {
            if rule.source_asgs.contains(s) {
                format!("application security group `{}`", name_from_id(s))
            } else {
                format!("`{s}`")
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let reaches = rule
        .destinations
        .iter()
        .any(|d| prefix_overlaps(d, &guard.target.destination));
    let via_asg = match rule.destination_asgs.as_slice() {
        [] => String::new(),
        _ if reaches => String::new(),
        groups => format!(
            " through destination application security group {} (it may hold the target)",
            groups
                .iter()
                .map(|g| format!("`{}`", name_from_id(g)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!(
        "rule `{}` (priority {}) opens port {} ({} of {}) to {sources}{via_asg} ahead of its lock-down at priority {}; {allowed}",
        rule.name,
        rule.priority,
        guard.port.number,
        guard.port.name,
        guard.target.name,
        guard.priority,
    )
}

/// Whether an ARM protocol (`Tcp`, `Udp`, `*`, …) carries traffic of a port's protocol.
pub fn protocol_overlaps(arm: &str, protocol: Protocol) -> bool {
    let arm = arm.trim();
    if arm == "*" {
        return true;
    }
    match protocol {
        Protocol::Any => arm.eq_ignore_ascii_case("tcp") || arm.eq_ignore_ascii_case("udp"),
        p => arm.eq_ignore_ascii_case(p.arm()),
    }
}

/// Whether a port range entry (`*`, `22`, `20-30`) covers `port`. A malformed entry covers
/// nothing (ARM rejects it).
pub fn port_range_covers(range: &str, port: u16) -> bool {
    let range = range.trim();
    if range == "*" {
        return true;
    }
    match range.split_once('-') {
        Some((lo, hi)) => match (lo.trim().parse::<u16>(), hi.trim().parse::<u16>()) {
            (Ok(lo), Ok(hi)) => lo <= port && port <= hi,
            _ => false,
        },
        None => range.parse::<u16>() == Ok(port),
    }
}

/// An address prefix as a network: a CIDR or a bare address; `None` for `*` and service tags.
pub fn parse_prefix(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

/// Whether two destination prefixes can match the same address. `*` and service tags
/// (`VirtualNetwork`, …) are assumed to overlap everything.
pub fn prefix_overlaps(a: &str, b: &str) -> bool {
    match (parse_prefix(a), parse_prefix(b)) {
        (Some(a), Some(b)) => a.contains(&b.network()) || b.contains(&a.network()),
        _ => true,
    }
}

/// Whether a source prefix lies inside one of `allowed`. `*`, `Internet`, other service tags
/// and anything unparsable are never within policy.
pub fn within(source: &str, allowed: &[IpNet]) -> bool {
    parse_prefix(source).is_some_and(|net| allowed.iter().any(|a| a.contains(&net)))
}
