//! `apply`: check a plan against the configuration, the clock and live state, then apply its
//! actions through the providers, auditing each outcome.
//!
//! **A saved plan is checked, never trusted** (DESIGN §5b). `jit apply FILE` refuses, with
//! "stale plan: …" and nothing written, a plan made for a later time than now, one whose
//! `valid_until` has passed, one whose `config_digest` is not the configuration's now (or that
//! has none), and one whose NSGs have other fingerprints now. It then derives the plan afresh,
//! as `jit plan` would at this instant with the plan's `--target` names, and applies only when
//! the file holds exactly the derived changes ([`verify::first_difference`]: addresses,
//! actions, every `after` attribute, `valid_until`). What is written, and what the audit log
//! records (request, requester, approvers), comes from the derived plan, never from the file.
//!
//! A plan with errors (the configuration's, or an NSG's) holds only narrowing changes (see
//! `ops::plan`): they are applied, and the summary names the errors, so the run exits 1.
//! Each action is idempotent (a create that finds its rule, a delete that does not), so
//! re-running after a crash converges.
//!
//! **Stale scopes during apply.** Providers hold no state: each batch carries the plan's
//! fingerprints (and, for a plan this run made, when its live state was read:
//! [`Batch::read_at`]), and a provider that finds a scope moved since (its etag changed, or a
//! 412 it cannot explain) reports that scope's changes [`Outcome::Stale`], writing none of them. What
//! follows depends on where the plan came from, which the CLI says through
//! [`ApplyOptions::replan`]:
//!
//! - A saved plan (`replan: None`) is applied exactly or not at all: each stale NSG fails with
//!   "stale plan: re-run jit plan" and the apply exits 1.
//! - A plan this same run just made (`replan: Some(options)`, the options it was made with: the
//!   same clock and `--target` narrowing) is re-planned for the stale NSGs only: re-read, compile
//!   and diff through `ops::plan`, handed to `on_replan` (the CLI prints it as it printed the
//!   first plan), and applied, at most [`MAX_REPLAN_ROUNDS`] times; a scope still stale after
//!   that fails. Changes set aside by a re-plan are not failures: [`ApplySummary::replanned`] keeps them, and the summary and exit code are
//!   those of the re-planned changes.
//!
//! The audit log records what happened: the stale attempt with its own outcome (`skipped` or
//! `failed`) under the first plan's hash, then each re-planned change under its re-plan's hash.
//!
//! The ops layer decides and returns data; the CLI only renders (`on_outcome`, `on_replan`, the
//! summary).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

use crate::live::{name_from_id, scope_key};
use crate::model::Policy;
use crate::ops::audit::{AuditContext, AuditLog};
use crate::ops::config::Loaded;
use crate::ops::plan::{check_targets, plan_with, PlanOptions};
use crate::ops::{config_scopes, planfile, OpsError, Providers};
use crate::plan::{verify, Action, Plan, ResourceChange};
use crate::providers::{Batch, OpenOptions, Outcome};

/// The clock skew jit tolerates, in two places: how far `apply --at` may be from the machine's
/// clock when a provider changes a real firewall (DESIGN §5b: the clock is not an input to a
/// live apply), and how far a saved plan's clock may run ahead of the applying machine's (skew
/// between CI runners; beyond it, applying could open a grant before its start).
pub const MAX_AT_DRIFT: SignedDuration = SignedDuration::from_secs(60);

/// Re-plans of one NSG that keeps changing under the apply, before it fails.
pub const MAX_REPLAN_ROUNDS: usize = 3;

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The clock (`--at`, else now).
    pub at: Timestamp,
    /// The machine's clock, read once by the CLI: `at` may differ from it by at most
    /// [`MAX_AT_DRIFT`] when a provider changes a real firewall ([`check_clock`]).
    pub now: Timestamp,
    /// Where the audit log goes (`--audit-log`, default `.jit/audit.jsonl` in the config dir).
    pub audit_log: PathBuf,
    /// Actor, plan hash and git commit for the audit lines; its `time` is `now` and its `at`
    /// the simulated clock, when `--at` was given.
    pub audit: AuditContext,
    /// The options the plan was made with, when this run made it: NSGs that change under the
    /// apply are re-planned with them. `None` for a saved plan: those NSGs fail as stale.
    pub replan: Option<PlanOptions>,
}

