//! A plan's changes as security rule writes, for the providers that serve this platform: each
//! change's `after` resource read back into a [`Rule`], and every change checked before
//! anything is written, whatever the plan it came from says (DESIGN §5b): its name is a legal
//! security rule name and the name of its `after` rule; a create or update writes a rule that
//! is managed (name prefix `<prefix>-` **and** the description marker). Whether the live rule
//! an update or delete touches is managed is checked by each provider on the rule as it reads
//! it.

use super::names::is_legal_rule_name;
use super::rule::Rule;
use crate::plan::{Action, ResourceChange};

/// One change of a plan with its rule.
#[derive(Debug, Clone)]
pub struct RuleChange<'a> {
    pub change: &'a ResourceChange,
    /// The rule a create or update writes; `None` for a delete.
    pub after: Option<Rule>,
}

impl RuleChange<'_> {
    pub fn action(&self) -> Action {
        self.change.action()
    }

    /// The rule's name.
    pub fn name(&self) -> &str {
        &self.change.name
    }

    /// The NSG's id, as the policy writes it.
    pub fn nsg_id(&self) -> &str {
        &self.change.scope
    }

    pub fn address(&self) -> &str {
        &self.change.address
    }
}

/// The changes as rule writes, or why one of them is refused (a phrase naming it, ending in
/// "nothing was written").
pub fn rule_changes<'a>(
    changes: &'a [ResourceChange],
    rule_prefix: &str,
) -> Result<Vec<RuleChange<'a>>, String> {
    changes
        .iter()
        .map(|change| rule_change(change, rule_prefix))
        .collect()
}

fn rule_change<'a>(
    change: &'a ResourceChange,
    rule_prefix: &str,
) -> Result<RuleChange<'a>, String> {
    let refuse = |why: String| {
        Err(format!(
            "refusing to apply `{}`: {why}; nothing was written",
            change.address
        ))
    };
    if !is_legal_rule_name(&change.name) {
        return refuse(format!(
            "`{}` is not a legal security rule name",
            change.name
        ));
    }
    let after = match (&change.change.after, change.action()) {
        (_, Action::Delete) => None,
        (None, _) => return refuse("it has no `after` rule".to_string()),
        (Some(resource), _) => match Rule::from_resource(resource) {
            Ok(rule) => Some(rule),
            Err(e) => return refuse(e.0),
        },
    };
    if let Some(after) = &after {
        if after.name != change.name {
            return refuse(format!(
                "its rule is named `{}`, not `{}`",
                after.name, change.name
            ));
        }
        if !after.is_managed(rule_prefix) {
            return refuse(format!(
                "the rule it would write is not managed by jit (a name starting with \
                 `{rule_prefix}-` and `managed-by=jit` in its description)"
            ));
        }
    }
    Ok(RuleChange { change, after })
}
