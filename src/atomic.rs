//! Atomic file replacement, the one way jit rewrites a file (snapshot, saved plan, `jit fmt`):
//! a temporary file in the same directory, never wider in permissions than the file it
//! replaces, flushed to disk and renamed over it, the rename made durable. A reader sees the
//! old file or the new one, never half of one.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes a file atomically: `fill` writes a temporary file in the same directory, which is
/// flushed to disk and renamed over `path`. On any error the temporary file is removed and
/// `path` is untouched. When `path` exists, the new file gets its permission bits (a 0600
/// file stays 0600). `path` itself is replaced: resolve a symbolic link first to write
/// through it.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut fs::File) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let existing = fs::metadata(path).ok();
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if existing.is_some() {
            // Never wider than the file it replaces, not even while it is being written.
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        }
        let mut file = options.open(&tmp)?;
        if let Some(meta) = existing {
            file.set_permissions(meta.permissions())?;
        }
        fill(&mut file)?;
        file.flush()?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        // Make the rename itself durable; not every platform can open a directory.
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
