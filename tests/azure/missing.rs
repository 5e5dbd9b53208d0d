//! A referenced NSG that does not exist: the error names its id and, from the NSGs of its
//! resource group (listed page by page through `nextLink`), a near name or how many there are;
//! a missing resource group is said as such; a failed listing leaves the plain error.

use jit::live::scope_key;
use jit::providers::Provider;

use crate::common::*;
use crate::emulator::{EmulatorConfig, Fault, FaultKind, Trigger};

/// Five NSGs; in list order (`app`, `bastion`, `db`, `mgmt`, `web`) `web-nsg` is on page 3 of 3
/// at the default page size of 2.
const GROUP: &[&str] = &["web-nsg", "db-nsg", "app-nsg", "bastion-nsg", "mgmt-nsg"];

/// The provider's error for the one NSG read, which is that NSG's failure (not the read's),
/// split into the message before the hint and the hint.
fn not_found(p: &jit::providers::azure::AzureProvider, id: &str) -> (String, Option<String>) {
    let live = p
        .read(&[id.to_string()])
        .expect("a missing NSG fails only itself");
    let text = live.failed[&scope_key(id)].clone();
    assert!(
        text.starts_with("network security group not found: "),
        "{text}"
    );
    match text.split_once("; ") {
        Some((head, hint)) => (head.to_string(), Some(hint.to_string())),
        None => (text, None),
    }
}

#[test]
fn a_near_name_on_the_last_page_is_suggested() {
    let emu = emulator_with(EmulatorConfig::fast(), GROUP);
    assert_eq!(emu.config().page_size, 2);
    let p = provider(&emu);
    emu.reset_stats();
    let (head, hint) = not_found(&p, &nsg_id("web-nsgg"));
    assert_eq!(
        head,
        format!("network security group not found: {}", nsg_id("web-nsgg"))
    );
    assert_eq!(hint.as_deref(), Some("did you mean `web-nsg`?"));
    // The NSG GET, then three list pages (2 + 2 + 1 NSGs).
    assert_eq!(emu.stats().requests_by("GET"), 4);
}

#[test]
fn names_compare_without_case_and_one_page_suffices_when_pages_are_large() {
    let config = EmulatorConfig {
        page_size: 10,
        ..EmulatorConfig::fast()
    };
    let emu = emulator_with(config, GROUP);
    let p = provider(&emu);
    emu.reset_stats();
    let (_, hint) = not_found(&p, &nsg_id("WEB-NSGG"));
    assert_eq!(hint.as_deref(), Some("did you mean `web-nsg`?"));
    assert_eq!(emu.stats().requests_by("GET"), 2);
}

#[test]
fn without_a_near_name_the_group_is_counted() {
    let emu = emulator_with(EmulatorConfig::fast(), GROUP);
    let p = provider(&emu);
    let (_, hint) = not_found(&p, &nsg_id("storage"));
    assert_eq!(
        hint.as_deref(),
        Some("resource group `rg1` has 5 network security groups, none named like `storage`")
    );
}

#[test]
fn a_missing_resource_group_is_said_without_listing() {
    let emu = emulator_with(EmulatorConfig::fast(), GROUP);
    let p = provider(&emu);
    emu.reset_stats();
    let id = nsg_id("web-nsg").replace("/rg1/", "/rg9/");
    let (head, hint) = not_found(&p, &id);
    assert_eq!(
        format!("{head}; {}", hint.unwrap()),
        format!(
            "network security group not found: {id}; resource group `rg9` does not exist in \
             subscription `{SUB}`"
        )
    );
    assert_eq!(emu.stats().requests_by("GET"), 1);
}

#[test]
fn a_failed_listing_keeps_the_not_found_error() {
    let emu = emulator_with(EmulatorConfig::fast(), GROUP);
    emu.set_faults(vec![Fault::new(
        "GET",
        "/networkSecurityGroups$",
        Trigger::Always,
        FaultKind::Status(500),
    )]);
    let p = provider(&emu);
    let (head, hint) = not_found(&p, &nsg_id("web-nsgg"));
    assert_eq!(
        head,
        format!("network security group not found: {}", nsg_id("web-nsgg"))
    );
    assert_eq!(hint, None);
    assert!(emu.stats().faults_injected >= 1, "the listing was tried");
}
