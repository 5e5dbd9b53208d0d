//! Read-back: the output of `nft -j list table inet <table>` as jit's own live description
//! (the table's objects, its elements with the kernel's remaining time) and a fingerprint over
//! the stable fields only. Pure: the caller runs `nft`.

use ipnet::IpNet;
use serde_json::{json, Value};

use super::layers::parse_set_name;
use super::spec::{ElementKey, Family, Proto};

/// One element as the kernel holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveElement {
    /// The set it is in.
    pub set: String,
    /// Its value exactly as listed, to delete it by.
    pub val: Value,
    /// Its key, when it is a `source . protocol . port` jit can read (not a range, say).
    pub key: Option<ElementKey>,
    /// The family and layer of `set`, when `set` is one of jit's grant sets.
    pub layer: Option<(Family, usize)>,
    /// The timeout it was added with, in seconds.
    pub timeout: Option<u64>,
    /// Seconds until the kernel removes it (counts down; not in the fingerprint).
    pub expires: Option<u64>,
    pub comment: Option<String>,
}

/// jit's table as read.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveTable {
    pub table: String,
    /// Chains, sets (without their elements) and rules, in listed order, without the
    /// kernel-assigned `handle`s.
    pub objects: Vec<Value>,
    pub elements: Vec<LiveElement>,
    /// `sha256:…` over `objects` and each element's set, value, timeout and comment.
    pub fingerprint: String,
}

impl LiveTable {
    /// How many consecutive layers `family` has (`grants4_0`, `grants4_1`, … present).
    pub fn layers(&self, family: Family) -> usize {
        let present = |layer: usize| {
            self.objects.iter().any(|o| {
                o.pointer("/set/name").and_then(Value::as_str)
                    == Some(&super::layers::set_name(family, layer))
            })
        };
        (0..).take_while(|l| present(*l)).count()
    }
}

/// Why a listing could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`nft -j list table inet {table}` printed something jit cannot read: {why}")]
pub struct ReadError {
    pub table: String,
    pub why: String,
}

/// Parses the listing of table `inet <table>`.
pub fn parse(table: &str, listing: &str) -> Result<LiveTable, ReadError> {
    let bad = |why: String| ReadError {
        table: table.to_string(),
        why,
    };
    let doc: Value = serde_json::from_str(listing).map_err(|e| bad(e.to_string()))?;
    let items = doc
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no `nftables` array".to_string()))?;
    let mut objects = Vec::new();
    let mut elements = Vec::new();
    for item in items {
        let Some((kind, body)) = item.as_object().and_then(|o| o.iter().next()) else {
            return Err(bad(format!("an entry that is not an object: {item}")));
        };
        if kind == "metainfo" || kind == "table" {
            continue;
        }
        let mut body = body.clone();
        let Some(fields) = body.as_object_mut() else {
            return Err(bad(format!("a `{kind}` that is not an object")));
        };
        fields.remove("handle");
        if kind == "set" || kind == "map" {
            let name = fields
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if let Some(Value::Array(elems)) = fields.remove("elem") {
                for elem in elems {
                    elements.push(live_element(&name, elem));
                }
            }
        }
        objects.push(json!({ kind: body }));
    }
    let fingerprint = fingerprint(&objects, &elements);
    Ok(LiveTable {
        table: table.to_string(),
        objects,
        elements,
        fingerprint,
    })
}

fn live_element(set: &str, elem: Value) -> LiveElement {
    // An element with attributes is `{"elem": {"val": …, "timeout": …}}`; a bare one is its value.
    let (val, attrs) = match elem.get("elem") {
        Some(inner) => (
            inner.get("val").cloned().unwrap_or(Value::Null),
            inner.clone(),
        ),
        None => (elem.clone(), Value::Null),
    };
    LiveElement {
        set: set.to_string(),
        key: element_key(&val),
        layer: parse_set_name(set),
        timeout: attrs.get("timeout").and_then(Value::as_u64),
        expires: attrs.get("expires").and_then(Value::as_u64),
        comment: attrs
            .get("comment")
            .and_then(Value::as_str)
            .map(str::to_string),
        val,
    }
}

