//! Platforms: the shapes a firewall takes. A platform compiles the policy into the resources
//! its scopes should hold, diffs them with the scopes a provider read, finds what is wrong
//! that no action fixes, and says which of its changes only narrow access. Providers are where
//! the state lives; each serves one platform (`snapshot` and `azure` in NSG mode serve
//! [`nsg`]).
//!
//! This module is the registry: the rest of the core (plans, rendering, saved-plan checks,
//! `ops`) goes through these functions and the generic [`Resource`] and never names a
//! platform's types. A new platform adds its module, a [`Content`] variant, its schemas to
//! [`SCHEMAS`], and a branch in each function below.

pub mod defender;
pub mod grants;
pub mod nftables;
pub mod nsg;

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::live::{scope_key, Live};
use crate::model::{Policy, Target};
use crate::plan::{Plan, ResourceChange};
use crate::resource::{Resource, Schema};

/// The resources of a live scope, in its platform's typed form.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// An NSG's security rules (not the default rules).
    Nsg(Vec<nsg::LiveRule>),
    /// A Defender for Cloud JIT policy document.
    Defender(defender::Policy),
    /// jit's nftables table as read; `None` when it does not exist.
    Nftables(Option<nftables::readback::LiveTable>),
}

/// The grants open in live state at `at`, from every scope's platform.
pub fn grants(policy: &Policy, live: &Live, at: Timestamp) -> Vec<grants::GrantStatus> {
    live.scopes
        .values()
        .flat_map(|scope| match &scope.content {
            Content::Nsg(_) => nsg::status::grants(policy, scope, at),
            Content::Defender(_) => defender::grants(policy, scope, at),
            Content::Nftables(_) => nftables::diff::grants(policy, scope, at),
        })
        .collect()
}

/// Every resource type jit plans, for reading plans back and for docs/resources.md.
pub static SCHEMAS: &[&Schema] = &[
    &nsg::azurerm::SCHEMA,
    &defender::VM_SCHEMA,
    &defender::INITIATE_SCHEMA,
    &nftables::resources::ELEMENT,
    &nftables::resources::TABLE,
];

/// The schema of a resource type, by its Terraform type name.
pub fn schema(type_name: &str) -> Option<&'static Schema> {
    SCHEMAS.iter().copied().find(|s| s.type_name == type_name)
}

/// A resource read from a plan file as its platform writes it in scope `scope`: the same
/// resource when the file holds exactly what jit writes (compare with `==`), or why it is not
/// one of its type at all.
pub fn canonical(resource: &Resource, scope: &str) -> Result<Resource, String> {
    match resource.type_name() {
        nsg::azurerm::AZURERM_TYPE => nsg::Rule::from_resource(resource)
            .map(|rule| rule.to_resource(scope))
            .map_err(|e| e.0),
        defender::VM_TYPE => {
            defender::schema::vm_entry(resource).map(|e| defender::schema::vm_resource(&e))
        }
        defender::INITIATE_TYPE => {
            defender::schema::initiate(resource).map(|g| defender::schema::initiate_resource(&g))
        }
        nftables::resources::ELEMENT_TYPE | nftables::resources::TABLE_TYPE => {
            Resource::new(resource.schema, resource.values.clone())
        }
        other => Err(format!("unknown resource type `{other}`")),
    }
}

/// What a scope is called in messages: `NSG` for a network security group.
pub fn scope_noun(id: &str) -> &'static str {
    if id
        .to_ascii_lowercase()
        .contains("/providers/microsoft.network/networksecuritygroups/")
    {
        "NSG"
    } else if defender::is_scope_id(id) {
        "JIT policy"
    } else if nftables::diff::table_of(id).is_some() {
        "nftables table"
    } else {
        "scope"
    }
}

/// The request a live resource says it was made for, when its platform records one (an NSG
/// rule's `request=` description field).
pub fn request_of(resource: &Resource) -> Option<String> {
    match resource.type_name() {
        nsg::azurerm::AZURERM_TYPE => {
            nsg::names::description_field(resource.str("description"), "request")
                .map(str::to_string)
        }
        defender::INITIATE_TYPE => resource.str("request_id").map(str::to_string),
        nftables::resources::ELEMENT_TYPE => resource.str("comment").map(str::to_string),
        _ => None,
    }
}

/// The platform a target's resources live in, by its provider's kind and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Nsg,
    Defender,
    Nftables,
}

/// The platform `target` is planned in, or `None` when no platform of this build plans it
/// (opening its provider says why).
pub fn of(policy: &Policy, target: &Target) -> Option<Kind> {
    if nftables::diff::table_for(policy, target).is_some() {
        return Some(Kind::Nftables);
    }
    if nsg::plans(policy, target) {
        Some(Kind::Nsg)
    } else {
        defender::plans(policy, target).then_some(Kind::Defender)
    }
}

/// The scope a target's resources live in: `(provider address, scope id as written)`.
pub fn scope_of(policy: &Policy, target: &Target) -> Option<(String, String)> {
    match of(policy, target)? {
        Kind::Nsg => Some((target.provider.clone(), target.nsg_id.clone()?)),
        Kind::Defender => Some((
            target.provider.clone(),
            defender::scope_id(
                target.vm_id.as_deref()?,
                policy.policy_name(&target.provider),
            )?,
        )),
        Kind::Nftables => Some((
            target.provider.clone(),
            nftables::diff::scope_id(nftables::diff::table_for(policy, target)?),
        )),
    }
}

