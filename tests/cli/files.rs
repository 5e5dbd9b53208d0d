//! Files as an attacker or a careless teammate leaves them: a config file linked to a secret
//! outside the config directory, a symlinked snapshot, a 0600 snapshot, a symlinked audit log,
//! numbers jit does not understand, ten applies at once on one snapshot, and the snapshot lock.

#![cfg(unix)]

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::lab::{self, audit_lines, foreign_rule, jit, nsg, nsg_id, read, request, DURING};
use crate::support::config_dir;

const SECRET: &str = "ghp_TOKEN_0123456789_do_not_print";

/// A request file that is a link to a token file outside: an error naming the link, and the
/// token's bytes appear nowhere, whatever the command.
#[test]
fn a_config_file_linked_out_of_the_directory_is_named_and_never_read() {
    let outside = tempfile::tempdir().unwrap();
    let token = outside.path().join("token");
    fs::write(&token, format!("{SECRET}\n")).unwrap();
    let dir = lab::lab(&[]);
    let d = dir.path();
    fs::create_dir_all(d.join("requests")).unwrap();
    symlink(&token, d.join("requests/INC-1.hcl")).unwrap();
    let before = read(&d.join("live/nsgs.json"));
    for args in [
        &["validate"][..],
        &["validate", "--format", "json"],
        &["plan", "--at", DURING],
        &["apply", "--auto-approve", "--at", DURING],
    ] {
        let run = jit(d, args).run().code(1);
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(
            !all.contains("ghp_TOKEN"),
            "{args:?} printed the secret:\n{all}"
        );
        assert!(
            all.contains("requests/INC-1.hcl` is a symbolic link out of the config directory"),
            "{args:?}:\n{all}"
        );
        assert!(all.contains("E076"), "{args:?}:\n{all}");
    }
    jit(d, &["validate"])
        .run()
        .code(1)
        .stderr_has("error[E076]: config file `")
        .stderr_has("/requests/INC-1.hcl:1:1");
    // With an error in the configuration only narrowing changes are applied (the lock-down),
    // never an allow, and the secret is written nowhere.
    let after = String::from_utf8(read(&d.join("live/nsgs.json"))).unwrap();
    assert_ne!(after.as_bytes(), before, "the lock-down is applied");
    assert!(!after.contains("jit-allow-"), "{after}");
    for file in [d.join("live/nsgs.json"), d.join(".jit/audit.jsonl")] {
        let text = String::from_utf8(read(&file)).unwrap();
        assert!(!text.contains("ghp_TOKEN"), "{}", file.display());
    }

    // A link inside the directory is followed as before.
    fs::remove_file(d.join("requests/INC-1.hcl")).unwrap();
    fs::write(
        d.join("shared.hcl.txt"),
        request("INC-1-alice", "198.51.100.7/32"),
    )
    .unwrap();
    symlink(d.join("shared.hcl.txt"), d.join("requests/INC-1.hcl")).unwrap();
    jit(d, &["validate"])
        .run()
        .code(0)
        .stderr_has("valid: 1 target, 1 request");
}

/// A folder linked to somewhere else is not walked either.
#[test]
fn a_folder_linked_out_of_the_directory_is_not_walked() {
    let outside = tempfile::tempdir().unwrap();
    fs::write(
        outside.path().join("x.hcl"),
        format!("# {SECRET}\nbogus {{}}\n"),
    )
    .unwrap();
    let dir = lab::lab(&[]);
    symlink(outside.path(), dir.path().join("vendor")).unwrap();
    let run = jit(dir.path(), &["validate"])
        .run()
        .code(1)
        .stderr_has("/vendor` is a symbolic link out of the config directory");
    assert!(!run.stderr.contains("ghp_TOKEN") && !run.stderr.contains("bogus"));
}

/// The snapshot is a link to an export elsewhere: apply writes the export, the link stays a
/// link, and the lock is taken beside the export.
#[test]
fn a_symlinked_snapshot_is_written_through_and_stays_a_link() {
    let exports = tempfile::tempdir().unwrap();
    let real = exports.path().join("nsgs.json");
    let dir = lab::lab(&[("requests/a.hcl", &request("INC-1-alice", "198.51.100.7/32"))]);
    let d = dir.path();
    fs::rename(d.join("live/nsgs.json"), &real).unwrap();
    symlink(&real, d.join("live/nsgs.json")).unwrap();
    jit(d, &["apply", "--auto-approve", "--at", DURING])
        .run()
        .code(0)
        .stdout_has("2 added");
    let link = fs::symlink_metadata(d.join("live/nsgs.json")).unwrap();
    assert!(
        link.file_type().is_symlink(),
        "the link was replaced by a file"
    );
    assert_eq!(fs::read_link(d.join("live/nsgs.json")).unwrap(), real);
    let names: Vec<String> = lab::rules(&real, "web-nsg")
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "allow-http",
            "jit-allow-INC-1-alice-ssh",
            "jit-deny-web-1-ssh"
        ]
    );
    assert!(exports.path().join("nsgs.json.lock").exists());
    jit(d, &["plan", "--detailed-exitcode", "--at", DURING])
        .run()
        .code(0);
}

