//! `status`: who has access to what right now. Every managed allow rule of every NSG the
//! policy names, with its request, requester and approvers, source, port, expiry and time left;
//! rules past their expiry are flagged overdue (the next `jit apply` revokes them) and rules
//! wider than their request (source, port, protocol, destination) are flagged too. Exposures
//! (foreign rules opening a protected port wider than policy, ahead of its lock-down) are
//! listed beside them, from the same diff `plan` makes, and accepted ones apart.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::compile::{compile, refers_to};
use crate::live::nsg_key;
use crate::nsg::Access;
use crate::ops::config::Loaded;
use crate::ops::{policy_nsgs, OpsError, Providers};
use crate::plan::diff::diff;
use crate::plan::findings::{self, Widening};
use crate::plan::{AcceptedFinding, Finding, FindingKind};
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
    /// Who asked, when the policy still has the request.
    pub requester: Option<String>,
    /// Who approved it, as the request says.
    pub approvers: Vec<String>,
    /// The file that holds the request, as diagnostics show it, when the policy still has it.
    pub file: Option<String>,
    pub sources: Vec<String>,
    pub protocol: String,
    pub ports: Vec<String>,
    pub expires: Option<Timestamp>,
    /// Seconds until `expires`; negative when overdue.
    pub seconds_left: Option<i64>,
    pub overdue: bool,
    /// How the live rule is wider than its request; empty when it is not.
    pub wider: Vec<Widening>,
}

impl GrantStatus {
    pub fn time_left(&self) -> Option<SignedDuration> {
        self.seconds_left.map(SignedDuration::from_secs)
    }
}

/// What `status` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// Open grants, soonest expiry first (unknown expiry last).
    pub grants: Vec<GrantStatus>,
    /// Foreign rules that open a protected port wider than policy allows.
    pub exposures: Vec<Finding>,
    /// Exposures an `accept` block covers until it expires.
    pub accepted: Vec<AcceptedFinding>,
}

impl StatusReport {
    /// Something needs attention: an overdue grant, a grant wider than its request, an
    /// exposure. `status --detailed-exitcode` exits 2 then.
    pub fn needs_attention(&self) -> bool {
        !self.exposures.is_empty() || self.grants.iter().any(|g| g.overdue || !g.wider.is_empty())
    }
}

pub fn status(
    config: &Loaded,
    at: Timestamp,
    open: &OpenOptions,
) -> Result<StatusReport, OpsError> {
    let policy = &config.policy;
    let nsgs = policy_nsgs(policy);
    let mut providers = Providers::new(policy, open).placed(&config.sources);
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
            let request = rule.description_field("request");
            let grant =
                request.and_then(|field| policy.grants.iter().find(|g| refers_to(field, g)));
            let grant_target = grant.and_then(|g| policy.target(&g.target)).filter(|t| {
                t.nsg_id
                    .as_deref()
                    .is_some_and(|id| nsg_key(id) == nsg_key(&nsg.id))
            });
            let target = grant_target.map(|t| t.name.clone()).or_else(|| {
                policy
                    .targets
                    .iter()
                    .find(|t| {
                        t.nsg_id
                            .as_deref()
                            .is_some_and(|id| nsg_key(id) == nsg_key(&nsg.id))
                            && t.ports.iter().any(|p| {
                                rule.destination_ports
                                    .iter()
                                    .any(|d| d == &p.number.to_string())
                            })
                    })
                    .map(|t| t.name.clone())
            });
            let wider = match (grant, grant_target) {
                (Some(g), Some(t)) => findings::wider(prefix, rule, g, t),
                _ => Vec::new(),
            };
            out.push(GrantStatus {
                request: request.map(str::to_string),
                target,
                address: format!("{}/{}", nsg.name, rule.name),
                nsg_id: nsg.id.clone(),
                requester: grant.map(|g| g.requester.clone()),
                approvers: grant.map(|g| g.approvers.clone()).unwrap_or_default(),
                file: grant.and_then(|g| {
                    config
                        .approvable
                        .iter()
                        .find(|a| a.id == g.id)
                        .map(|a| a.file.clone())
                }),
                sources: rule
                    .sources
                    .iter()
                    .chain(&rule.source_asgs)
                    .cloned()
                    .collect(),
                protocol: rule.protocol.clone(),
                ports: rule.destination_ports.clone(),
                expires,
                seconds_left,
                overdue: seconds_left.is_some_and(|s| s <= 0),
                wider,
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
    // The same findings `plan` reports, from the same live state.
    let plan = diff(policy, &compile(policy, at), &live, at);
    Ok(StatusReport {
        grants: out,
        exposures: plan
            .findings
            .into_iter()
            .filter(|f| f.kind == FindingKind::Exposure)
            .collect(),
        accepted: plan.accepted,
    })
}
