//! What ops asks git: the commit of the config directory (for the audit log) and the user's
//! git config (`jit approve` and `jit request` defaults). Absent git or value is `None`.

use std::path::Path;
use std::process::{Command, Stdio};

/// `git rev-parse HEAD` in `dir`; `None` when it is not in a repository (or git is missing).
pub fn commit(dir: &Path) -> Option<String> {
    run(dir, &["rev-parse", "--verify", "--quiet", "HEAD"])
}

/// `git config KEY` in `dir`, when git and the value are there.
pub fn config(dir: &Path, key: &str) -> Option<String> {
    run(dir, &["config", "--get", key])
}

/// `git -C dir ARGS…`'s trimmed stdout, when it succeeds and prints something.
fn run(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let value = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (output.status.success() && !value.is_empty()).then_some(value)
}