/// Called with each re-plan (round 1, 2, …) of the NSGs that changed, before it is applied.
pub type OnReplan<'a> = dyn Fn(usize, &Plan) + 'a;

/// Sees each change's outcome once it is in the audit log (for progress output). May be called
/// from several threads.
pub type OnApplied<'a> = dyn Fn(&ResourceChange, &Outcome) + Sync + 'a;

/// What an apply did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApplySummary {
    /// Changes applied, by action.
    pub applied: BTreeMap<Action, usize>,
    /// `(address, outcome)` of every change that was not applied, in plan order.
    pub failures: Vec<(String, Outcome)>,
    /// `(address, outcome)` of changes not applied because their NSG changed under the apply,
    /// and re-planned instead: not failures.
    pub replanned: Vec<(String, Outcome)>,
    /// One message per NSG that changed under the apply and was not re-planned (a saved plan,
    /// too many rounds, a re-plan that failed).
    pub stale: Vec<String>,
    /// The audit log could not be written (the firewall may have changed regardless).
    pub audit_error: Option<String>,
    /// The errors of the plan applied: what it could not plan. Only its narrowing changes were
    /// applied; the apply is not a success.
    pub errors: Vec<String>,
}

impl ApplySummary {
    /// Changes applied with `action`.
    pub fn count(&self, action: Action) -> usize {
        self.applied.get(&action).copied().unwrap_or(0)
    }

    pub fn ok(&self) -> bool {
        self.failures.is_empty()
            && self.stale.is_empty()
            && self.audit_error.is_none()
            && self.errors.is_empty()
    }
}

/// Refuses an apply whose clock `at` is more than [`MAX_AT_DRIFT`] from the machine's `now`
/// when any provider it could write through changes a real firewall (a property of the
/// provider kind: azure in either mode, nftables). `targets` narrows to those targets' providers
/// (`--target`); empty means every declared provider. Reads and writes nothing: call it first.
pub fn check_clock(
    policy: &Policy,
    targets: &[String],
    at: Timestamp,
    now: Timestamp,
    dir: &std::path::Path,
) -> Result<(), OpsError> {
    let drift = at.duration_since(now);
    if drift.unsigned_abs() <= MAX_AT_DRIFT.unsigned_abs() {
        return Ok(());
    }
    // With `--target`, the providers of those targets; otherwise every declared provider, so
    // that a target left out by an error (whose NSG is still read and narrowed) counts too.
    let mut live: Vec<String> = Vec::new();
    let decls = policy.providers.iter().filter(|decl| {
        targets.is_empty()
            || policy
                .targets
                .iter()
                .any(|t| targets.contains(&t.name) && t.provider == decl.address())
    });
    for decl in decls {
        let address = format!("`{}`", decl.address());
        if decl.config.changes_real_firewall() && !live.contains(&address) {
            live.push(address);
        }
    }
    if live.is_empty() {
        return Ok(());
    }
    let side = if drift.is_negative() {
        "before"
    } else {
        "after"
    };
    Err(OpsError::Invalid(format!(
        "refusing to apply at `{at}`: it is {} {side} this machine's clock ({now}), and provider \
         {} changes a real firewall\n\
         hint: on a live firewall apply runs at the machine's time: drop `--at`; preview another \
         time with `{}` or `{}`",
        crate::duration::span(drift.abs()),
        live.join(", "),
        super::next::command(dir, &["plan", "--at", &at.to_string()]),
        super::next::command(dir, &["status", "--at", &at.to_string()]),
    )))
}

