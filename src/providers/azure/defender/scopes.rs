//! The azure provider in mode `defender` behind the core's stateless trait: `read` turns
//! location-less policy scope ids (see `platform::defender`) into policy documents with their
//! fingerprint (a hash of the document, `absent` when there is none), found by listing the
//! resource group's JIT policies (every page, following `nextLink`); `apply` groups the batch by scope, checks each change is a
//! Defender resource of that scope, compares the fingerprint right before writing, and runs
//! [`AzureProvider::apply_defender_scope`] with one outcome per change.

use std::collections::HashMap;

use serde_json::Value;

use super::reconcile::{DefenderChange, ScopePlan};
use super::{DefenderOutcome, PolicyDocument, SECURITY_API_VERSION};
use crate::live::{name_from_id, scope_key, Live};
use crate::plan::ResourceChange;
use crate::platform::defender::{self as platform, schema};
use crate::providers::azure::endpoint::{join, segment};
use crate::providers::azure::error::ArmError;
use crate::providers::azure::AzureProvider;
use crate::providers::{Batch, OnOutcome, Outcome, ProviderError};

/// The fingerprint of a scope whose policy does not exist.
const ABSENT: &str = "absent";

fn fingerprint(doc: Option<&PolicyDocument>) -> String {
    doc.map_or_else(|| ABSENT.to_string(), PolicyDocument::fingerprint)
}

/// The `locations/<x>` segment of a policy id.
fn location_of(id: &str) -> Option<String> {
    let parts: Vec<&str> = id.split('/').collect();
    parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("locations"))
        .and_then(|i| parts.get(i + 1))
        .map(|s| s.to_string())
}

