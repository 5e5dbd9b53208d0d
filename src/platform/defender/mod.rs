//! The Defender platform: Defender for Cloud just-in-time VM access, served by the `azure`
//! provider in mode `defender`. A scope is one JIT policy document; its resources are the
//! document's VM entries ([`VM_SCHEMA`]) and, in plans only, the grants to initiate
//! ([`INITIATE_SCHEMA`]). The reconciliation is [`reconcile`]; this module adapts it
//! to the core's scopes, resources and changes. The azure provider reads and writes the
//! documents ([`policy`]) and initiates requests ([`requests`]).
//!
//! Scope ids name the policy without its location, `/subscriptions/S/resourceGroups/RG/
//! providers/Microsoft.Security/jitNetworkAccessPolicies/NAME`: where the VMs are is not in
//! the repository, and Defender keeps a resource group's policy of one name per location. The
//! provider finds the location (from the document, else from the VMs) and carries it in
//! [`Policy::location`].

pub mod diff;
pub mod narrowing;
pub mod policy;
pub mod reconcile;
pub mod requests;
pub mod schema;
pub mod scope;

use jiff::Timestamp;

use crate::live::{scope_key, Live, Scope};
use crate::model::{AzureMode, Policy as Config, ProviderConfig, Target};
use crate::platform::grants::GrantStatus;
use crate::platform::Content;
use policy::PolicyDocument;
use reconcile::DesiredScope;
pub use schema::{INITIATE_SCHEMA, INITIATE_TYPE, VM_SCHEMA, VM_TYPE};
use scope::PolicyScope;

/// A policy document as live state holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Security's location name of the document (`westeurope`); `None` while there is no
    /// document and no VM said where it is.
    pub location: Option<String>,
    /// `None`: there is no such policy yet.
    pub document: Option<PolicyDocument>,
}

/// Whether a target is planned here: it names a VM and its provider is `azure` in mode
/// `defender`.
pub fn plans(policy: &Config, target: &Target) -> bool {
    target.vm_id.is_some()
        && matches!(
            policy.provider(&target.provider).map(|p| &p.config),
            Some(ProviderConfig::Azure {
                mode: AzureMode::Defender,
                ..
            })
        )
}

/// The location-less id of the policy document named `policy_name` that holds VM `vm_id`.
pub fn scope_id(vm_id: &str, policy_name: &str) -> Option<String> {
    let scope = PolicyScope::for_vm(vm_id, "", policy_name)?;
    Some(format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Security/jitNetworkAccessPolicies/{}",
        scope.subscription_id, scope.resource_group, scope.name
    ))
}

/// The document's place, from a location-less scope id and a location.
pub fn policy_scope(id: &str, location: &str) -> Option<PolicyScope> {
    let parts: Vec<&str> = id.trim_end_matches('/').split('/').collect();
    let ok = parts.len() == 9
        && parts[1].eq_ignore_ascii_case("subscriptions")
        && parts[3].eq_ignore_ascii_case("resourceGroups")
        && parts[5].eq_ignore_ascii_case("providers")
        && parts[6].eq_ignore_ascii_case("Microsoft.Security")
        && parts[7].eq_ignore_ascii_case("jitNetworkAccessPolicies");
    if !ok {
        return None;
    }
    let name = id.trim_end_matches('/').rsplit('/').next()?;
    Some(PolicyScope {
        subscription_id: parts[2].to_string(),
        resource_group: parts[4].to_string(),
        location: scope::location_name(location),
        name: name.to_string(),
    })
}

/// Whether `id` is a location-less policy scope id.
pub fn is_scope_id(id: &str) -> bool {
    id.to_ascii_lowercase()
        .contains("/providers/microsoft.security/jitnetworkaccesspolicies/")
}

/// One desired document.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredPolicy {
    pub provider: String,
    /// Location-less, see the module doc.
    pub id: String,
    pub scope: DesiredScope,
}

