//! Property 4: a saved plan whose scope another writer changed after planning is refused as
//! stale, and nothing jit would have written is written (in any scope).

use crate::peer::Peer;

pub fn a_stale_scope_is_detected(peer: &dyn Peer) {
    let plan = peer.dir().join("plan.json");
    let plan_arg = plan.to_str().unwrap();
    peer.jit(&["plan", "--out", plan_arg]).run().code(0);
    let before = peer.live();
    peer.change_out_of_band();
    let changed = peer.live();
    assert_ne!(
        changed,
        before,
        "{}: the out-of-band change changed nothing",
        peer.name()
    );
    peer.jit(&["apply", plan_arg])
        .run()
        .code(1)
        .stderr_has("stale plan");
    assert_eq!(peer.live(), changed, "{}: a stale plan wrote", peer.name());
    // A fresh plan of the changed scope goes through.
    peer.jit(&["plan", "--out", plan_arg]).run().code(0);
    peer.jit(&["apply", plan_arg]).run().code(0);
    peer.jit(&["plan", "--detailed-exitcode"]).run().code(0);
}
