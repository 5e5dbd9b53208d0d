//! Pure: `compile(policy, now) → Desired`, the managed rules every NSG should hold at `now`:
//! one lock-down deny per protected port, one allow per active grant and port. Priorities are
//! left at 0 here; `plan::diff` allocates them against live state.
//!
//! Only NSG-shaped targets compile here: targets of `snapshot` providers and of `azure`
//! providers in mode `nsg`, and only when they have an `nsg_id`. Targets of `nftables` and of
//! `azure` in mode `defender` are skipped: their providers express the same policy in their own
//! shape. A target naming a provider the policy does not declare (validation rejects that) is
//! treated as NSG-shaped when it has an `nsg_id`.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::live::nsg_key;
use crate::model::{AzureMode, Grant, Policy, Port, ProviderConfig, Target};
use crate::nsg::{Access, Direction, Rule, MANAGED_MARKER};

/// Desired managed rules, grouped by NSG, sorted by NSG key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Desired {
    pub nsgs: Vec<DesiredNsg>,
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

/// The longest rule name ARM accepts.
pub const MAX_NAME_LEN: usize = 80;
/// The longest rule description ARM accepts.
pub const MAX_DESCRIPTION_LEN: usize = 140;

/// The managed rules of every NSG-shaped target at `now`.
pub fn compile(policy: &Policy, now: Timestamp) -> Desired {
    let prefix = &policy.settings.rule_prefix;
    let mut active: BTreeMap<&str, Vec<&Grant>> = BTreeMap::new();
    for grant in policy.grants.iter().filter(|g| g.is_active(now)) {
        active.entry(grant.target.as_str()).or_default().push(grant);
    }
    let mut nsgs: BTreeMap<String, DesiredNsg> = BTreeMap::new();
    for target in policy.targets.iter().filter(|t| is_nsg_shaped(policy, t)) {
        let Some(nsg_id) = &target.nsg_id else {
            continue;
        };
        let entry = nsgs.entry(nsg_key(nsg_id)).or_insert_with(|| DesiredNsg {
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

/// Whether a target's rules live in an NSG (snapshot, azure mode `nsg`).
pub fn is_nsg_shaped(policy: &Policy, target: &Target) -> bool {
    if target.nsg_id.is_none() {
        return false;
    }
    match policy.provider(&target.provider).map(|p| &p.config) {
        Some(ProviderConfig::Snapshot { .. }) => true,
        Some(ProviderConfig::Azure { mode, .. }) => *mode == AzureMode::Nsg,
        Some(ProviderConfig::Nftables { .. }) => false,
        None => true,
    }
}

/// Case-insensitive name order, ties broken by the exact spelling, so sorting is total.
pub fn name_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.to_ascii_lowercase()
        .cmp(&b.to_ascii_lowercase())
        .then_with(|| a.cmp(b))
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

/// `<prefix>-deny-<target>-<port>`, made ARM-legal.
pub fn deny_rule_name(prefix: &str, target: &str, port: &str) -> String {
    rule_name(&format!("{prefix}-deny-{target}-{port}"))
}

/// `<prefix>-allow-<request>-<port>`, made ARM-legal.
pub fn allow_rule_name(prefix: &str, request: &str, port: &str) -> String {
    rule_name(&format!("{prefix}-allow-{request}-{port}"))
}

/// Makes `raw` a legal security rule name: 1–80 characters of `[A-Za-z0-9_.-]`, starting with a
/// word character and ending with a word character or `_`.
///
/// A legal name is returned unchanged. Otherwise illegal characters become `-`, a bad first
/// character becomes `_`, and the name gets `-` and 8 hex digits of the SHA-256 of `raw`
/// (truncated first if needed to fit 80 characters). The hash keeps names that differ only in
/// illegal characters, or beyond the 80th character, apart, and is stable across runs.
pub fn rule_name(raw: &str) -> String {
    if is_legal_rule_name(raw) {
        return raw.to_string();
    }
    let mut name: String = raw
        .chars()
        .map(|c| if is_name_char(c) { c } else { '-' })
        .collect();
    if !name.starts_with(is_word_char) {
        name.replace_range(..name.chars().next().map_or(0, char::len_utf8), "_");
    }
    let suffix = format!("-{}", short_hash(raw));
    name.truncate(MAX_NAME_LEN - suffix.len());
    name.push_str(&suffix);
    name
}

/// Whether ARM accepts `name` as a security rule name.
pub fn is_legal_rule_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.chars().all(is_name_char)
        && name.starts_with(is_word_char)
        && name.ends_with(|c: char| is_word_char(c))
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_name_char(c: char) -> bool {
    is_word_char(c) || c == '.' || c == '-'
}

/// 8 hex digits of the SHA-256 of `text`.
pub fn short_hash(text: &str) -> String {
    let mut hex = crate::digest::sha256_hex(text.as_bytes());
    hex.truncate(8);
    hex
}

/// `managed-by=jit; request=<id>; expires=<RFC 3339>`, at most 140 characters.
pub fn grant_description(request: &str, expires: Timestamp) -> String {
    let head = format!("{MANAGED_MARKER}; request=");
    let tail = format!("; expires={expires}");
    let room = MAX_DESCRIPTION_LEN - head.len() - tail.len();
    format!("{head}{}{tail}", request_ref(request, room))
}

/// The request id as a description carries it: unchanged when it fits in `room` characters and
/// holds no `;`, `=` or whitespace; else a legal prefix of it, `~` and 8 hex digits of its hash.
pub fn request_ref(request: &str, room: usize) -> String {
    let plain = |c: char| !c.is_whitespace() && c != ';' && c != '=' && c != '~';
    if request.len() <= room && !request.is_empty() && request.chars().all(plain) {
        return request.to_string();
    }
    let suffix = format!("~{}", short_hash(request));
    let mut out = String::new();
    for c in request.chars().map(|c| if plain(c) { c } else { '_' }) {
        if out.len() + c.len_utf8() + suffix.len() > room {
            break;
        }
        out.push(c);
    }
    out.push_str(&suffix);
    out
}

/// The room a request id has inside a grant description expiring at `expires`.
pub fn request_room(expires: Timestamp) -> usize {
    MAX_DESCRIPTION_LEN - format!("{MANAGED_MARKER}; request=; expires={expires}").len()
}

/// Whether a managed rule's `request=` field names `grant`.
pub fn refers_to(field: &str, grant: &Grant) -> bool {
    field == grant.id || field == request_ref(&grant.id, request_room(grant.end()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Protocol, ProviderDecl, Settings};
    use jiff::SignedDuration;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn legal_names_are_kept() {
        assert_eq!(rule_name("jit-deny-web-1-ssh"), "jit-deny-web-1-ssh");
        assert_eq!(rule_name("a_"), "a_");
        assert_eq!(rule_name("x.y-z"), "x.y-z");
    }

    #[test]
    fn illegal_characters_are_replaced_and_hashed() {
        let name = rule_name("jit-allow-INC 42/alice-ssh");
        assert!(name.starts_with("jit-allow-INC-42-alice-ssh-"), "{name}");
        assert!(is_legal_rule_name(&name));
        assert_ne!(name, rule_name("jit-allow-INC-42-alice-ssh"));
        assert_ne!(name, rule_name("jit-allow-INC/42 alice-ssh"));
    }

    #[test]
    fn bad_first_and_last_characters_are_fixed() {
        let name = rule_name("-x-");
        assert!(name.starts_with("_x--"), "{name}");
        assert!(is_legal_rule_name(&name));
        assert!(is_legal_rule_name(&rule_name("x.")));
        assert!(is_legal_rule_name(&rule_name("")));
        assert!(is_legal_rule_name(&rule_name("é")));
    }

    #[test]
    fn long_names_are_truncated_with_a_stable_hash() {
        let raw = format!("jit-allow-{}-ssh", "r".repeat(100));
        let name = rule_name(&raw);
        assert_eq!(name.len(), MAX_NAME_LEN);
        assert!(is_legal_rule_name(&name));
        assert_eq!(name, rule_name(&raw));
        assert_eq!(&name[71..], &format!("-{}", short_hash(&raw)));
        let other = rule_name(&format!("jit-allow-{}-rdp", "r".repeat(100)));
        assert_ne!(name, other);
        assert_eq!(rule_name(&"a".repeat(80)), "a".repeat(80));
    }

    #[test]
    fn descriptions_fit_in_140_characters() {
        let expires = ts("2026-11-25T16:00:00.123456789Z");
        let short = grant_description("INC-1", expires);
        assert_eq!(
            short,
            "managed-by=jit; request=INC-1; expires=2026-11-25T16:00:00.123456789Z"
        );
        let long_id = "x".repeat(200);
        let long = grant_description(&long_id, expires);
        assert_eq!(long.len(), MAX_DESCRIPTION_LEN);
        let field = long.split("; ").nth(1).unwrap();
        assert!(field.starts_with("request=xxx") && field.contains('~'));
        let grant = Grant {
            id: long_id,
            target: "t".into(),
            ports: vec![],
            source: "10.0.0.0/8".parse().unwrap(),
            requester: "r".into(),
            approvers: vec![],
            justification: "j".into(),
            start: ts("2026-11-25T14:00:00.123456789Z"),
            duration: SignedDuration::from_hours(2),
        };
        assert!(refers_to(&field["request=".len()..], &grant));
        let odd = grant_description("a;b=c", expires);
        assert!(!odd.contains("a;b"), "{odd}");
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
