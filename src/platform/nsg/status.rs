//! Open grants in an NSG, for `jit status`: every managed allow rule, with the request its
//! description names, its expiry and time left, and how it is wider than its request.

use jiff::Timestamp;

use super::findings;
use super::names::refers_to;
use super::rule::Access;
use crate::live::{scope_key, Scope};
use crate::model::Policy;
use crate::platform::grants::GrantStatus;

/// The grants open in NSG `scope` at `at` (`file` left for the caller, which knows the files).
pub fn grants(policy: &Policy, scope: &Scope, at: Timestamp) -> Vec<GrantStatus> {
    let prefix = &policy.settings.rule_prefix;
    let in_this_nsg = |id: Option<&str>| id.is_some_and(|id| scope_key(id) == scope_key(&scope.id));
    let mut out = Vec::new();
    for live_rule in super::rules(scope) {
        let rule = &live_rule.rule;
        if !rule.is_managed(prefix) || rule.access != Access::Allow {
            continue;
        }
        let expires = super::names::expires(rule.description.as_deref());
        let seconds_left = expires.map(|e| e.duration_since(at).as_secs());
        let request = rule.description_field("request");
        let grant = request.and_then(|field| policy.grants.iter().find(|g| refers_to(field, g)));
        let grant_target = grant
            .and_then(|g| policy.target(&g.target))
            .filter(|t| in_this_nsg(t.nsg_id.as_deref()));
        let target = grant_target.map(|t| t.name.clone()).or_else(|| {
            policy
                .targets
                .iter()
                .find(|t| {
                    in_this_nsg(t.nsg_id.as_deref())
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
            address: format!("{}/{}", scope.shown_name(), rule.name),
            scope: scope.id.clone(),
            requester: grant.map(|g| g.requester.clone()),
            approvers: grant.map(|g| g.approvers.clone()).unwrap_or_default(),
            file: None,
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
    out
}
