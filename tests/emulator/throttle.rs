//! ARM's token buckets per subscription, principal and kind (reads, writes, deletes).

use std::collections::HashMap;

use super::config::{Bucket, ThrottleConfig};

/// Which bucket a request draws from; also the suffix of `x-ms-ratelimit-remaining-subscription-*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Reads,
    Writes,
    Deletes,
}

impl Kind {
    pub fn for_method(method: &str) -> Kind {
        match method {
            "GET" | "HEAD" => Kind::Reads,
            "DELETE" => Kind::Deletes,
            _ => Kind::Writes,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Reads => "reads",
            Kind::Writes => "writes",
            Kind::Deletes => "deletes",
        }
    }
}

/// The outcome of drawing a token.
#[derive(Debug, PartialEq)]
pub enum Draw {
    /// Allowed; whole tokens left.
    Allowed { remaining: u64 },
    /// Throttled; emulated seconds until one token is back.
    Throttled { wait: f64 },
    /// Throttling is off.
    Unlimited,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    at: f64,
}

/// All buckets, refilled lazily from the emulated clock.
#[derive(Debug, Default)]
pub struct Throttle {
    buckets: HashMap<(String, String, Kind), State>,
}

impl Throttle {
    /// Draws one token at emulated time `now` (seconds).
    pub fn draw(
        &mut self,
        config: &ThrottleConfig,
        subscription: &str,
        principal: &str,
        kind: Kind,
        now: f64,
    ) -> Draw {
        if !config.enabled {
            return Draw::Unlimited;
        }
        let bucket: Bucket = match kind {
            Kind::Reads => config.reads,
            Kind::Writes => config.writes,
            Kind::Deletes => config.deletes,
        };
        let key = (
            subscription.to_ascii_lowercase(),
            principal.to_string(),
            kind,
        );
        let state = self.buckets.entry(key).or_insert(State {
            tokens: bucket.capacity,
            at: now,
        });
        state.tokens =
            (state.tokens + (now - state.at).max(0.0) * bucket.per_second).min(bucket.capacity);
        state.at = now;
        if state.tokens >= 1.0 {
            state.tokens -= 1.0;
            Draw::Allowed {
                remaining: state.tokens.floor() as u64,
            }
        } else if bucket.per_second > 0.0 {
            Draw::Throttled {
                wait: (1.0 - state.tokens) / bucket.per_second,
            }
        } else {
            Draw::Throttled {
                wait: f64::INFINITY,
            }
        }
    }
}
