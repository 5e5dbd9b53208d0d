//! Explaining a missing NSG: when the GET of an NSG answers 404, the NSGs of its resource group
//! are listed (every `nextLink` followed) to suggest a near name (ARM names compare
//! case-insensitively) or say how many the group holds. A resource group that does not exist
//! (`ResourceGroupNotFound`) is said instead. The listing only adds a hint: when it fails, the
//! "not found" error stands without one.

use serde_json::Value;

use super::client::ArmClient;
use super::endpoint::{join, nsg_path};
use super::error::{ArmError, RemoteError};
use crate::diag::did_you_mean;
use crate::live::name_from_id;
use crate::providers::ProviderError;

const RESOURCE_GROUP_NOT_FOUND: &str = "ResourceGroupNotFound";

/// The [`ProviderError::NotFound`] for NSG `id`, whose GET answered `answer` (a 404).
pub async fn nsg_not_found(client: &ArmClient, id: &str, answer: &RemoteError) -> ProviderError {
    let hint = if answer.has_detail(RESOURCE_GROUP_NOT_FOUND) {
        Some(group_missing(id))
    } else {
        let listed = match nsg_path(id) {
            Ok((path, _)) => {
                client
                    .list(&join(client.base(), group_list_path(&path)))
                    .await
            }
            Err(message) => Err(ArmError::Refused(message)),
        };
        match listed {
            Ok(items) => Some(name_hint(id, &items)),
            Err(ArmError::Remote(e))
                if e.status == 404 && e.has_detail(RESOURCE_GROUP_NOT_FOUND) =>
            {
                Some(group_missing(id))
            }
            Err(e) => {
                tracing::debug!("cannot list the NSGs next to `{id}`: {e}");
                None
            }
        }
    };
    ProviderError::NotFound {
        what: "network security group",
        id: id.to_string(),
        hint,
    }
}

/// `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/networkSecurityGroups`
/// for an NSG id (already checked to have that shape).
fn group_list_path(id: &str) -> &str {
    let id = id.trim_end_matches('/');
    id.rsplit_once('/').map_or(id, |(parent, _)| parent)
}

/// `(subscription, resource group)` of an NSG id.
fn group_of(id: &str) -> (&str, &str) {
    let parts: Vec<&str> = id.split('/').collect();
    (
        parts.get(2).copied().unwrap_or(""),
        parts.get(4).copied().unwrap_or(""),
    )
}

fn group_missing(id: &str) -> String {
    let (subscription, group) = group_of(id);
    format!("resource group `{group}` does not exist in subscription `{subscription}`")
}

/// A did-you-mean among the group's NSG names, else how many NSGs the group holds.
fn name_hint(id: &str, items: &[Value]) -> String {
    let wanted = name_from_id(id);
    let names: Vec<&str> = items
        .iter()
        .filter_map(|item| item.get("name").and_then(Value::as_str))
        .collect();
    if let Some(hint) = did_you_mean(wanted, names.iter().copied()) {
        return hint;
    }
    let (_, group) = group_of(id);
    match names.len() {
        0 => format!("resource group `{group}` has no network security groups"),
        1 => format!(
            "resource group `{group}` has 1 network security group: `{}`",
            names[0]
        ),
        n => format!(
            "resource group `{group}` has {n} network security groups, none named like `{wanted}`"
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ID: &str =
        "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/web-nsgg";

    fn named(names: &[&str]) -> Vec<Value> {
        names.iter().map(|n| json!({"name": n})).collect()
    }

    #[test]
    fn the_list_path_is_the_group_collection() {
        assert_eq!(
            group_list_path(ID),
            "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups"
        );
        assert_eq!(group_of(ID), ("s1", "rg1"));
        assert_eq!(
            group_missing(ID),
            "resource group `rg1` does not exist in subscription `s1`"
        );
    }

    #[test]
    fn suggests_a_near_name_whatever_its_case() {
        let items = named(&["db-nsg", "WEB-NSG", "mgmt"]);
        assert_eq!(name_hint(ID, &items), "did you mean `WEB-NSG`?");
    }

    #[test]
    fn counts_the_group_when_nothing_is_close() {
        assert_eq!(
            name_hint(ID, &named(&["db", "mgmt", "x"])),
            "resource group `rg1` has 3 network security groups, none named like `web-nsgg`"
        );
        assert_eq!(
            name_hint(ID, &named(&["db"])),
            "resource group `rg1` has 1 network security group: `db`"
        );
        assert_eq!(
            name_hint(ID, &[]),
            "resource group `rg1` has no network security groups"
        );
    }
}
