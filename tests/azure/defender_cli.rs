//! Defender mode end to end through the real `jit` binary against the emulator: the plan
//! shows the policy document's VM entry and the initiate; apply writes the document and
//! initiates the grant; a re-plan is empty (the grant is recognised in `requests[]`, never
//! initiated twice); a foreign VM entry is kept byte for byte; a hand-edited entry is drift
//! and put back; `jit status` lists the grant Defender holds open; the document is found past
//! the first page of the resource group's policy list.

use serde_json::{json, Value};

use crate::cli::setup_with;
use crate::emulator::{Emulator, EmulatorConfig};
use crate::vm_fixture::{self, SUB, VM_ID};

const POLICY_ID: &str = "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Security/locations/westus/jitNetworkAccessPolicies/default";
const FOREIGN_VM: &str =
    "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/legacy";

fn policy(endpoint: &str) -> String {
    let start = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 1800).unwrap();
    format!(
        r#"
provider "azure" "sec" {{
  subscription_id = "{SUB}"
  endpoint        = "{endpoint}"
  mode            = "defender"
}}

target "vm1" {{
  provider = "azure.sec"
  vm_id    = "{VM_ID}"
  port "ssh" {{
    allowed_sources = ["198.51.100.7/32"]
  }}
}}

request "INC-7" {{
  target        = "vm1"
  ports         = ["ssh"]
  source        = "198.51.100.7"
  requester     = "alice@example.com"
  justification = "INC-7 deploy"
  start         = "{start}"
  duration      = "2h"
}}
"#
    )
}

fn seeded() -> Emulator {
    let emu = Emulator::start(EmulatorConfig::fast());
    let (vm, nic, subnet) = vm_fixture::bodies(Some("nic-nsg"), None);
    emu.add_vm(vm);
    emu.add_nic(nic);
    emu.add_subnet(subnet);
    emu.add_nsg(vm_fixture::empty_nsg("nic-nsg"));
    emu
}

fn foreign_entry() -> Value {
    json!({"ports": [{"protocol": "TCP", "number": 5985, "maxRequestAccessDuration": "PT1H",
        "allowedSourceAddressPrefixes": ["10.0.0.0/8"]}],
        "id": FOREIGN_VM, "publicIpAddress": "203.0.113.9"})
}

fn entry(emu: &Emulator, vm: &str) -> Option<Value> {
    emu.jit_policy(POLICY_ID)?["properties"]["virtualMachines"]
        .as_array()?
        .iter()
        .find(|v| {
            v["id"]
                .as_str()
                .is_some_and(|id| id.eq_ignore_ascii_case(vm))
        })
        .cloned()
}

fn requests(emu: &Emulator) -> usize {
    emu.jit_policy(POLICY_ID)
        .and_then(|p| p["properties"]["requests"].as_array().map(Vec::len))
        .unwrap_or(0)
}

