//! Reading live state: one `GET` per NSG, its `etag` as the fingerprint, every entry of
//! `properties.securityRules` (not the default rules) parsed with `Rule::from_arm` and kept with
//! its own etag. A body that is not an NSG is `Corrupt`, naming the URL; a missing one is
//! explained by [`super::missing`]. Every NSG read is kept for apply (see [`super::recall`]).

use serde_json::Value;

use super::client::{ArmClient, Request};
use super::endpoint::{join, nsg_path};
use super::error::ArmError;
use super::missing::nsg_not_found;
use crate::digest;
use crate::live::{name_from_id, Scope};
use crate::platform::nsg::rule::json_kind;
use crate::platform::nsg::{self, LiveRule, Rule};
use crate::providers::ProviderError;

/// GETs the NSG `id`. A missing NSG is [`ProviderError::NotFound`], with a hint from its
/// resource group (see [`super::missing`]).
pub async fn read_nsg(client: &ArmClient, id: &str) -> Result<Scope, ProviderError> {
    let (path, _) = nsg_path(id).map_err(|message| ProviderError::Corrupt {
        source_name: id.to_string(),
        message,
    })?;
    let url = join(client.base(), &path);
    let response = match client.send(&Request::get(url.as_str())).await {
        Ok(response) => response,
        Err(ArmError::Remote(e)) if e.status == 404 => {
            return Err(nsg_not_found(client, id, &e).await)
        }
        Err(e) => return Err(e.into()),
    };
    let body = response.json(&url)?;
    super::activity::nsgs_read(1);
    let scope = parse_nsg(id, &url, &body)?;
    super::recall::remember(client.base().as_str(), id, &scope);
    Ok(scope)
}

/// Builds an NSG scope from ARM's NSG body; `url` names it in errors.
pub fn parse_nsg(id: &str, url: &str, body: &Value) -> Result<Scope, ProviderError> {
    let corrupt = |message: String| ProviderError::Corrupt {
        source_name: url.to_string(),
        message,
    };
    let obj = body
        .as_object()
        .ok_or_else(|| corrupt("the answer is not a JSON object".into()))?;
    let rules_json = obj.get("properties").and_then(|p| p.get("securityRules"));
    // ARM always sends an etag; a body without one is fingerprinted by its rules.
    let fingerprint = match obj.get("etag") {
        Some(Value::String(etag)) => etag.clone(),
        None | Some(Value::Null) => digest::json_fingerprint(rules_json.unwrap_or(&Value::Null)),
        Some(other) => {
            return Err(corrupt(format!(
                "`etag` should be a string, found {}",
                json_kind(other)
            )))
        }
    };
    let rules = match rules_json {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                let rule = Rule::from_arm(item).map_err(|e| corrupt(e.0))?;
                let etag = item.get("etag").and_then(Value::as_str).map(str::to_string);
                Ok(LiveRule { rule, etag })
            })
            .collect::<Result<Vec<_>, ProviderError>>()?,
        Some(other) => {
            return Err(corrupt(format!(
                "`properties.securityRules` should be an array, found {}",
                json_kind(other)
            )))
        }
    };
    Ok(nsg::scope(
        obj.get("id")
            .and_then(Value::as_str)
            .unwrap_or(id)
            .to_string(),
        obj.get("name")
            .and_then(Value::as_str)
            .unwrap_or_else(|| name_from_id(id))
            .to_string(),
        fingerprint,
        rules,
    ))
}

/// GETs one rule; `None` when it does not exist.
pub async fn read_rule(client: &ArmClient, url: &str) -> Result<Option<LiveRule>, ArmError> {
    let Some(response) = client.get_opt(url).await? else {
        return Ok(None);
    };
    let body = response.json(url)?;
    let rule = Rule::from_arm(&body).map_err(|e| ArmError::Corrupt {
        url: url.to_string(),
        message: e.0,
    })?;
    let etag = body.get("etag").and_then(Value::as_str).map(str::to_string);
    Ok(Some(LiveRule { rule, etag }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(file: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/azure-examples/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn reads_the_official_nsg_get_example() {
        let body =
            example("network-NetworkSecurityGroupGet.json")["responses"]["200"]["body"].clone();
        let id = body["id"].as_str().unwrap().to_string();
        let nsg = parse_nsg(&id, "GET u", &body).unwrap();
        assert_eq!(nsg.name, "testnsg");
        // The official example carries no etag: the rules' hash stands in.
        assert!(
            nsg.fingerprint.starts_with("sha256:"),
            "{}",
            nsg.fingerprint
        );
        let mut with_etag = body.clone();
        with_etag["etag"] = serde_json::json!("W/\"00000000-0000-0000-0000-000000000001\"");
        let nsg = parse_nsg(&id, "GET u", &with_etag).unwrap();
        assert_eq!(
            nsg.fingerprint,
            "W/\"00000000-0000-0000-0000-000000000001\""
        );
        let rules = body["properties"]["securityRules"].as_array().unwrap();
        let nsg = nsg::live_nsg(&nsg);
        assert_eq!(nsg.rules.len(), rules.len());
        assert_eq!(nsg.rules[0].rule.name, "rule1");
        assert!(
            nsg.rules.iter().all(|r| !r.rule.name.starts_with("Allow")),
            "no default rules"
        );
    }

    #[test]
    fn a_malformed_body_names_the_url() {
        let bad = serde_json::json!({"etag": "W/\"1\"", "properties": {"securityRules": [{"name": "r"}]}});
        let err = parse_nsg("id", "https://arm/x", &bad).unwrap_err();
        assert!(
            matches!(&err, ProviderError::Corrupt { source_name, .. } if source_name == "https://arm/x"),
            "{err}"
        );
        let err = parse_nsg("id", "u", &serde_json::json!({"etag": 1})).unwrap_err();
        assert!(err.to_string().contains("etag"), "{err}");
        let err = parse_nsg(
            "id",
            "u",
            &serde_json::json!({"etag": "e", "properties": {"securityRules": 3}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("a number"), "{err}");
    }
}
