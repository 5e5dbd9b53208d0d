//! Pure: `apply_to_live(live, plan) → Live`, the live state a plan leaves behind when every
//! change succeeds. The snapshot provider writes it; tests use it to check that a plan converges
//! and never touches a foreign rule. Each change is idempotent: a create or update of a rule that
//! already exists replaces it, a delete of a missing rule does nothing.

use crate::live::{nsg_key, Live, LiveRule};
use crate::plan::{Action, Plan};

/// `live` with every change of `plan` applied, in order. Rules keep their place; created rules
/// go last. Fingerprints are left as they were: the provider computes the new ones.
pub fn apply_to_live(live: &Live, plan: &Plan) -> Live {
    let mut out = live.clone();
    for change in &plan.resource_changes {
        let Some(nsg) = out.nsgs.get_mut(&nsg_key(&change.nsg_id)) else {
            continue;
        };
        let position = nsg
            .rules
            .iter()
            .position(|r| r.rule.name.eq_ignore_ascii_case(&change.name));
        match (change.action(), &change.change.after, position) {
            (Action::Delete, _, Some(i)) => {
                nsg.rules.remove(i);
            }
            (Action::Delete, _, None) => {}
            (_, Some(after), Some(i)) => {
                nsg.rules[i] = LiveRule {
                    rule: after.clone(),
                    etag: None,
                };
            }
            (_, Some(after), None) => nsg.rules.push(LiveRule {
                rule: after.clone(),
                etag: None,
            }),
            (_, None, _) => {}
        }
    }
    out
}
