//! Defender for Cloud just-in-time VM access (Microsoft.Security `jitNetworkAccessPolicies`,
//! api-version 2020-01-01) for the azure provider in mode `defender`.
//!
//! - [`PolicyScope`]: one policy document, per (subscription, resource group, location of the
//!   VMs), named `default` unless the provider sets `policy_name`.
//! - [`policy`]: the document kept as read, with typed VM entries ([`policy::VmEntry`]).
//! - [`requests`]: the initiate body for a grant and the recognition of initiated grants.
//! - Here: the calls. Writing is read–modify–write: [`write_policy`] re-reads the document just
//!   before the PUT and refuses ([`DefenderError::Stale`]) when it is no longer the one the
//!   change was made against; the PUT replaces the whole document, foreign VM entries and
//!   `requests[]` included, as read. `initiate` answers 202 with no polling URL: re-read the
//!   policy to see the request. Defender enforces `endTimeUtc` itself; this API has no way to
//!   close a request early.

pub mod scopes;

pub use crate::model::DEFAULT_POLICY_NAME;
pub use crate::platform::defender::scope::{
    check_name_length, location_name, DefenderError, PolicyScope,
};
pub use crate::platform::defender::{policy, reconcile, requests};

use serde_json::Value;

use super::client::{ArmClient, Request};
use super::endpoint::{join, segment};
use super::error::ArmError;
use super::AzureProvider;
use crate::providers::ProviderError;
pub use policy::{PolicyDocument, PortRule, VmEntry};
pub use reconcile::{DefenderChange, ScopePlan};
pub use requests::{GrantState, Initiate};

/// What happened to one planned change of a scope.
#[derive(Debug, Clone, PartialEq)]
pub enum DefenderOutcome {
    Applied,
    /// The document changed since it was read: nothing was written for this scope.
    Stale,
    Failed(String),
    /// Not attempted because an earlier change of the scope failed or was stale.
    Skipped(String),
}

/// Microsoft.Security's api-version for JIT policies.
pub const SECURITY_API_VERSION: &str = "2020-01-01";
impl From<ArmError> for DefenderError {
    fn from(e: ArmError) -> DefenderError {
        match ProviderError::from(e) {
            ProviderError::Remote { code, message } => DefenderError::Arm { code, message },
            ProviderError::Corrupt {
                source_name,
                message,
            } => DefenderError::Corrupt {
                url: source_name,
                message,
            },
            other => DefenderError::Arm {
                code: String::new(),
                message: other.to_string(),
            },
        }
    }
}

impl From<DefenderError> for ProviderError {
    fn from(e: DefenderError) -> ProviderError {
        match e {
            DefenderError::Corrupt { url, message } => ProviderError::Corrupt {
                source_name: url,
                message,
            },
            DefenderError::Stale { .. } => ProviderError::Stale(e.to_string()),
            DefenderError::Arm { code, message } if !code.is_empty() => {
                ProviderError::Remote { code, message }
            }
            other => ProviderError::Other(other.to_string()),
        }
    }
}

/// The ARM path of a policy, every segment percent-encoded.
fn policy_path(scope: &PolicyScope) -> Result<String, DefenderError> {
    let seg = |v: &str| segment(v).map_err(DefenderError::Invalid);
    Ok(format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Security/locations/{}/jitNetworkAccessPolicies/{}",
            seg(&scope.subscription_id)?,
            seg(&scope.resource_group)?,
            seg(&scope.location)?,
            seg(&scope.name)?
        ))
}

fn policy_url(
    client: &ArmClient,
    scope: &PolicyScope,
    suffix: &str,
) -> Result<String, DefenderError> {
    Ok(format!(
        "{}{suffix}?api-version={SECURITY_API_VERSION}",
        join(client.base(), &policy_path(scope)?)
    ))
}

