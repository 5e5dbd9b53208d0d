//! `jit fmt`: rewrites, `--check`, `--diff`, file arguments, standard input, parse errors.

use crate::support::{config_dir, repo_path, TestCommand};

const UGLY: &str = "target \"web-1\" {\nprovider=\"snapshot.demo\"   # where\n    nsg_id = \"nsg\"\n\n  port \"ssh\" {\n  number = 22\n    max_duration = \"3h\"\n  }\n}\n";
const PRETTY: &str = "target \"web-1\" {\n  provider = \"snapshot.demo\" # where\n  nsg_id   = \"nsg\"\n\n  port \"ssh\" {\n    number       = 22\n    max_duration = \"3h\"\n  }\n}\n";
const REQUEST_UGLY: &str = "request \"r\" {\n  target=\"web-1\"\n  ports = [ \"ssh\" ]\n}\n";
const REQUEST_PRETTY: &str = "request \"r\" {\n  target = \"web-1\"\n  ports  = [\"ssh\"]\n}\n";

fn read(dir: &tempfile::TempDir, rel: &str) -> String {
    std::fs::read_to_string(dir.path().join(rel)).unwrap()
}

fn shown(dir: &tempfile::TempDir, rel: &str) -> String {
    dir.path().join(rel).display().to_string()
}

#[test]
fn rewrites_unformatted_files_in_path_order_and_lists_them() {
    let dir = config_dir(&[
        ("policy.hcl", UGLY),
        ("requests/b.hcl", REQUEST_UGLY),
        ("requests/a.hcl", REQUEST_PRETTY),
        ("zz/nested/c.hcl", REQUEST_UGLY),
        (".jit/hidden.hcl", UGLY),
        (".terraform.lock.hcl", UGLY),
        ("notes.txt", UGLY),
    ]);
    let run = TestCommand::new(dir.path(), &["fmt"]).run().code(0);
    let listed: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        listed,
        [
            shown(&dir, "policy.hcl"),
            shown(&dir, "requests/b.hcl"),
            shown(&dir, "zz/nested/c.hcl")
        ]
    );
    assert_eq!(read(&dir, "policy.hcl"), PRETTY);
    assert_eq!(read(&dir, "requests/b.hcl"), REQUEST_PRETTY);
    assert_eq!(read(&dir, "zz/nested/c.hcl"), REQUEST_PRETTY);
    // Hidden files and folders, and files that are not *.hcl, are not config.
    assert_eq!(read(&dir, ".jit/hidden.hcl"), UGLY);
    assert_eq!(read(&dir, ".terraform.lock.hcl"), UGLY);
    assert_eq!(read(&dir, "notes.txt"), UGLY);
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("jit-fmt")), "{names:?}");

    // A second run has nothing to do.
    TestCommand::new(dir.path(), &["fmt"])
        .run()
        .code(0)
        .stdout_lacks(".hcl");
}

#[test]
fn check_lists_unformatted_files_writes_nothing_and_exits_1() {
    let dir = config_dir(&[("policy.hcl", UGLY), ("requests/a.hcl", REQUEST_PRETTY)]);
    let run = TestCommand::new(dir.path(), &["fmt", "--check"])
        .run()
        .code(1);
    assert_eq!(run.stdout, format!("{}\n", shown(&dir, "policy.hcl")));
    assert_eq!(read(&dir, "policy.hcl"), UGLY);

    let clean = config_dir(&[("policy.hcl", PRETTY), ("requests/a.hcl", REQUEST_PRETTY)]);
    let run = TestCommand::new(clean.path(), &["fmt", "--check"])
        .run()
        .code(0);
    assert_eq!(run.stdout, "");
}

