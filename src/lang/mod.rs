//! The jit language: HCL text → syntax with spans → validated [`Policy`](crate::model::Policy).
//! Pure: takes file contents, not paths; reading the directory is `ops::config`'s job.
//!
//! `parse` (with `scan` for the traps of the HCL parser) gives each file's syntax tree;
//! `decode` (+ `decode_target`, `decode_request`) turns blocks into declarations and checks
//! what a block can check alone; `validate` checks across blocks and files and builds the
//! policy. Problems are collected in a [`report::Report`] and come back together, each with a
//! stable code from [`codes`].

pub mod codes;
mod decl;
mod decode;
mod decode_request;
mod decode_target;
mod parse;
mod report;
mod scan;
pub mod span;
mod suggest;
mod validate;
pub mod values;

pub mod fmt;
pub mod schema;

use crate::diag::Diagnostic;
use crate::model::Policy;

pub use suggest::{closest, did_you_mean};

/// One config file's text, with the path to show in diagnostics.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// Parse and validate every file (in the order given, which is path order). All diagnostics
/// of all files come back together, sorted by file, line and column.
pub fn load(files: &[SourceFile]) -> Result<Policy, Vec<Diagnostic>> {
    let mut report = report::Report::new(files);
    let mut decls = decl::Decls::default();
    for (index, file) in files.iter().enumerate() {
        match parse::parse(&file.text) {
            Ok(body) => {
                let mut cx = decode::Cx {
                    file: index,
                    text: &file.text,
                    report: &mut report,
                };
                decode::decode_file(&mut cx, &body, &mut decls);
            }
            Err(bad) => report.push(index, bad),
        }
    }
    let policy = validate::validate(decls, &mut report);
    if report.is_empty() {
        Ok(policy)
    } else {
        Err(report.finish())
    }
}

#[cfg(test)]
mod tests;
