//! `jit apply` on a terminal: the `yes` prompt and colour. The binary runs under `script(1)`
//! (util-linux, on every Debian machine), which gives it a pseudo-terminal and feeds it our stdin.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{copy_dir, repo_path};

const AT: &str = "2026-11-25T15:00:00Z";

/// Runs `jit <args>` on a pseudo-terminal with `input` typed at it; (exit code, everything shown).
fn on_terminal(args: &str, input: &str, no_color: bool) -> (i32, String) {
    let jit = assert_cmd::cargo::cargo_bin("jit");
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &format!("{} {args}", jit.display()), "/dev/null"])
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    let mut child = cmd.spawn().expect("script(1) from util-linux is installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), shown)
}

fn quickstart_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = repo_path("examples/quickstart");
    copy_dir(&from, dir.path());
    dir
}

fn snapshot(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("live/nsgs.json")).unwrap()
}

#[test]
fn anything_but_yes_cancels_and_writes_nothing() {
    let dir = quickstart_copy();
    let before = snapshot(dir.path());
    let args = format!("-C {} apply --at {AT}", dir.path().display());
    let (code, shown) = on_terminal(&args, "y\n", true);
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains("Only 'yes' will be accepted"), "{shown}");
    assert!(shown.contains("Apply cancelled"), "{shown}");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn yes_applies_and_the_next_plan_is_empty() {
    let dir = quickstart_copy();
    let before = snapshot(dir.path());
    let args = format!("-C {} apply --at {AT}", dir.path().display());
    let (code, shown) = on_terminal(&args, "yes\n", true);
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("Apply complete! Resources: 3 added, 0 changed, 1 destroyed."),
        "{shown}"
    );
    assert!(shown.contains("4/4"), "a terminal shows progress:\n{shown}");
    assert_ne!(snapshot(dir.path()), before);
    let args = format!(
        "-C {} plan --at {AT} --detailed-exitcode",
        dir.path().display()
    );
    let (code, shown) = on_terminal(&args, "", true);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("No changes."), "{shown}");
}

#[test]
fn colour_on_a_terminal_unless_no_color() {
    let dir = quickstart_copy();
    let args = format!("-C {} plan --at {AT}", dir.path().display());
    let (_, coloured) = on_terminal(&args, "", false);
    assert!(
        coloured.contains("\x1b["),
        "a terminal gets colour:\n{coloured}"
    );
    let (_, plain) = on_terminal(&args, "", true);
    assert!(!plain.contains("\x1b["), "NO_COLOR gets none:\n{plain}");
    let args = format!("-C {} --no-color plan --at {AT}", dir.path().display());
    let (_, flag) = on_terminal(&args, "", false);
    assert!(!flag.contains("\x1b["), "--no-color gets none:\n{flag}");
}