#[test]
fn diff_prints_a_unified_diff_and_with_check_writes_nothing() {
    let dir = config_dir(&[("requests/r.hcl", REQUEST_UGLY)]);
    let path = shown(&dir, "requests/r.hcl");
    let run = TestCommand::new(dir.path(), &["fmt", "--check", "--diff"])
        .run()
        .code(1)
        .stdout_has(&format!("--- old/{path}\n+++ new/{path}\n"))
        .stdout_has("@@ -1,4 +1,4 @@\n request \"r\" {\n-  target=\"web-1\"\n-  ports = [ \"ssh\" ]\n+  target = \"web-1\"\n+  ports  = [\"ssh\"]\n }\n");
    assert!(
        run.stdout.starts_with(&format!("{path}\n")),
        "{}",
        run.stdout
    );
    assert_eq!(read(&dir, "requests/r.hcl"), REQUEST_UGLY);

    // Without --check the diff is shown and the file rewritten.
    TestCommand::new(dir.path(), &["fmt", "--diff"])
        .run()
        .code(0)
        .stdout_has("+  ports  = [\"ssh\"]");
    assert_eq!(read(&dir, "requests/r.hcl"), REQUEST_PRETTY);
}

#[test]
fn a_parse_error_names_file_line_column_and_leaves_the_file_alone() {
    let broken = "target \"web-1\" {\n  provider = \"snapshot.demo\"\n  nsg_id = \n}\n";
    let dir = config_dir(&[("a.hcl", broken), ("b.hcl", REQUEST_UGLY)]);
    let run = TestCommand::new(dir.path(), &["fmt"])
        .run()
        .code(1)
        .stderr_has(&format!("{}:3:12: ", shown(&dir, "a.hcl")));
    assert_eq!(read(&dir, "a.hcl"), broken);
    // The other files are still formatted.
    assert_eq!(read(&dir, "b.hcl"), REQUEST_PRETTY);
    assert_eq!(run.stdout, format!("{}\n", shown(&dir, "b.hcl")));

    TestCommand::new(dir.path(), &["fmt", "--check", "a.hcl"])
        .run()
        .code(1)
        .stderr_has("a.hcl:3:12: ");
}

#[test]
fn file_arguments_are_relative_to_the_config_dir() {
    let dir = config_dir(&[
        ("policy.hcl", UGLY),
        ("requests/a.hcl", REQUEST_UGLY),
        ("requests/b.hcl", REQUEST_UGLY),
    ]);
    let run = TestCommand::new(dir.path(), &["fmt", "requests/a.hcl"])
        .run()
        .code(0);
    assert_eq!(run.stdout, "requests/a.hcl\n");
    assert_eq!(read(&dir, "requests/a.hcl"), REQUEST_PRETTY);
    assert_eq!(read(&dir, "requests/b.hcl"), REQUEST_UGLY);
    assert_eq!(read(&dir, "policy.hcl"), UGLY);

    // A folder stands for the *.hcl files under it.
    let run = TestCommand::new(dir.path(), &["fmt", "requests"])
        .run()
        .code(0);
    assert_eq!(run.stdout, "requests/b.hcl\n");

    TestCommand::new(dir.path(), &["fmt", "missing.hcl"])
        .run()
        .code(1)
        .stderr_has("cannot read `missing.hcl`");
}

#[test]
fn standard_input_goes_to_standard_output() {
    let dir = config_dir(&[]);
    let run = TestCommand::new(dir.path(), &["fmt", "-"])
        .stdin(UGLY)
        .run()
        .code(0);
    assert_eq!(run.stdout, PRETTY);
    TestCommand::new(dir.path(), &["fmt", "--check", "-"])
        .stdin(UGLY)
        .run()
        .code(1);
    TestCommand::new(dir.path(), &["fmt", "--check", "-"])
        .stdin(PRETTY)
        .run()
        .code(0);
    TestCommand::new(dir.path(), &["fmt", "-"])
        .stdin("a = [\n")
        .run()
        .code(1)
        .stderr_has("<stdin>:");
}

#[test]
fn the_examples_are_formatted() {
    TestCommand::new(&repo_path("examples"), &["fmt", "--check"])
        .run()
        .code(0);
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_stays_a_link() {
    let dir = config_dir(&[("shared/policy.txt", UGLY)]);
    std::os::unix::fs::symlink("shared/policy.txt", dir.path().join("policy.hcl")).unwrap();
    TestCommand::new(dir.path(), &["fmt"]).run().code(0);
    let link = std::fs::symlink_metadata(dir.path().join("policy.hcl")).unwrap();
    assert!(link.file_type().is_symlink());
    assert_eq!(read(&dir, "shared/policy.txt"), PRETTY);
}
