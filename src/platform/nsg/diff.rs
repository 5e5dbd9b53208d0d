//! Pure: `diff(policy, desired, live, now) → Plan`. Matches managed live rules to desired ones
//! by name (case-insensitively, as ARM does), allocates priorities (`priority`), words the
//! reasons (`reason`), and records findings (`findings`). Foreign rules are read, never changed.
//!
//! Errors are per NSG (it could not be read, a band is full) or per rule (a foreign rule has a
//! managed rule's name, two rules would share a name): the rest of that NSG, and every other
//! NSG, is still planned, and the plan holds every change it derives. Dropping the widening
//! ones from a plan with errors is `ops::plan`'s job, through [`super::narrowing`].
//!
//! Only the NSGs of `desired` are planned: a managed rule in an NSG no NSG-shaped target names
//! any more is left alone, so several config directories can share an estate. Keys of
//! `fingerprints` and `ResourceChange::scope` are NSG ids as the policy writes them.
//!
//! Rules are compared as resources, by the azurerm schema ([`super::azurerm::SCHEMA`]): the
//! one comparison of the plan, the text plan and saved-plan checks.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;

use super::compile::{Desired, DesiredNsg, DesiredRule, Origin};
use super::findings::{self, Guard};
use super::names::{refers_to, request_ref, request_room};
use super::priority::{self, BandFull};
use super::rule::Rule;
use super::LiveNsg;
use crate::live::{name_from_id, scope_key, Live};
use crate::model::{Grant, Policy, Target};
use crate::plan::{
    reason, Action, ActionReason, Change, Plan, PlanError, PlanWarning, PriorResource, RequestInfo,
    ResourceChange, FORMAT_VERSION,
};
use crate::resource::name_order;

pub fn diff(policy: &Policy, desired: &Desired, live: &Live, now: Timestamp) -> Plan {
    let mut resource_changes = Vec::new();
    let mut findings = Vec::new();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut fingerprints = BTreeMap::new();
    let mut prior = Vec::new();
    let index = Index::new(policy);
    for nsg in &desired.nsgs {
        let Some(live_nsg) = live.scope(&nsg.nsg_id).map(super::live_nsg) else {
            let message = match live.failed.get(&scope_key(&nsg.nsg_id)) {
                Some(why) => format!("cannot read NSG `{}`: {why}", name_from_id(&nsg.nsg_id)),
                None => format!("NSG `{}` not found", nsg.nsg_id),
            };
            errors.push(PlanError {
                scope: Some(nsg.nsg_id.clone()),
                message,
            });
            continue;
        };
        fingerprints.insert(nsg.nsg_id.clone(), live_nsg.fingerprint.to_string());
        warnings.extend(any_source_warnings(nsg));
        let planned = NsgDiff::new(policy, &index, nsg, &live_nsg, now);
        prior.extend(
            live_nsg
                .rules
                .iter()
                .filter(|l| l.rule.is_managed(&policy.settings.rule_prefix))
                .map(|l| PriorResource {
                    address: format!("{}/{}", planned.nsg_name(), l.rule.name),
                    scope: nsg.nsg_id.clone(),
                    resource: l.rule.to_resource(&nsg.nsg_id),
                }),
        );
        findings.extend(findings::for_nsg(
            &policy.settings.rule_prefix,
            &nsg.nsg_id,
            &live_nsg,
            &planned.guards(),
            now,
        ));
        let (changes, nsg_errors) = planned.changes();
        resource_changes.extend(changes);
        errors.extend(nsg_errors);
    }
    resource_changes.sort_by(|a: &ResourceChange, b: &ResourceChange| {
        scope_key(&a.scope)
            .cmp(&scope_key(&b.scope))
            .then_with(|| name_order(&a.name, &b.name))
    });
    prior.sort_by(|a, b| name_order(&a.address, &b.address));
    findings::sort(&mut findings);
    let (findings, accepted) = findings::accept(findings, &policy.accepts, now);
    let error_key = |e: &PlanError| (e.scope.as_deref().map(scope_key), e.message.clone());
    errors.sort_by_key(error_key);
    Plan {
        format_version: FORMAT_VERSION.to_string(),
        created_at: now,
        valid_until: None,
        resource_changes,
        prior,
        findings,
        accepted,
        errors,
        warnings,
        fingerprints,
        config_digest: None,
        targets: Vec::new(),
    }
}