/// Every scope the policy's targets name, keyed by [`scope_key`]: `(provider, id as written)`.
pub fn scopes(policy: &Policy) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for target in &policy.targets {
        if let Some((provider, id)) = scope_of(policy, target) {
            out.entry(scope_key(&id)).or_insert((provider, id));
        }
    }
    out
}

/// What every platform wants at one instant.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Desired {
    pub nsg: nsg::Desired,
    pub defender: defender::Desired,
    pub nftables: Vec<nftables::diff::DesiredTable>,
}

impl Desired {
    /// `(provider, scope id)` of every scope to read.
    pub fn scopes(&self) -> Vec<(String, String)> {
        self.nsg
            .nsgs
            .iter()
            .map(|n| (n.provider.clone(), n.nsg_id.clone()))
            .chain(
                self.defender
                    .policies
                    .iter()
                    .map(|p| (p.provider.clone(), p.id.clone())),
            )
            .chain(
                self.nftables
                    .iter()
                    .map(|t| (t.provider.clone(), t.scope.clone())),
            )
            .collect()
    }

    /// Adds a scope that should hold no managed resource (the scope of a target an error left
    /// out: its grants are closed), unless it is already wanted.
    pub fn add_empty_scope(&mut self, provider: &str, id: &str) {
        if nftables::diff::table_of(id).is_some() {
            if !self
                .nftables
                .iter()
                .any(|t| scope_key(&t.scope) == scope_key(id))
            {
                self.nftables.push(nftables::diff::empty(provider, id));
            }
            return;
        }
        if defender::is_scope_id(id) {
            self.defender.add_empty(provider, id);
        } else {
            self.nsg.add_empty(provider, id);
        }
    }

    /// Keeps only the scopes whose key `keep` accepts.
    pub fn retain_scopes(&mut self, keep: impl Fn(&str) -> bool) {
        self.nsg.nsgs.retain(|n| keep(&scope_key(&n.nsg_id)));
        self.defender.policies.retain(|p| keep(&scope_key(&p.id)));
        self.nftables.retain(|t| keep(&scope_key(&t.scope)));
    }
}

/// Pure: what the policy wants at `now`, per platform.
pub fn compile(policy: &Policy, now: Timestamp) -> Desired {
    Desired {
        nsg: nsg::compile::compile(policy, now),
        defender: defender::compile(policy, now),
        nftables: nftables::diff::compile(policy, now),
    }
}

/// Pure: the plan from `desired` and `live` at `now`.
pub fn diff(policy: &Policy, desired: &Desired, live: &Live, now: Timestamp) -> Plan {
    let mut plan = nsg::diff::diff(policy, &desired.nsg, live, now);
    let part = defender::diff::diff(policy, &desired.defender, live, now);
    if !part.changes.is_empty() || !part.prior.is_empty() || !part.errors.is_empty() {
        plan.resource_changes.extend(part.changes);
        plan.resource_changes.sort_by(|a, b| {
            scope_key(&a.scope)
                .cmp(&scope_key(&b.scope))
                .then_with(|| crate::resource::name_order(&a.name, &b.name))
        });
        plan.prior.extend(part.prior);
        plan.prior
            .sort_by(|a, b| crate::resource::name_order(&a.address, &b.address));
        plan.errors.extend(part.errors);
        plan.errors
            .sort_by_key(|e| (e.scope.as_deref().map(scope_key), e.message.clone()));
    }
    plan.fingerprints.extend(part.fingerprints);
    plan.warnings.extend(part.warnings);
    let tables = nftables::diff::diff(policy, &desired.nftables, live, now);
    plan.resource_changes.extend(tables.changes);
    plan.prior.extend(tables.prior);
    plan.errors.extend(tables.errors);
    plan.fingerprints.extend(tables.fingerprints);
    plan.valid_until = valid_until(policy, now);
    plan
}

/// The earliest grant start or end strictly after `now`, among grants of planned targets: the
/// instant the desired state next changes.
pub fn valid_until(policy: &Policy, now: Timestamp) -> Option<Timestamp> {
    policy
        .grants
        .iter()
        .filter(|g| {
            policy
                .target(&g.target)
                .is_some_and(|t| of(policy, t).is_some())
        })
        .flat_map(|g| [g.start, g.end()])
        .filter(|t| *t > now)
        .min()
}

/// What a plan with errors does with a change (DESIGN §5b, fail closed, revoke always).
#[derive(Debug, Clone, PartialEq)]
pub enum Narrowing {
    /// It can only reduce access: kept.
    Keep,
    /// It could open something: dropped until the errors are fixed.
    Drop,
    /// It widens, but what it touches must be closed regardless: this change instead.
    Instead(Box<ResourceChange>),
}

/// How `change` fares in a plan with errors made at `now` (its platform decides).
pub fn narrowing(change: &ResourceChange, now: Timestamp) -> Narrowing {
    let type_name = change
        .change
        .after
        .as_ref()
        .or(change.change.before.as_ref())
        .map(Resource::type_name);
    match type_name {
        Some(nsg::azurerm::AZURERM_TYPE) => nsg::narrowing::narrowing(change, now),
        Some(defender::VM_TYPE) if defender::narrowing::narrows(change) => Narrowing::Keep,
        Some(nftables::resources::ELEMENT_TYPE | nftables::resources::TABLE_TYPE) => {
            nftables::diff::narrowing(change)
        }
        _ => Narrowing::Drop,
    }
}
