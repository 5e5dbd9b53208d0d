//! The Azure CLI's login: `az account get-access-token --output json --resource <ARM>`, reading
//! `accessToken` and `expires_on` (epoch seconds, CLI 2.54 and later) or `expiresOn` (local
//! time, older CLIs). `az` is found on `PATH`; it gets 30 seconds.

use std::time::Duration;

use futures::future::BoxFuture;
use jiff::{civil::DateTime, tz::TimeZone, Timestamp};
use serde_json::Value;

use super::{scope_to_resource, AccessToken, AuthError, TokenProvider};

pub struct AzureCli {
    /// The program to run, `az` unless a test says otherwise.
    pub program: String,
}

impl TokenProvider for AzureCli {
    fn name(&self) -> &'static str {
        "AzureCliCredential"
    }

    fn token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, Result<AccessToken, AuthError>> {
        Box::pin(async move {
            let resource = scope_to_resource(scope);
            let mut cmd = tokio::process::Command::new(&self.program);
            cmd.args([
                "account",
                "get-access-token",
                "--output",
                "json",
                "--resource",
                resource,
            ])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
            let output = tokio::time::timeout(Duration::from_secs(30), cmd.output())
                .await
                .map_err(|_| AuthError(format!("`{}` did not answer within 30 s", self.program)))?
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => {
                        AuthError(format!("`{}` (the Azure CLI) is not on PATH", self.program))
                    }
                    _ => AuthError(format!("cannot run `{}`: {e}", self.program)),
                })?;
            if !output.status.success() {
                let stderr = String::from_utf8_lossy(&output.stderr);
                let line = stderr
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .unwrap_or("no message");
                return Err(AuthError(format!(
                    "`{} account get-access-token` failed ({}): {line}",
                    self.program, output.status
                )));
            }
            let json: Value = serde_json::from_slice(&output.stdout).map_err(|e| {
                AuthError(format!(
                    "`{} account get-access-token` printed no JSON: {e}",
                    self.program
                ))
            })?;
            parse_cli_token(&json)
                .map_err(|m| AuthError(format!("`{} account get-access-token`: {m}", self.program)))
        })
    }
}

fn parse_cli_token(json: &Value) -> Result<AccessToken, String> {
    let secret = json
        .get("accessToken")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or("no `accessToken` in its output")?;
    let epoch = match json.get("expires_on") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    let expires_on = match (epoch, json.get("expiresOn").and_then(Value::as_str)) {
        (Some(epoch), _) => {
            Timestamp::from_second(epoch).map_err(|e| format!("`expires_on`: {e}"))?
        }
        (None, Some(local)) => {
            let civil: DateTime = local
                .trim()
                .parse()
                .map_err(|e| format!("`expiresOn` `{local}`: {e}"))?;
            TimeZone::system()
                .to_timestamp(civil)
                .map_err(|e| format!("`expiresOn` `{local}`: {e}"))?
        }
        (None, None) => return Err("neither `expires_on` nor `expiresOn` in its output".into()),
    };
    Ok(AccessToken::new(secret.to_string(), expires_on))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_both_expiry_spellings() {
        let t = parse_cli_token(&json!({"accessToken": "t", "expires_on": 1_800_000_000})).unwrap();
        assert_eq!(t.expires_on.as_second(), 1_800_000_000);
        let t = parse_cli_token(&json!({"accessToken": "t", "expires_on": "1800000000"})).unwrap();
        assert_eq!(t.expires_on.as_second(), 1_800_000_000);
        let t = parse_cli_token(
            &json!({"accessToken": "t", "expiresOn": "2026-11-25 15:00:00.000000"}),
        )
        .unwrap();
        assert!(t.expires_on.as_second() > 1_700_000_000);
        assert!(parse_cli_token(&json!({"expires_on": 1})).is_err());
        assert!(parse_cli_token(&json!({"accessToken": "t"})).is_err());
    }
}
