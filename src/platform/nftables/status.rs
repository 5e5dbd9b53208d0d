//! The grants a live table holds, with the kernel's remaining time: what `jit status` lists
//! for an nftables scope. Pure.

use super::readback::LiveTable;
use super::spec::ElementKey;

/// One element of a grant set, as `jit status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenGrant {
    /// The request the element's comment names (`None`: no comment, so not jit's writing).
    pub request: Option<String>,
    /// `None` for an element jit cannot read as `source . protocol . port` (a range, say).
    pub key: Option<ElementKey>,
    /// The set it is in.
    pub set: String,
    /// Seconds until the kernel removes it; `None`: it has no timeout and stays until removed.
    pub seconds_left: Option<u64>,
}

/// Every element of the table's grant sets, by request, then key.
pub fn open_grants(live: &LiveTable) -> Vec<OpenGrant> {
    let mut grants: Vec<OpenGrant> = live
        .elements
        .iter()
        .filter(|e| e.layer.is_some())
        .map(|e| OpenGrant {
            request: e.comment.clone().filter(|c| !c.is_empty()),
            key: e.key,
            set: e.set.clone(),
            seconds_left: e.expires,
        })
        .collect();
    grants.sort_by(|a, b| (&a.request, a.key, &a.set).cmp(&(&b.request, b.key, &b.set)));
    grants
}

#[cfg(test)]
mod tests {
    use super::super::readback::parse;
    use super::*;
    use serde_json::json;

    #[test]
    fn elements_are_listed_with_their_request_and_the_kernels_remaining_time() {
        let listing = json!({"nftables": [
            {"set": {"family": "inet", "name": "grants4_0", "table": "jit",
                "type": ["ipv4_addr", "inet_proto", "inet_service"], "flags": ["interval", "timeout"],
                "elem": [
                    {"elem": {"val": {"concat": ["192.0.2.9", "tcp", 22]}, "timeout": 600, "expires": 421, "comment": "INC-2"}},
                    {"elem": {"val": {"concat": [{"prefix": {"addr": "192.0.2.0", "len": 25}}, "tcp", 22]}, "timeout": 60, "expires": 7, "comment": "INC-1"}},
                    {"concat": ["192.0.2.77", "tcp", 22]}
                ]}},
            {"set": {"family": "inet", "name": "other", "table": "jit",
                "type": "ipv4_addr", "elem": ["192.0.2.5"]}}
        ]});
        let live = parse("jit", &listing.to_string()).unwrap();
        let grants = open_grants(&live);
        assert_eq!(grants.len(), 3, "only jit's grant sets");
        assert_eq!(grants[0].request, None);
        assert_eq!(
            grants[0].seconds_left, None,
            "no timeout: open until removed"
        );
        assert_eq!(grants[1].request.as_deref(), Some("INC-1"));
        assert_eq!(grants[1].seconds_left, Some(7));
        assert_eq!(
            grants[2].key.unwrap().to_string(),
            "192.0.2.9/32 . tcp . 22"
        );
    }
}
