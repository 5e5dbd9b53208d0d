//! Grants whose sources overlap (a /32 inside another grant's /25, for the same port) work in
//! any order of arrival and of expiry, though the kernel refuses some overlapping adds to one
//! set.

use std::time::{Duration, Instant};

use jit::providers::nftables::{self, Rebuild};

use super::enforcement::spec;
use super::lab::{Lab, CLIENT4, OTHER4};

/// Whole seconds from now until `end`, as a caller computes a grant's remaining time.
fn left(end: Instant) -> u64 {
    end.saturating_duration_since(Instant::now()).as_secs()
}

fn sleep_until(t: Instant) {
    std::thread::sleep(t.saturating_duration_since(Instant::now()));
}

#[test]
fn a_host_grant_arriving_inside_a_wider_one_outlives_it() {
    let Some(lab) = Lab::new("wide-first") else {
        return;
    };
    let nft = lab.nft();
    let start = Instant::now();
    let (wide_end, host_end) = (
        start + Duration::from_secs(4),
        start + Duration::from_secs(9),
    );
    nftables::apply(&nft, &spec(&[("INC-wide", "192.0.2.0/25", left(wide_end))])).unwrap();
    assert!(lab.connect(OTHER4).is_some() && lab.connect(CLIENT4).is_some());

    let both = spec(&[
        ("INC-wide", "192.0.2.0/25", left(wide_end)),
        ("INC-host", "192.0.2.2/32", left(host_end)),
    ]);
    let applied = nftables::apply(&nft, &both).expect("the kernel refuses this add into one set");
    assert_eq!(applied.plan.rebuild, Some(Rebuild::NewLayer));

    sleep_until(wide_end + Duration::from_millis(300));
    assert!(lab.connect(OTHER4).is_none(), "the /25 closed at its end");
    assert!(
        lab.connect(CLIENT4).is_some(),
        "the /32 inside it is still open"
    );
    sleep_until(host_end + Duration::from_millis(300));
    assert!(lab.connect(CLIENT4).is_none(), "the /32 closed at its end");
}

#[test]
fn a_wider_grant_arriving_over_a_host_grant_outlives_it() {
    let Some(lab) = Lab::new("host-first") else {
        return;
    };
    let nft = lab.nft();
    let start = Instant::now();
    let (host_end, wide_end) = (
        start + Duration::from_secs(4),
        start + Duration::from_secs(9),
    );
    nftables::apply(&nft, &spec(&[("INC-host", "192.0.2.2/32", left(host_end))])).unwrap();
    assert!(lab.connect(OTHER4).is_none() && lab.connect(CLIENT4).is_some());

    let both = spec(&[
        ("INC-host", "192.0.2.2/32", left(host_end)),
        ("INC-wide", "192.0.2.0/25", left(wide_end)),
    ]);
    nftables::apply(&nft, &both).unwrap();
    assert!(lab.connect(OTHER4).is_some());

    sleep_until(host_end + Duration::from_millis(300));
    assert!(lab.connect(CLIENT4).is_some(), "still open through the /25");
    // jit runs again after the /32's end: it plans nothing for the kernel's own removal.
    let after = spec(&[("INC-wide", "192.0.2.0/25", left(wide_end))]);
    let live = nftables::read(&nft, "jit").unwrap().unwrap();
    let plan = nftables::reconcile::plan(&after, Some(&live));
    assert!(plan.is_empty(), "{:?}", plan.changes);
    sleep_until(wide_end + Duration::from_millis(300));
    assert!(lab.connect(CLIENT4).is_none() && lab.connect(OTHER4).is_none());
}

#[test]
fn nested_sources_sharing_their_first_address_are_accepted_in_either_order() {
    let Some(lab) = Lab::new("same-start") else {
        return;
    };
    let nft = lab.nft();
    // 192.0.2.2/31 and 192.0.2.2/32 begin at the same address: one set refuses them in either
    // order.
    for order in [
        ["192.0.2.2/31", "192.0.2.2/32"],
        ["192.0.2.2/32", "192.0.2.2/31"],
    ] {
        nftables::apply(&nft, &spec(&[])).unwrap();
        nftables::apply(&nft, &spec(&[("INC-a", order[0], 600)])).unwrap();
        nftables::apply(
            &nft,
            &spec(&[("INC-a", order[0], 600), ("INC-b", order[1], 600)]),
        )
        .unwrap_or_else(|e| panic!("{order:?}: {e}"));
        let live = nftables::read(&nft, "jit").unwrap().unwrap();
        assert_eq!(live.elements.len(), 2, "{order:?}");
        assert!(lab.connect(CLIENT4).is_some() && lab.connect(OTHER4).is_some());
        // And back: the wider one revoked early, the host one stays.
        nftables::apply(&nft, &spec(&[("INC-h", "192.0.2.2/32", 600)])).unwrap();
        nftables::apply(&nft, &spec(&[])).unwrap();
    }
}
