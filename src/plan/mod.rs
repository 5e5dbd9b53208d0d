//! The plan: what `diff(Desired, Live)` decided, as data. Rendered as text or JSON, saved to a
//! file, and applied action by action. The text plan and the JSON plan are rendered from this
//! one value, so they never disagree.
//!
//! `ActionReason` and the human `reason` are for display and audit only; apply acts on
//! `change.actions` and `change.after`.

pub mod action;
pub mod narrowing;
pub mod reason;
pub mod terraform;
pub mod verify;

pub use crate::platform::{compile, diff};
pub use action::Action;

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::resource::Resource;

/// Bumped on any incompatible change to the saved-plan shape. `1.2` is the version of
/// `terraform show -json` whose shape the plan has (see [`terraform`]); `1.0` was jit's own
/// shape, which no longer reads.
pub const FORMAT_VERSION: &str = "1.2";

/// In memory; its JSON form, a Terraform JSON plan, is [`terraform`]'s.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub format_version: String,
    /// The clock the plan was made with (`--at`, default now).
    pub created_at: Timestamp,
    /// The earliest grant start or end after `created_at`: past it, the plan no longer says
    /// what the policy wants.
    pub valid_until: Option<Timestamp>,
    pub resource_changes: Vec<ResourceChange>,
    /// Every managed resource of the planned scopes as it is live, changed or not, in address
    /// order: with the changes it gives `planned_values`, every managed resource as it will be
    /// after apply.
    pub prior: Vec<PriorResource>,
    pub findings: Vec<Finding>,
    /// Findings an `accept` block covers until it expires: listed, never counted as needing
    /// attention. Absent when there are none.
    pub accepted: Vec<AcceptedFinding>,
    /// What could not be planned: errors in the configuration, scopes that could not be read,
    /// a full priority band, a foreign rule squatting a managed name. A plan with errors holds
    /// only narrowing changes (see [`narrowing`]); it exits 1, and `apply` applies those
    /// changes and exits 1.
    pub errors: Vec<PlanError>,
    /// What the plan allows that a reviewer should see: an active grant open to any source.
    /// Not findings (nothing is wrong with live state) and never a reason to refuse.
    pub warnings: Vec<PlanWarning>,
    /// Fingerprint of every live scope the plan was made against, keyed by scope id.
    pub fingerprints: BTreeMap<String, String>,
    /// `sha256:` over every config file's path and text (see `ops::config::digest`). Set by
    /// `ops::plan`; a saved plan without it, or with another one than the configuration has
    /// now, is stale.
    pub config_digest: Option<String>,
    /// The `--target` names the plan was narrowed to; empty for every target. `apply FILE`
    /// re-derives the plan with the same narrowing.
    pub targets: Vec<String>,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        !self.resource_changes.is_empty()
    }

    /// Findings that need attention (exposure, overdue, priority clash; not accepted ones):
    /// with `--detailed-exitcode` they exit 2 like pending changes.
    pub fn has_findings(&self) -> bool {
        !self.findings.is_empty()
    }

    /// How many changes have `action`.
    pub fn count(&self, action: Action) -> usize {
        self.resource_changes
            .iter()
            .filter(|c| c.action() == action)
            .count()
    }

    /// `(add, change, destroy)`.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |a: Action| {
            self.resource_changes
                .iter()
                .filter(|c| c.action() == a)
                .count()
        };
        (
            count(Action::Create),
            count(Action::Update),
            count(Action::Delete),
        )
    }
}

/// A managed resource as it is live.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorResource {
    /// `<scope name>/<resource name>`, as [`ResourceChange::address`].
    pub address: String,
    pub scope: String,
    pub resource: Resource,
}

/// One change to one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceChange {
    /// `<scope name>/<resource name>`, unique in a plan.
    pub address: String,
    /// The provider's address, `<kind>.<name>`.
    pub provider: String,
    /// The id of the scope the resource is in, as the policy writes it.
    pub scope: String,
    /// The resource's name within its scope.
    pub name: String,
    /// The target the resource belongs to; `None` for a managed one the policy no longer explains.
    /// `--target` keeps only changes of the named targets.
    pub target: Option<String>,
    pub change: Change,
    pub action_reason: ActionReason,
    /// Human wording of the reason: `request INC-4211 active until 16:00Z`.
    pub reason: String,
    /// The grant behind the resource, for the audit log.
    pub request: Option<RequestInfo>,
}

impl ResourceChange {
    /// The one action of the change: `Change::actions` always holds exactly one (a plan file
    /// with none or several is refused when it is read).
    pub fn action(&self) -> Action {
        self.change.actions[0]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Always exactly one, in a list as `terraform show -json` has it; reading a plan with
    /// none or several is an error.
    pub actions: Vec<Action>,
    /// The live resource, `null` for a create.
    pub before: Option<Resource>,
    /// The desired resource, `null` for a delete.
    pub after: Option<Resource>,
}

pub(crate) fn exactly_one_action<'de, D>(deserializer: D) -> Result<Vec<Action>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let actions = Vec::<Action>::deserialize(deserializer)?;
    match actions.len() {
        1 => Ok(actions),
        0 => Err(serde::de::Error::custom("a change has no action")),
        n => Err(serde::de::Error::custom(format!(
            "a change has {n} actions; jit plans hold exactly one per change"
        ))),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionReason {
    /// An allow rule for a grant that is active now.
    RequestActive,
    /// A lock-down deny rule the policy asks for.
    LockDown,
    /// A managed allow rule whose grant has ended.
    RequestExpired,
    /// A managed rule that no target, port or request explains any more.
    NotInPolicy,
    /// A managed rule whose properties were changed outside jit.
    Drifted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestInfo {
    pub id: String,
    pub requester: String,
    pub approvers: Vec<String>,
    pub justification: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// The scope the finding is in.
    pub scope: String,
    /// The resource the finding is about.
    pub resource: String,
    pub message: String,
}

/// A finding about a foreign rule that an `accept` block covers, with the block's reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedFinding {
    pub kind: FindingKind,
    pub scope: String,
    pub resource: String,
    pub message: String,
    /// The `accept` block's name.
    pub accept: String,
    pub justification: String,
    /// Past this instant the finding needs attention again.
    pub expires: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A foreign Inbound Allow rule ahead of a lock-down that opens the port wider than policy.
    Exposure,
    /// A managed allow rule whose `expires` is in the past.
    Overdue,
    /// Two rules with the same priority and direction.
    PriorityClash,
}

/// A warning about a desired resource, with its stable code (docs/diagnostics.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanWarning {
    /// `E077`: a grant open to any source; `E105`: a grant Defender still holds open.
    pub code: String,
    pub scope: String,
    /// The managed resource the warning is about.
    pub resource: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanError {
    /// The scope the error is about; `None` for an error in the configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub message: String,
}
