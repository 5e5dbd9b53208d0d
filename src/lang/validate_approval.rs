//! Who approved a request: the `approval` blocks against the allowed_signers file (with
//! `approval_signers`), or the request's `approvers` names (without it); self-approval and
//! duplicates by `approval::names`; `approvals_required`. Also each request's canonical
//! approval message, for `jit approve`.
//!
//! With `approval_signers`, the grant's approvers are the principals whose approval verified,
//! in block order. `approvers = [...]` is then optional: a listed approver without a valid
//! approval does not count and gets a warning (E069), so a reviewer can see who has not signed
//! yet. Without it, approvers are the names listed, and one warning (E068) says they are not
//! verified.

use std::collections::HashMap;

use super::codes;
use super::decl::{ApprovalDecl, Decls, RequestDecl, SettingsDecl, TargetDecl};
use super::report::{Bad, Report};
use crate::approval::signers::{self, Signer};
use crate::approval::verify::{self, Refusal};
use crate::approval::{names, Subject};
use crate::diag::suggest::did_you_mean;
use crate::diag::{Diagnostic, Severity};

/// The allowed_signers file named by `approval_signers`, as `ops` read it: the path to show,
/// and its text or why it could not be read (a phrase that never quotes the file).
#[derive(Debug, Clone)]
pub struct SignersFile {
    pub path: String,
    pub text: Result<String, String>,
}

/// How approvals are decided in this configuration.
enum Mode {
    /// No `approval_signers`: approvers are names.
    Names,
    /// Verified against these lines.
    Signed(Vec<Signer>),
    /// `approval_signers` is set but its file could not be used: nothing counts.
    Unusable,
}

pub struct Approvals<'d> {
    mode: Mode,
    by_request: HashMap<&'d str, Vec<&'d ApprovalDecl>>,
    /// Problems in the allowed_signers file itself, as diagnostics of that file.
    pub file_diagnostics: Vec<Diagnostic>,
}

