//! Pure: `compile(policy, now) → Desired`, the managed rules every NSG should hold at `now`:
//! one lock-down deny per protected port, one allow per active grant and port. Priorities are
//! left at 0 here; `plan::diff` allocates them against live state.

use jiff::Timestamp;

use crate::model::Policy;
use crate::nsg::Rule;

/// Desired managed rules, grouped by NSG, sorted by NSG key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Desired {
    pub nsgs: Vec<DesiredNsg>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredNsg {
    /// As written in the first target that names it.
    pub nsg_id: String,
    /// Provider address, `<kind>.<name>`.
    pub provider: String,
    pub rules: Vec<DesiredRule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredRule {
    /// `priority` is 0 until `plan::diff` allocates it from the band of `origin`.
    pub rule: Rule,
    pub target: String,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    LockDown {
        port: String,
    },
    Grant {
        request: String,
        port: String,
        expires: Timestamp,
    },
}

pub fn compile(policy: &Policy, now: Timestamp) -> Desired {
    let _ = (policy, now);
    todo!("compile")
}
