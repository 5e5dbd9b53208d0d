//! The nft JSON of jit's table: the objects as `nft -j list table` prints them (so read-back
//! compares like with like) and the commands of one `nft -j -f` transaction. Pure.
//!
//! The table, for one protected port and one layer per family:
//!
//! ```text
//! table inet jit {
//!   set grants4_0 { type ipv4_addr . inet_proto . inet_service; flags interval,timeout; }
//!   set grants6_0 { type ipv6_addr . inet_proto . inet_service; flags interval,timeout; }
//!   chain input {
//!     type filter hook input priority filter - 10; policy accept;
//!     ct state established,related accept
//!     tcp dport 22 ip saddr . meta l4proto . tcp dport @grants4_0 accept
//!     tcp dport 22 ip6 saddr . meta l4proto . tcp dport @grants6_0 accept
//!     tcp dport 22 drop
//!   }
//! }
//! ```
//!
//! The last rule drops every packet to the port that is not part of an established connection
//! (new, invalid and untracked alike). `accept` in jit's chain only means "not dropped by jit":
//! the host's own chains still see the packet, so jit can only narrow what the host allows.

use serde_json::{json, Value};

use super::layers::{set_name, Layout};
use super::spec::{ElementKey, Family, GuardedPort, TableSpec};

/// The one chain of jit's table.
pub const CHAIN: &str = "input";

pub fn table(name: &str) -> Value {
    json!({"table": {"family": "inet", "name": name}})
}

pub fn chain(spec: &TableSpec) -> Value {
    json!({"chain": {
        "family": "inet", "table": spec.table, "name": CHAIN,
        "type": "filter", "hook": "input", "prio": spec.priority, "policy": "accept",
    }})
}

pub fn set(table: &str, family: Family, layer: usize) -> Value {
    json!({"set": {
        "family": "inet", "name": set_name(family, layer), "table": table,
        "type": [family.addr_type(), "inet_proto", "inet_service"],
        "flags": ["interval", "timeout"],
    }})
}

fn rule(table: &str, comment: String, expr: Vec<Value>) -> Value {
    json!({"rule": {"family": "inet", "table": table, "chain": CHAIN, "comment": comment, "expr": expr}})
}

fn dport(port: GuardedPort) -> Value {
    json!({"match": {"op": "==",
        "left": {"payload": {"protocol": port.proto.nft(), "field": "dport"}},
        "right": port.port}})
}

/// The chain's rules, in order.
pub fn rules(spec: &TableSpec, layout: &Layout) -> Vec<Value> {
    let t = &spec.table;
    let mut rules = vec![rule(
        t,
        "jit: connections already open stay open".to_string(),
        vec![
            json!({"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}),
            json!({"accept": null}),
        ],
    )];
    for port in &spec.ports {
        for (family, layer) in layout.set_names() {
            let lookup = json!({"match": {"op": "==",
                "left": {"concat": [
                    {"payload": {"protocol": family.payload(), "field": "saddr"}},
                    {"meta": {"key": "l4proto"}},
                    {"payload": {"protocol": port.proto.nft(), "field": "dport"}},
                ]},
                "right": format!("@{}", set_name(family, layer))}});
            rules.push(rule(
                t,
                format!("jit: {port} granted sources"),
                vec![dport(*port), lookup, json!({"accept": null})],
            ));
        }
        rules.push(rule(
            t,
            format!("jit: {port} closed to everyone else"),
            vec![dport(*port), json!({"drop": null})],
        ));
    }
    rules
}

/// Every object of the table but the elements, in the order a transaction adds them.
pub fn objects(spec: &TableSpec, layout: &Layout) -> Vec<Value> {
    let mut objects = vec![chain(spec)];
    for (family, layer) in layout.set_names() {
        objects.push(set(&spec.table, family, layer));
    }
    objects.extend(rules(spec, layout));
    objects
}

/// An element's value: `source . protocol . port`.
pub fn value(key: &ElementKey) -> Value {
    json!({"concat": [
        {"prefix": {"addr": key.source.network().to_string(), "len": key.source.prefix_len()}},
        key.proto.nft(),
        key.port,
    ]})
}

/// An element with its timeout (seconds, never 0) and comment.
pub fn element(val: Value, timeout: u64, comment: Option<&str>) -> Value {
    let mut elem = json!({"val": val, "timeout": timeout.max(1)});
    if let Some(comment) = comment {
        elem["comment"] = json!(comment);
    }
    json!({"elem": elem})
}

/// `add element` of `elems` to one set.
pub fn add_elements(table: &str, set: &str, elems: Vec<Value>) -> Value {
    json!({"add": {"element": {"family": "inet", "table": table, "name": set, "elem": elems}}})
}

/// `delete element` of these values from one set.
pub fn delete_elements(table: &str, set: &str, vals: Vec<Value>) -> Value {
    json!({"delete": {"element": {"family": "inet", "table": table, "name": set, "elem": vals}}})
}

/// `add` of a whole object (table, chain, set, rule).
pub fn add(object: Value) -> Value {
    json!({ "add": object })
}

/// `delete table`.
pub fn delete_table(name: &str) -> Value {
    json!({"delete": {"table": {"family": "inet", "name": name}}})
}

/// The document `nft -j -f` reads.
pub fn document(commands: Vec<Value>) -> Value {
    json!({ "nftables": commands })
}

#[cfg(test)]
mod tests {
    use super::super::layers::assign;
    use super::super::spec::{Proto, DEFAULT_PRIORITY};
    use super::*;

    fn spec() -> TableSpec {
        TableSpec::new(
            "jit",
            DEFAULT_PRIORITY,
            [GuardedPort {
                proto: Proto::Tcp,
                port: 22,
            }],
            [],
        )
    }

    #[test]
    fn one_lookup_per_port_family_and_layer_then_the_drop() {
        let spec = spec();
        let layout = assign(&[], &[], (2, 1));
        let rules = rules(&spec, &layout);
        assert_eq!(rules.len(), 1 + 3 + 1);
        let last = &rules[4]["rule"]["expr"];
        assert_eq!(last[1], json!({"drop": null}));
        assert_eq!(
            rules[2]["rule"]["expr"][1]["match"]["right"],
            json!("@grants4_1")
        );
    }

    #[test]
    fn host_addresses_are_written_as_prefixes_and_timeouts_are_never_zero() {
        let key = ElementKey::new("192.0.2.9/32".parse().unwrap(), Proto::Tcp, 22);
        let elem = element(value(&key), 0, Some("INC-1"));
        assert_eq!(elem["elem"]["timeout"], json!(1));
        assert_eq!(
            elem["elem"]["val"]["concat"][0],
            json!({"prefix": {"addr": "192.0.2.9", "len": 32}})
        );
    }
}
