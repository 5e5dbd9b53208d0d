//! Reading the config directory: every `*.hcl` file under it, recursively, in path order,
//! skipping hidden files and folders (`.terraform.lock.hcl`, `.jit/`, `.git/`), then
//! [`lang::load`](crate::lang::load). A symbolic link is followed only when its target, fully
//! resolved, lies inside the directory; one that leads out is an error naming the link (E076),
//! and nothing behind it is read. Paths in diagnostics are shown as the user would type
//! them: joined to the directory given with `-C` (`examples/quickstart/policy.hcl`), or bare
//! when it is `.`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Severity};
use crate::lang::{self, codes, SourceFile};
use crate::model::Policy;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("config directory `{0}` does not exist\nhint: pass `-C DIR` with the directory that holds the policy (paths are relative to where jit runs)")]
    MissingDir(String),
    #[error("`{0}` is not a directory")]
    NotADir(String),
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no `*.hcl` files under `{0}`\nhint: pass `-C DIR` with the directory that holds the policy")]
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

/// The config files under `dir`, as paths relative to it, in path order. Symbolic links that
/// lead out of the directory are left out (see [`discover_all`]).
pub fn discover(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    discover_all(dir).map(|d| d.files)
}

/// What discovery found: the config files, and the symbolic links (to a `*.hcl` file or to a
/// folder) that lead out of the config directory, which are never read.
#[derive(Debug, Default)]
pub struct Discovered {
    pub files: Vec<PathBuf>,
    /// `(path relative to the dir, whether it links to a folder)`.
    pub links_out: Vec<(PathBuf, bool)>,
}

/// Like [`discover`], keeping the links that lead out. A link is followed only when its target,
/// fully resolved, lies inside the config directory: a request file linked to a token file
/// elsewhere is reported by name and its bytes are never read.
pub fn discover_all(dir: &Path) -> Result<Discovered, LoadError> {
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
    let root = dir.canonicalize().map_err(|source| LoadError::Read {
        path: display_dir(dir),
        source,
    })?;
    let mut found = Discovered::default();
    let mut visited = HashSet::new();
    walk(dir, &root, Path::new(""), &mut found, &mut visited)?;
    found.files.sort();
    found.links_out.sort();
    Ok(found)
}

