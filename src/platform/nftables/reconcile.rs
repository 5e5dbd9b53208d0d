//! Desired table against the table as read: which elements to add and remove (each with the
//! time it has left), what was changed by hand (drift), and the one transaction that puts it
//! right. Pure.
//!
//! Elements change one by one; anything else that differs from what jit writes — a rule, chain
//! or set added or edited by hand, a missing table, a layer more for nested grants — replaces
//! the whole table in the same single transaction (`add table`, `delete table`, then everything
//! anew, every element with its remaining time), so there is never a moment without the table.
//!
//! Removing an element is written as `add` with a 1 s timeout, then `delete`: the add makes sure
//! the element exists, so a delete of one the kernel expired meanwhile cannot fail (ENOENT) and
//! abort the transaction. That is how "already expired" counts as success.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::layers::{assign, set_name, Layout};
use super::readback::{LiveElement, LiveTable};
use super::ruleset;
use super::spec::{ElementKey, Family, GrantElement, TableSpec};

/// How far (seconds) an element's remaining time may be from its grant's before it is put back:
/// whole-second timeouts rounded down at apply, and `expires` listed in whole seconds.
pub const TIMEOUT_SLACK: u64 = 3;

/// Why the whole table is written anew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rebuild {
    /// The table does not exist.
    Missing,
    /// Nested grants need one more layer of grant sets.
    NewLayer,
    /// Something other than an element differs from what jit writes: changed by hand.
    Drift(Vec<String>),
}

/// Why an element is added, removed or replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A grant with no element yet.
    Granted,
    /// An element no grant stands for (expired or revoked early, or added by hand).
    NotGranted,
    /// Not a `source . protocol . port` jit writes (a range, say): added by hand.
    Unreadable,
    /// The same key a second time, in another layer.
    Duplicate,
    /// The kernel would keep it open longer than its grant (`live` seconds, `None`: forever).
    TimeoutLonger { live: Option<u64>, granted: u64 },
    /// The kernel would close it before its grant ends (the grant was extended, or a hand edit).
    TimeoutShorter { live: u64, granted: u64 },
    /// Its comment does not name the request that grants it.
    CommentChanged { live: Option<String> },
}

impl Reason {
    /// Whether the reason is a change made outside jit.
    pub fn is_drift(&self) -> bool {
        matches!(
            self,
            Reason::Unreadable
                | Reason::Duplicate
                | Reason::TimeoutLonger { .. }
                | Reason::CommentChanged { .. }
        )
    }
}

/// An element to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Add {
    pub set: String,
    pub grant: GrantElement,
}

/// A live element to remove.
#[derive(Debug, Clone, PartialEq)]
pub struct Remove {
    pub element: LiveElement,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Add {
        add: Add,
        reason: Reason,
    },
    Remove {
        remove: Remove,
        reason: Reason,
    },
    /// Remove, then add the same key with the grant's timeout and comment.
    Replace {
        remove: Remove,
        add: Add,
        reason: Reason,
    },
}

impl Change {
    pub fn reason(&self) -> &Reason {
        match self {
            Change::Add { reason, .. }
            | Change::Remove { reason, .. }
            | Change::Replace { reason, .. } => reason,
        }
    }

    /// One line for humans: `+ 192.0.2.9/32 . tcp . 22 (grants4_0) INC-1, 59m left`.
    pub fn describe(&self) -> String {
        let left = |secs: u64| crate::duration::span(jiff::SignedDuration::from_secs(secs as i64));
        let live = |r: &Remove| {
            let what = r
                .element
                .key
                .map(|k| k.to_string())
                .unwrap_or_else(|| r.element.val.to_string());
            let comment = r.element.comment.as_deref().unwrap_or("no comment");
            match r.element.expires {
                Some(s) => format!("{what} ({}) {comment}, {} left", r.element.set, left(s)),
                None => format!("{what} ({}) {comment}, no timeout", r.element.set),
            }
        };
        let new = |a: &Add| {
            format!(
                "{} ({}) {}, {} left",
                a.grant.key,
                a.set,
                a.grant.comment,
                left(a.grant.timeout)
            )
        };
        let why = describe_reason(self.reason());
        match self {
            Change::Add { add, .. } => format!("+ {}: {why}", new(add)),
            Change::Remove { remove, .. } => format!("- {}: {why}", live(remove)),
            Change::Replace { add, .. } => format!("~ {}: {why}", new(add)),
        }
    }
}

