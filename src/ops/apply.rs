//! `apply`: re-check a plan against the clock and live state, then apply exactly its actions
//! through the providers, auditing each outcome.
//!
//! A plan is refused, and nothing written, when it has errors, when its `valid_until` has
//! passed, when it was made for a later time than now, or when any NSG it was made against has
//! another fingerprint now ("stale plan: re-run jit plan"). Each action is idempotent (a create
//! that finds its rule, a delete that does not), so re-running after a crash converges.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

use crate::live::{name_from_id, nsg_key};
use crate::model::Policy;
use crate::ops::audit::{AuditContext, AuditLog};
use crate::ops::{policy_nsgs, OpsError, Providers};
use crate::plan::{Action, Plan, ResourceChange};
use crate::providers::{OnOutcome, OpenOptions, Outcome};

/// How far a plan's clock may run ahead of the applying machine's (clock skew between CI
/// runners). Beyond it, applying could open a grant before its start.
const MAX_CLOCK_SKEW: SignedDuration = SignedDuration::from_secs(60);

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The clock (`--at`, else now).
    pub at: Timestamp,
    /// Where the audit log goes (`--audit-log`, default `.jit/audit.jsonl` in the config dir).
    pub audit_log: PathBuf,
    /// Actor, plan hash and git commit for the audit lines; its `time` is `at`.
    pub audit: AuditContext,
}

/// What an apply did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApplySummary {
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
    /// `(address, outcome)` of every change that was not applied, in plan order.
    pub failures: Vec<(String, Outcome)>,
    /// The audit log could not be written (the firewall may have changed regardless).
    pub audit_error: Option<String>,
}

impl ApplySummary {
    pub fn ok(&self) -> bool {
        self.failures.is_empty() && self.audit_error.is_none()
    }

    fn record(&mut self, change: &ResourceChange, outcome: &Outcome) {
        match outcome {
            Outcome::Applied => match change.action() {
                Action::Create => self.added += 1,
                Action::Update => self.changed += 1,
                Action::Delete => self.destroyed += 1,
            },
            other => self.failures.push((change.address.clone(), other.clone())),
        }
    }
}

/// Refuses a plan that no longer describes the clock or live state. Reads every NSG the plan
/// was made against.
pub(crate) fn check_fresh(
    policy: &Policy,
    plan: &Plan,
    at: Timestamp,
    providers: &mut Providers<'_>,
) -> Result<(), OpsError> {
    if !plan.errors.is_empty() {
        return Err(OpsError::Invalid(
            "the plan has errors and cannot be applied; fix them and re-run jit plan".into(),
        ));
    }
    if plan.created_at > at + MAX_CLOCK_SKEW {
        return Err(OpsError::Stale(format!(
            "it was made for {}, later than now ({at})",
            plan.created_at
        )));
    }
    if let Some(until) = plan.valid_until {
        if at >= until {
            return Err(OpsError::Stale(format!("it was valid until {until}")));
        }
    }
    let known = policy_nsgs(policy);
    let fingerprinted: HashSet<String> = plan.fingerprints.keys().map(|id| nsg_key(id)).collect();
    for change in &plan.resource_changes {
        if !fingerprinted.contains(&nsg_key(&change.nsg_id)) {
            return Err(OpsError::Invalid(format!(
                "the plan has no fingerprint for NSG `{}`; re-run jit plan",
                change.nsg_id
            )));
        }
    }
    let mut wanted = Vec::new();
    for id in plan.fingerprints.keys() {
        match known.get(&nsg_key(id)) {
            Some(entry) => wanted.push(entry.clone()),
            None => {
                return Err(OpsError::Stale(format!(
                    "NSG `{}` is no longer in the policy",
                    name_from_id(id)
                )))
            }
        }
    }
    let live = providers.read(wanted)?;
    for (id, fingerprint) in &plan.fingerprints {
        let now = live.nsg(id).map(|n| n.fingerprint.as_str());
        if now != Some(fingerprint.as_str()) {
            return Err(OpsError::Stale(format!(
                "NSG `{}` changed since the plan was made",
                name_from_id(id)
            )));
        }
    }
    Ok(())
}

/// Checks the plan is fresh, then applies it provider by provider. `on_outcome` sees each
/// outcome after it is in the audit log (for progress output).
pub fn apply(
    policy: &Policy,
    plan: &Plan,
    opts: &ApplyOptions,
    open: &OpenOptions,
    on_outcome: &OnOutcome<'_>,
) -> Result<ApplySummary, OpsError> {
    let mut providers = Providers::new(policy, open);
    check_fresh(policy, plan, opts.at, &mut providers)?;
    if !plan.has_changes() {
        return Ok(ApplySummary::default());
    }
    let audit = AuditLog::open(&opts.audit_log, opts.audit.clone())?;

    // The provider that serves each NSG today, from the policy (checked fresh above).
    let known = policy_nsgs(policy);
    let mut by_provider: BTreeMap<String, Vec<ResourceChange>> = BTreeMap::new();
    for change in &plan.resource_changes {
        let (address, _) = &known[&nsg_key(&change.nsg_id)];
        if *address != change.provider {
            return Err(OpsError::Stale(format!(
                "NSG `{}` is now served by provider `{address}`, not `{}`",
                name_from_id(&change.nsg_id),
                change.provider
            )));
        }
        by_provider
            .entry(address.clone())
            .or_default()
            .push(change.clone());
    }

    let summary = Mutex::new(ApplySummary::default());
    let reported = Mutex::new(HashSet::new());
    let report = |change: &ResourceChange, outcome: &Outcome| {
        if let Err(e) = audit.record(change, outcome) {
            let mut s = summary.lock().unwrap_or_else(|p| p.into_inner());
            s.audit_error.get_or_insert_with(|| e.to_string());
        }
        reported
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(change.address.clone());
        summary
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(change, outcome);
        on_outcome(change, outcome);
    };
    for (address, changes) in &by_provider {
        let result = providers
            .get(address)
            .and_then(|p| p.apply(changes, &report).map_err(OpsError::from));
        if let Err(e) = result {
            let message = e.to_string();
            for change in changes {
                let seen = reported
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .contains(&change.address);
                if !seen {
                    report(change, &Outcome::Failed(message.clone()));
                }
            }
        }
    }
    Ok(summary.into_inner().unwrap_or_else(|p| p.into_inner()))
}
