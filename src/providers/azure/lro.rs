//! Long-running operations: a rule PUT or DELETE answers 201/202 (or 200 while
//! `provisioningState` is `Updating`) with an `Azure-AsyncOperation` URL to poll until its
//! `status` is `Succeeded`, `Failed` or `Canceled`, or a `Location` URL that answers 202 until
//! the work is done. Each poll waits for the server's `Retry-After` (1 s when it sends none).
//! The status body holds no resource: the caller reads the rule afterwards.

use std::time::Duration;

use serde_json::Value;

use super::client::{ArmClient, Request, Response};
use super::error::{detail_codes, ArmError};
use super::retry::retry_after;

/// Polls this many times at most (about half an hour at ARM's usual pace) before giving up.
const MAX_POLLS: usize = 1800;
const DEFAULT_WAIT: Duration = Duration::from_secs(1);

/// Follows the operation `response` (the answer to `what`) started, if any, to its end.
pub async fn follow(client: &ArmClient, what: &str, response: &Response) -> Result<(), ArmError> {
    let first_wait = retry_after(&response.headers).unwrap_or(DEFAULT_WAIT);
    if let Some(url) = response.header("azure-asyncoperation") {
        return poll_status(client, what, url, first_wait).await;
    }
    if response.status == 202 {
        if let Some(url) = response.header("location") {
            return poll_location(client, what, url, first_wait).await;
        }
    }
    Ok(())
}

async fn poll_status(
    client: &ArmClient,
    what: &str,
    url: &str,
    mut wait: Duration,
) -> Result<(), ArmError> {
    for _ in 0..MAX_POLLS {
        tokio::time::sleep(wait).await;
        let poll = client.send(&Request::get(url)).await?;
        let body = poll.json(url)?;
        let status =
            body.get("status")
                .and_then(Value::as_str)
                .ok_or_else(|| ArmError::Corrupt {
                    url: url.split('?').next().unwrap_or(url).to_string(),
                    message: "operation status has no `status`".into(),
                })?;
        if status.eq_ignore_ascii_case("succeeded") {
            return Ok(());
        }
        if status.eq_ignore_ascii_case("failed") || status.eq_ignore_ascii_case("canceled") {
            let error = body.get("error").cloned().unwrap_or(Value::Null);
            let text = |k: &str| {
                error
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            return Err(ArmError::OperationFailed {
                what: what.to_string(),
                status: status.to_string(),
                code: text("code"),
                message: text("message"),
                details: detail_codes(&error),
            });
        }
        wait = retry_after(&poll.headers).unwrap_or(DEFAULT_WAIT);
    }
    Err(operation_timeout(what))
}

async fn poll_location(
    client: &ArmClient,
    what: &str,
    url: &str,
    mut wait: Duration,
) -> Result<(), ArmError> {
    for _ in 0..MAX_POLLS {
        tokio::time::sleep(wait).await;
        let poll = client.send(&Request::get(url)).await?;
        if poll.status != 202 {
            return Ok(());
        }
        wait = retry_after(&poll.headers).unwrap_or(DEFAULT_WAIT);
    }
    Err(operation_timeout(what))
}

fn operation_timeout(what: &str) -> ArmError {
    ArmError::OperationFailed {
        what: what.to_string(),
        status: "TimedOut".into(),
        code: String::new(),
        message: format!("still running after {MAX_POLLS} polls"),
        details: vec![],
    }
}
