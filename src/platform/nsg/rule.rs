//! ARM-shaped network security rules: the common language of the NSG platform and its
//! providers (snapshot and azure). Reads a rule from ARM's raw shape (fields under
//! `properties`) or the Azure CLI's flattened shape, normalises the singular/plural field pairs,
//! and writes ARM's raw shape. Application security groups (`sourceApplicationSecurityGroups`,
//! `destinationApplicationSecurityGroups`) are read and written back as their resource ids.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::names;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Direction {
    Inbound,
    Outbound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Access {
    Allow,
    Deny,
}

/// One security rule, normalised: each singular/plural pair (`sourceAddressPrefix` /
/// `sourceAddressPrefixes`, …) becomes one sorted list, so `"*"` and `["*"]` compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    pub name: String,
    pub priority: u16,
    pub direction: Direction,
    pub access: Access,
    /// As ARM spells it: `Tcp`, `Udp`, `Icmp`, `Esp`, `Ah`, `*`. Compared case-insensitively.
    pub protocol: String,
    pub sources: Vec<String>,
    pub source_ports: Vec<String>,
    pub destinations: Vec<String>,
    pub destination_ports: Vec<String>,
    /// Resource ids of the application security groups the rule's source is (sorted). A rule
    /// names either source prefixes or source ASGs; jit's own rules never use ASGs.
    pub source_asgs: Vec<String>,
    /// Resource ids of the application security groups the rule's destination is (sorted).
    pub destination_asgs: Vec<String>,
    pub description: Option<String>,
}

/// A security rule as a provider read it, with the rule's own etag where the provider has one.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveRule {
    pub rule: Rule,
    pub etag: Option<String>,
}

/// Why a JSON value is not a security rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleShapeError(pub String);

impl Rule {
    /// Owned by jit: name prefix and description marker both ([`names::is_managed`]).
    pub fn is_managed(&self, prefix: &str) -> bool {
        names::is_managed(&self.name, self.description.as_deref(), prefix)
    }

    /// A `key=value` field of a managed description (`request`, `expires`).
    pub fn description_field(&self, key: &str) -> Option<&str> {
        names::description_field(self.description.as_deref(), key)
    }

