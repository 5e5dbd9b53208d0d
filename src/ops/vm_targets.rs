//! Targets named by their VM, before compile: a target of an azure provider in mode `nsg` with
//! `vm_id` and no `nsg_id` is resolved through its provider (VM → NICs → subnets) into one
//! target per NSG that filters the VM — the NIC's and each subnet's — so its lock-downs and
//! allows go into each (inbound traffic must pass both). Its `destination` is the VM's private
//! address unless the target writes one. A VM that cannot be resolved (missing, no NSG at all,
//! several private addresses and no `destination`) is a plan error: the plan then keeps only
//! narrowing changes, as for any error.

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
/// is one of the VM's NSGs, known only from the read that planned it).
pub(crate) fn provider_of(policy: &Policy, change: &crate::plan::ResourceChange) -> Option<String> {
    let target = policy.target(change.target.as_deref()?)?;
    named_by_vm(policy, target).then(|| target.provider.clone())
}

/// The policy with every target named by its VM replaced by one target per NSG of the VM;
/// `None` when no target is named so. Errors name the target.
pub(crate) fn expand(
    policy: &Policy,
    providers: &mut Providers<'_>,
) -> Result<Option<(Policy, Vec<PlanError>)>, OpsError> {
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
    let policy = Policy {
        targets,
        ..policy.clone()
    };
    Ok(Some((policy, errors)))
}
