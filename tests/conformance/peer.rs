//! What the conformance suite needs from a provider under test: a config dir whose policy
//! protects ports on targets of that provider (with an active grant), live state seeded with
//! foreign objects, and a few ways to disturb that live state. One implementation per provider
//! (snapshot.rs, azure.rs); a new provider adds one file and one line per property in main.rs.

use std::path::Path;

use serde_json::Value;

use crate::support::TestCommand;

/// How [`Peer::stop_after`] makes an apply stop after `k` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The next `jit apply` fails at its `k + 1`-th write, and at every write after it, until
    /// [`Peer::clear_stop`] (a fault that persists).
    NextApply,
    /// Live state already is what an apply stopped after `k` writes leaves behind (a provider
    /// that writes one atomic object per apply models the crash this way).
    Done,
}

/// Who closes the access a grant opened once the grant has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// jit: the next apply after the end removes what the grant opened (one delete).
    Jit,
    /// The platform itself, at the end it was given (Defender for Cloud closes an initiated
    /// request at its `endTimeUtc`; its API cannot close one early). jit has nothing to do:
    /// its plans hold no revocation, and [`Peer::end_grant`] moves the platform's clock past
    /// the end.
    Platform,
}

/// A provider under test, with its own config dir and live state (a fresh one per test).
///
/// The config dir's policy protects ports on targets of this provider, spread over at least
/// two scopes, and holds an active grant in `requests/grant.hcl` (written with
/// [`crate::grant::write`], so the suite can move it past its end). Live state is seeded with
/// foreign objects: objects of other tools, look-alikes carrying the policy's name prefix
/// without the managed marker, and one managed object of a grant that has expired (which jit
/// must remove), so the first apply has creates and deletes to make.
pub trait Peer {
    /// Names the peer in failure messages: `snapshot`, `azure`.
    fn name(&self) -> &'static str;

    /// The config dir (`jit -C <dir>`).
    fn dir(&self) -> &Path;

    /// The real `jit` binary run in the config dir, with whatever environment the provider
    /// needs (credentials, endpoints).
    fn jit(&self, args: &[&str]) -> TestCommand;

    /// Every foreign object of live state, as canonical JSON text in a stable order: compared
    /// byte for byte before and after jit runs.
    fn foreign(&self) -> String;

    /// All of live state, managed objects included, as JSON text: compared byte for byte where
    /// jit must write nothing at all.
    fn live(&self) -> String;

    /// Another writer changes one scope jit plans (a foreign object in it), out of band, so
    /// that its fingerprint moves.
    fn change_out_of_band(&self);

    /// Arranges for an apply of the saved plan at `plan` (made with `jit plan --out`) to stop
    /// after its first `k` writes.
    fn stop_after(&self, plan: &Path, k: usize) -> Stop;

    /// Undoes [`Peer::stop_after`]: the next apply writes freely.
    fn clear_stop(&self);

    /// Widens the access a change of the saved plan grants (its `change.after`) to any source.
    fn widen(&self, after: &mut Value);

    /// Moves the end of the access a change of the saved plan grants (its `change.after`) a
    /// day later.
    fn lengthen(&self, after: &mut Value);

    /// Gives a change of a saved plan another resource name in the same scope (a resource jit
    /// would not touch).
    fn rename(&self, change: &mut Value, name: &str);

    /// After an edit of a saved plan's `resource_changes`, rewrites what jit derives from them
    /// (addresses, `planned_values`), so the edit is caught by the check against what jit would
    /// do, not by the document's own consistency check.
    fn resync(&self, doc: &mut Value);

    /// Who closes a grant's access at its end (jit, unless the peer says otherwise).
    fn revocation(&self) -> Revocation {
        Revocation::Jit
    }

    /// For [`Revocation::Platform`]: makes the platform reach the end of the grant (after
    /// [`crate::grant::expire`] moved it in the repository), so that it closes the access, and
    /// checks that it did. Never called for [`Revocation::Jit`].
    fn end_grant(&self) {
        panic!("{}: jit revokes this peer's grants itself", self.name())
    }
}

/// For [`Stop::Done`]: applies `changes` of the saved plan `plan` through `provider`, as the
/// apply that stopped after them would have, and checks that each was applied.
pub fn apply_through(
    provider: &dyn jit::providers::Provider,
    plan: &jit::plan::Plan,
    changes: &[jit::plan::ResourceChange],
) {
    let batch = jit::providers::Batch {
        changes,
        fingerprints: &plan.fingerprints,
        now: jiff::Timestamp::now(),
        read_at: None,
    };
    let outcomes = provider
        .apply(batch, &|_| {})
        .expect("the first k changes apply");
    assert!(
        outcomes
            .iter()
            .all(|o| *o == jit::providers::Outcome::Applied),
        "{outcomes:?}"
    );
}
