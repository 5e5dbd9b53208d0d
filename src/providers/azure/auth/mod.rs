//! Credentials for ARM: a [`TokenProvider`] trait and the four ways jit gets a token, tried in
//! order (client secret, workload identity, managed identity, Azure CLI), narrowed by
//! `AZURE_TOKEN_CREDENTIALS` as the Azure SDKs do.
//!
//! These talk OAuth over reqwest themselves rather than through `azure_identity`: its authority
//! host must be `https`, so it cannot be pointed at the loopback ARM emulator the tests run, and
//! the chain here is small enough to own. Tokens are cached until five minutes before expiry
//! and never printed, logged, or written anywhere: [`AccessToken`]'s `Debug` redacts it.

mod aad;
mod chain;
mod cli;
mod imds;

use std::fmt;

use futures::future::BoxFuture;
use jiff::Timestamp;

pub use chain::{from_env, Cached, Chain, EnvLookup};

/// A bearer token and when it stops working.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    secret: String,
    pub expires_on: Timestamp,
}

impl AccessToken {
    pub fn new(secret: String, expires_on: Timestamp) -> AccessToken {
        AccessToken { secret, expires_on }
    }

    /// The token itself, for the `Authorization` header and nothing else.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"<redacted>")
            .field("expires_on", &self.expires_on)
            .finish()
    }
}

/// Why one credential gave no token; the message never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

/// Something that hands out tokens for a scope (`https://management.azure.com/.default`).
pub trait TokenProvider: Send + Sync {
    /// The credential's name as the Azure SDKs spell it (`AzureCliCredential`, …).
    fn name(&self) -> &'static str;

    fn token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, Result<AccessToken, AuthError>>;
}

/// `resource` form of a `.default` scope, for IMDS and the Azure CLI.
pub fn scope_to_resource(scope: &str) -> &str {
    scope.strip_suffix("/.default").unwrap_or(scope)
}
