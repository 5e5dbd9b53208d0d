//! The verbs of a plan and every way jit words them: the symbol and legend of the text plan,
//! the verb of error messages, the past tense of progress lines. The one home of that wording.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
    /// Asks the platform to open access until an end it enforces itself (a Defender for Cloud
    /// JIT request): nothing jit can take back early.
    Initiate,
}

impl Action {
    /// Every action, in the order plans list their counts.
    pub const ALL: [Action; 4] = [
        Action::Create,
        Action::Update,
        Action::Delete,
        Action::Initiate,
    ];

    /// One of Terraform's own verbs (create, update, delete).
    pub fn is_terraform(self) -> bool {
        !matches!(self, Action::Initiate)
    }

    /// The symbol of the text plan.
    pub fn symbol(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update => '~',
            Action::Delete => '-',
            Action::Initiate => '>',
        }
    }

    /// The text plan's legend: `+ create`, `~ update in-place`, `- destroy`.
    pub fn legend(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update in-place",
            Action::Delete => "destroy",
            Action::Initiate => "initiate (Azure closes it at its end)",
        }
    }

    /// `# <address> will be created`.
    pub fn future(self) -> &'static str {
        match self {
            Action::Create => "will be created",
            Action::Update => "will be updated in-place",
            Action::Delete => "will be destroyed",
            Action::Initiate => "will be initiated (Azure closes it at its end)",
        }
    }

    /// The verb of messages: "refusing to delete it".
    pub fn verb(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Initiate => "initiate",
        }
    }

    /// Progress lines: `<address>: created`.
    pub fn done(self) -> &'static str {
        match self {
            Action::Create => "created",
            Action::Update => "updated",
            Action::Delete => "destroyed",
            Action::Initiate => "initiated",
        }
    }

    /// The summary's count: `1 to add` / `1 added`.
    pub fn counted(self) -> (&'static str, &'static str) {
        match self {
            Action::Create => ("to add", "added"),
            Action::Update => ("to change", "changed"),
            Action::Delete => ("to destroy", "destroyed"),
            Action::Initiate => ("to initiate", "initiated"),
        }
    }
}
