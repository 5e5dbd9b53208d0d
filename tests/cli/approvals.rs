//! Approvals that can be proved, through the real binary: every forged kind is an error at the
//! approval block's file:line:column and a `jit apply` on the snapshot writes nothing;
//! signatures interoperate with the real `ssh-keygen` both ways; `jit approve` signs, appends
//! a formatted block and refuses what would not count; confusable and invisible names; back-to-
//! back grants over `max_duration`. Keys are made in a temp dir with `ssh-keygen -N ''`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{config_dir, TestCommand};

const NSG: &str =
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/web-nsg";
const BEFORE: &str = "2026-11-25T13:00:00Z";
const DURING: &str = "2026-11-25T14:30:00Z";
const REQUEST_FILE: &str = "requests/INC-1-alice.hcl";

fn policy(settings: &str) -> String {
    format!(
        r#"settings {{
  approvals_required = 1
{settings}}}

provider "snapshot" "lab" {{
  path = "live/nsgs.json"
}}

target "web-1" {{
  provider    = "snapshot.lab"
  nsg_id      = "{NSG}"
  destination = "10.0.1.4"

  port "ssh" {{
    number          = 22
    allowed_sources = ["198.51.100.0/24"]
    max_duration    = "3h"
  }}
}}
"#
    )
}

const SIGNED: &str = "  approval_signers   = \"approvers/allowed_signers\"\n";

fn request(id: &str, requester: &str, approvers: &str, start: &str, duration: &str) -> String {
    format!(
        r#"request "{id}" {{
  target        = "web-1"
  ports         = ["ssh"]
  source        = "198.51.100.7/32"
  requester     = "{requester}"
  approvers     = [{approvers}]
  justification = "INC-1 deploy"
  start         = "{start}"
  duration      = "{duration}"
}}
"#
    )
}

fn alice_request() -> String {
    request(
        "INC-1-alice",
        "alice@example.com",
        "",
        "2026-11-25T14:00:00Z",
        "2h",
    )
}

const EMPTY_SNAPSHOT: &str = r#"{"value": [{"name": "web-nsg", "id": "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/web-nsg", "location": "westeurope", "properties": {"securityRules": []}}]}"#;

