//! Reading the config directory: every `*.hcl` file under it, recursively, in path order,
//! skipping hidden files and folders (`.terraform.lock.hcl`, `.jit/`, `.git/`), then
//! [`lang::load`](crate::lang::load). Paths in diagnostics are shown as the user would type
//! them: joined to the directory given with `-C` (`examples/quickstart/policy.hcl`), or bare
//! when it is `.`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Severity};
use crate::lang::{self, codes, SourceFile};
use crate::model::Policy;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("config directory `{0}` does not exist")]
    MissingDir(String),
    #[error("`{0}` is not a directory")]
    NotADir(String),
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no `*.hcl` files under `{0}`")]
    NoFiles(String),
    /// The files were read but are not a valid policy. `sources` is what was read, for
    /// rendering the diagnostics with their source lines.
    #[error("invalid config: {} found", count(.diagnostics.len()))]
    Invalid {
        diagnostics: Vec<Diagnostic>,
        sources: Vec<SourceFile>,
    },
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 error".to_string()
    } else {
        format!("{n} errors")
    }
}

/// The config files under `dir`, as paths relative to it, in path order.
pub fn discover(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let shown = display_dir(dir);
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LoadError::MissingDir(shown));
        }
        Err(source) => {
            return Err(LoadError::Read {
                path: shown,
                source,
            })
        }
        Ok(m) if !m.is_dir() => return Err(LoadError::NotADir(shown)),
        Ok(_) => {}
    }
    let mut found = Vec::new();
    let mut visited = HashSet::new();
    walk(dir, Path::new(""), &mut found, &mut visited)?;
    found.sort();
    Ok(found)
}

fn walk(
    root: &Path,
    rel: &Path,
    found: &mut Vec<PathBuf>,
    visited: &mut HashSet<PathBuf>,
) -> Result<(), LoadError> {
    let here = root.join(rel);
    let read_err = |source| LoadError::Read {
        path: shown_path(root, rel),
        source,
    };
    // Symlinked folders are followed once; a loop is not an endless walk.
    if let Ok(canonical) = here.canonicalize() {
        if !visited.insert(canonical) {
            return Ok(());
        }
    }
    for entry in std::fs::read_dir(&here).map_err(read_err)? {
        let entry = entry.map_err(|source| LoadError::Read {
            path: shown_path(root, rel),
            source,
        })?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let child = rel.join(&name);
        let meta = std::fs::metadata(entry.path()).map_err(|source| LoadError::Read {
            path: shown_path(root, &child),
            source,
        })?;
        if meta.is_dir() {
            walk(root, &child, found, visited)?;
        } else if meta.is_file() && child.extension().is_some_and(|e| e == "hcl") {
            found.push(child);
        }
    }
    Ok(())
}

/// `dir` as the user typed it, or empty for `.`.
fn display_dir(dir: &Path) -> String {
    dir.to_string_lossy().into_owned()
}

/// The path to show for a file `rel` under `dir`.
pub fn shown_path(dir: &Path, rel: &Path) -> String {
    let rel = rel
        .to_string_lossy()
        .replace(std::path::MAIN_SEPARATOR, "/");
    let typed = dir.to_string_lossy();
    if typed == "." || typed == "./" {
        return if rel.is_empty() { ".".to_string() } else { rel };
    }
    if rel.is_empty() {
        return typed.into_owned();
    }
    format!("{}/{rel}", typed.trim_end_matches('/'))
}

/// Every config file under `dir`, read. A file that is not UTF-8 is read lossily and reported
/// as a diagnostic, so its other problems are reported too.
pub fn read_sources(dir: &Path) -> Result<(Vec<SourceFile>, Vec<Diagnostic>), LoadError> {
    let files = discover(dir)?;
    if files.is_empty() {
        return Err(LoadError::NoFiles(display_dir(dir)));
    }
    let mut sources = Vec::with_capacity(files.len());
    let mut diagnostics = Vec::new();
    for rel in files {
        let path = shown_path(dir, &rel);
        let bytes = std::fs::read(dir.join(&rel)).map_err(|source| LoadError::Read {
            path: path.clone(),
            source,
        })?;
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text.to_string(),
            Err(err) => {
                let text = String::from_utf8_lossy(bytes).into_owned();
                let good = &bytes[..err.valid_up_to()];
                let good = std::str::from_utf8(good).unwrap_or_default();
                let line = good.matches('\n').count() + 1;
                let column = good.rsplit('\n').next().unwrap_or("").chars().count() + 1;
                diagnostics.push(Diagnostic {
                    file: path.clone(),
                    line,
                    column,
                    offset: good.len(),
                    len: 1,
                    severity: crate::diag::Severity::Error,
                    code: codes::NOT_UTF8,
                    message: "file is not valid UTF-8".to_string(),
                    hint: Some("save the file as UTF-8".to_string()),
                });
                text
            }
        };
        sources.push(SourceFile { path, text });
    }
    Ok((sources, diagnostics))
}

