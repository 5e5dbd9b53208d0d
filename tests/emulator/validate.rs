//! What Microsoft.Network checks on `PUT …/securityRules/{name}`, with its error codes.
//!
//! Codes taken from real ARM answers: `InvalidResourceName`, `InvalidRequestFormat` (with an
//! `InvalidJson` detail for enum values it cannot parse), `SecurityRuleInvalidPriority`,
//! `SecurityRuleConflict`, `SecurityRuleParameterContainsUnsupportedValue`. Two are the
//! emulator's own names, as the real ones are not documented: `SecurityRuleDescriptionTooLong`
//! and `SecurityRuleParametersMutuallyExclusive` (also for address prefixes beside application
//! security groups on the same side, which ARM refuses).

use std::net::IpAddr;

use serde_json::{Map, Value};

/// A rejected rule: ARM error code, message and detail codes.
#[derive(Debug)]
pub struct Rejection {
    pub code: &'static str,
    pub message: String,
    pub details: Vec<(&'static str, String)>,
}

fn reject(code: &'static str, message: String) -> Rejection {
    Rejection {
        code,
        message,
        details: Vec::new(),
    }
}

fn bad_format(detail: String) -> Rejection {
    Rejection {
        code: "InvalidRequestFormat",
        message: "Cannot parse the request.".to_string(),
        details: vec![("InvalidJson", detail)],
    }
}

/// ARM's rule for names of NSGs and security rules.
pub fn valid_name(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let first = name.chars().next();
    let last = name.chars().last();
    (1..=80).contains(&name.len())
        && name.chars().all(|c| word(c) || c == '.' || c == '-')
        && first.is_some_and(word)
        && last.is_some_and(word)
}

/// True for an IPv4/IPv6 address, CIDR or `a-b` address range; false for `*` and service tags.
fn is_address(value: &str) -> bool {
    let (ip, len) = match value.split_once('/') {
        Some((ip, len)) => (ip, Some(len)),
        None => (value, None),
    };
    if let Some((a, b)) = ip.split_once('-') {
        return len.is_none() && a.parse::<IpAddr>().is_ok() && b.parse::<IpAddr>().is_ok();
    }
    ip.parse::<IpAddr>().is_ok() && len.is_none_or(|l| l.parse::<u8>().is_ok())
}

fn one_of(
    props: &Map<String, Value>,
    field: &str,
    allowed: &[&str],
    type_name: &str,
) -> Result<(), Rejection> {
    match props.get(field) {
        Some(Value::String(s)) if allowed.iter().any(|a| a.eq_ignore_ascii_case(s)) => Ok(()),
        Some(other) => Err(bad_format(format!(
            "Error converting value {other} to type '{type_name}'. Path 'properties.{field}'."
        ))),
        None => Err(bad_format(format!(
            "Required property '{field}' not found in JSON. Path 'properties'."
        ))),
    }
}

/// Checks `props` of rule `name` (in NSG `nsg_id`) against the NSG's other rules.
pub fn check_rule(
    nsg_id: &str,
    name: &str,
    props: &Map<String, Value>,
    others: &[Value],
) -> Result<(), Rejection> {
    let rule_id = format!("{nsg_id}/securityRules/{name}");
    if !valid_name(name) {
        return Err(reject(
            "InvalidResourceName",
            format!(
                "Resource name {name} is invalid. The name can be up to 80 characters long. It must begin with a word character, and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'."
            ),
        ));
    }
    one_of(
        props,
        "protocol",
        &["Tcp", "Udp", "Icmp", "Esp", "Ah", "*"],
        "SecurityRuleProtocol",
    )?;
    one_of(props, "access", &["Allow", "Deny"], "SecurityRuleAccess")?;
    one_of(
        props,
        "direction",
        &["Inbound", "Outbound"],
        "SecurityRuleDirection",
    )?;
    let priority = match props.get("priority") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(other) => {
            return Err(bad_format(format!(
                "Could not convert {other} to integer. Path 'properties.priority'."
            )))
        }
        None => None,
    };
    let priority = match priority {
        Some(p) if (100..=4096).contains(&p) => p,
        other => {
            let shown = other.map_or("null".to_string(), |p| p.to_string());
            return Err(reject(
                "SecurityRuleInvalidPriority",
                format!("Security rule has invalid Priority. Value provided: {shown} Allowed range 100-4096."),
            ));
        }
    };
    if let Some(Value::String(d)) = props.get("description") {
        if d.chars().count() > 140 {
            return Err(reject(
                "SecurityRuleDescriptionTooLong",
                format!("Security rule {rule_id} has a description longer than 140 characters."),
            ));
        }
    }
    for (singular, plural, address) in [
        ("sourceAddressPrefix", "sourceAddressPrefixes", true),
        (
            "destinationAddressPrefix",
            "destinationAddressPrefixes",
            true,
        ),
        ("sourcePortRange", "sourcePortRanges", false),
        ("destinationPortRange", "destinationPortRanges", false),
    ] {
        let single_set = matches!(props.get(singular), Some(Value::String(_)));
        let many: Vec<&str> = match props.get(plural) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if single_set && !many.is_empty() {
            return Err(reject(
                "SecurityRuleParametersMutuallyExclusive",
                format!("Security rule {rule_id} specifies both {singular} and {plural}; only one may be set."),
            ));
        }
        let unsupported = many
            .iter()
            .find(|v| if address { !is_address(v) } else { **v == "*" });
        if let Some(value) = unsupported {
            let cap = capitalise(plural);
            return Err(reject(
                "SecurityRuleParameterContainsUnsupportedValue",
                format!(
                    "Security rule parameter {cap} for rule with Id {rule_id} cannot specify existing VIRTUALNETWORK, INTERNET, AZURELOADBALANCER, '*' or system tags. Unsupported value used: {value}."
                ),
            ));
        }
    }
    for (groups, singular, plural) in [
        (
            "sourceApplicationSecurityGroups",
            "sourceAddressPrefix",
            "sourceAddressPrefixes",
        ),
        (
            "destinationApplicationSecurityGroups",
            "destinationAddressPrefix",
            "destinationAddressPrefixes",
        ),
    ] {
        let listed = match props.get(groups) {
            None | Some(Value::Null) => 0,
            Some(Value::Array(items)) => {
                if let Some(bad) = items
                    .iter()
                    .find(|g| !matches!(g.get("id"), Some(Value::String(_))))
                {
                    return Err(bad_format(format!(
                        "Error converting value {bad} to type 'ApplicationSecurityGroup'. Path 'properties.{groups}'."
                    )));
                }
                items.len()
            }
            Some(other) => {
                return Err(bad_format(format!(
                    "Error converting value {other} to type 'ApplicationSecurityGroup[]'. Path 'properties.{groups}'."
                )))
            }
        };
        let prefixed = matches!(props.get(singular), Some(Value::String(s)) if !s.is_empty())
            || matches!(props.get(plural), Some(Value::Array(a)) if !a.is_empty());
        if listed > 0 && prefixed {
            return Err(reject(
                "SecurityRuleParametersMutuallyExclusive",
                format!("Security rule {rule_id} specifies both {singular} and {groups}; only one may be set."),
            ));
        }
    }
    let direction = props
        .get("direction")
        .and_then(Value::as_str)
        .unwrap_or_default();
    for other in others {
        let other_name = other
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if other_name.eq_ignore_ascii_case(name) {
            continue;
        }
        let p = other.get("properties");
        let same_direction = p
            .and_then(|p| p.get("direction"))
            .and_then(Value::as_str)
            .is_some_and(|d| d.eq_ignore_ascii_case(direction));
        let same_priority =
            p.and_then(|p| p.get("priority")).and_then(Value::as_i64) == Some(priority);
        if same_direction && same_priority {
            return Err(reject(
                "SecurityRuleConflict",
                format!(
                    "Security rule {other_name} conflicts with rule {name}. Rules cannot have the same Priority and Direction. To learn more, see aka.ms/nsgrules."
                ),
            ));
        }
    }
    Ok(())
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}
