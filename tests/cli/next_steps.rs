//! Every "run this next" command jit prints is exact: pasted into a shell from the same
//! directory, it runs. Provider errors name the provider block and say each cause once; `-v`
//! logs provider reads and writes with their durations; status speaks the plan's spans.

use std::fs;
use std::path::Path;

use crate::support::{copy_dir, repo_path, Run};

const AT: &str = "2026-11-25T14:37:00Z";

/// Runs `line` in a shell in `cwd`, with the built `jit` first on `PATH`.
pub(crate) fn paste(cwd: &Path, line: &str) -> Run {
    let jit = assert_cmd::cargo::cargo_bin("jit");
    let bin = jit.parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    crate::support::TestCommand::shell(cwd, line)
        .env("PATH", path)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .run()
}

/// The commands printed as indented lines starting with `jit ` or `git ` (after an optional
/// `label: `).
pub(crate) fn printed_commands(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("    "))
        .map(|l| l.trim())
        .map(|l| l.rsplit_once(": ").map_or(l, |(_, c)| c))
        .filter(|l| l.starts_with("jit ") || l.starts_with("git "))
        .map(str::to_string)
        .collect()
}

fn quickstart() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let qs = root.path().join("qs");
    fs::create_dir_all(&qs).unwrap();
    copy_dir(&repo_path("examples/quickstart"), &qs);
    root
}

#[test]
fn the_printed_apply_keeps_dash_c_and_at_and_runs_as_pasted() {
    let root = quickstart();
    let plan = paste(
        root.path(),
        &format!("jit -C qs plan --at {AT} --out p.json"),
    )
    .code(0);
    let commands = printed_commands(&plan.stderr);
    assert_eq!(commands, [format!("jit -C qs apply p.json --at {AT}")]);
    paste(root.path(), &commands[0])
        .code(0)
        .stdout_has("Apply complete!");
    // A directory with a space is quoted.
    let spaced = root.path().join("my config");
    fs::create_dir_all(&spaced).unwrap();
    copy_dir(&repo_path("examples/quickstart"), &spaced);
    let plan = paste(
        root.path(),
        &format!("jit -C 'my config' plan -at={AT} -out=p2.json"),
    )
    .code(0);
    let commands = printed_commands(&plan.stderr);
    assert_eq!(
        commands,
        [format!("jit -C 'my config' apply p2.json --at {AT}")]
    );
    paste(root.path(), &commands[0]).code(0);
}

#[test]
fn the_confirmation_hint_keeps_dash_c_and_at() {
    let root = quickstart();
    let snapshot = fs::read(root.path().join("qs/live/nsgs.json")).unwrap();
    let run = paste(
        root.path(),
        &format!("jit -C qs apply --at {AT} </dev/null"),
    )
    .code(1);
    let plan = format!("jit -C qs plan --out FILE --at {AT}");
    assert!(run.stderr.contains(&format!("`{plan}`")), "{}", run.stderr);
    assert!(run
        .stderr
        .contains(&format!("`jit -C qs apply FILE --at {AT}`")));
    assert_eq!(
        fs::read(root.path().join("qs/live/nsgs.json")).unwrap(),
        snapshot
    );
    // Pasted with a real file name, the pair works.
    paste(root.path(), &plan.replace("FILE", "p.json")).code(0);
    paste(root.path(), &format!("jit -C qs apply p.json --at {AT}")).code(0);
}

#[test]
fn a_missing_snapshot_names_the_provider_block_once_and_hints_at_dash_c() {
    let root = quickstart();
    fs::remove_file(root.path().join("qs/live/nsgs.json")).unwrap();
    for command in ["plan", "status"] {
        let run = paste(root.path(), &format!("jit -q -C qs {command} --at {AT}")).code(1);
        let err = &run.stderr;
        assert!(
            err.contains("cannot read snapshot `qs/live/nsgs.json`: No such file or directory"),
            "{err}"
        );
        for line in err.lines() {
            assert!(
                line.matches("No such file").count() <= 1,
                "said twice: {line}"
            );
        }
        assert!(
            err.contains("--> provider `snapshot.demo` at qs/policy.hcl:12:1"),
            "{err}"
        );
        assert!(
            err.contains("`live/nsgs.json` is relative to the config directory `qs`"),
            "{err}"
        );
        assert!(err.contains("-C DIR"), "{err}");
    }
}

