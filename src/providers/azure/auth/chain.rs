//! Picking credentials from the environment and trying them in order, like the Azure SDKs'
//! `DefaultAzureCredential`: `EnvironmentCredential` (client secret),
//! `WorkloadIdentityCredential`, `ManagedIdentityCredential`, `AzureCliCredential`.
//! `AZURE_TOKEN_CREDENTIALS` narrows the chain: `dev` (the Azure CLI), `prod` (the other
//! three), or one credential's name. The first credential that gives a token is kept for the
//! rest of the run; when none does, one error names each and why. [`Cached`] keeps a token until
//! five minutes before it expires.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use jiff::{SignedDuration, Timestamp};

use super::aad::{ClientSecret, WorkloadIdentity};
use super::cli::AzureCli;
use super::imds::{ManagedIdentity, DEFAULT_IMDS};
use super::{AccessToken, AuthError, TokenProvider};
use crate::providers::azure::endpoint::parse_base_url;
pub(super) use crate::providers::azure::error::error_chain;

/// Reads an environment variable; tests pass a map instead of the process environment.
pub type EnvLookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

const NAMES: [&str; 4] = [
    "EnvironmentCredential",
    "WorkloadIdentityCredential",
    "ManagedIdentityCredential",
    "AzureCliCredential",
];

/// Credentials in the order they are tried.
pub struct Chain {
    members: Vec<Member>,
    /// Index of the member that worked, `usize::MAX` until one has.
    chosen: AtomicUsize,
}

enum Member {
    Ready(Box<dyn TokenProvider>),
    /// Not configured: its name and what is missing.
    Unavailable(&'static str, String),
}

impl Member {
    fn name(&self) -> &'static str {
        match self {
            Member::Ready(p) => p.name(),
            Member::Unavailable(name, _) => name,
        }
    }
}

