//! Approvals that can be proved (DESIGN §3): the canonical message an approver signs, the
//! OpenSSH allowed_signers file that says whose keys count, the check of one SSHSIG
//! signature, and how people's names compare. Pure: text in, verdicts out; `lang` applies
//! them while validating, `ops::approve` signs through `ssh-keygen`.

pub mod message;
pub mod names;
pub mod signers;
pub mod verify;

pub use message::{Subject, NAMESPACE};

#[cfg(test)]
mod tests;
