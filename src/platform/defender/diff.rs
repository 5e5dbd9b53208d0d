//! Pure: the plan of Defender documents. Per desired document, the reconcile's
//! [`plan_scope`](super::reconcile::plan_scope) against the
//! document as read, turned into the core's changes: a VM entry to create or put back
//! (`jit_defender_vm_policy`), a grant to initiate (`jit_defender_initiate`). Foreign VM
//! entries are never changed; a grant that starts later waits; an initiated one is not
//! initiated again; one Defender still holds open after the repository's grant ended (or
//! went) is a warning (`E105`): no action can close it.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::reconcile::{plan_scope, DefenderChange};
use super::schema::{initiate_resource, vm_resource};
use super::{policy, policy_scope, Desired};
use crate::live::{name_from_id, scope_key, Live};
use crate::model::Policy as Config;
use crate::plan::{
    Action, ActionReason, Change, PlanError, PlanWarning, PriorResource, RequestInfo,
    ResourceChange,
};

/// What the Defender documents add to a plan.
#[derive(Debug, Default)]
pub struct Part {
    pub changes: Vec<ResourceChange>,
    pub prior: Vec<PriorResource>,
    pub errors: Vec<PlanError>,
    pub fingerprints: BTreeMap<String, String>,
    /// Grants Defender holds open that the repository no longer has active (`E105`).
    pub warnings: Vec<PlanWarning>,
}

/// The resource name of a grant to initiate on a VM.
pub fn initiate_name(vm_id: &str, request_id: &str) -> String {
    format!("{}/initiate/{request_id}", name_from_id(vm_id))
}

pub fn diff(config: &Config, desired: &Desired, live: &Live, now: Timestamp) -> Part {
    let mut part = Part::default();
    part.errors
        .extend(desired.errors.iter().map(|message| PlanError {
            scope: None,
            message: message.clone(),
        }));
    for wanted in &desired.policies {
        let Some(scope) = live.scope(&wanted.id) else {
            let message = match live.failed.get(&scope_key(&wanted.id)) {
                Some(why) => format!(
                    "cannot read JIT policy `{}`: {why}",
                    name_from_id(&wanted.id)
                ),
                None => format!("JIT policy `{}` was not read", wanted.id),
            };
            part.errors.push(PlanError {
                scope: Some(wanted.id.clone()),
                message,
            });
            continue;
        };
        let Some(live_policy) = policy(scope) else {
            part.errors.push(PlanError {
                scope: Some(wanted.id.clone()),
                message: format!("`{}` is not a JIT policy", wanted.id),
            });
            continue;
        };
        let Some(place) = policy_scope(
            &wanted.id,
            live_policy.location.as_deref().unwrap_or_default(),
        ) else {
            part.errors.push(PlanError {
                scope: Some(wanted.id.clone()),
                message: format!("`{}` is not a JIT policy id", wanted.id),
            });
            continue;
        };
        part.fingerprints
            .insert(wanted.id.clone(), scope.fingerprint.clone());
        let scope_name = scope.shown_name().to_string();
        if let Some(doc) = &live_policy.document {
            for vm in &wanted.scope.vms {
                if let Some(Ok(entry)) = doc.vm(&vm.entry.id) {
                    part.prior.push(PriorResource {
                        address: format!("{scope_name}/{}", name_from_id(&entry.id)),
                        scope: wanted.id.clone(),
                        resource: vm_resource(&entry),
                    });
                }
            }
        }
        let planned = plan_scope(place, live_policy.document.clone(), &wanted.scope, now);
        // Past its end Azure is closing it already: nothing to warn about.
        let still_open =
            |o: &&super::reconcile::OpenGrant| !o.in_policy && o.end.is_none_or(|e| e > now);
        for open in planned.open.iter().filter(still_open) {
            let until = open
                .end
                .map_or_else(|| "its end".to_string(), |e| e.to_string());
            part.warnings.push(PlanWarning {
                code: crate::lang::codes::DEFENDER_STILL_OPEN.to_string(),
                scope: wanted.id.clone(),
                resource: initiate_name(&open.vm_id, &open.request_id),
                message: format!(
                    "request `{}` is still open on VM `{}` port {} until {until}, though the repository's grant has ended or is gone: Azure closes it then, and Defender's API cannot close it earlier",
                    open.request_id,
                    name_from_id(&open.vm_id),
                    open.port,
                ),
            });
        }
        for change in planned.changes {
            let (name, target, action, before, after, action_reason, reason, request) = match change
            {
                DefenderChange::SetVm {
                    target,
                    before,
                    after,
                    differences,
                } => {
                    let vm = name_from_id(&after.id).to_string();
                    let (action, action_reason, reason) = match &before {
                        None => (
                            Action::Create,
                            ActionReason::LockDown,
                            format!("target `{target}` puts VM `{vm}` under just-in-time access"),
                        ),
                        Some(_) => (
                            Action::Update,
                            ActionReason::Drifted,
                            format!("changed outside jit: {}", differences.join("; ")),
                        ),
                    };
                    (
                        vm,
                        target,
                        action,
                        before.as_ref().map(vm_resource),
                        Some(vm_resource(&after)),
                        action_reason,
                        reason,
                        None,
                    )
                }
                DefenderChange::Initiate { target, grant } => {
                    let request =
                        config
                            .grants
                            .iter()
                            .find(|g| g.id == grant.request_id)
                            .map(|g| RequestInfo {
                                id: g.id.clone(),
                                requester: g.requester.clone(),
                                approvers: g.approvers.clone(),
                                justification: g.justification.clone(),
                            });
                    let reason = format!(
                            "request {} active until {}; Azure enforces the expiry, and this API cannot revoke it early",
                            grant.request_id, grant.end
                        );
                    (
                        initiate_name(&grant.vm_id, &grant.request_id),
                        target,
                        Action::Initiate,
                        None,
                        Some(initiate_resource(&grant)),
                        ActionReason::RequestActive,
                        reason,
                        request,
                    )
                }
            };
            part.changes.push(ResourceChange {
                address: format!("{scope_name}/{name}"),
                provider: wanted.provider.clone(),
                scope: wanted.id.clone(),
                name,
                target: Some(target),
                change: Change {
                    actions: vec![action],
                    before,
                    after,
                },
                action_reason,
                reason,
                request,
            });
        }
    }
    part
}
