//! Property 2: foreign objects are byte-for-byte untouched by an apply, and by the apply that
//! revokes the grant once it has ended.

use crate::grant;
use crate::peer::Peer;

pub fn foreign_objects_untouched(peer: &dyn Peer) {
    let seeded = peer.foreign();
    let live = peer.live();
    peer.jit(&["apply", "--auto-approve"]).run().code(0);
    assert_ne!(
        peer.live(),
        live,
        "{}: the apply wrote nothing",
        peer.name()
    );
    assert_eq!(
        peer.foreign(),
        seeded,
        "{}: foreign objects changed by the apply",
        peer.name()
    );

    grant::expire(peer.dir());
    peer.jit(&["plan", "--detailed-exitcode"]).run().code(2);
    peer.jit(&["apply", "--auto-approve"])
        .run()
        .code(0)
        .stdout_has("1 destroyed");
    assert_eq!(
        peer.foreign(),
        seeded,
        "{}: foreign objects changed by the revocation",
        peer.name()
    );
    peer.jit(&["plan", "--detailed-exitcode"]).run().code(0);
}