#[test]
fn plan_apply_replan_keeps_foreign_entries_and_initiates_once() {
    let emu = seeded();
    emu.add_jit_policy(json!({
        "id": POLICY_ID, "name": "default", "location": "westus", "kind": "Basic",
        "properties": {"virtualMachines": [foreign_entry()]}
    }));
    let foreign_before = entry(&emu, FOREIGN_VM).unwrap();
    let s = setup_with(&emu, &[("policy.hcl", &policy(&emu.base_url()))]);
    s.jit(&["plan", "--detailed-exitcode"])
        .run()
        .code(2)
        .stdout_has("default/vm1 will be created")
        .stdout_has("default/vm1/initiate/INC-7 will be initiated (Azure closes it at its end)")
        .stdout_has("> initiate (Azure closes it at its end)")
        .stdout_has("Azure enforces the expiry")
        .stdout_has("Plan: 1 to add, 0 to change, 0 to destroy, 1 to initiate.");
    s.jit(&["apply", "--auto-approve"]).run().code(0);
    let mine = entry(&emu, VM_ID).expect("the VM entry was written");
    assert_eq!(mine["ports"][0]["number"], 22);
    assert_eq!(entry(&emu, FOREIGN_VM).unwrap(), foreign_before);
    assert_eq!(requests(&emu), 1, "the grant was initiated");
    // `jit status` lists the grant Defender holds open.
    s.jit(&["status"]).run().code(0).stdout_has("INC-7");
    // Planned again: nothing to do; the grant is not initiated twice.
    s.jit(&["plan", "--detailed-exitcode"]).run().code(0);
    s.jit(&["apply", "--auto-approve"]).run().code(0);
    assert_eq!(requests(&emu), 1);
    assert_eq!(entry(&emu, FOREIGN_VM).unwrap(), foreign_before);

    // A portal edit widens jit's entry: drift, put back; the foreign entry still untouched.
    assert!(emu.edit_jit_policy(POLICY_ID, |d| {
        let vms = d["properties"]["virtualMachines"].as_array_mut().unwrap();
        for vm in vms.iter_mut() {
            if vm["id"]
                .as_str()
                .is_some_and(|id| id.eq_ignore_ascii_case(VM_ID))
            {
                vm["ports"][0]["allowedSourceAddressPrefix"] = json!("*");
            }
        }
    }));
    s.jit(&["plan", "--detailed-exitcode"])
        .run()
        .code(2)
        .stdout_has("default/vm1 will be updated in-place")
        .stdout_has("changed outside jit");
    s.jit(&["apply", "--auto-approve"]).run().code(0);
    assert_eq!(entry(&emu, VM_ID).unwrap()["ports"], mine["ports"]);
    assert_eq!(entry(&emu, FOREIGN_VM).unwrap(), foreign_before);
    assert_eq!(requests(&emu), 1);
    s.jit(&["plan", "--detailed-exitcode"]).run().code(0);
}

#[test]
fn a_saved_plan_is_stale_when_the_document_moved_and_nothing_is_written() {
    let emu = seeded();
    emu.add_jit_policy(json!({
        "id": POLICY_ID, "name": "default", "location": "westus", "kind": "Basic",
        "properties": {"virtualMachines": [foreign_entry()]}
    }));
    let s = setup_with(&emu, &[("policy.hcl", &policy(&emu.base_url()))]);
    let plan = s.path().join("plan.json");
    s.jit(&["plan", "--out", plan.to_str().unwrap()])
        .run()
        .code(0);
    assert!(emu.edit_jit_policy(POLICY_ID, |d| {
        d["properties"]["virtualMachines"][0]["ports"][0]["maxRequestAccessDuration"] =
            json!("PT2H");
    }));
    let edited = emu.jit_policy(POLICY_ID).unwrap();
    emu.reset_stats();
    s.jit(&["apply", plan.to_str().unwrap()])
        .run()
        .code(1)
        .stderr_has("stale plan");
    assert_eq!(emu.stats().requests_by("PUT"), 0);
    assert_eq!(emu.stats().requests_by("POST"), 0);
    assert_eq!(emu.jit_policy(POLICY_ID).unwrap(), edited);
}

#[test]
fn a_grant_that_starts_later_is_not_initiated() {
    let emu = seeded();
    let later = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() + 3600).unwrap();
    let text = policy(&emu.base_url());
    let start = text
        .lines()
        .find(|l| l.trim_start().starts_with("start"))
        .unwrap()
        .to_string();
    let text = text.replace(&start, &format!("  start         = \"{later}\""));
    let s = setup_with(&emu, &[("policy.hcl", &text)]);
    let out = s.jit(&["plan", "--detailed-exitcode"]).run().code(2);
    assert!(!out.stdout.contains("initiate/INC-7"), "{}", out.stdout);
    s.jit(&["apply", "--auto-approve"]).run().code(0);
    assert!(entry(&emu, VM_ID).is_some(), "the VM entry is written");
    assert_eq!(requests(&emu), 0, "nothing initiated before the start");
}