#[test]
fn the_snapshot_keeps_its_mode() {
    for mode in [0o600, 0o640] {
        let dir = lab::lab(&[("requests/a.hcl", &request("INC-1-alice", "198.51.100.7/32"))]);
        let d = dir.path();
        let path = d.join("live/nsgs.json");
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        jit(d, &["apply", "--auto-approve", "--at", DURING])
            .run()
            .code(0);
        let now = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(now, mode, "{mode:o} became {now:o}");
        assert_eq!(
            lab::rules(&path, "web-nsg").len(),
            3,
            "and it was rewritten"
        );
    }
}

/// A symlinked audit log is refused before any write: the firewall is not touched and the
/// link's target keeps its bytes.
#[test]
fn a_symlinked_audit_log_is_an_error_before_any_write() {
    let elsewhere = tempfile::tempdir().unwrap();
    let victim = elsewhere.path().join("authorized_keys");
    fs::write(&victim, "ssh-ed25519 AAAA precious\n").unwrap();
    let dir = lab::lab(&[("requests/a.hcl", &request("INC-1-alice", "198.51.100.7/32"))]);
    let d = dir.path();
    fs::create_dir_all(d.join(".jit")).unwrap();
    symlink(&victim, d.join(".jit/audit.jsonl")).unwrap();
    let before = read(&d.join("live/nsgs.json"));
    jit(d, &["apply", "--auto-approve", "--at", DURING])
        .run()
        .code(1)
        .stderr_has("audit log `")
        .stderr_has("audit.jsonl` is a symbolic link; jit does not follow it")
        .stdout_lacks("Apply complete");
    assert_eq!(read(&d.join("live/nsgs.json")), before, "nothing written");
    assert_eq!(
        fs::read_to_string(&victim).unwrap(),
        "ssh-ed25519 AAAA precious\n"
    );
    // `--audit-log` to a link: the same.
    let other = d.join("log-link");
    symlink(&victim, &other).unwrap();
    jit(
        d,
        &[
            "apply",
            "--auto-approve",
            "--at",
            DURING,
            "--audit-log",
            other.to_str().unwrap(),
        ],
    )
    .run()
    .code(1)
    .stderr_has("is a symbolic link");
    assert_eq!(read(&d.join("live/nsgs.json")), before, "nothing written");
}

/// Numbers in fields jit does not know keep their exact digits through a rewrite.
#[test]
fn unknown_numbers_keep_their_digits() {
    let dir = lab::lab(&[("requests/a.hcl", &request("INC-1-alice", "198.51.100.7/32"))]);
    let d = dir.path();
    let path = d.join("live/nsgs.json");
    let text = fs::read_to_string(&path).unwrap().replace(
        "\"x-owner\": \"web team\"",
        "\"x-owner\": \"web team\",\n            \"x-huge\": 1e400,\n            \"x-cents\": 0.10,\n            \"x-id\": 12345678901234567890123,\n            \"x-neg\": -0.0,\n            \"x-exp\": 2.5E-7",
    );
    let text = text.replace(
        "\"location\": \"westeurope\"",
        "\"location\": \"westeurope\",\n      \"x-quota\": 18446744073709551616",
    );
    fs::write(&path, &text).unwrap();
    jit(d, &["plan", "--at", DURING])
        .run()
        .code(0)
        .stdout_has("2 to add");
    jit(d, &["apply", "--auto-approve", "--at", DURING])
        .run()
        .code(0);
    let after = fs::read_to_string(&path).unwrap();
    for digits in [
        "\"x-huge\": 1e400",
        "\"x-cents\": 0.10",
        "\"x-id\": 12345678901234567890123",
        "\"x-neg\": -0.0",
        "\"x-exp\": 2.5E-7",
        "\"x-quota\": 18446744073709551616",
    ] {
        assert!(after.contains(digits), "{digits} lost:\n{after}");
    }
    jit(d, &["plan", "--detailed-exitcode", "--at", DURING])
        .run()
        .code(0);
}

/// Five requests, all active at DURING, for config directory `i`.
fn requests_for(i: usize) -> Vec<(String, String)> {
    (0..5)
        .map(|g| {
            let id = format!("INC-{i}{g}-alice");
            (
                format!("requests/{id}.hcl"),
                request(&id, &format!("198.51.100.{}/32", 10 * i + g + 1)),
            )
        })
        .collect()
}