impl AzureProvider {
    /// The policy of scope `id` (location-less): its location and document, `(None, None)`
    /// when the resource group has no policy of that name.
    async fn find_policy(
        &self,
        id: &str,
    ) -> Result<(Option<String>, Option<PolicyDocument>), ProviderError> {
        let place = platform::policy_scope(id, "").ok_or_else(|| {
            ProviderError::Other(format!(
                "`{id}` is not a JIT policy scope: this is a bug in jit"
            ))
        })?;
        let seg = |v: &str| segment(v).map_err(ProviderError::Other);
        let path = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Security/jitNetworkAccessPolicies",
            seg(&place.subscription_id)?,
            seg(&place.resource_group)?
        );
        let url = format!(
            "{}?api-version={SECURITY_API_VERSION}",
            join(self.client.base(), &path)
        );
        let what = url.split('?').next().unwrap_or(&url).to_string();
        // Every page: a resource group's policies come `nextLink` by `nextLink`.
        let policies = match self.client.list(&url).await {
            Ok(items) => items,
            Err(ArmError::Remote(r)) if r.status == 404 => return Ok((None, None)),
            Err(e) => return Err(e.into()),
        };
        let found = policies.iter().find(|p| {
            p.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(&place.name))
        });
        let Some(found) = found else {
            return Ok((None, None));
        };
        let location = found
            .get("id")
            .and_then(Value::as_str)
            .and_then(location_of)
            .or_else(|| {
                found
                    .get("location")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
        let doc = PolicyDocument::parse(&what, found.clone()).map_err(ProviderError::from)?;
        Ok((location, Some(doc)))
    }

    /// `read` in mode `defender`.
    pub fn read_defender(&self, ids: &[String]) -> Result<Live, ProviderError> {
        let mut live = Live::default();
        for id in ids {
            if live.scope(id).is_some() {
                continue;
            }
            match self.runtime.block_on(self.find_policy(id)) {
                Ok((location, document)) => live.insert(platform::scope(
                    id.clone(),
                    fingerprint(document.as_ref()),
                    platform::Policy { location, document },
                )),
                Err(
                    e @ (ProviderError::NotFound { .. }
                    | ProviderError::Remote { .. }
                    | ProviderError::Corrupt { .. }
                    | ProviderError::Other(_)),
                ) => {
                    live.failed.insert(scope_key(id), e.to_string());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(live)
    }

    /// `apply` in mode `defender`.
    pub fn apply_defender(
        &self,
        batch: Batch<'_>,
        on_outcome: &OnOutcome<'_>,
    ) -> Result<Vec<Outcome>, ProviderError> {
        // Refused before any request: every change must be a Defender resource of its scope.
        let mut groups: Vec<(String, Vec<(&ResourceChange, DefenderChange)>)> = Vec::new();
        for change in batch.changes {
            let typed = defender_change(change).map_err(|why| {
                ProviderError::Other(format!(
                    "refusing to apply `{}`: {why}; nothing was written",
                    change.address
                ))
            })?;
            let key = scope_key(&change.scope);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, group)) => group.push((change, typed)),
                None => groups.push((key, vec![(change, typed)])),
            }
        }
        let mut reported: HashMap<String, Outcome> = HashMap::new();
        for (_, group) in groups {
            let id = &group[0].0.scope;
            let outcomes = self.apply_group(id, batch.fingerprint(id), &group);
            let pairs: Vec<_> = group
                .iter()
                .map(|(change, _)| *change)
                .zip(&outcomes)
                .collect();
            for (change, outcome) in &pairs {
                match outcome.why() {
                    None => tracing::info!("{}: applied", change.address),
                    Some(why) => tracing::warn!("{}: {why}", change.address),
                }
            }
            on_outcome(&pairs);
            for (change, outcome) in group.iter().map(|(c, _)| c).zip(outcomes) {
                reported.insert(change.address.clone(), outcome);
            }
        }
        Ok(crate::providers::in_order(batch.changes, &reported))
    }

    fn apply_group(
        &self,
        id: &str,
        planned: Option<&str>,
        group: &[(&ResourceChange, DefenderChange)],
    ) -> Vec<Outcome> {
        let all = |o: Outcome| vec![o; group.len()];
        let (location, read) = match self.runtime.block_on(self.find_policy(id)) {
            Ok(found) => found,
            Err(e) => return all(Outcome::failed(e.to_string())),
        };
        let now = fingerprint(read.as_ref());
        if planned.is_some_and(|p| p != now) || planned.is_none() {
            return all(Outcome::Stale(format!(
                "JIT policy `{}` changed since the plan",
                name_from_id(id)
            )));
        }
        let location = match location {
            Some(l) => l,
            None => match self.vm_location(group) {
                Ok(l) => l,
                Err(e) => return all(Outcome::failed(e)),
            },
        };
        let Some(place) = platform::policy_scope(id, &location) else {
            return all(Outcome::failed(format!("`{id}` is not a JIT policy scope")));
        };
        let mut next = read.clone().unwrap_or_else(PolicyDocument::empty);
        for (_, change) in group {
            if let DefenderChange::SetVm { after, .. } = change {
                next.set_vm(after);
            }
        }
        let plan = ScopePlan {
            scope: place,
            read,
            next,
            changes: group.iter().map(|(_, c)| c.clone()).collect(),
            waiting: Vec::new(),
            open: Vec::new(),
            unreadable: Vec::new(),
        };
        self.apply_defender_scope(&plan)
            .into_iter()
            .map(|o| match o {
                DefenderOutcome::Applied => Outcome::Applied,
                DefenderOutcome::Stale => Outcome::Stale(format!(
                    "JIT policy `{}` changed while it was written",
                    name_from_id(id)
                )),
                DefenderOutcome::Failed(m) => Outcome::failed(m),
                DefenderOutcome::Skipped(m) => Outcome::Skipped(m),
            })
            .collect()
    }

    /// Where a new policy goes: the location of the first VM the group names.
    fn vm_location(&self, group: &[(&ResourceChange, DefenderChange)]) -> Result<String, String> {
        let vm = group
            .iter()
            .map(|(_, c)| match c {
                DefenderChange::SetVm { after, .. } => after.id.clone(),
                DefenderChange::Initiate { grant, .. } => grant.vm_id.clone(),
            })
            .next()
            .ok_or("nothing to apply")?;
        let facts = self.read_vms(std::slice::from_ref(&vm));
        match facts.into_iter().next() {
            Some(Ok(f)) if !f.location.is_empty() => Ok(f.location),
            Some(Ok(_)) | None => Err(format!("VM `{vm}` has no location")),
            Some(Err(e)) => Err(e.to_string()),
        }
    }
}

/// The typed change a plan's change stands for, checked against its scope.
fn defender_change(change: &ResourceChange) -> Result<DefenderChange, String> {
    let after = change
        .change
        .after
        .as_ref()
        .ok_or("a Defender change has no `after`")?;
    let target = change.target.clone().unwrap_or_default();
    let (typed, vm_id) = match after.type_name() {
        schema::VM_TYPE => {
            let entry = schema::vm_entry(after)?;
            let id = entry.id.clone();
            (
                DefenderChange::SetVm {
                    target,
                    before: None,
                    after: entry,
                    differences: Vec::new(),
                },
                id,
            )
        }
        schema::INITIATE_TYPE => {
            let grant = schema::initiate(after)?;
            let id = grant.vm_id.clone();
            (DefenderChange::Initiate { target, grant }, id)
        }
        other => return Err(format!("`{other}` is not a Defender resource")),
    };
    let policy_name = change
        .scope
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    match platform::scope_id(&vm_id, policy_name) {
        Some(scope) if scope_key(&scope) == scope_key(&change.scope) => Ok(typed),
        _ => Err(format!(
            "VM `{vm_id}` is not in the JIT policy `{}`",
            change.scope
        )),
    }
}