/// What was loaded: the policy, the files it came from, and what loading said about them.
#[derive(Debug)]
pub struct Loaded {
    pub policy: Policy,
    pub sources: Vec<SourceFile>,
    /// Sorted by file, line and column. From [`load`], only warnings; from [`load_lenient`],
    /// errors too.
    pub diagnostics: Vec<Diagnostic>,
    /// The allowed_signers file `approval_signers` names, when set and readable: its path as
    /// shown and its text. It is part of the configuration (who may approve), so a digest of
    /// the configuration covers it.
    pub signers: Option<SourceFile>,
    /// Every request that can be approved, with its approval message (`jit approve`).
    pub approvable: Vec<lang::Approvable>,
}

impl Loaded {
    /// Whether any diagnostic is an error (only possible from [`load_lenient`]).
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// Read and validate the config directory.
pub fn load_policy(dir: &Path) -> Result<Policy, LoadError> {
    load(dir).map(|loaded| loaded.policy)
}

/// Like [`load_policy`], keeping the sources and the warnings. Any error is
/// [`LoadError::Invalid`].
pub fn load(dir: &Path) -> Result<Loaded, LoadError> {
    let loaded = load_lenient(dir)?;
    if loaded.has_errors() {
        return Err(LoadError::Invalid {
            diagnostics: loaded.diagnostics,
            sources: loaded.sources,
        });
    }
    Ok(loaded)
}

/// Read and validate the config directory, keeping errors as diagnostics: the policy is the
/// part that validated (see [`lang::Loaded`]). Fails only when the files cannot be read.
pub fn load_lenient(dir: &Path) -> Result<Loaded, LoadError> {
    let (sources, mut diagnostics) = read_sources(dir)?;
    let signers =
        lang::approval_signers(&sources).map(|written| super::signers::read(dir, &written));
    let loaded = lang::load_all_with(&sources, signers.as_ref());
    diagnostics.extend(loaded.diagnostics);
    let order = |path: &str| sources.iter().position(|s| s.path == path);
    diagnostics.sort_by_key(|d| (order(&d.file), d.line, d.column));
    Ok(Loaded {
        policy: loaded.policy,
        sources,
        diagnostics,
        signers: signers.and_then(|s| {
            Some(SourceFile {
                path: s.path,
                text: s.text.ok()?,
            })
        }),
        approvable: loaded.approvable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_paths_read_like_typed() {
        assert_eq!(
            shown_path(Path::new("."), Path::new("policy.hcl")),
            "policy.hcl"
        );
        assert_eq!(
            shown_path(
                Path::new("examples/quickstart"),
                Path::new("requests/a.hcl")
            ),
            "examples/quickstart/requests/a.hcl"
        );
        assert_eq!(
            shown_path(Path::new("examples/quickstart/"), Path::new("policy.hcl")),
            "examples/quickstart/policy.hcl"
        );
        assert_eq!(
            shown_path(Path::new("/etc/jit"), Path::new("p.hcl")),
            "/etc/jit/p.hcl"
        );
    }

    #[test]
    fn discovery_skips_hidden_and_sorts() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        for f in [
            "b.hcl",
            "a/z.hcl",
            "a/b.txt",
            ".hidden.hcl",
            ".jit/x.hcl",
            "c/.d/e.hcl",
            "a.hcl",
        ] {
            let full = p.join(f);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, "").unwrap();
        }
        let found = discover(p).unwrap();
        let found = found
            .iter()
            .map(|f| f.to_string_lossy().into_owned())
            .collect::<Vec<_>>();
        assert_eq!(found, ["a/z.hcl", "a.hcl", "b.hcl"]);
    }

    #[test]
    fn missing_dir_is_an_error() {
        let err = discover(Path::new("/nonexistent/jit-config")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config directory `/nonexistent/jit-config` does not exist"
        );
    }

    #[test]
    fn bom_is_dropped_and_bad_utf8_is_a_diagnostic() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.hcl"), b"\xEF\xBB\xBFsettings {\n}\n").unwrap();
        assert!(load_policy(dir.path()).is_ok());
        std::fs::write(dir.path().join("b.hcl"), b"settings {\n  # caf\xE9\n}\n").unwrap();
        match load_policy(dir.path()) {
            Err(LoadError::Invalid { diagnostics, .. }) => {
                let d = diagnostics
                    .iter()
                    .find(|d| d.code == codes::NOT_UTF8)
                    .unwrap();
                assert_eq!((d.line, d.column), (2, 8));
            }
            other => panic!("{other:?}"),
        }
    }
}
