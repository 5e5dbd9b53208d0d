//! `TestCommand`: runs the real binary and, when an assertion fails, prints the command, its
//! directory, stdout and stderr.

use std::path::{Path, PathBuf};
use std::process::Output;

pub struct TestCommand {
    cmd: assert_cmd::Command,
    line: String,
    dir: PathBuf,
}

/// What a finished command printed.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    context: String,
}

impl TestCommand {
    /// `jit -C <dir> <args…>`, with colour off and a fixed environment.
    pub fn new(dir: &Path, args: &[&str]) -> TestCommand {
        let cmd = assert_cmd::Command::cargo_bin("jit").expect("the jit binary builds");
        TestCommand::jit(cmd, dir, args, String::new())
    }

    /// `jit -C <dir> <args…>` run by `ip netns exec <ns>` inside network namespace `ns`, as
    /// [`TestCommand::new`] runs it. (For the nftables and conformance tests.)
    #[allow(dead_code)]
    pub fn in_netns(ns: &str, dir: &Path, args: &[&str]) -> TestCommand {
        let mut cmd = assert_cmd::Command::new("ip");
        cmd.args(["netns", "exec", ns])
            .arg(assert_cmd::cargo::cargo_bin("jit"));
        TestCommand::jit(cmd, dir, args, format!("ip netns exec {ns} "))
    }

    fn jit(mut cmd: assert_cmd::Command, dir: &Path, args: &[&str], before: String) -> TestCommand {
        cmd.arg("-C").arg(dir).args(args);
        cmd.env("NO_COLOR", "1").env_remove("JIT_LOG");
        for var in [
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "AZURE_FEDERATED_TOKEN_FILE",
        ] {
            cmd.env_remove(var);
        }
        TestCommand {
            cmd,
            line: format!("{before}jit -C {} {}", dir.display(), args.join(" ")),
            dir: dir.to_path_buf(),
        }
    }

    /// `sh -c LINE` in `cwd`: a command line pasted as printed, with colour off.
    pub fn shell(cwd: &Path, line: &str) -> TestCommand {
        let mut cmd = assert_cmd::Command::new("sh");
        cmd.arg("-c").arg(line).current_dir(cwd);
        cmd.env("NO_COLOR", "1").env_remove("JIT_LOG");
        TestCommand {
            cmd,
            line: format!("sh -c {line:?}"),
            dir: cwd.to_path_buf(),
        }
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> TestCommand {
        self.cmd.env(key, value);
        self
    }

    pub fn stdin(mut self, input: &str) -> TestCommand {
        self.cmd.write_stdin(input.to_string());
        self
    }

    pub fn run(mut self) -> Run {
        let Output {
            status,
            stdout,
            stderr,
        } = self.cmd.output().expect("jit runs");
        let stdout = String::from_utf8_lossy(&stdout).into_owned();
        let stderr = String::from_utf8_lossy(&stderr).into_owned();
        let context = format!(
            "command: {}\ndir: {}\nexit: {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            self.line,
            self.dir.display(),
            status.code()
        );
        Run {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr,
            context,
        }
    }
}

impl Run {
    /// Asserts the exit code, showing everything when it differs.
    pub fn code(self, expected: i32) -> Run {
        assert_eq!(
            self.code, expected,
            "unexpected exit code\n{}",
            self.context
        );
        self
    }

    pub fn stdout_has(self, needle: &str) -> Run {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n{}",
            self.context
        );
        self
    }

    pub fn stderr_has(self, needle: &str) -> Run {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{}",
            self.context
        );
        self
    }

    pub fn stdout_lacks(self, needle: &str) -> Run {
        assert!(
            !self.stdout.contains(needle),
            "stdout has {needle:?}\n{}",
            self.context
        );
        self
    }
}

/// A temporary config directory holding `files` (path relative to it, contents).
pub fn config_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    dir
}

/// The repository's own folder, for examples and fixtures.
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Copies a folder tree (an example config) into `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
