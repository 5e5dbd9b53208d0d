//! Pure: does a saved plan hold exactly the changes jit derives now? `ops::apply` re-derives
//! the plan from the configuration and live state and compares it with the file before
//! anything is written (DESIGN §5b, "plans are checked, not trusted"); what it then writes
//! comes from the derived plan, never from the file.
//!
//! Compared: the set of addresses, each change's action, its `after` resource's type and every
//! attribute value, and `valid_until`. Not compared, because nothing is taken
//! from the file: the human reason, `action_reason`, the request details, findings, and
//! `before` (the live rule: the fingerprints say whether live state moved).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::plan::{Plan, ResourceChange};

/// The first way `saved` differs from `derived`, in words naming the address and attribute;
/// `None` when the saved plan holds exactly the derived changes.
pub fn first_difference(saved: &Plan, derived: &Plan) -> Option<String> {
    if saved.valid_until != derived.valid_until {
        return Some(format!(
            "its `valid_until` is {}, jit would set {}",
            show_time(saved.valid_until),
            show_time(derived.valid_until)
        ));
    }
    let by_address = |plan: &Plan| -> BTreeMap<String, Vec<ResourceChange>> {
        let mut out: BTreeMap<String, Vec<ResourceChange>> = BTreeMap::new();
        for change in &plan.resource_changes {
            out.entry(change.address.clone())
                .or_default()
                .push(change.clone());
        }
        out
    };
    let (saved_changes, derived_changes) = (by_address(saved), by_address(derived));
    // Walk in the derived plan's order, then what only the file has.
    for change in &derived.resource_changes {
        let address = &change.address;
        let Some(theirs) = saved_changes.get(address) else {
            return Some(format!(
                "jit would {} `{address}`, which the plan file does not hold",
                change.action().verb()
            ));
        };
        if theirs.len() > 1 {
            return Some(format!(
                "the plan file holds {} changes of `{address}`",
                theirs.len()
            ));
        }
        if let Some(why) = change_difference(&theirs[0], change) {
            return Some(format!("`{address}`: {why}"));
        }
    }
    for (address, theirs) in &saved_changes {
        if !derived_changes.contains_key(address) {
            return Some(format!(
                "the plan file would {} `{address}`, which jit would not do",
                theirs[0].action().verb()
            ));
        }
    }
    prior_difference(saved, derived)
}

/// The managed rules live now against those the plan file's `planned_values` and `before`s
/// show: a policy over `planned_values` must read what is really there.
fn prior_difference(saved: &Plan, derived: &Plan) -> Option<String> {
    let rules = |plan: &Plan| -> BTreeMap<String, Value> {
        plan.prior
            .iter()
            .map(|p| (p.address.clone(), p.resource.to_value()))
            .collect()
    };
    let (theirs, ours) = (rules(saved), rules(derived));
    for (address, rule) in &ours {
        match theirs.get(address) {
            None => {
                return Some(format!(
                    "its `planned_values` leave out the managed rule `{address}`"
                ))
            }
            Some(saved_rule) => {
                if let Some(why) = attribute_difference(saved_rule, rule) {
                    return Some(format!("managed rule `{address}` as it is live: {why}"));
                }
            }
        }
    }
    theirs
        .keys()
        .find(|a| !ours.contains_key(*a))
        .map(|a| format!("its `planned_values` hold `{a}`, which is not a managed rule live"))
}

fn change_difference(saved: &ResourceChange, derived: &ResourceChange) -> Option<String> {
    if saved.action() != derived.action() {
        return Some(format!(
            "the plan file would {} it, jit would {} it",
            saved.action().verb(),
            derived.action().verb()
        ));
    }
    match (&saved.change.after, &derived.change.after) {
        (None, None) => None,
        (Some(_), None) => Some("the plan file has an `after` rule, jit would have none".into()),
        (None, Some(_)) => Some("the plan file has no `after` rule".into()),
        (Some(s), Some(d)) if s.type_name() != d.type_name() => Some(format!(
            "the plan file has a {}, jit would write a {}",
            s.type_name(),
            d.type_name()
        )),
        (Some(s), Some(d)) => attribute_difference(&s.to_value(), &d.to_value()),
    }
}