/// A warning for every desired allow rule open to any source (`source = "*"`, `0.0.0.0/0`,
/// `::/0`): allowed when policy says so, but never silent.
fn any_source_warnings(nsg: &DesiredNsg) -> Vec<PlanWarning> {
    nsg.rules
        .iter()
        .filter_map(|desired| {
            let Origin::Grant {
                request,
                port,
                expires,
            } = &desired.origin
            else {
                return None;
            };
            let open = desired
                .rule
                .sources
                .iter()
                .find(|s| matches!(s.as_str(), "*" | "0.0.0.0/0" | "::/0"))?;
            Some(PlanWarning {
                code: crate::lang::codes::GRANT_ANY_SOURCE.to_string(),
                scope: nsg.nsg_id.clone(),
                resource: desired.rule.name.clone(),
                message: format!(
                    "request `{request}` opens port `{port}` of target `{}` to any source \
                     (`{open}`) until {expires}",
                    desired.target
                ),
            })
        })
        .collect()
}

/// Look-ups over the policy, built once per plan so large estates plan in linear time.
struct Index<'a> {
    targets: HashMap<&'a str, &'a Target>,
    grants: HashMap<&'a str, &'a Grant>,
    /// Grants by the shortened reference a description carries when the id is too long.
    grant_refs: HashMap<String, &'a Grant>,
    /// NSG-shaped targets by NSG key.
    nsg_targets: HashMap<String, Vec<&'a Target>>,
}

impl<'a> Index<'a> {
    fn new(policy: &'a Policy) -> Self {
        let mut nsg_targets: HashMap<String, Vec<&Target>> = HashMap::new();
        for t in policy.targets.iter().filter(|t| super::plans(policy, t)) {
            if let Some(id) = &t.nsg_id {
                nsg_targets.entry(scope_key(id)).or_default().push(t);
            }
        }
        Index {
            targets: policy
                .targets
                .iter()
                .map(|t| (t.name.as_str(), t))
                .collect(),
            grants: policy.grants.iter().map(|g| (g.id.as_str(), g)).collect(),
            grant_refs: policy
                .grants
                .iter()
                .map(|g| (request_ref(&g.id, request_room(g.end())), g))
                .collect(),
            nsg_targets,
        }
    }

    /// The grant a managed rule's `request=` field names.
    fn grant_of(&self, field: &str) -> Option<&'a Grant> {
        self.grants
            .get(field)
            .or_else(|| self.grant_refs.get(field))
            .copied()
            .filter(|g| refers_to(field, g))
    }
}

/// One NSG being planned: its desired rules, their live matches and their priorities.
struct NsgDiff<'a> {
    policy: &'a Policy,
    index: &'a Index<'a>,
    nsg: &'a DesiredNsg,
    live: &'a LiveNsg<'a>,
    now: Timestamp,
    /// Per desired rule, the index of the managed live rule of the same name.
    matches: Vec<Option<usize>>,
    /// Per desired rule, its priority, or its band is full.
    priorities: Vec<Result<u16, BandFull>>,
}

impl<'a> NsgDiff<'a> {
    fn new(
        policy: &'a Policy,
        index: &'a Index<'a>,
        nsg: &'a DesiredNsg,
        live: &'a LiveNsg<'a>,
        now: Timestamp,
    ) -> Self {
        let prefix = &policy.settings.rule_prefix;
        let matches: Vec<Option<usize>> = nsg
            .rules
            .iter()
            .map(|d| {
                live.rules.iter().position(|l| {
                    l.rule.name.eq_ignore_ascii_case(&d.rule.name) && l.rule.is_managed(prefix)
                })
            })
            .collect();
        let priorities = priority::allocate_each(&policy.settings, &nsg.rules, &matches, live);
        NsgDiff {
            policy,
            index,
            nsg,
            live,
            now,
            matches,
            priorities,
        }
    }

    fn nsg_name(&self) -> &str {
        if self.live.name.is_empty() {
            name_from_id(self.live.id)
        } else {
            self.live.name
        }
    }

