//! The nftables platform in the core's terms: what the policy wants of each table
//! ([`compile`]), the plan against the tables as read ([`diff`]), which changes only narrow
//! access ([`narrowing`]) and the open grants for `jit status` ([`grants`]). Pure: a thin
//! adapter over [`super::policy::table_spec`] and [`super::reconcile::plan`].

use std::collections::{BTreeMap, HashMap};

use jiff::{SignedDuration, Timestamp};

use super::readback::LiveTable;
use super::reconcile::{self, Change as TableChange, Reason, Rebuild};
use super::resources::{self, ELEMENT_TYPE, TABLE_TYPE};
use super::spec::{TableSpec, DEFAULT_PRIORITY};
use crate::live::{scope_key, Live, Scope};
use crate::model::{Grant, Policy, ProviderConfig, Target};
use crate::plan::{
    Action, ActionReason, Change, PlanError, PriorResource, RequestInfo, ResourceChange,
};
use crate::platform::grants::GrantStatus;
use crate::platform::{Content, Narrowing};

/// The scope id of table `table` on this host.
pub fn scope_id(table: &str) -> String {
    format!("nftables:{table}")
}

/// The table a scope id names, when it is an nftables one.
pub fn table_of(scope: &str) -> Option<&str> {
    scope.strip_prefix("nftables:")
}

/// The table of the nftables provider a target names, when it names one.
pub fn table_for<'p>(policy: &'p Policy, target: &Target) -> Option<&'p str> {
    match policy.provider(&target.provider).map(|p| &p.config) {
        Some(ProviderConfig::Nftables { table }) => Some(table.as_str()),
        _ => None,
    }
}

/// One table as the policy wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredTable {
    pub provider: String,
    pub scope: String,
    pub spec: TableSpec,
}

/// Pure: every table the policy's targets name, at `now`.
pub fn compile(policy: &Policy, now: Timestamp) -> Vec<DesiredTable> {
    let mut tables: BTreeMap<String, DesiredTable> = BTreeMap::new();
    for target in &policy.targets {
        let Some(table) = table_for(policy, target) else {
            continue;
        };
        tables
            .entry(target.provider.clone())
            .or_insert_with(|| DesiredTable {
                provider: target.provider.clone(),
                scope: scope_id(table),
                spec: super::policy::table_spec(policy, &target.provider, table, now),
            });
    }
    tables.into_values().collect()
}

/// A table that should hold no grant.
pub fn empty(provider: &str, scope: &str) -> DesiredTable {
    let table = table_of(scope).unwrap_or(scope);
    DesiredTable {
        provider: provider.to_string(),
        scope: scope.to_string(),
        spec: TableSpec::new(table, DEFAULT_PRIORITY, [], []),
    }
}

/// What the diff of the nftables tables adds to a plan.
#[derive(Debug, Default)]
pub struct TableDiff {
    pub changes: Vec<ResourceChange>,
    pub prior: Vec<PriorResource>,
    pub errors: Vec<PlanError>,
    pub fingerprints: BTreeMap<String, String>,
}

/// The live table of a scope: `Some(None)` when the table is missing, `None` when the scope is
/// not an nftables one.
pub fn live_table(scope: &Scope) -> Option<Option<&LiveTable>> {
    match &scope.content {
        Content::Nftables(table) => Some(table.as_ref()),
        _ => None,
    }
}

