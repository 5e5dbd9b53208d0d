//! The jit language: HCL text → syntax with spans → validated [`Policy`](crate::model::Policy).
//! Pure: takes file contents, not paths; reading the directory is `ops::config`'s job.
//!
//! `parse` (with `scan` for the traps of the HCL parser) gives each file's syntax tree;
//! `decode` (+ `decode_target`, `decode_request`) turns blocks into declarations and checks
//! what a block can check alone; `validate` checks across blocks and files and builds the
//! policy. Problems are collected in a [`report::Report`] and come back together, each with a
//! stable code from [`codes`].

pub mod accept;
pub mod codes;
mod collisions;
mod decl;
mod decode;
mod decode_approval;
mod decode_request;
mod decode_target;
pub mod defender;
mod parse;
mod report;
mod scan;
mod validate;
mod validate_approval;
pub mod values;

pub mod fmt;
pub mod schema;

use crate::diag::Diagnostic;
use crate::model::Policy;

pub use crate::diag::suggest::{closest, did_you_mean};
pub use crate::diag::SourceFile;
pub use decl::Defaulted;
pub use decode_target::{well_known, DEFAULT_MAX_DURATION, WELL_KNOWN_PORTS};
pub use validate_approval::SignersFile;

/// What loading found: the policy built from every block that passed validation, and every
/// diagnostic of every file (errors and warnings), sorted by file, line and column.
///
/// With errors, `policy` is the part of the configuration that is valid on its own: a request
/// or target with an error is left out of it. Plans use that to keep revoking access while the
/// rest is broken (DESIGN §5b); nothing may widen access from it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub policy: Policy,
    pub diagnostics: Vec<Diagnostic>,
    /// `(provider address, nsg_id)` of each target left out of `policy` by an error, when its
    /// `nsg_id` and its (valid, NSG-shaped) provider are known: a plan still reads that NSG and
    /// closes what it can there (every managed allow rule in it is one no valid target
    /// explains).
    pub invalid_target_scopes: Vec<(String, String)>,
    /// Every request complete enough to be approved (even one with errors), with the exact
    /// bytes an approver signs for it.
    pub approvable: Vec<Approvable>,
    /// For every port of every target, in file order, which of its values were defaulted.
    pub port_defaults: Vec<PortDefaults>,
}

/// Which values of one port jit filled in (`jit validate -v` shows them beside the values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortDefaults {
    pub target: String,
    pub port: String,
    pub defaulted: Defaulted,
}

/// A request and its canonical approval message (`approval::message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approvable {
    pub id: String,
    /// The path of the file that holds it, as in diagnostics.
    pub file: String,
    pub requester: String,
    pub message: String,
}

impl Loaded {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == crate::diag::Severity::Error)
    }
}

/// Parse and validate every file; `Err` with every diagnostic when any of them is an error,
/// else the policy (warnings are dropped: [`load_all`] keeps them).
pub fn load(files: &[SourceFile]) -> Result<Policy, Vec<Diagnostic>> {
    let loaded = load_all(files);
    if loaded.has_errors() {
        Err(loaded.diagnostics)
    } else {
        Ok(loaded.policy)
    }
}

/// Parse and validate every file (in the order given, which is path order). All diagnostics
/// of all files come back together, sorted by file, line and column.
///
/// Large configs are parsed and decoded on several threads, in contiguous runs of files, and
/// merged in file order, so the result does not depend on the number of threads.
pub fn load_all(files: &[SourceFile]) -> Loaded {
    load_all_with(files, None)
}

/// [`load_all`], with the allowed_signers file that `settings { approval_signers }` names, as
/// read by the caller ([`approval_signers`] says which). Its problems are diagnostics of that
/// file; without it, a set `approval_signers` is an error and no approval counts.
pub fn load_all_with(files: &[SourceFile], signers: Option<&SignersFile>) -> Loaded {
    let threads = if files.len() >= PARALLEL_FROM {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
    } else {
        1
    };
    let chunk = files.len().div_ceil(threads).max(1);
    let parts = if threads == 1 {
        vec![decode_files(files, 0..files.len())]
    } else {
        std::thread::scope(|scope| {
            let handles = (0..files.len())
                .step_by(chunk)
                .map(|start| {
                    let range = start..(start + chunk).min(files.len());
                    scope.spawn(move || decode_files(files, range))
                })
                .collect::<Vec<_>>();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect::<Vec<_>>()
        })
    };
    let mut report = report::Report::new(files);
    let mut decls = decl::Decls::default();
    for (part, problems) in parts {
        decls.append(part);
        report.extend(problems);
    }
    let candidates: Vec<(String, String, String)> = decls
        .targets
        .iter()
        .filter_map(|t| {
            Some((
                t.name.value.clone(),
                t.provider.as_ref()?.value.clone(),
                t.nsg_id.as_ref()?.value.clone(),
            ))
        })
        .collect();
    let port_defaults = decls
        .targets
        .iter()
        .flat_map(|t| {
            t.ports.iter().map(|p| PortDefaults {
                target: t.name.value.clone(),
                port: p.name.value.clone(),
                defaulted: p.defaulted,
            })
        })
        .collect();
    let (policy, extra) = validate::validate(decls, signers, &mut report);
    let approvable = extra
        .subjects
        .into_iter()
        .map(|(id, at, subject)| Approvable {
            id,
            file: files[at.file].path.clone(),
            message: subject.message(),
            requester: subject.requester,
        })
        .collect();
    let mut diagnostics = extra.signers_diagnostics;
    diagnostics.extend(report.finish());
    let invalid_target_scopes = invalid_target_scopes(&policy, candidates);
    Loaded {
        policy,
        diagnostics,
        invalid_target_scopes,
        approvable,
        port_defaults,
    }
}