/// `source . protocol . port` from a listed value, or `None` for anything else.
pub fn element_key(val: &Value) -> Option<ElementKey> {
    let parts = val.get("concat")?.as_array()?;
    let [addr, proto, port] = parts.as_slice() else {
        return None;
    };
    let source: IpNet = match addr {
        Value::String(s) => s.parse::<std::net::IpAddr>().ok()?.into(),
        Value::Object(o) => {
            let prefix = o.get("prefix")?;
            let ip: std::net::IpAddr = prefix.get("addr")?.as_str()?.parse().ok()?;
            let len = u8::try_from(prefix.get("len")?.as_u64()?).ok()?;
            IpNet::new(ip, len).ok()?
        }
        _ => return None,
    };
    let proto = match proto {
        Value::String(s) => Proto::parse(s)?,
        Value::Number(n) => match n.as_u64()? {
            6 => Proto::Tcp,
            17 => Proto::Udp,
            _ => return None,
        },
        _ => return None,
    };
    let port = u16::try_from(port.as_u64()?).ok()?;
    Some(ElementKey::new(source, proto, port))
}

fn fingerprint(objects: &[Value], elements: &[LiveElement]) -> String {
    let mut elems: Vec<String> = elements
        .iter()
        .map(|e| {
            let mut text = String::new();
            crate::digest::canonical_json(
                &json!({"set": e.set, "val": e.val, "timeout": e.timeout, "comment": e.comment}),
                &mut text,
            );
            text
        })
        .collect();
    elems.sort();
    crate::digest::json_fingerprint(&json!({"objects": objects, "elements": elems}))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As nft 1.0.6 lists a table with one element, trimmed to what matters.
    fn listing(expires: u64, timeout: u64) -> String {
        json!({"nftables": [
            {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
            {"table": {"family": "inet", "name": "jit", "handle": 2}},
            {"set": {"family": "inet", "name": "grants4_0", "table": "jit",
                "type": ["ipv4_addr", "inet_proto", "inet_service"], "handle": 2,
                "flags": ["interval", "timeout"],
                "elem": [
                    {"elem": {"val": {"concat": [{"prefix": {"addr": "192.0.2.0", "len": 25}}, "tcp", 22]},
                        "timeout": timeout, "expires": expires, "comment": "INC-1"}},
                    {"concat": ["192.0.2.9", "tcp", 22]},
                    {"concat": [{"range": ["192.0.2.1", "192.0.2.5"]}, "tcp", 22]}
                ]}},
            {"chain": {"family": "inet", "table": "jit", "name": "input", "handle": 1,
                "type": "filter", "hook": "input", "prio": -10, "policy": "accept"}}
        ]})
        .to_string()
    }

    #[test]
    fn elements_are_read_with_their_key_timeout_and_comment() {
        let live = parse("jit", &listing(29, 30)).unwrap();
        assert_eq!(live.elements.len(), 3);
        let first = &live.elements[0];
        assert_eq!(first.key.unwrap().to_string(), "192.0.2.0/25 . tcp . 22");
        assert_eq!((first.timeout, first.expires), (Some(30), Some(29)));
        assert_eq!(first.comment.as_deref(), Some("INC-1"));
        assert_eq!(first.layer, Some((Family::V4, 0)));
        assert_eq!(
            live.elements[1].key.unwrap().to_string(),
            "192.0.2.9/32 . tcp . 22"
        );
        assert_eq!(
            live.elements[2].key, None,
            "a range is not a key jit writes"
        );
        assert_eq!(live.layers(Family::V4), 1);
        assert_eq!(live.layers(Family::V6), 0);
        assert!(live
            .objects
            .iter()
            .all(|o| !o.to_string().contains("handle")));
    }

    #[test]
    fn the_fingerprint_ignores_the_counting_down_expires_but_not_the_timeout() {
        let a = parse("jit", &listing(29, 30)).unwrap();
        let b = parse("jit", &listing(3, 30)).unwrap();
        let c = parse("jit", &listing(29, 31)).unwrap();
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_ne!(a.fingerprint, c.fingerprint);
    }

    #[test]
    fn garbage_is_an_error_naming_the_table() {
        let err = parse("jit", "not json").unwrap_err();
        assert!(err.to_string().contains("inet jit"), "{err}");
        assert!(parse("jit", "{}").is_err());
    }

    #[test]
    fn protocol_numbers_and_ipv6_hosts_are_read() {
        let key = element_key(&json!({"concat": ["2001:db8::7", 17, 53]})).unwrap();
        assert_eq!(key.to_string(), "2001:db8::7/128 . udp . 53");
    }
}
