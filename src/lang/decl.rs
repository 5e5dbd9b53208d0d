//! Declarations: what each block says, decoded but not yet checked against other blocks, with
//! the place of every value that a later rule may point at. `validate` turns them into the
//! [`Policy`](crate::model::Policy).

use ipnet::IpNet;
use jiff::{SignedDuration, Timestamp};
use regex::Regex;

use super::report::At;
use crate::model::{Protocol, ProviderConfig, Settings};

/// A value and where it was written.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub value: T,
    pub at: At,
}

/// Everything declared in all files, in file order. `ok` is false on a block that had an error
/// of its own; such blocks still count for names and references, so one mistake does not
/// cascade into many.
#[derive(Debug, Default)]
pub struct Decls {
    pub settings: Vec<SettingsDecl>,
    pub providers: Vec<ProviderDecl>,
    pub targets: Vec<TargetDecl>,
    pub requests: Vec<RequestDecl>,
    pub accepts: Vec<AcceptDecl>,
    pub approvals: Vec<ApprovalDecl>,
}

impl Decls {
    /// Adds `other`'s declarations after these.
    pub fn append(&mut self, mut other: Decls) {
        self.settings.append(&mut other.settings);
        self.providers.append(&mut other.providers);
        self.targets.append(&mut other.targets);
        self.requests.append(&mut other.requests);
        self.accepts.append(&mut other.accepts);
        self.approvals.append(&mut other.approvals);
    }
}

#[derive(Debug)]
pub struct SettingsDecl {
    /// The block header.
    pub at: At,
    pub settings: Settings,
    pub allow_at: Option<At>,
    pub deny_at: Option<At>,
    pub approvals_at: Option<At>,
    /// Compiled once, here; the place is for "pattern set at …" hints.
    pub pattern: Option<Spanned<Regex>>,
    /// `approval_signers`, as written.
    pub signers: Option<Spanned<String>>,
}

#[derive(Debug)]
pub struct ProviderDecl {
    pub kind: &'static str,
    pub name: Spanned<String>,
    /// `None` when an attribute was wrong.
    pub config: Option<ProviderConfig>,
    /// An azure provider's `policy_name` (the Defender JIT policy), when written.
    pub policy_name: Option<Spanned<String>>,
}

impl ProviderDecl {
    pub fn address(&self) -> String {
        format!("{}.{}", self.kind, self.name.value)
    }
}

#[derive(Debug)]
pub struct TargetDecl {
    pub at: At,
    pub name: Spanned<String>,
    pub provider: Option<Spanned<String>>,
    pub vm_id: Option<Spanned<String>>,
    pub nsg_id: Option<Spanned<String>>,
    pub destination: String,
    pub ports: Vec<PortDecl>,
    pub ok: bool,
}

#[derive(Debug)]
pub struct PortDecl {
    pub name: Spanned<String>,
    pub number: Option<u16>,
    pub protocol: Protocol,
    pub allowed_sources: Vec<IpNet>,
    pub max_duration: Option<SignedDuration>,
    pub defaulted: Defaulted,
}

/// Which of a port's values jit filled in because the block does not write them: `number` and
/// `protocol` from a well-known port name, `protocol` as `tcp` otherwise, `max_duration` as
/// `3h`. `jit validate -v` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Defaulted {
    pub number: bool,
    pub protocol: bool,
    pub max_duration: bool,
}

/// A port in a request, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRef {
    Name(String),
    Number(u16),
}

impl std::fmt::Display for PortRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortRef::Name(n) => f.write_str(n),
            PortRef::Number(n) => write!(f, "{n}"),
        }
    }
}

#[derive(Debug)]
pub struct RequestDecl {
    pub at: At,
    pub name: Spanned<String>,
    pub target: Option<Spanned<String>>,
    pub ports: Vec<Spanned<PortRef>>,
    pub source: Option<Spanned<IpNet>>,
    /// `source = "*"`: `source` holds `0.0.0.0/0` until validate picks the family of the
    /// target's destination.
    pub source_any: bool,
    pub requester: Option<Spanned<String>>,
    pub approvers: Vec<Spanned<String>>,
    /// The `approvers` attribute, when written.
    pub approvers_at: Option<At>,
    pub justification: Option<Spanned<String>>,
    pub start: Option<Timestamp>,
    /// Where `start` is written.
    pub start_at: Option<At>,
    pub duration: Option<Spanned<SignedDuration>>,
    pub ok: bool,
}

/// An `accept` block: a foreign rule opened on purpose.
#[derive(Debug)]
pub struct AcceptDecl {
    pub at: At,
    pub name: Spanned<String>,
    pub nsg_id: Option<Spanned<String>>,
    pub rule: Option<Spanned<String>>,
    pub justification: Option<Spanned<String>>,
    pub expires: Option<Spanned<Timestamp>>,
    pub ok: bool,
}

/// An `approval "<request id>" { by, signature }` block.
#[derive(Debug)]
pub struct ApprovalDecl {
    /// The block header: where every problem with the approval is reported.
    pub at: At,
    pub request: Spanned<String>,
    pub by: Option<Spanned<String>>,
    /// The signature's text (SSHSIG PEM armour), indentation and all.
    pub signature: Option<Spanned<String>>,
    pub ok: bool,
}