/// What every Defender-mode provider wants.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Desired {
    pub policies: Vec<DesiredPolicy>,
    /// What the policy asks for that no document can hold.
    pub errors: Vec<String>,
}

impl Desired {
    /// Adds a document that should hold no managed entry, unless it is already wanted.
    pub fn add_empty(&mut self, provider: &str, id: &str) {
        if !self
            .policies
            .iter()
            .any(|p| scope_key(&p.id) == scope_key(id))
        {
            self.policies.push(DesiredPolicy {
                provider: provider.to_string(),
                id: id.to_string(),
                scope: DesiredScope::default(),
            });
        }
    }
}

/// Pure: the documents and grants the policy wants. The clock only matters to the diff
/// (which grants are active), so this reads none.
pub fn compile(policy: &Config, _now: Timestamp) -> Desired {
    let mut out = Desired::default();
    let providers: Vec<String> = policy
        .targets
        .iter()
        .filter(|t| plans(policy, t))
        .map(|t| t.provider.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for provider in providers {
        // The location is the provider's business: any one stands in for it here.
        let (scopes, errors) = reconcile::desired(policy, &provider, &|_| Some(String::new()));
        out.errors.extend(errors.into_iter().map(|e| e.to_string()));
        for (scope, wanted) in scopes {
            let id = format!(
                "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Security/jitNetworkAccessPolicies/{}",
                scope.subscription_id, scope.resource_group, scope.name
            );
            out.policies.push(DesiredPolicy {
                provider: provider.clone(),
                id,
                scope: wanted,
            });
        }
    }
    out
}

/// The document of a scope (none when the scope is not a Defender policy).
pub fn policy(scope: &Scope) -> Option<&Policy> {
    match &scope.content {
        Content::Defender(p) => Some(p),
        _ => None,
    }
}

/// A Defender scope.
pub fn scope(id: String, fingerprint: String, policy: Policy) -> Scope {
    Scope {
        name: crate::live::name_from_id(&id).to_string(),
        id,
        fingerprint,
        content: Content::Defender(policy),
    }
}

/// Grants Defender shows open in the scope at `at`, for `jit status`.
pub fn grants(config: &Config, scope: &Scope, at: Timestamp) -> Vec<GrantStatus> {
    let Some(live) = policy(scope) else {
        return Vec::new();
    };
    let desired = compile(config, at);
    let wanted = desired
        .policies
        .iter()
        .find(|p| scope_key(&p.id) == scope_key(&scope.id))
        .map(|p| p.scope.clone())
        .unwrap_or_default();
    let Some(place) = policy_scope(&scope.id, live.location.as_deref().unwrap_or_default()) else {
        return Vec::new();
    };
    let planned = reconcile::plan_scope(place, live.document.clone(), &wanted, at);
    planned
        .open
        .iter()
        .map(|open| {
            let grant = config.grants.iter().find(|g| g.id == open.request_id);
            let vm = crate::live::name_from_id(&open.vm_id);
            GrantStatus {
                request: Some(open.request_id.clone()),
                target: grant.map(|g| g.target.clone()),
                address: format!("{}/{vm}", scope.shown_name()),
                scope: scope.id.clone(),
                requester: grant.map(|g| g.requester.clone()),
                approvers: grant.map(|g| g.approvers.clone()).unwrap_or_default(),
                file: None,
                sources: grant
                    .map(|g| vec![g.source.to_string()])
                    .unwrap_or_default(),
                protocol: "*".to_string(),
                ports: vec![open.port.to_string()],
                expires: open.end,
                seconds_left: open.end.map(|e| e.duration_since(at).as_secs()),
                overdue: open.end.is_some_and(|e| e <= at),
                wider: Vec::new(),
            }
        })
        .collect()
}

/// Every Defender scope of `live`.
pub fn scopes(live: &Live) -> impl Iterator<Item = &Scope> {
    live.scopes.values().filter(|s| policy(s).is_some())
}

#[cfg(test)]
mod tests;
