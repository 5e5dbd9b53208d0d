//! `jit validate` through the real binary: every kind of bad input points at its exact
//! file:line:column with its reason and exits 1; valid configs exit 0; json and github formats;
//! hidden folders are not config.

use std::path::Path;

use crate::support::{config_dir, repo_path, TestCommand};

const POLICY: &str = r#"settings {
  approvals_required    = 1
  justification_pattern = "^(INC|CHG)-[0-9]+"
}

provider "snapshot" "demo" {
  path = "live/nsgs.json"
}

target "web-1" {
  provider = "snapshot.demo"
  nsg_id   = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/web-1-nsg"

  port "ssh" {
    number          = 22
    allowed_sources = ["198.51.100.0/24", "2001:db8::/48"]
    max_duration    = "3h"
  }
}
"#;

const REQUEST: &str = r#"request "INC-1-alice" {
  target        = "web-1"
  ports         = ["ssh"]
  source        = "198.51.100.7/32"
  requester     = "alice@example.com"
  approvers     = ["bob@example.com"]
  justification = "INC-1 deploy"
  start         = "2026-11-25T14:00:00Z"
  duration      = "1h"
}
"#;

/// One bad input: a change to one file (or an extra file), where the error must point (the
/// `nth` occurrence of `anchor` in that file, 0-based) and what it must say.
struct Case {
    name: &'static str,
    file: &'static str,
    from: &'static str,
    to: &'static str,
    anchor: &'static str,
    nth: usize,
    says: &'static str,
}

const fn case(
    name: &'static str,
    file: &'static str,
    from: &'static str,
    to: &'static str,
    anchor: &'static str,
    says: &'static str,
) -> Case {
    Case {
        name,
        file,
        from,
        to,
        anchor,
        nth: 0,
        says,
    }
}

const P: &str = "policy.hcl";
const R: &str = "requests/inc-1.hcl";
const O: &str = "targets/extra.hcl";

