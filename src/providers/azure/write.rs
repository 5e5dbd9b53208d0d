//! Applying the changes of one NSG, in plan order: the NSG is read again first (its etag must
//! still be the one the plan was made against), then one PUT or DELETE per rule on
//! `…/securityRules/{name}` — never a PUT of the whole NSG, which would drop rules other tools
//! add. Creates carry `If-None-Match: *`, updates and deletes `If-Match: <rule etag>`; each
//! long-running operation is followed to its end (its first poll after the `Retry-After` the
//! write was answered with). No read the result does not need: a PUT whose answer carries the
//! rule as the change wants it, and whose operation ends `Succeeded`, is done; so is a DELETE
//! whose operation ends `Succeeded` (or that answers 204). Only otherwise is the rule read back
//! to confirm.
//!
//! Every step is idempotent, so a re-run after a crash or a lost answer converges: a rule that
//! is already as the change wants it counts as applied, and a 412 is checked against the rule's
//! current state before it is called a conflict. The first failure stops the NSG; its
//! remaining changes are skipped.

use serde_json::json;

use super::client::{ArmClient, Request, Response};
use super::endpoint::{join, rule_path};
use super::error::ArmError;
use super::lro;
use super::read::{read_nsg, read_rule};
use crate::live::{LiveNsg, LiveRule};
use crate::nsg::Rule;
use crate::plan::{Action, ResourceChange};
use crate::providers::{Outcome, ProviderError};

/// What became of one NSG's changes.
#[derive(Debug, Default)]
pub struct NsgResult {
    /// The NSG changed under the plan (etag or a rule's etag): re-plan it.
    pub stale: bool,
}

/// Why a change did not apply.
enum ChangeError {
    /// Live state is not what the plan was made against.
    Stale(String),
    Failed(String),
}

impl From<ArmError> for ChangeError {
    fn from(e: ArmError) -> ChangeError {
        ChangeError::Failed(e.to_string())
    }
}

/// Applies `changes` (all for the NSG `nsg_id`, in plan order). `expected` is the etag the plan
/// was made against, when known. Calls `report` once per change.
pub async fn apply_nsg(
    client: &ArmClient,
    nsg_id: &str,
    expected: Option<&str>,
    rule_prefix: &str,
    changes: &[&ResourceChange],
    report: &(dyn Fn(&ResourceChange, Outcome) + Sync),
) -> NsgResult {
    super::activity::writes_to_do(changes.len() as u64);
    let report = |change: &ResourceChange, outcome: Outcome| {
        super::activity::write_done();
        report(change, outcome);
    };
    let mut result = NsgResult::default();
    let live = match read_nsg(client, nsg_id).await {
        Ok(live) => live,
        Err(e) => {
            let message = match e {
                ProviderError::NotFound { .. } => e.to_string(),
                other => format!("cannot read `{nsg_id}` before writing: {other}"),
            };
            for change in changes {
                report(change, Outcome::Failed(message.clone()));
            }
            return result;
        }
    };
    if let Some(expected) = expected.filter(|e| *e != live.fingerprint) {
        result.stale = true;
        let why = format!(
            "stale: `{}` changed since it was planned (etag {expected} is now {})",
            live.name, live.fingerprint
        );
        for change in changes {
            report(change, Outcome::Skipped(why.clone()));
        }
        return result;
    }
    let mut stopped: Option<String> = None;
    for change in changes {
        if let Some(why) = &stopped {
            report(change, Outcome::Skipped(why.clone()));
            continue;
        }
        match apply_change(client, &live, rule_prefix, change).await {
            Ok(()) => report(change, Outcome::Applied),
            Err(ChangeError::Stale(why)) => {
                result.stale = true;
                report(change, Outcome::Failed(why));
                stopped = Some(format!(
                    "not attempted: `{}` changed during apply",
                    live.name
                ));
            }
            Err(ChangeError::Failed(why)) => {
                report(change, Outcome::Failed(why));
                stopped = Some(format!(
                    "not attempted: an earlier change to `{}` failed",
                    live.name
                ));
            }
        }
    }
    result
}

