//! The NSG platform: Azure network security rules, served by the `snapshot` provider and the
//! `azure` provider in mode `nsg`. Everything specific to security rules lives here: their
//! ARM and azurerm shapes, names within ARM's limits and the description marker, compilation
//! into lock-downs and allows, priority bands, the diff by rule name, priority-based findings,
//! and which rule changes only narrow access.

pub mod azurerm;
pub mod compile;
pub mod diff;
pub mod findings;
pub mod names;
pub mod narrowing;
pub mod priority;
pub mod rule;
pub mod status;
pub mod typed;

#[cfg(test)]
pub(crate) mod tests;

pub use compile::{Desired, DesiredNsg, DesiredRule, Origin};
pub use rule::{Access, Direction, LiveRule, Rule, RuleShapeError};

use crate::live::Scope;
use crate::model::{AzureMode, Policy, ProviderConfig, Target};
use crate::platform::Content;

/// Whether a target's rules live in an NSG: targets with an `nsg_id` of `snapshot` providers
/// and of `azure` providers in mode `nsg`. A target naming a provider the policy does not
/// declare (validation rejects that) is planned here when it has an `nsg_id`.
pub fn plans(policy: &Policy, target: &Target) -> bool {
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

/// The security rules of a scope (none when the scope is not an NSG).
pub fn rules(scope: &Scope) -> &[LiveRule] {
    match &scope.content {
        Content::Nsg(rules) => rules,
        Content::Defender(_) => &[],
        Content::Nftables(_) => &[],
    }
}

/// An NSG as live state holds it, borrowed from its scope.
#[derive(Debug, Clone, Copy)]
pub struct LiveNsg<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub fingerprint: &'a str,
    pub rules: &'a [LiveRule],
}

/// The NSG a scope holds.
pub fn live_nsg(scope: &Scope) -> LiveNsg<'_> {
    LiveNsg {
        id: &scope.id,
        name: &scope.name,
        fingerprint: &scope.fingerprint,
        rules: rules(scope),
    }
}

/// An NSG scope.
pub fn scope(id: String, name: String, fingerprint: String, rules: Vec<LiveRule>) -> Scope {
    Scope {
        id,
        name,
        fingerprint,
        content: Content::Nsg(rules),
    }
}
