//! Targets named by their VM, end to end through the real `jit` binary against the emulator:
//! a target with `vm_id` alone finds its NIC's and its subnet's NSGs and its private IP; both
//! NSGs are locked down, a grant opens both, a re-plan is empty, and Defender's own
//! `SecurityCenter-JITRule…` rule in the same NSG is left alone and named by the exposure
//! finding when it opens the port wider than policy. A VM that no NSG filters is a
//! plan error, and nothing is written. `jit status` resolves the VM the same way and lists the
//! grant's allow in both NSGs; a VM it cannot resolve is an error (exit 1) that leaves the
//! other targets listed. A VM that cannot be read no longer blocks revocation: the NSGs holding
//! its rules are found by their names, and the ended grant's allows go from both.

use serde_json::{json, Value};

use crate::cli::setup_with;
use crate::emulator::{Emulator, EmulatorConfig, Fault, FaultKind, Trigger};
use crate::vm_fixture::{self, empty_nsg, PRIVATE_IP, SUB, VM_ID};

fn policy(endpoint: &str) -> String {
    let start = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 1800).unwrap();
    format!(
        r#"
provider "azure" "prod" {{
  subscription_id = "{SUB}"
  endpoint        = "{endpoint}"
}}

target "vm1" {{
  provider = "azure.prod"
  vm_id    = "{VM_ID}"
  port "ssh" {{
    allowed_sources = ["198.51.100.0/24"]
  }}
}}

request "INC-5" {{
  target        = "vm1"
  ports         = ["ssh"]
  source        = "198.51.100.7"
  requester     = "alice@example.com"
  justification = "INC-5 deploy"
  start         = "{start}"
  duration      = "2h"
}}
"#
    )
}

/// Defender's own allow rule, as it leaves one in an NSG.
fn defender_rule(nsg: &str) -> Value {
    let id = vm_fixture::nsg_id(nsg);
    json!({"name": "SecurityCenter-JITRule_-1391467281_5B3B7E5D3EE644A4", "id": format!("{id}/securityRules/SecurityCenter-JITRule_-1391467281_5B3B7E5D3EE644A4"),
        "properties": {"provisioningState": "Succeeded", "description": "MDC JIT Network Access rule for policy 'default' of VM 'vm1'.",
        "protocol": "*", "sourcePortRange": "*", "destinationPortRange": "22", "sourceAddressPrefix": "203.0.113.9",
        "destinationAddressPrefix": PRIVATE_IP, "access": "Allow", "priority": 100, "direction": "Inbound"}})
}

fn seeded(nic_nsg: Option<&str>, subnet_nsg: Option<&str>) -> Emulator {
    let emu = Emulator::start(EmulatorConfig::fast());
    let (vm, nic, subnet) = vm_fixture::bodies(nic_nsg, subnet_nsg);
    emu.add_vm(vm);
    emu.add_nic(nic);
    emu.add_subnet(subnet);
    for name in [nic_nsg, subnet_nsg].into_iter().flatten() {
        let mut nsg = empty_nsg(name);
        nsg["properties"]["securityRules"] = json!([defender_rule(name)]);
        emu.add_nsg(nsg);
    }
    emu
}

fn managed(emu: &Emulator, nsg: &str) -> Vec<Value> {
    emu.nsg(&vm_fixture::nsg_id(nsg)).unwrap()["properties"]["securityRules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["properties"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("managed-by=jit"))
        })
        .cloned()
        .collect()
}