/// A managed allow rule of a grant that ended: every apply must revoke it, and none may bring
/// it back.
fn expired_rule(nsg: &str) -> Value {
    json!({
        "name": "jit-allow-OLD-1-ssh",
        "id": format!("{}/securityRules/jit-allow-OLD-1-ssh", nsg_id(nsg)),
        "properties": {
            "provisioningState": "Succeeded",
            "description": "managed-by=jit; request=OLD-1; expires=2026-11-25T10:00:00Z",
            "protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "22",
            "sourceAddressPrefix": "203.0.113.9/32", "destinationAddressPrefix": "10.0.1.4",
            "access": "Allow", "priority": 150, "direction": "Inbound"
        }
    })
}

fn jit_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("jit")
}

/// Ten config directories, each with its own NSG in one shared snapshot and five active grants
/// (and an expired managed rule), applied at once through the real binary: nothing is lost.
#[test]
fn ten_parallel_applies_on_one_snapshot_lose_nothing() {
    const N: usize = 10;
    let shared = tempfile::tempdir().unwrap();
    let snapshot = shared.path().join("nsgs.json");
    let foreign = |i: usize| {
        let mut rule = foreign_rule(&format!("nsg-{i}"));
        rule["properties"]["x-big"] = json!("X-BIG");
        rule
    };
    let nsgs: Vec<Value> = (0..N)
        .map(|i| {
            nsg(
                &format!("nsg-{i}"),
                vec![foreign(i), expired_rule(&format!("nsg-{i}"))],
            )
        })
        .collect();
    // An unknown number serde_json could not hold exactly, in every foreign rule.
    let text = lab::snapshot(nsgs).replace("\"X-BIG\"", "12345678901234567890123");
    fs::write(&snapshot, text).unwrap();
    let dirs: Vec<tempfile::TempDir> = (0..N)
        .map(|i| {
            let policy = lab::policy(
                snapshot.to_str().unwrap(),
                &format!("nsg-{i}"),
                r#"["198.51.100.0/24"]"#,
            );
            let requests = requests_for(i);
            let mut files: Vec<(&str, &str)> = vec![("policy.hcl", &policy)];
            files.extend(requests.iter().map(|(p, t)| (p.as_str(), t.as_str())));
            config_dir(&files)
        })
        .collect();
    let children: Vec<_> = dirs
        .iter()
        .map(|dir| {
            Command::new(jit_bin())
                .arg("-C")
                .arg(dir.path())
                .args(["apply", "--auto-approve", "--at", DURING])
                .env("NO_COLOR", "1")
                .env("JIT_ACTOR", "tester")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "apply {i}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout)
            .contains("Apply complete! Resources: 6 added, 0 changed, 1 destroyed."));
    }
    let mut grants = 0;
    for i in 0..N {
        let rules = lab::rules(&snapshot, &format!("nsg-{i}"));
        let names: Vec<&str> = rules.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert!(
            !names.contains(&"jit-allow-OLD-1-ssh"),
            "a revoked rule came back: {names:?}"
        );
        let mut want = foreign(i);
        want["properties"]["x-big"] = rules[0]["properties"]["x-big"].clone();
        assert_eq!(rules[0], want, "foreign rule of nsg-{i} changed");
        for g in 0..5 {
            let name = format!("jit-allow-INC-{i}{g}-alice-ssh");
            assert!(names.contains(&name.as_str()), "{name} lost: {names:?}");
            grants += 1;
        }
        assert!(names.contains(&"jit-deny-web-1-ssh"), "{names:?}");
        assert_eq!(rules.len(), 7, "{names:?}");
    }
    assert_eq!(grants, 50);
    let text = fs::read_to_string(&snapshot).unwrap();
    assert_eq!(
        text.matches("\"x-big\": 12345678901234567890123").count(),
        N
    );
    for dir in &dirs {
        jit(dir.path(), &["plan", "--detailed-exitcode", "--at", DURING])
            .run()
            .code(0)
            .stdout_has("No changes.");
        assert_eq!(audit_lines(&dir.path().join(".jit/audit.jsonl")).len(), 7);
    }
}

/// While another process holds the snapshot's lock, an apply waits, writing nothing; once the
/// lock is released it goes through.
#[test]
fn an_apply_waits_for_the_snapshot_lock() {
    let dir = lab::lab(&[("requests/a.hcl", &request("INC-1-alice", "198.51.100.7/32"))]);
    let d = dir.path();
    let path = d.join("live/nsgs.json");
    let before = read(&path);
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(&path))
        .unwrap();
    lock.lock().unwrap();
    let mut child = Command::new(jit_bin())
        .arg("-C")
        .arg(d)
        .args(["apply", "--auto-approve", "--at", DURING])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let waited = Instant::now();
    while waited.elapsed() < Duration::from_millis(1500) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "apply did not wait for the lock"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(read(&path), before, "written while another held the lock");
    drop(lock);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(read(&path), before);
    assert_eq!(lab::rules(&path, "web-nsg").len(), 3);
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}
