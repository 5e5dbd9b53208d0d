//! `status`: the grants open in live state right now. Every managed allow rule of every NSG
//! the policy names, with its request, source, port, expiry and time left; rules past their
//! expiry are flagged overdue (the next `jit apply` revokes them).

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::model::Policy;
use crate::nsg::Access;
use crate::ops::{policy_nsgs, OpsError, Providers};
use crate::providers::OpenOptions;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantStatus {
    /// The request named in the rule's description.
    pub request: Option<String>,
    /// The target behind the NSG and port, when the policy still has it.
    pub target: Option<String>,
    /// `<nsg name>/<rule name>`.
    pub address: String,
    pub nsg_id: String,
    pub sources: Vec<String>,
    pub protocol: String,
    pub ports: Vec<String>,
    pub expires: Option<Timestamp>,
    /// Seconds until `expires`; negative when overdue.
    pub seconds_left: Option<i64>,
    pub overdue: bool,
}

impl GrantStatus {
    pub fn time_left(&self) -> Option<SignedDuration> {
        self.seconds_left.map(SignedDuration::from_secs)
    }
}

/// Open grants, soonest expiry first (unknown expiry last).
pub fn status(
    policy: &Policy,
    at: Timestamp,
    open: &OpenOptions,
) -> Result<Vec<GrantStatus>, OpsError> {
    let nsgs = policy_nsgs(policy);
    let mut providers = Providers::new(policy, open);
    providers.open_all()?;
    let live = providers.read(nsgs.values().cloned())?;
    let prefix = &policy.settings.rule_prefix;
    let mut out = Vec::new();
    for nsg in live.nsgs.values() {
        for live_rule in &nsg.rules {
            let rule = &live_rule.rule;
            if !rule.is_managed(prefix) || rule.access != Access::Allow {
                continue;
            }
            let expires = rule
                .description_field("expires")
                .and_then(|e| e.parse::<Timestamp>().ok());
            let seconds_left = expires.map(|e| e.duration_since(at).as_secs());
            let target = policy
                .targets
                .iter()
                .find(|t| {
                    t.nsg_id
                        .as_deref()
                        .is_some_and(|id| crate::live::nsg_key(id) == crate::live::nsg_key(&nsg.id))
                        && t.ports.iter().any(|p| {
                            rule.destination_ports
                                .iter()
                                .any(|d| d == &p.number.to_string())
                        })
                })
                .map(|t| t.name.clone());
            out.push(GrantStatus {
                request: rule.description_field("request").map(str::to_string),
                target,
                address: format!("{}/{}", nsg.name, rule.name),
                nsg_id: nsg.id.clone(),
                sources: rule.sources.clone(),
                protocol: rule.protocol.clone(),
                ports: rule.destination_ports.clone(),
                expires,
                seconds_left,
                overdue: seconds_left.is_some_and(|s| s <= 0),
            });
        }
    }
    out.sort_by(|a, b| {
        (a.expires.is_none(), a.expires, &a.address).cmp(&(
            b.expires.is_none(),
            b.expires,
            &b.address,
        ))
    });
    Ok(out)
}
