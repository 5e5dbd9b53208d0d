//! Typed resources: one object inside a scope (a security rule in an NSG, an element of an
//! nftables set, a VM entry of a Defender policy), held as the attribute values its type's
//! [`Schema`] names. The schema is the one description of a type: the diff compares resources
//! with it, the text plan shows them with it, the JSON plan writes their values under its
//! attribute names, and docs/resources.md is generated from it.
//!
//! Pure data; what a resource *means* is its platform's business (`platform::*`).

use std::fmt;

use serde_json::{Map, Value};

/// A resource type: its Terraform type name, the provider Terraform would name, and its
/// attributes in the order jit writes them.
#[derive(Debug)]
pub struct Schema {
    /// `azurerm_network_security_rule`, …: the `type` of a Terraform JSON plan resource.
    pub type_name: &'static str,
    /// `registry.terraform.io/hashicorp/azurerm`, …: its `provider_name`.
    pub provider_name: &'static str,
    /// One line on what one resource of this type is.
    pub doc: &'static str,
    pub attributes: &'static [Attribute],
}

/// One attribute of a resource type.
#[derive(Debug)]
pub struct Attribute {
    pub name: &'static str,
    pub role: Role,
    pub compare: Compare,
    /// Shown in the text plan (identity attributes are in the change's address instead).
    pub shown: bool,
    pub doc: &'static str,
}

/// What an attribute is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Names the resource within its scope (or the scope itself): two resources with the same
    /// identity are the same object. Never changed by an update.
    Identity,
    /// Says what the resource does; an update changes it.
    Descriptive,
}

/// How two values of an attribute compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Exact,
    /// Strings compare case-insensitively (ARM names and protocols).
    IgnoreCase,
}

impl Schema {
    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The attributes whose values differ between `a` and `b`, in schema order.
    pub fn differing(&self, a: &Map<String, Value>, b: &Map<String, Value>) -> Vec<&'static str> {
        self.attributes
            .iter()
            .filter(|attr| !attr.same(get(a, attr.name), get(b, attr.name)))
            .map(|attr| attr.name)
            .collect()
    }

    /// The keys of `values` that are not attributes of this type.
    pub fn unknown_keys<'v>(&self, values: &'v Map<String, Value>) -> Option<&'v str> {
        values
            .keys()
            .find(|k| self.attribute(k).is_none())
            .map(String::as_str)
    }
}

impl Attribute {
    pub fn same(&self, a: &Value, b: &Value) -> bool {
        match (self.compare, a, b) {
            (Compare::IgnoreCase, Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
            _ => a == b,
        }
    }
}

fn get<'m>(values: &'m Map<String, Value>, key: &str) -> &'m Value {
    values.get(key).unwrap_or(&Value::Null)
}

/// One resource: its type and its attribute values, keyed by attribute name, every attribute of
/// the schema present (`null` when unset), in schema order.
#[derive(Clone)]
pub struct Resource {
    pub schema: &'static Schema,
    pub values: Map<String, Value>,
}

impl Resource {
    /// A resource of `schema` from `values`: attributes missing from `values` become `null`,
    /// and the map is put in schema order. Keys the schema does not name are an error.
    pub fn new(schema: &'static Schema, mut values: Map<String, Value>) -> Result<Self, String> {
        if let Some(key) = schema.unknown_keys(&values) {
            return Err(format!(
                "`{key}` is not an attribute of {}",
                schema.type_name
            ));
        }
        let ordered = schema
            .attributes
            .iter()
            .map(|a| {
                (
                    a.name.to_string(),
                    values.remove(a.name).unwrap_or(Value::Null),
                )
            })
            .collect();
        Ok(Resource {
            schema,
            values: ordered,
        })
    }

