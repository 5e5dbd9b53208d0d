//! What can go wrong talking to ARM, and how it reads: ARM's error body
//! (`{"error": {"code", "message", "details": [{"code", …}]}}`) becomes one line with the code,
//! the message and every detail code, and maps onto [`ProviderError`].

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use crate::providers::ProviderError;

#[derive(Debug, Clone, PartialEq)]
pub enum ArmError {
    /// ARM answered with an error status.
    Remote(RemoteError),
    /// No usable answer: connection refused or reset, timeout, a body cut short.
    Transport { what: String, message: String },
    /// The answer could not be understood.
    Corrupt { url: String, message: String },
    /// No token could be had.
    Auth(String),
    /// A long-running operation ended `Failed` or `Canceled`.
    OperationFailed {
        what: String,
        status: String,
        code: String,
        message: String,
        details: Vec<String>,
    },
    /// Refused before sending (an operation URL on another host, …).
    Refused(String),
}

/// An error status from ARM, with its error body read.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteError {
    /// `GET https://…`, without query.
    pub what: String,
    pub status: u16,
    pub code: String,
    pub message: String,
    /// Every `details[].code`, in order.
    pub details: Vec<String>,
    /// `retry-after-ms`, `x-ms-retry-after-ms` or `Retry-After`, when sent.
    pub retry_after: Option<Duration>,
}

impl RemoteError {
    /// Reads ARM's error body; a body that is not one keeps its first line as the message.
    pub fn from_body(
        what: String,
        status: u16,
        body: &[u8],
        retry_after: Option<Duration>,
    ) -> Self {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let error = parsed
            .as_ref()
            .and_then(|v| v.get("error"))
            .filter(|e| e.is_object());
        let (code, message, details) = match error {
            Some(e) => (
                e.get("code")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                e.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                detail_codes(e),
            ),
            None => (
                String::new(),
                String::from_utf8_lossy(body)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect(),
                Vec::new(),
            ),
        };
        let code = if code.is_empty() {
            format!("Http{status}")
        } else {
            code
        };
        RemoteError {
            what,
            status,
            code,
            message,
            details,
            retry_after,
        }
    }

    pub fn has_detail(&self, code: &str) -> bool {
        self.code.eq_ignore_ascii_case(code)
            || self.details.iter().any(|d| d.eq_ignore_ascii_case(code))
    }

    /// 429 because another write to the same NSG is running: not throttling, just wait.
    pub fn is_another_operation(&self) -> bool {
        self.status == 429 && self.has_detail("RetryableErrorDueToAnotherOperation")
    }
}

/// `details[].code`, depth first (ARM nests details inside details).
pub fn detail_codes(error: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(Value::Array(items)) = error.get("details") {
        for item in items {
            if let Some(code) = item.get("code").and_then(Value::as_str) {
                out.push(code.to_string());
            }
            out.extend(detail_codes(item));
        }
    }
    out
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} answered {} {}", self.what, self.status, self.code)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message.trim_end_matches('.'))?;
        }
        if !self.details.is_empty() {
            write!(f, " (details: {})", self.details.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Display for ArmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArmError::Remote(e) => e.fmt(f),
            ArmError::Transport { what, message } => write!(f, "{what}: {message}"),
            ArmError::Corrupt { url, message } => write!(f, "{url}: {message}"),
            ArmError::Auth(message) => f.write_str(message),
            ArmError::OperationFailed {
                what,
                status,
                code,
                message,
                details,
            } => {
                write!(f, "{what}: operation {}", status.to_ascii_lowercase())?;
                if !code.is_empty() {
                    write!(f, " with {code}")?;
                }
                if !message.is_empty() {
                    write!(f, ": {}", message.trim_end_matches('.'))?;
                }
                if !details.is_empty() {
                    write!(f, " (details: {})", details.join(", "))?;
                }
                Ok(())
            }
            ArmError::Refused(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ArmError {}

/// An error and its sources on one line (reqwest keeps the interesting part in `source()`).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

impl From<ArmError> for ProviderError {
    fn from(e: ArmError) -> ProviderError {
        match &e {
            ArmError::Remote(r) => ProviderError::Remote {
                code: r.code.clone(),
                message: e.to_string(),
            },
            ArmError::OperationFailed { code, .. } => ProviderError::Remote {
                code: if code.is_empty() {
                    "OperationFailed".into()
                } else {
                    code.clone()
                },
                message: e.to_string(),
            },
            ArmError::Corrupt { url, message } => ProviderError::Corrupt {
                source_name: url.clone(),
                message: message.clone(),
            },
            ArmError::Transport { .. } | ArmError::Auth(_) | ArmError::Refused(_) => {
                ProviderError::Other(e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_code_message_and_every_detail() {
        let body = br#"{"error":{"code":"RetryableError","message":"The call can be retried in 1 seconds.",
            "details":[{"code":"RetryableErrorDueToAnotherOperation","message":"x",
            "details":[{"code":"Inner"}]}]}}"#;
        let e = RemoteError::from_body("PUT http://x/r".into(), 429, body, None);
        assert_eq!(e.code, "RetryableError");
        assert_eq!(e.details, ["RetryableErrorDueToAnotherOperation", "Inner"]);
        assert!(e.is_another_operation());
        assert_eq!(
            e.to_string(),
            "PUT http://x/r answered 429 RetryableError: The call can be retried in 1 seconds \
             (details: RetryableErrorDueToAnotherOperation, Inner)"
        );
        let p: ProviderError = ArmError::Remote(e).into();
        assert!(matches!(p, ProviderError::Remote { ref code, .. } if code == "RetryableError"));
    }

    #[test]
    fn a_body_that_is_not_arm_keeps_its_first_line() {
        let e = RemoteError::from_body("GET u".into(), 502, b"Bad gateway\nmore", None);
        assert_eq!(e.code, "Http502");
        assert_eq!(e.message, "Bad gateway");
        assert!(!e.is_another_operation());
    }
}
