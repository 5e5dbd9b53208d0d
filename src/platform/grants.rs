//! Open grants as live state shows them, whatever the platform: what `jit status` lists.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantStatus {
    /// The request the live resource names.
    pub request: Option<String>,
    /// The target behind the scope and port, when the policy still has it.
    pub target: Option<String>,
    /// `<scope name>/<resource name>`.
    pub address: String,
    /// The scope's id.
    pub scope: String,
    /// Who asked, when the policy still has the request.
    pub requester: Option<String>,
    /// Who approved it, as the request says.
    pub approvers: Vec<String>,
    /// The file that holds the request, as diagnostics show it, when the policy still has it.
    pub file: Option<String>,
    pub sources: Vec<String>,
    pub protocol: String,
    pub ports: Vec<String>,
    pub expires: Option<Timestamp>,
    /// Seconds until `expires`; negative when overdue.
    pub seconds_left: Option<i64>,
    pub overdue: bool,
    /// How the live resource is wider than its request; empty when it is not.
    pub wider: Vec<Widening>,
}

impl GrantStatus {
    pub fn time_left(&self) -> Option<SignedDuration> {
        self.seconds_left.map(SignedDuration::from_secs)
    }
}

/// One way a grant's live resource opens more than its request asked for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Widening {
    /// `source`, `port`, `protocol` or `destination`.
    pub property: &'static str,
    /// What the live resource has, as the platform spells it.
    pub live: Vec<String>,
    /// What the request (with its target's port and destination) allows.
    pub requested: Vec<String>,
}
