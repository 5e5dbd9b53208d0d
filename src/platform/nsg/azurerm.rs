//! Security rules in Terraform's terms: the `azurerm_network_security_rule` schema, and a
//! [`Rule`] to and from its attribute values (snake_case, one value in the singular attribute
//! and several in the plural one, `resource_group_name` and `network_security_group_name` from
//! the NSG id). This is how NSG rules appear in plans, in the JSON plan and in docs.

use serde_json::{json, Map, Value};

use super::rule::{Rule, RuleShapeError};
use crate::resource::{Attribute, Compare, Resource, Role, Schema};

/// The Terraform resource type of a security rule, as the azurerm provider names it.
pub const AZURERM_TYPE: &str = "azurerm_network_security_rule";

/// The Terraform provider a security rule belongs to, as `terraform show -json` spells it.
pub const AZURERM_PROVIDER: &str = "registry.terraform.io/hashicorp/azurerm";

/// A security rule as a typed resource: Terraform's `azurerm_network_security_rule`, its
/// attributes in the order jit writes them.
pub static SCHEMA: Schema = Schema {
    type_name: AZURERM_TYPE,
    provider_name: AZURERM_PROVIDER,
    doc: "One security rule of an Azure network security group (the scope), in the attribute names of Terraform's azurerm provider.",
    attributes: &[
        Attribute {
            name: "access",
            role: Role::Descriptive,
            compare: Compare::Exact,
            shown: true,
            doc: "`Allow` or `Deny`",
        },
        Attribute {
            name: "description",
            role: Role::Descriptive,
            compare: Compare::Exact,
            shown: true,
            doc: "free text; jit's rules carry `managed-by=jit` (and `request=`, `expires=` for grants)",
        },
        Attribute {
            name: "destination_address_prefix",
            role: Role::Descriptive,
            compare: Compare::Exact,
            shown: true,
            doc: "one destination prefix (else `null`)",
        },
        Attribute {
            name: "destination_address_prefixes",
            role: Role::Descriptive,
            compare: Compare::Exact,
            shown: true,
            doc: "several destination prefixes (else `null`)",
        },
        Attribute {
            name: "destination_application_security_group_ids",
            role: Role::Descriptive,
            compare: Compare::Exact,
            shown: true,
            doc: "destination application security groups (else `null`)",
        },
        Attribute {
            name: "destination_port_range",
            role: Role::Descriptive,
            compare: Compare::Exact,
            shown: true,
            doc: "one destination port or range (else `null`)",
        },
        Attribute {
            name: "destination_port_ranges",
            role: Role::Descriptive,
            compare: Compare::Exact,
            shown: true,
            doc: "several destination ports or ranges (else `null`)",
        },
        Attribute {
            name: "direction",
            role: Role::Descriptive,
            compare: Compare::Exact,
            shown: true,
            doc: "`Inbound` or `Outbound`",
        },
        Attribute {
            name: "id",
            role: Role::Identity,
            compare: Compare::IgnoreCase,
            shown: false,
            doc: "the rule's ARM id",
        },
        Attribute {
            name: "name",
            role: Role::Identity,
            compare: Compare::IgnoreCase,
            shown: false,
            doc: "the rule's name, unique in its NSG",
        },
        Attribute {
            name: "network_security_group_name",
            role: Role::Identity,
            compare: Compare::IgnoreCase,
            shown: false,
            doc: "the NSG's name (the scope)",
        },
        Attribute {
            name: "priority",
            role: Role::Descriptive,
            compare: Compare::Exact,
            shown: true,
            doc: "100–4096; lower is evaluated first",
        },
        Attribute {
            name: "protocol",
            role: Role::Descriptive,
            compare: Compare::IgnoreCase,
            shown: true,
            doc: "`Tcp`, `Udp`, `Icmp`, `Esp`, `Ah` or `*`",
        },
        Attribute {
            name: "resource_group_name",
            role: Role::Identity,
            compare: Compare::IgnoreCase,
            shown: false,
            doc: "the NSG's resource group",
        },
        Attribute {
            name: "source_address_prefix",
            role: Role::Descriptive,
            compare: Compare::Exact,
            shown: true,
            doc: "one source prefix (else `null`)",
        },
        Attribute {
            name: "source_address_prefixes",
            role: Role::Descriptive,
            compare: Compare::Exact,
            shown: true,
            doc: "several source prefixes (else `null`)",
        },
        Attribute {
            name: "source_application_security_group_ids",
            role: Role::Descriptive,
            compare: Compare::Exact,
            shown: true,
            doc: "source application security groups (else `null`)",
        },
        Attribute {
            name: "source_port_range",
            role: Role::Descriptive,
            compare: Compare::Exact,
            shown: true,
            doc: "one source port or range (else `null`)",
        },
        Attribute {
            name: "source_port_ranges",
            role: Role::Descriptive,
            compare: Compare::Exact,
            shown: true,
            doc: "several source ports or ranges (else `null`)",
        },
    ],
};

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
        if let Some(key) = SCHEMA.unknown_keys(obj) {
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

impl Rule {
    /// The rule as a typed resource of NSG `nsg_id`.
    pub fn to_resource(&self, nsg_id: &str) -> Resource {
        let Value::Object(values) = self.to_azurerm(nsg_id) else {
            unreachable!("to_azurerm writes an object")
        };
        Resource::new(&SCHEMA, values).expect("to_azurerm writes only schema attributes")
    }

    /// The rule a resource of this type describes.
    pub fn from_resource(resource: &Resource) -> Result<Rule, RuleShapeError> {
        if resource.type_name() != AZURERM_TYPE {
            return Err(RuleShapeError(format!(
                "a {} is not a security rule",
                resource.type_name()
            )));
        }
        Rule::from_azurerm(&resource.to_value())
    }
}