/// Checks a saved plan against the clock, the configuration and live state, and returns the
/// plan derived now, which is what gets applied (see the module doc).
fn verify_saved(
    config: &Loaded,
    saved: &Plan,
    at: Timestamp,
    open: &OpenOptions,
    providers: &mut Providers<'_>,
) -> Result<Plan, OpsError> {
    if saved.created_at > at.saturating_add(MAX_AT_DRIFT).unwrap_or(Timestamp::MAX) {
        return Err(OpsError::Stale(format!(
            "it was made for {}, later than now ({at})",
            saved.created_at
        )));
    }
    if let Some(until) = saved.valid_until {
        if at >= until {
            return Err(OpsError::Stale(format!("it was valid until {until}")));
        }
    }
    match &saved.config_digest {
        None => {
            return Err(OpsError::Stale(
                "the plan file records no `config_digest`".into(),
            ))
        }
        Some(digest) if *digest != config.digest(&open.config_dir) => {
            return Err(OpsError::Stale(
                "the configuration changed since the plan was made".into(),
            ))
        }
        Some(_) => {}
    }
    check_targets(&config.policy, &saved.targets)?;
    let known = config_scopes(config);
    for id in saved.fingerprints.keys() {
        // Scopes of targets named by their VM are known only from a read: the re-plan below
        // compares them with the saved plan's.
        if !known.contains_key(&scope_key(id)) && !super::vm_targets::any(&config.policy) {
            return Err(OpsError::Stale(format!(
                "{} `{}` is no longer in the policy",
                crate::platform::scope_noun(id),
                name_from_id(id)
            )));
        }
    }
    providers.open_all()?;
    let opts = PlanOptions {
        at,
        targets: saved.targets.clone(),
    };
    let derived = plan_with(config, &opts, open, providers, None)?;
    let now: BTreeMap<String, &String> = derived
        .fingerprints
        .iter()
        .map(|(id, fingerprint)| (scope_key(id), fingerprint))
        .collect();
    // The scopes the plan writes must be exactly as they were. A scope it does not write needs
    // no fingerprint check: the derived plan would hold a change for it if it mattered, and
    // the comparison below refuses that. (Scopes only discovered through a lagging index carry
    // a fingerprint that can move when the index catches up, without anything changing.)
    let written: BTreeSet<String> = saved
        .resource_changes
        .iter()
        .chain(&derived.resource_changes)
        .map(|c| scope_key(&c.scope))
        .collect();
    for (id, fingerprint) in &saved.fingerprints {
        if written.contains(&scope_key(id)) && now.get(&scope_key(id)) != Some(&fingerprint) {
            return Err(OpsError::Stale(format!(
                "{} `{}` changed since the plan was made",
                crate::platform::scope_noun(id),
                name_from_id(id)
            )));
        }
    }
    if let Some(why) = verify::first_difference(saved, &derived) {
        return Err(OpsError::Stale(format!(
            "the plan file does not match what jit would do: {why}"
        )));
    }
    Ok(derived)
}

