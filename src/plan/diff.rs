//! Pure: `diff(policy, desired, live, now) → Plan`. Matches managed live rules to desired ones
//! by name, allocates priorities, and records findings. Foreign rules are read, never changed.

use jiff::Timestamp;

use crate::compile::Desired;
use crate::live::Live;
use crate::model::Policy;
use crate::plan::Plan;

pub fn diff(policy: &Policy, desired: &Desired, live: &Live, now: Timestamp) -> Plan {
    let _ = (policy, desired, live, now);
    todo!("diff")
}