/// Keys made with the real ssh-keygen, and the allowed_signers text that lists them.
struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    /// alice, bob (ed25519), carol (ecdsa), frank (rsa), mallory (not listed), dave (listed
    /// for namespace `git` only), erin (valid before 2026 only).
    fn new() -> Keys {
        let dir = tempfile::tempdir().unwrap();
        for (name, kind) in [
            ("alice", "ed25519"),
            ("bob", "ed25519"),
            ("carol", "ecdsa"),
            ("frank", "rsa"),
            ("mallory", "ed25519"),
            ("dave", "ed25519"),
            ("erin", "ed25519"),
        ] {
            let mut cmd = Command::new("ssh-keygen");
            cmd.args(["-q", "-t", kind, "-N", "", "-C", name, "-f"])
                .arg(dir.path().join(name));
            if kind == "rsa" {
                cmd.args(["-b", "2048"]);
            }
            let status = cmd
                .status()
                .expect("ssh-keygen runs (install openssh-client)");
            assert!(status.success());
        }
        Keys { dir }
    }

    fn key(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn public(&self, name: &str) -> String {
        let text = fs::read_to_string(self.key(&format!("{name}.pub"))).unwrap();
        text.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn allowed_signers(&self) -> String {
        format!(
            "# who may approve\nalice@example.com {}\nbob@example.com {}\ncarol@example.com {}\nfrank@example.com {}\ndave@example.com namespaces=\"git\" {}\nerin@example.com valid-before=\"20260101Z\" {}\n",
            self.public("alice"),
            self.public("bob"),
            self.public("carol"),
            self.public("frank"),
            self.public("dave"),
            self.public("erin"),
        )
    }
}

/// `ssh-keygen -Y sign -n NAMESPACE -f KEY` over `message`.
fn ssh_sign(key: &Path, namespace: &str, message: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", namespace, "-f"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn block(id: &str, by: &str, signature: &str) -> String {
    let body = signature
        .lines()
        .map(|l| format!("    {l}\n"))
        .collect::<String>();
    format!(
        "\napproval \"{id}\" {{\n  by        = \"{by}\"\n  signature = <<-EOT\n{body}  EOT\n}}\n"
    )
}

fn jit(dir: &Path, args: &[&str]) -> TestCommand {
    TestCommand::new(dir, args).env("JIT_ACTOR", "tester")
}

/// A locked-down lab: policy with approval_signers, the keys' allowed_signers, and a snapshot
/// whose lock-down is applied already, so a grant is the only change a plan could make.
struct Lab {
    dir: tempfile::TempDir,
    keys: Keys,
}

impl Lab {
    fn new() -> Lab {
        let keys = Keys::new();
        let policy = policy(SIGNED);
        let signers = keys.allowed_signers();
        let dir = config_dir(&[
            ("policy.hcl", &policy),
            ("approvers/allowed_signers", &signers),
            ("live/nsgs.json", EMPTY_SNAPSHOT),
        ]);
        jit(dir.path(), &["apply", "--auto-approve", "--at", BEFORE])
            .run()
            .code(0)
            .stdout_has("1 added");
        Lab { dir, keys }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, rel: &str, text: &str) {
        let full = self.path().join(rel);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, text).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path().join(rel)).unwrap()
    }

    fn message(&self, id: &str) -> String {
        jit(self.path(), &["approve", id, "--message"])
            .run()
            .code(0)
            .stdout
    }

    /// The shown path and 1-based line of the `nth` approval block in `rel`.
    fn approval_at(&self, rel: &str, nth: usize) -> String {
        let text = self.read(rel);
        let line = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.starts_with("approval "))
            .nth(nth)
            .map(|(i, _)| i + 1)
            .expect("approval block");
        format!("{}/{rel}:{line}:1", self.path().display())
    }

    /// `jit validate` fails with `code` at the `nth` approval of the request file saying
    /// `says`; `jit apply` then writes nothing and logs no apply.
    fn refused(&self, nth: usize, code: &str, says: &str) {
        let at = self.approval_at(REQUEST_FILE, nth);
        let run = jit(self.path(), &["validate"]).run().code(1);
        let expected = format!("error[{code}]: ");
        let found = run.stderr.split("\n\n").any(|d| {
            d.starts_with(&expected) && d.contains(says) && d.contains(&format!("--> {at}"))
        });
        assert!(found, "no `{expected}` at {at}:\n{}", run.stderr);
        self.apply_writes_nothing();
    }

    fn apply_writes_nothing(&self) {
        let live = self.read("live/nsgs.json");
        let audit = self.read(".jit/audit.jsonl");
        let run = jit(self.path(), &["apply", "--auto-approve", "--at", DURING])
            .run()
            .code(1);
        assert_eq!(self.read("live/nsgs.json"), live, "snapshot unchanged");
        assert_eq!(self.read(".jit/audit.jsonl"), audit, "no audit line");
        assert!(!run.stdout.contains("jit-allow-"), "{}", run.stdout);
    }
}

#[test]
fn a_signature_made_by_ssh_keygen_over_the_message_is_accepted() {
    let lab = Lab::new();
    lab.write(REQUEST_FILE, &alice_request());
    let message = lab.message("INC-1-alice");
    assert!(
        message.starts_with("jit-approval-v1\nid: INC-1-alice\n"),
        "{message}"
    );
    let sig = ssh_sign(&lab.keys.key("carol"), "jit-approval", &message);
    lab.write(
        REQUEST_FILE,
        &(alice_request() + &block("INC-1-alice", "carol@example.com", &sig)),
    );
    jit(lab.path(), &["validate"])
        .run()
        .code(0)
        .stderr_has("valid: 1 target, 1 request");
    jit(lab.path(), &["apply", "--auto-approve", "--at", DURING])
        .run()
        .code(0)
        .stdout_has("jit-allow-INC-1-alice-ssh");
    let audit = lab.read(".jit/audit.jsonl");
    assert!(audit.contains("carol@example.com"), "{audit}");
}

