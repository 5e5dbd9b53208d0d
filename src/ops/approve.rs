//! `jit approve`: the canonical message of a request, and signing it. Signing runs
//! `ssh-keygen -Y sign -n jit-approval` (so ssh-agent and hardware keys work) and appends an
//! `approval` block, laid out as `jit fmt` lays it out, to the file that holds the request —
//! only after checking in memory that the configuration with the block still loads and that
//! the new approval verifies.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::config::{self, LoadError};
use super::OpsError;
use crate::approval::{names, NAMESPACE};
use crate::diag::Severity;
use crate::lang::{self, Approvable};

/// What `jit approve REQUEST_ID` was asked.
#[derive(Debug, Clone)]
pub struct ApproveOptions {
    pub dir: PathBuf,
    pub request: String,
    /// The key for `ssh-keygen -f`: a private key, or a public key whose private half is in
    /// ssh-agent. `None`: git's `user.signingkey`, else the first of `~/.ssh/id_ed25519`,
    /// `id_ecdsa`, `id_rsa`.
    pub key: Option<PathBuf>,
    /// The principal to sign as. `None`: git's `user.email` in the config directory.
    pub by: Option<String>,
}

/// A signed approval, appended.
#[derive(Debug, Clone)]
pub struct Approved {
    /// The request's file, as diagnostics show it.
    pub file: String,
    pub by: String,
    pub key: PathBuf,
}

fn invalid(message: impl Into<String>) -> OpsError {
    OpsError::Invalid(message.into())
}

/// The request `id` of the configuration in `dir`, with its approval message.
pub fn find(dir: &Path, id: &str) -> Result<Approvable, OpsError> {
    let loaded = config::load_lenient(dir).map_err(load_error)?;
    if let Some(found) = loaded.approvable.iter().find(|a| a.id == id) {
        return Ok(found.clone());
    }
    let ids = loaded.approvable.iter().map(|a| a.id.as_str());
    let hint = lang::did_you_mean(id, ids).unwrap_or_else(|| {
        format!(
            "run `{}`: a request with an unknown target or port, or a missing attribute, cannot be approved",
            super::next::command(dir, &["validate"])
        )
    });
    Err(invalid(format!(
        "no request `{id}` that can be approved\nhint: {hint}"
    )))
}

fn load_error(err: LoadError) -> OpsError {
    invalid(err.to_string())
}

/// The exact bytes an approver of `id` signs.
pub fn message(dir: &Path, id: &str) -> Result<String, OpsError> {
    Ok(find(dir, id)?.message)
}

/// Signs the approval of `opts.request` and appends it to the request's file.
pub fn approve(opts: &ApproveOptions) -> Result<Approved, OpsError> {
    let request = find(&opts.dir, &opts.request)?;
    let by = match &opts.by {
        Some(by) => by.trim().to_string(),
        None => super::git::config(&opts.dir, "user.email").ok_or_else(|| {
            invalid("no principal to sign as\nhint: pass `--by you@example.com` (your name in the allowed_signers file), or set `git config user.email`")
        })?,
    };
    names::check(&by).map_err(|why| invalid(format!("principal `{}` {why}", by.escape_debug())))?;
    if names::same(&by, &request.requester) {
        return Err(invalid(format!(
            "`{by}` is the requester of `{}` and cannot approve it\nhint: ask someone else to review and approve it",
            request.id
        )));
    }
    let key = match &opts.key {
        Some(key) => key.clone(),
        None => default_key(&opts.dir)?,
    };
    let signature = sign(&key, &request.message)?;
    let block = block(&request.id, &by, &signature)?;

    // The file as it will be, checked before anything is written.
    let (mut sources, _) = config::read_sources(&opts.dir).map_err(load_error)?;
    let source = sources
        .iter_mut()
        .find(|s| s.path == request.file)
        .ok_or_else(|| invalid(format!("`{}` is no longer in the config", request.file)))?;
    let separator = separator(&source.text);
    let from = source.text.len() + separator.len();
    source.text = format!("{}{separator}{block}", source.text);
    let signers =
        lang::approval_signers(&sources).map(|written| super::signers::read(&opts.dir, &written));
    let checked = lang::load_all_with(&sources, signers.as_ref());
    let problems = checked
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error && d.file == request.file && d.offset >= from)
        .map(|d| match &d.hint {
            Some(hint) => format!("{}\nhint: {hint}", d.message),
            None => d.message.clone(),
        })
        .collect::<Vec<_>>();
    if !problems.is_empty() {
        return Err(invalid(format!(
            "the approval would not count, so it was not written: {}",
            problems.join("\n")
        )));
    }

    let path = file_path(&opts.dir, &request.file)?;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(|source| OpsError::Io {
            context: format!("cannot open `{}`", request.file),
            source,
        })?;
    file.write_all(format!("{separator}{block}").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|source| OpsError::Io {
            context: format!("cannot append to `{}`", request.file),
            source,
        })?;
    Ok(Approved {
        file: request.file,
        by,
        key,
    })
}

