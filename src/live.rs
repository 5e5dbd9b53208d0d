//! Live state as providers read it: *scopes* (the unit a provider reads, fingerprints and
//! writes: an NSG; later an nftables table or a Defender policy document), each with its
//! resources in its platform's typed form. Plain data, handed to `platform::diff`.

use std::collections::BTreeMap;

use crate::platform::Content;

/// Every scope a plan needs, keyed by [`scope_key`] of its id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Live {
    pub scopes: BTreeMap<String, Scope>,
    /// Scopes that were asked for and could not be read (missing, refused, not understood),
    /// keyed by [`scope_key`], with the provider's error. Each is an error for that scope only:
    /// the others are still planned (DESIGN §5b, revoke always).
    pub failed: BTreeMap<String, String>,
}

impl Live {
    pub fn scope(&self, id: &str) -> Option<&Scope> {
        self.scopes.get(&scope_key(id))
    }

    pub fn insert(&mut self, scope: Scope) {
        self.failed.remove(&scope_key(&scope.id));
        self.scopes.insert(scope_key(&scope.id), scope);
    }

    /// `other`'s scopes and failures replace this one's of the same key.
    pub fn merge(&mut self, other: Live) {
        for (key, scope) in other.scopes {
            self.failed.remove(&key);
            self.scopes.insert(key, scope);
        }
        for (key, error) in other.failed {
            self.scopes.remove(&key);
            self.failed.insert(key, error);
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    /// The id as the provider spells it.
    pub id: String,
    pub name: String,
    /// Changes whenever anything in the scope changes (an etag where the provider has one,
    /// else a hash of the scope's stable content). A saved plan is stale when it moves.
    pub fingerprint: String,
    /// Every resource of the scope, managed and foreign.
    pub content: Content,
}

impl Scope {
    /// The scope's name, or the last segment of its id when the provider gave none.
    pub fn shown_name(&self) -> &str {
        if self.name.is_empty() {
            name_from_id(&self.id)
        } else {
            &self.name
        }
    }
}

/// Scope ids compare case-insensitively (ARM ids do), without a trailing `/`.
pub fn scope_key(id: &str) -> String {
    id.trim_end_matches('/').to_ascii_lowercase()
}

/// The last segment of an id.
pub fn name_from_id(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id)
}
