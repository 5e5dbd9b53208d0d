//! Property 2: foreign objects are byte-for-byte untouched by an apply, and by the apply that
//! revokes the grant once it has ended.
//!
//! Where the platform closes a grant itself ([`Revocation::Platform`], Defender mode) there is
//! no revoking apply: once the grant has ended in the repository, jit's plan has nothing to do
//! (it cannot close the request early), the platform reaches the end and closes the access
//! ([`Peer::end_grant`] checks it did), and foreign objects are as seeded after that too.

use crate::grant;
use crate::peer::{Peer, Revocation};

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
    match peer.revocation() {
        Revocation::Jit => {
            peer.jit(&["plan", "--detailed-exitcode"]).run().code(2);
            peer.jit(&["apply", "--auto-approve"])
                .run()
                .code(0)
                .stdout_has("1 destroyed");
        }
        Revocation::Platform => {
            peer.jit(&["plan", "--detailed-exitcode"]).run().code(0);
            peer.end_grant();
            peer.jit(&["apply", "--auto-approve"])
                .run()
                .code(0)
                .stdout_has("No changes.");
        }
    }
    assert_eq!(
        peer.foreign(),
        seeded,
        "{}: foreign objects changed by the revocation",
        peer.name()
    );
    peer.jit(&["plan", "--detailed-exitcode"]).run().code(0);
}
