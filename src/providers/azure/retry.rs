//! When and how long to wait before trying a request again.
//!
//! Retried: 429 (throttling, and `RetryableErrorDueToAnotherOperation` while another write to
//! the same NSG runs), 408, 5xx except 501/505, and transport failures (connection refused or
//! reset, timeouts). PUT and DELETE of a rule are idempotent, so a write whose answer was lost
//! can be sent again; a 412 that follows is sorted out by the caller. The backoff is
//! exponential with jitter; a server's `retry-after-ms`, `x-ms-retry-after-ms` or `Retry-After`
//! overrides it (backon's `adjust`). 429s are retried until [`RetryPolicy::max_wait`] of
//! waiting has passed or [`RetryPolicy::max_throttled`] times, other failures
//! [`RetryPolicy::max_retries`] times.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::header::HeaderMap;

use super::error::ArmError;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// Retries of 5xx and transport failures.
    pub max_retries: usize,
    /// Total time one request may spend waiting on 429s.
    pub max_wait: Duration,
    /// Retries of 429s, whatever their waits add up to.
    pub max_throttled: usize,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
            max_retries: 6,
            max_wait: Duration::from_secs(300),
            max_throttled: 40,
        }
    }
}

impl RetryPolicy {
    pub fn backoff(&self) -> impl BackoffBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_jitter()
    }

    /// The `adjust` function for one request: a server's wait wins over the backoff; 429s keep
    /// going past the retry count until `max_wait` is spent.
    pub fn adjuster(&self) -> impl FnMut(&ArmError, Option<Duration>) -> Option<Duration> {
        let max_wait = self.max_wait;
        let min_delay = self.min_delay;
        let max_throttled = self.max_throttled;
        let mut waited = Duration::ZERO;
        let mut throttled_retries = 0;
        move |err, backoff| {
            let server = match err {
                ArmError::Remote(r) => r.retry_after,
                _ => None,
            };
            let throttled = matches!(err, ArmError::Remote(r) if r.status == 429);
            let wait = match (throttled, server, backoff) {
                (true, Some(s), _) => s,
                (true, None, Some(b)) => b,
                (true, None, None) => min_delay.max(Duration::from_secs(1)),
                (false, _, None) => return None,
                (false, Some(s), Some(_)) => s,
                (false, None, Some(b)) => b,
            };
            waited += wait;
            if throttled {
                throttled_retries += 1;
                if waited > max_wait || throttled_retries > max_throttled {
                    return None;
                }
            }
            Some(wait)
        }
    }
}

/// Whether a failed attempt is worth another.
pub fn is_retryable(err: &ArmError) -> bool {
    match err {
        ArmError::Remote(r) => {
            matches!(r.status, 408 | 429)
                || (500..=599).contains(&r.status) && !matches!(r.status, 501 | 505)
        }
        ArmError::Transport { .. } => true,
        _ => false,
    }
}

/// The server's requested wait: `retry-after-ms`, `x-ms-retry-after-ms`, then `Retry-After`
/// (seconds, possibly fractional), then Resource Graph's spent quota ([`quota_resets_after`]).
/// An HTTP-date `Retry-After` is ignored (ARM sends seconds).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    server_wait(headers).or_else(|| quota_resets_after(headers))
}

/// Resource Graph's quota: when `x-ms-user-quota-remaining` is 0, the wait until the window
/// resets, from `x-ms-user-quota-resets-after` (a .NET time span: `hh:mm:ss`, with an optional
/// `d.` before and `.fffffff` after).
pub fn quota_resets_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if text("x-ms-user-quota-remaining")?.parse::<u64>().ok()? != 0 {
        return None;
    }
    parse_time_span(text("x-ms-user-quota-resets-after")?)
}

/// `[d.]hh:mm:ss[.fffffff]` as a duration.
fn parse_time_span(text: &str) -> Option<Duration> {
    let mut parts = text.split(':');
    let (hours, minutes, seconds) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (days, hours) = match hours.split_once('.') {
        Some((d, h)) => (d.parse::<u64>().ok()?, h),
        None => (0, hours),
    };
    let hours: u64 = hours.parse().ok()?;
    let minutes: u64 = minutes.parse().ok()?;
    let seconds: f64 = seconds.parse().ok()?;
    if !seconds.is_finite() || seconds < 0.0 || minutes >= 60 || seconds >= 60.0 {
        return None;
    }
    let whole = ((days * 24 + hours) * 60 + minutes) * 60;
    Some(Duration::from_secs_f64(
        (whole as f64 + seconds).min(3600.0),
    ))
}

fn server_wait(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = text(name).and_then(|v| v.parse::<u64>().ok()) {
            return Some(Duration::from_millis(ms));
        }
    }
    let secs = text("retry-after")?.parse::<f64>().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::azure::error::RemoteError;

    fn remote(status: u16, retry_after: Option<Duration>) -> ArmError {
        ArmError::Remote(RemoteError {
            what: "GET u".into(),
            status,
            code: "X".into(),
            message: String::new(),
            details: vec![],
            retry_after,
        })
    }

    #[test]
    fn reads_every_retry_after_header() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert("retry-after-ms", "150".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        let mut h = HeaderMap::new();
        h.insert("retry-after", "0.5".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(500)));
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn reads_resource_graphs_quota_reset_only_once_it_is_spent() {
        let mut h = HeaderMap::new();
        h.insert("x-ms-user-quota-remaining", "3".parse().unwrap());
        h.insert("x-ms-user-quota-resets-after", "00:00:04".parse().unwrap());
        assert_eq!(quota_resets_after(&h), None);
        h.insert("x-ms-user-quota-remaining", "0".parse().unwrap());
        assert_eq!(quota_resets_after(&h), Some(Duration::from_secs(4)));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(4)));
        h.insert(
            "x-ms-user-quota-resets-after",
            "00:00:00.2500000".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        h.insert(
            "x-ms-user-quota-resets-after",
            "0.00:01:02".parse().unwrap(),
        );
        assert_eq!(quota_resets_after(&h), Some(Duration::from_secs(62)));
        for bad in ["soon", "00:61:00", "1:2", "00:00:-1"] {
            h.insert("x-ms-user-quota-resets-after", bad.parse().unwrap());
            assert_eq!(quota_resets_after(&h), None, "{bad}");
        }
        // A server's own wait wins.
        h.insert("retry-after", "1".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(1)));
    }

    #[test]
    fn classifies_failures() {
        assert!(is_retryable(&remote(429, None)));
        assert!(is_retryable(&remote(503, None)));
        assert!(!is_retryable(&remote(501, None)));
        assert!(!is_retryable(&remote(412, None)));
        assert!(!is_retryable(&remote(400, None)));
        assert!(is_retryable(&ArmError::Transport {
            what: "GET u".into(),
            message: "reset".into()
        }));
    }

    #[test]
    fn server_wait_overrides_backoff_and_429s_outlast_the_retry_count() {
        let policy = RetryPolicy {
            max_wait: Duration::from_secs(5),
            ..RetryPolicy::default()
        };
        let mut adjust = policy.adjuster();
        let two = Some(Duration::from_secs(2));
        assert_eq!(
            adjust(&remote(503, two), Some(Duration::from_millis(1))),
            two
        );
        assert_eq!(adjust(&remote(503, None), None), None);
        // The backoff is spent, but the throttle still says when to come back.
        assert_eq!(adjust(&remote(429, two), None), two);
        // 2 + 2 + 2 > 5: give up.
        assert_eq!(adjust(&remote(429, two), None), None);
    }
}
