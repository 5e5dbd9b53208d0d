//! One apply at a time per table and network namespace: an exclusive `flock` on
//! `/run/jit-nftables-<netns>-<table>.lock`, held from the re-read of the table to the commit, so
//! that two runs on one host (a cron run and a hand-run apply) cannot both pass the fingerprint
//! check and then write on top of each other. The second waits for the first, then sees the
//! table it left (a moved fingerprint: re-planned, or stale for a saved plan).

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use super::NftError;

/// Where the locks live: root's runtime directory.
const DIR: &str = "/run";

/// Held while it lives; the kernel releases it when jit exits, however it exits.
pub struct TableLock {
    _file: File,
}

/// The lock file of `table` in this process's network namespace (its inode tells namespaces
/// apart: `ip netns exec` runs share `/run`).
fn path(table: &str) -> PathBuf {
    let netns = std::fs::metadata("/proc/thread-self/ns/net")
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .unwrap_or(0);
    PathBuf::from(DIR).join(format!("jit-nftables-{netns}-{table}.lock"))
}

/// Waits for and takes the lock of `table`.
pub fn lock(table: &str) -> Result<TableLock, NftError> {
    let path = path(table);
    let io = |source| NftError::Io {
        program: format!("lock `{}`", path.display()),
        source,
    };
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io)?;
    // SAFETY: a valid open file descriptor; flock has no other preconditions.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    Ok(TableLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_path_names_the_namespace_and_the_table() {
        let p = path("jit");
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("jit-nftables-") && name.ends_with("-jit.lock"),
            "{name}"
        );
    }
}