const CASES: &[Case] = &[
    case("unknown block type", O, "", "resource \"x\" {\n}\n", "resource", "error[E010]: unknown block type `resource`"),
    case("attribute at top level", O, "", "foo = 1\n", "foo", "error[E019]: unexpected attribute `foo` at the top level"),
    case("unknown attribute", P, "allowed_sources =", "allowed_source  =", "allowed_source", "error[E012]: unknown attribute `allowed_source` in port `ssh` of target `web-1`"),
    case("missing attribute", P, "  port \"ssh\" {\n    number          = 22\n", "  port \"web\" {\n", "port \"web\"", "error[E013]: port `web` of target `web-1` is missing `number`"),
    case("wrong type", P, "= 22", "= \"22\"", "\"22\"", "error[E014]: `number` must be a number, found a string"),
    case("port out of range", P, "= 22", "= 65536", "65536", "error[E023]: port number `65536` is outside 1–65535"),
    case("unknown protocol", P, "    max_duration", "    protocol        = \"icmp\"\n    max_duration", "\"icmp\"", "error[E024]: unknown protocol `icmp`"),
    case("invalid cidr", P, "2001:db8::/48", "2001:db8::/129", "\"2001:db8::/129\"", "error[E020]: invalid CIDR `2001:db8::/129`"),
    case("unquoted cidr", P, "[\"198.51.100.0/24\", \"2001:db8::/48\"]", "[198.51.100.0/24]", "198.51.100.0/24", "error[E005]: CIDR must be a quoted string"),
    case("unquoted ipv6 cidr", R, "\"198.51.100.7/32\"", "2001:db8::7/128", "2001:db8::7/128", "error[E005]: CIDR must be a quoted string"),
    case("max_duration too long", P, "\"3h\"", "\"48h\"", "\"48h\"", "error[E025]: `max_duration` `48h` is outside 5m–24h"),
    case("invalid duration", R, "\"1h\"", "\"1 fortnight\"", "\"1 fortnight\"", "error[E021]: invalid duration `1 fortnight`"),
    case("duplicate target", O, "", "target \"web-1\" {\n  provider = \"snapshot.demo\"\n}\n", "\"web-1\"", "error[E017]: target `web-1` is declared twice"),
    case("unknown provider", P, "\"snapshot.demo\"", "\"azure.demo\"", "\"azure.demo\"", "error[E040]: unknown provider `azure.demo`"),
    case("snapshot target without nsg_id", P, "  nsg_id   = \"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/web-1-nsg\"\n", "", "target", "error[E041]: target `web-1` needs `nsg_id` for snapshot provider `snapshot.demo`"),
    case("second settings block", O, "", "settings {\n}\n", "settings", "error[E016]: more than one `settings` block"),
    case("bands overlap", P, "  approvals_required", "  deny_priority = [150, 300]\n  approvals_required", "[150, 300]", "error[E027]: `deny_priority` [150, 300] overlaps `allow_priority` [100, 199]"),
    case("band out of range", P, "  approvals_required", "  allow_priority = [50, 99]\n  approvals_required", "50", "error[E026]: priority `50` is outside 100–4096"),
    case("invalid regex", P, "\"^(INC|CHG)-[0-9]+\"", "\"^(INC\"", "\"^(INC\"", "error[E028]: `justification_pattern` is not a valid regular expression"),
    case("unknown target", R, "\"web-1\"", "\"web-9\"", "\"web-9\"", "error[E043]: unknown target `web-9`"),
    case("unknown port", R, "[\"ssh\"]", "[\"rdp\"]", "\"rdp\"", "error[E044]: target `web-1` has no port `rdp`"),
    case("source not allowed", R, "198.51.100.7/32", "203.0.113.7/32", "\"203.0.113.7/32\"", "= hint: allowed sources for port `ssh` are 198.51.100.0/24, 2001:db8::/48"),
    case("duration over max", R, "\"1h\"", "\"4h\"", "\"4h\"", "error[E046]: duration `4h` exceeds the `max_duration` `3h` of port `ssh`"),
    case("start without offset", R, "14:00:00Z", "14:00:00", "\"2026", "error[E022]: time `2026-11-25T14:00:00` has no UTC offset"),
    case("requester approves", R, "[\"bob@example.com\"]", "[\"bob@example.com\", \"alice@example.com\"]", "\"alice@example.com\"]", "error[E047]: requester `alice@example.com` cannot approve their own request"),
    case("too few approvers", R, "[\"bob@example.com\"]", "[]", "[]", "error[E048]: request `INC-1-alice` has 0 approvers, 1 required"),
    case("justification mismatch", R, "\"INC-1 deploy\"", "\"deploy\"", "\"deploy\"", "error[E049]: justification does not match `^(INC|CHG)-[0-9]+`"),
    case("newline inside a string", R, "\"alice@example.com\"", "\"alice@\nexample.com\"", "\"alice@", "error[E003]: quoted string is not closed on its line"),
    case("unterminated string", R, "  duration      = \"1h\"\n}\n", "  duration      = \"1h\n", "\"1h", "error[E002]: unterminated string"),
    case("syntax error", R, "target        = \"web-1\"", "target        = = \"web-1\"", "= \"web-1\"", "error[E001]: syntax error: invalid expression"),
    case("unclosed block", P, "  }\n}\n", "  }\n", "{\n  provider", "error[E007]: block is never closed"),
    case("missing label", P, "target \"web-1\" {", "target {", "target", "error[E011]: `target` block takes one label, found 0"),
    case("nftables providers sharing a table", O, "", "provider \"nftables\" \"a\" {\n  table = \"jit\"\n}\n\nprovider \"nftables\" \"b\" {\n  table = \"jit\"\n}\n", "\"b\"", "error[E110]: nftables provider `nftables.b` uses table `jit`, as `nftables.a` does"),
    case("unknown provider kind", P, "provider \"snapshot\" \"demo\"", "provider \"snapshots\" \"demo\"", "\"snapshots\"", "= hint: did you mean `snapshot`?"),
    Case {
        name: "duplicate attribute",
        file: R,
        from: "  ports ",
        to: "  target        = \"web-1\"\n  ports ",
        anchor: "target ",
        nth: 1,
        says: "error[E004]: attribute `target` is set twice",
    },
];

/// 1-based line and column (in characters) of the `nth` occurrence of `anchor` in `text`.
fn position(text: &str, anchor: &str, nth: usize) -> (usize, usize) {
    let offset = text
        .match_indices(anchor)
        .nth(nth)
        .unwrap_or_else(|| panic!("anchor {anchor:?} not in {text}"))
        .0;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap().chars().count() + 1;
    (line, column)
}

