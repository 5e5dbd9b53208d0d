//! Desired against live for Defender mode, pure: from the policy (targets of `mode =
//! "defender"` providers, their grants, the clock) and each VM's location, the scopes (one
//! policy document each) with their typed VM entries and grants ([`desired`]); then, per scope,
//! what to change given the document as read ([`plan_scope`]):
//!
//! - a VM entry jit manages (a target names the VM) that is missing or means something else
//!   is a [`DefenderChange::SetVm`]; entries of VMs no target names are foreign and kept;
//! - an active grant whose ports Defender has not initiated yet is a
//!   [`DefenderChange::Initiate`] (`endTimeUtc` = the grant's end). Defender enforces the
//!   end; this API cannot close a request early, so a grant removed from the repository stays
//!   open until then ([`ScopePlan::open`] lists what is open). A grant that starts later waits
//!   ([`ScopePlan::waiting`]); a grant Defender closed (expired, or superseded by a newer
//!   request for the same port) is not initiated again.
//!
//! The adapter to the core turns a [`ScopePlan`] into the core's scope and actions; the
//! provider applies it with [`super::write_policy`] and [`super::initiate`].

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::policy::{PolicyDocument, VmEntry};
use super::requests::{grant_state, GrantState, Initiate};
use super::scope::{DefenderError, PolicyScope};
use crate::model::{AzureMode, Policy, ProviderConfig};

/// One VM entry jit manages.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredVm {
    pub target: String,
    pub entry: VmEntry,
}

/// One grant on one VM, with the port numbers it opens.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredGrant {
    pub target: String,
    pub grant: Initiate,
    pub start: Timestamp,
}

/// What one policy document should hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DesiredScope {
    pub vms: Vec<DesiredVm>,
    pub grants: Vec<DesiredGrant>,
}

/// The source as Defender writes it: `*` for a whole family, a bare address for one host.
fn source_text(net: &ipnet::IpNet) -> String {
    if net.prefix_len() == 0 {
        "*".to_string()
    } else if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// The scopes of every target of a Defender-mode provider named `provider` (its address),
/// with their VM entries and grants. `location(vm_id)` is the VM's location as ARM gives it
/// (`None`: not read; the target is left out and named in the error list).
pub fn desired(
    policy: &Policy,
    provider: &str,
    location: &dyn Fn(&str) -> Option<String>,
) -> (BTreeMap<PolicyScope, DesiredScope>, Vec<DefenderError>) {
    let mut scopes: BTreeMap<PolicyScope, DesiredScope> = BTreeMap::new();
    let mut errors = Vec::new();
    let defender = policy.provider(provider).is_some_and(|p| {
        matches!(
            p.config,
            ProviderConfig::Azure {
                mode: AzureMode::Defender,
                ..
            }
        )
    });
    if !defender {
        return (scopes, errors);
    }
    let name = policy.policy_name(provider);
    for target in policy.targets.iter().filter(|t| t.provider == provider) {
        let Some(vm_id) = &target.vm_id else { continue };
        let Some(loc) = location(vm_id) else {
            errors.push(DefenderError::Invalid(format!(
                "the location of VM `{vm_id}` (target `{}`) is not known",
                target.name
            )));
            continue;
        };
        let Some(scope) = PolicyScope::for_vm(vm_id, &loc, name) else {
            errors.push(DefenderError::Invalid(format!(
                "`{vm_id}` (target `{}`) is not a virtual machine id",
                target.name
            )));
            continue;
        };
        let entry = match VmEntry::desired(vm_id, &target.ports) {
            Ok(e) => e,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let slot = scopes.entry(scope).or_default();
        slot.vms.push(DesiredVm {
            target: target.name.clone(),
            entry,
        });
        for g in policy.grants.iter().filter(|g| g.target == target.name) {
            let ports: Vec<u16> = g
                .ports
                .iter()
                .filter_map(|p| target.port(p).map(|p| p.number))
                .collect();
            slot.grants.push(DesiredGrant {
                target: target.name.clone(),
                start: g.start,
                grant: Initiate {
                    vm_id: vm_id.clone(),
                    ports,
                    end: g.end(),
                    source: source_text(&g.source),
                    request_id: g.id.clone(),
                    justification: g.justification.clone(),
                },
            });
        }
    }
    (scopes, errors)
}

/// One change to one scope.
#[derive(Debug, Clone, PartialEq)]
pub enum DefenderChange {
    /// Create or replace the VM's entry in the document.
    SetVm {
        target: String,
        /// The typed entry as read (`None`: the VM is not in the document).
        before: Option<VmEntry>,
        after: VmEntry,
        /// What differs, in words (empty for a new entry).
        differences: Vec<String>,
    },
    /// `POST …/initiate` for a grant.
    Initiate { target: String, grant: Initiate },
}

/// A grant Defender has opened and will close itself.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenGrant {
    pub request_id: String,
    pub vm_id: String,
    pub port: u16,
    pub end: Option<Timestamp>,
    /// False when the repository no longer has the grant (or it is no longer active): it is
    /// still open, because Defender cannot close it early.
    pub in_policy: bool,
}

/// What to do to one policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopePlan {
    pub scope: PolicyScope,
    /// The document as read: the PUT happens only while it is still this.
    pub read: Option<PolicyDocument>,
    /// The document to write when a [`DefenderChange::SetVm`] is planned.
    pub next: PolicyDocument,
    pub changes: Vec<DefenderChange>,
    /// Grants that start later: request id and start.
    pub waiting: Vec<(String, Timestamp)>,
    pub open: Vec<OpenGrant>,
    /// Entries jit could not read as a JIT VM entry (drift it does not understand); their
    /// VMs are set anew.
    pub unreadable: Vec<String>,
}

