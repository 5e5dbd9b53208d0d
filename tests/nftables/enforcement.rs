//! The kernel enforces what jit applies: closed before a grant, open to the granted source
//! only (IPv4 and IPv6), closed again when the element's timeout passes with nothing running,
//! while a connection opened during the grant survives.

use std::time::{Duration, Instant};

use jit::providers::nftables::{self, GrantInput, GuardedPort, Proto, TableSpec};

use super::lab::{still_open, Lab, CLIENT4, CLIENT6, OTHER4, OTHER6};

pub const SSH: GuardedPort = GuardedPort {
    proto: Proto::Tcp,
    port: 22,
};

/// The table for port 22 with these grants: (request, source, seconds left).
pub fn spec(grants: &[(&str, &str, u64)]) -> TableSpec {
    TableSpec::new(
        "jit",
        nftables::spec::DEFAULT_PRIORITY,
        [SSH],
        grants.iter().map(|(request, source, secs)| GrantInput {
            request: request.to_string(),
            source: source.parse().unwrap(),
            port: SSH,
            remaining_secs: *secs,
        }),
    )
}

#[test]
fn a_grant_opens_port_22_to_its_source_only_and_the_kernel_closes_it_at_its_end() {
    let Some(lab) = Lab::new("enforcement") else {
        return;
    };
    let nft = lab.nft();
    assert!(
        lab.connect(CLIENT4).is_some(),
        "the lab itself must let connections through"
    );

    nftables::apply(&nft, &spec(&[])).expect("lock down");
    assert!(
        lab.connect(CLIENT4).is_none(),
        "port 22 is closed before any grant (IPv4)"
    );
    assert!(
        lab.connect(CLIENT6).is_none(),
        "port 22 is closed before any grant (IPv6)"
    );

    let grants = [
        ("INC-1-alice", "192.0.2.2/32", 4),
        ("INC-1-alice", "2001:db8::2/128", 4),
    ];
    let applied_at = Instant::now();
    nftables::apply(&nft, &spec(&grants)).expect("grant");
    let mut open4 = lab
        .connect(CLIENT4)
        .expect("the granted IPv4 source is let in");
    let mut open6 = lab
        .connect(CLIENT6)
        .expect("the granted IPv6 source is let in");
    assert!(
        lab.connect(OTHER4).is_none(),
        "an ungranted IPv4 address stays out"
    );
    assert!(
        lab.connect(OTHER6).is_none(),
        "an ungranted IPv6 address stays out"
    );

    // Nothing of jit runs from here on: the kernel closes the grant by itself.
    std::thread::sleep(
        (applied_at + Duration::from_millis(4_300)).saturating_duration_since(Instant::now()),
    );
    assert!(
        lab.connect(CLIENT4).is_none(),
        "closed again once the timeout passed (IPv4)"
    );
    assert!(
        lab.connect(CLIENT6).is_none(),
        "closed again once the timeout passed (IPv6)"
    );
    assert!(
        still_open(&mut open4),
        "a connection opened during the grant survives its end (IPv4)"
    );
    assert!(
        still_open(&mut open6),
        "a connection opened during the grant survives its end (IPv6)"
    );
}

#[test]
fn applying_the_same_table_twice_writes_nothing_the_second_time() {
    let Some(lab) = Lab::new("idempotent") else {
        return;
    };
    let nft = lab.nft();
    let want = spec(&[
        ("INC-2", "192.0.2.0/25", 600),
        ("INC-3", "2001:db8::/48", 600),
    ]);
    let first = nftables::apply(&nft, &want).expect("first apply");
    assert!(!first.plan.is_empty());
    let live = nftables::read(&nft, "jit")
        .unwrap()
        .expect("the table exists");
    let again = nftables::reconcile::plan(&want, Some(&live));
    assert!(
        again.is_empty(),
        "read back as written: {:?} {:?}",
        again.rebuild,
        again.changes
    );
    let second = nftables::apply(&nft, &want).expect("second apply");
    assert!(second.plan.is_empty());
    let after = nftables::read(&nft, "jit").unwrap().unwrap();
    assert_eq!(after.fingerprint, live.fingerprint, "nothing was written");
    assert!(lab.connect(CLIENT4).is_some());
}
