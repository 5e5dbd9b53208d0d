//! Pure: which security rule changes can only reduce access (*narrowing*), for a plan that has
//! errors (DESIGN §5b, "fail closed, revoke always"; `plan::narrowing` keeps only those).
//!
//! A change is **narrowing** when no packet that the NSG denied before it is allowed after it,
//! whatever the other rules of the NSG are. For a security rule that is exactly:
//!
//! - a **delete of an allow rule**: traffic it allowed falls through to later rules, which can
//!   only decide as before or deny;
//! - a **create of a deny rule** (a lock-down): it can only stop traffic that later rules would
//!   have decided;
//! - an **update to a deny rule** from an allow rule (delete of an allow + create of a deny), or
//!   from a deny rule that the new one *covers*: same direction, a priority number no higher
//!   (evaluated no later), and a protocol, source, source port, destination and destination
//!   port each `*` or holding every value the old rule had. Restoring a lock-down whose
//!   description or priority drifted is narrowing; moving it to another port is not (the old
//!   port would open).
//!
//! A managed allow rule whose own `expires=` has passed is revoked whatever else is wrong: when
//! the plan would update it (its grant was extended, or it drifted), a plan with errors deletes
//! it instead ([`Narrowing::Instead`]); the grant opens again once the errors are fixed.
//!
//! Everything else is **widening**: creating or changing an allow rule (even to a smaller
//! source: it cannot be told apart from opening it from the plan alone), deleting a deny rule,
//! and changing a deny rule into anything it does not cover. The covering test compares the
//! written values, so it is sound but conservative: `10.0.0.0/8` is not taken to cover
//! `10.1.0.0/16`, and such an update waits for an error-free configuration.

use jiff::Timestamp;

use super::names;
use super::rule::{Access, Rule};
use crate::plan::{reason, Action, ActionReason, ResourceChange};
use crate::platform::Narrowing;

/// How a security rule change fares in a plan with errors made at `now` (see the module doc).
pub fn narrowing(change: &ResourceChange, now: Timestamp) -> Narrowing {
    let rule = |side: &Option<crate::resource::Resource>| {
        side.as_ref().and_then(|r| Rule::from_resource(r).ok())
    };
    let (before, after) = (rule(&change.change.before), rule(&change.change.after));
    if is_narrowing(change.action(), before.as_ref(), after.as_ref()) {
        return Narrowing::Keep;
    }
    let expired = before
        .as_ref()
        .filter(|b| b.access == Access::Allow)
        .and_then(|b| names::expires(b.description.as_deref()))
        .filter(|e| *e <= now);
    match (change.action(), expired) {
        (Action::Update, Some(expired)) => {
            let mut revoke = change.clone();
            revoke.change.actions = vec![Action::Delete];
            revoke.change.after = None;
            revoke.action_reason = ActionReason::RequestExpired;
            revoke.reason = reason::request_expired(expired, now);
            Narrowing::Instead(Box::new(revoke))
        }
        _ => Narrowing::Drop,
    }
}

/// Whether a change with these sides can only reduce access (see the module doc).
pub fn is_narrowing(action: Action, before: Option<&Rule>, after: Option<&Rule>) -> bool {
    match action {
        Action::Delete => before.is_some_and(|b| b.access == Access::Allow),
        Action::Create => after.is_some_and(|a| a.access == Access::Deny),
        Action::Update => match (before, after) {
            (Some(b), Some(a)) if a.access == Access::Deny => {
                b.access == Access::Allow || covers(a, b)
            }
            _ => false,
        },
    }
}

