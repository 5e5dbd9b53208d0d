//! Targets named by their VM and Defender for Cloud JIT through the library against the
//! emulator: VM → NIC → subnet resolution (both NSGs, the private IP, no NSG is an error), the
//! policy document read, changed and written back with foreign VM entries kept byte for byte,
//! a hand edit between read and write refused as stale, and grants initiated, recognised in
//! `requests[]`, and closed by Defender at their end.

use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};

use jit::model::{Port, Protocol};
use jit::providers::azure::defender::{
    requests::grant_state, GrantState, Initiate, PolicyDocument, PolicyScope, VmEntry,
    DEFAULT_POLICY_NAME,
};
use jit::providers::ProviderError;

use crate::common::provider;
use crate::emulator::{Emulator, EmulatorConfig};
use crate::vm_fixture::{self, defender_rules, empty_nsg, PRIVATE_IP, VM_ID};

fn seeded(nic_nsg: Option<&str>, subnet_nsg: Option<&str>) -> Emulator {
    let emu = Emulator::start(EmulatorConfig::fast());
    let (vm, nic, subnet) = vm_fixture::bodies(nic_nsg, subnet_nsg);
    emu.add_vm(vm);
    emu.add_nic(nic);
    emu.add_subnet(subnet);
    for name in [nic_nsg, subnet_nsg].into_iter().flatten() {
        emu.add_nsg(empty_nsg(name));
    }
    emu
}

#[test]
fn a_vm_resolves_to_its_nic_and_subnet_nsgs_and_its_private_ip() {
    let emu = seeded(Some("nic-nsg"), Some("subnet-nsg"));
    let p = provider(&emu);
    let nets = p.resolve_vms(&[VM_ID.to_string()]);
    let net = nets[0].as_ref().unwrap();
    assert_eq!(
        net.nsg_ids,
        [
            vm_fixture::nsg_id("nic-nsg"),
            vm_fixture::nsg_id("subnet-nsg")
        ]
    );
    assert_eq!(net.single_destination().as_deref(), Some(PRIVATE_IP));
    assert_eq!(net.location, "westus");
    // One GET each: VM, NIC, subnet, at their own api-versions (the emulator checks them).
    assert_eq!(emu.stats().requests_by("GET"), 3);
}

#[test]
fn a_vm_without_any_nsg_is_an_error_and_a_missing_one_is_not_found() {
    let emu = seeded(None, None);
    let p = provider(&emu);
    let missing = VM_ID.replace("/vm1", "/vm9");
    let out = p.resolve_vms(&[VM_ID.to_string(), missing.clone()]);
    let err = out[0].as_ref().unwrap_err().to_string();
    assert!(err.contains("nothing can be locked down"), "{err}");
    assert!(
        matches!(&out[1], Err(ProviderError::NotFound { id, .. }) if *id == missing),
        "{:?}",
        out[1]
    );
    // Another subscription is refused without a request.
    emu.reset_stats();
    let other = VM_ID.replace("subid", "other");
    let err = p.resolve_vms(&[other])[0].as_ref().unwrap_err().to_string();
    assert!(err.contains("subscription `other`"), "{err}");
    assert_eq!(emu.stats().requests_total(), 0);
}

fn port(name: &str, number: u16, sources: &[&str], hours: i64) -> Port {
    Port {
        name: name.into(),
        number,
        protocol: Protocol::Any,
        allowed_sources: sources.iter().map(|s| s.parse().unwrap()).collect(),
        max_duration: SignedDuration::from_hours(hours),
    }
}

fn scope() -> PolicyScope {
    PolicyScope::for_vm(VM_ID, "West US", DEFAULT_POLICY_NAME).unwrap()
}

const FOREIGN_VM: &str =
    "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/legacy";

/// A foreign entry with fields jit does not know, keys in an unusual order.
fn foreign_entry() -> Value {
    json!({"ports": [{"protocol": "TCP", "number": 5985, "maxRequestAccessDuration": "PT1H",
        "allowedSourceAddressPrefixes": ["10.0.0.0/8"], "mappedPort": 15985}],
        "id": FOREIGN_VM, "publicIpAddress": "203.0.113.9", "futureField": {"b": 2, "a": 1}})
}

