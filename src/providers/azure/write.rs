//! Applying the changes of one NSG, in plan order: the NSG is read again first (its etag must
//! still be the one the plan was made against) unless the plan's own read is fresh (below),
//! then one PUT or DELETE per rule on
//! `…/securityRules/{name}` — never a PUT of the whole NSG, which would drop rules other tools
//! add. Creates carry `If-None-Match: *`, updates and deletes `If-Match: <rule etag>`; each
//! long-running operation is followed to its end (its first poll after the `Retry-After` the
//! write was answered with). No read the result does not need: a PUT whose answer carries the
//! rule as the change wants it, and whose operation ends `Succeeded`, is done; so is a DELETE
//! whose operation ends `Succeeded` (or that answers 204). Only otherwise is the rule read back
//! to confirm.
//!
//! **Writing from the plan's read.** When the batch says this run read the plan's live state
//! ([`Batch::read_at`](crate::providers::Batch::read_at)) less than [`FRESH_READ`] ago, and this
//! process still holds that read of the NSG under the etag the plan carries (see
//! [`super::recall`]), the NSG is written from it without a GET. Nothing is lost by it: every
//! write carries its own precondition from that read — `If-None-Match: *` on a create (a rule
//! of that name appeared: 412), `If-Match: <rule etag>` on an update or delete (the rule was
//! changed, replaced or deleted: 412) — and a rule that takes a priority another rule took
//! since is refused with `SecurityRuleConflict`; each of those makes the NSG stale, as the GET
//! would have, and nothing else is written to it. What the GET alone would catch is a change
//! elsewhere in the NSG that none of the writes touch, which is no reason to refuse them. A
//! saved plan (`read_at` `None`), an older read, or an NSG this process did not read under
//! that etag is read again first.
//!
//! Every step is idempotent, so a re-run after a crash or a lost answer converges: a rule that
//! is already as the change wants it counts as applied, and a 412 is checked against the rule's
//! current state before it is called a conflict. The first failure stops the NSG; its
//! remaining changes are skipped.

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::client::{ArmClient, Request, Response};
use super::endpoint::{join, rule_path};
use super::error::ArmError;
use super::lro;
use super::read::{read_nsg, read_rule};
use crate::live::Scope;
use crate::plan::Action;
use crate::platform::nsg::typed::RuleChange;
use crate::platform::nsg::{self, LiveRule, Rule};
use crate::providers::{Outcome, ProviderError};

/// Why a change did not apply.
enum ChangeError {
    /// Live state is not what the plan was made against.
    Stale(String),
    /// With ARM's `error.code` when ARM refused.
    Failed(Option<String>, String),
}

impl From<ArmError> for ChangeError {
    fn from(e: ArmError) -> ChangeError {
        let code = match &e {
            ArmError::Remote(remote) => Some(remote.code.clone()),
            _ => None,
        };
        ChangeError::Failed(code, e.to_string())
    }
}

fn refused(message: String) -> ChangeError {
    ChangeError::Failed(None, message)
}

/// How old the plan's own read may be, when an NSG's turn to be written comes, for the NSG to
/// be written from it without reading it again. Long enough for a plan shown and approved at
/// once, and for the writes of a large apply paced by ARM's write bucket (2,000 writes take
/// about three minutes); a plan that waited longer at the prompt is read again.
pub const FRESH_READ: SignedDuration = SignedDuration::from_mins(5);

/// The NSG as the plan read it, when the batch allows writing from it (see the module doc).
fn planned_read(
    client: &ArmClient,
    nsg_id: &str,
    expected: Option<&str>,
    read_at: Option<Timestamp>,
) -> Option<Scope> {
    let age = Timestamp::now().duration_since(read_at?);
    if age.unsigned_abs() > FRESH_READ.unsigned_abs() {
        tracing::debug!("`{nsg_id}`: the plan's read is {age:#} old; reading it again");
        return None;
    }
    let scope = super::recall::recall(client.base().as_str(), nsg_id, expected?)?;
    tracing::debug!(
        "`{}`: writing from the plan's read ({age:#} old)",
        scope.name
    );
    Some(scope)
}

