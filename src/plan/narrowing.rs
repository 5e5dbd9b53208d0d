//! Pure: keeping only the narrowing changes of a plan that has errors (DESIGN §5b, "fail
//! closed, revoke always"). Which change narrows is its platform's call
//! ([`platform::narrowing`](crate::platform::narrowing)); `ops::plan` applies this.

use crate::plan::Plan;
use crate::platform::{narrowing, Narrowing};

/// What a plan with errors may still do: its narrowing changes, and the replacements its
/// platforms give for changes that widen but touch what must be closed regardless (an allow
/// past its own expiry is deleted rather than updated). Every other change is dropped.
pub fn keep_narrowing(plan: &mut Plan) {
    let now = plan.created_at;
    let changes = std::mem::take(&mut plan.resource_changes);
    plan.resource_changes = changes
        .into_iter()
        .filter_map(|change| match narrowing(&change, now) {
            Narrowing::Keep => Some(change),
            Narrowing::Drop => None,
            Narrowing::Instead(other) => Some(*other),
        })
        .collect();
}