/// Checks the plan (a saved one against a fresh derivation, see the module doc), then applies
/// it provider by provider, re-planning NSGs that change under it when `opts.replan` allows.
/// `config` is the configuration as loaded now, with [`load_lenient`](crate::ops::config::
/// load_lenient). `on_outcome` sees each outcome after it is in the audit log (for progress
/// output); `on_replan` sees each re-plan before it is applied.
pub fn apply(
    config: &Loaded,
    plan: &Plan,
    opts: &ApplyOptions,
    open: &OpenOptions,
    on_outcome: &OnApplied<'_>,
    on_replan: &OnReplan<'_>,
) -> Result<ApplySummary, OpsError> {
    let policy = &config.policy;
    let targets = opts
        .replan
        .as_ref()
        .map(|o| o.targets.clone())
        .unwrap_or_default();
    check_clock(policy, &targets, opts.at, opts.now, &open.config_dir)?;
    let mut providers = Providers::new(policy, open).placed(&config.sources);
    let plan = match &opts.replan {
        None => verify_saved(config, plan, opts.at, open, &mut providers)?,
        Some(_) => plan.clone(),
    };
    let errors: Vec<String> = plan.errors.iter().map(|e| e.message.clone()).collect();
    if !plan.has_changes() {
        return Ok(ApplySummary {
            errors,
            ..ApplySummary::default()
        });
    }
    let audit = AuditLog::open(&opts.audit_log, opts.audit.clone())?;
    let mut summary = ApplySummary {
        errors,
        ..ApplySummary::default()
    };
    let mut round = Round {
        plan,
        hash: opts.audit.plan_hash.clone(),
    };
    // A plan this run made (and its re-plans) was read after `opts.now`: providers may write
    // from that read. A saved plan's scopes are read again before they are written.
    let read_at = opts.replan.as_ref().map(|_| opts.now);
    for number in 0.. {
        let times = (opts.now, read_at);
        let outcome = apply_round(config, &round, times, &audit, &mut providers, on_outcome)?;
        let stale = outcome.stale;
        let mut failed_replan: BTreeMap<String, String> = BTreeMap::new();
        let mut next = None;
        match &opts.replan {
            None => {
                for key in &stale {
                    summary.stale.push(format!(
                        "stale plan: re-run jit plan ({} `{}` changed since the plan was made)",
                        crate::platform::scope_noun(key),
                        scope_name(&round.plan, key)
                    ));
                }
            }
            Some(_) if stale.is_empty() => {}
            Some(_) if number == MAX_REPLAN_ROUNDS => {
                for key in &stale {
                    summary.stale.push(format!(
                        "{} `{}` changed under jit in each of {} re-plans; giving up: re-run \
                         jit apply",
                        crate::platform::scope_noun(key),
                        scope_name(&round.plan, key),
                        MAX_REPLAN_ROUNDS
                    ));
                }
            }
            Some(plan_opts) => {
                match plan_with(config, plan_opts, open, &mut providers, Some(&stale)) {
                    Ok(replan) => {
                        for error in &replan.errors {
                            // The configuration's errors are in the summary already.
                            if let Some(id) = &error.scope {
                                failed_replan.insert(scope_key(id), error.message.clone());
                            }
                        }
                        next = Some(replan);
                    }
                    Err(e) => {
                        for key in &stale {
                            failed_replan.insert(key.clone(), e.to_string());
                        }
                    }
                }
            }
        }
        for (key, why) in &failed_replan {
            summary.stale.push(format!(
                "{} `{}` changed under jit and could not be re-planned: {why}",
                crate::platform::scope_noun(key),
                scope_name(&round.plan, key)
            ));
        }
        summary.audit_error = summary.audit_error.take().or(outcome.audit_error);
        for (change, result) in outcome.outcomes {
            match result {
                Outcome::Applied => *summary.applied.entry(change.action()).or_default() += 1,
                other => {
                    let key = scope_key(&change.scope);
                    let entry = (change.address.clone(), other);
                    if next.is_some() && stale.contains(&key) && !failed_replan.contains_key(&key) {
                        summary.replanned.push(entry);
                    } else {
                        summary.failures.push(entry);
                    }
                }
            }
        }
        let Some(mut replan) = next else { break };
        replan
            .resource_changes
            .retain(|c| !failed_replan.contains_key(&scope_key(&c.scope)));
        replan.errors.clear();
        on_replan(number + 1, &replan);
        round = Round {
            hash: planfile::hash(&planfile::to_json(&replan)),
            plan: replan,
        };
    }
    Ok(summary)
}

/// One pass of writes: the plan and its hash for the audit log.
struct Round {
    plan: Plan,
    hash: String,
}

/// What one pass did, in the order outcomes arrived.
struct RoundOutcome {
    outcomes: Vec<(ResourceChange, Outcome)>,
    /// Keys of the scopes the providers found stale.
    stale: BTreeSet<String>,
    audit_error: Option<String>,
}

