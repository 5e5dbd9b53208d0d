//! Collecting problems while loading: each is a byte span in one file plus code, message and
//! hint; positions (line, column) are computed once at the end, only for files that have
//! problems.

use std::cell::OnceCell;
use std::ops::Range;

use super::SourceFile;
use crate::diag::span::LineIndex;
use crate::diag::{Diagnostic, Severity};

/// A problem in one file, before we know which file: a span, code, message and hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bad {
    pub span: Range<usize>,
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
    /// `Error` unless [`Bad::warning`] says otherwise: a warning never makes a config invalid.
    pub severity: Severity,
}

impl Bad {
    pub fn new(span: Range<usize>, code: &'static str, message: impl Into<String>) -> Bad {
        Bad {
            span,
            code,
            message: message.into(),
            hint: None,
            severity: Severity::Error,
        }
    }

    /// The same problem as a warning.
    pub fn warning(mut self) -> Bad {
        self.severity = Severity::Warning;
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Bad {
        self.hint = Some(hint.into());
        self
    }

    /// The same problem at another span.
    pub fn span_to(mut self, span: Range<usize>) -> Bad {
        self.span = span;
        self
    }
}

/// A place in the config: file index and byte span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    pub file: usize,
    pub span: Range<usize>,
}

/// All problems of one load, with the files they point into.
pub struct Report<'a> {
    files: &'a [SourceFile],
    lines: Vec<OnceCell<LineIndex>>,
    problems: Vec<(usize, Bad)>,
}

impl<'a> Report<'a> {
    pub fn new(files: &'a [SourceFile]) -> Report<'a> {
        Report {
            files,
            lines: (0..files.len()).map(|_| OnceCell::new()).collect(),
            problems: Vec::new(),
        }
    }

    pub fn push(&mut self, file: usize, bad: Bad) {
        self.problems.push((file, bad));
    }

    pub fn push_at(&mut self, at: &At, code: &'static str, message: impl Into<String>) -> &mut Bad {
        self.problems
            .push((at.file, Bad::new(at.span.clone(), code, message)));
        &mut self.problems.last_mut().expect("just pushed").1
    }

    pub fn extend(&mut self, problems: Vec<(usize, Bad)>) {
        self.problems.extend(problems);
    }

    pub fn into_problems(self) -> Vec<(usize, Bad)> {
        self.problems
    }

    /// Errors so far (warnings do not count): a block is valid when decoding it added none.
    pub fn error_count(&self) -> usize {
        self.problems
            .iter()
            .filter(|(_, bad)| bad.severity == Severity::Error)
            .count()
    }

    /// `path:line:column` of a place, for hints such as "first defined at …".
    pub fn position(&self, at: &At) -> String {
        let (line, column) = self.locate(at.file, at.span.start);
        format!("{}:{line}:{column}", self.files[at.file].path)
    }

    /// A place as diagnostics show it, for checks made after loading (an `accept` that has
    /// expired by the clock of the run).
    pub fn place(&self, at: &At) -> crate::model::Place {
        let (line, column) = self.locate(at.file, at.span.start);
        crate::model::Place {
            file: self.files[at.file].path.clone(),
            line,
            column,
            offset: at.span.start,
            len: at.span.len(),
        }
    }

    fn locate(&self, file: usize, offset: usize) -> (usize, usize) {
        let text = &self.files[file].text;
        self.lines[file]
            .get_or_init(|| LineIndex::new(text))
            .locate(text, offset)
    }

    /// Every problem as a diagnostic, sorted by file (in the order given), line and column.
    pub fn finish(self) -> Vec<Diagnostic> {
        let mut problems = self.problems.iter().collect::<Vec<_>>();
        problems.sort_by_key(|(file, bad)| (*file, bad.span.start));
        problems
            .into_iter()
            .map(|(file, bad)| {
                let text = &self.files[*file].text;
                let start = crate::diag::span::floor_char_boundary(text, bad.span.start);
                let end = crate::diag::span::floor_char_boundary(text, bad.span.end.max(start));
                let (line, column) = self.locate(*file, start);
                Diagnostic {
                    file: self.files[*file].path.clone(),
                    line,
                    column,
                    offset: start,
                    len: end - start,
                    severity: bad.severity,
                    code: bad.code,
                    message: bad.message.clone(),
                    hint: bad.hint.clone(),
                }
            })
            .collect()
    }
}