impl<'d> Approvals<'d> {
    /// Reads the signers file's lines, and checks what each approval block can be checked for
    /// alone: the request it names exists, and approvals are enabled at all.
    pub fn new(
        decls: &'d Decls,
        settings: Option<&SettingsDecl>,
        file: Option<&SignersFile>,
        report: &mut Report,
    ) -> Approvals<'d> {
        let mut file_diagnostics = Vec::new();
        let setting = settings.and_then(|s| s.signers.as_ref());
        let mode = match (setting, file) {
            (None, _) => Mode::Names,
            (Some(set), None) => {
                report.push_at(
                    &set.at,
                    codes::SIGNERS_FILE,
                    format!("allowed_signers file `{}` was not read", set.value),
                );
                Mode::Unusable
            }
            (Some(set), Some(file)) => match &file.text {
                Err(why) => {
                    report
                        .push_at(
                            &set.at,
                            codes::SIGNERS_FILE,
                            format!("cannot use allowed_signers file `{}`: {why}", set.value),
                        )
                        .hint = Some(
                        "`approval_signers` is a path inside the config directory, relative to it"
                            .to_string(),
                    );
                    Mode::Unusable
                }
                Ok(text) => {
                    let (lines, errors) = signers::parse(text);
                    for e in errors {
                        file_diagnostics.push(Diagnostic {
                            file: file.path.clone(),
                            line: e.line,
                            column: e.column,
                            offset: e.offset,
                            len: e.len,
                            severity: Severity::Error,
                            code: codes::SIGNERS_LINE,
                            message: e.message,
                            hint: e.hint,
                        });
                    }
                    Mode::Signed(lines)
                }
            },
        };
        let ids = decls
            .requests
            .iter()
            .map(|r| r.name.value.as_str())
            .collect::<Vec<_>>();
        let mut by_request: HashMap<&str, Vec<&ApprovalDecl>> = HashMap::new();
        for a in &decls.approvals {
            if matches!(mode, Mode::Names) {
                report
                    .push_at(
                        &a.at,
                        codes::SIGNERS_FILE,
                        format!(
                            "approval of `{}` cannot be verified: `approval_signers` is not set",
                            a.request.value
                        ),
                    )
                    .hint = Some(
                    "add `approval_signers = \"<path to an allowed_signers file>\"` to `settings`"
                        .to_string(),
                );
                continue;
            }
            if !ids.contains(&a.request.value.as_str()) {
                let hint = did_you_mean(&a.request.value, ids.iter().copied())
                    .unwrap_or_else(|| "an approval's label is the id of a request".to_string());
                report
                    .push_at(
                        &a.at,
                        codes::UNKNOWN_REQUEST,
                        format!("approval of unknown request `{}`", a.request.value),
                    )
                    .hint = Some(hint);
                continue;
            }
            by_request
                .entry(a.request.value.as_str())
                .or_default()
                .push(a);
        }
        if matches!(mode, Mode::Names) {
            unverified_warning(decls, settings, report);
        }
        Approvals {
            mode,
            by_request,
            file_diagnostics,
        }
    }

    /// Checks requester and approvers of `r` and returns who approved it. Every problem is
    /// reported; an approval that does not count is an error at its block.
    pub fn people(
        &self,
        r: &RequestDecl,
        subject: Option<&Subject>,
        settings: Option<&SettingsDecl>,
        report: &mut Report,
    ) -> Vec<String> {
        for approver in &r.approvers {
            if let Some(req) = &r.requester {
                if names::same(&req.value, &approver.value) {
                    report
                        .push_at(
                            &approver.at,
                            codes::SELF_APPROVAL,
                            format!("requester `{}` cannot approve their own request", req.value),
                        )
                        .hint = Some("ask someone else to review and approve it".to_string());
                }
            }
        }
        let approved = match &self.mode {
            Mode::Names => r
                .approvers
                .iter()
                .filter(|a| {
                    r.requester
                        .as_ref()
                        .is_none_or(|req| !names::same(&req.value, &a.value))
                })
                .map(|a| a.value.clone())
                .collect(),
            Mode::Unusable => Vec::new(),
            Mode::Signed(lines) => {
                let blocks = self
                    .by_request
                    .get(r.name.value.as_str())
                    .map_or(&[][..], Vec::as_slice);
                let approved = match subject {
                    Some(subject) => signed(lines, blocks, subject, report),
                    // The request has errors of its own; its approvals wait for a fix.
                    None => Vec::new(),
                };
                for listed in &r.approvers {
                    if !approved.iter().any(|a| names::same(a, &listed.value)) {
                        report.push(
                            listed.at.file,
                            Bad::new(
                                listed.at.span.clone(),
                                codes::APPROVER_UNSIGNED,
                                format!(
                                    "approver `{}` has no valid approval of `{}`, so does not count",
                                    listed.value, r.name.value
                                ),
                            )
                            .warning()
                            .hint(format!(
                                "they approve by running `jit approve {}`",
                                r.name.value
                            )),
                        );
                    }
                }
                approved
            }
        };
        let required = settings.map_or(0, |s| s.settings.approvals_required);
        let count = approved.len();
        if (count as u64) < u64::from(required) {
            let at = r.approvers_at.as_ref().unwrap_or(&r.at);
            let set = match settings.and_then(|s| s.approvals_at.as_ref()) {
                Some(set) => format!(
                    "`approvals_required = {required}` is set at {}",
                    report.position(set)
                ),
                None => format!("`approvals_required` is {required}"),
            };
            let (what, hint) = match self.mode {
                Mode::Names => ("approver", set),
                _ => (
                    "verified approval",
                    format!(
                        "{set}; an approver signs with `jit approve {}`",
                        r.name.value
                    ),
                ),
            };
            report
                .push_at(
                    at,
                    codes::TOO_FEW_APPROVERS,
                    format!(
                        "request `{}` has {count} {what}{}, {required} required",
                        r.name.value,
                        if count == 1 { "" } else { "s" }
                    ),
                )
                .hint = Some(hint);
        }
        approved
    }
}