impl ScopePlan {
    /// True when applying has nothing to do.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// True when the document must be written.
    pub fn writes_document(&self) -> bool {
        self.changes
            .iter()
            .any(|c| matches!(c, DefenderChange::SetVm { .. }))
    }
}

/// Plans one scope against the document as read (`None`: no policy yet), at `now`.
pub fn plan_scope(
    scope: PolicyScope,
    read: Option<PolicyDocument>,
    desired: &DesiredScope,
    now: Timestamp,
) -> ScopePlan {
    let mut next = read.clone().unwrap_or_else(PolicyDocument::empty);
    let mut changes = Vec::new();
    let mut unreadable = Vec::new();
    for vm in &desired.vms {
        let before = match read.as_ref().and_then(|d| d.vm(&vm.entry.id)) {
            None => None,
            Some(Ok(entry)) => Some(entry),
            Some(Err(_)) => {
                unreadable.push(vm.entry.id.clone());
                None
            }
        };
        let differences = before
            .as_ref()
            .map(|b| vm.entry.differences(b))
            .unwrap_or_default();
        if before.is_none() || !differences.is_empty() {
            next.set_vm(&vm.entry);
            changes.push(DefenderChange::SetVm {
                target: vm.target.clone(),
                before,
                after: vm.entry.clone(),
                differences,
            });
        }
    }
    let mut waiting = Vec::new();
    let mut open = Vec::new();
    let empty = PolicyDocument::empty();
    let doc = read.as_ref().unwrap_or(&empty);
    for g in &desired.grants {
        let active = g.start <= now && now < g.grant.end;
        if g.start > now {
            waiting.push((g.grant.request_id.clone(), g.start));
            continue;
        }
        let mut to_open = Vec::new();
        for &port in &g.grant.ports {
            match grant_state(doc, &g.grant.request_id, &g.grant.vm_id, port) {
                GrantState::NotInitiated if active => to_open.push(port),
                GrantState::NotInitiated | GrantState::Closed { .. } => {}
                GrantState::Open { end } => open.push(OpenGrant {
                    request_id: g.grant.request_id.clone(),
                    vm_id: g.grant.vm_id.clone(),
                    port,
                    end,
                    in_policy: active,
                }),
            }
        }
        if !to_open.is_empty() {
            let mut grant = g.grant.clone();
            grant.ports = to_open;
            changes.push(DefenderChange::Initiate {
                target: g.target.clone(),
                grant,
            });
        }
    }
    // Grants of jit's still open in the document that the repository no longer has.
    for (request_id, vm_id, port, end) in open_requests_of_jit(doc, now) {
        let known = desired.grants.iter().any(|g| {
            g.grant.request_id == request_id && g.grant.vm_id.eq_ignore_ascii_case(&vm_id)
        });
        if !known {
            open.push(OpenGrant {
                request_id,
                vm_id,
                port,
                end,
                in_policy: false,
            });
        }
    }
    ScopePlan {
        scope,
        read,
        next,
        changes,
        waiting,
        open,
        unreadable,
    }
}