fn run_case(c: &Case) {
    let mut files = vec![(P, POLICY.to_string()), (R, REQUEST.to_string())];
    if c.file == O {
        files.push((O, c.to.to_string()));
    } else {
        let f = files.iter_mut().find(|(p, _)| *p == c.file).unwrap();
        assert!(
            f.1.contains(c.from),
            "{}: {:?} not in {}",
            c.name,
            c.from,
            c.file
        );
        f.1 = f.1.replacen(c.from, c.to, 1);
    }
    let text = files.iter().find(|(p, _)| *p == c.file).unwrap().1.clone();
    let (line, column) = position(&text, c.anchor, c.nth);
    let refs = files
        .iter()
        .map(|(p, t)| (*p, t.as_str()))
        .collect::<Vec<_>>();
    let dir = config_dir(&refs);
    let place = format!("--> {}/{}:{line}:{column}", dir.path().display(), c.file);
    let run = TestCommand::new(dir.path(), &["validate"]).run().code(1);
    assert!(
        run.stderr.contains(&place) && run.stderr.contains(c.says),
        "case {:?}: expected {place:?} and {:?}\n--- stderr\n{}",
        c.name,
        c.says,
        run.stderr
    );
    assert!(
        run.stdout.is_empty(),
        "case {:?}: text diagnostics go to stderr",
        c.name
    );
}

#[test]
fn every_bad_input_points_at_its_place() {
    assert!(CASES.len() >= 25);
    let names = CASES
        .iter()
        .map(|c| c.name)
        .collect::<std::collections::HashSet<_>>();
    assert_eq!(names.len(), CASES.len(), "case names are distinct");
    for c in CASES {
        run_case(c);
    }
}

#[test]
fn the_base_config_is_valid() {
    let dir = config_dir(&[(P, POLICY), (R, REQUEST)]);
    TestCommand::new(dir.path(), &["validate"])
        .run()
        .code(0)
        .stderr_has("valid: 1 target, 1 request");
}

