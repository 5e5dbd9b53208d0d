//! `status`: who has access to what right now. Every open grant of every scope the policy
//! names (for NSGs, each managed allow rule; see `platform::nsg::status`), with its request, requester and approvers, source, port, expiry and time left;
//! rules past their expiry are flagged overdue (the next `jit apply` revokes them) and rules
//! wider than their request (source, port, protocol, destination) are flagged too. Exposures
//! (foreign rules opening a protected port wider than policy, ahead of its lock-down) are
//! listed beside them, from the same diff `plan` makes, and accepted ones apart. A target
//! named by its VM is resolved to the VM's NSGs as `plan` resolves it (see `vm_targets`); one
//! that cannot be is an error of the report, and the other targets are still listed, as are
//! the allows open in the NSGs found holding its rules.
//!
//! **Read as plan reads.** A provider with a cheaper read that may lag (Resource Graph for an
//! azure estate, see `providers::azure::graph`) is read that way first, and every scope the
//! status would say something about — a grant it shows, a change or finding the plan from
//! that read would have — is then read exactly and reported from that read. Over an estate
//! whose NSGs are as the policy wants, status costs Resource Graph pages and one GET per NSG
//! holding a grant, not one GET per NSG; a scope the lagging index shows without a grant that
//! ARM already holds is listed too, because the policy's active grants make the plan from the
//! index want it (and so read it). A provider without such a read, or whose index fails (said
//! once), is read directly.

use jiff::Timestamp;
use serde::Serialize;

use crate::live::{scope_key, Live};
use crate::model::Policy;
use crate::ops::config::Loaded;
use crate::ops::plan::plan_scopes;
use crate::ops::{OpsError, Providers};
use crate::plan::{AcceptedFinding, Finding, FindingKind};
pub use crate::platform::grants::GrantStatus;
use crate::platform::{compile, diff};
use crate::providers::OpenOptions;

/// What `status` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// Open grants, soonest expiry first (unknown expiry last).
    pub grants: Vec<GrantStatus>,
    /// Foreign rules that open a protected port wider than policy allows.
    pub exposures: Vec<Finding>,
    /// Exposures an `accept` block covers until it expires.
    pub accepted: Vec<AcceptedFinding>,
    /// What kept a target out of the report (a VM that could not be resolved to its NSGs):
    /// its grants are not listed, so the report is incomplete.
    pub errors: Vec<String>,
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
    let mut providers = Providers::new(&config.policy, open).placed(&config.sources);
    providers.open_all()?;
    // Targets named by their VM: one target per NSG of the VM, as `plan` resolves them.
    let expanded = super::vm_targets::expand(&config.policy, &mut providers)?;
    let (policy, errors, orphans) = match &expanded {
        Some(e) => (
            &e.policy,
            e.errors.iter().map(|e| e.message.clone()).collect(),
            e.orphans.as_slice(),
        ),
        None => (&config.policy, Vec::new(), &[][..]),
    };
    // The NSGs holding rules of a VM that could not be resolved: what is open there is listed.
    let mut scopes = crate::platform::scopes(policy);
    for (provider, id) in orphans {
        scopes
            .entry(crate::live::scope_key(id))
            .or_insert_with(|| (provider.clone(), id.clone()));
    }
    let scopes: Vec<(String, String)> = scopes.into_values().collect();
    let live = read_live(policy, &scopes, at, &mut providers)?;
    let mut grants = crate::platform::grants(policy, &live, at);
    for grant in &mut grants {
        grant.file = grant.request.as_ref().and_then(|id| {
            config
                .approvable
                .iter()
                .find(|a| &a.id == id)
                .map(|a| a.file.clone())
        });
    }
    grants.sort_by(|a, b| {
        (a.expires.is_none(), a.expires, &a.address).cmp(&(
            b.expires.is_none(),
            b.expires,
            &b.address,
        ))
    });
    // The same findings `plan` reports, from the same live state.
    let plan = diff(policy, &compile(policy, at), &live, at);
    Ok(StatusReport {
        grants,
        exposures: plan
            .findings
            .into_iter()
            .filter(|f| f.kind == FindingKind::Exposure)
            .collect(),
        accepted: plan.accepted,
        errors,
    })
}

/// Every scope of `scopes` (`(provider, id)`), discovered where a provider can, then read
/// exactly wherever the status from the discovery has something to say (see the module doc).
/// A scope that cannot be read is an error.
fn read_live(
    policy: &Policy,
    scopes: &[(String, String)],
    at: Timestamp,
    providers: &mut Providers<'_>,
) -> Result<Live, OpsError> {
    let (mut live, discovered) = providers.read_scopes(scopes.iter().cloned(), true)?;
    if !discovered.is_empty() {
        let mut telling = plan_scopes(&diff(policy, &compile(policy, at), &live, at));
        telling.extend(
            crate::platform::grants(policy, &live, at)
                .iter()
                .map(|g| scope_key(&g.scope)),
        );
        let exact = super::plan::to_read_exactly(scopes, &discovered, &telling);
        if !exact.is_empty() {
            live.merge(providers.read(exact)?);
        }
    }
    match live.failed.values().next() {
        Some(why) => Err(OpsError::Invalid(why.clone())),
        None => Ok(live),
    }
}