/// Whether deny rule `a` stops, no later than deny rule `b`, every packet `b` stops.
fn covers(a: &Rule, b: &Rule) -> bool {
    let list_covers = |a: &[String], b: &[String]| {
        a.iter().any(|v| v == "*") || (!b.is_empty() && b.iter().all(|v| a.contains(v)))
    };
    // A deny limited to application security groups stops only their members.
    a.source_asgs.is_empty()
        && a.destination_asgs.is_empty()
        && a.direction == b.direction
        && a.priority <= b.priority
        && (a.protocol == "*" || a.protocol.eq_ignore_ascii_case(&b.protocol))
        && list_covers(&a.sources, &b.sources)
        && list_covers(&a.source_ports, &b.source_ports)
        && list_covers(&a.destinations, &b.destinations)
        && list_covers(&a.destination_ports, &b.destination_ports)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::narrowing::keep_narrowing;
    use crate::plan::Change;
    use crate::platform::nsg::Direction;

    fn narrows(change: &ResourceChange) -> bool {
        narrowing(change, crate::platform::nsg::tests::empty_plan().created_at) == Narrowing::Keep
    }

    fn rule(access: Access, port: &str, source: &str, priority: u16) -> Rule {
        Rule {
            name: "jit-x".into(),
            priority,
            direction: Direction::Inbound,
            access,
            protocol: "Tcp".into(),
            sources: vec![source.into()],
            source_ports: vec!["*".into()],
            destinations: vec!["10.0.0.4".into()],
            destination_ports: vec![port.into()],
            description: Some("managed-by=jit".into()),
            source_asgs: vec![],
            destination_asgs: vec![],
        }
    }

    fn change(action: Action, before: Option<Rule>, after: Option<Rule>) -> ResourceChange {
        ResourceChange {
            address: "n/jit-x".into(),
            provider: "snapshot.s".into(),
            scope: "/x/n".into(),
            name: "jit-x".into(),
            target: None,
            change: Change {
                actions: vec![action],
                before: before.map(|r| r.to_resource("/x/n")),
                after: after.map(|r| r.to_resource("/x/n")),
            },
            action_reason: ActionReason::NotInPolicy,
            reason: String::new(),
            request: None,
        }
    }

    const ALLOW: Access = Access::Allow;
    const DENY: Access = Access::Deny;

    #[test]
    fn deletes_of_allows_and_creates_of_denies_narrow() {
        let allow = rule(ALLOW, "22", "198.51.100.7/32", 100);
        let deny = rule(DENY, "22", "*", 4000);
        assert!(narrows(&change(Action::Delete, Some(allow.clone()), None)));
        assert!(narrows(&change(Action::Create, None, Some(deny.clone()))));
        assert!(!narrows(&change(Action::Delete, Some(deny), None)));
        assert!(!narrows(&change(Action::Create, None, Some(allow))));
    }

    #[test]
    fn updates_narrow_only_to_a_covering_deny() {
        let deny = rule(DENY, "22", "*", 4000);
        let allow = rule(ALLOW, "22", "198.51.100.7/32", 100);
        let update = |b: &Rule, a: &Rule| change(Action::Update, Some(b.clone()), Some(a.clone()));
        // A lock-down turned into an allow by hand, restored.
        assert!(narrows(&update(&allow, &deny)));
        // Description or priority drift of a lock-down, restored.
        let mut drifted = deny.clone();
        drifted.description = Some("edited".into());
        assert!(narrows(&update(&drifted, &deny)));
        let mut later = deny.clone();
        later.priority = 4050;
        assert!(narrows(&update(&later, &deny)));
        assert!(!narrows(&update(&deny, &later)), "evaluated later");
        // Moved to another port: the old one would open.
        let other_port = rule(DENY, "23", "*", 4000);
        assert!(!narrows(&update(&other_port, &deny)));
        // A narrower source or protocol in the new deny stops less.
        let narrow_source = rule(DENY, "22", "10.0.0.0/8", 4000);
        assert!(!narrows(&update(&deny, &narrow_source)));
        assert!(narrows(&update(&narrow_source, &deny)));
        let mut any = deny.clone();
        any.protocol = "*".into();
        assert!(narrows(&update(&deny, &any)));
        assert!(!narrows(&update(&any, &deny)));
        let mut outbound = deny.clone();
        outbound.direction = Direction::Outbound;
        assert!(!narrows(&update(&outbound, &deny)));
        // Any change of an allow, even to a smaller source, and a deny made allow, widen.
        let smaller = rule(ALLOW, "22", "198.51.100.7/32", 100);
        let wider = rule(ALLOW, "22", "0.0.0.0/0", 100);
        assert!(!narrows(&update(&wider, &smaller)));
        assert!(!narrows(&update(&smaller, &wider)));
        assert!(!narrows(&update(&deny, &allow)));
    }

    #[test]
    fn keep_narrowing_drops_the_rest() {
        let mut plan = crate::platform::nsg::tests::empty_plan();
        let allow = rule(ALLOW, "22", "198.51.100.7/32", 100);
        let deny = rule(DENY, "22", "*", 4000);
        plan.resource_changes = vec![
            change(Action::Create, None, Some(allow.clone())),
            change(Action::Delete, Some(allow), None),
            change(Action::Create, None, Some(deny.clone())),
            change(Action::Delete, Some(deny), None),
        ];
        keep_narrowing(&mut plan);
        let kept: Vec<(Action, Access)> = plan
            .resource_changes
            .iter()
            .map(|c| {
                let rule = c.change.after.as_ref().or(c.change.before.as_ref());
                (
                    c.action(),
                    Rule::from_resource(rule.unwrap()).unwrap().access,
                )
            })
            .collect();
        assert_eq!(kept, [(Action::Delete, ALLOW), (Action::Create, DENY)]);
    }

    #[test]
    fn an_allow_past_its_expires_is_deleted_rather_than_updated() {
        let mut plan = crate::platform::nsg::tests::empty_plan();
        let now = plan.created_at;
        let mut overdue = rule(ALLOW, "22", "198.51.100.7/32", 100);
        overdue.description = Some(format!(
            "managed-by=jit; request=INC-1; expires={}",
            now - jiff::SignedDuration::from_mins(5)
        ));
        let mut extended = overdue.clone();
        extended.description = Some(format!(
            "managed-by=jit; request=INC-1; expires={}",
            now + jiff::SignedDuration::from_hours(1)
        ));
        let mut current = overdue.clone();
        current.description = extended.description.clone();
        plan.resource_changes = vec![
            change(Action::Update, Some(overdue), Some(extended.clone())),
            change(Action::Update, Some(current), Some(extended)),
        ];
        keep_narrowing(&mut plan);
        assert_eq!(
            plan.resource_changes.len(),
            1,
            "the unexpired update widens"
        );
        let revoked = &plan.resource_changes[0];
        assert_eq!(revoked.action(), Action::Delete);
        assert_eq!(revoked.change.after, None);
        assert_eq!(revoked.action_reason, ActionReason::RequestExpired);
        assert_eq!(revoked.reason, "request expired 5m ago");
    }
}
