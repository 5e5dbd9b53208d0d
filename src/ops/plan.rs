//! `plan`: compile the policy at a point in time, read the NSGs it names from their providers,
//! and diff the two. `--target` narrows the plan to some targets after the diff, so a managed
//! rule of another target sharing the NSG is neither created nor destroyed.

use std::collections::BTreeSet;

use jiff::Timestamp;

use crate::compile::compile;
use crate::lang::did_you_mean;
use crate::live::nsg_key;
use crate::model::Policy;
use crate::ops::{OpsError, Providers};
use crate::plan::diff::diff;
use crate::plan::Plan;
use crate::providers::OpenOptions;

#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// The clock (`--at`, else now).
    pub at: Timestamp,
    /// `--target` names; empty means every target.
    pub targets: Vec<String>,
}

pub fn plan(policy: &Policy, opts: &PlanOptions, open: &OpenOptions) -> Result<Plan, OpsError> {
    check_targets(policy, &opts.targets)?;
    let mut providers = Providers::new(policy, open);
    providers.open_all()?;
    plan_with(policy, opts, &mut providers, None)
}

/// Compiles, reads, diffs and narrows through already opened providers. `only` restricts the
/// plan to these NSGs (keys from [`nsg_key`]): `apply` re-plans NSGs that changed under it.
pub(crate) fn plan_with(
    policy: &Policy,
    opts: &PlanOptions,
    providers: &mut Providers<'_>,
    only: Option<&BTreeSet<String>>,
) -> Result<Plan, OpsError> {
    let mut desired = compile(policy, opts.at);
    if let Some(only) = only {
        desired.nsgs.retain(|n| only.contains(&nsg_key(&n.nsg_id)));
    }
    let live = providers.read(
        desired
            .nsgs
            .iter()
            .map(|n| (n.provider.clone(), n.nsg_id.clone())),
    )?;
    let mut plan = diff(policy, &desired, &live, opts.at);
    if !opts.targets.is_empty() {
        narrow(&mut plan, policy, &opts.targets);
    }
    Ok(plan)
}

/// Every `--target` name must exist; a near miss gets a suggestion.
pub fn check_targets(policy: &Policy, names: &[String]) -> Result<(), OpsError> {
    for name in names {
        if policy.target(name).is_none() {
            let hint = did_you_mean(name, policy.targets.iter().map(|t| t.name.as_str()))
                .map(|s| format!("; {s}"))
                .unwrap_or_default();
            return Err(OpsError::Invalid(format!("unknown target `{name}`{hint}")));
        }
    }
    Ok(())
}

/// Keeps the changes of the named targets, and the findings, errors and fingerprints of their
/// NSGs.
fn narrow(plan: &mut Plan, policy: &Policy, names: &[String]) {
    let nsgs: BTreeSet<String> = names
        .iter()
        .filter_map(|n| policy.target(n)?.nsg_id.as_deref())
        .map(nsg_key)
        .collect();
    plan.resource_changes
        .retain(|c| c.target.as_ref().is_some_and(|t| names.contains(t)));
    plan.findings.retain(|f| nsgs.contains(&nsg_key(&f.nsg_id)));
    plan.accepted.retain(|f| nsgs.contains(&nsg_key(&f.nsg_id)));
    plan.errors.retain(|e| nsgs.contains(&nsg_key(&e.nsg_id)));
    plan.warnings.retain(|w| nsgs.contains(&nsg_key(&w.nsg_id)));
    plan.fingerprints
        .retain(|id, _| nsgs.contains(&nsg_key(id)));
}