async fn apply_change(
    client: &ArmClient,
    live: &LiveNsg,
    rule_prefix: &str,
    change: &ResourceChange,
) -> Result<(), ChangeError> {
    // The policy's NSG id and the rule name, each segment encoded: never the id the server
    // answered with, never a name that could leave `…/securityRules/`.
    let path = rule_path(&change.nsg_id, &change.name).map_err(|why| {
        ChangeError::Failed(format!("refusing to write `{}`: {why}", change.address))
    })?;
    let url = join(client.base(), &path);
    let current = live
        .rules
        .iter()
        .find(|r| r.rule.name.eq_ignore_ascii_case(&change.name));
    let action = change.action();
    // Checked on the live rule as read just now, whatever the plan says of it.
    if let Some(current) = current.filter(|c| !c.rule.is_managed(rule_prefix)) {
        return Err(ChangeError::Failed(format!(
            "rule `{}` is not managed by jit (its name must start with `{rule_prefix}-` and its \
             description carry `managed-by=jit`); refusing to {} it",
            current.rule.name,
            action_word(action)
        )));
    }
    let after = match (action, &change.change.after) {
        (Action::Delete, _) => None,
        (_, Some(after)) => Some(after),
        (_, None) => {
            return Err(ChangeError::Failed(format!(
                "{} of `{}` has no `after` rule: this is a bug in jit",
                action_word(action),
                change.address
            )))
        }
    };
    if already_done(current, after) {
        return Ok(());
    }
    let request = match action {
        Action::Create => {
            if current.is_some() {
                return Err(stale(
                    change,
                    "a rule with this name appeared since the plan",
                ));
            }
            Request {
                if_none_match_any: true,
                ..put(&url, after.expect("checked above"))
            }
        }
        Action::Update => {
            let Some(current) = current else {
                return Err(stale(change, "the rule was deleted since the plan"));
            };
            Request {
                if_match: current.etag.clone(),
                ..put(&url, after.expect("checked above"))
            }
        }
        Action::Delete => Request {
            method: reqwest::Method::DELETE,
            url: url.clone(),
            if_match: current.and_then(|c| c.etag.clone()),
            if_none_match_any: false,
            body: None,
        },
    };
    let what = request.what();
    match client.send(&request).await {
        Ok(response) => {
            lro::follow(client, &what, &response).await?;
            if answered_as_done(&response, action, after) {
                return Ok(());
            }
        }
        Err(ArmError::Remote(e)) if e.status == 412 => {
            // A lost answer retried, or someone else's change? The rule's state decides.
            let now = read_rule(client, &url).await?;
            if already_done(now.as_ref(), after) {
                return Ok(());
            }
            return Err(stale(change, &format!("ARM refused the write with {e}")));
        }
        Err(e) => return Err(e.into()),
    }
    let confirmed = read_rule(client, &url).await?;
    if already_done(confirmed.as_ref(), after) {
        Ok(())
    } else {
        Err(ChangeError::Failed(format!(
            "{what} succeeded but reading the rule back shows {}",
            match confirmed {
                Some(_) if after.is_none() => "it still exists".to_string(),
                Some(r) => format!("different properties: {}", r.rule.to_arm()),
                None => "no rule".to_string(),
            }
        )))
    }
}

/// The write's answer, its operation having ended `Succeeded`, already says the rule is as the
/// change wants it: a PUT answered with the rule (ARM's body is the resource as it will be),
/// or a DELETE (202 and a finished operation, or 204).
fn answered_as_done(response: &Response, action: Action, after: Option<&Rule>) -> bool {
    match action {
        Action::Delete => matches!(response.status, 200 | 202 | 204),
        Action::Create | Action::Update => {
            let Ok(body) = serde_json::from_slice::<serde_json::Value>(&response.body) else {
                return false;
            };
            let state = body
                .pointer("/properties/provisioningState")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            if state.eq_ignore_ascii_case("failed") || state.eq_ignore_ascii_case("canceled") {
                return false;
            }
            match (Rule::from_arm(&body), after) {
                (Ok(carried), Some(after)) => same_rule(&carried, after),
                _ => false,
            }
        }
    }
}

fn put(url: &str, after: &Rule) -> Request {
    Request {
        method: reqwest::Method::PUT,
        url: url.to_string(),
        if_match: None,
        if_none_match_any: false,
        body: Some(json!({ "properties": after.arm_properties() })),
    }
}

/// The rule is already what the change wants: present and equal to `after`, or absent.
fn already_done(current: Option<&LiveRule>, after: Option<&Rule>) -> bool {
    match (current, after) {
        (None, None) => true,
        (Some(c), Some(a)) => same_rule(&c.rule, a),
        _ => false,
    }
}

/// Equal as ARM compares them: names and protocols case-insensitively.
fn same_rule(a: &Rule, b: &Rule) -> bool {
    a.name.eq_ignore_ascii_case(&b.name)
        && a.protocol.eq_ignore_ascii_case(&b.protocol)
        && Rule {
            name: b.name.clone(),
            protocol: b.protocol.clone(),
            ..a.clone()
        } == *b
}

fn stale(change: &ResourceChange, why: &str) -> ChangeError {
    ChangeError::Stale(format!("stale: `{}`: {why}", change.address))
}

fn action_word(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
    }
}