/// Applies `changes` (all for the NSG `nsg_id`, in plan order). `expected` is the etag the plan
/// was made against, `read_at` when this run read it (see the module doc). Calls `report` once
/// per change.
pub async fn apply_nsg(
    client: &ArmClient,
    nsg_id: &str,
    expected: Option<&str>,
    read_at: Option<Timestamp>,
    rule_prefix: &str,
    changes: &[&RuleChange<'_>],
    report: &(dyn Fn(&RuleChange<'_>, Outcome) + Sync),
) {
    super::activity::writes_to_do(changes.len() as u64);
    let report = |change: &RuleChange<'_>, outcome: Outcome| {
        super::activity::write_done();
        report(change, outcome);
    };
    if let Some(planned) = planned_read(client, nsg_id, expected, read_at) {
        return write_changes(client, &planned, rule_prefix, changes, &report).await;
    }
    let live = match read_nsg(client, nsg_id).await {
        Ok(live) => live,
        Err(e) => {
            let message = match e {
                ProviderError::NotFound { .. } => e.to_string(),
                other => format!("cannot read `{nsg_id}` before writing: {other}"),
            };
            for change in changes {
                report(change, Outcome::failed(message.clone()));
            }
            return;
        }
    };
    if expected != Some(live.fingerprint.as_str()) {
        let why = format!(
            "stale: `{}` changed since it was planned (etag {} is now {})",
            live.name,
            expected.unwrap_or("unknown"),
            live.fingerprint
        );
        for change in changes {
            report(change, Outcome::Stale(why.clone()));
        }
        return;
    }
    write_changes(client, &live, rule_prefix, changes, &report).await;
}

/// The writes of one NSG known as `live`, in order, stopping at the first that does not apply.
async fn write_changes(
    client: &ArmClient,
    live: &Scope,
    rule_prefix: &str,
    changes: &[&RuleChange<'_>],
    report: &(dyn Fn(&RuleChange<'_>, Outcome) + Sync),
) {
    let mut stopped: Option<String> = None;
    for change in changes {
        if let Some(why) = &stopped {
            report(change, Outcome::Skipped(why.clone()));
            continue;
        }
        match apply_change(client, live, rule_prefix, change).await {
            Ok(()) => report(change, Outcome::Applied),
            Err(ChangeError::Stale(why)) => {
                report(change, Outcome::Stale(why));
                stopped = Some(format!(
                    "not attempted: `{}` changed during apply",
                    live.name
                ));
            }
            Err(ChangeError::Failed(code, message)) => {
                report(change, Outcome::Failed { code, message });
                stopped = Some(format!(
                    "not attempted: an earlier change to `{}` failed",
                    live.name
                ));
            }
        }
    }
}

async fn apply_change(
    client: &ArmClient,
    live: &Scope,
    rule_prefix: &str,
    change: &RuleChange<'_>,
) -> Result<(), ChangeError> {
    // The policy's NSG id and the rule name, each segment encoded: never the id the server
    // answered with, never a name that could leave `…/securityRules/`.
    let path = rule_path(change.nsg_id(), change.name())
        .map_err(|why| refused(format!("refusing to write `{}`: {why}", change.address())))?;
    let url = join(client.base(), &path);
    let current = nsg::rules(live)
        .iter()
        .find(|r| r.rule.name.eq_ignore_ascii_case(change.name()));
    let action = change.action();
    // Checked on the live rule as read just now, whatever the plan says of it.
    if let Some(current) = current.filter(|c| !c.rule.is_managed(rule_prefix)) {
        return Err(refused(format!(
            "rule `{}` is not managed by jit (its name must start with `{rule_prefix}-` and its \
             description carry `managed-by=jit`); refusing to {} it",
            current.rule.name,
            action.verb()
        )));
    }
    let after = match (action, &change.after) {
        (Action::Delete, _) => None,
        (_, Some(after)) => Some(after),
        (_, None) => {
            return Err(refused(format!(
                "{} of `{}` has no `after` rule: this is a bug in jit",
                action.verb(),
                change.address()
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
        Action::Initiate => {
            return Err(refused(format!(
                "`{}`: a security rule cannot be initiated",
                change.address()
            )))
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
        // Another writer took the priority the plan allocated after this NSG was last read:
        // the NSG moved under the plan, which a re-plan places around.
        Err(ArmError::Remote(e)) if e.code == "SecurityRuleConflict" => {
            return Err(stale(change, &format!("ARM refused the write with {e}")));
        }
        Err(e) => return Err(e.into()),
    }
    let confirmed = read_rule(client, &url).await?;
    if already_done(confirmed.as_ref(), after) {
        Ok(())
    } else {
        Err(refused(format!(
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
        // Refused before any request for security rules.
        Action::Initiate => false,
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

/// Equal as ARM compares them: by the azurerm schema (names and protocols ignoring case).
fn same_rule(a: &Rule, b: &Rule) -> bool {
    a.to_resource("").same(&b.to_resource(""))
}

fn stale(change: &RuleChange<'_>, why: &str) -> ChangeError {
    ChangeError::Stale(format!("stale: `{}`: {why}", change.address()))
}
