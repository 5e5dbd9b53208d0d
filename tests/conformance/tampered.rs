//! Property 5: a saved plan edited after `jit plan --out` (consistently: `planned_values`
//! rewritten to match) is refused with exit 1, and live state is byte-for-byte unchanged.
//!
//! The grant's change is the first one made for a request that opens access: a `create` (an
//! allow rule) or, where the platform closes grants itself, an `initiate`. A plan of such a
//! peer ([`Revocation::Platform`]) holds no revocation to flip, so that case is left out for it
//! alone; every peer gets the grant's end moved a day later.

use serde_json::{json, Value};

use crate::peer::{Peer, Revocation};

type Edit = Box<dyn Fn(&dyn Peer, &mut Value)>;

fn changes(doc: &mut Value) -> &mut Vec<Value> {
    doc["resource_changes"].as_array_mut().unwrap()
}

/// The first change whose `actions` are `actions` and, when `grant` says, which is
/// (`Some(true)`) or is not (`Some(false)`) made for a request.
fn find<'a>(doc: &'a mut Value, actions: &Value, grant: Option<bool>) -> &'a mut Value {
    changes(doc)
        .iter_mut()
        .find(|c| {
            &c["change"]["actions"] == actions
                && grant.is_none_or(|grant| c["request"].is_null() != grant)
        })
        .unwrap_or_else(|| panic!("no change {actions} (grant: {grant:?})"))
}

/// The change that opens access for the grant.
fn grant(doc: &mut Value) -> &mut Value {
    changes(doc)
        .iter_mut()
        .find(|c| {
            !c["request"].is_null()
                && [json!(["create"]), json!(["initiate"])].contains(&c["change"]["actions"])
        })
        .expect("no change opens access for the grant")
}

fn cases(peer: &dyn Peer) -> Vec<(&'static str, Edit)> {
    let mut cases: Vec<(&'static str, Edit)> = vec![
        (
            "the grant widened to any source",
            Box::new(|peer, doc| {
                let allow = grant(doc);
                peer.widen(&mut allow["change"]["after"]);
            }),
        ),
        (
            "the grant's end moved a day later",
            Box::new(|peer, doc| {
                let allow = grant(doc);
                peer.lengthen(&mut allow["change"]["after"]);
            }),
        ),
        (
            "a change added",
            Box::new(|peer, doc| {
                let mut extra = grant(doc).clone();
                peer.rename(&mut extra, "jit-allow-backdoor-ssh");
                changes(doc).push(extra);
            }),
        ),
        (
            "a lock-down flipped to a delete",
            Box::new(|_, doc| {
                let deny = find(doc, &json!(["create"]), Some(false));
                deny["change"]["actions"] = json!(["delete"]);
                deny["change"]["before"] = deny["change"]["after"].take();
            }),
        ),
    ];
    if peer.revocation() == Revocation::Jit {
        cases.push((
            "a revocation flipped to an update",
            Box::new(|_, doc| {
                let revoke = find(doc, &json!(["delete"]), None);
                revoke["change"]["actions"] = json!(["update"]);
                revoke["change"]["after"] = revoke["change"]["before"].clone();
            }),
        ));
    }
    cases
}

pub fn a_tampered_plan_is_refused(peer: &dyn Peer) {
    let plan = peer.dir().join("plan.json");
    let plan_arg = plan.to_str().unwrap();
    peer.jit(&["plan", "--out", plan_arg]).run().code(0);
    let original = std::fs::read_to_string(&plan).unwrap();
    let live = peer.live();
    for (case, edit) in cases(peer) {
        let mut doc: Value = serde_json::from_str(&original).unwrap();
        edit(peer, &mut doc);
        peer.resync(&mut doc);
        let tampered = serde_json::to_string_pretty(&doc).unwrap();
        assert_ne!(
            tampered,
            original,
            "{}: {case}: the edit changed nothing",
            peer.name()
        );
        std::fs::write(&plan, tampered).unwrap();
        let run = peer.jit(&["apply", plan_arg]).run();
        assert_eq!(
            run.code,
            1,
            "{}: {case}: applied\n{}\n{}",
            peer.name(),
            run.stdout,
            run.stderr
        );
        assert!(
            !run.stderr.contains("panicked"),
            "{}: {case}: {}",
            peer.name(),
            run.stderr
        );
        assert_eq!(
            peer.live(),
            live,
            "{}: {case}: live state changed",
            peer.name()
        );
    }
    // The plan as jit wrote it applies.
    std::fs::write(&plan, &original).unwrap();
    peer.jit(&["apply", plan_arg]).run().code(0);
    assert_ne!(
        peer.live(),
        live,
        "{}: the untouched plan wrote nothing",
        peer.name()
    );
}
