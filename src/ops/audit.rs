//! The audit log: one JSON line per applied action (DESIGN §5a), appended and flushed to disk
//! before the next action is written, so the log is never behind the firewall.
//!
//! Fields: `time`, `actor`, `action`, `address`, `provider`, `scope` (the NSG id, …),
//! `resource` (the rule's name, …), `type` (the resource type), `request`, `requester`,
//! `approvers`, `justification`, `reason`, `outcome` (`applied`, `failed`, `stale`,
//! `skipped`), `error` (when not applied, with the remote error code first when there is one), `plan_hash`, and `git_commit` (see `ops::git`) when the config
//! directory is in a git repository. `time` is the machine's clock; `at` is there only when
//! the apply ran with `--at` (a rehearsal on the snapshot provider, or within a minute of now):
//! the simulated clock its freshness checks and grants used. A log line never carries a fake
//! `time`.
//!
//! The log never follows a symbolic link: a link at its path (which could point the appends at
//! any file the applier may write) is an error before anything is written, and the file is
//! opened with `O_NOFOLLOW` so a link swapped in meanwhile fails the open too.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use jiff::Timestamp;
use serde::Serialize;

use crate::ops::OpsError;
use crate::plan::{Action, ResourceChange};
use crate::providers::Outcome;

/// Who applied, from what, and when; the same for every line of one apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContext {
    /// The machine's clock.
    pub time: Timestamp,
    /// The simulated clock, when the apply ran with `--at`.
    pub at: Option<Timestamp>,
    pub actor: String,
    /// `sha256:<hex>` of the plan JSON.
    pub plan_hash: String,
    pub git_commit: Option<String>,
}

/// One line of the log.
#[derive(Debug, Serialize)]
struct Record<'a> {
    time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<String>,
    actor: &'a str,
    action: Action,
    address: &'a str,
    provider: &'a str,
    scope: &'a str,
    resource: &'a str,
    #[serde(rename = "type")]
    type_name: &'a str,
    request: Option<&'a str>,
    requester: Option<&'a str>,
    approvers: Vec<&'a str>,
    justification: Option<&'a str>,
    reason: &'a str,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    plan_hash: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    git_commit: Option<&'a str>,
}

/// An open audit log. Safe to share between threads: lines never interleave.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
    context: AuditContext,
}

impl AuditLog {
    /// Opens (creating it and its folder if needed) the log for appending.
    pub fn open(path: &Path, context: AuditContext) -> Result<AuditLog, OpsError> {
        let io = |source| OpsError::Io {
            context: format!("cannot open audit log `{}`", path.display()),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let link = || {
            OpsError::Invalid(format!(
                "audit log `{}` is a symbolic link; jit does not follow it\n\
             hint: remove the link, or pass `--audit-log FILE` naming a regular file",
                path.display()
            ))
        };
        if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(link());
        }
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.custom_flags(libc::O_NOFOLLOW);
        }
        let file = options.open(path).map_err(|e| {
            #[cfg(unix)]
            if e.raw_os_error() == Some(libc::ELOOP) {
                return link();
            }
            io(e)
        })?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            context,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line and flushes it to disk.
    pub fn record(&self, change: &ResourceChange, outcome: &Outcome) -> Result<(), OpsError> {
        self.record_for(change, outcome, &self.context.plan_hash)
    }

    /// [`AuditLog::record`] for a change of another plan than the context's: a re-plan made
    /// during the apply, whose hash is `plan_hash`.
    pub fn record_for(
        &self,
        change: &ResourceChange,
        outcome: &Outcome,
        plan_hash: &str,
    ) -> Result<(), OpsError> {
        self.record_all(&[(change, outcome)], plan_hash)
    }

    /// Appends one line per outcome of one write (see [`crate::providers::OnOutcome`]) and
    /// flushes them to disk together: one sync however many changes one transaction made.
    pub fn record_all(
        &self,
        outcomes: &[(&ResourceChange, &Outcome)],
        plan_hash: &str,
    ) -> Result<(), OpsError> {
        let mut lines = Vec::new();
        for (change, outcome) in outcomes {
            self.line(change, outcome, plan_hash, &mut lines);
        }
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(&lines)
            .and_then(|()| file.sync_data())
            .map_err(|source| OpsError::Io {
                context: format!("cannot write audit log `{}`", self.path.display()),
                source,
            })
    }

    /// The line of one outcome, appended to `out`.
    fn line(&self, change: &ResourceChange, outcome: &Outcome, plan_hash: &str, out: &mut Vec<u8>) {
        let resource = change
            .change
            .before
            .as_ref()
            .or(change.change.after.as_ref());
        let info = change.request.as_ref();
        let named = resource.and_then(crate::platform::request_of);
        let request = info.map(|r| r.id.as_str()).or(named.as_deref());
        let error = outcome.why();
        let record = Record {
            time: self.context.time.to_string(),
            at: self.context.at.map(|t| t.to_string()),
            actor: &self.context.actor,
            action: change.action(),
            address: &change.address,
            provider: &change.provider,
            scope: &change.scope,
            resource: &change.name,
            type_name: resource.map_or("", |r| r.type_name()),
            request,
            requester: info.map(|r| r.requester.as_str()),
            approvers: info
                .map(|r| r.approvers.iter().map(String::as_str).collect())
                .unwrap_or_default(),
            justification: info.map(|r| r.justification.as_str()),
            reason: &change.reason,
            outcome: outcome.word(),
            error: error.as_deref(),
            plan_hash,
            git_commit: self.context.git_commit.as_deref(),
        };
        serde_json::to_writer(&mut *out, &record).expect("an audit record always serialises");
        out.push(b'\n');
    }
}

