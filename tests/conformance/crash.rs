//! Property 3: an apply stopped after any number of writes (0 up to all of them) leaves a
//! state from which a re-run converges: it applies, the next plan is empty, and foreign
//! objects are untouched.

use std::path::Path;

use serde_json::Value;

use crate::peer::{Peer, Stop};

/// How many changes (writes) the saved plan at `plan` makes.
fn writes(plan: &Path) -> usize {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(plan).unwrap()).unwrap();
    doc["resource_changes"].as_array().unwrap().len()
}

/// One run per `k`, each on a fresh peer from `make`.
pub fn re_run_after_a_crash_converges(make: &dyn Fn() -> Box<dyn Peer>) {
    let mut k = 0;
    loop {
        let peer = make();
        let n = crash_at(&*peer, k);
        if k == n {
            break;
        }
        k += 1;
    }
}

/// Crashes an apply after `k` writes on `peer`, then checks the re-run; returns how many
/// writes the full apply makes.
fn crash_at(peer: &dyn Peer, k: usize) -> usize {
    let name = peer.name();
    let seeded = peer.foreign();
    let plan = peer.dir().join("plan.json");
    let plan_arg = plan.to_str().unwrap();
    peer.jit(&["plan", "--out", plan_arg]).run().code(0);
    let n = writes(&plan);
    assert!(
        n >= 3,
        "{name}: the plan should write several changes, has {n}"
    );
    let k = k.min(n);
    match peer.stop_after(&plan, k) {
        Stop::NextApply => {
            let run = peer.jit(&["apply", plan_arg]).run();
            peer.clear_stop();
            let run = run.code(if k < n { 1 } else { 0 });
            if k < n {
                run.stdout_has("Apply failed!");
            }
        }
        Stop::Done => {}
    }
    // The crash left work undone, exactly when it came before the last write.
    let expected = if k < n { 2 } else { 0 };
    peer.jit(&["plan", "--detailed-exitcode"])
        .run()
        .code(expected);
    assert_eq!(
        peer.foreign(),
        seeded,
        "{name}: crash after {k} of {n} writes touched foreign objects"
    );

    peer.jit(&["apply", "--auto-approve"]).run().code(0);
    peer.jit(&["plan", "--detailed-exitcode"]).run().code(0);
    assert_eq!(
        peer.foreign(),
        seeded,
        "{name}: re-run after {k} of {n} writes touched foreign objects"
    );
    n
}