/// Pure: the changes that make every live table the desired one, planned at `now`.
pub fn diff(policy: &Policy, desired: &[DesiredTable], live: &Live, now: Timestamp) -> TableDiff {
    let mut out = TableDiff::default();
    let by_comment = grants_by_comment(policy);
    for table in desired {
        let name = table.spec.table.as_str();
        let Some(live_table) = live.scope(&table.scope).and_then(live_table) else {
            let message = match live.failed.get(&scope_key(&table.scope)) {
                Some(why) => format!("cannot read nftables table `{name}`: {why}"),
                None => format!("nftables table `{name}` was not read"),
            };
            out.errors.push(PlanError {
                scope: Some(table.scope.clone()),
                message,
            });
            continue;
        };
        if let Some(scope) = live.scope(&table.scope) {
            out.fingerprints
                .insert(table.scope.clone(), scope.fingerprint.clone());
        }
        for element in live_table
            .map(|t| t.elements.as_slice())
            .unwrap_or_default()
        {
            let resource = resources::live_element(name, element);
            out.prior.push(PriorResource {
                address: format!("{name}/{}", resource.name()),
                scope: table.scope.clone(),
                resource,
            });
        }
        let plan = reconcile::plan(&table.spec, live_table);
        let change =
            |resource_name: String, action, before, after, why, reason: String| ResourceChange {
                address: format!("{name}/{resource_name}"),
                provider: table.provider.clone(),
                scope: table.scope.clone(),
                name: resource_name,
                target: None,
                change: Change {
                    actions: vec![action],
                    before,
                    after,
                },
                action_reason: why,
                reason,
                request: None,
            };
        if let Some(rebuild) = &plan.rebuild {
            let ports = table.spec.ports.iter().map(|p| p.to_string()).collect();
            let after = resources::table(name, Some(ports), Some(table.spec.priority), None);
            let (action, before, reason) = match rebuild {
                Rebuild::Missing => (Action::Create, None, "the table is missing".to_string()),
                Rebuild::NewLayer => (
                    Action::Update,
                    Some(resources::table(
                        name,
                        None,
                        None,
                        Some("one layer short".into()),
                    )),
                    "nested grants need another layer of grant sets".to_string(),
                ),
                Rebuild::Drift(what) => (
                    Action::Update,
                    Some(resources::table(name, None, None, Some(what.join("; ")))),
                    format!("changed by hand: {}", what.join("; ")),
                ),
            };
            let why = match rebuild {
                Rebuild::Drift(_) => ActionReason::Drifted,
                _ => ActionReason::LockDown,
            };
            out.changes.push(change(
                name.to_string(),
                action,
                before,
                Some(after),
                why,
                reason,
            ));
        }
        for table_change in &plan.changes {
            let reason = table_change.describe();
            let why = match table_change.reason() {
                Reason::Granted | Reason::TimeoutShorter { .. } => ActionReason::RequestActive,
                Reason::NotGranted => ActionReason::RequestExpired,
                _ => ActionReason::Drifted,
            };
            let grant_of = |comment: &str| by_comment.get(comment).copied();
            // An element closes at its grant's end (`now` + its timeout if, against every
            // expectation, no grant is named).
            let expires = |add: &reconcile::Add| {
                grant_of(&add.grant.comment).map_or_else(
                    || now + SignedDuration::from_secs(add.grant.timeout as i64),
                    |g| g.end(),
                )
            };
            let (resource_name, action, before, after) = match table_change {
                TableChange::Add { add, .. } => {
                    let after = resources::new_element(name, add, expires(add));
                    (after.name().to_string(), Action::Create, None, Some(after))
                }
                TableChange::Remove { remove, .. } => {
                    let before = resources::live_element(name, &remove.element);
                    (
                        before.name().to_string(),
                        Action::Delete,
                        Some(before),
                        None,
                    )
                }
                TableChange::Replace { remove, add, .. } => {
                    let after = resources::new_element(name, add, expires(add));
                    let before = resources::live_element(name, &remove.element);
                    (
                        after.name().to_string(),
                        Action::Update,
                        Some(before),
                        Some(after),
                    )
                }
            };
            let mut rc = change(resource_name, action, before, after, why, reason);
            let comment = rc
                .change
                .after
                .as_ref()
                .or(rc.change.before.as_ref())
                .and_then(|r| r.str("comment").map(str::to_string));
            if let Some(grant) = comment.as_deref().and_then(grant_of) {
                rc.target = Some(grant.target.clone());
                rc.request = Some(RequestInfo {
                    id: grant.id.clone(),
                    requester: grant.requester.clone(),
                    approvers: grant.approvers.clone(),
                    justification: grant.justification.clone(),
                });
            } else {
                rc.target = policy
                    .targets
                    .iter()
                    .find(|t| t.provider == table.provider)
                    .map(|t| t.name.clone());
            }
            out.changes.push(rc);
        }
    }
    out
}

