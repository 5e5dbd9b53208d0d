//! `plan`: compile the policy at a point in time, read the NSGs it names from their providers,
//! and diff the two. `--target` narrows the plan to some targets after the diff, so a managed
//! rule of another target sharing the NSG is neither created nor destroyed.
//!
//! **Revoke always** (DESIGN §5b). The configuration is loaded leniently
//! ([`config::load_lenient`]): its policy is the part that validated, and every error in it is
//! an error of the plan. An NSG that cannot be read, a full band or a foreign rule squatting a
//! managed name is an error for that NSG or rule only: every other NSG is still read and
//! planned. A plan with any error keeps only its narrowing changes
//! ([`narrowing`](crate::plan::narrowing)): access is still closed wherever jit can see it,
//! and nothing is opened until the configuration and every NSG are in order.

use std::collections::BTreeSet;

use jiff::Timestamp;

use crate::compile::{compile, DesiredNsg};
use crate::diag::{Diagnostic, Severity};
use crate::lang::did_you_mean;
use crate::live::nsg_key;
use crate::model::Policy;
use crate::ops::config::Loaded;
use crate::ops::{OpsError, Providers};
use crate::plan::diff::diff;
use crate::plan::narrowing::keep_narrowing;
use crate::plan::{Plan, PlanError};
use crate::providers::OpenOptions;

#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// The clock (`--at`, else now).
    pub at: Timestamp,
    /// `--target` names; empty means every target.
    pub targets: Vec<String>,
}

/// Plans the configuration `config` (loaded with [`config::load_lenient`], errors and all).
pub fn plan(config: &Loaded, opts: &PlanOptions, open: &OpenOptions) -> Result<Plan, OpsError> {
    check_targets(&config.policy, &opts.targets)?;
    let mut providers = Providers::new(&config.policy, open).placed(&config.sources);
    providers.open_all()?;
    plan_with(config, opts, open, &mut providers, None)
}

/// Compiles, reads, diffs and narrows through already opened providers, then records the
/// configuration's digest and errors (keeping only narrowing changes when there are any).
/// `only` restricts the plan to these NSGs (keys from [`nsg_key`]): `apply` re-plans NSGs that
/// changed under it.
pub(crate) fn plan_with(
    config: &Loaded,
    opts: &PlanOptions,
    open: &OpenOptions,
    providers: &mut Providers<'_>,
    only: Option<&BTreeSet<String>>,
) -> Result<Plan, OpsError> {
    let policy = &config.policy;
    let mut desired = compile(policy, opts.at);
    // The NSG of a target left out by an error holds no rule any valid target explains: its
    // managed allows are closed (its lock-downs stay, their deletes being widening).
    for (provider, nsg_id) in &config.invalid_target_nsgs {
        let key = nsg_key(nsg_id);
        if let Err(at) = desired
            .nsgs
            .binary_search_by(|n| nsg_key(&n.nsg_id).cmp(&key))
        {
            desired.nsgs.insert(
                at,
                DesiredNsg {
                    nsg_id: nsg_id.clone(),
                    provider: provider.clone(),
                    rules: Vec::new(),
                },
            );
        }
    }
    if let Some(only) = only {
        desired.nsgs.retain(|n| only.contains(&nsg_key(&n.nsg_id)));
    }
    let live = providers.read_each(
        desired
            .nsgs
            .iter()
            .map(|n| (n.provider.clone(), n.nsg_id.clone())),
    )?;
    let mut plan = diff(policy, &desired, &live, opts.at);
    if !opts.targets.is_empty() {
        narrow(&mut plan, policy, &opts.targets);
        plan.targets = opts.targets.clone();
    }
    plan.config_digest = Some(config.digest(&open.config_dir));
    let config_errors = config
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(config_error);
    plan.errors.splice(0..0, config_errors);
    if !plan.errors.is_empty() {
        keep_narrowing(&mut plan);
    }
    Ok(plan)
}

/// A configuration error as a plan error: `file:line:column: message [code]`.
fn config_error(d: &Diagnostic) -> PlanError {
    PlanError {
        nsg_id: None,
        message: format!(
            "{}:{}:{}: {} [{}]",
            d.file, d.line, d.column, d.message, d.code
        ),
    }
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
/// NSGs. Errors of the configuration are added afterwards and always kept.
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
    plan.errors.retain(|e| {
        e.nsg_id
            .as_deref()
            .is_none_or(|id| nsgs.contains(&nsg_key(id)))
    });
    plan.warnings.retain(|w| nsgs.contains(&nsg_key(&w.nsg_id)));
    plan.fingerprints
        .retain(|id, _| nsgs.contains(&nsg_key(id)));
}
