//! Before anything is written: the planned changes of one table back into the one transaction
//! that carries them out, each checked to be exactly what jit writes — an element of one of
//! jit's grant sets keyed `source . protocol . port`, naming its request, closing no later than
//! its grant's end; a removal of an element the table holds; the table itself, written anew.
//! Pure: the clock is an argument.
//!
//! The timeout of an element jit adds is counted here, from the instant of the commit (the
//! caller's clock) to the element's `expires` (its grant's end), in whole seconds rounded down:
//! the kernel closes it up to a second early and never late, however long after the plan the
//! apply runs.

use std::collections::{BTreeMap, HashMap};

use ipnet::IpNet;
use jiff::Timestamp;
use serde_json::Value;

use super::layers::{parse_set_name, Layout};
use super::readback::{LiveElement, LiveTable};
use super::reconcile::{self, Add, Change, Reason, Rebuild, Remove, TablePlan};
use super::resources::{self, ELEMENT_TYPE, TABLE_TYPE};
use super::spec::{ElementKey, GrantElement, GuardedPort, Proto, TableSpec, COMMENT_MAX};
use crate::plan::{Action, ResourceChange};
use crate::resource::Resource;

/// What a table's changes come to.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The `nft -j -f` document; `None` when nothing is left to write.
    pub document: Option<Value>,
    /// The changes (by index) that add an element whose grant ended before the apply: there
    /// is nothing left to open, so they are not written.
    pub ended: Vec<usize>,
}

/// Why change `index` is not one jit writes to this table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refused {
    pub index: usize,
    pub message: String,
}

/// The transaction carrying out `changes` (all of table `table`) on `live` (as read right
/// before, `None`: no such table) at `now`.
pub fn transaction(
    table: &str,
    changes: &[&ResourceChange],
    live: Option<&LiveTable>,
    now: Timestamp,
) -> Result<Written, Refused> {
    // Live elements by the name their resource has, for removals.
    let by_name: HashMap<String, &LiveElement> = live
        .into_iter()
        .flat_map(|l| &l.elements)
        .map(|e| (resources::live_element(table, e).name().to_string(), e))
        .collect();
    let mut rebuild: Option<(Vec<GuardedPort>, i32)> = None;
    let mut planned = Vec::new();
    let mut ended = Vec::new();
    for (index, change) in changes.iter().enumerate() {
        let refuse = |message: String| Refused {
            index,
            message: format!("`{}`: {message}", change.address),
        };
        let resource = change
            .change
            .after
            .as_ref()
            .or(change.change.before.as_ref())
            .ok_or_else(|| refuse("a change with neither `before` nor `after`".into()))?;
        match (resource.type_name(), change.action()) {
            (TABLE_TYPE, Action::Create | Action::Update) => {
                let after = change
                    .change
                    .after
                    .as_ref()
                    .ok_or_else(|| refuse("writing the table needs its `after`".into()))?;
                rebuild = Some(table_of(after, table).map_err(refuse)?);
            }
            (ELEMENT_TYPE, action @ (Action::Create | Action::Delete | Action::Update)) => {
                let remove = match action {
                    Action::Create => None,
                    _ => Some(live_element(change, table, &by_name).map_err(&refuse)?),
                };
                let add = match action {
                    Action::Delete => None,
                    _ => {
                        let after = change
                            .change
                            .after
                            .as_ref()
                            .ok_or_else(|| refuse("an element add needs its `after`".into()))?;
                        let add = new_element(after, table, now).map_err(&refuse)?;
                        // An update whose grant ended is still a removal, written.
                        if add.is_none() && action == Action::Create {
                            ended.push(index);
                        }
                        add
                    }
                };
                let planned_change = match (remove, add) {
                    (Some(remove), Some(add)) => Change::Replace {
                        remove,
                        add,
                        reason: Reason::Granted,
                    },
                    (Some(remove), None) => Change::Remove {
                        remove,
                        reason: Reason::NotGranted,
                    },
                    (None, Some(add)) => Change::Add {
                        add,
                        reason: Reason::Granted,
                    },
                    // An add whose grant ended: nothing to write.
                    (None, None) => continue,
                };
                planned.push((index, planned_change));
            }
            (type_name, action) => {
                return Err(refuse(format!(
                    "jit does not {} a `{type_name}`",
                    action.verb()
                )))
            }
        }
    }
    if rebuild.is_none() {
        // Element changes alone go into the sets that are there.
        let present = |set: &str| {
            live.is_some_and(|l| {
                l.objects
                    .iter()
                    .any(|o| o.pointer("/set/name").and_then(Value::as_str) == Some(set))
            })
        };
        for (index, change) in &planned {
            if let Change::Add { add, .. } | Change::Replace { add, .. } = change {
                if !present(&add.set) {
                    return Err(Refused {
                        index: *index,
                        message: format!(
                            "set `{}` is not in table `inet {table}`: only a table written anew \
                             gains a set",
                            add.set
                        ),
                    });
                }
            }
        }
    }
    let planned: Vec<Change> = planned.into_iter().map(|(_, c)| c).collect();
    let adds: Vec<&Add> = planned
        .iter()
        .filter_map(|c| match c {
            Change::Add { add, .. } | Change::Replace { add, .. } => Some(add),
            Change::Remove { .. } => None,
        })
        .collect();
    let (ports, priority) = rebuild.clone().unwrap_or_default();
    let spec = TableSpec {
        table: table.to_string(),
        priority,
        ports,
        grants: adds.iter().map(|a| a.grant.clone()).collect(),
        known: Default::default(),
    };
    let layout = layout(&adds);
    let plan = TablePlan {
        table: table.to_string(),
        rebuild: rebuild.map(|_| match live {
            None => Rebuild::Missing,
            Some(_) => Rebuild::Drift(Vec::new()),
        }),
        changes: planned,
        layout,
        strangers: Vec::new(),
    };
    Ok(Written {
        document: reconcile::transaction(&spec, &plan),
        ended,
    })
}