#[test]
fn a_target_named_by_its_vm_locks_down_and_opens_both_nsgs() {
    let emu = seeded(Some("nic-nsg"), Some("subnet-nsg"));
    let before: Vec<Value> = ["nic-nsg", "subnet-nsg"]
        .iter()
        .map(|n| emu.nsg(&vm_fixture::nsg_id(n)).unwrap()["properties"]["securityRules"][0].clone())
        .collect();
    let s = setup_with(&emu, &[("policy.hcl", &policy(&emu.base_url()))]);
    s.jit(&["plan", "--detailed-exitcode"])
        .run()
        .code(2)
        .stdout_has("Plan: 4 to add, 0 to change, 0 to destroy.");
    // `--target` keeps both NSGs of the VM.
    s.jit(&["plan", "--target", "vm1"])
        .run()
        .code(0)
        .stdout_has("Plan: 4 to add, 0 to change, 0 to destroy.");
    s.jit(&["apply", "--auto-approve"]).run().code(0);
    for (i, nsg) in ["nic-nsg", "subnet-nsg"].iter().enumerate() {
        let rules = managed(&emu, nsg);
        assert_eq!(rules.len(), 2, "{nsg}: lock-down and allow: {rules:?}");
        for rule in &rules {
            assert_eq!(
                rule["properties"]["destinationAddressPrefix"], PRIVATE_IP,
                "{nsg}"
            );
        }
        let allow = rules
            .iter()
            .find(|r| r["properties"]["access"] == "Allow")
            .unwrap();
        assert_eq!(
            allow["properties"]["sourceAddressPrefix"],
            "198.51.100.7/32"
        );
        // Defender's rule in the same NSG: foreign, untouched.
        let now = emu.nsg(&vm_fixture::nsg_id(nsg)).unwrap();
        let kept = now["properties"]["securityRules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == before[i]["name"])
            .unwrap()
            .clone();
        assert_eq!(kept, before[i], "{nsg}");
    }
    // Planned again: no changes; Defender's rule opens the protected port to a source the
    // policy does not allow, and the exposure finding names it, in each NSG.
    s.jit(&["plan", "--detailed-exitcode"])
        .run()
        .code(2)
        .stdout_has("No changes. 2 findings need attention.")
        .stdout_has("Warning: exposure in NSG subnet-nsg")
        .stdout_has("rule `SecurityCenter-JITRule_-1391467281_5B3B7E5D3EE644A4` (priority 100) opens port 22 (ssh of vm1) to `203.0.113.9`");
}

#[test]
fn a_vm_no_nsg_filters_is_a_plan_error_and_nothing_is_written() {
    let emu = seeded(None, None);
    let s = setup_with(&emu, &[("policy.hcl", &policy(&emu.base_url()))]);
    s.jit(&["plan"])
        .run()
        .code(1)
        .stdout_has("nothing can be locked down");
    emu.reset_stats();
    s.jit(&["apply", "--auto-approve"]).run().code(1);
    assert_eq!(emu.stats().requests_by("PUT"), 0);
    assert_eq!(emu.stats().requests_by("DELETE"), 0);
}

#[test]
fn status_resolves_a_target_named_by_its_vm_to_both_nsgs() {
    let emu = seeded(Some("nic-nsg"), Some("subnet-nsg"));
    let policy = policy(&emu.base_url());
    let s = setup_with(&emu, &[("policy.hcl", &policy)]);
    s.jit(&["apply", "--auto-approve"]).run().code(0);
    let out = s.jit(&["status", "--json"]).run().code(0);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let grants = doc["grants"].as_array().unwrap();
    let mut scopes: Vec<&str> = grants
        .iter()
        .map(|g| g["scope"].as_str().unwrap())
        .collect();
    scopes.sort_unstable();
    assert_eq!(
        scopes,
        [
            vm_fixture::nsg_id("nic-nsg"),
            vm_fixture::nsg_id("subnet-nsg")
        ],
        "{grants:?}"
    );
    for g in grants {
        assert_eq!(g["request"], "INC-5");
        assert_eq!(g["target"], "vm1");
        assert_eq!(g["sources"], json!(["198.51.100.7/32"]));
        assert_eq!(g["overdue"], false);
    }
    assert_eq!(doc["errors"], json!([]));
    s.jit(&["status"])
        .run()
        .code(0)
        .stdout_has("nic-nsg/jit-allow-INC-5-ssh")
        .stdout_has("subnet-nsg/jit-allow-INC-5-ssh");

    // Another target's VM is gone: an error naming it, exit 1, vm1's grants still listed.
    let gone = VM_ID.replace("/vm1", "/vm9");
    let more = format!(
        "{policy}\ntarget \"vm9\" {{\n  provider = \"azure.prod\"\n  vm_id    = \"{gone}\"\n  port \"ssh\" {{\n    allowed_sources = [\"198.51.100.0/24\"]\n  }}\n}}\n"
    );
    std::fs::write(s.path().join("policy.hcl"), more).unwrap();
    emu.reset_stats();
    s.jit(&["status"])
        .run()
        .code(1)
        .stdout_has("nic-nsg/jit-allow-INC-5-ssh")
        .stdout_has("subnet-nsg/jit-allow-INC-5-ssh")
        .stderr_has("error: target `vm9`")
        .stderr_has("the status is incomplete");
    assert_eq!(emu.stats().requests_by("PUT"), 0);
    assert_eq!(emu.stats().requests_by("DELETE"), 0);

    // vm1 itself can no longer be read: an error, and what is open in its NSGs still listed.
    std::fs::write(s.path().join("policy.hcl"), &policy).unwrap();
    vm_unreadable(&emu);
    s.jit(&["status"])
        .run()
        .code(1)
        .stdout_has("nic-nsg/jit-allow-INC-5-ssh")
        .stdout_has("subnet-nsg/jit-allow-INC-5-ssh")
        .stderr_has("error: target `vm1`");
}

/// Makes every GET of VM `vm1` answer 403 (jit does not retry it): the VM cannot be read.
fn vm_unreadable(emu: &Emulator) {
    emu.set_faults(vec![Fault::new(
        "GET",
        "(?i)/virtualMachines/vm1$",
        Trigger::Always,
        FaultKind::Status(403),
    )]);
}

/// The request's start moved 3 hours back: the 2-hour grant has ended.
fn ended(text: &str) -> String {
    let start = text
        .lines()
        .find(|l| l.trim_start().starts_with("start"))
        .unwrap()
        .to_string();
    let ended =
        jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 3 * 3600).unwrap();
    text.replace(&start, &format!("  start         = \"{ended}\""))
}