/// Every (request id, VM, port, end) of jit's that the document shows open at `now`.
fn open_requests_of_jit(
    doc: &PolicyDocument,
    now: Timestamp,
) -> Vec<(String, String, u16, Option<Timestamp>)> {
    let mut out = Vec::new();
    for request in doc.requests_raw() {
        let Some(id) = request
            .get("justification")
            .and_then(serde_json::Value::as_str)
            .and_then(super::requests::request_id_of)
        else {
            continue;
        };
        for vm in request
            .get("virtualMachines")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
        {
            let vm_id = vm
                .get("id")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default();
            for port in vm
                .get("ports")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(number) = port
                    .get("number")
                    .and_then(serde_json::Value::as_u64)
                    .and_then(|n| u16::try_from(n).ok())
                else {
                    continue;
                };
                if let GrantState::Open { end } = grant_state(doc, id, vm_id, number) {
                    if end.is_none_or(|e| e > now)
                        && !out.iter().any(|(i, v, p, _): &(String, String, u16, _)| {
                            i == id && v.eq_ignore_ascii_case(vm_id) && *p == number
                        })
                    {
                        out.push((id.to_string(), vm_id.to_string(), number, end));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::{t, VM};
    use super::*;
    use serde_json::json;

    fn policy(policy_name: Option<&str>) -> Policy {
        let mut p = super::super::tests::config("2026-12-01T12:00:00Z");
        if let Some(name) = policy_name {
            p.settings
                .policy_names
                .insert("azure.sec".into(), name.into());
        }
        p
    }

    fn one_scope(p: &Policy) -> (PolicyScope, DesiredScope) {
        let (scopes, errors) = desired(p, "azure.sec", &|_| Some("West Europe".into()));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(scopes.len(), 1);
        scopes.into_iter().next().unwrap()
    }

    #[test]
    fn the_scope_is_the_vms_group_and_location_under_the_policy_name() {
        let (scope, want) = one_scope(&policy(None));
        assert_eq!(scope.name, "default");
        assert_eq!(scope.location, "westeurope");
        assert_eq!(scope.resource_group, "rg");
        assert_eq!(want.grants[0].grant.ports, [22]);
        assert_eq!(want.grants[0].grant.source, "10.0.0.0/8");
        assert_eq!(want.grants[0].grant.end, t("2026-12-01T12:30:00Z"));
        let (scope, _) = one_scope(&policy(Some("prod-jit")));
        assert_eq!(scope.name, "prod-jit");
        // Not a Defender provider: nothing.
        let (none, _) = desired(&policy(None), "azure.other", &|_| Some("x".into()));
        assert!(none.is_empty());
    }

    #[test]
    fn a_new_policy_sets_the_vm_and_initiates_the_active_grant() {
        let (scope, want) = one_scope(&policy(None));
        let plan = plan_scope(scope, None, &want, t("2026-12-01T12:05:00Z"));
        assert!(plan.writes_document());
        assert!(matches!(
            &plan.changes[0],
            DefenderChange::SetVm { before: None, .. }
        ));
        assert!(
            matches!(&plan.changes[1], DefenderChange::Initiate { grant, .. } if grant.ports == [22])
        );
        assert_eq!(plan.next.vm_ids(), [VM]);
    }

    #[test]
    fn a_future_grant_waits_and_an_ended_one_is_nothing() {
        let (scope, want) = one_scope(&policy(None));
        let early = plan_scope(scope.clone(), None, &want, t("2026-12-01T11:00:00Z"));
        assert_eq!(
            early.waiting,
            [("INC-1".to_string(), t("2026-12-01T12:00:00Z"))]
        );
        assert!(!early
            .changes
            .iter()
            .any(|c| matches!(c, DefenderChange::Initiate { .. })));
        let late = plan_scope(scope, None, &want, t("2026-12-01T13:00:00Z"));
        assert!(late.waiting.is_empty());
        assert!(!late
            .changes
            .iter()
            .any(|c| matches!(c, DefenderChange::Initiate { .. })));
    }

    fn applied(want: &DesiredScope, status: &str, reason: &str) -> PolicyDocument {
        let mut doc = PolicyDocument::empty();
        doc.set_vm(&want.vms[0].entry);
        let mut body = doc.as_value().clone();
        body["properties"]["virtualMachines"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/foreign", "ports": []}));
        body["properties"]["requests"] = json!([{
            "virtualMachines": [{"id": VM, "ports": [{"number": 22, "allowedSourceAddressPrefix": "10.0.0.0/8",
                "endTimeUtc": "2026-12-01T12:30:00Z", "status": status, "statusReason": reason}]}],
            "startTimeUtc": "2026-12-01T12:05:00Z", "requestor": "ci", "justification": "jit request INC-1: INC-1 deploy"}]);
        PolicyDocument::parse("u", body).unwrap()
    }

    #[test]
    fn applied_then_planned_again_is_empty_and_reports_the_open_grant() {
        let (scope, want) = one_scope(&policy(None));
        let doc = applied(&want, "Initiated", "UserRequested");
        let plan = plan_scope(
            scope.clone(),
            Some(doc.clone()),
            &want,
            t("2026-12-01T12:06:00Z"),
        );
        assert!(plan.is_empty(), "{:?}", plan.changes);
        assert_eq!(plan.open.len(), 1);
        assert!(plan.open[0].in_policy);
        // The request removed from the repository: still open, and said so.
        let mut gone = want.clone();
        gone.grants.clear();
        let plan = plan_scope(scope.clone(), Some(doc), &gone, t("2026-12-01T12:06:00Z"));
        assert!(plan.is_empty());
        assert_eq!(plan.open.len(), 1);
        assert!(!plan.open[0].in_policy);
        // Closed by Defender (superseded): not initiated again.
        let doc = applied(&want, "Revoked", "NewerRequestInitiated");
        let plan = plan_scope(scope, Some(doc), &want, t("2026-12-01T12:06:00Z"));
        assert!(plan.is_empty() && plan.open.is_empty());
    }

    #[test]
    fn a_hand_edited_entry_is_drift_and_foreign_entries_stay() {
        let (scope, want) = one_scope(&policy(None));
        let doc = applied(&want, "Initiated", "UserRequested");
        let mut body = doc.as_value().clone();
        body["properties"]["virtualMachines"][0]["ports"][0]["allowedSourceAddressPrefix"] =
            json!("*");
        let edited = PolicyDocument::parse("u", body).unwrap();
        let plan = plan_scope(
            scope,
            Some(edited.clone()),
            &want,
            t("2026-12-01T12:06:00Z"),
        );
        let DefenderChange::SetVm { differences, .. } = &plan.changes[0] else {
            panic!("{:?}", plan.changes)
        };
        assert_eq!(differences, &["port 22: sources `*`, want `10.0.0.0/8`"]);
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(
            plan.next.vm_raw("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/foreign"),
            edited.vm_raw("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/foreign")
        );
        assert_eq!(plan.next.requests_raw(), edited.requests_raw());
    }
}
