//! From policy to table: the [`TableSpec`] of one nftables provider, from the targets that name
//! it and their grants active at `now`. Pure (the clock is an argument); the adapter a plan or
//! apply calls.

use jiff::Timestamp;

use super::spec::{GrantInput, GuardedPort, Proto, TableSpec, DEFAULT_PRIORITY};
use crate::model::{Policy, Protocol};

/// The ports a policy port protects: `any` is both `tcp` and `udp`.
pub fn guarded(number: u16, protocol: Protocol) -> Vec<GuardedPort> {
    let protos: &[Proto] = match protocol {
        Protocol::Tcp => &[Proto::Tcp],
        Protocol::Udp => &[Proto::Udp],
        Protocol::Any => &[Proto::Tcp, Proto::Udp],
    };
    protos
        .iter()
        .map(|&proto| GuardedPort {
            proto,
            port: number,
        })
        .collect()
}

/// The table `table` of provider `address` (`nftables.<name>`) at `now`: every port of every
/// target naming the provider, and one element per active grant and port, lasting the grant's
/// remaining time in whole seconds (rounded down: the kernel closes it up to a second early,
/// never late). Every request for these targets is known, so their leftovers are no drift.
pub fn table_spec(policy: &Policy, address: &str, table: &str, now: Timestamp) -> TableSpec {
    let targets: Vec<_> = policy
        .targets
        .iter()
        .filter(|t| t.provider == address)
        .collect();
    let ports = targets
        .iter()
        .flat_map(|t| t.ports.iter())
        .flat_map(|p| guarded(p.number, p.protocol));
    let mut grants = Vec::new();
    let mut known = Vec::new();
    for grant in &policy.grants {
        let Some(target) = targets.iter().find(|t| t.name == grant.target) else {
            continue;
        };
        known.push(grant.id.as_str());
        if !grant.is_active(now) {
            continue;
        }
        let left = grant.end().duration_since(now).as_secs().max(0) as u64;
        for name in &grant.ports {
            let Some(port) = target.port(name) else {
                continue;
            };
            for guarded in guarded(port.number, port.protocol) {
                grants.push(GrantInput {
                    request: grant.id.clone(),
                    source: grant.source,
                    port: guarded,
                    remaining_secs: left,
                });
            }
        }
    }
    TableSpec::new(table, DEFAULT_PRIORITY, ports, grants).with_known_requests(known)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::{load, SourceFile};

    const POLICY: &str = r#"
provider "nftables" "host" {
  table = "jit"
}

target "bastion" {
  provider = "nftables.host"
  port "ssh" {
    number          = 22
    allowed_sources = ["192.0.2.0/24", "2001:db8::/32"]
    max_duration    = "1h"
  }
  port "dns" {
    number          = 53
    protocol        = "any"
    allowed_sources = ["192.0.2.0/24"]
  }
}

request "INC-1-alice" {
  target        = "bastion"
  ports         = ["ssh", "dns"]
  source        = "192.0.2.7/32"
  requester     = "alice@example.com"
  approvers     = ["bob@example.com"]
  justification = "INC-1 look at the bastion"
  start         = "2026-11-25T14:00:00Z"
  duration      = "1h"
}

request "INC-2-carol" {
  target        = "bastion"
  ports         = ["ssh"]
  source        = "2001:db8::/48"
  requester     = "carol@example.com"
  approvers     = ["bob@example.com"]
  justification = "INC-2 later"
  start         = "2026-11-25T18:00:00Z"
  duration      = "30m"
}
"#;

    #[test]
    fn active_grants_become_elements_with_their_remaining_seconds() {
        let policy = load(&[SourceFile {
            path: "policy.hcl".into(),
            text: POLICY.to_string(),
        }])
        .expect("valid");
        let at = |t: &str| table_spec(&policy, "nftables.host", "jit", t.parse().unwrap());
        let spec = at("2026-11-25T14:30:00Z");
        let ports: Vec<String> = spec.ports.iter().map(|p| p.to_string()).collect();
        assert_eq!(ports, ["tcp/22", "tcp/53", "udp/53"]);
        assert_eq!(spec.grants.len(), 3, "ssh, and dns over tcp and udp");
        assert!(spec
            .grants
            .iter()
            .all(|g| g.timeout == 1800 && g.comment == "INC-1-alice"));
        assert!(
            spec.knows("INC-2-carol"),
            "a future request's name is known"
        );
        assert!(at("2026-11-25T14:59:58.5Z")
            .grants
            .iter()
            .all(|g| g.timeout == 1));
        // Half a second left rounds down to nothing: no element (0 would mean forever).
        assert!(at("2026-11-25T14:59:59.5Z").grants.is_empty());
        let now: Timestamp = "2026-11-25T14:30:00Z".parse().unwrap();
        let other = table_spec(&policy, "nftables.other", "jit", now);
        assert!(other.ports.is_empty() && other.grants.is_empty());
    }
}