fn describe_reason(reason: &Reason) -> String {
    let span = |secs: u64| crate::duration::span(jiff::SignedDuration::from_secs(secs as i64));
    match reason {
        Reason::Granted => "granted".to_string(),
        Reason::NotGranted => "no grant stands for it".to_string(),
        Reason::Unreadable => "not an element jit writes".to_string(),
        Reason::Duplicate => "a second copy of a granted element".to_string(),
        Reason::TimeoutLonger {
            live: None,
            granted,
        } => {
            format!("it has no timeout; the grant ends in {}", span(*granted))
        }
        Reason::TimeoutLonger {
            live: Some(live),
            granted,
        } => format!(
            "the kernel keeps it {}, longer than its grant ({})",
            span(*live),
            span(*granted)
        ),
        Reason::TimeoutShorter { live, granted } => format!(
            "the kernel closes it in {}, before its grant ends ({})",
            span(*live),
            span(*granted)
        ),
        Reason::CommentChanged { live } => format!(
            "its comment is `{}`, not the request granting it",
            live.as_deref().unwrap_or("")
        ),
    }
}

/// What it takes to make the live table the desired one.
#[derive(Debug, Clone, PartialEq)]
pub struct TablePlan {
    pub table: String,
    /// Set when the whole table is written anew.
    pub rebuild: Option<Rebuild>,
    /// In a stable order: removals first, then replacements, then adds, each by set and key.
    pub changes: Vec<Change>,
    /// Where every desired element lives after the apply.
    pub layout: Layout,
    /// Elements to remove that no request of the policy names: added by hand.
    pub strangers: Vec<String>,
}

impl TablePlan {
    pub fn is_empty(&self) -> bool {
        self.rebuild.is_none() && self.changes.is_empty()
    }

    /// Everything changed by hand, in words: rules, chains and sets that are not jit's, elements
    /// nobody granted, timeouts longer than their grant.
    pub fn drift(&self) -> Vec<String> {
        let mut drift = match &self.rebuild {
            Some(Rebuild::Drift(what)) => what.clone(),
            _ => Vec::new(),
        };
        for change in &self.changes {
            if change.reason().is_drift() {
                drift.push(change.describe());
            }
        }
        drift.extend(self.strangers.iter().cloned());
        drift
    }
}

/// The plan that makes `live` (None: no such table) into `spec`.
pub fn plan(spec: &TableSpec, live: Option<&LiveTable>) -> TablePlan {
    let mut plan = plan_changes(spec, live);
    plan.strangers = plan
        .changes
        .iter()
        .filter(|c| match c {
            Change::Remove {
                remove,
                reason: Reason::NotGranted,
            } => !remove
                .element
                .comment
                .as_deref()
                .is_some_and(|c| spec.knows(c)),
            _ => false,
        })
        .map(|c| format!("{} (no request of the policy)", c.describe()))
        .collect();
    plan
}

fn plan_changes(spec: &TableSpec, live: Option<&LiveTable>) -> TablePlan {
    let wanted: Vec<ElementKey> = spec.grants.iter().map(|g| g.key).collect();
    let Some(live) = live else {
        return rebuild(spec, None, Rebuild::Missing);
    };
    let placed: Vec<(ElementKey, usize)> = live
        .elements
        .iter()
        .filter_map(|e| match (e.key, e.layer) {
            (Some(key), Some((family, layer))) if key.family() == family => Some((key, layer)),
            _ => None,
        })
        .collect();
    let existing = (live.layers(Family::V4), live.layers(Family::V6));
    let layout = assign(&wanted, &placed, existing);
    let differences = structure_differences(&live.objects, &ruleset::objects(spec, &layout));
    if !differences.is_empty() {
        let grown = layout.layers4 > existing.0 || layout.layers6 > existing.1;
        let only_growth = grown && {
            let same_layers = assign(&[], &[], existing);
            let before = ruleset::objects(spec, &same_layers);
            structure_differences(&live.objects, &before).is_empty()
        };
        let why = if only_growth {
            Rebuild::NewLayer
        } else {
            Rebuild::Drift(differences)
        };
        return rebuild(spec, Some(live), why);
    }
    element_changes(spec, live, layout)
}