    pub fn type_name(&self) -> &'static str {
        self.schema.type_name
    }

    /// The value of `attribute`, `null` when unset.
    pub fn get(&self, attribute: &str) -> &Value {
        get(&self.values, attribute)
    }

    /// A string attribute, when it is one.
    pub fn str(&self, attribute: &str) -> Option<&str> {
        self.get(attribute).as_str()
    }

    /// The `name` attribute every type has.
    pub fn name(&self) -> &str {
        self.str("name").unwrap_or("")
    }

    /// The attributes whose values differ from `other`'s (which must be of the same type).
    pub fn differing(&self, other: &Resource) -> Vec<&'static str> {
        if self.schema.type_name != other.schema.type_name {
            return vec!["type"];
        }
        self.schema.differing(&self.values, &other.values)
    }

    /// Same type and no attribute differs.
    pub fn same(&self, other: &Resource) -> bool {
        self.differing(other).is_empty()
    }

    pub fn to_value(&self) -> Value {
        Value::Object(self.values.clone())
    }
}

impl PartialEq for Resource {
    /// Exact equality (every value byte for byte); [`Resource::same`] is the schema's.
    fn eq(&self, other: &Self) -> bool {
        self.schema.type_name == other.schema.type_name && self.values == other.values
    }
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resource")
            .field("type", &self.schema.type_name)
            .field("values", &self.values)
            .finish()
    }
}

/// Case-insensitive order of names and addresses, ties broken by the exact spelling, so
/// sorting is total.
pub fn name_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.to_ascii_lowercase()
        .cmp(&b.to_ascii_lowercase())
        .then_with(|| a.cmp(b))
}

/// A value as the text plan shows it: strings quoted, lists in brackets, as HCL reads.
pub fn show_value(value: &Value) -> String {
    match value {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(show_value).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

/// The docs of some resource types as Markdown: one table per type (docs/resources.md).
pub fn markdown(schemas: &[&Schema]) -> String {
    let mut out = String::from(
        "# Resource types\n\n\
         Generated from the schemas in the code (`jit::platform::SCHEMAS`); a test keeps this file\n\
         and the code in agreement. Identity attributes name the resource; an update changes only\n\
         descriptive ones. The JSON plan writes every attribute, `null` when unset.\n",
    );
    for schema in schemas {
        out.push_str(&format!(
            "\n## `{}`\n\n{}\n\nTerraform provider: `{}`\n\n| attribute | role | compared | meaning |\n| --- | --- | --- | --- |\n",
            schema.type_name, schema.doc, schema.provider_name
        ));
        for a in schema.attributes {
            let role = match a.role {
                Role::Identity => "identity",
                Role::Descriptive => "descriptive",
            };
            let compare = match a.compare {
                Compare::Exact => "exactly",
                Compare::IgnoreCase => "ignoring case",
            };
            out.push_str(&format!(
                "| `{}` | {role} | {compare} | {} |\n",
                a.name, a.doc
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static SCHEMA: Schema = Schema {
        type_name: "test_thing",
        provider_name: "test",
        doc: "a thing",
        attributes: &[
            Attribute {
                name: "name",
                role: Role::Identity,
                compare: Compare::IgnoreCase,
                shown: false,
                doc: "its name",
            },
            Attribute {
                name: "size",
                role: Role::Descriptive,
                compare: Compare::Exact,
                shown: true,
                doc: "how big",
            },
        ],
    };

    fn thing(v: Value) -> Resource {
        let Value::Object(map) = v else { panic!() };
        Resource::new(&SCHEMA, map).unwrap()
    }

    #[test]
    fn compares_by_the_schema() {
        let a = thing(json!({"size": 1, "name": "A"}));
        assert_eq!(a.values.keys().collect::<Vec<_>>(), ["name", "size"]);
        assert!(a.same(&thing(json!({"name": "a", "size": 1}))));
        assert_ne!(a, thing(json!({"name": "a", "size": 1})));
        assert_eq!(
            a.differing(&thing(json!({"name": "a", "size": 2}))),
            ["size"]
        );
        assert_eq!(thing(json!({})).get("size"), &Value::Null);
        let Value::Object(bad) = json!({"colour": "red"}) else {
            panic!()
        };
        assert!(Resource::new(&SCHEMA, bad)
            .unwrap_err()
            .contains("`colour`"));
    }
}
