//! The Defender platform through the registry: scopes, plan, narrowing, canonical forms.

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::*;
use crate::live::Live;
use crate::model::{Grant, Port, Protocol, ProviderDecl};
use crate::plan::Action;
use crate::platform::{self, Narrowing};

pub(super) const VM: &str =
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1";
const FOREIGN: &str =
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/other";
const SCOPE: &str =
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Security/jitNetworkAccessPolicies/default";

pub(super) fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// One Defender target (`vm1`, ssh from 10.0.0.0/8, an hour at most) and request `INC-1` for
/// 30 minutes from `start`: the policy the Defender platform's unit tests plan.
pub(super) fn config(start: &str) -> Config {
    Config {
        providers: vec![ProviderDecl {
            name: "sec".into(),
            config: ProviderConfig::Azure {
                subscription_id: "s".into(),
                mode: AzureMode::Defender,
                endpoint: None,
            },
        }],
        targets: vec![Target {
            name: "vm1".into(),
            provider: "azure.sec".into(),
            vm_id: Some(VM.into()),
            nsg_id: None,
            destination: "*".into(),
            ports: vec![Port {
                name: "ssh".into(),
                number: 22,
                protocol: Protocol::Tcp,
                allowed_sources: vec!["10.0.0.0/8".parse().unwrap()],
                max_duration: SignedDuration::from_hours(1),
            }],
        }],
        grants: vec![Grant {
            id: "INC-1".into(),
            target: "vm1".into(),
            ports: vec!["ssh".into()],
            source: "10.0.0.0/8".parse().unwrap(),
            requester: "alice".into(),
            approvers: vec![],
            justification: "INC-1 deploy".into(),
            start: t(start),
            duration: SignedDuration::from_mins(30),
        }],
        ..Config::default()
    }
}

fn live(doc: Option<serde_json::Value>) -> Live {
    let mut live = Live::default();
    let document = doc.map(|d| PolicyDocument::parse("test", d).unwrap());
    live.insert(scope(
        SCOPE.into(),
        "etag-1".into(),
        Policy {
            location: Some("westeurope".into()),
            document,
        },
    ));
    live
}

fn plan(config: &Config, live: &Live, now: &str) -> crate::plan::Plan {
    let now = t(now);
    platform::diff(config, &platform::compile(config, now), live, now)
}

#[test]
fn the_scope_of_a_defender_target_is_its_location_less_policy() {
    let c = config("2026-12-01T12:00:00Z");
    assert_eq!(
        platform::of(&c, &c.targets[0]),
        Some(platform::Kind::Defender)
    );
    assert_eq!(
        platform::scope_of(&c, &c.targets[0]),
        Some(("azure.sec".to_string(), SCOPE.to_string()))
    );
    assert_eq!(platform::scope_noun(SCOPE), "JIT policy");
}

#[test]
fn a_new_document_gets_the_vm_entry_and_an_active_grant_is_initiated() {
    let c = config("2026-12-01T12:00:00Z");
    let p = plan(&c, &live(None), "2026-12-01T12:10:00Z");
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let actions: Vec<(Action, &str)> = p
        .resource_changes
        .iter()
        .map(|c| (c.action(), c.address.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            (Action::Create, "default/vm1"),
            (Action::Initiate, "default/vm1/initiate/INC-1")
        ]
    );
    let initiate = &p.resource_changes[1];
    assert!(
        initiate.reason.contains("Azure enforces the expiry"),
        "{}",
        initiate.reason
    );
    assert!(initiate.reason.contains("cannot revoke it early"));
    assert_eq!(
        p.fingerprints.get(SCOPE).map(String::as_str),
        Some("etag-1")
    );
    // Every initiate and every new entry widens: a plan with errors drops them.
    for change in &p.resource_changes {
        let now = t("2026-12-01T12:10:00Z");
        assert_eq!(platform::narrowing(change, now), Narrowing::Drop);
    }
}

#[test]
fn a_grant_that_starts_later_waits() {
    let c = config("2026-12-01T13:00:00Z");
    let p = plan(&c, &live(None), "2026-12-01T12:10:00Z");
    assert!(p
        .resource_changes
        .iter()
        .all(|c| c.action() != Action::Initiate));
}

#[test]
fn the_document_as_wanted_plans_nothing_and_foreign_entries_are_left_alone() {
    let c = config("2026-12-01T13:00:00Z");
    let entry = VmEntryFor::new(&c).value();
    let doc = json!({"kind": "Basic", "properties": {"virtualMachines": [
        entry,
        {"id": FOREIGN, "ports": [{"number": 3389, "protocol": "*", "allowedSourceAddressPrefix": "*", "maxRequestAccessDuration": "PT3H"}]}
    ]}});
    let p = plan(&c, &live(Some(doc)), "2026-12-01T12:10:00Z");
    assert!(p.resource_changes.is_empty(), "{:?}", p.resource_changes);
    assert_eq!(p.prior.len(), 1, "only the managed entry is prior");
}

#[test]
fn a_hand_edited_entry_is_drift_and_dropping_a_port_only_narrows() {
    let c = config("2026-12-01T13:00:00Z");
    let mut entry = VmEntryFor::new(&c).value();
    let extra = json!({"number": 3389, "protocol": "TCP", "allowedSourceAddressPrefix": "*", "maxRequestAccessDuration": "PT3H"});
    entry["ports"].as_array_mut().unwrap().push(extra);
    let doc = json!({"properties": {"virtualMachines": [entry]}});
    let p = plan(&c, &live(Some(doc)), "2026-12-01T12:10:00Z");
    assert_eq!(p.resource_changes.len(), 1);
    let change = &p.resource_changes[0];
    assert_eq!(change.action(), Action::Update);
    assert!(change.reason.contains("3389"), "{}", change.reason);
    assert_eq!(
        platform::narrowing(change, t("2026-12-01T12:10:00Z")),
        Narrowing::Keep
    );
}

#[test]
fn resources_read_back_exactly_as_written() {
    let c = config("2026-12-01T12:00:00Z");
    let p = plan(&c, &live(None), "2026-12-01T12:10:00Z");
    for change in &p.resource_changes {
        let after = change.change.after.as_ref().unwrap();
        assert_eq!(&platform::canonical(after, SCOPE).unwrap(), after);
    }
    assert_eq!(
        platform::request_of(p.resource_changes[1].change.after.as_ref().unwrap()).as_deref(),
        Some("INC-1")
    );
}

/// The VM entry jit writes for the test target.
struct VmEntryFor(super::policy::VmEntry);

impl VmEntryFor {
    fn new(c: &Config) -> Self {
        VmEntryFor(super::policy::VmEntry::desired(VM, &c.targets[0].ports).unwrap())
    }
    fn value(&self) -> serde_json::Value {
        self.0.to_value()
    }
}