    /// Reads ARM's raw shape (`{"name", "properties": {...}}`) or the CLI's flattened shape
    /// (`{"name", "priority", ...}`).
    pub fn from_arm(value: &Value) -> Result<Rule, RuleShapeError> {
        let obj = value
            .as_object()
            .ok_or_else(|| RuleShapeError("security rule is not a JSON object".into()))?;
        let name = obj
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| RuleShapeError("security rule has no string `name`".into()))?
            .to_string();
        let props = match obj.get("properties") {
            Some(Value::Object(p)) => p,
            Some(_) => {
                return Err(RuleShapeError(format!(
                    "rule `{name}`: `properties` is not an object"
                )))
            }
            None => obj,
        };
        let err = |what: String| RuleShapeError(format!("rule `{name}`: {what}"));
        let str_field = |key: &str| -> Result<Option<String>, RuleShapeError> {
            match props.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(err(format!("`{key}` should be a string, found {other}"))),
            }
        };
        let priority = match props.get("priority") {
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| err(format!("`priority` {n} is out of range")))?,
            Some(other) => {
                return Err(err(format!("`priority` should be a number, found {other}")))
            }
            None => return Err(err("missing `priority`".into())),
        };
        let direction = match str_field("direction")?.as_deref() {
            Some(d) if d.eq_ignore_ascii_case("inbound") => Direction::Inbound,
            Some(d) if d.eq_ignore_ascii_case("outbound") => Direction::Outbound,
            other => {
                return Err(err(format!(
                    "`direction` should be Inbound or Outbound, found {other:?}"
                )))
            }
        };
        let access = match str_field("access")?.as_deref() {
            Some(a) if a.eq_ignore_ascii_case("allow") => Access::Allow,
            Some(a) if a.eq_ignore_ascii_case("deny") => Access::Deny,
            other => {
                return Err(err(format!(
                    "`access` should be Allow or Deny, found {other:?}"
                )))
            }
        };
        let protocol = str_field("protocol")?.ok_or_else(|| err("missing `protocol`".into()))?;
        let pair = |singular: &str, plural: &str| -> Result<Vec<String>, RuleShapeError> {
            let mut out = Vec::new();
            if let Some(s) = str_field(singular)? {
                out.push(s);
            }
            match props.get(plural) {
                None | Some(Value::Null) => {}
                Some(Value::Array(items)) => {
                    for item in items {
                        match item {
                            Value::String(s) => out.push(s.clone()),
                            other => {
                                return Err(err(format!("`{plural}` holds a non-string {other}")))
                            }
                        }
                    }
                }
                Some(other) => {
                    return Err(err(format!("`{plural}` should be an array, found {other}")))
                }
            }
            out.sort();
            out.dedup();
            Ok(out)
        };
        let asgs = |key: &str| -> Result<Vec<String>, RuleShapeError> {
            let items = match props.get(key) {
                None | Some(Value::Null) => return Ok(Vec::new()),
                Some(Value::Array(items)) => items,
                Some(other) => {
                    return Err(err(format!("`{key}` should be an array, found {other}")))
                }
            };
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item.get("id") {
                    Some(Value::String(id)) => out.push(id.clone()),
                    _ => {
                        return Err(err(format!(
                            "`{key}` holds {item}, not an object with a string `id`"
                        )))
                    }
                }
            }
            out.sort();
            out.dedup();
            Ok(out)
        };
        Ok(Rule {
            priority,
            direction,
            access,
            protocol,
            sources: pair("sourceAddressPrefix", "sourceAddressPrefixes")?,
            source_ports: pair("sourcePortRange", "sourcePortRanges")?,
            destinations: pair("destinationAddressPrefix", "destinationAddressPrefixes")?,
            destination_ports: pair("destinationPortRange", "destinationPortRanges")?,
            source_asgs: asgs("sourceApplicationSecurityGroups")?,
            destination_asgs: asgs("destinationApplicationSecurityGroups")?,
            description: str_field("description")?,
            name,
        })
    }

    /// The `properties` object ARM expects in a PUT: one value goes in the singular field, several
    /// in the plural one, never `*` inside a plural.
    pub fn arm_properties(&self) -> Map<String, Value> {
        let mut p = Map::new();
        if let Some(d) = &self.description {
            p.insert("description".into(), json!(d));
        }
        p.insert("protocol".into(), json!(self.protocol));
        put_pair(
            &mut p,
            "sourcePortRange",
            "sourcePortRanges",
            &self.source_ports,
        );
        put_pair(
            &mut p,
            "destinationPortRange",
            "destinationPortRanges",
            &self.destination_ports,
        );
        put_pair(
            &mut p,
            "sourceAddressPrefix",
            "sourceAddressPrefixes",
            &self.sources,
        );
        put_pair(
            &mut p,
            "destinationAddressPrefix",
            "destinationAddressPrefixes",
            &self.destinations,
        );
        for (key, ids) in [
            ("sourceApplicationSecurityGroups", &self.source_asgs),
            (
                "destinationApplicationSecurityGroups",
                &self.destination_asgs,
            ),
        ] {
            if !ids.is_empty() {
                let groups: Vec<Value> = ids.iter().map(|id| json!({ "id": id })).collect();
                p.insert(key.into(), Value::Array(groups));
            }
        }
        p.insert("access".into(), json!(self.access));
        p.insert("priority".into(), json!(self.priority));
        p.insert("direction".into(), json!(self.direction));
        p
    }

    /// `{"name": …, "properties": {…}}`, the shape of plan `before`/`after` and of a PUT body
    /// (without `name`, which is in the URL).
    pub fn to_arm(&self) -> Value {
        json!({ "name": self.name, "properties": self.arm_properties() })
    }
}

fn put_pair(p: &mut Map<String, Value>, singular: &str, plural: &str, values: &[String]) {
    if values.len() == 1 {
        p.insert(singular.into(), json!(values[0]));
    } else {
        p.insert(plural.into(), json!(values));
    }
}

