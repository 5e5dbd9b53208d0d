//! `request`: a request file written from flags. The id is derived from the justification's
//! ticket and the requester when not given ([`derive_id`]), the HCL text is built and formatted
//! ([`hcl`]), and the configuration is validated with the new file in memory before anything is
//! written: what `jit validate` would refuse is refused with the same diagnostics. The one
//! exception: where approvals are signed, the new request's missing approvals (E048), which only
//! exist once the request is committed and `jit approve` is run.

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use jiff::Timestamp;

use crate::diag::{Diagnostic, Severity};
use crate::lang::{self, SourceFile};
use crate::ops::config::{self, LoadError};

/// What the flags say; the clock (`start` when not given) is the caller's.
#[derive(Debug, Clone)]
pub struct RequestOptions {
    pub dir: PathBuf,
    /// `--id`; derived when `None`.
    pub id: Option<String>,
    pub target: String,
    /// Port names or numbers, as given.
    pub ports: Vec<String>,
    pub source: String,
    /// `--for`, as written (validated like any `duration`).
    pub duration: String,
    pub justification: String,
    pub start: Timestamp,
    /// `--requester`; git's `user.email` in the config directory when `None`.
    pub requester: Option<String>,
    pub approvers: Vec<String>,
    /// `--out`, relative to the config directory; `requests/<id>.hcl` when `None`.
    pub out: Option<PathBuf>,
}

/// A request file written.
#[derive(Debug, Clone)]
pub struct Written {
    pub id: String,
    /// The file as diagnostics show it (`qs/requests/INC-1-alice.hcl`).
    pub file: String,
    /// Whether approvals are signed here (`approval_signers` is set): approvers run
    /// `jit approve ID`.
    pub signed: bool,
    /// Where approvals are signed: what validate says until they are (`request … has 0
    /// verified approvals, 1 required`).
    pub pending: Option<String>,
    /// Warnings about the configuration with the new file, as `jit validate` prints them.
    pub warnings: Vec<Diagnostic>,
    pub sources: Vec<SourceFile>,
}

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{0}")]
    Refused(String),
    /// The configuration with the new request is not valid; nothing was written.
    #[error("invalid request: {} error{} with the new file; nothing was written", .count, if *.count == 1 { "" } else { "s" })]
    Invalid {
        count: usize,
        diagnostics: Vec<Diagnostic>,
        sources: Vec<SourceFile>,
    },
    #[error("cannot write `{file}`: {source}")]
    Write {
        file: String,
        source: std::io::Error,
    },
}