#[test]
fn the_policy_is_created_changed_and_written_back_keeping_foreign_entries() {
    let emu = seeded(Some("nic-nsg"), None);
    let p = provider(&emu);
    let scope = scope();
    assert_eq!(
        p.read_jit_policies(std::slice::from_ref(&scope))[0],
        Ok(None)
    );
    // Created from nothing: the standard Set-AzJitNetworkAccessPolicy example.
    let mut doc = PolicyDocument::empty();
    let want = VmEntry::desired(
        VM_ID,
        &[
            port("ssh", 22, &["0.0.0.0/0", "::/0"], 3),
            port("rdp", 3389, &["0.0.0.0/0", "::/0"], 3),
        ],
    )
    .unwrap();
    doc.set_vm(&want);
    let stored = p.write_jit_policy(&scope, None, &doc).unwrap();
    let official = vm_fixture::official("security-CreateJitNetworkAccessPolicy_example.json");
    let mut expected = official["parameters"]["body"]["properties"]["virtualMachines"][0].clone();
    expected["id"] = json!(VM_ID);
    assert_eq!(stored.vm_raw(VM_ID).unwrap(), &expected);
    // Defender locked the VM's NSG down with its own rules.
    assert_eq!(
        defender_rules(&emu.nsg(&vm_fixture::nsg_id("nic-nsg")).unwrap()).len(),
        2
    );

    // Someone else adds a VM entry; jit reads, changes its own entry, writes back.
    let id = scope.id();
    assert!(emu.edit_jit_policy(&id, |d| {
        d["properties"]["virtualMachines"]
            .as_array_mut()
            .unwrap()
            .push(foreign_entry());
    }));
    let read = p
        .read_jit_policies(std::slice::from_ref(&scope))
        .remove(0)
        .unwrap()
        .unwrap();
    let live = read.vm(VM_ID).unwrap().unwrap();
    assert!(want.differences(&live).is_empty());
    let narrower = VmEntry::desired(VM_ID, &[port("ssh", 22, &["10.0.0.0/8"], 1)]).unwrap();
    assert_eq!(
        narrower.differences(&live).len(),
        3,
        "{:?}",
        narrower.differences(&live)
    );
    let mut next = read.clone();
    next.set_vm(&narrower);
    p.write_jit_policy(&scope, Some(&read), &next).unwrap();
    let after = emu.jit_policy(&id).unwrap();
    let foreign = after["properties"]["virtualMachines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == FOREIGN_VM)
        .unwrap();
    assert_eq!(
        serde_json::to_string(foreign).unwrap(),
        serde_json::to_string(&foreign_entry()).unwrap(),
        "foreign entry kept byte for byte"
    );
    let ours: VmEntry =
        serde_json::from_value(after["properties"]["virtualMachines"][0].clone()).unwrap();
    assert!(narrower.differences(&ours).is_empty());
}

#[test]
fn a_hand_edit_between_read_and_write_is_stale_and_nothing_is_written() {
    let emu = seeded(Some("nic-nsg"), None);
    let p = provider(&emu);
    let scope = scope();
    let mut doc = PolicyDocument::empty();
    doc.set_vm(&VmEntry::desired(VM_ID, &[port("ssh", 22, &["10.0.0.0/8"], 1)]).unwrap());
    p.write_jit_policy(&scope, None, &doc).unwrap();
    let read = p
        .read_jit_policies(std::slice::from_ref(&scope))
        .remove(0)
        .unwrap()
        .unwrap();
    // A portal edit: the window goes to 3 hours.
    emu.edit_jit_policy(&scope.id(), |d| {
        d["properties"]["virtualMachines"][0]["ports"][0]["maxRequestAccessDuration"] =
            json!("PT3H");
    });
    let edited = emu.jit_policy(&scope.id()).unwrap();
    let mut next = read.clone();
    next.remove_vm(VM_ID);
    emu.reset_stats();
    let err = p.write_jit_policy(&scope, Some(&read), &next).unwrap_err();
    assert!(
        err.to_string().contains("changed since it was read"),
        "{err}"
    );
    assert_eq!(emu.stats().requests_by("PUT"), 0);
    assert_eq!(emu.jit_policy(&scope.id()).unwrap(), edited);
    // Creating over a policy that appeared meanwhile is stale too.
    let err = p.write_jit_policy(&scope, None, &doc).unwrap_err();
    assert!(
        err.to_string().contains("changed since it was read"),
        "{err}"
    );
    // The drift is visible as a difference of the typed entry.
    let live = p
        .read_jit_policies(std::slice::from_ref(&scope))
        .remove(0)
        .unwrap()
        .unwrap();
    let want = VmEntry::desired(VM_ID, &[port("ssh", 22, &["10.0.0.0/8"], 1)]).unwrap();
    let diff = want.differences(&live.vm(VM_ID).unwrap().unwrap());
    assert_eq!(
        diff,
        ["port 22: maxRequestAccessDuration `PT3H`, want `PT1H`"]
    );
    // Deleting is checked the same way, then done.
    assert!(p.delete_jit_policy(&scope, &live).unwrap());
    assert_eq!(p.read_jit_policies(&[scope])[0], Ok(None));
}

#[test]
fn a_grant_is_initiated_once_recognised_and_closed_by_defender_at_its_end() {
    let emu = seeded(Some("nic-nsg"), Some("subnet-nsg"));
    let now = Timestamp::now();
    emu.set_wall_clock(now);
    let p = provider(&emu);
    let scope = scope();
    let mut doc = PolicyDocument::empty();
    doc.set_vm(&VmEntry::desired(VM_ID, &[port("ssh", 22, &["198.51.100.0/24"], 1)]).unwrap());
    p.write_jit_policy(&scope, None, &doc).unwrap();
    let read = p
        .read_jit_policies(std::slice::from_ref(&scope))
        .remove(0)
        .unwrap()
        .unwrap();
    assert_eq!(
        grant_state(&read, "INC-1", VM_ID, 22),
        GrantState::NotInitiated
    );
    let end = now + SignedDuration::from_mins(30);
    let mut grant = Initiate {
        vm_id: VM_ID.into(),
        ports: vec![22],
        end,
        source: "198.51.100.7".into(),
        request_id: "INC-1".into(),
        justification: "INC-1 deploy".into(),
    };
    // Narrower than the port's source: Defender refuses it, and says why.
    let err = p.initiate_jit(&scope, &grant).unwrap_err();
    assert!(err.to_string().contains("JitRequestInvalid"), "{err}");
    grant.source = "198.51.100.0/24".into();
    let answer = p.initiate_jit(&scope, &grant).unwrap();
    assert_eq!(answer["justification"], "jit request INC-1: INC-1 deploy");
    let read = p
        .read_jit_policies(std::slice::from_ref(&scope))
        .remove(0)
        .unwrap()
        .unwrap();
    let state = grant_state(&read, "INC-1", VM_ID, 22);
    assert!(
        matches!(state, GrantState::Open { end: Some(e) } if e == end),
        "{state:?}"
    );
    // Both NSGs opened by Defender's own allow rule.
    for nsg in ["nic-nsg", "subnet-nsg"] {
        let allows = defender_rules(&emu.nsg(&vm_fixture::nsg_id(nsg)).unwrap())
            .into_iter()
            .filter(|r| r["properties"]["access"] == "Allow")
            .count();
        assert_eq!(allows, 1, "{nsg}");
    }
    // Defender closes it at the end, by its clock.
    emu.advance_wall_clock(SignedDuration::from_mins(31));
    let read = p.read_jit_policies(&[scope]).remove(0).unwrap().unwrap();
    assert_eq!(
        grant_state(&read, "INC-1", VM_ID, 22),
        GrantState::Closed {
            reason: "Expired".into()
        }
    );
    for nsg in ["nic-nsg", "subnet-nsg"] {
        let allows = defender_rules(&emu.nsg(&vm_fixture::nsg_id(nsg)).unwrap())
            .into_iter()
            .filter(|r| r["properties"]["access"] == "Allow")
            .count();
        assert_eq!(allows, 0, "{nsg}");
    }
}

/// The library's whole Defender cycle, as the adapter to the core will drive it: desired from
/// a policy, planned against the live document, applied, planned again.
#[test]
fn plan_apply_replan_is_empty_and_a_grant_is_initiated_once() {
    use jit::model::{AzureMode, Grant, Policy, ProviderConfig, ProviderDecl, Target};
    use jit::providers::azure::defender::reconcile::{desired, plan_scope};
    use jit::providers::azure::defender::{DefenderChange, DefenderOutcome};

    let emu = seeded(Some("nic-nsg"), Some("subnet-nsg"));
    let now = Timestamp::now();
    emu.set_wall_clock(now);
    let p = provider(&emu);
    let policy = Policy {
        providers: vec![ProviderDecl {
            name: "test".into(),
            config: ProviderConfig::Azure {
                subscription_id: "subid".into(),
                mode: AzureMode::Defender,
                endpoint: None,
            },
        }],
        targets: vec![Target {
            name: "vm1".into(),
            provider: "azure.test".into(),
            vm_id: Some(VM_ID.into()),
            nsg_id: None,
            destination: "*".into(),
            ports: vec![port("ssh", 22, &["198.51.100.0/24"], 1)],
        }],
        grants: vec![Grant {
            id: "INC-9".into(),
            target: "vm1".into(),
            ports: vec!["ssh".into()],
            source: "198.51.100.0/24".parse().unwrap(),
            requester: "alice@example.com".into(),
            approvers: vec![],
            justification: "INC-9 deploy".into(),
            start: now - SignedDuration::from_mins(1),
            duration: SignedDuration::from_mins(30),
        }],
        ..Policy::default()
    };
    // A foreign VM entry already in the document.
    let scope = scope();
    p.write_jit_policy(&scope, None, &PolicyDocument::empty())
        .unwrap();
    emu.edit_jit_policy(&scope.id(), |d| {
        d["properties"]["virtualMachines"]
            .as_array_mut()
            .unwrap()
            .push(foreign_entry());
    });
    let foreign_text = serde_json::to_string(&foreign_entry()).unwrap();

    let vms = p.read_vms(&[VM_ID.to_string()]);
    let location = vms[0].as_ref().unwrap().location.clone();
    let (scopes, errors) = desired(&policy, "azure.test", &|_| Some(location.clone()));
    assert!(errors.is_empty(), "{errors:?}");
    let (scope, want) = scopes.into_iter().next().unwrap();
    let plan_now = |p: &jit::providers::azure::AzureProvider| {
        let read = p
            .read_jit_policies(std::slice::from_ref(&scope))
            .remove(0)
            .unwrap();
        plan_scope(scope.clone(), read, &want, Timestamp::now())
    };
    let plan = plan_now(&p);
    assert_eq!(plan.changes.len(), 2, "{:?}", plan.changes);
    assert!(matches!(plan.changes[1], DefenderChange::Initiate { .. }));
    assert_eq!(
        p.apply_defender_scope(&plan),
        [DefenderOutcome::Applied, DefenderOutcome::Applied]
    );
    // Planned again: nothing; the grant is open, Defender will close it.
    let again = plan_now(&p);
    assert!(again.is_empty(), "{:?}", again.changes);
    assert_eq!(again.open.len(), 1);
    emu.reset_stats();
    assert!(p.apply_defender_scope(&again).is_empty());
    assert_eq!(emu.stats().requests_by("POST"), 0, "not initiated twice");
    let stored = emu.jit_policy(&scope.id()).unwrap();
    let kept = stored["properties"]["virtualMachines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == FOREIGN_VM)
        .unwrap();
    assert_eq!(serde_json::to_string(kept).unwrap(), foreign_text);
    // A hand edit of jit's entry is drift; an apply made against the older read is stale.
    let stale_plan = {
        emu.edit_jit_policy(&scope.id(), |d| {
            let vms = d["properties"]["virtualMachines"].as_array_mut().unwrap();
            let ours = vms.iter_mut().find(|v| v["id"] == VM_ID).unwrap();
            ours["ports"][0]["maxRequestAccessDuration"] = json!("PT8H");
        });
        let drift = plan_now(&p);
        assert_eq!(drift.changes.len(), 1, "{:?}", drift.changes);
        drift
    };
    emu.edit_jit_policy(&scope.id(), |d| {
        d["properties"]["virtualMachines"]
            .as_array_mut()
            .unwrap()
            .pop();
    });
    assert_eq!(
        p.apply_defender_scope(&stale_plan),
        [DefenderOutcome::Stale]
    );
}
