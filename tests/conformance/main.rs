//! The conformance suite: properties every provider must have, checked through the real `jit`
//! binary against each provider in turn (a [`peer::Peer`] each). docs/providers.md says what it
//! proves and how a new provider adds its peer.

#[allow(dead_code)]
#[path = "../emulator/mod.rs"]
mod emulator;

#[allow(dead_code)]
#[path = "../cli/support.rs"]
mod support;

#[path = "../common/plan_doc.rs"]
mod plan_doc;

#[allow(dead_code)]
#[path = "../common/vm_fixture.rs"]
mod vm_fixture;

mod grant;
mod nsg;
mod peer;

mod azure;
mod defender;
mod nftables;
mod snapshot;

mod crash;
mod foreign;
mod settled;
mod stale;
mod tampered;

use azure::AzurePeer;
use defender::DefenderPeer;
use nftables::NftablesPeer;
use peer::Peer;
use snapshot::SnapshotPeer;

#[test]
fn snapshot_apply_then_plan_is_empty() {
    settled::apply_then_plan_is_empty(&SnapshotPeer::new());
}

#[test]
fn azure_apply_then_plan_is_empty() {
    settled::apply_then_plan_is_empty(&AzurePeer::new());
}

#[test]
fn defender_apply_then_plan_is_empty() {
    settled::apply_then_plan_is_empty(&DefenderPeer::new());
}

#[test]
fn snapshot_foreign_objects_untouched() {
    foreign::foreign_objects_untouched(&SnapshotPeer::new());
}

#[test]
fn azure_foreign_objects_untouched() {
    foreign::foreign_objects_untouched(&AzurePeer::new());
}

#[test]
fn defender_foreign_objects_untouched() {
    foreign::foreign_objects_untouched(&DefenderPeer::new());
}

#[test]
fn snapshot_re_run_after_a_crash_converges() {
    crash::re_run_after_a_crash_converges(&|| Box::new(SnapshotPeer::new()) as Box<dyn Peer>);
}

#[test]
fn azure_re_run_after_a_crash_converges() {
    crash::re_run_after_a_crash_converges(&|| Box::new(AzurePeer::new()) as Box<dyn Peer>);
}

#[test]
fn defender_re_run_after_a_crash_converges() {
    crash::re_run_after_a_crash_converges(&|| Box::new(DefenderPeer::new()) as Box<dyn Peer>);
}

#[test]
fn snapshot_a_stale_scope_is_detected() {
    stale::a_stale_scope_is_detected(&SnapshotPeer::new());
}

#[test]
fn azure_a_stale_scope_is_detected() {
    stale::a_stale_scope_is_detected(&AzurePeer::new());
}

#[test]
fn defender_a_stale_scope_is_detected() {
    stale::a_stale_scope_is_detected(&DefenderPeer::new());
}

#[test]
fn snapshot_a_tampered_plan_is_refused() {
    tampered::a_tampered_plan_is_refused(&SnapshotPeer::new());
}

#[test]
fn azure_a_tampered_plan_is_refused() {
    tampered::a_tampered_plan_is_refused(&AzurePeer::new());
}

#[test]
fn defender_a_tampered_plan_is_refused() {
    tampered::a_tampered_plan_is_refused(&DefenderPeer::new());
}

#[test]
fn nftables_apply_then_plan_is_empty() {
    if let Some(peer) = NftablesPeer::new() {
        settled::apply_then_plan_is_empty(&peer);
    }
}

#[test]
fn nftables_foreign_objects_untouched() {
    if let Some(peer) = NftablesPeer::new() {
        foreign::foreign_objects_untouched(&peer);
    }
}

#[test]
fn nftables_re_run_after_a_crash_converges() {
    if nftables::available() {
        crash::re_run_after_a_crash_converges(&|| {
            Box::new(NftablesPeer::new().expect("available")) as Box<dyn Peer>
        });
    }
}

#[test]
fn nftables_a_stale_scope_is_detected() {
    if let Some(peer) = NftablesPeer::new() {
        stale::a_stale_scope_is_detected(&peer);
    }
}

#[test]
fn nftables_a_tampered_plan_is_refused() {
    if let Some(peer) = NftablesPeer::new() {
        tampered::a_tampered_plan_is_refused(&peer);
    }
}