    /// The lock-downs of this NSG with the priority each has or will have. When the band is
    /// full, a lock-down still to be created is placed at the band's start: any allow rule
    /// ahead of that is ahead of it wherever it lands.
    fn guards(&self) -> Vec<Guard<'a>> {
        let mut out = Vec::new();
        for (i, desired) in self.nsg.rules.iter().enumerate() {
            let Origin::LockDown { port } = &desired.origin else {
                continue;
            };
            let Some(target) = self.index.targets.get(desired.target.as_str()).copied() else {
                continue;
            };
            let Some(port) = target.port(port) else {
                continue;
            };
            let priority = match (&self.priorities[i], self.matches[i]) {
                (Ok(p), _) => *p,
                (Err(_), Some(index)) => self.live.rules[index].rule.priority,
                (Err(_), None) => self.policy.settings.deny_priority.low,
            };
            out.push(Guard {
                target,
                port,
                priority,
            });
        }
        out
    }

    fn error(&self, message: String) -> PlanError {
        PlanError {
            scope: Some(self.nsg.nsg_id.clone()),
            message,
        }
    }

    /// The changes of this NSG, and its errors. A name in error gets no change at all (neither
    /// written nor deleted); a rule whose band is full is not written. Everything else is
    /// planned as if there were no error.
    fn changes(&self) -> (Vec<ResourceChange>, Vec<PlanError>) {
        let prefix = &self.policy.settings.rule_prefix;
        let mut errors = Vec::new();
        // Lower-case names that no change may touch.
        let mut blocked: BTreeSet<String> = BTreeSet::new();
        for pair in self.nsg.rules.windows(2) {
            if pair[0].rule.name.eq_ignore_ascii_case(&pair[1].rule.name)
                && blocked.insert(pair[1].rule.name.to_ascii_lowercase())
            {
                errors.push(self.error(format!(
                    "two managed rules of NSG `{}` would both be named `{}`: rename a target, port or request",
                    self.nsg_name(),
                    pair[1].rule.name
                )));
            }
        }
        for (i, desired) in self.nsg.rules.iter().enumerate() {
            let foreign = self.live.rules.iter().find(|l| {
                l.rule.name.eq_ignore_ascii_case(&desired.rule.name) && !l.rule.is_managed(prefix)
            });
            if let (None, Some(foreign)) = (self.matches[i], foreign) {
                if blocked.insert(desired.rule.name.to_ascii_lowercase()) {
                    errors.push(self.error(format!(
                        "rule `{}` in NSG `{}` is not managed by jit (its description lacks `managed-by=jit`) but has the name of a managed rule: rename or remove it",
                        foreign.rule.name,
                        self.nsg_name()
                    )));
                }
            }
        }
        let mut seen = BTreeSet::new();
        for l in self.live.rules.iter().filter(|l| l.rule.is_managed(prefix)) {
            let name = l.rule.name.to_ascii_lowercase();
            if !seen.insert(name.clone()) && blocked.insert(name) {
                errors.push(self.error(format!(
                    "NSG `{}` holds several rules named `{}`",
                    self.nsg_name(),
                    l.rule.name
                )));
            }
        }
        let mut full_bands = BTreeSet::new();
        let mut out = Vec::new();
        for (i, desired) in self.nsg.rules.iter().enumerate() {
            if blocked.contains(&desired.rule.name.to_ascii_lowercase()) {
                continue;
            }
            let priority = match &self.priorities[i] {
                Ok(p) => *p,
                Err(full) => {
                    if full_bands.insert(full.band_name) {
                        errors.push(self.error(format!(
                            "the {} priority band {}-{} of NSG `{}` is full: no free priority for `{}`",
                            full.band_name,
                            full.band.low,
                            full.band.high,
                            self.nsg_name(),
                            full.rule
                        )));
                    }
                    continue;
                }
            };
            let mut after = desired.rule.clone();
            after.priority = priority;
            match self.matches[i] {
                None => out.push(self.create(desired, after)),
                Some(index) => {
                    let before = &self.live.rules[index].rule;
                    after.name = before.name.clone();
                    let id = &self.nsg.nsg_id;
                    let differing = before.to_resource(id).differing(&after.to_resource(id));
                    if !differing.is_empty() {
                        out.push(self.update(desired, before, after, &differing));
                    }
                }
            }
        }
        let desired_names: BTreeSet<String> = self
            .nsg
            .rules
            .iter()
            .map(|d| d.rule.name.to_ascii_lowercase())
            .collect();
        for l in self.live.rules {
            let name = l.rule.name.to_ascii_lowercase();
            if l.rule.is_managed(prefix)
                && !desired_names.contains(&name)
                && !blocked.contains(&name)
            {
                out.push(self.delete(&l.rule));
            }
        }
        (out, errors)
    }

    fn change(
        &self,
        name: &str,
        action: Action,
        before: Option<Rule>,
        after: Option<Rule>,
    ) -> ResourceChange {
        let id = &self.nsg.nsg_id;
        ResourceChange {
            address: format!("{}/{name}", self.nsg_name()),
            provider: self.nsg.provider.clone(),
            scope: id.clone(),
            name: name.to_string(),
            target: None,
            change: Change {
                actions: vec![action],
                before: before.map(|r| r.to_resource(id)),
                after: after.map(|r| r.to_resource(id)),
            },
            action_reason: ActionReason::NotInPolicy,
            reason: String::new(),
            request: None,
        }
    }

    fn grant(&self, id: &str) -> Option<&'a Grant> {
        self.index.grants.get(id).copied()
    }

    fn create(&self, desired: &DesiredRule, after: Rule) -> ResourceChange {
        let mut change = self.change(&after.name.clone(), Action::Create, None, Some(after));
        change.target = Some(desired.target.clone());
        match &desired.origin {
            Origin::LockDown { port } => {
                change.action_reason = ActionReason::LockDown;
                change.reason = reason::lock_down(port, &desired.target);
            }
            Origin::Grant {
                request, expires, ..
            } => {
                change.action_reason = ActionReason::RequestActive;
                change.reason = reason::request_active(request, *expires, self.now);
                change.request = self.grant(request).map(request_info);
            }
        }
        change
    }

    fn update(
        &self,
        desired: &DesiredRule,
        before: &Rule,
        after: Rule,
        differing: &[&str],
    ) -> ResourceChange {
        let mut change = self.change(
            &before.name,
            Action::Update,
            Some(before.clone()),
            Some(after),
        );
        change.target = Some(desired.target.clone());
        change.action_reason = ActionReason::Drifted;
        change.reason = reason::DRIFTED.to_string();
        if let Origin::Grant {
            request, expires, ..
        } = &desired.origin
        {
            let grant = self.grant(request);
            change.request = grant.map(request_info);
            // Only the grant's window changed, in policy (not outside jit): say so.
            let same_request = before
                .description_field("request")
                .zip(grant)
                .is_some_and(|(field, grant)| refers_to(field, grant));
            if differing == ["description"] && same_request {
                change.action_reason = ActionReason::RequestActive;
                change.reason = reason::request_active(request, *expires, self.now);
            }
        }
        change
    }

    fn delete(&self, rule: &Rule) -> ResourceChange {
        let mut change = self.change(&rule.name, Action::Delete, Some(rule.clone()), None);
        let grant = rule
            .description_field("request")
            .and_then(|field| self.index.grant_of(field));
        let expires = rule
            .description_field("expires")
            .and_then(|e| e.parse::<Timestamp>().ok());
        (change.action_reason, change.reason) = match (expires, grant) {
            (Some(e), _) if e <= self.now => (
                ActionReason::RequestExpired,
                reason::request_expired(e, self.now),
            ),
            (_, Some(g)) if g.end() <= self.now => (
                ActionReason::RequestExpired,
                reason::request_ended(&g.id, g.end(), self.now),
            ),
            _ => (ActionReason::NotInPolicy, reason::NOT_IN_POLICY.to_string()),
        };
        change.request = grant.map(request_info);
        change.target = grant
            .map(|g| g.target.clone())
            .or_else(|| self.sole_target());
        change
    }

    /// The one NSG-shaped target of this NSG, when only one names it.
    fn sole_target(&self) -> Option<String> {
        match self.index.nsg_targets.get(&scope_key(&self.nsg.nsg_id)) {
            Some(targets) if targets.len() == 1 => Some(targets[0].name.clone()),
            _ => None,
        }
    }
}

fn request_info(grant: &Grant) -> RequestInfo {
    RequestInfo {
        id: grant.id.clone(),
        requester: grant.requester.clone(),
        approvers: grant.approvers.clone(),
        justification: grant.justification.clone(),
    }
}