/// Builds the chain the environment asks for. Errors are settings that cannot work
/// (an unknown `AZURE_TOKEN_CREDENTIALS`, a plain-http authority on a remote host).
pub fn from_env(http: &reqwest::Client, env: &EnvLookup<'_>) -> Result<Cached<Chain>, String> {
    let var = |name: &str| {
        env(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let wanted: Vec<&str> = match var("AZURE_TOKEN_CREDENTIALS") {
        None => NAMES.to_vec(),
        Some(v) if v.eq_ignore_ascii_case("dev") => vec!["AzureCliCredential"],
        Some(v) if v.eq_ignore_ascii_case("prod") => NAMES[..3].to_vec(),
        Some(v) => match NAMES.iter().find(|n| n.eq_ignore_ascii_case(&v)) {
            Some(n) => vec![*n],
            None => {
                return Err(format!(
                    "AZURE_TOKEN_CREDENTIALS `{v}` is not one of `dev`, `prod`, {}",
                    NAMES.map(|n| format!("`{n}`")).join(", ")
                ))
            }
        },
    };
    let authority = parse_base_url(
        &var("AZURE_AUTHORITY_HOST").unwrap_or_else(|| DEFAULT_AUTHORITY.into()),
        "AZURE_AUTHORITY_HOST",
    )?;
    let tenant = var("AZURE_TENANT_ID");
    let client_id = var("AZURE_CLIENT_ID");
    let missing = |vars: &[(&str, &Option<String>)]| -> Option<String> {
        let names: Vec<&str> = vars
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| *n)
            .collect();
        (!names.is_empty()).then(|| format!("{} not set", names.join(", ")))
    };
    let mut members = Vec::new();
    for name in wanted {
        let member = match name {
            "EnvironmentCredential" => {
                let secret = var("AZURE_CLIENT_SECRET");
                match missing(&[
                    ("AZURE_TENANT_ID", &tenant),
                    ("AZURE_CLIENT_ID", &client_id),
                    ("AZURE_CLIENT_SECRET", &secret),
                ]) {
                    Some(why) => Member::Unavailable(name, why),
                    None => Member::Ready(Box::new(ClientSecret {
                        http: http.clone(),
                        authority: authority.clone(),
                        tenant: tenant.clone().unwrap_or_default(),
                        client_id: client_id.clone().unwrap_or_default(),
                        secret: secret.unwrap_or_default(),
                    })),
                }
            }
            "WorkloadIdentityCredential" => {
                let file = var("AZURE_FEDERATED_TOKEN_FILE");
                match missing(&[
                    ("AZURE_FEDERATED_TOKEN_FILE", &file),
                    ("AZURE_TENANT_ID", &tenant),
                    ("AZURE_CLIENT_ID", &client_id),
                ]) {
                    Some(why) => Member::Unavailable(name, why),
                    None => Member::Ready(Box::new(WorkloadIdentity {
                        http: http.clone(),
                        authority: authority.clone(),
                        tenant: tenant.clone().unwrap_or_default(),
                        client_id: client_id.clone().unwrap_or_default(),
                        token_file: file.unwrap_or_default().into(),
                    })),
                }
            }
            "ManagedIdentityCredential" => {
                let (endpoint, what) = match (
                    var("JIT_IMDS_ENDPOINT"),
                    var("AZURE_POD_IDENTITY_AUTHORITY_HOST"),
                ) {
                    (Some(e), _) => (e, "JIT_IMDS_ENDPOINT"),
                    (None, Some(e)) => (e, "AZURE_POD_IDENTITY_AUTHORITY_HOST"),
                    (None, None) => (DEFAULT_IMDS.to_string(), "IMDS endpoint"),
                };
                let endpoint = if endpoint == DEFAULT_IMDS {
                    reqwest::Url::parse(DEFAULT_IMDS).map_err(|e| e.to_string())?
                } else {
                    parse_base_url(&endpoint, what)?
                };
                let imds_http = reqwest::Client::builder()
                    .no_proxy()
                    .connect_timeout(Duration::from_secs(1))
                    .timeout(Duration::from_secs(10))
                    .build()
                    .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
                Member::Ready(Box::new(ManagedIdentity {
                    http: imds_http,
                    endpoint,
                    client_id: client_id.clone(),
                }))
            }
            _ => Member::Ready(Box::new(AzureCli {
                program: "az".into(),
            })),
        };
        members.push(member);
    }
    Ok(Cached::new(Chain::new(members)))
}

impl Chain {
    fn new(members: Vec<Member>) -> Chain {
        Chain {
            members,
            chosen: AtomicUsize::new(usize::MAX),
        }
    }

    /// A chain of ready credentials, for tests and callers that know what they want.
    pub fn of(providers: Vec<Box<dyn TokenProvider>>) -> Chain {
        Chain::new(providers.into_iter().map(Member::Ready).collect())
    }
}

impl TokenProvider for Chain {
    fn name(&self) -> &'static str {
        "DefaultAzureCredential"
    }

    fn token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, Result<AccessToken, AuthError>> {
        Box::pin(async move {
            let chosen = self.chosen.load(Ordering::Acquire);
            if let Some(Member::Ready(p)) = self.members.get(chosen) {
                return p
                    .token(scope)
                    .await
                    .map_err(|e| AuthError(format!("{}: {e}", p.name())));
            }
            let mut failures = Vec::new();
            for (i, member) in self.members.iter().enumerate() {
                match member {
                    Member::Unavailable(name, why) => failures.push(format!("{name}: {why}")),
                    Member::Ready(p) => match p.token(scope).await {
                        Ok(token) => {
                            tracing::debug!(credential = p.name(), "azure credential chosen");
                            self.chosen.store(i, Ordering::Release);
                            return Ok(token);
                        }
                        Err(e) => failures.push(format!("{}: {e}", member.name())),
                    },
                }
            }
            Err(AuthError(format!(
                "no azure credential gave a token:\n  {}\nhint: set AZURE_TOKEN_CREDENTIALS to \
                 one credential to try only that one",
                failures.join("\n  ")
            )))
        })
    }
}

/// Keeps the last token per scope until five minutes before it expires.
pub struct Cached<P> {
    inner: P,
    slot: tokio::sync::Mutex<Option<(String, AccessToken)>>,
}

const REFRESH_BEFORE: SignedDuration = SignedDuration::from_mins(5);

impl<P: TokenProvider> Cached<P> {
    pub fn new(inner: P) -> Cached<P> {
        Cached {
            inner,
            slot: tokio::sync::Mutex::new(None),
        }
    }
}

