//! `plan`: compile the policy at a point in time, read the scopes it names from their
//! providers, and diff the two. `--target` narrows the plan to some targets after the diff, so a managed
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

use crate::diag::{Diagnostic, Severity};
use crate::lang::did_you_mean;
use crate::live::scope_key;
use crate::model::Policy;
use crate::ops::config::Loaded;
use crate::ops::{OpsError, Providers};
use crate::plan::narrowing::keep_narrowing;
use crate::plan::{Plan, PlanError};
use crate::platform::{compile, diff, scope_of};
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
/// `only` restricts the plan to these scopes (keys from [`scope_key`]): `apply` re-plans scopes
/// that changed under it.
///
/// A provider with a cheaper read that may lag ([`Provider::discover`](crate::providers::
/// Provider::discover)) is read that way first; every scope the plan from it would change (or
/// finds something wrong with) is then read exactly and planned from that read, so nothing
/// is ever planned, shown or written from a lagging read.
pub(crate) fn plan_with(
    config: &Loaded,
    opts: &PlanOptions,
    open: &OpenOptions,
    providers: &mut Providers<'_>,
    only: Option<&BTreeSet<String>>,
) -> Result<Plan, OpsError> {
    // Targets named by their VM become one target per NSG of the VM.
    let expanded = super::vm_targets::expand(&config.policy, providers)?;
    let (policy, vm_errors, orphans) = match &expanded {
        Some(e) => (&e.policy, e.errors.clone(), e.orphans.as_slice()),
        None => (&config.policy, Vec::new(), &[][..]),
    };
    let mut desired = compile(policy, opts.at);
    // The scope of a target left out by an error holds nothing any valid target explains: its
    // managed allows are closed (its lock-downs stay, their deletes being widening). So do the
    // NSGs holding rules of a VM that could not be resolved.
    for (provider, id) in config.invalid_target_scopes.iter().chain(orphans) {
        desired.add_empty_scope(provider, id);
    }
    if let Some(only) = only {
        desired.retain_scopes(|key| only.contains(key));
    }
    let scopes = desired.scopes();
    let (mut live, discovered) = providers.read_scopes(scopes.iter().cloned(), only.is_none())?;
    let mut plan = diff(policy, &desired, &live, opts.at);
    if !discovered.is_empty() {
        // Read exactly what the discovered plan would touch, and plan from that.
        let exact = to_read_exactly(&scopes, &discovered, &plan_scopes(&plan));
        if !exact.is_empty() {
            live.merge(providers.read_each(exact, false)?);
            plan = diff(policy, &desired, &live, opts.at);
        }
    }
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
    plan.errors.splice(0..0, config_errors.chain(vm_errors));
    if !plan.errors.is_empty() {
        keep_narrowing(&mut plan);
    }
    Ok(plan)
}

/// A configuration error as a plan error: `file:line:column: message [code]`.
fn config_error(d: &Diagnostic) -> PlanError {
    PlanError {
        scope: None,
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

/// Keys of the scopes a plan would change or has something to say about (a finding, a
/// warning, an error).
pub(crate) fn plan_scopes(plan: &Plan) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = plan
        .resource_changes
        .iter()
        .map(|c| scope_key(&c.scope))
        .collect();
    out.extend(plan.findings.iter().map(|f| scope_key(&f.scope)));
    out.extend(plan.accepted.iter().map(|f| scope_key(&f.scope)));
    out.extend(plan.warnings.iter().map(|w| scope_key(&w.scope)));
    out.extend(
        plan.errors
            .iter()
            .filter_map(|e| e.scope.as_deref().map(scope_key)),
    );
    out
}

/// The scopes of `scopes` (`(provider, id)`) known only from a read that may lag
/// (`discovered`) that `wanted` names by key: what to read again, exactly.
pub(crate) fn to_read_exactly(
    scopes: &[(String, String)],
    discovered: &BTreeSet<String>,
    wanted: &BTreeSet<String>,
) -> Vec<(String, String)> {
    scopes
        .iter()
        .filter(|(_, id)| {
            let key = scope_key(id);
            discovered.contains(&key) && wanted.contains(&key)
        })
        .cloned()
        .collect()
}

/// Keeps the changes of the named targets, and the findings, errors and fingerprints of their
/// scopes. Errors of the configuration are added afterwards and always kept.
fn narrow(plan: &mut Plan, policy: &Policy, names: &[String]) {
    // Every target of the name: one named by its VM is one target per NSG of the VM.
    let scopes: BTreeSet<String> = policy
        .targets
        .iter()
        .filter(|t| names.contains(&t.name))
        .filter_map(|t| scope_of(policy, t))
        .map(|(_, id)| scope_key(&id))
        .collect();
    plan.resource_changes
        .retain(|c| c.target.as_ref().is_some_and(|t| names.contains(t)));
    plan.findings
        .retain(|f| scopes.contains(&scope_key(&f.scope)));
    plan.accepted
        .retain(|f| scopes.contains(&scope_key(&f.scope)));
    plan.errors.retain(|e| {
        e.scope
            .as_deref()
            .is_none_or(|id| scopes.contains(&scope_key(id)))
    });
    plan.warnings
        .retain(|w| scopes.contains(&scope_key(&w.scope)));
    plan.fingerprints
        .retain(|id, _| scopes.contains(&scope_key(id)));
}