#[test]
fn verbose_logs_each_provider_read_and_write_with_its_duration() {
    let root = quickstart();
    let run = paste(root.path(), &format!("jit -C qs plan --at {AT}")).code(0);
    assert!(
        !run.stderr.contains("provider `snapshot.demo`"),
        "{}",
        run.stderr
    );
    let run = paste(root.path(), &format!("jit -v -C qs plan --at {AT}")).code(0);
    let read = run
        .stderr
        .lines()
        .find(|l| l.contains("provider `snapshot.demo`: read 2 scopes in "))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(read.ends_with('s'), "a duration: {read}");
    assert!(!run.stderr.contains("reading `"));
    let run = paste(root.path(), &format!("jit -vv -C qs plan --at {AT}")).code(0);
    assert!(
        run.stderr.contains("reading `/subscriptions/subid/"),
        "{}",
        run.stderr
    );
    let run = paste(
        root.path(),
        &format!("jit -v -C qs apply --auto-approve --at {AT}"),
    )
    .code(0);
    assert!(
        run.stderr
            .contains("provider `snapshot.demo`: wrote 4 changes in "),
        "{}",
        run.stderr
    );
    // Off a terminal, no spinner: stderr holds only log lines and diagnostics.
    assert!(!run.stderr.contains("reading live state"), "{}", run.stderr);
}

#[test]
fn status_shows_who_what_until_when_and_the_file_in_text_and_json() {
    let root = quickstart();
    let text = paste(root.path(), &format!("jit -C qs status --at {AT}")).code(0);
    let header = text.stdout.lines().next().unwrap();
    for column in [
        "REQUEST",
        "TARGET",
        "REQUESTER",
        "APPROVERS",
        "SOURCE",
        "PORT",
        "LEFT",
        "FILE",
    ] {
        assert!(header.contains(column), "{header}");
    }
    assert!(
        text.stderr
            .contains("1 grant is past its expiry; `jit -C qs apply` revokes it"),
        "{}",
        text.stderr
    );
    let row = text.stdout.lines().nth(1).unwrap();
    for cell in [
        "CHG-1007-carol",
        "jump-1",
        "carol@example.com",
        "dave@example.com",
        "198.51.100.20/32",
        "3389/tcp",
        "OVERDUE by 3h 37m",
        "qs/requests/CHG-1007-carol.hcl",
    ] {
        assert!(row.contains(cell), "{cell} in {row}");
    }
    // The plan says the same span the same way.
    paste(root.path(), &format!("jit -C qs plan --at {AT}"))
        .code(0)
        .stdout_has("expired 3h 37m ago");
    let json = paste(root.path(), &format!("jit -C qs status --json --at {AT}")).code(0);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let grant = &doc["grants"][0];
    assert_eq!(grant["request"], "CHG-1007-carol");
    assert_eq!(grant["target"], "jump-1");
    assert_eq!(grant["requester"], "carol@example.com");
    assert_eq!(grant["approvers"], serde_json::json!(["dave@example.com"]));
    assert_eq!(grant["sources"], serde_json::json!(["198.51.100.20/32"]));
    assert_eq!(grant["ports"], serde_json::json!(["3389"]));
    assert_eq!(grant["left"], "OVERDUE by 3h 37m");
    assert_eq!(grant["seconds_left"], -13020);
    assert_eq!(grant["file"], "qs/requests/CHG-1007-carol.hcl");
}

