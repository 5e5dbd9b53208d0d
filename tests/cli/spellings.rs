//! Terraform's single-dash flag spellings, shell completions and the man page.

use crate::support::{copy_dir, repo_path, TestCommand};

const AT: &str = "-at=2026-11-25T15:00:00Z";

fn quickstart() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo_path("examples/quickstart"), dir.path());
    dir
}

#[test]
fn terraform_spellings_plan_save_and_apply() {
    let dir = quickstart();
    let plan = dir.path().join("p.json");
    let out = format!("-out={}", plan.display());
    TestCommand::new(
        dir.path(),
        &["plan", AT, &out, "-no-color", "-detailed-exitcode"],
    )
    .run()
    .code(2)
    .stdout_has("Plan: 3 to add, 0 to change, 1 to destroy.");
    assert!(plan.exists());
    // `-out FILE` (a separate word) and `-json` as well.
    let spaced = dir.path().join("q.json");
    let run = TestCommand::new(
        dir.path(),
        &["plan", AT, "-out", spaced.to_str().unwrap(), "-json"],
    )
    .run()
    .code(0);
    assert!(run.stdout.trim_start().starts_with('{'), "{}", run.stdout);
    assert!(spaced.exists());
    TestCommand::new(
        dir.path(),
        &["apply", plan.to_str().unwrap(), AT, "-auto-approve"],
    )
    .run()
    .code(0)
    .stdout_has("Apply complete!");
    TestCommand::new(dir.path(), &["plan", AT, "-target=web-1"])
        .run()
        .code(0)
        .stdout_has("No changes.");
}

#[test]
fn chdir_is_dash_c() {
    let dir = quickstart();
    let mut cmd = assert_cmd::Command::cargo_bin("jit").unwrap();
    let chdir = format!("-chdir={}", dir.path().display());
    let output = cmd.args([chdir.as_str(), "validate"]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("valid: 2 targets"));
}

#[test]
fn short_flags_and_values_are_left_alone() {
    let words = ["jit", "-vv", "-C", "x", "plan", "-unknown", "--", "-out=y"];
    let rewritten: Vec<String> = jit::cli::terraform_spellings(words)
        .into_iter()
        .map(|w| w.into_string().unwrap())
        .collect();
    assert_eq!(
        rewritten,
        ["jit", "-vv", "-C", "x", "plan", "-unknown", "--", "-out=y"]
    );
    let rewritten: Vec<String> =
        jit::cli::terraform_spellings(["jit", "apply", "-auto-approve", "-parallelism=3"])
            .into_iter()
            .map(|w| w.into_string().unwrap())
            .collect();
    assert_eq!(
        rewritten,
        ["jit", "apply", "--auto-approve", "--parallelism=3"]
    );
}

#[test]
fn help_names_the_terraform_spellings() {
    let dir = tempfile::tempdir().unwrap();
    TestCommand::new(dir.path(), &["--help"])
        .run()
        .code(0)
        .stdout_has("-auto-approve")
        .stdout_has("-chdir=DIR");
}

#[test]
fn completions_for_every_shell_and_a_man_page() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = TestCommand::new(dir.path(), &["completions", shell])
            .run()
            .code(0);
        for word in ["plan", "apply", "validate", "detailed-exitcode"] {
            assert!(run.stdout.contains(word), "{shell} completions lack {word}");
        }
    }
    if std::process::Command::new("bash")
        .arg("--version")
        .output()
        .is_ok()
    {
        let run = TestCommand::new(dir.path(), &["completions", "bash"]).run();
        let script = dir.path().join("jit.bash");
        std::fs::write(&script, run.stdout).unwrap();
        let check = std::process::Command::new("bash")
            .arg("-n")
            .arg(&script)
            .output()
            .unwrap();
        assert!(check.status.success(), "bash -n: {check:?}");
    }
    TestCommand::new(dir.path(), &["completions", "tcsh"])
        .run()
        .code(1);
    TestCommand::new(dir.path(), &["man"])
        .run()
        .code(0)
        .stdout_has(".TH jit")
        .stdout_has("plan");
}
