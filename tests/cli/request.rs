//! `jit request`: the file it writes validates, plans and applies; what validate refuses it
//! refuses with the same diagnostics and writes nothing; the requester from git; the id from
//! the ticket; approvers only where approvals are not signed; every printed command pasted.

use std::fs;
use std::path::Path;

use crate::next_steps::{paste, printed_commands};
use crate::support::{copy_dir, repo_path};

const AT: &str = "2026-11-25T14:35:00Z";

/// A temporary folder holding a copy of an example as `qs/`.
fn example(name: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let qs = root.path().join("qs");
    fs::create_dir_all(&qs).unwrap();
    copy_dir(&repo_path(&format!("examples/{name}")), &qs);
    root
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

const REQUEST: &str = "jit -C qs request --target web-1 --ports ssh --source 198.51.100.9 \
                       --for 1h --why 'INC-77 look at the logs' --requester zoe@example.com \
                       --approvers bob@example.com --start 2026-11-25T14:30:00Z";

#[test]
fn the_file_it_writes_validates_plans_and_applies() {
    let root = example("quickstart");
    let run = paste(root.path(), REQUEST).code(0);
    let file = root.path().join("qs/requests/INC-77-zoe.hcl");
    let text = fs::read_to_string(&file).unwrap();
    assert_eq!(
        text,
        "request \"INC-77-zoe\" {\n  target        = \"web-1\"\n  ports         = [\"ssh\"]\n  \
         source        = \"198.51.100.9\"\n  requester     = \"zoe@example.com\"\n  \
         approvers     = [\"bob@example.com\"]\n  justification = \"INC-77 look at the logs\"\n  \
         start         = \"2026-11-25T14:30:00Z\"\n  duration      = \"1h\"\n}\n"
    );
    assert!(run
        .stderr
        .contains("Wrote request `INC-77-zoe` to qs/requests/INC-77-zoe.hcl"));
    // `jit fmt` has nothing to change, validate passes.
    paste(root.path(), "jit -C qs fmt --check").code(0);
    paste(root.path(), "jit -C qs validate")
        .code(0)
        .stderr_has("4 requests");
    // Every printed command runs as pasted: git add, git commit, jit plan.
    let commands = printed_commands(&run.stderr);
    assert!(
        commands
            .iter()
            .any(|c| c == "git add qs/requests/INC-77-zoe.hcl"),
        "{commands:?}"
    );
    assert!(
        commands.iter().any(|c| c == "jit -C qs plan"),
        "{commands:?}"
    );
    git(root.path(), &["init", "-q"]);
    git(root.path(), &["config", "user.email", "zoe@example.com"]);
    git(root.path(), &["config", "user.name", "Zoe"]);
    for command in &commands {
        paste(root.path(), command).code(0);
    }
    let log = std::process::Command::new("git")
        .args(["log", "--name-only", "--format=%s"])
        .current_dir(root.path())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(
        log.contains("request INC-77-zoe") && log.contains("qs/requests/INC-77-zoe.hcl"),
        "{log}"
    );
    // Plans and applies on the snapshot.
    let plan = paste(
        root.path(),
        &format!("jit -C qs plan --at {AT} --out p.json"),
    )
    .code(0)
    .stdout_has("jit-allow-INC-77-zoe-ssh");
    let apply = printed_commands(&plan.stderr)
        .into_iter()
        .find(|c| c.contains(" apply "))
        .expect("an apply command is printed");
    paste(root.path(), &apply)
        .code(0)
        .stdout_has("Apply complete!");
    let snapshot = fs::read_to_string(root.path().join("qs/live/nsgs.json")).unwrap();
    assert!(snapshot.contains("jit-allow-INC-77-zoe-ssh"), "{snapshot}");
    paste(root.path(), &format!("jit -C qs status --at {AT}"))
        .code(0)
        .stdout_has("zoe@example.com")
        .stdout_has("qs/requests/INC-77-zoe.hcl");
}

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

#[test]
fn what_validate_refuses_it_refuses_with_the_same_diagnostics_and_writes_nothing() {
    let root = example("quickstart");
    let requests = root.path().join("qs/requests");
    let before = listing(&requests);
    let run = paste(
        root.path(),
        "jit -C qs request --target web-1 --ports ssh --source 203.0.113.9 --for 5h \
         --why 'INC-78 look' --requester zoe@example.com --approvers bob@example.com \
         --start 2026-11-25T14:30:00Z",
    )
    .code(1)
    .stderr_has("error[E045]: source `203.0.113.9/32` is not allowed for port `ssh`")
    .stderr_has("--> qs/requests/INC-78-zoe.hcl:4:19")
    .stderr_has("error[E046]: duration `5h` exceeds the `max_duration` `3h`")
    .stderr_has("invalid request: 2 errors, as `jit validate` would report; nothing was written");
    assert_eq!(listing(&requests), before);
    // The same file written by hand: validate says the same.
    fs::write(
        requests.join("INC-78-zoe.hcl"),
        "request \"INC-78-zoe\" {\n  target        = \"web-1\"\n  ports         = [\"ssh\"]\n  \
         source        = \"203.0.113.9\"\n  requester     = \"zoe@example.com\"\n  \
         approvers     = [\"bob@example.com\"]\n  justification = \"INC-78 look\"\n  \
         start         = \"2026-11-25T14:30:00Z\"\n  duration      = \"5h\"\n}\n",
    )
    .unwrap();
    let validate = paste(root.path(), "jit -C qs validate").code(1);
    let errors = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.starts_with("error[") || l.starts_with(" -->"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(errors(&validate.stderr), errors(&run.stderr));
}

#[test]
fn unknown_target_and_port_are_refused_with_suggestions() {
    let root = example("quickstart");
    paste(
        root.path(),
        "jit -C qs request --target web-2 --ports sssh --source 198.51.100.9 --for 1h \
         --why 'INC-1 x' --requester zoe@example.com --approvers bob@example.com",
    )
    .code(1)
    .stderr_has("web-2")
    .stderr_has("nothing was written");
    assert!(!root.path().join("qs/requests/INC-1-zoe.hcl").exists());
}

#[test]
fn the_requester_comes_from_git_and_the_id_from_the_ticket() {
    let root = example("quickstart");
    git(root.path(), &["init", "-q"]);
    git(root.path(), &["config", "user.email", "gail@example.com"]);
    paste(
        root.path(),
        "jit -C qs request --target jump-1 --ports rdp,3389 --source 198.51.100.3/32 --for 30m \
         --why 'CHG-5: patch' --approvers bob@example.com --start 2026-11-25T14:30:00Z",
    )
    .code(1)
    .stderr_has("port `3389` is port `rdp`, listed already");
    paste(
        root.path(),
        "jit -C qs request --target jump-1 --ports 3389 --source 198.51.100.3/32 --for 30m \
         --why 'CHG-5: patch' --approvers bob@example.com --start 2026-11-25T14:30:00Z",
    )
    .code(0);
    let text = fs::read_to_string(root.path().join("qs/requests/CHG-5-gail.hcl")).unwrap();
    assert!(
        text.contains("requester     = \"gail@example.com\""),
        "{text}"
    );
    assert!(text.contains("ports         = [3389]"), "{text}");
    // The same ticket again: a fresh id, never the old file.
    paste(
        root.path(),
        "jit -C qs request --target jump-1 --ports rdp --source 198.51.100.3/32 --for 30m \
         --why 'CHG-5 again' --approvers bob@example.com --start 2026-11-25T16:30:00Z",
    )
    .code(0)
    .stderr_has("qs/requests/CHG-5-gail-2.hcl");
}

#[test]
fn without_a_requester_or_a_ticket_it_says_what_to_pass() {
    let root = example("quickstart");
    paste(
        root.path(),
        "jit -C qs request --target web-1 --ports ssh --source 198.51.100.9 --for 1h \
         --why 'INC-1 x' --approvers bob@example.com",
    )
    .code(1)
    .stderr_has("no requester")
    .stderr_has("--requester you@example.com");
    paste(
        root.path(),
        "jit -C qs request --target web-1 --ports ssh --source 198.51.100.9 --for 1h \
         --why 'look at logs' --requester zoe@example.com --approvers bob@example.com",
    )
    .code(1)
    .stderr_has("cannot derive a request id")
    .stderr_has("--id");
    // An existing file is never replaced; --out stays inside the config directory.
    let existing = root.path().join("qs/requests/INC-4211-alice.hcl");
    let bytes = fs::read(&existing).unwrap();
    paste(
        root.path(),
        "jit -C qs request --target web-1 --ports ssh --source 198.51.100.9 --for 1h \
         --why 'INC-1 x' --requester zoe@example.com --approvers bob@example.com \
         --out requests/INC-4211-alice.hcl",
    )
    .code(1)
    .stderr_has("already exists");
    assert_eq!(fs::read(&existing).unwrap(), bytes);
    paste(
        root.path(),
        "jit -C qs request --target web-1 --ports ssh --source 198.51.100.9 --for 1h \
         --why 'INC-1 x' --requester zoe@example.com --approvers bob@example.com \
         --out ../evil.hcl",
    )
    .code(1)
    .stderr_has("inside the config directory");
    assert!(!root.path().join("evil.hcl").exists());
}

#[test]
fn where_approvals_are_signed_approvers_sign_instead() {
    let root = example("approvals");
    let requests = root.path().join("qs/requests");
    let before = listing(&requests);
    paste(
        root.path(),
        "jit -C qs request --target web-1 --ports ssh --source 198.51.100.9 --for 1h \
         --why 'INC-9 x' --requester zoe@example.com --approvers bob@example.com",
    )
    .code(1)
    .stderr_has("approvals are signed")
    .stderr_has("leave out `--approvers`");
    assert_eq!(listing(&requests), before);
    let run = paste(
        root.path(),
        "jit -C qs request --target web-1 --ports ssh --source 198.51.100.9 --for 1h \
         --why 'INC-9 x' --requester zoe@example.com",
    )
    .code(0);
    let text = fs::read_to_string(requests.join("INC-9-zoe.hcl")).unwrap();
    assert!(!text.contains("approvers"), "{text}");
    assert!(
        run.stderr
            .contains("passes with it once approved (request `INC-9-zoe` has 0 verified approvals, 1 required)"),
        "{}",
        run.stderr
    );
    // Any other error still refuses.
    paste(
        root.path(),
        "jit -C qs request --target web-1 --ports ssh --source 203.0.113.9 --for 1h \
         --why 'INC-10 x' --requester zoe@example.com",
    )
    .code(1)
    .stderr_has("error[E045]");
    assert!(!requests.join("INC-10-zoe.hcl").exists());
    let commands = printed_commands(&run.stderr);
    let approve = commands
        .iter()
        .find(|c| c.contains(" approve "))
        .expect("jit approve is printed");
    assert_eq!(approve, "jit -C qs approve INC-9-zoe");
    // Pasted with --message (no key here), it finds the request.
    paste(root.path(), &format!("{approve} --message"))
        .code(0)
        .stdout_has("INC-9-zoe");
}
