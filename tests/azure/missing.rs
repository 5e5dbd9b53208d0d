//! A referenced NSG that does not exist: the error names its id and, from the NSGs of its
//! resource group (listed page by page through `nextLink`), a near name or how many there are;
//! a missing resource group is said as such; a failed listing leaves the plain error.

use jit::providers::{Provider, ProviderError};

use crate::common::*;
use crate::emulator::{EmulatorConfig, Fault, FaultKind, Trigger};

/// Five NSGs; in list order (`app`, `bastion`, `db`, `mgmt`, `web`) `web-nsg` is on page 3 of 3
/// at the default page size of 2.
const GROUP: &[&str] = &["web-nsg", "db-nsg", "app-nsg", "bastion-nsg", "mgmt-nsg"];

fn not_found(err: ProviderError) -> (String, Option<String>) {
    match err {
        ProviderError::NotFound { id, hint, .. } => (id, hint),
        other => panic!("expected not found, got {other}"),
    }
}

#[test]
fn a_near_name_on_the_last_page_is_suggested() {
    let emu = emulator_with(EmulatorConfig::fast(), GROUP);
    assert_eq!(emu.config().page_size, 2);
    let p = provider(&emu);
    emu.reset_stats();
    let err = p.read(&[nsg_id("web-nsgg")]).unwrap_err();
    let text = err.to_string();
    let (id, hint) = not_found(err);
    assert_eq!(id, nsg_id("web-nsgg"));
    assert_eq!(hint.as_deref(), Some("did you mean `web-nsg`?"));
    assert_eq!(
        text,
        format!(
            "network security group not found: {}; did you mean `web-nsg`?",
            nsg_id("web-nsgg")
        )
    );
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
    let (_, hint) = not_found(p.read(&[nsg_id("WEB-NSGG")]).unwrap_err());
    assert_eq!(hint.as_deref(), Some("did you mean `web-nsg`?"));
    assert_eq!(emu.stats().requests_by("GET"), 2);
}

#[test]
fn without_a_near_name_the_group_is_counted() {
    let emu = emulator_with(EmulatorConfig::fast(), GROUP);
    let p = provider(&emu);
    let (_, hint) = not_found(p.read(&[nsg_id("storage")]).unwrap_err());
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
    let err = p.read(std::slice::from_ref(&id)).unwrap_err();
    assert_eq!(
        err.to_string(),
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
    let err = p.read(&[nsg_id("web-nsgg")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("network security group not found: {}", nsg_id("web-nsgg"))
    );
    let (_, hint) = not_found(err);
    assert_eq!(hint, None);
    assert!(emu.stats().faults_injected >= 1, "the listing was tried");
}