/// The person or pipeline applying: the CI's user where there is one, else the login name.
/// `vars` looks a variable up (the environment, in the CLI).
pub fn actor(vars: impl Fn(&str) -> Option<String>) -> String {
    [
        "JIT_ACTOR",
        "GITHUB_ACTOR",
        "GITLAB_USER_LOGIN",
        "BUILD_REQUESTEDFOREMAIL",
        "USER",
        "USERNAME",
    ]
    .iter()
    .find_map(|name| vars(name).filter(|v| !v.trim().is_empty()))
    .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::git::commit as git_commit;
    use crate::plan::{ActionReason, Change, RequestInfo};
    use crate::platform::nsg::Rule;
    use std::process::Command;

    fn change(action: Action, request: Option<RequestInfo>) -> ResourceChange {
        let rule = Rule::from_arm(&serde_json::json!({"name": "jit-allow-INC-1-ssh",
            "properties": {"protocol": "Tcp", "access": "Allow", "priority": 100,
            "direction": "Inbound", "description":
            "managed-by=jit; request=INC-1; expires=2026-11-25T16:00:00Z"}}))
        .unwrap()
        .to_resource("/x/nsg");
        let (before, after) = match action {
            Action::Delete => (Some(rule), None),
            _ => (None, Some(rule)),
        };
        ResourceChange {
            address: "nsg/jit-allow-INC-1-ssh".into(),
            provider: "snapshot.demo".into(),
            scope: "/x/nsg".into(),
            name: "jit-allow-INC-1-ssh".into(),
            target: Some("web-1".into()),
            change: Change {
                actions: vec![action],
                before,
                after,
            },
            action_reason: ActionReason::RequestActive,
            reason: "request INC-1 active until 16:00Z".into(),
            request,
        }
    }

    #[test]
    fn appends_one_json_line_per_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".jit/audit.jsonl");
        let context = AuditContext {
            time: "2026-11-25T15:00:00Z".parse().unwrap(),
            at: None,
            actor: "alice".into(),
            plan_hash: "sha256:ab".into(),
            git_commit: None,
        };
        let log = AuditLog::open(&path, context.clone()).unwrap();
        let info = RequestInfo {
            id: "INC-1".into(),
            requester: "alice@example.com".into(),
            approvers: vec!["bob@example.com".into()],
            justification: "INC-1 why".into(),
        };
        log.record(&change(Action::Create, Some(info)), &Outcome::Applied)
            .unwrap();
        log.record(&change(Action::Delete, None), &Outcome::failed("boom"))
            .unwrap();
        drop(log);
        // A second apply appends; one write's outcomes go in together, a line each.
        let log = AuditLog::open(&path, context).unwrap();
        let (delete, create) = (change(Action::Delete, None), change(Action::Create, None));
        log.record_all(
            &[(&delete, &Outcome::Applied), (&create, &Outcome::Applied)],
            "sha256:cd",
        )
        .unwrap();

        let text = fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["time"], "2026-11-25T15:00:00Z");
        assert_eq!(lines[0]["actor"], "alice");
        assert_eq!(lines[0]["action"], "create");
        assert_eq!(lines[0]["request"], "INC-1");
        assert_eq!(lines[0]["requester"], "alice@example.com");
        assert_eq!(
            lines[0]["approvers"],
            serde_json::json!(["bob@example.com"])
        );
        assert_eq!(lines[0]["outcome"], "applied");
        assert_eq!(lines[0]["plan_hash"], "sha256:ab");
        assert!(lines[0].get("git_commit").is_none());
        assert!(lines[0].get("at").is_none(), "no `--at`, no `at`");
        assert!(lines[0].get("error").is_none());
        // A delete without request info still names the request from the rule's description.
        assert_eq!(lines[1]["request"], "INC-1");
        assert_eq!(lines[1]["requester"], serde_json::Value::Null);
        assert_eq!(lines[1]["outcome"], "failed");
        assert_eq!(lines[1]["error"], "boom");
        assert_eq!(lines[2]["outcome"], "applied");
        assert_eq!(
            (&lines[2]["action"], &lines[3]["action"]),
            (&serde_json::json!("delete"), &serde_json::json!("create"))
        );
        assert!(lines[2..].iter().all(|l| l["plan_hash"] == "sha256:cd"));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_log_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        fs::write(&target, "precious\n").unwrap();
        let path = dir.path().join("audit.jsonl");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let context = AuditContext {
            time: "2026-11-25T15:00:00Z".parse().unwrap(),
            at: Some("2026-11-25T14:00:00Z".parse().unwrap()),
            actor: "alice".into(),
            plan_hash: "sha256:ab".into(),
            git_commit: None,
        };
        let err = AuditLog::open(&path, context).unwrap_err().to_string();
        assert!(err.contains("is a symbolic link"), "{err}");
        assert_eq!(fs::read_to_string(&target).unwrap(), "precious\n");
    }

    #[test]
    fn actor_prefers_the_pipeline_user() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            actor(env(&[("USER", "root"), ("GITHUB_ACTOR", "octo")])),
            "octo"
        );
        assert_eq!(
            actor(env(&[("USER", "root"), ("GITHUB_ACTOR", " ")])),
            "root"
        );
        assert_eq!(actor(env(&[])), "unknown");
    }

    #[test]
    fn git_commit_only_inside_a_repository() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(git_commit(dir.path()), None);
        let git = |args: &[&str]| {
            Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(args)
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        };
        if !git(&["init", "-q"]) {
            return; // no git on this machine: nothing more to check
        }
        fs::write(dir.path().join("policy.hcl"), "").unwrap();
        assert!(git(&["add", "."]));
        assert!(git(&[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-q",
            "-m",
            "policy"
        ]));
        let commit = git_commit(dir.path()).unwrap();
        assert_eq!(commit.len(), 40, "{commit}");
    }
}
