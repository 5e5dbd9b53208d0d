//! Targets named by their VM, before compile: a target of an azure provider in mode `nsg` with
//! `vm_id` and no `nsg_id` is resolved through its provider (VM → NICs → subnets) into one
//! target per NSG that filters the VM — the NIC's and each subnet's — so its lock-downs and
//! allows go into each (inbound traffic must pass both). Its `destination` is the VM's private
//! address unless the target writes one. A VM that cannot be resolved (missing, no NSG at all,
//! several private addresses and no `destination`) is a plan error: the plan then keeps only
//! narrowing changes, as for any error.
//!
//! **Revoke always** (DESIGN §5b) also for a VM that cannot be resolved: its NSGs are found
//! without it, as the NSGs of the provider's subscription that hold a rule jit manages under
//! one of the target's names (a lock-down `<prefix>-deny-<target>-<port>`, or an allow of one
//! of its requests). jit wrote those rules there when it last could read the VM, so they are
//! where its access is open. (A VM read but left out for another reason, several private
//! addresses and no `destination`, gives its NSGs directly.) Each such NSG is planned like the
//! scope of a target left out by
//! a configuration error: what no valid target explains is closed (allows deleted; lock-downs
//! stay, deleting them being widening). It costs one paged list of the subscription's NSGs,
//! and only when some VM could not be resolved.

use crate::model::{AzureMode, Policy, ProviderConfig, Target};
use crate::ops::{OpsError, Providers};
use crate::plan::PlanError;

/// True for a target this step resolves.
fn named_by_vm(policy: &Policy, t: &Target) -> bool {
    t.nsg_id.is_none()
        && t.vm_id.is_some()
        && matches!(
            policy.provider(&t.provider).map(|p| &p.config),
            Some(ProviderConfig::Azure {
                mode: AzureMode::Nsg,
                ..
            })
        )
}

/// True when some target is named by its VM: its scopes are known only once the VM is read.
pub(crate) fn any(policy: &Policy) -> bool {
    policy.targets.iter().any(|t| named_by_vm(policy, t))
}

/// The provider that serves `change` when it belongs to a target named by its VM (its scope
/// is one of the VM's NSGs, known only from the read that planned it). A change that names no
/// target (a revocation whose request is gone) in such an NSG is served by the provider it
/// says, when that provider has targets named by their VM.
pub(crate) fn provider_of(policy: &Policy, change: &crate::plan::ResourceChange) -> Option<String> {
    match change.target.as_deref() {
        Some(name) => {
            let target = policy.target(name)?;
            named_by_vm(policy, target).then(|| target.provider.clone())
        }
        None => policy
            .targets
            .iter()
            .any(|t| t.provider == change.provider && named_by_vm(policy, t))
            .then(|| change.provider.clone()),
    }
}

/// A policy whose targets named by their VM are resolved.
pub(crate) struct Expanded {
    /// Every target named by its VM replaced by one target per NSG of the VM.
    pub policy: Policy,
    /// Why a target was left out; each names the target.
    pub errors: Vec<PlanError>,
    /// `(provider, NSG id)`: the NSGs holding rules of targets left out because their VM
    /// could not be resolved (see the module doc).
    pub orphans: Vec<(String, String)>,
}

