//! `status`: who has access to what right now. Every open grant of every scope the policy
//! names (for NSGs, each managed allow rule; see `platform::nsg::status`), with its request, requester and approvers, source, port, expiry and time left;
//! rules past their expiry are flagged overdue (the next `jit apply` revokes them) and rules
//! wider than their request (source, port, protocol, destination) are flagged too. Exposures
//! (foreign rules opening a protected port wider than policy, ahead of its lock-down) are
//! listed beside them, from the same diff `plan` makes, and accepted ones apart. A target
//! named by its VM is resolved to the VM's NSGs as `plan` resolves it (see `vm_targets`); one
//! that cannot be is an error of the report, and the other targets are still listed, as are
//! the allows open in the NSGs found holding its rules.

use jiff::Timestamp;
use serde::Serialize;

use crate::ops::config::Loaded;
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
    let live = providers.read(scopes.values().cloned())?;
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