fn walk(
    root: &Path,
    canonical_root: &Path,
    rel: &Path,
    found: &mut Discovered,
    visited: &mut HashSet<PathBuf>,
) -> Result<(), LoadError> {
    let here = root.join(rel);
    let read_err = |source| LoadError::Read {
        path: shown_path(root, rel),
        source,
    };
    // Symlinked folders inside the directory are followed once; a loop is not an endless walk.
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
        let read_err = |source| LoadError::Read {
            path: shown_path(root, &child),
            source,
        };
        let is_link = entry.file_type().map_err(read_err)?.is_symlink();
        // Where a link leads is looked up (never read) before it is followed.
        let outside = is_link
            && !std::fs::canonicalize(entry.path())
                .map_err(read_err)?
                .starts_with(canonical_root);
        let meta = std::fs::metadata(entry.path()).map_err(read_err)?;
        let is_config = meta.is_file() && child.extension().is_some_and(|e| e == "hcl");
        if outside {
            if meta.is_dir() || is_config {
                found.links_out.push((child, meta.is_dir()));
            }
            continue;
        }
        if meta.is_dir() {
            walk(root, canonical_root, &child, found, visited)?;
        } else if is_config {
            found.files.push(child);
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
    let Discovered { files, links_out } = discover_all(dir)?;
    if files.is_empty() && links_out.is_empty() {
        return Err(LoadError::NoFiles(display_dir(dir)));
    }
    let mut sources = Vec::with_capacity(files.len());
    let mut diagnostics: Vec<Diagnostic> = links_out
        .iter()
        .map(|(rel, is_dir)| link_out(&shown_path(dir, rel), *is_dir))
        .collect();
    let root = dir.canonicalize().map_err(|source| LoadError::Read {
        path: display_dir(dir),
        source,
    })?;
    for rel in files {
        let path = shown_path(dir, &rel);
        let read_err = |source| LoadError::Read {
            path: path.clone(),
            source,
        };
        // Resolved again right before reading: a link swapped since discovery is caught too.
        let real = dir.join(&rel).canonicalize().map_err(read_err)?;
        if !real.starts_with(&root) {
            diagnostics.push(link_out(&path, false));
            continue;
        }
        let bytes = std::fs::read(&real).map_err(read_err)?;
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

/// The error for a symbolic link out of the config directory: it names the link, never what it
/// points at, and nothing behind it is read.
fn link_out(path: &str, is_dir: bool) -> Diagnostic {
    let what = if is_dir { "folder" } else { "config file" };
    Diagnostic {
        file: path.to_string(),
        line: 1,
        column: 1,
        offset: 0,
        len: 0,
        severity: Severity::Error,
        code: codes::SYMLINK_OUT_OF_CONFIG,
        message: format!(
            "{what} `{path}` is a symbolic link out of the config directory; it was not read"
        ),
        hint: Some(
            "copy the file into the config directory, or make the link point inside it".to_string(),
        ),
    }
}

/// What was loaded: the policy, the files it came from, and what loading said about them.
#[derive(Debug)]
pub struct Loaded {
    pub policy: Policy,
    pub sources: Vec<SourceFile>,
    /// Sorted by file, line and column. From [`load`], only warnings; from [`load_lenient`],
    /// errors too.
    pub diagnostics: Vec<Diagnostic>,
    /// See [`lang::Loaded::invalid_target_scopes`]; empty without errors.
    pub invalid_target_scopes: Vec<(String, String)>,
    /// The allowed_signers file `approval_signers` names, when set and readable: its path as
    /// shown and its text. It is part of the configuration (who may approve), so a digest of
    /// the configuration covers it.
    pub signers: Option<SourceFile>,
    /// Every request that can be approved, with its approval message (`jit approve`).
    pub approvable: Vec<lang::Approvable>,
    /// Which port values were defaulted (`jit validate -v`).
    pub port_defaults: Vec<lang::PortDefaults>,
}

impl Loaded {
    /// The configuration's [`config_digest`]: every config file, and the allowed_signers file
    /// (who may approve is part of the configuration).
    pub fn digest(&self, dir: &Path) -> String {
        let files: Vec<SourceFile> = self
            .sources
            .iter()
            .chain(self.signers.as_ref())
            .cloned()
            .collect();
        config_digest(dir, &files)
    }

    /// Whether any diagnostic is an error (only possible from [`load_lenient`]).
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// `sha256:` over every config file's path (relative to the config directory `dir`) and text,
/// in path order: what a saved plan's `config_digest` records. Each path and text is
/// length-prefixed, so no two configurations share a digest by moving bytes between files.
pub fn config_digest(dir: &Path, sources: &[SourceFile]) -> String {
    let shown_dir = shown_path(dir, Path::new(""));
    let mut bytes = Vec::new();
    for source in sources {
        let rel = match shown_dir.as_str() {
            "." => source.path.as_str(),
            d => source
                .path
                .strip_prefix(d.trim_end_matches('/'))
                .and_then(|p| p.strip_prefix('/'))
                .unwrap_or(&source.path),
        };
        for part in [rel, source.text.as_str()] {
            bytes.extend_from_slice(format!("{}:", part.len()).as_bytes());
            bytes.extend_from_slice(part.as_bytes());
            bytes.push(b'\n');
        }
    }
    crate::digest::tagged(&bytes)
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
        invalid_target_scopes: loaded.invalid_target_scopes,
        signers: signers.and_then(|s| {
            Some(SourceFile {
                path: s.path,
                text: s.text.ok()?,
            })
        }),
        approvable: loaded.approvable,
        port_defaults: loaded.port_defaults,
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

    #[cfg(unix)]
    #[test]
    fn links_out_of_the_dir_are_named_and_never_read() {
        use std::os::unix::fs::symlink;
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("token");
        std::fs::write(&secret, "ghp_SECRET_TOKEN_BYTES").unwrap();
        std::fs::create_dir(outside.path().join("more")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("policy.hcl"), "settings {}\n").unwrap();
        std::fs::create_dir(p.join("requests")).unwrap();
        symlink(&secret, p.join("requests/evil.hcl")).unwrap();
        symlink(outside.path().join("more"), p.join("vendor")).unwrap();
        // Inside the directory, links are followed.
        symlink(p.join("policy.hcl"), p.join("requests/alias.hcl")).unwrap();
        symlink(&secret, p.join("notes.txt")).unwrap();
        let found = discover_all(p).unwrap();
        let files: Vec<String> = found
            .files
            .iter()
            .map(|f| f.to_string_lossy().into_owned())
            .collect();
        assert_eq!(files, ["policy.hcl", "requests/alias.hcl"]);
        assert_eq!(
            found.links_out,
            [
                (PathBuf::from("requests/evil.hcl"), false),
                (PathBuf::from("vendor"), true)
            ]
        );
        let loaded = load_lenient(p).unwrap();
        let d = loaded
            .diagnostics
            .iter()
            .find(|d| d.code == codes::SYMLINK_OUT_OF_CONFIG)
            .unwrap();
        assert!(d.message.contains("requests/evil.hcl"), "{}", d.message);
        for s in &loaded.sources {
            assert!(!s.text.contains("SECRET"), "{}", s.path);
        }
        for d in &loaded.diagnostics {
            assert!(!format!("{d:?}").contains("SECRET"));
        }
    }

    #[test]
    fn the_digest_covers_paths_and_texts_whatever_the_dir_is_called() {
        let file = |path: &str, text: &str| SourceFile {
            path: path.into(),
            text: text.into(),
        };
        let here = config_digest(Path::new("."), &[file("a.hcl", "x"), file("b.hcl", "y")]);
        let there = config_digest(
            Path::new("conf/"),
            &[file("conf/a.hcl", "x"), file("conf/b.hcl", "y")],
        );
        assert_eq!(here, there);
        assert!(here.starts_with("sha256:"));
        for other in [
            vec![file("a.hcl", "x"), file("b.hcl", "z")],
            vec![file("a.hcl", "x"), file("c.hcl", "y")],
            vec![file("a.hcl", "xy"), file("b.hcl", "")],
            vec![file("a.hcl", "x")],
        ] {
            assert_ne!(config_digest(Path::new("."), &other), here);
        }
    }

    #[test]
    fn the_digest_covers_the_allowed_signers_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("policy.hcl"),
            "settings {\n  approval_signers = \"signers\"\n}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("signers"),
            "bob@example.com ssh-ed25519 AAAA\n",
        )
        .unwrap();
        let before = load_lenient(dir.path()).unwrap();
        assert!(before.signers.is_some());
        std::fs::write(
            dir.path().join("signers"),
            "eve@example.com ssh-ed25519 AAAA\n",
        )
        .unwrap();
        let after = load_lenient(dir.path()).unwrap();
        assert_eq!(before.sources[0].text, after.sources[0].text);
        assert_ne!(before.digest(dir.path()), after.digest(dir.path()));
    }

    #[test]
    fn missing_dir_is_an_error() {
        let err = discover(Path::new("/nonexistent/jit-config")).unwrap_err();
        assert!(err.to_string().starts_with(
            "config directory `/nonexistent/jit-config` does not exist\nhint: pass `-C DIR`"
        ));
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
