//! nftables objects as typed resources: a grant set element (`jit_nftables_element`) and the
//! table itself (`jit_nftables_table`, planned only when the whole table is written anew).

use jiff::Timestamp;
use serde_json::{json, Map, Value};

use super::readback::LiveElement;
use super::reconcile::Add;
use crate::resource::{Attribute, Compare, Resource, Role, Schema};

pub const ELEMENT_TYPE: &str = "jit_nftables_element";
pub const TABLE_TYPE: &str = "jit_nftables_table";
pub const PROVIDER: &str = "jit/nftables";

const fn attr(name: &'static str, role: Role, shown: bool, doc: &'static str) -> Attribute {
    Attribute {
        name,
        role,
        compare: Compare::Exact,
        shown,
        doc,
    }
}

/// One element of a grant set: a source, protocol and port open until its timeout.
pub static ELEMENT: Schema = Schema {
    type_name: ELEMENT_TYPE,
    provider_name: PROVIDER,
    doc: "One element of a grant set of jit's nftables table (the scope `nftables:<table>`): traffic from `source` to `protocol`/`port` is accepted until the kernel removes the element at its timeout.",
    attributes: &[
        attr("name", Role::Identity, false, "`<set>:<source> . <protocol> . <port>`, the element's value in its set"),
        attr("table", Role::Identity, false, "the table, in family `inet`"),
        attr("set", Role::Identity, false, "the grant set (`grants4_<layer>` or `grants6_<layer>`)"),
        attr("source", Role::Descriptive, true, "the source address or prefix (`null` when the element is not one jit writes)"),
        attr("protocol", Role::Descriptive, true, "`tcp` or `udp`"),
        attr("port", Role::Descriptive, true, "the destination port"),
        attr("timeout", Role::Descriptive, true, "the timeout, in seconds, the element was added with (`null` for an element jit adds: its timeout is counted from the clock at apply, up to `expires`; or for a live element without one)"),
        attr("expires", Role::Descriptive, true, "when the kernel removes an element jit adds: the end of its grant (RFC 3339; `null` for a live element, whose remaining time the plan's reason and `jit status` show)"),
        attr("comment", Role::Descriptive, true, "the request that granted it"),
    ],
};

/// jit's whole table, planned when it is written anew (missing, changed by hand, a new layer).
pub static TABLE: Schema = Schema {
    type_name: TABLE_TYPE,
    provider_name: PROVIDER,
    doc: "jit's nftables table `inet <table>` as a whole (its chain, rules and grant sets), planned when it is written anew: missing, changed by hand, or in need of another layer of grant sets.",
    attributes: &[
        attr("name", Role::Identity, false, "the table, in family `inet`"),
        attr("ports", Role::Descriptive, true, "the guarded ports, `<protocol>/<port>` (`null` in a table as read)"),
        attr("priority", Role::Descriptive, true, "the input chain's hook priority (`null` in a table as read)"),
        attr("state", Role::Descriptive, true, "why it is written anew (`null` in the table jit writes)"),
    ],
};

fn resource(schema: &'static Schema, values: Value) -> Resource {
    let map = match values {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    Resource::new(schema, map).unwrap_or_else(|_| Resource {
        schema,
        values: Map::new(),
    })
}

/// A live element as a resource.
pub fn live_element(table: &str, element: &LiveElement) -> Resource {
    let name = match element.key {
        Some(key) => format!("{}:{key}", element.set),
        None => format!("{}:{}", element.set, element.val),
    };
    resource(
        &ELEMENT,
        json!({
            "name": name,
            "table": table,
            "set": element.set,
            "source": element.key.map(|k| k.source.to_string()),
            "protocol": element.key.map(|k| k.proto.nft()),
            "port": element.key.map(|k| k.port),
            "timeout": element.timeout,
            "expires": null,
            "comment": element.comment,
        }),
    )
}

/// An element jit adds, as a resource, closing at `expires` (its grant's end). The timeout it is
/// written with is counted from the clock at apply (see `typed`), so a saved plan applied later
/// still closes the element at the grant's end, never after it.
pub fn new_element(table: &str, add: &Add, expires: Timestamp) -> Resource {
    let key = add.grant.key;
    resource(
        &ELEMENT,
        json!({
            "name": format!("{}:{key}", add.set),
            "table": table,
            "set": add.set,
            "source": key.source.to_string(),
            "protocol": key.proto.nft(),
            "port": key.port,
            "timeout": null,
            "expires": expires.to_string(),
            "comment": add.grant.comment,
        }),
    )
}

/// The table as a resource: `ports`/`priority` for the table jit writes, `state` for one read.
pub fn table(
    name: &str,
    ports: Option<Vec<String>>,
    priority: Option<i32>,
    state: Option<String>,
) -> Resource {
    resource(
        &TABLE,
        json!({"name": name, "ports": ports, "priority": priority, "state": state}),
    )
}
