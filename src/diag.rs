//! Diagnostics: one finding about the config files, with its position, stable code, message
//! and hint. Collected (never stop at the first) and rendered as text, JSON or GitHub
//! workflow annotations.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A problem in a config file. `line` and `column` are 1-based; `offset`/`len` are the byte
/// span in the file's text, for carets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The path as the user would type it (relative to the working directory).
    pub file: String,
    pub line: usize,
    pub column: usize,
    #[serde(skip)]
    pub offset: usize,
    #[serde(skip)]
    pub len: usize,
    pub severity: Severity,
    /// Stable, e.g. `E012`; documented in the README.
    pub code: &'static str,
    /// Lowercase phrase, no trailing period.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}
