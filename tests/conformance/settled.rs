//! Property 1: after an apply there is nothing left to do (`plan --detailed-exitcode` exits 0).

use crate::peer::Peer;

pub fn apply_then_plan_is_empty(peer: &dyn Peer) {
    peer.jit(&["plan", "--detailed-exitcode"]).run().code(2);
    peer.jit(&["apply", "--auto-approve"])
        .run()
        .code(0)
        .stdout_has("Apply complete!");
    peer.jit(&["plan", "--detailed-exitcode"]).run().code(0);
}