#[test]
fn days_read_the_same_in_status_as_in_plan() {
    let root = quickstart();
    // 5 days and 21 hours after the carol grant expired.
    let late = "2026-12-01T08:00:00Z";
    paste(root.path(), &format!("jit -C qs status --at {late}"))
        .code(0)
        .stdout_has("OVERDUE by 5d 21h");
    paste(root.path(), &format!("jit -C qs plan --at {late}"))
        .code(0)
        .stdout_has("expired 5d 21h ago");
}

#[test]
fn the_example_pipelines_install_jit_as_the_readme_does() {
    for file in [
        "jit-pr-and-apply.yml",
        "jit-drift-cron.yml",
        "jit-drift-sharded.yml",
    ] {
        let text = fs::read_to_string(repo_path(&format!("examples/pipelines/{file}"))).unwrap();
        assert!(
            !text.contains("github.com/example"),
            "{file}: a placeholder URL"
        );
        let installs = text
            .matches("run: cargo install --locked --path .jit-src")
            .count();
        let checkouts = text.matches("path: .jit-src").count();
        assert!(
            installs > 0 && installs == checkouts,
            "{file}: {installs} installs, {checkouts} checkouts"
        );
        assert!(
            text.contains("repository: ${{ vars.JIT_REPOSITORY }}"),
            "{file}"
        );
    }
    // The checkout is hidden: a config directory holding it reads none of jit's examples.
    let root = quickstart();
    let src = root.path().join("qs/.jit-src/examples");
    fs::create_dir_all(&src).unwrap();
    copy_dir(&repo_path("examples"), &src);
    paste(root.path(), "jit -C qs validate")
        .code(0)
        .stderr_has("valid: 2 targets, 3 requests");
}

/// The clock refusal's hint names the preview commands with `-C`, exact.
#[test]
fn the_clock_refusal_hints_at_plan_and_status_with_dash_c() {
    let root = tempfile::tempdir().unwrap();
    let conf = root.path().join("conf");
    fs::create_dir_all(&conf).unwrap();
    fs::write(
        conf.join("policy.hcl"),
        "provider \"nftables\" \"bastion\" {\n  table = \"jit\"\n}\n\ntarget \"bastion\" {\n  \
         provider = \"nftables.bastion\"\n  port \"ssh\" {\n    number          = 22\n    \
         allowed_sources = [\"198.51.100.0/24\"]\n    max_duration    = \"3h\"\n  }\n}\n",
    )
    .unwrap();
    let at = "2026-01-01T00:00:00Z";
    paste(
        root.path(),
        &format!("jit -C conf apply --auto-approve --at {at}"),
    )
    .code(1)
    .stderr_has(&format!(
        "preview another time with `jit -C conf plan --at {at}` or `jit -C conf status --at {at}`"
    ));
    assert!(!conf.join(".jit").exists(), "no audit log");
}

/// Run from the wrong directory, jit says so and points at `-C`.
#[test]
fn the_wrong_directory_hints_at_dash_c() {
    let root = quickstart();
    let plan = paste(
        root.path(),
        &format!("jit -C qs plan --at {AT} --out p.json"),
    )
    .code(0);
    let printed = printed_commands(&plan.stderr).remove(0);
    // The printed command without its `-C qs`, as the issue saw it: refused with a pointer.
    let bare = printed.replace("-C qs ", "").replace("p.json", "../p.json");
    let other = root.path().join("other");
    fs::create_dir_all(&other).unwrap();
    paste(&other, &bare)
        .code(1)
        .stderr_has("no `*.hcl` files under `.`")
        .stderr_has("hint: pass `-C DIR` with the directory that holds the policy");
    paste(
        root.path(),
        &format!("jit -C nowhere apply p.json --at {AT}"),
    )
    .code(1)
    .stderr_has("config directory `nowhere` does not exist")
    .stderr_has("hint: pass `-C DIR`");
    // As printed, it works.
    paste(root.path(), &printed).code(0);
}