/// Validates the request with the configuration in `opts.dir`, then writes it (never over an
/// existing file).
pub fn request(opts: &RequestOptions) -> Result<Written, RequestError> {
    let (mut sources, read_diagnostics) = config::read_sources(&opts.dir)?;
    let signers_written = lang::approval_signers(&sources);
    let signed = signers_written.is_some();
    if signed && !opts.approvers.is_empty() {
        return Err(RequestError::Refused(
            "approvals are signed in this configuration (`approval_signers` is set): approvers \
             are who signed, not names in the request\nhint: leave out `--approvers`; each \
             approver runs `jit approve ID` once the request is committed"
                .into(),
        ));
    }
    let requester = match &opts.requester {
        Some(r) => r.clone(),
        None => git_user_email(&opts.dir).ok_or_else(|| {
            RequestError::Refused(
                "no requester: `--requester` is not given and git's `user.email` is not set\n\
                 hint: pass `--requester you@example.com`, or set `git config user.email`"
                    .into(),
            )
        })?,
    };
    let before = lang::load_all(&sources);
    let id = match &opts.id {
        Some(id) => id.clone(),
        None => {
            let taken: Vec<&str> = before.policy.grants.iter().map(|g| g.id.as_str()).collect();
            derive_id(&opts.justification, &requester, &taken).ok_or_else(|| {
                RequestError::Refused(format!(
                    "cannot derive a request id: the justification `{}` starts with no ticket \
                     such as `INC-1`\nhint: pass `--id INC-1-alice`, or start the \
                     justification with the ticket",
                    opts.justification
                ))
            })?
        }
    };
    let rel = match &opts.out {
        Some(out) => inside(out)?,
        None => Path::new("requests").join(format!("{id}.hcl")),
    };
    let file = config::shown_path(&opts.dir, &rel);
    let full = opts.dir.join(&rel);
    if full.exists() || sources.iter().any(|s| s.path == file) {
        return Err(RequestError::Refused(format!(
            "`{file}` already exists; nothing was written\nhint: pass `--out` with another \
             file name, or `--id` with another id"
        )));
    }
    let text = hcl(&Fields {
        id: &id,
        target: &opts.target,
        ports: &opts.ports,
        source: &opts.source,
        requester: &requester,
        approvers: &opts.approvers,
        justification: &opts.justification,
        start: opts.start,
        duration: &opts.duration,
    });
    sources.push(SourceFile {
        path: file.clone(),
        text: text.clone(),
    });
    let signers = signers_written.map(|w| super::signers::read(&opts.dir, &w));
    let loaded = lang::load_all_with(&sources, signers.as_ref());
    let mut diagnostics = read_diagnostics;
    diagnostics.extend(loaded.diagnostics);
    // Where approvals are signed, a new request has none yet: it is approved once committed
    // (`jit approve ID` appends the signature), so its own "too few approvals" is the next
    // step, not a refusal. Every other error refuses, as validate would.
    let mut pending = None;
    if signed {
        if let Some(at) = diagnostics.iter().position(|d| {
            d.code == lang::codes::TOO_FEW_APPROVERS
                && d.file == file
                && d.severity == Severity::Error
        }) {
            pending = Some(diagnostics.remove(at).message);
        }
    }
    let order = |path: &str| sources.iter().position(|s| s.path == path);
    diagnostics.sort_by_key(|d| (order(&d.file), d.line, d.column));
    let count = crate::diag::error_count(&diagnostics);
    if count > 0 {
        return Err(RequestError::Invalid {
            count,
            diagnostics,
            sources,
        });
    }
    write_new(&full, &text).map_err(|source| RequestError::Write {
        file: file.clone(),
        source,
    })?;
    Ok(Written {
        id,
        file,
        signed,
        pending,
        warnings: diagnostics
            .into_iter()
            .filter(|d| d.severity == Severity::Warning)
            .collect(),
        sources,
    })
}

/// `--out` as a path inside the config directory: relative, without `..`.
fn inside(out: &Path) -> Result<PathBuf, RequestError> {
    let plain = out
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    let hcl = out.extension().is_some_and(|e| e == "hcl");
    if !plain || !hcl || out.as_os_str().is_empty() {
        return Err(RequestError::Refused(format!(
            "`--out {}` must be a `*.hcl` path inside the config directory, relative to it\n\
             hint: such as `--out requests/INC-1-alice.hcl`",
            out.display()
        )));
    }
    Ok(out.to_path_buf())
}

/// Creates `path` (and its folders) with `text`, never replacing a file.
fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// git's `user.email` in `dir`.
fn git_user_email(dir: &Path) -> Option<String> {
    super::git::config(dir, "user.email")
}

/// Pure: the id of a request from its justification's ticket (`INC-1 …` → `INC-1`) and the
/// requester's name (`alice@example.com` → `alice`): `INC-1-alice`. A ticket is the first word
/// when it reads like one (letters, digits, a dash and a number). When the id is `taken`
/// (compared without case, as ARM compares rule names), `-2`, `-3`, … is added. `None` when
/// the justification starts with no ticket.
pub fn derive_id(justification: &str, requester: &str, taken: &[&str]) -> Option<String> {
    let first = justification
        .split(|c: char| c.is_whitespace() || c == ':' || c == ',')
        .next()?;
    let ticket = first.trim_end_matches(['.', ';']);
    let (key, number) = ticket.rsplit_once('-')?;
    let reads_like_ticket = !key.is_empty()
        && key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit());
    if !reads_like_ticket {
        return None;
    }
    let person: String = requester
        .split('@')
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let person = person.trim_matches(['-', '.']);
    let base = if person.is_empty() {
        ticket.to_string()
    } else {
        format!("{ticket}-{person}")
    };
    let base: String = base.chars().take(76).collect();
    let free = |id: &str| !taken.iter().any(|t| t.eq_ignore_ascii_case(id));
    if free(&base) {
        return Some(base);
    }
    (2..1000).map(|n| format!("{base}-{n}")).find(|id| free(id))
}

/// The attributes of a request, as given.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    pub id: &'a str,
    pub target: &'a str,
    pub ports: &'a [String],
    pub source: &'a str,
    pub requester: &'a str,
    pub approvers: &'a [String],
    pub justification: &'a str,
    pub start: Timestamp,
    pub duration: &'a str,
}