/// What goes between a file's text and an appended block: one blank line.
fn separator(text: &str) -> &'static str {
    if text.is_empty() || text.ends_with("\n\n") {
        ""
    } else if text.ends_with('\n') {
        "\n"
    } else {
        "\n\n"
    }
}

/// The `approval` block, as `jit fmt` lays it out.
pub fn block(id: &str, by: &str, signature: &str) -> Result<String, OpsError> {
    let mut text = format!("approval \"{}\" {{\n", hcl_string(id));
    text.push_str(&format!("  by = \"{}\"\n", hcl_string(by)));
    text.push_str("  signature = <<-EOT\n");
    for line in signature.lines().map(str::trim).filter(|l| !l.is_empty()) {
        text.push_str(&format!("    {line}\n"));
    }
    text.push_str("  EOT\n}\n");
    lang::fmt::format(&text).map_err(|err| {
        invalid(format!(
            "this is a bug in jit: approval block does not parse: {err}"
        ))
    })
}

/// The inside of a quoted HCL string that reads back as `s`.
fn hcl_string(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace("${", "$${")
        .replace("%{", "%%{")
}

/// `ssh-keygen -Y sign -n jit-approval -f KEY` over `message` on stdin; the signature comes
/// back on stdout. Its prompts (passphrase, touch the key) reach the user on the terminal.
fn sign(key: &Path, message: &str) -> Result<String, OpsError> {
    let mut child = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", NAMESPACE, "-f"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            invalid(format!(
                "cannot run `ssh-keygen`: {e}\nhint: install OpenSSH (`apt-get install openssh-client`)"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(message.as_bytes())
            .map_err(|source| OpsError::Io {
                context: "cannot send the message to `ssh-keygen`".to_string(),
                source,
            })?;
    }
    let out = child.wait_with_output().map_err(|source| OpsError::Io {
        context: "`ssh-keygen` did not finish".to_string(),
        source,
    })?;
    let signature = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() || !signature.contains("-----BEGIN SSH SIGNATURE-----") {
        return Err(invalid(format!(
            "`ssh-keygen -Y sign` failed with key `{}` ({})\nhint: pass the private key, or the public key of a key loaded in ssh-agent, with `--key`",
            key.display(),
            out.status
        )));
    }
    Ok(signature)
}

/// git's `user.signingkey` when it is a file, else the first default SSH key that exists.
fn default_key(dir: &Path) -> Result<PathBuf, OpsError> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if let Some(key) = super::git::config(dir, "user.signingkey") {
        if !key.starts_with("key::") {
            let path = match (key.strip_prefix("~/"), &home) {
                (Some(rest), Some(home)) => home.join(rest),
                _ => PathBuf::from(&key),
            };
            if path.is_file() {
                return Ok(path);
            }
        }
    }
    if let Some(home) = home {
        for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
            for candidate in [name.to_string(), format!("{name}.pub")] {
                let path = home.join(".ssh").join(candidate);
                if path.is_file() {
                    return Ok(path);
                }
            }
        }
    }
    Err(invalid(
        "no SSH key to sign with\nhint: pass `--key ~/.ssh/id_ed25519` (or a `.pub` whose private half is in ssh-agent)",
    ))
}

/// The path on disk of a config file shown as `shown`.
fn file_path(dir: &Path, shown: &str) -> Result<PathBuf, OpsError> {
    config::discover(dir)
        .map_err(load_error)?
        .into_iter()
        .find(|rel| config::shown_path(dir, rel) == shown)
        .map(|rel| dir.join(rel))
        .ok_or_else(|| invalid(format!("`{shown}` is no longer in the config")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_is_already_formatted_and_reads_back() {
        let sig = "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\nAAAA\n-----END SSH SIGNATURE-----\n";
        let text = block("INC-1-alice", "bob \"the\" ${builder}", sig).unwrap();
        assert_eq!(lang::fmt::format(&text).unwrap(), text);
        assert!(
            text.starts_with("approval \"INC-1-alice\" {\n  by        = "),
            "{text}"
        );
        assert!(
            text.contains("    -----BEGIN SSH SIGNATURE-----\n    U1NIU0lH\n"),
            "{text}"
        );
        let value: serde_json::Value = hcl::from_str(&text).unwrap();
        assert_eq!(
            value["approval"]["INC-1-alice"]["by"],
            "bob \"the\" ${builder}"
        );
    }

    #[test]
    fn one_blank_line_before_the_block() {
        assert_eq!(separator(""), "");
        assert_eq!(separator("a\n"), "\n");
        assert_eq!(separator("a\n\n"), "");
        assert_eq!(separator("a"), "\n\n");
    }
}