/// The first attribute of two rules in azurerm shape (`name`, then the others in the order
/// jit writes them) that differs.
fn attribute_difference(saved: &Value, derived: &Value) -> Option<String> {
    let empty = serde_json::Map::new();
    let (s, d) = (
        saved.as_object().unwrap_or(&empty),
        derived.as_object().unwrap_or(&empty),
    );
    let keys = std::iter::once(&"name".to_string())
        .chain(d.keys())
        .chain(s.keys().filter(|k| !d.contains_key(*k)))
        .cloned()
        .collect::<Vec<String>>();
    for key in keys {
        let (theirs, ours) = (
            s.get(&key).unwrap_or(&Value::Null),
            d.get(&key).unwrap_or(&Value::Null),
        );
        if theirs != ours {
            return Some(differs(&key, theirs, ours));
        }
    }
    None
}

fn differs(attribute: &str, saved: &Value, derived: &Value) -> String {
    format!(
        "`{attribute}` is {} in the plan file, jit would write {}",
        show(saved),
        show(derived)
    )
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "absent".to_string(),
        other => format!("`{other}`"),
    }
}

fn show_time(t: Option<jiff::Timestamp>) -> String {
    t.map_or_else(|| "null".to_string(), |t| format!("`{t}`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Action;
    use crate::platform::nsg::tests::{grant, live, plan, policy};

    fn derived() -> Plan {
        plan(
            &policy(vec![grant("INC-1", "2026-11-25T14:00:00Z", 2)]),
            &live(vec![]),
        )
    }

    #[test]
    fn the_same_plan_has_no_difference() {
        let d = derived();
        assert_eq!(d.resource_changes.len(), 2);
        assert_eq!(first_difference(&d, &d), None);
        // Reasons and request details are not compared: nothing is taken from them.
        let mut s = d.clone();
        s.resource_changes[0].reason = "forged".into();
        if let Some(r) = &mut s.resource_changes[0].request {
            r.requester = "mallory@example.com".into();
        }
        s.resource_changes.reverse();
        assert_eq!(first_difference(&s, &d), None);
    }

    #[test]
    fn each_tampering_is_named() {
        let d = derived();
        let allow = d
            .resource_changes
            .iter()
            .position(|c| c.name.contains("allow"))
            .unwrap();
        let check = |edit: &dyn Fn(&mut Plan), expected: &str| {
            let mut s = d.clone();
            edit(&mut s);
            let why = first_difference(&s, &d).expect("a difference");
            assert!(why.contains(expected), "{why}");
        };
        check(
            &|s| {
                s.resource_changes[allow]
                    .change
                    .after
                    .as_mut()
                    .unwrap()
                    .values
                    .insert("source_address_prefix".into(), "0.0.0.0/0".into());
            },
            "`nsg-a/jit-allow-INC-1-ssh`: `source_address_prefix` is `\"0.0.0.0/0\"` in the plan \
             file, jit would write `\"198.51.100.7/32\"`",
        );
        check(
            &|s| {
                s.resource_changes[allow]
                    .change
                    .after
                    .as_mut()
                    .unwrap()
                    .values
                    .insert("destination_port_range".into(), "0-65535".into());
            },
            "`destination_port_range`",
        );
        check(&|s| s.valid_until = None, "`valid_until` is null");
        check(
            &|s| {
                s.resource_changes.remove(allow);
            },
            "jit would create `nsg-a/jit-allow-INC-1-ssh`, which the plan file does not hold",
        );
        check(
            &|s| {
                let mut extra = s.resource_changes[allow].clone();
                extra.address = "nsg-a/backdoor".into();
                s.resource_changes.push(extra);
            },
            "the plan file would create `nsg-a/backdoor`, which jit would not do",
        );
        check(
            &|s| s.resource_changes[allow].change.actions = vec![Action::Delete],
            "the plan file would delete it, jit would create it",
        );
        check(
            &|s| {
                let twin = s.resource_changes[allow].clone();
                s.resource_changes.push(twin);
            },
            "holds 2 changes",
        );
    }
}