/// Pure: the request block, formatted as `jit fmt` writes it. Port numbers are written as
/// numbers, names as strings; `approvers` only when there are some.
pub fn hcl(f: &Fields<'_>) -> String {
    let ports: Vec<String> = f
        .ports
        .iter()
        .map(|p| {
            if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) {
                p.clone()
            } else {
                string(p)
            }
        })
        .collect();
    let mut text = format!("request {} {{\n", string(f.id));
    let mut attr = |key: &str, value: String| text.push_str(&format!("  {key} = {value}\n"));
    attr("target", string(f.target));
    attr("ports", format!("[{}]", ports.join(", ")));
    attr("source", string(f.source));
    attr("requester", string(f.requester));
    if !f.approvers.is_empty() {
        let approvers: Vec<String> = f.approvers.iter().map(|a| string(a)).collect();
        attr("approvers", format!("[{}]", approvers.join(", ")));
    }
    attr("justification", string(f.justification));
    attr("start", string(&f.start.to_string()));
    attr("duration", string(f.duration));
    text.push_str("}\n");
    lang::fmt::format(&text).unwrap_or(text)
}

/// An HCL string literal: quotes, backslashes and control characters escaped, and `${` / `%{`
/// doubled so that nothing is read as a template.
fn string(s: &str) -> String {
    let mut out = String::from("\"");
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_the_ticket_and_the_requester() {
        let id = |j: &str, r: &str| derive_id(j, r, &[]);
        assert_eq!(
            id("INC-1 investigate", "alice@example.com").as_deref(),
            Some("INC-1-alice")
        );
        assert_eq!(
            id("CHG-1010: restore test", "erin.b@example.com").as_deref(),
            Some("CHG-1010-erin.b")
        );
        assert_eq!(
            id("OPS-TEAM-42, again", "bob+jit@x.org").as_deref(),
            Some("OPS-TEAM-42-bob-jit")
        );
        assert_eq!(id("investigate INC-1", "alice@example.com"), None);
        assert_eq!(id("INC- 1", "alice@example.com"), None);
        assert_eq!(id("", "alice@example.com"), None);
        assert_eq!(
            derive_id("INC-1 again", "alice@example.com", &["inc-1-alice"]).as_deref(),
            Some("INC-1-alice-2")
        );
        assert_eq!(
            derive_id(
                "INC-1 again",
                "alice@example.com",
                &["INC-1-alice", "INC-1-alice-2"]
            )
            .as_deref(),
            Some("INC-1-alice-3")
        );
    }

    #[test]
    fn the_text_is_formatted_and_parses_back() {
        let start: Timestamp = "2026-11-25T14:00:00Z".parse().unwrap();
        let ports = vec!["ssh".to_string(), "3389".to_string()];
        let approvers = vec!["bob@example.com".to_string()];
        let text = hcl(&Fields {
            id: "INC-1-alice",
            target: "web-1",
            ports: &ports,
            source: "203.0.113.9",
            requester: "alice@example.com",
            approvers: &approvers,
            justification: "INC-1 \"quoted\" ${var} %{if} back\\slash",
            start,
            duration: "1h",
        });
        assert_eq!(lang::fmt::format(&text).unwrap(), text, "already formatted");
        assert!(
            text.contains("  ports         = [\"ssh\", 3389]\n"),
            "{text}"
        );
        assert!(text.contains("start         = \"2026-11-25T14:00:00Z\""));
        assert!(
            text.contains(r#""INC-1 \"quoted\" $${var} %%{if} back\\slash""#),
            "{text}"
        );
    }

    #[test]
    fn no_approvers_no_attribute() {
        let start: Timestamp = "2026-11-25T14:00:00Z".parse().unwrap();
        let text = hcl(&Fields {
            id: "INC-1-alice",
            target: "web-1",
            ports: &["ssh".to_string()],
            source: "203.0.113.9/32",
            requester: "alice@example.com",
            approvers: &[],
            justification: "INC-1",
            start,
            duration: "1h",
        });
        assert!(!text.contains("approvers"), "{text}");
    }

    #[test]
    fn out_stays_inside_the_config_directory() {
        assert!(inside(Path::new("requests/a.hcl")).is_ok());
        for bad in ["../a.hcl", "/tmp/a.hcl", "requests/a.txt", ""] {
            assert!(inside(Path::new(bad)).is_err(), "{bad}");
        }
    }
}
