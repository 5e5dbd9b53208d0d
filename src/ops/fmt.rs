//! `jit fmt`'s I/O: finds the config files, formats each with [`lang::fmt`](crate::lang::fmt),
//! rewrites changed files atomically (temp file + rename) unless checking, and reports what it
//! found. Printing is the CLI's job.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::atomic::write_atomic;
use anyhow::Context as _;

use crate::lang::fmt::{format, ParseError};
use crate::ops::config;

/// What `jit fmt` was asked to do.
#[derive(Debug, Clone)]
pub struct FmtOptions {
    /// The config directory; relative `files` are resolved against it.
    pub dir: PathBuf,
    /// Files or directories as the user typed them; empty means every `*.hcl` under `dir`.
    pub files: Vec<PathBuf>,
    /// Write nothing; only report.
    pub check: bool,
    /// Produce a unified diff of each change.
    pub diff: bool,
}

/// The outcome for one file. `path` is the path to show the user.
#[derive(Debug)]
pub struct FileReport {
    pub path: String,
    pub outcome: Outcome,
}

#[derive(Debug)]
pub enum Outcome {
    /// Already in the canonical layout.
    Unchanged,
    /// Not in the canonical layout; rewritten unless `check`. `diff` when asked for.
    Changed { diff: Option<String> },
    /// Does not parse; left untouched.
    Invalid(ParseError),
    /// Could not be read or written.
    Failed(anyhow::Error),
}

/// Formats every selected file, in path order. Fails only when the selection itself cannot be
/// made (a missing directory, an unreadable folder); per-file problems are in the reports.
pub fn fmt(options: &FmtOptions) -> anyhow::Result<Vec<FileReport>> {
    let files = select(options)?;
    Ok(files
        .into_iter()
        .map(|(path, shown)| FileReport {
            outcome: fmt_file(&path, &shown, options),
            path: shown,
        })
        .collect())
}

fn fmt_file(path: &Path, shown: &str, options: &FmtOptions) -> Outcome {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) => {
            return Outcome::Failed(
                anyhow::Error::new(err).context(format!("cannot read `{shown}`")),
            )
        }
    };
    let formatted = match format(&text) {
        Ok(formatted) => formatted,
        Err(err) => return Outcome::Invalid(err),
    };
    if formatted == text {
        return Outcome::Unchanged;
    }
    let diff = options.diff.then(|| unified_diff(shown, &text, &formatted));
    if !options.check {
        if let Err(err) = write_atomically(path, &formatted) {
            return Outcome::Failed(err.context(format!("cannot rewrite `{shown}`")));
        }
    }
    Outcome::Changed { diff }
}

/// A unified diff with `old/<path>` and `new/<path>` headers, as `terraform fmt -diff` has.
pub fn unified_diff(shown: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("old/{shown}"), &format!("new/{shown}"))
        .to_string()
}

/// Writes `text` over `path` atomically ([`write_atomic`]). A symbolic link stays a link: the
/// file it points to is replaced.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let path = fs::canonicalize(path)?;
    write_atomic(&path, |file| file.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write `{}`", path.display()))
}

/// The files to format with the path to show for each: the arguments (a directory stands for
/// the `*.hcl` files under it, found as [`config::discover`] finds them), or every config file
/// under the config directory.
fn select(options: &FmtOptions) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let dir = &options.dir;
    if options.files.is_empty() {
        return Ok(config::discover(dir)?
            .into_iter()
            .map(|rel| (dir.join(&rel), config::shown_path(dir, &rel)))
            .collect());
    }
    let mut selected = Vec::new();
    for arg in &options.files {
        let path = dir.join(arg);
        let meta =
            fs::metadata(&path).with_context(|| format!("cannot read `{}`", arg.display()))?;
        if meta.is_dir() {
            for rel in config::discover(&path)? {
                selected.push((path.join(&rel), config::shown_path(arg, &rel)));
            }
        } else {
            selected.push((path, arg.display().to_string()));
        }
    }
    Ok(selected)
}
