//! Pure: `compile(policy, now) → Desired`, the managed rules every NSG should hold at `now`:
//! one lock-down deny per protected port, one allow per active grant and port (DESIGN §4).
//! Priorities are left at 0 here; [`super::diff`] allocates them against live state. Only
//! targets this platform plans ([`super::plans`]) compile here.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::names::{allow_rule_name, deny_rule_name, grant_description, MANAGED_MARKER};
use super::rule::{Access, Direction, Rule};
use crate::live::scope_key;
use crate::model::{Grant, Policy, Port, Target};
use crate::resource::name_order;

/// Desired managed rules, grouped by NSG, sorted by NSG key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Desired {
    pub nsgs: Vec<DesiredNsg>,
}

impl Desired {
    /// Adds NSG `id` with no managed rule wanted, unless it is wanted already.
    pub fn add_empty(&mut self, provider: &str, id: &str) {
        let key = scope_key(id);
        if let Err(at) = self
            .nsgs
            .binary_search_by(|n| scope_key(&n.nsg_id).cmp(&key))
        {
            self.nsgs.insert(
                at,
                DesiredNsg {
                    nsg_id: id.to_string(),
                    provider: provider.to_string(),
                    rules: Vec::new(),
                },
            );
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredNsg {
    /// As written in the first target that names it.
    pub nsg_id: String,
    /// Provider address, `<kind>.<name>`.
    pub provider: String,
    /// Sorted by name (case-insensitively, as ARM compares names).
    pub rules: Vec<DesiredRule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredRule {
    /// `priority` is 0 until `plan::diff` allocates it from the band of `origin`.
    pub rule: Rule,
    pub target: String,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    LockDown {
        port: String,
    },
    Grant {
        request: String,
        port: String,
        expires: Timestamp,
    },
}

/// The managed rules of every NSG-shaped target at `now`.
pub fn compile(policy: &Policy, now: Timestamp) -> Desired {
    let prefix = &policy.settings.rule_prefix;
    let mut active: BTreeMap<&str, Vec<&Grant>> = BTreeMap::new();
    for grant in policy.grants.iter().filter(|g| g.is_active(now)) {
        active.entry(grant.target.as_str()).or_default().push(grant);
    }
    let mut nsgs: BTreeMap<String, DesiredNsg> = BTreeMap::new();
    for target in policy.targets.iter().filter(|t| super::plans(policy, t)) {
        let Some(nsg_id) = &target.nsg_id else {
            continue;
        };
        let entry = nsgs.entry(scope_key(nsg_id)).or_insert_with(|| DesiredNsg {
            nsg_id: nsg_id.clone(),
            provider: target.provider.clone(),
            rules: Vec::new(),
        });
        for port in &target.ports {
            entry.rules.push(lock_down_rule(prefix, target, port));
        }
        for grant in active.get(target.name.as_str()).into_iter().flatten() {
            for port in grant.ports.iter().filter_map(|p| target.port(p)) {
                entry.rules.push(grant_rule(prefix, target, port, grant));
            }
        }
    }
    let mut nsgs: Vec<DesiredNsg> = nsgs.into_values().collect();
    for nsg in &mut nsgs {
        nsg.rules
            .sort_by(|a, b| name_order(&a.rule.name, &b.rule.name));
    }
    Desired { nsgs }
}

fn lock_down_rule(prefix: &str, target: &Target, port: &Port) -> DesiredRule {
    DesiredRule {
        rule: Rule {
            name: deny_rule_name(prefix, &target.name, &port.name),
            priority: 0,
            direction: Direction::Inbound,
            access: Access::Deny,
            protocol: port.protocol.arm().to_string(),
            sources: vec!["*".to_string()],
            source_ports: vec!["*".to_string()],
            destinations: vec![target.destination.clone()],
            destination_ports: vec![port.number.to_string()],
            source_asgs: vec![],
            destination_asgs: vec![],
            description: Some(MANAGED_MARKER.to_string()),
        },
        target: target.name.clone(),
        origin: Origin::LockDown {
            port: port.name.clone(),
        },
    }
}

fn grant_rule(prefix: &str, target: &Target, port: &Port, grant: &Grant) -> DesiredRule {
    let expires = grant.end();
    DesiredRule {
        rule: Rule {
            name: allow_rule_name(prefix, &grant.id, &port.name),
            priority: 0,
            direction: Direction::Inbound,
            access: Access::Allow,
            protocol: port.protocol.arm().to_string(),
            sources: vec![grant.source.to_string()],
            source_ports: vec!["*".to_string()],
            destinations: vec![target.destination.clone()],
            destination_ports: vec![port.number.to_string()],
            source_asgs: vec![],
            destination_asgs: vec![],
            description: Some(grant_description(&grant.id, expires)),
        },
        target: target.name.clone(),
        origin: Origin::Grant {
            request: grant.id.clone(),
            port: port.name.clone(),
            expires,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AzureMode, Protocol, ProviderConfig, ProviderDecl, Settings};
    use jiff::SignedDuration;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn policy() -> Policy {
        let nsg = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n1";
        let port = |name: &str, number, protocol| Port {
            name: name.into(),
            number,
            protocol,
            allowed_sources: vec!["198.51.100.0/24".parse().unwrap()],
            max_duration: SignedDuration::from_hours(3),
        };
        let target = |name: &str, provider: &str, nsg_id: &str, ports| Target {
            name: name.into(),
            provider: provider.into(),
            vm_id: None,
            nsg_id: Some(nsg_id.into()),
            destination: "10.0.0.4".into(),
            ports,
        };
        Policy {
            settings: Settings::default(),
            providers: vec![
                ProviderDecl {
                    name: "demo".into(),
                    config: ProviderConfig::Snapshot {
                        path: "live.json".into(),
                    },
                },
                ProviderDecl {
                    name: "sec".into(),
                    config: ProviderConfig::Azure {
                        subscription_id: "s".into(),
                        mode: AzureMode::Defender,
                        endpoint: None,
                    },
                },
            ],
            targets: vec![
                target(
                    "web-1",
                    "snapshot.demo",
                    nsg,
                    vec![
                        port("ssh", 22, Protocol::Tcp),
                        port("dns", 53, Protocol::Any),
                    ],
                ),
                target(
                    "web-2",
                    "snapshot.demo",
                    &nsg.to_uppercase(),
                    vec![port("ssh", 22, Protocol::Tcp)],
                ),
                target(
                    "vm-3",
                    "azure.sec",
                    "/x/other",
                    vec![port("ssh", 22, Protocol::Tcp)],
                ),
            ],
            grants: vec![
                Grant {
                    id: "INC-1".into(),
                    target: "web-1".into(),
                    ports: vec!["ssh".into(), "dns".into()],
                    source: "198.51.100.7/32".parse().unwrap(),
                    requester: "alice".into(),
                    approvers: vec!["bob".into()],
                    justification: "INC-1".into(),
                    start: ts("2026-11-25T14:00:00Z"),
                    duration: SignedDuration::from_hours(2),
                },
                Grant {
                    id: "INC-2".into(),
                    target: "web-2".into(),
                    ports: vec!["ssh".into()],
                    source: "198.51.100.8/32".parse().unwrap(),
                    requester: "alice".into(),
                    approvers: vec!["bob".into()],
                    justification: "INC-2".into(),
                    start: ts("2026-11-25T16:00:00Z"),
                    duration: SignedDuration::from_hours(2),
                },
            ],
            accepts: vec![],
        }
    }

    #[test]
    fn compiles_lock_downs_and_active_grants_per_nsg() {
        let desired = compile(&policy(), ts("2026-11-25T15:00:00Z"));
        assert_eq!(desired.nsgs.len(), 1, "vm-3 is a defender target");
        let nsg = &desired.nsgs[0];
        assert!(nsg.nsg_id.ends_with("/n1"));
        assert_eq!(nsg.provider, "snapshot.demo");
        let names: Vec<&str> = nsg.rules.iter().map(|r| r.rule.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "jit-allow-INC-1-dns",
                "jit-allow-INC-1-ssh",
                "jit-deny-web-1-dns",
                "jit-deny-web-1-ssh",
                "jit-deny-web-2-ssh",
            ]
        );
        let allow = &nsg.rules[1].rule;
        assert_eq!(allow.access, Access::Allow);
        assert_eq!(allow.protocol, "Tcp");
        assert_eq!(allow.sources, ["198.51.100.7/32"]);
        assert_eq!(allow.source_ports, ["*"]);
        assert_eq!(allow.destinations, ["10.0.0.4"]);
        assert_eq!(allow.destination_ports, ["22"]);
        assert_eq!(
            allow.description.as_deref(),
            Some("managed-by=jit; request=INC-1; expires=2026-11-25T16:00:00Z")
        );
        let deny = &nsg.rules[2].rule;
        assert_eq!(deny.access, Access::Deny);
        assert_eq!(deny.protocol, "*");
        assert_eq!(deny.sources, ["*"]);
        assert_eq!(deny.destination_ports, ["53"]);
        assert_eq!(deny.description.as_deref(), Some("managed-by=jit"));
        assert!(nsg.rules.iter().all(|r| r.rule.priority == 0));
    }

    #[test]
    fn grants_outside_their_window_compile_to_nothing() {
        for at in ["2026-11-25T13:59:59Z", "2026-11-25T16:00:00Z"] {
            let desired = compile(&policy(), ts(at));
            let allows = desired.nsgs[0]
                .rules
                .iter()
                .filter(|r| r.rule.access == Access::Allow)
                .map(|r| r.rule.name.as_str())
                .collect::<Vec<_>>();
            if at.starts_with("2026-11-25T16") {
                assert_eq!(allows, ["jit-allow-INC-2-ssh"]);
            } else {
                assert!(allows.is_empty(), "{allows:?}");
            }
        }
    }
}
