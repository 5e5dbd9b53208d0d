//! Reading the allowed_signers file that `settings { approval_signers }` names: a path
//! relative to the config directory that must stay inside it (no `..` or symlink out of it),
//! a regular UTF-8 file of at most 1 MiB. What goes wrong is a phrase that never quotes the
//! file's bytes; `lang` reports it at the setting. Parsing and verifying are pure
//! (`approval`).

use std::path::{Component, Path};

use crate::lang::SignersFile;

/// The largest allowed_signers file read.
const MAX_BYTES: u64 = 1 << 20;

/// Reads `written` (as in the setting) under `dir`; `path` in the result is how diagnostics
/// show it.
pub fn read(dir: &Path, written: &str) -> SignersFile {
    let rel = Path::new(written);
    SignersFile {
        path: super::config::shown_path(dir, rel),
        text: read_inside(dir, rel),
    }
}

fn read_inside(dir: &Path, rel: &Path) -> Result<String, String> {
    if rel.is_absolute() || rel.components().any(|c| matches!(c, Component::Prefix(_))) {
        return Err("it is an absolute path; write it relative to the config directory".into());
    }
    let full = dir.join(rel);
    let root = dir
        .canonicalize()
        .map_err(|e| format!("the config directory cannot be resolved ({})", e.kind()))?;
    let real = full.canonicalize().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "it does not exist".to_string(),
        kind => format!("it cannot be resolved ({kind})"),
    })?;
    if !real.starts_with(&root) {
        return Err(
            "it resolves to a file outside the config directory (through `..` or a symlink)".into(),
        );
    }
    let meta = std::fs::metadata(&real).map_err(|e| format!("it cannot be read ({})", e.kind()))?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    if meta.len() > MAX_BYTES {
        return Err("it is larger than 1 MiB".into());
    }
    let bytes = std::fs::read(&real).map_err(|e| format!("it cannot be read ({})", e.kind()))?;
    String::from_utf8(bytes).map_err(|_| "it is not valid UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_outside_and_missing() {
        let outer = tempfile::tempdir().unwrap();
        let dir = outer.path().join("config");
        std::fs::create_dir_all(dir.join("approvers")).unwrap();
        std::fs::write(
            dir.join("approvers/allowed_signers"),
            "bob ssh-ed25519 AAAA\n",
        )
        .unwrap();
        std::fs::write(outer.path().join("secret"), "token=hunter2\n").unwrap();
        assert_eq!(
            read(&dir, "approvers/allowed_signers").text.unwrap(),
            "bob ssh-ed25519 AAAA\n"
        );
        let outside = read(&dir, "../secret").text.unwrap_err();
        assert!(
            outside.contains("outside the config directory"),
            "{outside}"
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outer.path().join("secret"), dir.join("link")).unwrap();
            let linked = read(&dir, "link").text.unwrap_err();
            assert!(
                linked.contains("outside") && !linked.contains("hunter2"),
                "{linked}"
            );
        }
        assert_eq!(read(&dir, "nope").text.unwrap_err(), "it does not exist");
        assert!(read(&dir, "/etc/passwd")
            .text
            .unwrap_err()
            .contains("absolute"));
        assert!(read(&dir, "approvers")
            .text
            .unwrap_err()
            .contains("not a regular file"));
    }
}