#[test]
fn an_ended_grant_of_a_vm_with_several_addresses_is_still_revoked_in_both_nsgs() {
    // The NIC gains the example's second IP configuration: the VM is read, its NSGs known,
    // but its destination is no longer one address.
    revoked_while_unresolved(
        &ended,
        &|emu| {
            let mut nic = vm_fixture::official("network-NetworkInterfaceGet.json")["responses"]
                ["200"]["body"]
                .clone();
            nic["properties"]["networkSecurityGroup"] =
                json!({"id": vm_fixture::nsg_id("nic-nsg")});
            emu.add_nic(nic);
        },
        "several private addresses",
    );
}

#[test]
fn an_ended_grant_of_a_vm_that_cannot_be_read_is_still_revoked_in_both_nsgs() {
    revoked_while_unresolved(&ended, &vm_unreadable, "target `vm1`");
}

#[test]
fn a_removed_grant_of_a_vm_that_cannot_be_read_is_still_revoked_in_both_nsgs() {
    // The revocations then name no target: the provider they say serves them.
    revoked_while_unresolved(
        &|text| {
            let (head, _) = text.split_once("request \"INC-5\"").unwrap();
            head.to_string()
        },
        &vm_unreadable,
        "target `vm1`",
    );
}

/// Applies the policy (the grant opens both NSGs), edits it with `end` so that the grant is
/// over, makes the VM unresolvable with `unresolvable` (the plan error then says `why`), and
/// checks that plan and apply still revoke in both NSGs.
fn revoked_while_unresolved(
    end: &dyn Fn(&str) -> String,
    unresolvable: &dyn Fn(&Emulator),
    why: &str,
) {
    let emu = seeded(Some("nic-nsg"), Some("subnet-nsg"));
    let text = policy(&emu.base_url());
    let s = setup_with(&emu, &[("policy.hcl", &text)]);
    s.jit(&["apply", "--auto-approve"]).run().code(0);
    std::fs::write(s.path().join("policy.hcl"), end(&text)).unwrap();
    unresolvable(&emu);
    let plan = s.jit(&["plan"]).run().code(1);
    for nsg in ["nic-nsg", "subnet-nsg"] {
        assert!(
            plan.stdout
                .contains(&format!("{nsg}/jit-allow-INC-5-ssh will be destroyed")),
            "{nsg}: {}",
            plan.stdout
        );
    }
    assert!(
        !plan.stdout.contains("jit-deny-vm1-ssh will be destroyed"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains(why), "{}", plan.stdout);
    s.jit(&["apply", "--auto-approve"])
        .run()
        .code(1)
        .stdout_has("2 destroyed");
    for nsg in ["nic-nsg", "subnet-nsg"] {
        let rules = managed(&emu, nsg);
        let names: Vec<&str> = rules.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["jit-deny-vm1-ssh"], "{nsg}: the lock-down stays");
    }
    // Once the VM resolves again, nothing is left to do.
    emu.set_faults(vec![]);
    emu.add_nic(vm_fixture::bodies(Some("nic-nsg"), Some("subnet-nsg")).1);
    s.jit(&["plan", "--detailed-exitcode"])
        .run()
        .code(2)
        .stdout_has("No changes.");
}
