//! ARM-shaped network security rules: the common language of `compile`, `plan` and the NSG
//! providers (snapshot and azure). Reads a rule from ARM's raw shape (fields under
//! `properties`) or the Azure CLI's flattened shape, normalises the singular/plural field pairs,
//! and writes ARM's raw shape. Application security groups (`sourceApplicationSecurityGroups`,
//! `destinationApplicationSecurityGroups`) are read and written back as their resource ids.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Managed rules carry this in their description, after the name prefix.
pub const MANAGED_MARKER: &str = "managed-by=jit";

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

/// Why a JSON value is not a security rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleShapeError(pub String);

impl Rule {
    /// Owned by jit: name starts with `<prefix>-` (case-insensitive, as ARM compares names) and
    /// the description carries the marker. Both, so a hand-made rule that happens to share the
    /// prefix is still foreign.
    pub fn is_managed(&self, prefix: &str) -> bool {
        let name_ok = self
            .name
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
            && self.name.as_bytes().get(prefix.len()) == Some(&b'-');
        let marker_ok = self
            .description
            .as_deref()
            .is_some_and(|d| d.split(';').any(|part| part.trim() == MANAGED_MARKER));
        name_ok && marker_ok
    }

    /// A `key=value` field of a managed description (`request`, `expires`).
    pub fn description_field(&self, key: &str) -> Option<&str> {
        self.description.as_deref()?.split(';').find_map(|part| {
            let (k, v) = part.trim().split_once('=')?;
            (k == key).then_some(v)
        })
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

/// The Terraform resource type of a security rule, as the azurerm provider names it.
pub const AZURERM_TYPE: &str = "azurerm_network_security_rule";

/// The Terraform provider a security rule belongs to, as `terraform show -json` spells it.
pub const AZURERM_PROVIDER: &str = "registry.terraform.io/hashicorp/azurerm";

/// Every attribute of an `azurerm_network_security_rule`, in the order jit writes them.
pub const AZURERM_ATTRIBUTES: [&str; 19] = [
    "access",
    "description",
    "destination_address_prefix",
    "destination_address_prefixes",
    "destination_application_security_group_ids",
    "destination_port_range",
    "destination_port_ranges",
    "direction",
    "id",
    "name",
    "network_security_group_name",
    "priority",
    "protocol",
    "resource_group_name",
    "source_address_prefix",
    "source_address_prefixes",
    "source_application_security_group_ids",
    "source_port_range",
    "source_port_ranges",
];

/// The ARM id of rule `name` in NSG `nsg_id`.
pub fn rule_id(nsg_id: &str, name: &str) -> String {
    format!("{}/securityRules/{name}", nsg_id.trim_end_matches('/'))
}

/// The NSG id of a rule id (`…/securityRules/<name>`), or `None` when it is not one.
pub fn nsg_of_rule_id(id: &str) -> Option<&str> {
    let (nsg, _) = id.rsplit_once('/')?;
    let (nsg, segment) = nsg.rsplit_once('/')?;
    segment.eq_ignore_ascii_case("securityRules").then_some(nsg)
}

/// The resource group segment of an ARM id, if it has one.
pub fn resource_group_of(id: &str) -> Option<&str> {
    let mut parts = id.split('/');
    while let Some(part) = parts.next() {
        if part.eq_ignore_ascii_case("resourceGroups") {
            return parts.next().filter(|rg| !rg.is_empty());
        }
    }
    None
}

impl Rule {
    /// The rule as Terraform's azurerm provider writes an `azurerm_network_security_rule` in
    /// a plan: snake_case attributes, one value in the singular attribute and several in the
    /// plural one (the other `null`), `resource_group_name` and `network_security_group_name`
    /// from the NSG id, and `id` the rule's ARM id.
    pub fn to_azurerm(&self, nsg_id: &str) -> Value {
        let mut v = Map::new();
        let single = |values: &[String]| match values {
            [one] => json!(one),
            _ => Value::Null,
        };
        let plural = |values: &[String]| match values {
            [_] | [] => Value::Null,
            several => json!(several),
        };
        let ids = |values: &[String]| {
            if values.is_empty() {
                Value::Null
            } else {
                json!(values)
            }
        };
        v.insert("access".into(), json!(self.access));
        v.insert("description".into(), json!(self.description));
        v.insert(
            "destination_address_prefix".into(),
            single(&self.destinations),
        );
        v.insert(
            "destination_address_prefixes".into(),
            plural(&self.destinations),
        );
        v.insert(
            "destination_application_security_group_ids".into(),
            ids(&self.destination_asgs),
        );
        v.insert(
            "destination_port_range".into(),
            single(&self.destination_ports),
        );
        v.insert(
            "destination_port_ranges".into(),
            plural(&self.destination_ports),
        );
        v.insert("direction".into(), json!(self.direction));
        v.insert("id".into(), json!(rule_id(nsg_id, &self.name)));
        v.insert("name".into(), json!(self.name));
        v.insert(
            "network_security_group_name".into(),
            json!(crate::live::name_from_id(nsg_id)),
        );
        v.insert("priority".into(), json!(self.priority));
        v.insert("protocol".into(), json!(self.protocol));
        v.insert(
            "resource_group_name".into(),
            json!(resource_group_of(nsg_id)),
        );
        v.insert("source_address_prefix".into(), single(&self.sources));
        v.insert("source_address_prefixes".into(), plural(&self.sources));
        v.insert(
            "source_application_security_group_ids".into(),
            ids(&self.source_asgs),
        );
        v.insert("source_port_range".into(), single(&self.source_ports));
        v.insert("source_port_ranges".into(), plural(&self.source_ports));
        Value::Object(v)
    }

    /// Reads the azurerm attributes [`Rule::to_azurerm`] writes; `resource_group_name`,
    /// `network_security_group_name` and `id` are left to the caller, which knows the NSG.
    pub fn from_azurerm(value: &Value) -> Result<Rule, RuleShapeError> {
        let obj = value
            .as_object()
            .ok_or_else(|| RuleShapeError("security rule is not a JSON object".into()))?;
        if let Some(key) = obj
            .keys()
            .find(|k| !AZURERM_ATTRIBUTES.contains(&k.as_str()))
        {
            return Err(RuleShapeError(format!(
                "`{key}` is not an attribute of {AZURERM_TYPE}"
            )));
        }
        let mut arm = Map::new();
        for (key, arm_key) in [
            ("name", "name"),
            ("priority", "priority"),
            ("direction", "direction"),
            ("access", "access"),
            ("protocol", "protocol"),
            ("description", "description"),
            ("source_address_prefix", "sourceAddressPrefix"),
            ("source_address_prefixes", "sourceAddressPrefixes"),
            ("source_port_range", "sourcePortRange"),
            ("source_port_ranges", "sourcePortRanges"),
            ("destination_address_prefix", "destinationAddressPrefix"),
            ("destination_address_prefixes", "destinationAddressPrefixes"),
            ("destination_port_range", "destinationPortRange"),
            ("destination_port_ranges", "destinationPortRanges"),
        ] {
            if let Some(v) = obj.get(key) {
                arm.insert(arm_key.into(), v.clone());
            }
        }
        for (key, arm_key) in [
            (
                "source_application_security_group_ids",
                "sourceApplicationSecurityGroups",
            ),
            (
                "destination_application_security_group_ids",
                "destinationApplicationSecurityGroups",
            ),
        ] {
            match obj.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::Array(ids)) => {
                    let groups: Vec<Value> = ids.iter().map(|id| json!({ "id": id })).collect();
                    arm.insert(arm_key.into(), Value::Array(groups));
                }
                Some(other) => {
                    return Err(RuleShapeError(format!(
                        "`{key}` should be an array, found {other}"
                    )))
                }
            }
        }
        Rule::from_arm(&Value::Object(arm)).map_err(|e| {
            let text = e.0;
            RuleShapeError(AZURERM_NAMES.iter().fold(text, |t, (arm, tf)| {
                t.replace(&format!("`{arm}`"), &format!("`{tf}`"))
            }))
        })
    }
}

/// ARM property names and their azurerm attribute names, for error messages.
const AZURERM_NAMES: [(&str, &str); 10] = [
    ("sourceAddressPrefixes", "source_address_prefixes"),
    ("sourceAddressPrefix", "source_address_prefix"),
    ("sourcePortRanges", "source_port_ranges"),
    ("sourcePortRange", "source_port_range"),
    ("destinationAddressPrefixes", "destination_address_prefixes"),
    ("destinationAddressPrefix", "destination_address_prefix"),
    ("destinationPortRanges", "destination_port_ranges"),
    ("destinationPortRange", "destination_port_range"),
    (
        "sourceApplicationSecurityGroups",
        "source_application_security_group_ids",
    ),
    (
        "destinationApplicationSecurityGroups",
        "destination_application_security_group_ids",
    ),
];

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