fn rebuild(spec: &TableSpec, live: Option<&LiveTable>, why: Rebuild) -> TablePlan {
    let wanted: Vec<ElementKey> = spec.grants.iter().map(|g| g.key).collect();
    let layout = assign(&wanted, &[], (0, 0));
    let desired: BTreeSet<ElementKey> = wanted.iter().copied().collect();
    let mut changes = Vec::new();
    for element in live.map(|l| l.elements.as_slice()).unwrap_or_default() {
        let reason = match element.key {
            None => Reason::Unreadable,
            Some(key) if !desired.contains(&key) => Reason::NotGranted,
            Some(_) => continue,
        };
        changes.push(Change::Remove {
            remove: Remove {
                element: element.clone(),
            },
            reason,
        });
    }
    for grant in &spec.grants {
        changes.push(Change::Add {
            add: Add {
                set: set_name(grant.key.family(), layout.placement[&grant.key]),
                grant: grant.clone(),
            },
            reason: Reason::Granted,
        });
    }
    TablePlan {
        table: spec.table.clone(),
        rebuild: Some(why),
        changes,
        layout,
        strangers: Vec::new(),
    }
}

fn element_changes(spec: &TableSpec, live: &LiveTable, layout: Layout) -> TablePlan {
    let desired: BTreeMap<ElementKey, &GrantElement> =
        spec.grants.iter().map(|g| (g.key, g)).collect();
    let mut removes = Vec::new();
    let mut replaces = Vec::new();
    let mut kept: BTreeSet<ElementKey> = BTreeSet::new();
    for element in &live.elements {
        let remove = Remove {
            element: element.clone(),
        };
        let (Some(key), Some((_, layer))) = (element.key, element.layer) else {
            removes.push(Change::Remove {
                remove,
                reason: Reason::Unreadable,
            });
            continue;
        };
        let Some(want) = desired.get(&key) else {
            removes.push(Change::Remove {
                remove,
                reason: Reason::NotGranted,
            });
            continue;
        };
        if layout.placement.get(&key) != Some(&layer) || !kept.insert(key) {
            removes.push(Change::Remove {
                remove,
                reason: Reason::Duplicate,
            });
            continue;
        }
        let reason = if element.comment.as_deref() != Some(want.comment.as_str()) {
            Some(Reason::CommentChanged {
                live: element.comment.clone(),
            })
        } else {
            match element.expires {
                None => Some(Reason::TimeoutLonger {
                    live: None,
                    granted: want.timeout,
                }),
                Some(left) if left > want.timeout + TIMEOUT_SLACK => Some(Reason::TimeoutLonger {
                    live: Some(left),
                    granted: want.timeout,
                }),
                Some(left) if left + TIMEOUT_SLACK < want.timeout => Some(Reason::TimeoutShorter {
                    live: left,
                    granted: want.timeout,
                }),
                Some(_) => None,
            }
        };
        if let Some(reason) = reason {
            let add = Add {
                set: element.set.clone(),
                grant: (*want).clone(),
            };
            replaces.push(Change::Replace {
                remove,
                add,
                reason,
            });
        }
    }
    let adds = spec
        .grants
        .iter()
        .filter(|g| !kept.contains(&g.key))
        .map(|grant| Change::Add {
            add: Add {
                set: set_name(grant.key.family(), layout.placement[&grant.key]),
                grant: grant.clone(),
            },
            reason: Reason::Granted,
        });
    let mut changes = removes;
    changes.extend(replaces);
    changes.extend(adds);
    TablePlan {
        table: spec.table.clone(),
        rebuild: None,
        changes,
        layout,
        strangers: Vec::new(),
    }
}

