//! Managed identity through the instance metadata service:
//! `GET {imds}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=…` with the
//! header `Metadata: true`; `AZURE_CLIENT_ID` picks a user-assigned identity. The endpoint is
//! `http://169.254.169.254` unless `JIT_IMDS_ENDPOINT` (or the Azure SDK's
//! `AZURE_POD_IDENTITY_AUTHORITY_HOST`) names another; connects time out after a second so a
//! machine outside Azure moves on to the next credential quickly.

use futures::future::BoxFuture;
use jiff::Timestamp;
use reqwest::Url;
use serde_json::Value;

use super::{aad::parse_token, scope_to_resource, AccessToken, AuthError, TokenProvider};

pub const DEFAULT_IMDS: &str = "http://169.254.169.254";

pub struct ManagedIdentity {
    pub http: reqwest::Client,
    pub endpoint: Url,
    pub client_id: Option<String>,
}

impl TokenProvider for ManagedIdentity {
    fn name(&self) -> &'static str {
        "ManagedIdentityCredential"
    }

    fn token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, Result<AccessToken, AuthError>> {
        Box::pin(async move {
            let url = format!(
                "{}/metadata/identity/oauth2/token",
                self.endpoint.as_str().trim_end_matches('/')
            );
            let mut query = vec![
                ("api-version", "2018-02-01"),
                ("resource", scope_to_resource(scope)),
            ];
            if let Some(id) = &self.client_id {
                query.push(("client_id", id));
            }
            let response = self
                .http
                .get(&url)
                .query(&query)
                .header("Metadata", "true")
                .send()
                .await
                .map_err(|e| AuthError(format!("GET {url}: {}", super::chain::error_chain(&e))))?;
            let status = response.status();
            let body = response
                .bytes()
                .await
                .map_err(|e| AuthError(format!("GET {url}: {}", super::chain::error_chain(&e))))?;
            let json: Option<Value> = serde_json::from_slice(&body).ok();
            if !status.is_success() {
                let why = json
                    .as_ref()
                    .and_then(|j| {
                        j.get("error_description")
                            .or_else(|| j.get("error"))
                            .and_then(Value::as_str)
                    })
                    .unwrap_or("no error body");
                return Err(AuthError(format!(
                    "GET {url} answered {}: {why}",
                    status.as_u16()
                )));
            }
            let json =
                json.ok_or_else(|| AuthError(format!("GET {url}: the answer is not JSON")))?;
            parse_token(&json, Timestamp::now()).map_err(|m| AuthError(format!("GET {url}: {m}")))
        })
    }
}