/// How a JSON value's type reads in an error message: "a string", "an array", "null".
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_arm().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Rule::from_arm(&v).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_flattened_shapes_read_the_same() {
        let raw = json!({"name": "r", "properties": {"protocol": "Tcp", "sourcePortRange": "*",
            "destinationPortRange": "22", "sourceAddressPrefix": "*", "sourceAddressPrefixes": [],
            "destinationAddressPrefix": "10.0.0.4", "access": "Deny", "priority": 4000,
            "direction": "Inbound"}});
        let flat = json!({"name": "r", "protocol": "Tcp", "sourcePortRanges": ["*"],
            "destinationPortRange": "22", "sourceAddressPrefix": "*",
            "destinationAddressPrefix": "10.0.0.4", "access": "Deny", "priority": 4000,
            "direction": "Inbound"});
        assert_eq!(
            Rule::from_arm(&raw).unwrap(),
            Rule::from_arm(&flat).unwrap()
        );
    }

    #[test]
    fn round_trips_through_arm_shape() {
        let rule = Rule {
            name: "jit-allow-x-ssh".into(),
            priority: 100,
            direction: Direction::Inbound,
            access: Access::Allow,
            protocol: "Tcp".into(),
            sources: vec!["198.51.100.7/32".into()],
            source_ports: vec!["*".into()],
            destinations: vec!["10.0.0.4".into()],
            destination_ports: vec!["22".into()],
            source_asgs: vec![],
            destination_asgs: vec![],
            description: Some("managed-by=jit; request=x; expires=2026-11-25T16:00:00Z".into()),
        };
        assert_eq!(Rule::from_arm(&rule.to_arm()).unwrap(), rule);
        assert!(rule.is_managed("jit"));
        assert!(!rule.is_managed("ji"));
        assert_eq!(rule.description_field("request"), Some("x"));
    }

    const ASG: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/web-asg";

    #[test]
    fn application_security_groups_read_in_both_shapes_and_round_trip() {
        let groups = json!([{"id": ASG}, {"id": ASG, "location": "westus"}]);
        let raw = json!({"name": "asg-ssh", "properties": {"protocol": "Tcp",
            "sourcePortRange": "*", "destinationPortRange": "22",
            "sourceApplicationSecurityGroups": groups,
            "destinationAddressPrefix": "*", "destinationAddressPrefixes": [],
            "access": "Allow", "priority": 200, "direction": "Inbound"}});
        let flat = json!({"name": "asg-ssh", "protocol": "Tcp", "sourcePortRange": "*",
            "destinationPortRange": "22", "sourceApplicationSecurityGroups": [{"id": ASG}],
            "destinationAddressPrefix": "*", "access": "Allow", "priority": 200,
            "direction": "Inbound"});
        let rule = Rule::from_arm(&raw).unwrap();
        assert_eq!(rule, Rule::from_arm(&flat).unwrap());
        assert_eq!(rule.source_asgs, [ASG]);
        assert!(rule.sources.is_empty() && rule.destination_asgs.is_empty());
        let written = rule.to_arm();
        assert_eq!(
            written["properties"]["sourceApplicationSecurityGroups"],
            json!([{"id": ASG}])
        );
        assert!(written["properties"]
            .get("destinationApplicationSecurityGroups")
            .is_none());
        assert_eq!(Rule::from_arm(&written).unwrap(), rule);

        let dest = json!({"name": "to-asg", "properties": {"protocol": "*",
            "sourceAddressPrefix": "Internet", "sourcePortRange": "*",
            "destinationPortRange": "*", "destinationApplicationSecurityGroups": [{"id": ASG}],
            "access": "Allow", "priority": 210, "direction": "Inbound"}});
        let rule = Rule::from_arm(&dest).unwrap();
        assert_eq!(rule.destination_asgs, [ASG]);
        assert!(rule.destinations.is_empty());
        assert_eq!(Rule::from_arm(&rule.to_arm()).unwrap(), rule);
    }

    #[test]
    fn malformed_application_security_groups_name_rule_and_field() {
        for bad in [json!("x"), json!([ASG]), json!([{"name": "web-asg"}])] {
            let err = Rule::from_arm(&json!({"name": "r", "properties": {"protocol": "*",
                "access": "Allow", "priority": 200, "direction": "Inbound",
                "destinationApplicationSecurityGroups": bad}}))
            .unwrap_err();
            assert!(
                err.0
                    .starts_with("rule `r`: `destinationApplicationSecurityGroups`"),
                "{err}"
            );
        }
    }

    #[test]
    fn non_ascii_names_are_foreign_not_a_panic() {
        let rule = Rule::from_arm(&json!({"name": "aé-x", "properties": {"protocol": "*",
            "access": "Deny", "priority": 4000, "direction": "Inbound",
            "description": "managed-by=jit"}}))
        .unwrap();
        assert!(!rule.is_managed("ab"));
        assert!(!rule.is_managed("a\u{e9}-"));
        assert!(rule.is_managed("A\u{e9}"));
    }

    #[test]
    fn prefix_without_marker_is_foreign() {
        let mut rule = Rule::from_arm(
            &json!({"name": "jit-deny-x", "properties": {"protocol": "*",
            "access": "Deny", "priority": 4000, "direction": "Inbound"}}),
        )
        .unwrap();
        assert!(!rule.is_managed("jit"));
        rule.description = Some("managed-by=jit".into());
        assert!(rule.is_managed("jit"));
    }
}