/// The grant each element comment stands for: the request it names (first by id when two cut
/// ids collide, which [`super::spec::comment_for`] makes as good as impossible).
fn grants_by_comment(policy: &Policy) -> HashMap<String, &Grant> {
    let mut by_comment = HashMap::new();
    for grant in &policy.grants {
        by_comment
            .entry(super::spec::comment_for(&grant.id))
            .or_insert(grant);
    }
    by_comment
}

/// What a plan with errors does with an nftables change. Removing an element only narrows:
/// kept. Adding one widens: dropped. An element put back because it was changed by hand (its
/// timeout longer than its grant, its comment edited) is removed instead, not re-added: what
/// was tampered with closes, and reopens once the errors are fixed; one put back because its
/// grant was extended stays as it is (it closes no later than before). Creating a missing
/// table only closes ports that nothing guarded: kept (its grants are element adds, dropped).
/// Writing an existing table anew re-adds every grant: dropped (its removals are planned as
/// element removals and kept).
pub fn narrowing(change: &ResourceChange) -> Narrowing {
    let type_name = change
        .change
        .after
        .as_ref()
        .or(change.change.before.as_ref())
        .map(|r| r.type_name());
    match (type_name, change.action()) {
        (Some(ELEMENT_TYPE), Action::Delete) | (Some(TABLE_TYPE), Action::Create) => {
            Narrowing::Keep
        }
        (Some(ELEMENT_TYPE), Action::Update) if change.action_reason == ActionReason::Drifted => {
            let mut removal = change.clone();
            removal.change.actions = vec![Action::Delete];
            removal.change.after = None;
            removal.reason = format!(
                "{}; removed, not put back, until the errors are fixed",
                change.reason
            );
            Narrowing::Instead(Box::new(removal))
        }
        _ => Narrowing::Drop,
    }
}

