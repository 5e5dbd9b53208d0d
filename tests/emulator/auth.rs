//! Microsoft Entra ID as ARM's callers see it: the v2.0 token endpoint (client secret and
//! federated assertion), the IMDS managed-identity endpoint, and bearer checks on ARM calls.

use std::collections::HashMap;
use std::time::Instant;

use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;

use super::errors::{error_body, json_response};
use super::state::{Shared, Token};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Parses `a=b&c=d` (form bodies and query strings).
pub fn parse_pairs(text: &str) -> HashMap<String, String> {
    let url = reqwest::Url::parse(&format!("http://form.invalid/?{text}"));
    url.map(|u| {
        u.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    })
    .unwrap_or_default()
}

fn aad_error(status: u16, error: &str, code: u32, description: &str) -> Response {
    let trace = "00000000-0000-0000-0000-000000000000";
    let now = jiff::Timestamp::now().to_string();
    json_response(
        status,
        &json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {description}\r\nTrace ID: {trace}\r\nCorrelation ID: {trace}\r\nTimestamp: {now}"),
            "error_codes": [code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": trace,
        }),
        &[],
    )
}

fn issue(shared: &Shared, principal: &str) -> String {
    let mut inner = shared.lock();
    let token = format!("emu-{}", inner.rng.uuid());
    let expires = Instant::now() + shared.config.token_lifetime;
    inner.tokens.insert(
        token.clone(),
        Token {
            principal: principal.to_string(),
            expires,
        },
    );
    inner.stats.tokens_issued += 1;
    token
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub fn token_endpoint(shared: &Shared, body: &[u8]) -> Response {
    let form = parse_pairs(&String::from_utf8_lossy(body));
    let get = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    if get("grant_type") != Some("client_credentials") {
        return aad_error(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    let Some(client_id) = get("client_id") else {
        return aad_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let Some(scope) = get("scope") else {
        return aad_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        );
    };
    if !scope.ends_with("/.default") {
        return aad_error(400, "invalid_scope", 70011, &format!("The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."));
    }
    let accepted = if let Some(secret) = get("client_secret") {
        if secret != shared.config.client_secret {
            shared.lock().stats.unauthorized += 1;
            return aad_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app.");
        }
        true
    } else if let Some(assertion) = get("client_assertion") {
        if get("client_assertion_type") != Some(JWT_BEARER) {
            return aad_error(
                400,
                "invalid_request",
                50027,
                "JWT token is invalid or malformed.",
            );
        }
        if shared
            .config
            .client_assertion
            .as_deref()
            .is_some_and(|want| want != assertion)
        {
            shared.lock().stats.unauthorized += 1;
            return aad_error(
                401,
                "invalid_client",
                70021,
                "No matching federated identity record found for presented assertion.",
            );
        }
        true
    } else {
        false
    };
    if !accepted {
        return aad_error(401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    }
    let token = issue(shared, client_id);
    let ttl = shared.config.token_lifetime.as_secs();
    json_response(
        200,
        &json!({"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl, "access_token": token}),
        &[],
    )
}

/// `GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=…` with `Metadata: true`.
pub fn imds_endpoint(shared: &Shared, headers: &HeaderMap, query: &str) -> Response {
    let invalid = |description: &str| {
        json_response(
            400,
            &json!({"error": "invalid_request", "error_description": description}),
            &[],
        )
    };
    if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
        return invalid("Required metadata header not specified");
    }
    let query = parse_pairs(query);
    if !query.contains_key("api-version") {
        return invalid("Required query variable 'api-version' is missing");
    }
    let Some(resource) = query.get("resource").filter(|r| !r.is_empty()) else {
        return invalid("Required query variable 'resource' is missing");
    };
    let client_id = query
        .get("client_id")
        .cloned()
        .unwrap_or_else(|| "managed-identity".to_string());
    let token = issue(shared, &client_id);
    let ttl = shared.config.token_lifetime.as_secs();
    let now = jiff::Timestamp::now().as_second();
    json_response(
        200,
        &json!({
            "access_token": token,
            "client_id": client_id,
            "expires_in": ttl.to_string(),
            "expires_on": (now + ttl as i64).to_string(),
            "ext_expires_in": ttl.to_string(),
            "not_before": now.to_string(),
            "resource": resource,
            "token_type": "Bearer",
        }),
        &[],
    )
}

/// The principal behind the request's bearer token, or ARM's 401.
pub fn principal(shared: &Shared, headers: &HeaderMap) -> Result<String, Response> {
    let unauthorized = |code: &str, message: &str| {
        shared.lock().stats.unauthorized += 1;
        json_response(
            401,
            &error_body(code, message, &[]),
            &[("www-authenticate", "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", error=\"invalid_token\"".to_string())],
        )
    };
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Err(unauthorized(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        ));
    };
    let Some(token) = value.strip_prefix("Bearer ").map(str::trim) else {
        return Err(unauthorized(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is provided in an invalid format.",
        ));
    };
    if let Some(i) = shared.config.static_tokens.iter().position(|t| t == token) {
        return Ok(format!("static-{i}"));
    }
    let found = shared.lock().tokens.get(token).cloned();
    match found {
        Some(t) if t.expires > Instant::now() => Ok(t.principal),
        Some(_) => Err(unauthorized(
            "ExpiredAuthenticationToken",
            "The access token expiry UTC time is earlier than current UTC time.",
        )),
        None => Err(unauthorized(
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        )),
    }
}
