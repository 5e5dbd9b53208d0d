//! The jit language: HCL text → syntax with spans → validated [`Policy`](crate::model::Policy).
//! Pure: takes file contents, not paths; reading the directory is `ops::config`'s job.

pub mod fmt;
pub mod schema;

use crate::diag::Diagnostic;
use crate::model::Policy;

/// One config file's text, with the path to show in diagnostics.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// Parse and validate every file (in the order given, which is path order). All diagnostics
/// of all files come back together, sorted by file, line and column.
pub fn load(files: &[SourceFile]) -> Result<Policy, Vec<Diagnostic>> {
    let _ = files;
    todo!("lang::load")
}
