//! `--subscription ID` (repeatable): narrows `plan`, `apply` and `status` to the targets whose
//! NSG (or VM) is in those Azure subscriptions, so that a CI matrix can shard an estate across
//! runners. Nothing needs to coordinate the shards: jit keeps no state file, writes carry ARM
//! etags, and each subscription has its own throttle buckets.
//!
//! The configuration is narrowed before anything is read: targets outside the shard, their
//! requests, the `accept` blocks of their NSGs and the NSGs of invalid targets outside it are
//! left out, so a shard reads only its own subscriptions. An NSG lies in exactly one
//! subscription, so every target sharing an NSG is in or out together: no managed rule of
//! another shard is ever planned away. Configuration errors anywhere still count (a plan with
//! errors only closes access). A target whose subscription cannot be told (an nftables host)
//! is in no shard.
//!
//! A plan saved with `--subscription` must be applied with the same flags: `apply FILE`
//! re-derives the plan from the narrowed configuration, and calls it stale otherwise.

use std::collections::BTreeSet;

use crate::lang::did_you_mean;
use crate::model::{Policy, ProviderConfig, Target};
use crate::ops::config::Loaded;
use crate::ops::OpsError;

/// The subscription of an Azure resource id (`/subscriptions/<id>/…`), lowercased.
pub fn subscription_of_id(id: &str) -> Option<String> {
    let mut parts = id.trim_start_matches('/').split('/');
    match (parts.next(), parts.next()) {
        (Some(s), Some(sub)) if s.eq_ignore_ascii_case("subscriptions") && !sub.is_empty() => {
            Some(sub.to_ascii_lowercase())
        }
        _ => None,
    }
}

/// The subscription a target is in: its NSG's, else its VM's, else its azure provider's.
pub fn subscription_of(policy: &Policy, target: &Target) -> Option<String> {
    target
        .nsg_id
        .as_deref()
        .and_then(subscription_of_id)
        .or_else(|| target.vm_id.as_deref().and_then(subscription_of_id))
        .or_else(
            || match policy.provider(&target.provider).map(|p| &p.config) {
                Some(ProviderConfig::Azure {
                    subscription_id, ..
                }) => Some(subscription_id.to_ascii_lowercase()),
                _ => None,
            },
        )
}

/// Narrows `config` to the targets in `subscriptions` (compared without case); nothing when
/// `subscriptions` is empty. A subscription no target is in is an error (a typo would
/// otherwise leave a shard planning nothing, and its drift unseen).
pub fn narrow(config: &mut Loaded, subscriptions: &[String]) -> Result<(), OpsError> {
    if subscriptions.is_empty() {
        return Ok(());
    }
    let known: BTreeSet<String> = config
        .policy
        .targets
        .iter()
        .filter_map(|t| subscription_of(&config.policy, t))
        .collect();
    let wanted: BTreeSet<String> = subscriptions
        .iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    for sub in &wanted {
        if !known.contains(sub) {
            let hint = did_you_mean(sub, known.iter().map(String::as_str))
                .map(|s| format!("; {s}"))
                .unwrap_or_else(|| {
                    if known.is_empty() {
                        "; no target is in an Azure subscription".to_string()
                    } else {
                        format!(
                            "; targets are in {}",
                            known
                                .iter()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                });
            return Err(OpsError::Invalid(format!(
                "no target is in subscription `{sub}`{hint}"
            )));
        }
    }
    let in_shard = |id: &str| subscription_of_id(id).is_some_and(|s| wanted.contains(&s));
    let policy = &mut config.policy;
    let kept: BTreeSet<String> = policy
        .targets
        .iter()
        .filter(|t| subscription_of(policy, t).is_some_and(|s| wanted.contains(&s)))
        .map(|t| t.name.clone())
        .collect();
    policy.targets.retain(|t| kept.contains(&t.name));
    policy.grants.retain(|g| kept.contains(&g.target));
    policy.accepts.retain(|a| in_shard(&a.nsg_id));
    config.invalid_target_scopes.retain(|(_, id)| in_shard(id));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::config::load_lenient;

    const POLICY: &str = r#"
provider "azure" "a" { subscription_id = "sub-a" }
provider "azure" "b" { subscription_id = "SUB-B" }
target "web-a" {
  provider = "azure.a"
  nsg_id   = "/subscriptions/sub-a/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n1"
  port "ssh" { allowed_sources = ["198.51.100.0/24"] }
}
target "web-b" {
  provider = "azure.b"
  nsg_id   = "/subscriptions/SUB-B/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n2"
  port "ssh" { allowed_sources = ["198.51.100.0/24"] }
}
request "INC-1-alice" {
  target        = "web-b"
  ports         = ["ssh"]
  source        = "198.51.100.7/32"
  requester     = "alice@example.com"
  justification = "INC-1 deploy"
  start         = "2026-11-25T14:00:00Z"
  duration      = "1h"
}
"#;

    fn loaded() -> (tempfile::TempDir, Loaded) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("policy.hcl"), POLICY).unwrap();
        let loaded = load_lenient(dir.path()).unwrap();
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        (dir, loaded)
    }

    #[test]
    fn keeps_the_targets_and_requests_of_the_shard() {
        let (_dir, mut config) = loaded();
        narrow(&mut config, &["sub-b".to_string()]).unwrap();
        let names: Vec<&str> = config
            .policy
            .targets
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names, ["web-b"]);
        assert_eq!(config.policy.grants.len(), 1);
        let (_dir, mut config) = loaded();
        narrow(&mut config, &["SUB-A".to_string()]).unwrap();
        let names: Vec<&str> = config
            .policy
            .targets
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names, ["web-a"]);
        assert!(config.policy.grants.is_empty(), "the request is web-b's");
        let (_dir, mut config) = loaded();
        narrow(&mut config, &[]).unwrap();
        assert_eq!(config.policy.targets.len(), 2, "no flag, no narrowing");
    }

    #[test]
    fn an_unknown_subscription_is_an_error_with_a_hint() {
        let (_dir, mut config) = loaded();
        let err = narrow(&mut config, &["sub-c".to_string()]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("no target is in subscription `sub-c`; did you mean"),
            "{err}"
        );
        let err = narrow(&mut config, &["0000".to_string()]).unwrap_err();
        assert!(
            err.to_string().contains("targets are in `sub-a`, `sub-b`"),
            "{err}"
        );
        assert_eq!(config.policy.targets.len(), 2, "nothing narrowed");
    }

    #[test]
    fn reads_subscriptions_from_ids() {
        assert_eq!(
            subscription_of_id("/subscriptions/ABC/resourceGroups/x").as_deref(),
            Some("abc")
        );
        assert_eq!(subscription_of_id("/x/other"), None);
        assert_eq!(subscription_of_id("/subscriptions/"), None);
    }
}