impl<P: TokenProvider> TokenProvider for Cached<P> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, Result<AccessToken, AuthError>> {
        Box::pin(async move {
            // Held across the fetch, so concurrent requests wait for one token, not fetch many.
            let mut slot = self.slot.lock().await;
            if let Some((s, token)) = slot.as_ref() {
                let fresh_until = token
                    .expires_on
                    .saturating_sub(REFRESH_BEFORE)
                    .unwrap_or(token.expires_on);
                if s == scope && Timestamp::now() < fresh_until {
                    return Ok(token.clone());
                }
            }
            let token = self.inner.token(scope).await?;
            *slot = Some((scope.to_string(), token.clone()));
            Ok(token)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::atomic::AtomicU32;
    use std::sync::Arc;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn names(chain: &Cached<Chain>) -> Vec<&'static str> {
        chain.inner.members.iter().map(Member::name).collect()
    }

    #[test]
    fn narrows_the_chain_like_the_sdks() {
        let http = reqwest::Client::new();
        let all = from_env(&http, &env(&[])).unwrap();
        assert_eq!(names(&all), NAMES);
        let dev = from_env(&http, &env(&[("AZURE_TOKEN_CREDENTIALS", "dev")])).unwrap();
        assert_eq!(names(&dev), ["AzureCliCredential"]);
        let prod = from_env(&http, &env(&[("AZURE_TOKEN_CREDENTIALS", "prod")])).unwrap();
        assert_eq!(names(&prod), NAMES[..3]);
        let one = from_env(
            &http,
            &env(&[("AZURE_TOKEN_CREDENTIALS", "workloadidentitycredential")]),
        )
        .unwrap();
        assert_eq!(names(&one), ["WorkloadIdentityCredential"]);
        let err = from_env(&http, &env(&[("AZURE_TOKEN_CREDENTIALS", "magic")]))
            .err()
            .unwrap();
        assert!(
            err.contains("`magic`") && err.contains("AzureCliCredential"),
            "{err}"
        );
    }

    #[test]
    fn refuses_plain_http_authority_off_loopback() {
        let http = reqwest::Client::new();
        let err = from_env(
            &http,
            &env(&[("AZURE_AUTHORITY_HOST", "http://login.example")]),
        )
        .err()
        .unwrap();
        assert!(err.contains("AZURE_AUTHORITY_HOST"), "{err}");
        let err = from_env(&http, &env(&[("JIT_IMDS_ENDPOINT", "http://10.1.2.3")]))
            .err()
            .unwrap();
        assert!(err.contains("JIT_IMDS_ENDPOINT"), "{err}");
    }

    #[tokio::test]
    async fn names_every_credential_that_failed() {
        let http = reqwest::Client::new();
        let chain = from_env(
            &http,
            &env(&[
                ("AZURE_TOKEN_CREDENTIALS", "prod"),
                ("AZURE_TENANT_ID", "t"),
                ("JIT_IMDS_ENDPOINT", "http://127.0.0.1:9"),
            ]),
        )
        .unwrap();
        let err = chain
            .token("https://management.azure.com/.default")
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("EnvironmentCredential: AZURE_CLIENT_ID, AZURE_CLIENT_SECRET not set"),
            "{text}"
        );
        assert!(
            text.contains(
                "WorkloadIdentityCredential: AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID not set"
            ),
            "{text}"
        );
        assert!(
            text.contains("ManagedIdentityCredential: GET http://127.0.0.1:9/"),
            "{text}"
        );
    }

    struct Counting {
        calls: Arc<AtomicU32>,
        ttl: SignedDuration,
    }

    impl TokenProvider for Counting {
        fn name(&self) -> &'static str {
            "Counting"
        }
        fn token<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<AccessToken, AuthError>> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let expires = Timestamp::now() + self.ttl;
            Box::pin(async move { Ok(AccessToken::new(format!("tok-{n}"), expires)) })
        }
    }

    #[tokio::test]
    async fn caches_until_five_minutes_before_expiry() {
        let calls = Arc::new(AtomicU32::new(0));
        let long = Cached::new(Counting {
            calls: calls.clone(),
            ttl: SignedDuration::from_hours(1),
        });
        assert_eq!(long.token("s").await.unwrap().secret(), "tok-0");
        assert_eq!(long.token("s").await.unwrap().secret(), "tok-0");
        assert_eq!(long.token("other").await.unwrap().secret(), "tok-1");
        let short = Cached::new(Counting {
            calls: calls.clone(),
            ttl: SignedDuration::from_mins(4),
        });
        short.token("s").await.unwrap();
        short.token("s").await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        let debug = format!("{:?}", long.token("s").await.unwrap());
        assert!(
            !debug.contains("tok-") && debug.contains("redacted"),
            "{debug}"
        );
    }
}