/// `times`: the machine's clock and when the plan's live state was read (see [`Batch`]).
fn apply_round(
    config: &Loaded,
    round: &Round,
    (now, read_at): (Timestamp, Option<Timestamp>),
    audit: &AuditLog,
    providers: &mut Providers<'_>,
    on_outcome: &OnApplied<'_>,
) -> Result<RoundOutcome, OpsError> {
    // The provider that serves each scope today, from the configuration (checked above).
    let known = config_scopes(config);
    let mut by_provider: BTreeMap<String, Vec<ResourceChange>> = BTreeMap::new();
    for change in &round.plan.resource_changes {
        let noun = crate::platform::scope_noun(&change.scope);
        let by_vm = super::vm_targets::provider_of(&config.policy, change);
        let Some(address) = known
            .get(&scope_key(&change.scope))
            .map(|(a, _)| a)
            .or(by_vm.as_ref())
        else {
            return Err(OpsError::Stale(format!(
                "{noun} `{}` is no longer in the policy",
                name_from_id(&change.scope)
            )));
        };
        if *address != change.provider {
            return Err(OpsError::Stale(format!(
                "{noun} `{}` is now served by provider `{address}`, not `{}`",
                name_from_id(&change.scope),
                change.provider
            )));
        }
        by_provider
            .entry(address.clone())
            .or_default()
            .push(change.clone());
    }

    let outcomes = Mutex::new(Vec::new());
    let audit_error = Mutex::new(None);
    let reported = Mutex::new(HashSet::new());
    // One write's outcomes: in the audit log (one sync) before anything else hears of them.
    let report = |written: &[(&ResourceChange, &Outcome)]| {
        if let Err(e) = audit.record_all(written, &round.hash) {
            lock(&audit_error).get_or_insert_with(|| e.to_string());
        }
        for (change, outcome) in written {
            lock(&reported).insert(change.address.clone());
            lock(&outcomes).push(((*change).clone(), (*outcome).clone()));
            on_outcome(change, outcome);
        }
    };
    let batches: Vec<(String, Batch<'_>)> = by_provider
        .iter()
        .map(|(address, changes)| {
            let batch = Batch {
                changes,
                fingerprints: &round.plan.fingerprints,
                now,
                read_at,
            };
            (address.clone(), batch)
        })
        .collect();
    for ((_, batch), result) in batches.iter().zip(providers.apply_all(&batches, &report)) {
        if let Err(e) = result {
            let failed = Outcome::failed(e.to_string());
            let unreported: Vec<&ResourceChange> = batch
                .changes
                .iter()
                .filter(|c| !lock(&reported).contains(&c.address))
                .collect();
            let written: Vec<_> = unreported.into_iter().map(|c| (c, &failed)).collect();
            report(&written);
        }
    }
    let outcomes = outcomes.into_inner().unwrap_or_else(|p| p.into_inner());
    let stale = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Stale(_)))
        .map(|(c, _)| scope_key(&c.scope))
        .collect();
    Ok(RoundOutcome {
        outcomes,
        stale,
        audit_error: audit_error.into_inner().unwrap_or_else(|p| p.into_inner()),
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The scope's name, from the plan's spelling of its id.
fn scope_name(plan: &Plan, key: &str) -> String {
    plan.fingerprints
        .keys()
        .find(|id| scope_key(id) == key)
        .map_or_else(
            || name_from_id(key).to_string(),
            |id| name_from_id(id).to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AzureMode, ProviderConfig, ProviderDecl, Target};
    use std::path::Path;

    fn policy() -> Policy {
        let target = |name: &str, provider: &str| {
            Target {
            name: name.into(),
            provider: provider.into(),
            vm_id: None,
            nsg_id: Some(format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/{name}")),
            destination: "*".into(),
            ports: vec![],
        }
        };
        Policy {
            providers: vec![
                ProviderDecl {
                    name: "lab".into(),
                    config: ProviderConfig::Snapshot {
                        path: "live.json".into(),
                    },
                },
                ProviderDecl {
                    name: "prod".into(),
                    config: ProviderConfig::Azure {
                        subscription_id: "s".into(),
                        mode: AzureMode::Defender,
                        endpoint: None,
                    },
                },
            ],
            targets: vec![
                target("rehearsal", "snapshot.lab"),
                target("web-1", "azure.prod"),
            ],
            ..Policy::default()
        }
    }

    #[test]
    fn the_clock_is_the_machines_on_a_live_firewall() {
        let now: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let at = |s: i64| now + SignedDuration::from_secs(s);
        let p = policy();
        // Within a minute either way: clock skew, accepted.
        check_clock(&p, &[], at(60), now, Path::new(".")).unwrap();
        check_clock(&p, &[], at(-60), now, Path::new(".")).unwrap();
        // Beyond it, refused for the azure target (Defender mode too), naming the provider.
        for s in [61, -61, -86_400 * 6] {
            let err = check_clock(&p, &[], at(s), now, Path::new("."))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("provider `azure.prod` changes a real firewall"),
                "{err}"
            );
            assert!(!err.contains("snapshot.lab"), "{err}");
        }
        // Narrowed to the snapshot target, a rehearsal at any time.
        check_clock(
            &p,
            &["rehearsal".into()],
            at(-86_400 * 6),
            now,
            Path::new("."),
        )
        .unwrap();
        assert!(check_clock(&p, &["web-1".into()], at(3600), now, Path::new(".")).is_err());
    }
}