fn what(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

/// GETs the policy; `None` when it does not exist.
pub async fn read_policy(
    client: &ArmClient,
    scope: &PolicyScope,
) -> Result<Option<PolicyDocument>, DefenderError> {
    let url = policy_url(client, scope, "")?;
    let Some(response) = client.get_opt(&url).await? else {
        return Ok(None);
    };
    let body = response.json(&what(&url))?;
    PolicyDocument::parse(&what(&url), body).map(Some)
}

/// Replaces the policy with `new`, after re-reading it and finding it as `read` describes
/// (`read` is `None` when the policy did not exist). Returns the document Defender stored.
pub async fn write_policy(
    client: &ArmClient,
    scope: &PolicyScope,
    read: Option<&PolicyDocument>,
    new: &PolicyDocument,
) -> Result<PolicyDocument, DefenderError> {
    let now = read_policy(client, scope).await?;
    if now.as_ref().map(PolicyDocument::fingerprint) != read.map(PolicyDocument::fingerprint) {
        return Err(DefenderError::Stale {
            policy_id: scope.id(),
        });
    }
    let url = policy_url(client, scope, "")?;
    let request = Request {
        method: reqwest::Method::PUT,
        url: url.clone(),
        if_match: None,
        if_none_match_any: false,
        body: Some(new.put_body()),
    };
    let response = client.send(&request).await?;
    PolicyDocument::parse(&what(&url), response.json(&what(&url))?)
}

/// Deletes the policy, after the same re-read-and-compare as [`write_policy`]; true when
/// there was one.
pub async fn delete_policy(
    client: &ArmClient,
    scope: &PolicyScope,
    read: &PolicyDocument,
) -> Result<bool, DefenderError> {
    let Some(now) = read_policy(client, scope).await? else {
        return Ok(false);
    };
    if now.fingerprint() != read.fingerprint() {
        return Err(DefenderError::Stale {
            policy_id: scope.id(),
        });
    }
    let url = policy_url(client, scope, "")?;
    let request = Request {
        method: reqwest::Method::DELETE,
        url,
        if_match: None,
        if_none_match_any: false,
        body: None,
    };
    let response = client.send(&request).await?;
    Ok(response.status != 204)
}

/// Initiates `grant` under the policy; returns Defender's answer (the request, `202`).
pub async fn initiate(
    client: &ArmClient,
    scope: &PolicyScope,
    grant: &Initiate,
) -> Result<Value, DefenderError> {
    let url = policy_url(client, scope, "/initiate")?;
    let request = Request {
        method: reqwest::Method::POST,
        url: url.clone(),
        if_match: None,
        if_none_match_any: false,
        body: Some(grant.body()),
    };
    let response = client.send(&request).await?;
    response.json(&what(&url)).map_err(DefenderError::from)
}

impl AzureProvider {
    /// Reads each policy (`None`: it does not exist), one result per scope, in order.
    pub fn read_jit_policies(
        &self,
        scopes: &[PolicyScope],
    ) -> Vec<Result<Option<PolicyDocument>, DefenderError>> {
        use futures::{stream, StreamExt};
        self.runtime.block_on(
            stream::iter(scopes.iter().map(|s| read_policy(&self.client, s)))
                .buffered(self.parallelism)
                .collect(),
        )
    }

    /// [`write_policy`], blocking.
    pub fn write_jit_policy(
        &self,
        scope: &PolicyScope,
        read: Option<&PolicyDocument>,
        new: &PolicyDocument,
    ) -> Result<PolicyDocument, DefenderError> {
        self.runtime
            .block_on(write_policy(&self.client, scope, read, new))
    }

    /// [`delete_policy`], blocking.
    pub fn delete_jit_policy(
        &self,
        scope: &PolicyScope,
        read: &PolicyDocument,
    ) -> Result<bool, DefenderError> {
        self.runtime
            .block_on(delete_policy(&self.client, scope, read))
    }

    /// Applies one scope's plan: the document first (one PUT, after the re-read and compare),
    /// then each initiate in order. One outcome per change, in plan order. A stale or failed
    /// document skips the initiates: plan again.
    pub fn apply_defender_scope(&self, plan: &ScopePlan) -> Vec<DefenderOutcome> {
        let mut outcomes = vec![DefenderOutcome::Applied; plan.changes.len()];
        let mut blocked: Option<String> = None;
        if plan.writes_document() {
            let result = self.write_jit_policy(&plan.scope, plan.read.as_ref(), &plan.next);
            let failed = match result {
                Ok(_) => None,
                Err(DefenderError::Stale { .. }) => Some(DefenderOutcome::Stale),
                Err(e) => Some(DefenderOutcome::Failed(e.to_string())),
            };
            if let Some(failed) = failed {
                for (i, change) in plan.changes.iter().enumerate() {
                    if matches!(change, DefenderChange::SetVm { .. }) {
                        outcomes[i] = failed.clone();
                    }
                }
                blocked = Some(format!(
                    "the JIT policy `{}` was not written",
                    plan.scope.id()
                ));
            }
        }
        for (i, change) in plan.changes.iter().enumerate() {
            let DefenderChange::Initiate { grant, .. } = change else {
                continue;
            };
            outcomes[i] = match &blocked {
                Some(why) => DefenderOutcome::Skipped(why.clone()),
                None => match self.initiate_jit(&plan.scope, grant) {
                    Ok(_) => DefenderOutcome::Applied,
                    Err(e) => DefenderOutcome::Failed(e.to_string()),
                },
            };
        }
        outcomes
    }

    /// [`initiate`], blocking.
    pub fn initiate_jit(
        &self,
        scope: &PolicyScope,
        grant: &Initiate,
    ) -> Result<Value, DefenderError> {
        self.runtime.block_on(initiate(&self.client, scope, grant))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vm_names_its_policy_scope() {
        let scope = PolicyScope::for_vm(
            "/subscriptions/s/resourceGroups/myRg1/providers/Microsoft.Compute/virtualMachines/vm1",
            "West Europe",
            DEFAULT_POLICY_NAME,
        )
        .unwrap();
        assert_eq!(
            scope.id(),
            "/subscriptions/s/resourceGroups/myRg1/providers/Microsoft.Security/locations/westeurope/jitNetworkAccessPolicies/default"
        );
        assert!(PolicyScope::for_vm(
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/networkInterfaces/n",
            "x",
            "d"
        )
        .is_none());
    }

    #[test]
    fn policy_and_vm_names_share_56_characters() {
        let vm = "v".repeat(49);
        assert!(check_name_length("default", &vm).is_ok());
        let err = check_name_length("default", &format!("{vm}x")).unwrap_err();
        assert!(err.to_string().contains("57 characters"), "{err}");
    }
}
