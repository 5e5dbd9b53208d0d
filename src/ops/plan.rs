//! `plan`: compile the policy at a point in time, read the NSGs it names from their providers,
//! and diff the two. `--target` narrows the plan to some targets after the diff, so a managed
//! rule of another target sharing the NSG is neither created nor destroyed.

use std::collections::BTreeSet;

use jiff::Timestamp;

use crate::compile::compile;
use crate::live::nsg_key;
use crate::model::Policy;
use crate::ops::{OpsError, Providers};
use crate::plan::diff::diff;
use crate::plan::Plan;
use crate::providers::OpenOptions;

#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// The clock (`--at`, else now).
    pub at: Timestamp,
    /// `--target` names; empty means every target.
    pub targets: Vec<String>,
}

pub fn plan(policy: &Policy, opts: &PlanOptions, open: &OpenOptions) -> Result<Plan, OpsError> {
    check_targets(policy, &opts.targets)?;
    let desired = compile(policy, opts.at);
    let live = Providers::new(policy, open).read(
        desired
            .nsgs
            .iter()
            .map(|n| (n.provider.clone(), n.nsg_id.clone())),
    )?;
    let mut plan = diff(policy, &desired, &live, opts.at);
    if !opts.targets.is_empty() {
        narrow(&mut plan, policy, &opts.targets);
    }
    Ok(plan)
}

/// Every `--target` name must exist; a near miss gets a suggestion.
pub fn check_targets(policy: &Policy, names: &[String]) -> Result<(), OpsError> {
    for name in names {
        if policy.target(name).is_none() {
            let hint = suggest(name, policy.targets.iter().map(|t| t.name.as_str()))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(OpsError::Invalid(format!("unknown target `{name}`{hint}")));
        }
    }
    Ok(())
}

/// Keeps the changes of the named targets, and the findings, errors and fingerprints of their
/// NSGs.
fn narrow(plan: &mut Plan, policy: &Policy, names: &[String]) {
    let nsgs: BTreeSet<String> = names
        .iter()
        .filter_map(|n| policy.target(n)?.nsg_id.as_deref())
        .map(nsg_key)
        .collect();
    plan.resource_changes
        .retain(|c| c.target.as_ref().is_some_and(|t| names.contains(t)));
    plan.findings.retain(|f| nsgs.contains(&nsg_key(&f.nsg_id)));
    plan.errors.retain(|e| nsgs.contains(&nsg_key(&e.nsg_id)));
    plan.fingerprints
        .retain(|id, _| nsgs.contains(&nsg_key(id)));
}

/// The closest candidate within a small edit distance.
pub fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        let names = ["web-1", "jump-1", "db-primary"];
        assert_eq!(suggest("web1", names.into_iter()), Some("web-1"));
        assert_eq!(suggest("db-primry", names.into_iter()), Some("db-primary"));
        assert_eq!(suggest("mail", names.into_iter()), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
