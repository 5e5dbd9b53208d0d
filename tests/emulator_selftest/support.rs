//! Helpers: an HTTP client speaking to the emulator, the official example payloads, ids.

use std::path::PathBuf;

use reqwest::header::HeaderMap;
use serde_json::Value;

pub const NSG_ID: &str =
    "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/testnsg";
pub const API: &str = "api-version=2024-05-01";

/// An official example payload from `tests/fixtures/azure-examples/`.
pub fn example(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/azure-examples")
        .join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The answer to one request.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    pub fn code(&self) -> &str {
        self.body
            .pointer("/error/code")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn detail_codes(&self) -> Vec<String> {
        self.body
            .pointer("/error/details")
            .and_then(Value::as_array)
            .map(|d| {
                d.iter()
                    .filter_map(|x| x["code"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

impl Client {
    pub fn new(base: String) -> Client {
        Client {
            http: reqwest::Client::new(),
            base,
            token: Some("test-token".to_string()),
        }
    }

    /// `path` is either a full URL or a path with query, appended to the base URL.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        self.try_send(method, path, body, headers)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub async fn try_send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, reqwest::Error> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None, &[]).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        self.send("PUT", path, Some(body), &[]).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send("DELETE", path, None, &[]).await
    }
}

/// `{NSG_ID}/securityRules/{name}?api-version=…`
pub fn rule_path(name: &str) -> String {
    format!("{NSG_ID}/securityRules/{name}?{API}")
}

/// A valid inbound rule body.
pub fn rule_body(priority: u32, port: &str) -> Value {
    serde_json::json!({"properties": {
        "protocol": "Tcp", "access": "Allow", "direction": "Inbound", "priority": priority,
        "sourceAddressPrefix": "198.51.100.7/32", "sourcePortRange": "*",
        "destinationAddressPrefix": "10.0.1.4", "destinationPortRange": port,
        "description": "managed-by=jit"
    }})
}

/// Removes every `etag` (asserting each is `W/"…"`) so bodies compare with the examples.
pub fn strip_etags(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(etag) = map.remove("etag") {
                let etag = etag.as_str().unwrap_or_default().to_string();
                assert!(
                    etag.starts_with("W/\"") && etag.ends_with('"') && etag.len() == 40,
                    "bad etag {etag}"
                );
            }
            map.values_mut().for_each(strip_etags);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_etags),
        _ => {}
    }
}

/// Polls an `Azure-AsyncOperation` URL until it leaves `InProgress`; returns the statuses seen.
pub async fn poll_async(client: &Client, url: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..50 {
        let answer = client.get(url).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let status = answer.body["status"].as_str().unwrap().to_string();
        seen.push(status.clone());
        if status != "InProgress" {
            return seen;
        }
    }
    panic!("operation never finished: {seen:?}");
}