/// The NSGs of targets (`(name, provider, nsg_id)`) that did not make it into `policy`, when
/// their provider did and keeps its rules in NSGs.
fn invalid_target_scopes(
    policy: &Policy,
    candidates: Vec<(String, String, String)>,
) -> Vec<(String, String)> {
    use crate::model::{AzureMode, ProviderConfig};
    candidates
        .into_iter()
        .filter(|(name, _, _)| policy.target(name).is_none())
        .filter(|(_, provider, _)| {
            matches!(
                policy.provider(provider).map(|p| &p.config),
                Some(ProviderConfig::Snapshot { .. })
                    | Some(ProviderConfig::Azure {
                        mode: AzureMode::Nsg,
                        ..
                    })
            )
        })
        .map(|(_, provider, nsg)| (provider, nsg))
        .collect()
}

/// The `approval_signers` path of the `settings` block, as written, if any: what the caller
/// reads and hands to [`load_all_with`]. Only files that mention it are parsed.
pub fn approval_signers(files: &[SourceFile]) -> Option<String> {
    files
        .iter()
        .filter(|f| f.text.contains("approval_signers"))
        .filter_map(|f| parse::parse(&f.text).ok())
        .find_map(|body| {
            body.iter()
                .filter_map(|s| s.as_block())
                .filter(|b| b.ident.as_str() == "settings")
                .find_map(|b| {
                    b.body
                        .iter()
                        .filter_map(|s| s.as_attribute())
                        .find_map(|a| {
                            (a.key.as_str() == "approval_signers")
                                .then(|| a.value.as_str().map(str::to_string))
                                .flatten()
                        })
                })
        })
}

/// The `read` mode of every `provider "azure"` block that sets a valid one, by address
/// (`azure.<name>`): what the provider is opened with (the rest read `auto`). Only files that
/// mention `read` are parsed; `validate` reports a wrong mode (E120).
pub fn azure_reads(
    files: &[SourceFile],
) -> std::collections::BTreeMap<String, crate::model::AzureRead> {
    let mut out = std::collections::BTreeMap::new();
    for body in files
        .iter()
        .filter(|f| f.text.contains("read"))
        .filter_map(|f| parse::parse(&f.text).ok())
    {
        for block in body.iter().filter_map(|s| s.as_block()) {
            let labels: Vec<&str> = block.labels.iter().map(|l| l.as_str()).collect();
            if block.ident.as_str() != "provider" || labels.len() != 2 || labels[0] != "azure" {
                continue;
            }
            let read = block
                .body
                .iter()
                .filter_map(|s| s.as_attribute())
                .find(|a| a.key.as_str() == "read")
                .and_then(|a| a.value.as_str().and_then(decode::read_mode));
            if let Some(read) = read {
                out.entry(format!("azure.{}", labels[1])).or_insert(read);
            }
        }
    }
    out
}

/// Below this many files, one thread.
const PARALLEL_FROM: usize = 64;

/// Parse and decode `files[range]`; problems carry indexes into `files`.
fn decode_files(
    files: &[SourceFile],
    range: std::ops::Range<usize>,
) -> (decl::Decls, Vec<(usize, report::Bad)>) {
    let mut report = report::Report::new(files);
    let mut decls = decl::Decls::default();
    for index in range {
        let text = &files[index].text;
        match parse::parse(text) {
            Ok(body) => {
                let mut cx = decode::Cx {
                    file: index,
                    text,
                    report: &mut report,
                };
                decode::decode_file(&mut cx, &body, &mut decls);
            }
            Err(bad) => report.push(index, bad),
        }
    }
    (decls, report.into_problems())
}

#[cfg(test)]
mod tests;