/// What differs between the objects listed and the objects jit writes, in words; empty when
/// they are the same (rules in the same order, chains and sets in any).
fn structure_differences(live: &[Value], desired: &[Value]) -> Vec<String> {
    let canon = |v: &Value| {
        let mut text = String::new();
        crate::digest::canonical_json(v, &mut text);
        text
    };
    let is_rule = |v: &Value| v.get("rule").is_some();
    let mut differences = Vec::new();
    let live_other: BTreeSet<String> = live.iter().filter(|v| !is_rule(v)).map(canon).collect();
    let want_other: BTreeSet<String> = desired.iter().filter(|v| !is_rule(v)).map(canon).collect();
    let label = |v: &Value| {
        let (kind, body) = v
            .as_object()
            .and_then(|o| o.iter().next())
            .expect("an object");
        let name = body.get("name").and_then(Value::as_str).unwrap_or("?");
        format!("{kind} `{name}`")
    };
    for v in desired.iter().filter(|v| !is_rule(v)) {
        if !live_other.contains(&canon(v)) {
            differences.push(format!("{} is missing or not as jit writes it", label(v)));
        }
    }
    for v in live.iter().filter(|v| !is_rule(v)) {
        if !want_other.contains(&canon(v)) {
            differences.push(format!("{} is not jit's", label(v)));
        }
    }
    let live_rules: Vec<&Value> = live.iter().filter(|v| is_rule(v)).collect();
    let want_rules: Vec<&Value> = desired.iter().filter(|v| is_rule(v)).collect();
    let describe_rule = |v: &Value| {
        let rule = &v["rule"];
        match rule.get("comment").and_then(Value::as_str) {
            Some(c) => format!(
                "rule `{c}` in chain `{}`",
                rule["chain"].as_str().unwrap_or("?")
            ),
            None => {
                let mut expr = rule.get("expr").map(|e| e.to_string()).unwrap_or_default();
                if expr.len() > 120 {
                    let mut cut = 117;
                    while !expr.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    expr.truncate(cut);
                    expr.push_str("...");
                }
                format!(
                    "rule {expr} in chain `{}`",
                    rule["chain"].as_str().unwrap_or("?")
                )
            }
        }
    };
    let want_set: BTreeSet<String> = want_rules.iter().map(|v| canon(v)).collect();
    let live_set: BTreeSet<String> = live_rules.iter().map(|v| canon(v)).collect();
    for rule in &live_rules {
        if !want_set.contains(&canon(rule)) {
            differences.push(format!("{} is not jit's", describe_rule(rule)));
        }
    }
    for rule in &want_rules {
        if !live_set.contains(&canon(rule)) {
            differences.push(format!("{} is missing", describe_rule(rule)));
        }
    }
    let order = |rules: &[&Value]| rules.iter().map(|v| canon(v)).collect::<Vec<_>>();
    if differences.is_empty() && order(&live_rules) != order(&want_rules) {
        differences.push("the rules of chain `input` are not in jit's order".to_string());
    }
    differences
}

/// The `nft -j -f` document carrying out `plan`; `None` when there is nothing to do.
pub fn transaction(spec: &TableSpec, plan: &TablePlan) -> Option<Value> {
    if plan.is_empty() {
        return None;
    }
    let t = &spec.table;
    let mut commands = Vec::new();
    let mut adds: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    let mut removes: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for change in &plan.changes {
        match change {
            Change::Add { add, .. } => adds.entry(&add.set).or_default().push(new_element(add)),
            Change::Remove { remove, .. } => removes
                .entry(&remove.element.set)
                .or_default()
                .push(remove.element.val.clone()),
            Change::Replace { remove, add, .. } => {
                removes
                    .entry(&remove.element.set)
                    .or_default()
                    .push(remove.element.val.clone());
                adds.entry(&add.set).or_default().push(new_element(add));
            }
        }
    }
    if plan.rebuild.is_some() {
        commands.push(ruleset::add(ruleset::table(t)));
        commands.push(ruleset::delete_table(t));
        commands.push(ruleset::add(ruleset::table(t)));
        commands.extend(
            ruleset::objects(spec, &plan.layout)
                .into_iter()
                .map(ruleset::add),
        );
    } else {
        for (set, vals) in removes {
            let refresh = vals
                .iter()
                .map(|v| ruleset::element(v.clone(), 1, None))
                .collect();
            commands.push(ruleset::add_elements(t, set, refresh));
            commands.push(ruleset::delete_elements(t, set, vals));
        }
    }
    for (set, elems) in adds {
        commands.push(ruleset::add_elements(t, set, elems));
    }
    Some(ruleset::document(commands))
}

