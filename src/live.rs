//! Live state as a provider reads it: NSGs with their rules and a fingerprint of each. Plain
//! data, handed to `plan::diff`.

use std::collections::BTreeMap;

use crate::nsg::Rule;

/// Every NSG a plan needs, keyed by [`nsg_key`] of its id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Live {
    pub nsgs: BTreeMap<String, LiveNsg>,
    /// NSGs that were asked for and could not be read (missing, refused, not understood),
    /// keyed by [`nsg_key`], with the provider's error. Each is an error for that NSG only:
    /// the others are still planned (DESIGN §5b, revoke always).
    pub failed: BTreeMap<String, String>,
}

impl Live {
    pub fn nsg(&self, id: &str) -> Option<&LiveNsg> {
        self.nsgs.get(&nsg_key(id))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveNsg {
    /// The id as the provider spells it.
    pub id: String,
    pub name: String,
    /// The NSG's etag where the provider has one, else a hash of all its rules. A saved plan
    /// is stale when this changes.
    pub fingerprint: String,
    /// Every security rule, managed and foreign (not the default rules).
    pub rules: Vec<LiveRule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveRule {
    pub rule: Rule,
    pub etag: Option<String>,
}

/// ARM compares resource ids case-insensitively; so do we.
pub fn nsg_key(id: &str) -> String {
    id.trim_end_matches('/').to_ascii_lowercase()
}

/// The last segment of a resource id.
pub fn name_from_id(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id)
}