/// A policy named `name` in `rg1`/`westus` holding the foreign entry only.
fn other_policy(name: &str) -> Value {
    json!({
        "id": POLICY_ID.replace("/default", &format!("/{name}")), "name": name,
        "location": "westus", "kind": "Basic",
        "properties": {"virtualMachines": [foreign_entry()]}
    })
}

#[test]
fn the_policy_is_found_on_a_later_page_of_the_resource_groups_list() {
    let emu = seeded();
    assert_eq!(emu.config().page_size, 2);
    // `app-jit` and `batch-jit` fill the first page; `default` comes after a `nextLink`.
    emu.add_jit_policy(other_policy("app-jit"));
    emu.add_jit_policy(other_policy("batch-jit"));
    let mut widened = other_policy("default");
    widened["properties"]["virtualMachines"]
        .as_array_mut()
        .unwrap()
        .push(
            json!({"id": VM_ID, "ports": [{"number": 22, "protocol": "TCP",
            "allowedSourceAddressPrefix": "*", "maxRequestAccessDuration": "PT3H"}]}),
        );
    emu.add_jit_policy(widened);
    let foreign_before = entry(&emu, FOREIGN_VM).unwrap();
    let s = setup_with(&emu, &[("policy.hcl", &policy(&emu.base_url()))]);
    // Found, so jit's entry is drift to put back (not a new entry in a new document).
    s.jit(&["plan", "--detailed-exitcode"])
        .run()
        .code(2)
        .stdout_has("default/vm1 will be updated in-place")
        .stdout_has("changed outside jit");
    s.jit(&["apply", "--auto-approve"]).run().code(0);
    assert_eq!(
        entry(&emu, VM_ID).unwrap()["ports"][0]["allowedSourceAddressPrefix"],
        "198.51.100.7"
    );
    assert_eq!(entry(&emu, FOREIGN_VM).unwrap(), foreign_before);
    assert_eq!(requests(&emu), 1, "the grant was initiated");
    s.jit(&["plan", "--detailed-exitcode"]).run().code(0);
    for other in ["app-jit", "batch-jit"] {
        let id = POLICY_ID.replace("/default", &format!("/{other}"));
        assert_eq!(
            emu.jit_policy(&id).unwrap()["properties"]["virtualMachines"],
            json!([foreign_entry()]),
            "{other} untouched"
        );
    }
}

#[test]
fn a_grant_ended_in_the_repository_but_open_in_defender_is_a_warning() {
    let emu = seeded();
    emu.set_wall_clock(jiff::Timestamp::now());
    let text = policy(&emu.base_url());
    let s = setup_with(&emu, &[("policy.hcl", &text)]);
    s.jit(&["apply", "--auto-approve"]).run().code(0);
    // The request's window is cut short in the repository; Defender keeps it to its end.
    let text = text.replace("duration      = \"2h\"", "duration      = \"10m\"");
    std::fs::write(s.path().join("policy.hcl"), text).unwrap();
    let out = s
        .jit(&["plan", "--detailed-exitcode"])
        .run()
        .code(0)
        .stdout_has("No changes.")
        .stdout_has("Warning: grant still open in")
        .stdout_has("request `INC-7` is still open on VM `vm1` port 22 until")
        .stdout_has("Defender's API cannot close it earlier");
    assert!(!out.stdout.contains("will be"), "{}", out.stdout);
    let json = s.jit(&["plan", "--json"]).run().code(0);
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["warnings"][0]["code"], "E105", "{}", json.stdout);
    // Once Defender has closed it at its end, nothing is left to say.
    emu.advance_wall_clock(jiff::SignedDuration::from_hours(3));
    s.jit(&["plan", "--detailed-exitcode"])
        .run()
        .code(0)
        .stdout_lacks("Warning");
}