fn new_element(add: &Add) -> Value {
    ruleset::element(
        ruleset::value(&add.grant.key),
        add.grant.timeout,
        Some(&add.grant.comment),
    )
}

#[cfg(test)]
mod tests {
    use super::super::readback::parse;
    use super::super::spec::{GrantInput, GuardedPort, Proto, DEFAULT_PRIORITY};
    use super::*;
    use serde_json::json;

    const SSH: GuardedPort = GuardedPort {
        proto: Proto::Tcp,
        port: 22,
    };

    fn spec(grants: &[(&str, &str, u64)]) -> TableSpec {
        TableSpec::new(
            "jit",
            DEFAULT_PRIORITY,
            [SSH],
            grants.iter().map(|(request, source, secs)| GrantInput {
                request: request.to_string(),
                source: source.parse().unwrap(),
                port: SSH,
                remaining_secs: *secs,
            }),
        )
    }

    /// The listing nft would print after applying `applied` (elements given as listed:
    /// set, value, timeout, expires, comment).
    fn listing(applied: &TableSpec, layers: (usize, usize), elements: &[Value]) -> LiveTable {
        let layout = assign(&[], &[], layers);
        let mut items = vec![json!({"table": {"family": "inet", "name": "jit", "handle": 1}})];
        for mut object in ruleset::objects(applied, &layout) {
            if let Some(set) = object.get_mut("set") {
                let name = set["name"].as_str().unwrap().to_string();
                let mine: Vec<Value> = elements
                    .iter()
                    .filter(|e| e["set"] == json!(name))
                    .map(|e| e["elem"].clone())
                    .collect();
                if !mine.is_empty() {
                    set["elem"] = json!(mine);
                }
            }
            items.push(object);
        }
        parse("jit", &json!({ "nftables": items }).to_string()).unwrap()
    }

    fn listed(set: &str, source: &str, timeout: u64, expires: u64, comment: &str) -> Value {
        let (addr, len) = source.split_once('/').unwrap();
        json!({"set": set, "elem": {"elem": {
            "val": {"concat": [{"prefix": {"addr": addr, "len": len.parse::<u8>().unwrap()}}, "tcp", 22]},
            "timeout": timeout, "expires": expires, "comment": comment}}})
    }

    #[test]
    fn a_missing_table_is_created_with_every_grant() {
        let want = spec(&[
            ("INC-1", "192.0.2.9/32", 60),
            ("INC-2", "2001:db8::/48", 90),
        ]);
        let plan = plan(&want, None);
        assert_eq!(plan.rebuild, Some(Rebuild::Missing));
        assert_eq!(plan.changes.len(), 2);
        let doc = transaction(&want, &plan).unwrap();
        let commands = doc["nftables"].as_array().unwrap();
        assert_eq!(
            commands[0],
            json!({"add": {"table": {"family": "inet", "name": "jit"}}})
        );
        assert_eq!(
            commands[1],
            json!({"delete": {"table": {"family": "inet", "name": "jit"}}})
        );
        assert!(plan.drift().is_empty());
    }

    #[test]
    fn a_table_as_applied_plans_nothing() {
        let want = spec(&[("INC-1", "192.0.2.9/32", 60)]);
        let live = listing(
            &want,
            (1, 1),
            &[listed("grants4_0", "192.0.2.9/32", 60, 58, "INC-1")],
        );
        let plan = plan(&want, Some(&live));
        assert!(plan.is_empty(), "{:?}", plan.changes);
        assert_eq!(transaction(&want, &plan), None);
    }

