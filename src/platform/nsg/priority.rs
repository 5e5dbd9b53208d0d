//! Pure: priority allocation for one NSG (DESIGN §4). A managed rule that already exists keeps
//! its priority when it lies in its band and no other live rule of its direction shares it; new
//! (or displaced) rules take, in name order, the lowest priority of their band that no live rule
//! and no rule allocated before them uses in the same direction. Priorities of rules the plan
//! deletes are not reused, so a plan's creates never depend on the order of its deletes.

use std::collections::{BTreeMap, BTreeSet};

use super::compile::{DesiredRule, Origin};
use super::rule::Direction;
use super::LiveNsg;
use crate::model::{PriorityBand, Settings};

/// The band a desired rule's priority comes from.
pub fn band(settings: &Settings, origin: &Origin) -> (PriorityBand, &'static str) {
    match origin {
        Origin::LockDown { .. } => (settings.deny_priority, "deny"),
        Origin::Grant { .. } => (settings.allow_priority, "allow"),
    }
}

/// No free priority left in a band.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BandFull {
    pub rule: String,
    pub band: PriorityBand,
    pub band_name: &'static str,
}

/// Priorities for `rules` (sorted by name), in the same order. `live_match[i]` is the index in
/// `live.rules` of the managed rule with the same name as `rules[i]`, if any. The first rule
/// that finds its band full is the error; [`allocate_each`] says it per rule.
pub fn allocate(
    settings: &Settings,
    rules: &[DesiredRule],
    live_match: &[Option<usize>],
    live: &LiveNsg<'_>,
) -> Result<Vec<u16>, BandFull> {
    allocate_each(settings, rules, live_match, live)
        .into_iter()
        .collect()
}

/// [`allocate`], rule by rule: a rule whose band is full gets the error and the others still
/// get their priority (a full allow band never keeps a lock-down from being created).
pub fn allocate_each(
    settings: &Settings,
    rules: &[DesiredRule],
    live_match: &[Option<usize>],
    live: &LiveNsg<'_>,
) -> Vec<Result<u16, BandFull>> {
    let mut taken: BTreeMap<(Direction, u16), usize> = BTreeMap::new();
    for r in live.rules {
        *taken
            .entry((r.rule.direction, r.rule.priority))
            .or_default() += 1;
    }
    let mut used: BTreeMap<Direction, BTreeSet<u16>> = BTreeMap::new();
    for &(direction, priority) in taken.keys() {
        used.entry(direction).or_default().insert(priority);
    }
    let mut out: Vec<Option<Result<u16, BandFull>>> = vec![None; rules.len()];
    for (i, desired) in rules.iter().enumerate() {
        let Some(index) = live_match[i] else { continue };
        let existing = &live.rules[index].rule;
        let (band, _) = band(settings, &desired.origin);
        let alone = taken.get(&(existing.direction, existing.priority)) == Some(&1);
        if existing.direction == desired.rule.direction && band.contains(existing.priority) && alone
        {
            out[i] = Some(Ok(existing.priority));
        }
    }
    for (i, desired) in rules.iter().enumerate() {
        if out[i].is_some() {
            continue;
        }
        let (band, band_name) = band(settings, &desired.origin);
        let used = used.entry(desired.rule.direction).or_default();
        let free = (band.low..=band.high).find(|p| !used.contains(p));
        out[i] = Some(match free {
            Some(p) => {
                used.insert(p);
                Ok(p)
            }
            None => Err(BandFull {
                rule: desired.rule.name.clone(),
                band,
                band_name,
            }),
        });
    }
    out.into_iter()
        .map(|p| p.expect("every rule was given a priority or an error"))
        .collect()
}
