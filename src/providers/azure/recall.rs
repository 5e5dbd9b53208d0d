//! The NSGs this process has read from ARM directly, each as read under its etag: what a plan
//! made in this run was computed from, so that `apply` can write an NSG from the plan's own
//! read instead of reading it again (see [`super::write`]). Only direct GETs are kept (never a
//! Resource Graph row, which may lag), and a read is recalled only under the fingerprint the
//! batch carries: ARM gives an NSG a new etag on every change, so an NSG recalled under the
//! plan's etag is exactly the NSG the plan saw, rule etags included.
//!
//! One table for the process (a `jit` run plans through one set of providers and applies
//! through another), keyed by endpoint and NSG; each NSG keeps its latest read only.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use crate::live::{scope_key, Scope};

static READS: Mutex<BTreeMap<(String, String), Scope>> = Mutex::new(BTreeMap::new());

fn reads() -> MutexGuard<'static, BTreeMap<(String, String), Scope>> {
    READS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps `scope`, the NSG `id` as ARM's endpoint `base` just answered it.
pub fn remember(base: &str, id: &str, scope: &Scope) {
    reads().insert((base.to_string(), scope_key(id)), scope.clone());
}

/// The NSG `id` as this process last read it from `base`, if that read had `fingerprint`.
pub fn recall(base: &str, id: &str, fingerprint: &str) -> Option<Scope> {
    reads()
        .get(&(base.to_string(), scope_key(id)))
        .filter(|scope| scope.fingerprint == fingerprint)
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_nsg_is_recalled_only_under_the_etag_it_was_read_with() {
        let base = "http://127.0.0.1:1/recall-test";
        let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/A";
        let scope = crate::platform::nsg::scope(id.into(), "A".into(), "W/\"1\"".into(), vec![]);
        assert_eq!(recall(base, id, "W/\"1\""), None);
        remember(base, id, &scope);
        assert_eq!(recall(base, &id.to_lowercase(), "W/\"1\""), Some(scope));
        assert_eq!(recall(base, id, "W/\"2\""), None, "another etag");
        assert_eq!(
            recall("http://other/", id, "W/\"1\""),
            None,
            "another endpoint"
        );
    }
}