#[test]
fn jit_approve_output_verifies_with_ssh_keygen_and_keeps_the_file_formatted() {
    let lab = Lab::new();
    lab.write(REQUEST_FILE, &alice_request());
    for (key, by) in [("bob", "bob@example.com"), ("frank", "frank@example.com")] {
        let key = lab.keys.key(key);
        jit(
            lab.path(),
            &[
                "approve",
                "INC-1-alice",
                "--key",
                key.to_str().unwrap(),
                "--by",
                by,
            ],
        )
        .run()
        .code(0)
        .stderr_has("appended to");
    }
    let text = lab.read(REQUEST_FILE);
    assert!(
        text.starts_with(&alice_request()),
        "the request is untouched:\n{text}"
    );
    assert_eq!(
        text.matches("approval \"INC-1-alice\" {\n  by        = ")
            .count(),
        2,
        "{text}"
    );
    jit(lab.path(), &["fmt", "--check"]).run().code(0);
    jit(lab.path(), &["validate"]).run().code(0);

    // ssh-keygen -Y verify accepts the signature over the --message bytes.
    let start = text.find("-----BEGIN").unwrap();
    let end = text.find("-----END SSH SIGNATURE-----").unwrap() + 27;
    let signature = text[start..end]
        .lines()
        .map(|l| l.trim().to_string() + "\n")
        .collect::<String>();
    let sig_file = lab.keys.dir.path().join("approval.sig");
    fs::write(&sig_file, signature).unwrap();
    let message = lab.message("INC-1-alice");
    use std::io::Write as _;
    let mut verify = Command::new("ssh-keygen")
        .args([
            "-Y",
            "verify",
            "-n",
            "jit-approval",
            "-I",
            "bob@example.com",
            "-f",
        ])
        .arg(lab.path().join("approvers/allowed_signers"))
        .arg("-s")
        .arg(&sig_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    verify
        .stdin
        .take()
        .unwrap()
        .write_all(message.as_bytes())
        .unwrap();
    let out = verify.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ssh-keygen -Y verify refused jit's signature"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Good \"jit-approval\" signature"));
}

#[test]
fn moving_and_reformatting_the_request_keeps_its_approval() {
    let lab = Lab::new();
    lab.write(REQUEST_FILE, &alice_request());
    let sig = ssh_sign(
        &lab.keys.key("bob"),
        "jit-approval",
        &lab.message("INC-1-alice"),
    );
    // Another file, other spacing, a comment, ports by number, the source with host bits.
    let moved = alice_request()
        .replace("[\"ssh\"]", "[22]")
        .replace("  target        =", "  # reviewed\n  target =")
        .replace("\"198.51.100.7/32\"", "\"198.51.100.7\"");
    fs::remove_file(lab.path().join(REQUEST_FILE)).unwrap();
    lab.write("elsewhere/all.hcl", &moved);
    lab.write(
        "approvals.hcl",
        &block("INC-1-alice", "bob@example.com", &sig),
    );
    jit(lab.path(), &["validate"]).run().code(0);
}

#[test]
fn the_requesters_own_key_does_not_count() {
    let lab = Lab::new();
    lab.write(REQUEST_FILE, &alice_request());
    let sig = ssh_sign(
        &lab.keys.key("alice"),
        "jit-approval",
        &lab.message("INC-1-alice"),
    );
    lab.write(
        REQUEST_FILE,
        &(alice_request() + &block("INC-1-alice", "bob@example.com", &sig)),
    );
    lab.refused(0, "E047", "signed with key SHA256:");
}

#[test]
fn a_key_not_in_allowed_signers_does_not_count() {
    let lab = Lab::new();
    lab.write(REQUEST_FILE, &alice_request());
    let sig = ssh_sign(
        &lab.keys.key("mallory"),
        "jit-approval",
        &lab.message("INC-1-alice"),
    );
    lab.write(
        REQUEST_FILE,
        &(alice_request() + &block("INC-1-alice", "bob@example.com", &sig)),
    );
    lab.refused(
        0,
        "E064",
        "is not listed for `bob@example.com` in allowed_signers",
    );
}

#[test]
fn a_principal_not_in_allowed_signers_does_not_count() {
    let lab = Lab::new();
    lab.write(REQUEST_FILE, &alice_request());
    let sig = ssh_sign(
        &lab.keys.key("mallory"),
        "jit-approval",
        &lab.message("INC-1-alice"),
    );
    lab.write(
        REQUEST_FILE,
        &(alice_request() + &block("INC-1-alice", "mallory@example.com", &sig)),
    );
    lab.refused(
        0,
        "E064",
        "principal `mallory@example.com` is not in allowed_signers",
    );
}

#[test]
fn another_namespace_does_not_count() {
    let lab = Lab::new();
    lab.write(REQUEST_FILE, &alice_request());
    let message = lab.message("INC-1-alice");
    let sig = ssh_sign(&lab.keys.key("bob"), "git", &message);
    lab.write(
        REQUEST_FILE,
        &(alice_request() + &block("INC-1-alice", "bob@example.com", &sig)),
    );
    lab.refused(
        0,
        "E063",
        "the signature is for namespace `git`, not `jit-approval`",
    );
    // A key the file allows only for another namespace.
    let sig = ssh_sign(&lab.keys.key("dave"), "jit-approval", &message);
    lab.write(
        REQUEST_FILE,
        &(alice_request() + &block("INC-1-alice", "dave@example.com", &sig)),
    );
    lab.refused(0, "E064", "is not allowed for namespace `jit-approval`");
}

#[test]
fn a_signature_over_an_older_version_of_the_request_does_not_count() {
    let lab = Lab::new();
    lab.write(REQUEST_FILE, &alice_request());
    let sig = ssh_sign(
        &lab.keys.key("bob"),
        "jit-approval",
        &lab.message("INC-1-alice"),
    );
    // Approved for 2h from 198.51.100.7; then widened.
    for (from, to) in [
        ("\"2h\"", "\"3h\""),
        ("198.51.100.7/32", "198.51.100.0/24"),
        ("INC-1 deploy", "INC-1 deploy and more"),
        ("14:00:00Z", "14:00:01Z"),
    ] {
        lab.write(
            REQUEST_FILE,
            &(alice_request().replace(from, to) + &block("INC-1-alice", "bob@example.com", &sig)),
        );
        lab.refused(
            0,
            "E065",
            "the signature by `bob@example.com` does not match request `INC-1-alice` as it is now",
        );
    }
}

#[test]
fn a_principal_outside_its_validity_window_does_not_count() {
    let lab = Lab::new();
    lab.write(REQUEST_FILE, &alice_request());
    let sig = ssh_sign(
        &lab.keys.key("erin"),
        "jit-approval",
        &lab.message("INC-1-alice"),
    );
    lab.write(
        REQUEST_FILE,
        &(alice_request() + &block("INC-1-alice", "erin@example.com", &sig)),
    );
    lab.refused(
        0,
        "E066",
        "`erin@example.com` may not sign for a request starting at 2026-11-25T14:00:00Z",
    );
}

#[test]
fn the_same_principal_twice_counts_once() {
    let lab = Lab::new();
    let two = alice_request();
    lab.write(REQUEST_FILE, &two);
    let message = lab.message("INC-1-alice");
    let sig = ssh_sign(&lab.keys.key("bob"), "jit-approval", &message);
    let policy = policy(SIGNED).replace("approvals_required = 1", "approvals_required = 2");
    lab.write("policy.hcl", &policy);
    lab.write(
        REQUEST_FILE,
        &(two
            + &block("INC-1-alice", "bob@example.com", &sig)
            + &block("INC-1-alice", "BOB@example.com", &sig)),
    );
    lab.refused(
        1,
        "E050",
        "`BOB@example.com` approves request `INC-1-alice` twice",
    );
}

#[test]
fn an_approval_of_an_unknown_request_suggests_the_nearest() {
    let lab = Lab::new();
    lab.write(REQUEST_FILE, &alice_request());
    let sig = ssh_sign(
        &lab.keys.key("bob"),
        "jit-approval",
        &lab.message("INC-1-alice"),
    );
    lab.write(
        REQUEST_FILE,
        &(alice_request() + &block("INC-1-alicee", "bob@example.com", &sig)),
    );
    lab.refused(0, "E062", "approval of unknown request `INC-1-alicee`");
    jit(lab.path(), &["validate"])
        .run()
        .code(1)
        .stderr_has("did you mean `INC-1-alice`?");
}

#[test]
fn jit_approve_refuses_what_would_not_count_and_writes_nothing() {
    let lab = Lab::new();
    lab.write(REQUEST_FILE, &alice_request());
    let before = lab.read(REQUEST_FILE);
    let alice = lab.keys.key("alice");
    jit(
        lab.path(),
        &[
            "approve",
            "INC-1-alice",
            "--key",
            alice.to_str().unwrap(),
            "--by",
            "alice@example.com",
        ],
    )
    .run()
    .code(1)
    .stderr_has("is the requester of `INC-1-alice` and cannot approve it");
    let mallory = lab.keys.key("mallory");
    jit(
        lab.path(),
        &[
            "approve",
            "INC-1-alice",
            "--key",
            mallory.to_str().unwrap(),
            "--by",
            "bob@example.com",
        ],
    )
    .run()
    .code(1)
    .stderr_has("the approval would not count, so it was not written")
    .stderr_has("is not listed for `bob@example.com`");
    jit(lab.path(), &["approve", "INC-1-alcie", "--message"])
        .run()
        .code(1)
        .stderr_has("no request `INC-1-alcie`")
        .stderr_has("did you mean `INC-1-alice`?");
    assert_eq!(lab.read(REQUEST_FILE), before);
}

#[test]
fn allowed_signers_errors_point_at_their_line() {
    let lab = Lab::new();
    lab.write(REQUEST_FILE, &alice_request());
    let signers = lab.keys.allowed_signers()
        + &format!(
            "ops@example.com cert-authority {}\n",
            lab.keys.public("bob")
        );
    lab.write("approvers/allowed_signers", &signers);
    let line = signers.lines().count();
    jit(lab.path(), &["validate"])
        .run()
        .code(1)
        .stderr_has("error[E061]: `cert-authority` is not supported")
        .stderr_has(&format!(
            "{}/approvers/allowed_signers:{line}:17",
            lab.path().display()
        ));
    lab.apply_writes_nothing();
}

#[cfg(unix)]
#[test]
fn an_allowed_signers_symlink_out_of_the_config_dir_is_refused_unread() {
    let lab = Lab::new();
    lab.write(REQUEST_FILE, &alice_request());
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("token");
    fs::write(&secret, "hunter2-secret-token\n").unwrap();
    fs::remove_file(lab.path().join("approvers/allowed_signers")).unwrap();
    std::os::unix::fs::symlink(&secret, lab.path().join("approvers/allowed_signers")).unwrap();
    let run = jit(lab.path(), &["validate"])
        .run()
        .code(1)
        .stderr_has("error[E060]: cannot use allowed_signers file `approvers/allowed_signers`")
        .stderr_has("outside the config directory")
        .stderr_has(&format!("{}/policy.hcl:3:24", lab.path().display()));
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    lab.apply_writes_nothing();
}

#[test]
fn names_with_invisible_characters_or_mixed_scripts_are_errors() {
    // Without approval_signers, approvers are names: these are the attacks of issue 7.
    let dir = config_dir(&[
        ("policy.hcl", &policy("")),
        ("live/nsgs.json", EMPTY_SNAPSHOT),
    ]);
    jit(dir.path(), &["apply", "--auto-approve", "--at", BEFORE])
        .run()
        .code(0);
    let cases = [
        (
            "\"\\u0430lice@example.com\"",
            "name `\u{430}lice@example.com` mixes scripts in `\u{430}lice`",
        ),
        (
            "\"bob@example.com\\u200b\"",
            "name `bob@example.com\\u{200b}` holds the zero-width character U+200B",
        ),
        (
            "\"bob\\u202e@example.com\"",
            "name `bob\\u{202e}@example.com` holds the bidi control U+202E",
        ),
    ];
    for (approver, says) in cases {
        let text = request(
            "INC-1-alice",
            "alice@example.com",
            approver,
            "2026-11-25T14:00:00Z",
            "2h",
        );
        fs::create_dir_all(dir.path().join("requests")).unwrap();
        fs::write(dir.path().join(REQUEST_FILE), &text).unwrap();
        let column = text.lines().nth(5).unwrap().find('[').unwrap() + 2;
        jit(dir.path(), &["validate"])
            .run()
            .code(1)
            .stderr_has(&format!("error[E067]: {says}"))
            .stderr_has(&format!(
                "{}/{REQUEST_FILE}:6:{column}",
                dir.path().display()
            ));
        let live = fs::read_to_string(dir.path().join("live/nsgs.json")).unwrap();
        jit(dir.path(), &["apply", "--auto-approve", "--at", DURING])
            .run()
            .code(1);
        assert_eq!(
            fs::read_to_string(dir.path().join("live/nsgs.json")).unwrap(),
            live
        );
    }
    // A fullwidth `ａlice` is alice after NFKC: she cannot approve her own request.
    let text = request(
        "INC-1-alice",
        "alice@example.com",
        "\"\\uff41lice@example.com\"",
        "2026-11-25T14:00:00Z",
        "2h",
    );
    fs::write(dir.path().join(REQUEST_FILE), text).unwrap();
    jit(dir.path(), &["validate"])
        .run()
        .code(1)
        .stderr_has("error[E047]: requester `alice@example.com` cannot approve their own request");
}

#[test]
fn unverified_approvals_are_a_warning_once() {
    let second = request(
        "INC-2-carol",
        "carol@example.com",
        "\"dave@example.com\"",
        "2026-11-26T14:00:00Z",
        "1h",
    );
    let first = request(
        "INC-1-alice",
        "alice@example.com",
        "\"bob@example.com\"",
        "2026-11-25T14:00:00Z",
        "2h",
    );
    let dir = config_dir(&[
        ("policy.hcl", &policy("")),
        ("requests/a.hcl", &first),
        ("requests/b.hcl", &second),
    ]);
    let run = jit(dir.path(), &["validate"])
        .run()
        .code(0)
        .stderr_has("warning[E068]: approvals are not verified")
        .stderr_has(&format!("{}/policy.hcl:2:24", dir.path().display()));
    assert_eq!(run.stderr.matches("E068").count(), 1, "{}", run.stderr);
    // No approvals in use: no warning.
    let none = policy("").replace("approvals_required = 1", "approvals_required = 0");
    let quiet = request(
        "INC-3",
        "alice@example.com",
        "",
        "2026-11-25T14:00:00Z",
        "1h",
    );
    let dir = config_dir(&[("policy.hcl", &none), ("requests/a.hcl", &quiet)]);
    let run = jit(dir.path(), &["validate"]).run().code(0);
    assert!(!run.stderr.contains("E068"), "{}", run.stderr);
}

#[test]
fn back_to_back_grants_over_max_duration_are_refused() {
    let dir = config_dir(&[
        ("policy.hcl", &policy("")),
        ("live/nsgs.json", EMPTY_SNAPSHOT),
    ]);
    jit(dir.path(), &["apply", "--auto-approve", "--at", BEFORE])
        .run()
        .code(0);
    let bob = "\"bob@example.com\"";
    for (file, id, start) in [
        ("requests/1.hcl", "INC-1-a", "2026-11-25T14:00:00Z"),
        ("requests/2.hcl", "INC-1-b", "2026-11-25T17:00:00Z"),
        ("requests/3.hcl", "INC-1-c", "2026-11-25T20:00:00Z"),
    ] {
        // The same person, spelled differently each time.
        let requester = match id {
            "INC-1-b" => "Alice@Example.com",
            _ => "alice@example.com",
        };
        fs::create_dir_all(dir.path().join("requests")).unwrap();
        fs::write(
            dir.path().join(file),
            request(id, requester, bob, start, "3h"),
        )
        .unwrap();
    }
    let run = jit(dir.path(), &["validate"])
        .run()
        .code(1)
        .stderr_has("error[E046]: requests `INC-1-a` and `INC-1-b` give `Alice@Example.com` 6h of port `ssh` of target `web-1` without a break, over its `max_duration` `3h`")
        .stderr_has(&format!("{}/requests/2.hcl:1:1", dir.path().display()))
        .stderr_has("hint: request `INC-1-a` (at ")
        .stderr_has("error[E046]: requests `INC-1-a` and `INC-1-c` give `alice@example.com` 9h");
    assert_eq!(
        run.stderr.matches("error[E046]").count(),
        2,
        "{}",
        run.stderr
    );
    let live = fs::read_to_string(dir.path().join("live/nsgs.json")).unwrap();
    jit(dir.path(), &["apply", "--auto-approve", "--at", DURING])
        .run()
        .code(1);
    assert_eq!(
        fs::read_to_string(dir.path().join("live/nsgs.json")).unwrap(),
        live
    );

    // A gap between them makes two separate stretches.
    fs::remove_file(dir.path().join("requests/3.hcl")).unwrap();
    fs::write(
        dir.path().join("requests/2.hcl"),
        request(
            "INC-1-b",
            "alice@example.com",
            bob,
            "2026-11-25T17:00:01Z",
            "3h",
        ),
    )
    .unwrap();
    jit(dir.path(), &["validate"]).run().code(0);
}

#[test]
fn the_approvals_example_verifies_and_a_widened_copy_does_not() {
    let example = crate::support::repo_path("examples/approvals");
    jit(&example, &["validate"])
        .run()
        .code(0)
        .stderr_has("valid: 1 target, 1 request");
    let copy = tempfile::tempdir().unwrap();
    crate::support::copy_dir(&example, copy.path());
    let file = copy.path().join("requests/INC-4211-alice.hcl");
    let text = fs::read_to_string(&file).unwrap();
    fs::write(&file, text.replace("\"2h\"", "\"3h\"")).unwrap();
    jit(copy.path(), &["validate"])
        .run()
        .code(1)
        .stderr_has("error[E065]: the signature by `bob@example.com` does not match request `INC-4211-alice` as it is now");
}

#[test]
fn jit_approve_defaults_to_git_user_email_and_the_home_ssh_key() {
    let lab = Lab::new();
    lab.write(REQUEST_FILE, &alice_request());
    let home = tempfile::tempdir().unwrap();
    fs::create_dir_all(home.path().join(".ssh")).unwrap();
    for suffix in ["", ".pub"] {
        fs::copy(
            lab.keys.key(&format!("bob{suffix}")),
            home.path().join(format!(".ssh/id_ed25519{suffix}")),
        )
        .unwrap();
    }
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .arg("-C")
            .arg(lab.path())
            .args(args)
            .env("HOME", home.path())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    };
    git(&["init", "-q"]);
    git(&["config", "user.email", "bob@example.com"]);
    jit(lab.path(), &["approve", "INC-1-alice"])
        .env("HOME", home.path())
        .run()
        .code(0)
        .stderr_has("as `bob@example.com` with key `")
        .stderr_has(".ssh/id_ed25519`");
    jit(lab.path(), &["validate"]).run().code(0);
}

#[test]
fn an_approval_of_another_request_cannot_be_replayed() {
    let lab = Lab::new();
    let other = request(
        "INC-2-alice",
        "alice@example.com",
        "",
        "2026-11-27T14:00:00Z",
        "2h",
    );
    lab.write("requests/INC-2-alice.hcl", &other);
    lab.write(REQUEST_FILE, &alice_request());
    // bob approved INC-2; the same signature is pasted under INC-1.
    let sig = ssh_sign(
        &lab.keys.key("bob"),
        "jit-approval",
        &lab.message("INC-2-alice"),
    );
    lab.write(
        REQUEST_FILE,
        &(alice_request() + &block("INC-1-alice", "bob@example.com", &sig)),
    );
    lab.refused(
        0,
        "E065",
        "the signature by `bob@example.com` does not match request `INC-1-alice` as it is now",
    );
}