/// The grants open in an nftables scope, with the kernel's remaining time.
pub fn grants(policy: &Policy, scope: &Scope, at: Timestamp) -> Vec<GrantStatus> {
    let Some(Some(table)) = live_table(scope) else {
        return Vec::new();
    };
    let by_comment = grants_by_comment(policy);
    super::status::open_grants(table)
        .into_iter()
        .map(|open| {
            let grant = open
                .request
                .as_deref()
                .and_then(|c| by_comment.get(c).copied());
            let seconds_left = open.seconds_left.map(|s| s as i64);
            let key = open.key;
            let name = match key {
                Some(k) => format!("{}:{k}", open.set),
                None => open.set.clone(),
            };
            GrantStatus {
                request: open.request.clone(),
                target: grant.map(|g| g.target.clone()),
                address: format!("{}/{name}", table.table),
                scope: scope.id.clone(),
                requester: grant.map(|g| g.requester.clone()),
                approvers: grant.map(|g| g.approvers.clone()).unwrap_or_default(),
                file: None,
                sources: key.map(|k| vec![k.source.to_string()]).unwrap_or_default(),
                protocol: key.map(|k| k.proto.nft().to_string()).unwrap_or_default(),
                ports: key.map(|k| vec![k.port.to_string()]).unwrap_or_default(),
                expires: seconds_left.map(|s| {
                    at.saturating_add(SignedDuration::from_secs(s))
                        .unwrap_or(at)
                }),
                seconds_left,
                overdue: false,
                wider: Vec::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fixture::policy;
    use super::*;

    fn live_with(content: Content) -> Live {
        let mut live = Live::default();
        live.insert(Scope {
            id: "nftables:jit".into(),
            name: "jit".into(),
            fingerprint: "absent".into(),
            content,
        });
        live
    }

    #[test]
    fn a_missing_table_is_created_with_each_grant_as_an_element_showing_its_time_left() {
        let policy = policy();
        let now: Timestamp = "2026-11-25T14:30:00Z".parse().unwrap();
        let target = &policy.targets[0];
        assert_eq!(
            crate::platform::of(&policy, target),
            Some(crate::platform::Kind::Nftables)
        );
        assert_eq!(
            crate::platform::scope_of(&policy, target),
            Some(("nftables.host".to_string(), "nftables:jit".to_string()))
        );
        let desired = crate::platform::compile(&policy, now);
        let plan =
            crate::platform::diff(&policy, &desired, &live_with(Content::Nftables(None)), now);
        assert!(plan.errors.is_empty(), "{:?}", plan.errors);
        let kinds: Vec<_> = plan
            .resource_changes
            .iter()
            .map(|c| (c.action(), c.name.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (Action::Create, "jit"),
                (Action::Create, "grants4_0:192.0.2.7/32 . tcp . 22")
            ]
        );
        let element = &plan.resource_changes[1];
        assert!(element.reason.contains("30m left"), "{}", element.reason);
        assert_eq!(element.request.as_ref().unwrap().id, "INC-1-alice");
        assert_eq!(element.target.as_deref(), Some("bastion"));
        assert_eq!(plan.fingerprints["nftables:jit"], "absent");
        assert!(matches!(
            crate::platform::narrowing(element, now),
            Narrowing::Drop
        ));
        let after = element.change.after.clone().unwrap();
        assert!(crate::platform::canonical(&after, "nftables:jit").unwrap() == after);
        // Its removal only narrows.
        let mut removal = element.clone();
        removal.change.actions = vec![Action::Delete];
        removal.change.before = removal.change.after.take();
        assert!(matches!(
            crate::platform::narrowing(&removal, now),
            Narrowing::Keep
        ));
    }

    #[test]
    fn an_unread_table_is_an_error_of_its_scope_only() {
        let policy = policy();
        let now: Timestamp = "2026-11-25T14:30:00Z".parse().unwrap();
        let desired = crate::platform::compile(&policy, now);
        let mut live = Live::default();
        live.failed
            .insert("nftables:jit".into(), "permission denied".into());
        let plan = crate::platform::diff(&policy, &desired, &live, now);
        assert!(plan.resource_changes.is_empty());
        assert_eq!(plan.errors.len(), 1);
        assert!(plan.errors[0].message.contains("permission denied"));
    }

    #[test]
    fn a_plan_with_errors_keeps_what_closes_and_removes_what_was_tampered_with() {
        let policy = policy();
        let now: Timestamp = "2026-11-25T14:30:00Z".parse().unwrap();
        let desired = crate::platform::compile(&policy, now);
        let plan =
            crate::platform::diff(&policy, &desired, &live_with(Content::Nftables(None)), now);
        let (table, element) = (&plan.resource_changes[0], &plan.resource_changes[1]);
        // Creating the missing table closes a port nothing guarded.
        assert!(matches!(narrowing(table), Narrowing::Keep));
        let mut rebuild = table.clone();
        rebuild.change.actions = vec![Action::Update];
        assert!(
            matches!(narrowing(&rebuild), Narrowing::Drop),
            "re-adds every grant"
        );
        // An element put back after a hand edit: removed instead.
        let mut put_back = element.clone();
        put_back.change.actions = vec![Action::Update];
        put_back.change.before = put_back.change.after.clone();
        put_back.action_reason = ActionReason::Drifted;
        let Narrowing::Instead(removal) = narrowing(&put_back) else {
            panic!("a drifted element is removed instead");
        };
        assert_eq!(removal.action(), Action::Delete);
        assert!(removal.change.after.is_none());
        assert!(
            removal.reason.contains("until the errors are fixed"),
            "{}",
            removal.reason
        );
        // One put back because its grant was extended stays as it is.
        put_back.action_reason = ActionReason::RequestActive;
        assert!(matches!(narrowing(&put_back), Narrowing::Drop));
    }
}
