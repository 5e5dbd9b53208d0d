//! Bearer checks on ARM calls, the v2.0 token endpoint and the IMDS endpoint.

use std::time::Duration;

use serde_json::Value;

use crate::emulator::{Emulator, EmulatorConfig};
use crate::support::*;

fn nsg_path() -> String {
    format!("{NSG_ID}?{API}")
}

fn start(config: EmulatorConfig) -> (Emulator, Client) {
    let emu = Emulator::start(config);
    emu.add_nsg(
        example("network-NetworkSecurityGroupGet.json")["responses"]["200"]["body"].clone(),
    );
    let client = Client {
        token: None,
        ..Client::new(emu.base_url())
    };
    (emu, client)
}

async fn token(client: &Client, form: &[(&str, &str)]) -> (u16, Value) {
    let response = client
        .http
        .post(client.url("/tenant-1/oauth2/v2.0/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

const SCOPE: &str = "https://management.azure.com/.default";

#[tokio::test]
async fn arm_calls_need_a_valid_bearer_token() {
    let (emu, mut client) = start(EmulatorConfig::default());
    let missing = client.get(&nsg_path()).await;
    assert_eq!(
        (missing.status, missing.code()),
        (401, "AuthenticationFailed")
    );
    client.token = Some("forged".into());
    let forged = client.get(&nsg_path()).await;
    assert_eq!(
        (forged.status, forged.code()),
        (401, "InvalidAuthenticationToken")
    );
    assert!(forged
        .header("www-authenticate")
        .unwrap()
        .starts_with("Bearer "));
    assert_eq!(emu.stats().unauthorized, 2);
}

#[tokio::test]
async fn client_secret_grant_issues_tokens_arm_accepts() {
    let (emu, mut client) = start(EmulatorConfig {
        client_secret: "s3cret".into(),
        ..EmulatorConfig::default()
    });
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "app-1"),
        ("client_secret", "s3cret"),
        ("scope", SCOPE),
    ];
    let (status, body) = token(&client, &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["token_type"].as_str(), body["expires_in"].as_u64()),
        (Some("Bearer"), Some(3599))
    );
    client.token = Some(body["access_token"].as_str().unwrap().to_string());
    assert_eq!(client.get(&nsg_path()).await.status, 200);
    assert_eq!(emu.stats().tokens_issued, 1);

    let wrong = [
        ("grant_type", "client_credentials"),
        ("client_id", "app-1"),
        ("client_secret", "nope"),
        ("scope", SCOPE),
    ];
    let (status, body) = token(&client, &wrong).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215:"),
        "{body}"
    );

    let no_scope = [
        ("grant_type", "client_credentials"),
        ("client_id", "app-1"),
        ("client_secret", "s3cret"),
    ];
    let (status, body) = token(&client, &no_scope).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[tokio::test]
async fn federated_assertion_grant() {
    let (_emu, mut client) = start(EmulatorConfig {
        client_assertion: Some("jwt-abc".into()),
        ..EmulatorConfig::default()
    });
    let jwt_type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    let form = |assertion| {
        [
            ("grant_type", "client_credentials"),
            ("client_id", "app-2"),
            ("client_assertion", assertion),
            ("client_assertion_type", jwt_type),
            ("scope", SCOPE),
        ]
    };
    let (status, body) = token(&client, &form("jwt-abc")).await;
    assert_eq!(status, 200, "{body}");
    client.token = Some(body["access_token"].as_str().unwrap().to_string());
    assert_eq!(client.get(&nsg_path()).await.status, 200);
    let (status, body) = token(&client, &form("jwt-other")).await;
    assert_eq!(status, 401);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS70021:"),
        "{body}"
    );
}

#[tokio::test]
async fn managed_identity_endpoint_requires_metadata_header() {
    let (_emu, mut client) = start(EmulatorConfig::default());
    let url = client.url("/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F");
    let bare = client.http.get(&url).send().await.unwrap();
    assert_eq!(bare.status().as_u16(), 400);
    let body: Value = client
        .http
        .get(&url)
        .header("Metadata", "true")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["expires_in"], "3599");
    assert_eq!(body["resource"], "https://management.azure.com/");
    client.token = Some(body["access_token"].as_str().unwrap().to_string());
    assert_eq!(client.get(&nsg_path()).await.status, 200);
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let (_emu, mut client) = start(EmulatorConfig {
        token_lifetime: Duration::ZERO,
        ..EmulatorConfig::default()
    });
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "app-1"),
        ("client_secret", "emulator-secret"),
        ("scope", SCOPE),
    ];
    let (_, body) = token(&client, &form).await;
    client.token = Some(body["access_token"].as_str().unwrap().to_string());
    let answer = client.get(&nsg_path()).await;
    assert_eq!(
        (answer.status, answer.code()),
        (401, "ExpiredAuthenticationToken")
    );
}