/// The guarded ports and hook priority of the table as jit writes it.
fn table_of(after: &Resource, table: &str) -> Result<(Vec<GuardedPort>, i32), String> {
    if after.str("name") != Some(table) {
        return Err(format!(
            "the table is `{}`, not `{table}`",
            after.str("name").unwrap_or_default()
        ));
    }
    let ports = after
        .get("ports")
        .as_array()
        .ok_or("the table has no `ports`")?
        .iter()
        .map(|p| {
            let text = p.as_str().unwrap_or_default();
            let parsed = text.split_once('/').and_then(|(proto, port)| {
                Some(GuardedPort {
                    proto: Proto::parse(proto)?,
                    port: port.parse().ok()?,
                })
            });
            parsed.ok_or_else(|| format!("`{p}` is not a port as `tcp/22`"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let priority = after
        .get("priority")
        .as_i64()
        .and_then(|p| i32::try_from(p).ok())
        .ok_or("the table has no `priority`")?;
    Ok((ports, priority))
}

/// The live element a removal or replacement names.
fn live_element(
    change: &ResourceChange,
    table: &str,
    by_name: &HashMap<String, &LiveElement>,
) -> Result<Remove, String> {
    let before = change
        .change
        .before
        .as_ref()
        .ok_or("removing an element needs its `before`")?;
    let element = by_name
        .get(before.name())
        .ok_or_else(|| format!("element `{}` is not in table `inet {table}`", before.name()))?;
    Ok(Remove {
        element: (*element).clone(),
    })
}

/// The element an add writes, with its timeout counted from `now`; `None` when its grant has
/// already ended.
fn new_element(after: &Resource, table: &str, now: Timestamp) -> Result<Option<Add>, String> {
    if after.str("table") != Some(table) {
        return Err(format!(
            "the element is of table `{}`, not `{table}`",
            after.str("table").unwrap_or_default()
        ));
    }
    let source: IpNet = after
        .str("source")
        .and_then(|s| s.parse().ok())
        .ok_or("the element has no `source` network")?;
    let proto = after
        .str("protocol")
        .and_then(Proto::parse)
        .ok_or("the element's `protocol` is neither `tcp` nor `udp`")?;
    let port = after
        .get("port")
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .ok_or("the element has no `port`")?;
    let key = ElementKey::new(source, proto, port);
    let set = after.str("set").unwrap_or_default();
    match parse_set_name(set) {
        Some((family, _)) if family == key.family() => {}
        _ => return Err(format!("`{set}` is not a grant set of the source's family")),
    }
    if after.name() != format!("{set}:{key}") || source != key.source {
        return Err(format!("its name `{}` is not `{set}:{key}`", after.name()));
    }
    let comment = after
        .str("comment")
        .filter(|c| !c.is_empty() && c.len() <= COMMENT_MAX)
        .ok_or("the element does not name its request in `comment`")?;
    if !after.get("timeout").is_null() {
        return Err("an element jit adds carries `expires`, not `timeout`".into());
    }
    let expires: Timestamp = after
        .str("expires")
        .and_then(|t| t.parse().ok())
        .ok_or("the element has no `expires` time")?;
    let left = expires.duration_since(now).as_secs();
    if left < 1 {
        return Ok(None);
    }
    Ok(Some(Add {
        set: set.to_string(),
        grant: GrantElement {
            key,
            timeout: left as u64,
            comment: comment.to_string(),
        },
    }))
}

/// Where the adds go, for a table written anew: each in the set its change names; every family
/// has at least one layer and as many as the adds use.
fn layout(adds: &[&Add]) -> Layout {
    let mut layout = Layout {
        placement: BTreeMap::new(),
        layers4: 1,
        layers6: 1,
    };
    for add in adds {
        if let Some((family, layer)) = parse_set_name(&add.set) {
            layout.placement.insert(add.grant.key, layer);
            let layers = match family {
                super::spec::Family::V4 => &mut layout.layers4,
                super::spec::Family::V6 => &mut layout.layers6,
            };
            *layers = (*layers).max(layer + 1);
        }
    }
    layout
}

#[cfg(test)]
mod tests {
    use super::super::fixture::policy;
    use super::super::layers::assign;
    use super::super::readback::parse;
    use super::super::ruleset;
    use super::*;
    use crate::live::{Live, Scope};
    use crate::platform::Content;
    use serde_json::json;

    fn at(t: &str) -> Timestamp {
        t.parse().unwrap()
    }

    /// The plan's changes at `now` against `live`.
    fn planned(live: Option<LiveTable>, now: Timestamp) -> Vec<ResourceChange> {
        let policy = policy();
        let mut scopes = Live::default();
        scopes.insert(Scope {
            id: "nftables:jit".into(),
            name: "jit".into(),
            fingerprint: "x".into(),
            content: Content::Nftables(live),
        });
        let desired = crate::platform::compile(&policy, now);
        crate::platform::diff(&policy, &desired, &scopes, now).resource_changes
    }

    /// jit's table with one layer per family and these elements (set, value, timeout, comment),
    /// as nft lists it.
    fn listed(elements: &[(&str, Value, u64, &str)]) -> LiveTable {
        let spec = TableSpec::new(
            "jit",
            super::super::spec::DEFAULT_PRIORITY,
            [GuardedPort {
                proto: Proto::Tcp,
                port: 22,
            }],
            [],
        );
        let mut items = vec![json!({"table": {"family": "inet", "name": "jit", "handle": 1}})];
        for mut object in ruleset::objects(&spec, &assign(&[], &[], (1, 1))) {
            if let Some(set) = object.get_mut("set") {
                let name = set["name"].as_str().unwrap().to_string();
                let elem: Vec<Value> = elements
                    .iter()
                    .filter(|e| e.0 == name)
                    .map(|(_, val, timeout, comment)| {
                        json!({"elem": {"val": val, "timeout": timeout, "expires": timeout - 1, "comment": comment}})
                    })
                    .collect();
                if !elem.is_empty() {
                    set["elem"] = json!(elem);
                }
            }
            items.push(object);
        }
        parse("jit", &json!({ "nftables": items }).to_string()).unwrap()
    }

    fn refs(changes: &[ResourceChange]) -> Vec<&ResourceChange> {
        changes.iter().collect()
    }

    #[test]
    fn an_add_is_timed_from_the_clock_at_apply_to_its_grants_end() {
        let changes = planned(None, at("2026-11-25T14:30:00Z"));
        let after = changes[1].change.after.as_ref().unwrap();
        assert_eq!(after.str("expires"), Some("2026-11-25T15:00:00Z"));
        assert!(after.get("timeout").is_null());
        // Applied ten minutes after the plan: 20 minutes are left, not 30.
        let written =
            transaction("jit", &refs(&changes), None, at("2026-11-25T14:40:00.5Z")).unwrap();
        let text = written.document.unwrap().to_string();
        assert!(text.contains(r#""timeout":1199"#), "{text}");
        assert!(
            text.contains(r#"{"delete":{"table""#),
            "written anew: {text}"
        );
        assert!(written.ended.is_empty());
    }

    #[test]
    fn a_grant_that_ended_before_the_apply_opens_nothing() {
        let changes = planned(None, at("2026-11-25T14:30:00Z"));
        let written =
            transaction("jit", &refs(&changes), None, at("2026-11-25T15:00:00Z")).unwrap();
        assert_eq!(written.ended, vec![1]);
        let text = written.document.unwrap().to_string();
        assert!(
            !text.contains("192.0.2.7"),
            "the table is still written, without the element: {text}"
        );
    }

    #[test]
    fn element_changes_alone_add_to_and_remove_from_the_sets_that_are_there() {
        let stale = json!({"concat": [{"prefix": {"addr": "192.0.2.9", "len": 32}}, "tcp", 22]});
        let live = listed(&[("grants4_0", stale, 600, "INC-0-old")]);
        let changes = planned(Some(live.clone()), at("2026-11-25T14:30:00Z"));
        let kinds: Vec<_> = changes.iter().map(|c| c.action()).collect();
        assert_eq!(kinds, [Action::Delete, Action::Create]);
        let written = transaction(
            "jit",
            &refs(&changes),
            Some(&live),
            at("2026-11-25T14:30:00Z"),
        )
        .unwrap();
        let commands = written.document.unwrap()["nftables"].clone();
        let verbs: Vec<String> = commands
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_object().unwrap().keys().next().unwrap().clone())
            .collect();
        // The removal refreshes then deletes (an element the kernel expired meanwhile cannot
        // fail the delete), then the add.
        assert_eq!(verbs, ["add", "delete", "add"]);
        assert!(commands.to_string().contains(r#""timeout":1800"#));
    }

    #[test]
    fn changes_that_are_not_what_jit_writes_are_refused_naming_the_change() {
        let live = listed(&[]);
        let now = at("2026-11-25T14:30:00Z");
        let changes = planned(Some(live.clone()), now);
        assert_eq!(changes.len(), 1);
        let edit = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
            let mut change = changes[0].clone();
            let after = change.change.after.as_mut().unwrap();
            f(&mut after.values);
            transaction("jit", &[&change], Some(&live), now)
                .unwrap_err()
                .message
        };
        let wider = edit(&|v| {
            v.insert("source".into(), json!("0.0.0.0/0"));
        });
        assert!(
            wider.contains("is not `grants4_0:0.0.0.0/0 . tcp . 22`"),
            "{wider}"
        );
        let forever = edit(&|v| {
            v.insert("timeout".into(), json!(0));
        });
        assert!(
            forever.contains("carries `expires`, not `timeout`"),
            "{forever}"
        );
        let other_set = edit(&|v| {
            v.insert("set".into(), json!("grants4_1"));
            v.insert("name".into(), json!("grants4_1:192.0.2.7/32 . tcp . 22"));
        });
        assert!(
            other_set.contains("set `grants4_1` is not in table"),
            "{other_set}"
        );
        let other_table = edit(&|v| {
            v.insert("table".into(), json!("filter"));
        });
        assert!(other_table.contains("not `jit`"), "{other_table}");
        let unnamed = edit(&|v| {
            v.insert("comment".into(), Value::Null);
        });
        assert!(unnamed.contains("does not name its request"), "{unnamed}");
        let mut drop_table = changes[0].clone();
        drop_table.change.actions = vec![Action::Delete];
        drop_table.change.before = Some(resources::table("jit", None, None, None));
        drop_table.change.after = None;
        let refused = transaction("jit", &[&drop_table], Some(&live), now).unwrap_err();
        assert!(
            refused
                .message
                .contains("jit does not delete a `jit_nftables_table`"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn a_refusal_names_its_own_change_even_after_an_ended_grant() {
        let live = listed(&[]);
        let changes = planned(Some(live.clone()), at("2026-11-25T14:30:00Z"));
        let mut other = changes[0].clone();
        let after = other.change.after.as_mut().unwrap();
        after.values.insert("set".into(), json!("grants4_1"));
        after
            .values
            .insert("name".into(), json!("grants4_1:192.0.2.7/32 . tcp . 22"));
        after
            .values
            .insert("expires".into(), json!("2026-11-25T16:00:00Z"));
        other.address = "jit/grants4_1:192.0.2.7/32 . tcp . 22".into();
        let refused = transaction(
            "jit",
            &[&changes[0], &other],
            Some(&live),
            at("2026-11-25T15:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(refused.index, 1, "{}", refused.message);
        assert!(refused.message.contains("grants4_1"), "{}", refused.message);
    }

    #[test]
    fn an_update_whose_grant_ended_is_still_the_removal() {
        let stale = json!({"concat": [{"prefix": {"addr": "192.0.2.7", "len": 32}}, "tcp", 22]});
        let live = listed(&[("grants4_0", stale, 36_000, "INC-1-alice")]);
        let changes = planned(Some(live.clone()), at("2026-11-25T14:30:00Z"));
        assert_eq!(changes.len(), 1);
        assert_eq!(
            changes[0].action(),
            Action::Update,
            "a timeout longer than its grant"
        );
        let written = transaction(
            "jit",
            &refs(&changes),
            Some(&live),
            at("2026-11-25T15:00:00Z"),
        )
        .unwrap();
        assert!(written.ended.is_empty(), "the removal is written");
        let text = written.document.unwrap().to_string();
        assert!(text.contains(r#"{"delete":{"element""#), "{text}");
        assert!(!text.contains("INC-1-alice"), "not re-added: {text}");
    }
}
