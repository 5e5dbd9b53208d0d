//! Which Defender changes only narrow access: a VM entry put back with fewer ports (or with
//! ports it already had, unchanged) only takes away what could be requested. A new entry, a
//! port added or changed, and every initiate widen (an initiate opens the VM until Azure
//! closes it), so a plan with errors drops them.

use super::schema::vm_entry;
use crate::plan::{Action, ResourceChange};

pub fn narrows(change: &ResourceChange) -> bool {
    if change.action() != Action::Update {
        return false;
    }
    let (Some(before), Some(after)) = (&change.change.before, &change.change.after) else {
        return false;
    };
    let (Ok(before), Ok(after)) = (vm_entry(before), vm_entry(after)) else {
        return false;
    };
    after
        .ports
        .iter()
        .all(|port| before.ports.iter().any(|had| had == port))
}