#[test]
fn quickstart_is_valid() {
    let run = TestCommand::new(&repo_path("examples/quickstart"), &["validate"])
        .run()
        .code(0)
        .stderr_has("valid: 2 targets, 3 requests");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn duplicate_hint_names_the_first_place() {
    let dir = config_dir(&[
        (P, POLICY),
        (O, "target \"web-1\" {\n  provider = \"snapshot.demo\"\n}\n"),
    ]);
    TestCommand::new(dir.path(), &["validate"])
        .run()
        .code(1)
        .stderr_has(&format!(
            "= hint: the first is at {}/policy.hcl:10:8",
            dir.path().display()
        ));
}

#[test]
fn paths_are_shown_as_typed() {
    let root = tempfile::tempdir().unwrap();
    let cfg = root.path().join("cfg");
    std::fs::create_dir_all(cfg.join("requests")).unwrap();
    std::fs::write(cfg.join("policy.hcl"), POLICY).unwrap();
    std::fs::write(
        cfg.join("requests/a.hcl"),
        REQUEST.replace("\"web-1\"", "\"web-9\""),
    )
    .unwrap();
    let out = assert_cmd::Command::cargo_bin("jit")
        .unwrap()
        .current_dir(root.path())
        .env("NO_COLOR", "1")
        .args(["-C", "cfg", "validate"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--> cfg/requests/a.hcl:2:19"), "{stderr}");
}

/// Two files with errors, given in reverse of their path order.
fn two_bad_files() -> tempfile::TempDir {
    config_dir(&[
        (
            "b.hcl",
            "target \"x\" {\n  provider = \"snapshot.none\"\n  port \"ssh\" {\n    number       = 22\n    max_duration = \"3h\"\n  }\n}\n",
        ),
        ("a.hcl", "settings {\n  colour = \"red\"\n}\nbogus {\n}\n"),
    ])
}

#[test]
fn errors_of_two_files_are_sorted() {
    let dir = two_bad_files();
    let run = TestCommand::new(dir.path(), &["validate"]).run().code(1);
    let d = dir.path().display();
    let places = [
        format!("--> {d}/a.hcl:2:3"),
        format!("--> {d}/a.hcl:4:1"),
        format!("--> {d}/b.hcl:2:14"),
    ];
    let at = places
        .iter()
        .map(|p| {
            run.stderr
                .find(p.as_str())
                .unwrap_or_else(|| panic!("{p} in {}", run.stderr))
        })
        .collect::<Vec<_>>();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("error: invalid config: 3 errors in 2 files"),
        "{}",
        run.stderr
    );
}

#[test]
fn json_format_is_a_list_on_stdout() {
    let dir = two_bad_files();
    let run = TestCommand::new(dir.path(), &["validate", "--format", "json"])
        .run()
        .code(1)
        .stdout_has("\"code\": \"E012\"");
    let list: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    let first = &list[0];
    assert_eq!(first["file"], format!("{}/a.hcl", dir.path().display()));
    assert_eq!(first["line"], 2);
    assert_eq!(first["column"], 3);
    assert_eq!(first["severity"], "error");
    assert_eq!(first["code"], "E012");
    assert_eq!(first["message"], "unknown attribute `colour` in `settings`");
    assert!(first["hint"].is_string());
    assert_eq!(list[2]["code"], "E040");
    assert!(!run.stderr.contains("error["), "{}", run.stderr);

    // Without approvals in use, so without the warning that they are not verified (E068).
    let quiet = POLICY.replace("approvals_required    = 1", "approvals_required    = 0");
    let valid = config_dir(&[(P, &quiet)]);
    let run = TestCommand::new(valid.path(), &["validate", "--format", "json"])
        .run()
        .code(0);
    assert_eq!(run.stdout.trim(), "[]");
}

#[test]
fn github_format_annotates() {
    let dir = two_bad_files();
    let run = TestCommand::new(dir.path(), &["validate", "--format", "github"])
        .run()
        .code(1)
        .stdout_lacks("error[");
    let lines = run.stdout.lines().collect::<Vec<_>>();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    let file = dir
        .path()
        .display()
        .to_string()
        .replace(':', "%3A")
        .replace(',', "%2C");
    assert_eq!(
        lines[2],
        format!("::error file={file}/b.hcl,line=2,col=14,title=E040::unknown provider `snapshot.none`%0Ahint: declare it with `provider \"snapshot\" \"none\" {{ … }}`")
    );
}

#[test]
fn hidden_files_and_folders_are_skipped() {
    let dir = config_dir(&[
        (P, POLICY),
        (
            ".terraform.lock.hcl",
            "provider \"registry.terraform.io/x\" {\n  version = 1\n}\n",
        ),
        (".jit/state.hcl", "this is not hcl at all {"),
        ("nested/.hidden/bad.hcl", "bogus {}\n"),
        ("notes.txt", "bogus {}\n"),
    ]);
    TestCommand::new(dir.path(), &["validate"])
        .run()
        .code(0)
        .stderr_has("valid: 1 target, 0 requests");
}

#[test]
fn missing_and_empty_dirs_are_errors() {
    TestCommand::new(Path::new("/nonexistent/jit-config"), &["validate"])
        .run()
        .code(1)
        .stderr_has("config directory `/nonexistent/jit-config` does not exist");
    let empty = tempfile::tempdir().unwrap();
    TestCommand::new(empty.path(), &["validate"])
        .run()
        .code(1)
        .stderr_has("no `*.hcl` files under");
}

#[test]
fn unreadable_file_is_an_error() {
    // A dangling symlink cannot be read, even by root.
    let dir = config_dir(&[(P, POLICY)]);
    std::os::unix::fs::symlink(dir.path().join("gone.txt"), dir.path().join("linked.hcl")).unwrap();
    TestCommand::new(dir.path(), &["validate"])
        .run()
        .code(1)
        .stderr_has(&format!(
            "error: cannot read `{}/linked.hcl`",
            dir.path().display()
        ));
}

#[test]
fn file_not_utf8_is_reported_with_position() {
    let dir = config_dir(&[(P, POLICY)]);
    std::fs::write(dir.path().join("x.hcl"), b"# caf\xE9\n").unwrap();
    TestCommand::new(dir.path(), &["validate"])
        .run()
        .code(1)
        .stderr_has(&format!("--> {}/x.hcl:1:6", dir.path().display()))
        .stderr_has("error[E006]: file is not valid UTF-8");
}