/// The policy with every target named by its VM replaced by one target per NSG of the VM;
/// `None` when no target is named so.
pub(crate) fn expand(
    policy: &Policy,
    providers: &mut Providers<'_>,
) -> Result<Option<Expanded>, OpsError> {
    if !policy.targets.iter().any(|t| named_by_vm(policy, t)) {
        return Ok(None);
    }
    let mut errors = Vec::new();
    let mut targets = Vec::with_capacity(policy.targets.len());
    let mut addresses: Vec<&str> = policy
        .targets
        .iter()
        .filter(|t| named_by_vm(policy, t))
        .map(|t| t.provider.as_str())
        .collect();
    addresses.sort_unstable();
    addresses.dedup();
    let mut resolved = std::collections::HashMap::new();
    for address in addresses {
        let ids: Vec<String> = policy
            .targets
            .iter()
            .filter(|t| t.provider == address && named_by_vm(policy, t))
            .filter_map(|t| t.vm_id.clone())
            .collect();
        let provider = providers.get(address)?;
        let Some(results) = provider.resolve_vms(&ids) else {
            for id in &ids {
                errors.push(PlanError {
                    scope: None,
                    message: format!(
                        "provider `{address}` cannot resolve VM `{id}`: this is a bug in jit"
                    ),
                });
            }
            continue;
        };
        for (id, result) in ids.into_iter().zip(results) {
            resolved.insert((address.to_string(), id), result.map_err(|e| e.to_string()));
        }
    }
    let mut unresolved: Vec<&Target> = Vec::new();
    let mut read_orphans: Vec<(String, String)> = Vec::new();
    for target in &policy.targets {
        if !named_by_vm(policy, target) {
            targets.push(target.clone());
            continue;
        }
        let vm_id = target.vm_id.clone().unwrap_or_default();
        let key = (target.provider.clone(), vm_id.clone());
        let net = match resolved.get(&key) {
            Some(Ok(net)) => net,
            Some(Err(e)) => {
                errors.push(PlanError {
                    scope: None,
                    message: format!("target `{}`: {e}", target.name),
                });
                unresolved.push(target);
                continue;
            }
            None => continue,
        };
        let destination = if target.destination != "*" {
            target.destination.clone()
        } else {
            match net.single_destination() {
                Some(d) => d,
                None => {
                    let all = net
                        .private_ips
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("`, `");
                    errors.push(PlanError {
                        scope: None,
                        message: format!(
                            "target `{}`: VM `{vm_id}` has several private addresses (`{all}`); set the target's `destination` to the one its ports listen on",
                            target.name
                        ),
                    });
                    // Its NSGs are known: what it opened there is still closed.
                    read_orphans.extend(
                        net.nsg_ids
                            .iter()
                            .map(|id| (target.provider.clone(), id.clone())),
                    );
                    continue;
                }
            }
        };
        for nsg in &net.nsg_ids {
            let mut t = target.clone();
            t.nsg_id = Some(nsg.clone());
            t.destination = destination.clone();
            targets.push(t);
        }
    }
    let mut orphans = orphan_nsgs(policy, &unresolved, providers, &mut errors)?;
    orphans.extend(read_orphans);
    let policy = Policy {
        targets,
        ..policy.clone()
    };
    Ok(Some(Expanded {
        policy,
        errors,
        orphans,
    }))
}

/// The NSGs holding rules of `unresolved` targets, found through each one's provider by the
/// names jit gives their rules: lock-downs of every port, allows of every request for them.
fn orphan_nsgs(
    policy: &Policy,
    unresolved: &[&Target],
    providers: &mut Providers<'_>,
    errors: &mut Vec<PlanError>,
) -> Result<Vec<(String, String)>, OpsError> {
    use crate::platform::nsg::names::{allow_rule_name, deny_rule_name};
    let prefix = &policy.settings.rule_prefix;
    let mut by_provider: std::collections::BTreeMap<&str, Vec<&Target>> = Default::default();
    for t in unresolved {
        by_provider.entry(t.provider.as_str()).or_default().push(t);
    }
    let mut out = Vec::new();
    for (address, targets) in by_provider {
        let mut names = Vec::new();
        for t in &targets {
            names.extend(
                t.ports
                    .iter()
                    .map(|p| deny_rule_name(prefix, &t.name, &p.name)),
            );
            for g in policy.grants.iter().filter(|g| g.target == t.name) {
                names.extend(g.ports.iter().map(|p| allow_rule_name(prefix, &g.id, p)));
            }
        }
        let provider = providers.get(address)?;
        match provider.nsgs_holding(prefix, &names) {
            Some(Ok(nsgs)) => out.extend(nsgs.into_iter().map(|id| (address.to_string(), id))),
            Some(Err(e)) => {
                for t in &targets {
                    errors.push(PlanError {
                        scope: None,
                        message: format!(
                            "target `{}`: cannot look for the NSGs holding its rules: {e}",
                            t.name
                        ),
                    });
                }
            }
            None => {}
        }
    }
    Ok(out)
}
