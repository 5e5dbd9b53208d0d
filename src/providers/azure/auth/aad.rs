//! Microsoft Entra ID's token endpoint (`POST {authority}/{tenant}/oauth2/v2.0/token`), used by
//! two credentials: client secret (`EnvironmentCredential`, from `AZURE_TENANT_ID`,
//! `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`) and workload identity
//! (`WorkloadIdentityCredential`, a federated token read from `AZURE_FEDERATED_TOKEN_FILE` again
//! for every token, since the platform rotates it).

use std::path::PathBuf;

use futures::future::BoxFuture;
use jiff::{SignedDuration, Timestamp};
use reqwest::Url;
use serde_json::Value;

use super::{AccessToken, AuthError, TokenProvider};

pub struct ClientSecret {
    pub http: reqwest::Client,
    pub authority: Url,
    pub tenant: String,
    pub client_id: String,
    pub secret: String,
}

pub struct WorkloadIdentity {
    pub http: reqwest::Client,
    pub authority: Url,
    pub tenant: String,
    pub client_id: String,
    pub token_file: PathBuf,
}

impl TokenProvider for ClientSecret {
    fn name(&self) -> &'static str {
        "EnvironmentCredential"
    }

    fn token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, Result<AccessToken, AuthError>> {
        Box::pin(async move {
            let form = [
                ("grant_type", "client_credentials"),
                ("client_id", &self.client_id),
                ("client_secret", &self.secret),
                ("scope", scope),
            ];
            request(&self.http, &self.authority, &self.tenant, &form).await
        })
    }
}

impl TokenProvider for WorkloadIdentity {
    fn name(&self) -> &'static str {
        "WorkloadIdentityCredential"
    }

    fn token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, Result<AccessToken, AuthError>> {
        Box::pin(async move {
            // Small and local: a blocking read is fine here.
            let assertion = std::fs::read_to_string(&self.token_file).map_err(|e| {
                AuthError(format!(
                    "cannot read AZURE_FEDERATED_TOKEN_FILE `{}`: {e}",
                    self.token_file.display()
                ))
            })?;
            let assertion = assertion.trim();
            if assertion.is_empty() {
                return Err(AuthError(format!(
                    "AZURE_FEDERATED_TOKEN_FILE `{}` is empty",
                    self.token_file.display()
                )));
            }
            let form = [
                ("grant_type", "client_credentials"),
                ("client_id", &self.client_id),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion),
                ("scope", scope),
            ];
            request(&self.http, &self.authority, &self.tenant, &form).await
        })
    }
}

async fn request(
    http: &reqwest::Client,
    authority: &Url,
    tenant: &str,
    form: &[(&str, &str)],
) -> Result<AccessToken, AuthError> {
    if tenant.is_empty()
        || !tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
    {
        return Err(AuthError(format!(
            "AZURE_TENANT_ID `{tenant}` is not a tenant id or domain"
        )));
    }
    let url = format!(
        "{}/{tenant}/oauth2/v2.0/token",
        authority.as_str().trim_end_matches('/')
    );
    let response = http
        .post(&url)
        .form(form)
        .send()
        .await
        .map_err(|e| AuthError(format!("POST {url}: {}", super::chain::error_chain(&e))))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| AuthError(format!("POST {url}: {}", super::chain::error_chain(&e))))?;
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    if !status.is_success() {
        let what = json
            .as_ref()
            .map(|j| {
                let code = j.get("error").and_then(Value::as_str).unwrap_or("");
                let text = j
                    .get("error_description")
                    .and_then(Value::as_str)
                    .and_then(|d| d.lines().next())
                    .unwrap_or("");
                format!("{code}: {text}")
            })
            .unwrap_or_else(|| "no error body".into());
        return Err(AuthError(format!(
            "POST {url} answered {}: {what}",
            status.as_u16()
        )));
    }
    let json = json.ok_or_else(|| AuthError(format!("POST {url}: the answer is not JSON")))?;
    parse_token(&json, Timestamp::now()).map_err(|m| AuthError(format!("POST {url}: {m}")))
}

/// `access_token` + `expires_in` (seconds, a number or a string), or `expires_on` (epoch).
pub(super) fn parse_token(json: &Value, now: Timestamp) -> Result<AccessToken, String> {
    let secret = json
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or("the answer has no `access_token`")?;
    let number = |key: &str| match json.get(key) {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    let expires_on = if let Some(secs) = number("expires_in") {
        now.saturating_add(SignedDuration::from_secs(secs))
            .map_err(|e| format!("`expires_in` {secs}: {e}"))?
    } else if let Some(epoch) = number("expires_on") {
        Timestamp::from_second(epoch).map_err(|e| format!("`expires_on` {epoch}: {e}"))?
    } else {
        return Err("the answer has neither `expires_in` nor `expires_on`".into());
    };
    Ok(AccessToken::new(secret.to_string(), expires_on))
}