    #[test]
    fn expired_grants_are_removed_by_refresh_then_delete() {
        let want = spec(&[]);
        let live = listing(
            &want,
            (1, 1),
            &[listed("grants4_0", "192.0.2.9/32", 60, 2, "INC-1")],
        );
        let plan = plan(&want, Some(&live));
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(plan.changes[0].reason(), &Reason::NotGranted);
        let doc = transaction(&want, &plan).unwrap();
        let commands = doc["nftables"].as_array().unwrap();
        assert_eq!(commands.len(), 2);
        assert_eq!(
            commands[0]["add"]["element"]["elem"][0]["elem"]["timeout"],
            json!(1)
        );
        assert!(commands[1]["delete"]["element"].is_object());
        assert_eq!(
            plan.drift().len(),
            1,
            "no request of the policy names INC-1"
        );
        let known = spec(&[]).with_known_requests(["INC-1"]);
        assert!(
            super::plan(&known, Some(&live)).drift().is_empty(),
            "a grant's own element is no drift"
        );
    }

    #[test]
    fn hand_changes_are_drift_and_put_back() {
        let want = spec(&[("INC-1", "192.0.2.9/32", 60)]);
        let live = listing(
            &want,
            (1, 1),
            &[
                listed("grants4_0", "192.0.2.9/32", 86_400, 86_000, "INC-1"),
                listed("grants4_0", "198.51.100.0/24", 600, 500, ""),
            ],
        );
        let plan = plan(&want, Some(&live));
        let drift = plan.drift();
        assert_eq!(drift.len(), 2, "{drift:?}");
        assert!(
            drift.iter().any(|d| d.contains("longer than its grant")),
            "{drift:?}"
        );
        assert!(
            drift.iter().any(|d| d.contains("198.51.100.0/24")),
            "{drift:?}"
        );
        let doc = transaction(&want, &plan).unwrap().to_string();
        assert!(doc.contains("\"timeout\":60"), "{doc}");
    }

    #[test]
    fn an_extra_rule_rebuilds_the_table_as_drift() {
        let want = spec(&[("INC-1", "192.0.2.9/32", 60)]);
        let mut live = listing(
            &want,
            (1, 1),
            &[listed("grants4_0", "192.0.2.9/32", 60, 59, "INC-1")],
        );
        live.objects.insert(
            1,
            json!({"rule": {"family": "inet", "table": "jit", "chain": "input",
                "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"accept": null}]}}),
        );
        let plan = plan(&want, Some(&live));
        match &plan.rebuild {
            Some(Rebuild::Drift(what)) => assert!(what[0].contains("is not jit's"), "{what:?}"),
            other => panic!("expected drift, got {other:?}"),
        }
        assert_eq!(plan.drift().len(), 1);
    }

    #[test]
    fn a_grant_inside_a_live_wider_one_opens_a_new_layer() {
        let before = spec(&[("INC-1", "192.0.2.0/25", 600)]);
        let live = listing(
            &before,
            (1, 1),
            &[listed("grants4_0", "192.0.2.0/25", 600, 590, "INC-1")],
        );
        let want = spec(&[
            ("INC-1", "192.0.2.0/25", 590),
            ("INC-2", "192.0.2.9/32", 60),
        ]);
        let plan = plan(&want, Some(&live));
        assert_eq!(plan.rebuild, Some(Rebuild::NewLayer));
        assert_eq!(plan.layout.layers4, 2);
        assert!(plan.drift().is_empty());
    }

    #[test]
    fn an_extended_grant_replaces_its_element() {
        let want = spec(&[("INC-1", "192.0.2.9/32", 7200)]);
        let live = listing(
            &want,
            (1, 1),
            &[listed("grants4_0", "192.0.2.9/32", 600, 500, "INC-1")],
        );
        let plan = plan(&want, Some(&live));
        assert!(matches!(
            plan.changes[0],
            Change::Replace {
                reason: Reason::TimeoutShorter { .. },
                ..
            }
        ));
        assert!(plan.changes[0]
            .describe()
            .starts_with("~ 192.0.2.9/32 . tcp . 22 (grants4_0) INC-1, 2h left"));
    }
}
