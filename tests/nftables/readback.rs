//! What the table reads back as: hand changes are drift and put back; removing an element the
//! kernel expired meanwhile is success; a refused transaction changes nothing.

use jit::providers::nftables::{self, reconcile, Rebuild};
use serde_json::json;

use super::enforcement::spec;
use super::lab::{Lab, CLIENT4, OTHER4};

#[test]
fn an_extra_rule_is_drift_and_is_put_back() {
    let Some(lab) = Lab::new("extra-rule") else {
        return;
    };
    let nft = lab.nft();
    let want = spec(&[("INC-1", "192.0.2.2/32", 600)]);
    nftables::apply(&nft, &want).unwrap();
    lab.nft_text(&[
        "insert", "rule", "inet", "jit", "input", "tcp", "dport", "22", "accept",
    ]);
    assert!(
        lab.connect(OTHER4).is_some(),
        "the hand-made rule opened the port"
    );

    let live = nftables::read(&nft, "jit").unwrap().unwrap();
    let plan = reconcile::plan(&want, Some(&live));
    let drift = plan.drift();
    assert!(
        matches!(plan.rebuild, Some(Rebuild::Drift(_))),
        "{:?}",
        plan.rebuild
    );
    assert!(
        drift.iter().any(|d| d.contains("is not jit's")),
        "{drift:?}"
    );

    nftables::apply(&nft, &want).unwrap();
    assert!(
        lab.connect(OTHER4).is_none(),
        "put back: closed to the ungranted address"
    );
    assert!(
        lab.connect(CLIENT4).is_some(),
        "the grant survived the rebuild"
    );
    let live = nftables::read(&nft, "jit").unwrap().unwrap();
    assert!(reconcile::plan(&want, Some(&live)).is_empty());
}

#[test]
fn an_element_nobody_granted_and_a_stretched_timeout_are_drift_and_put_back() {
    let Some(lab) = Lab::new("hand-elements") else {
        return;
    };
    let nft = lab.nft();
    let want = spec(&[("INC-1", "192.0.2.2/32", 600)]).with_known_requests(["INC-1"]);
    nftables::apply(&nft, &want).unwrap();
    lab.nft_text(&[
        "add",
        "element",
        "inet",
        "jit",
        "grants4_0",
        "{ 192.0.2.3 . tcp . 22 timeout 1h comment \"by-hand\" }",
    ]);
    lab.nft_text(&[
        "add",
        "element",
        "inet",
        "jit",
        "grants4_0",
        "{ 192.0.2.2 . tcp . 22 timeout 1d }",
    ]);
    assert!(lab.connect(OTHER4).is_some());

    let live = nftables::read(&nft, "jit").unwrap().unwrap();
    let plan = reconcile::plan(&want, Some(&live));
    assert_eq!(plan.rebuild, None);
    let drift = plan.drift();
    assert_eq!(drift.len(), 2, "{drift:?}");
    assert!(
        drift
            .iter()
            .any(|d| d.contains("192.0.2.3/32") && d.contains("no request")),
        "{drift:?}"
    );
    assert!(
        drift.iter().any(|d| d.contains("longer than its grant")),
        "{drift:?}"
    );

    nftables::apply(&nft, &want).unwrap();
    assert!(lab.connect(OTHER4).is_none());
    let live = nftables::read(&nft, "jit").unwrap().unwrap();
    assert_eq!(live.elements.len(), 1);
    assert!(
        live.elements[0].expires.unwrap() <= 600,
        "{:?}",
        live.elements[0]
    );
    assert!(reconcile::plan(&want, Some(&live)).is_empty());
}

#[test]
fn removing_an_element_the_kernel_already_expired_succeeds() {
    let Some(lab) = Lab::new("expired-delete") else {
        return;
    };
    let nft = lab.nft();
    nftables::apply(&nft, &spec(&[("INC-1", "192.0.2.2/32", 1)])).unwrap();
    // Plan the removal while the element is still there, apply it after the kernel removed it.
    let live = nftables::read(&nft, "jit").unwrap().unwrap();
    assert_eq!(live.elements.len(), 1);
    let want = spec(&[]);
    let plan = reconcile::plan(&want, Some(&live));
    assert_eq!(plan.changes.len(), 1);
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    assert!(nftables::read(&nft, "jit")
        .unwrap()
        .unwrap()
        .elements
        .is_empty());
    let document = reconcile::transaction(&want, &plan).unwrap();
    nft.check(&document).expect("checked");
    nft.apply(&document)
        .expect("a delete of an expired element is success");
}

#[test]
fn a_refused_transaction_changes_nothing() {
    let Some(lab) = Lab::new("atomic") else {
        return;
    };
    let nft = lab.nft();
    let want = spec(&[("INC-1", "192.0.2.2/32", 600)]);
    nftables::apply(&nft, &want).unwrap();
    let before = nftables::read(&nft, "jit").unwrap().unwrap();
    let document = json!({"nftables": [
        {"add": {"element": {"family": "inet", "table": "jit", "name": "grants4_0", "elem": [
            {"elem": {"val": {"concat": ["192.0.2.3", "tcp", 22]}, "timeout": 600}}]}}},
        {"add": {"element": {"family": "inet", "table": "jit", "name": "no-such-set", "elem": [
            {"elem": {"val": {"concat": ["192.0.2.3", "tcp", 22]}, "timeout": 600}}]}}}
    ]});
    let err = nft.check(&document).unwrap_err().to_string();
    assert!(err.contains("nothing was changed"), "{err}");
    assert!(nft.apply(&document).is_err());
    let after = nftables::read(&nft, "jit").unwrap().unwrap();
    assert_eq!(after.fingerprint, before.fingerprint);
    assert!(lab.connect(OTHER4).is_none());
}

#[test]
fn a_missing_table_reads_as_none_and_the_host_ruleset_is_left_alone() {
    let Some(lab) = Lab::new("missing") else {
        return;
    };
    let nft = lab.nft();
    assert_eq!(nftables::read(&nft, "jit").unwrap(), None);
    lab.nft_text(&["add", "table", "inet", "host"]);
    lab.nft_text(&[
        "add",
        "chain",
        "inet",
        "host",
        "input",
        "{ type filter hook input priority 0; policy accept; }",
    ]);
    lab.nft_text(&[
        "add", "rule", "inet", "host", "input", "tcp", "dport", "80", "accept",
    ]);
    let host_before = lab.nft_text(&["-j", "list", "table", "inet", "host"]);
    nftables::apply(&nft, &spec(&[("INC-1", "192.0.2.2/32", 600)])).unwrap();
    nftables::apply(&nft, &spec(&[])).unwrap();
    assert_eq!(
        lab.nft_text(&["-j", "list", "table", "inet", "host"]),
        host_before
    );
}