/// The approvals of one request that verify, each problem reported at its block.
fn signed(
    lines: &[Signer],
    blocks: &[&ApprovalDecl],
    subject: &Subject,
    report: &mut Report,
) -> Vec<String> {
    let mut counted: Vec<(&ApprovalDecl, verify::Verified)> = Vec::new();
    for a in blocks {
        let (true, Some(by), Some(signature)) = (a.ok, &a.by, &a.signature) else {
            continue;
        };
        match verify::verify(lines, &by.value, &signature.value, subject) {
            Err(refused) => {
                let code = match refused.kind {
                    Refusal::Malformed => codes::BAD_SIGNATURE,
                    Refusal::NotAllowed => codes::SIGNER_NOT_ALLOWED,
                    Refusal::OutsideWindow => codes::SIGNER_EXPIRED,
                    Refusal::Changed => codes::SIGNATURE_MISMATCH,
                    Refusal::SelfApproval => codes::SELF_APPROVAL,
                };
                report.push_at(&a.at, code, refused.message).hint = refused.hint;
            }
            Ok(verified) => {
                let twice = counted.iter().find(|(_, v)| {
                    names::same(&v.principal, &verified.principal)
                        || v.fingerprint == verified.fingerprint
                });
                if let Some((first, earlier)) = twice {
                    let message = if names::same(&earlier.principal, &verified.principal) {
                        format!(
                            "`{}` approves request `{}` twice",
                            verified.principal, subject.id
                        )
                    } else {
                        format!(
                            "`{}` signed with key {}, which already approved request `{}` as `{}`",
                            verified.principal, verified.fingerprint, subject.id, earlier.principal
                        )
                    };
                    let hint = format!(
                        "one person counts once; the first approval is at {}",
                        report.position(&first.at)
                    );
                    report.push_at(&a.at, codes::DUPLICATE_ENTRY, message).hint = Some(hint);
                    continue;
                }
                counted.push((a, verified));
            }
        }
    }
    counted.into_iter().map(|(_, v)| v.principal).collect()
}

/// One warning, when approvals are in use, that names are not proof.
fn unverified_warning(decls: &Decls, settings: Option<&SettingsDecl>, report: &mut Report) {
    let required = settings.and_then(|s| {
        (s.settings.approvals_required > 0)
            .then_some(s.approvals_at.as_ref())
            .flatten()
    });
    let listed = || {
        decls
            .requests
            .iter()
            .find(|r| !r.approvers.is_empty())
            .and_then(|r| r.approvers_at.as_ref())
    };
    let Some(at) = required.or_else(listed) else {
        return;
    };
    let bad = Bad::new(
        at.span.clone(),
        codes::APPROVALS_UNVERIFIED,
        "approvals are not verified: approvers are names anyone can type",
    )
    .warning()
    .hint("set `approval_signers` in `settings` to an allowed_signers file, so that only signed approvals count");
    report.push(at.file, bad);
}

/// The message approvers sign for `r`, when the request is complete enough to have one.
pub fn subject(r: &RequestDecl, targets: &HashMap<&str, &TargetDecl>) -> Option<Subject> {
    let target = targets.get(r.target.as_ref()?.value.as_str())?;
    let ports = r
        .ports
        .iter()
        .map(|p| {
            let port = super::validate::find_port(target, &p.value)?;
            Some((port.number?, port.protocol))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Subject {
        id: r.name.value.clone(),
        target: target.name.value.clone(),
        ports,
        source: r.source.as_ref()?.value,
        start: r.start?,
        duration: r.duration.as_ref()?.value,
        requester: r.requester.as_ref()?.value.clone(),
        justification: r.justification.as_ref()?.value.clone(),
    })
}
