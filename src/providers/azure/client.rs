//! The ARM HTTP client: adds the bearer token and `api-version`, retries what is worth retrying
//! (see [`super::retry`]), paces requests once their subscription's token bucket runs dry (each
//! subscription its own buckets, so one being throttled never slows another; Resource Graph,
//! whose quota is the principal's, is not paced here but by [`super::graph`]), counts what it
//! sends ([`super::activity`]), and turns answers into [`Response`] or [`ArmError`]. Tokens go only to the configured endpoint's
//! origin; nothing here logs a header.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use backon::Retryable;
use reqwest::header::HeaderMap;
use reqwest::{Method, Url};
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::activity::{self, Kind};
use super::auth::TokenProvider;
use super::endpoint::same_origin;
use super::error::{error_chain, ArmError, RemoteError};
use super::retry::{is_retryable, retry_after, RetryPolicy};

pub const API_VERSION: &str = "2024-05-01";

/// One request, before retries.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// Absolute URL; `api-version` is added when missing.
    pub url: String,
    pub if_match: Option<String>,
    pub if_none_match_any: bool,
    pub body: Option<Value>,
}

impl Request {
    pub fn get(url: impl Into<String>) -> Request {
        Request {
            method: Method::GET,
            url: url.into(),
            if_match: None,
            if_none_match_any: false,
            body: None,
        }
    }

    /// `GET https://host/path`, as errors name it (no query, no token).
    pub fn what(&self) -> String {
        format!(
            "{} {}",
            self.method,
            self.url.split('?').next().unwrap_or(&self.url)
        )
    }
}

/// A successful (2xx) answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self, what: &str) -> Result<Value, ArmError> {
        serde_json::from_slice(&self.body).map_err(|e| ArmError::Corrupt {
            url: what.to_string(),
            message: format!("the answer is not JSON: {e}"),
        })
    }
}

pub struct ArmClient {
    http: reqwest::Client,
    base: Url,
    tokens: Arc<dyn TokenProvider>,
    scope: String,
    policy: RetryPolicy,
    /// ARM's three buckets, by lowercased subscription id (`""` for URLs outside one).
    pacers: std::sync::Mutex<HashMap<String, Arc<[Pacer; 3]>>>,
}

impl ArmClient {
    pub fn new(
        http: reqwest::Client,
        base: Url,
        tokens: Arc<dyn TokenProvider>,
        scope: String,
        policy: RetryPolicy,
    ) -> ArmClient {
        ArmClient {
            http,
            base,
            tokens,
            scope,
            policy,
            pacers: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The buckets of the subscription `url` is in.
    fn pacers(&self, url: &Url) -> Arc<[Pacer; 3]> {
        let mut segments = url.path_segments().into_iter().flatten();
        let subscription = match segments.next() {
            Some(s) if s.eq_ignore_ascii_case("subscriptions") => {
                segments.next().unwrap_or("").to_ascii_lowercase()
            }
            _ => String::new(),
        };
        let mut pacers = self.pacers.lock().unwrap_or_else(|e| e.into_inner());
        pacers
            .entry(subscription)
            .or_insert_with(|| Arc::new([Pacer::new(25.0), Pacer::new(10.0), Pacer::new(10.0)]))
            .clone()
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Sends `req`, retrying per the policy. 404 is an error here; see [`ArmClient::get_opt`].
    pub async fn send(&self, req: &Request) -> Result<Response, ArmError> {
        let url = with_api_version(&req.url, &req.what())?;
        if !same_origin(&self.base, &url) {
            return Err(ArmError::Refused(format!(
                "{} is not on the ARM endpoint `{}`: refusing to send a token there",
                req.what(),
                self.base
            )));
        }
        let kind = kind_of(&req.method, &url);
        let attempt = || self.send_once(req, url.clone(), kind);
        attempt
            .retry(self.policy.backoff())
            .sleep(tokio::time::sleep)
            .when(is_retryable)
            .adjust(self.policy.adjuster())
            .notify(|err, wait| {
                if matches!(err, ArmError::Remote(r) if r.status == 429) {
                    activity::waiting(wait);
                }
                tracing::debug!("retrying in {wait:?}: {err}");
            })
            .await
    }

    /// GET that reads 404 as `None`.
    pub async fn get_opt(&self, url: &str) -> Result<Option<Response>, ArmError> {
        match self.send(&Request::get(url)).await {
            Ok(r) => Ok(Some(r)),
            Err(ArmError::Remote(r)) if r.status == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn send_once(&self, req: &Request, url: Url, kind: Kind) -> Result<Response, ArmError> {
        let pacers = (kind != Kind::Graph).then(|| self.pacers(&url));
        let pacer = pacers.as_ref().map(|p| &p[bucket(&req.method)]);
        if let Some(pacer) = pacer {
            pacer.wait().await;
        }
        activity::request(kind);
        let token = self
            .tokens
            .token(&self.scope)
            .await
            .map_err(|e| ArmError::Auth(e.to_string()))?;
        let mut builder = self
            .http
            .request(req.method.clone(), url)
            .bearer_auth(token.secret());
        if let Some(etag) = &req.if_match {
            builder = builder.header("If-Match", etag);
        }
        if req.if_none_match_any {
            builder = builder.header("If-None-Match", "*");
        }
        if let Some(body) = &req.body {
            builder = builder.json(body);
        }
        let transport = |e: reqwest::Error| ArmError::Transport {
            what: req.what(),
            message: error_chain(&e),
        };
        let response = builder.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?.to_vec();
        tracing::debug!("{} -> {status}", req.what());
        if (200..300).contains(&status) {
            if let Some(pacer) = pacer {
                pacer.observe(&headers, false).await;
            }
            return Ok(Response {
                status,
                headers,
                body,
            });
        }
        let error = RemoteError::from_body(req.what(), status, &body, retry_after(&headers));
        // 429 because another write to the same NSG runs is not the bucket running dry.
        let throttled = status == 429 && !error.is_another_operation();
        if throttled {
            activity::throttled(kind);
        }
        if let Some(pacer) = pacer {
            pacer.observe(&headers, throttled).await;
        }
        Err(ArmError::Remote(error))
    }
}

/// Adds `api-version` unless the URL (an operation link, a `nextLink`) has one.
fn with_api_version(raw: &str, what: &str) -> Result<Url, ArmError> {
    let mut url =
        Url::parse(raw).map_err(|e| ArmError::Refused(format!("{what}: not a URL: {e}")))?;
    if !url
        .query_pairs()
        .any(|(k, _)| k.eq_ignore_ascii_case("api-version"))
    {
        url.query_pairs_mut()
            .append_pair("api-version", API_VERSION);
    }
    Ok(url)
}

/// What a request counts as.
fn kind_of(method: &Method, url: &Url) -> Kind {
    let path = url.path().to_ascii_lowercase();
    match *method {
        Method::POST if path.starts_with("/providers/microsoft.resourcegraph/") => Kind::Graph,
        Method::GET if path.contains("/operations/") || path.contains("/operationresults/") => {
            Kind::Poll
        }
        Method::GET | Method::HEAD => Kind::Read,
        Method::DELETE => Kind::Delete,
        _ => Kind::Write,
    }
}

/// 0 reads, 1 writes, 2 deletes: ARM's three token buckets.
fn bucket(method: &Method) -> usize {
    match *method {
        Method::GET | Method::HEAD => 0,
        Method::DELETE => 2,
        _ => 1,
    }
}

/// Client-side pacing for one of ARM's token buckets, so a large apply queues instead of
/// collecting 429s. Idle while the bucket has room. Once the
/// `x-ms-ratelimit-remaining-subscription-*` header drops to [`LOW`] (or a throttling 429
/// arrives), requests of that kind leave one at a time, `interval` apart. The interval adapts
/// to keep the bucket near [`TARGET`]: shorter while more remains, longer when it runs low or
/// after a 429 (at most once per burst of answers). Pacing stops when the bucket refills past
/// [`HIGH`]; the learnt interval is kept for next time. It starts at ARM's documented refill
/// rate (reads 25/s, writes and deletes 10/s) and takes the refill rate measured from the
/// remaining-count headers (over at least [`MEASURE`]) when that is faster.
struct Pacer {
    documented: Duration,
    state: Mutex<PaceState>,
}

struct PaceState {
    pacing: bool,
    interval: Duration,
    next_slot: Instant,
    /// When the interval last grew after a 429; 429s of requests already in flight do not
    /// grow it again.
    last_growth: Instant,
    /// The refill rate measured so far: since `(when, remaining)`, `answers` accepted answers.
    window: Option<(Instant, u64, u64)>,
}

const LOW: u64 = 64;
const TARGET: u64 = 32;
const HIGH: u64 = 128;
const FASTEST: Duration = Duration::from_micros(100);
/// The shortest window over which the refill rate is measured.
const MEASURE: Duration = Duration::from_millis(250);

impl Pacer {
    fn new(documented_rate: f64) -> Pacer {
        let documented = Duration::from_secs_f64(1.0 / documented_rate);
        Pacer {
            documented,
            state: Mutex::new(PaceState {
                pacing: false,
                interval: documented,
                next_slot: Instant::now(),
                last_growth: Instant::now(),
                window: None,
            }),
        }
    }

    async fn wait(&self) {
        let slot = {
            let mut s = self.state.lock().await;
            if !s.pacing {
                return;
            }
            let slot = s.next_slot.max(Instant::now());
            s.next_slot = slot + s.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    async fn observe(&self, headers: &HeaderMap, throttled: bool) {
        let remaining = headers
            .iter()
            .filter(|(k, _)| {
                k.as_str()
                    .starts_with("x-ms-ratelimit-remaining-subscription-")
            })
            .filter_map(|(_, v)| v.to_str().ok()?.trim().parse::<u64>().ok())
            .min();
        let now = Instant::now();
        let slowest = self.documented * 2;
        let mut s = self.state.lock().await;
        if throttled {
            let wait = retry_after(headers).unwrap_or(self.documented);
            if !s.pacing {
                s.pacing = true;
                s.last_growth = now;
            } else if now >= s.last_growth + s.interval * 20 {
                s.interval = (s.interval * 3 / 2).min(slowest);
                s.last_growth = now;
            }
            s.next_slot = s.next_slot.max(now + wait);
            return;
        }
        let Some(r) = remaining else { return };
        // The refill rate, measured: what the bucket gained over a window, plus what the
        // answers in it took. Pacing then starts from the rate the server really has (ARM's
        // documented one is only where it starts).
        match s.window {
            None => s.window = Some((now, r, 0)),
            Some((start, before, answers)) => {
                let answers = answers + 1;
                let took = now - start;
                if (took >= MEASURE && answers >= 20) || took >= MEASURE * 8 {
                    let rate = (r as f64 - before as f64 + answers as f64) / took.as_secs_f64();
                    if rate > 0.0 {
                        let measured = Duration::from_secs_f64(1.0 / rate).clamp(FASTEST, slowest);
                        if s.pacing && measured < s.interval {
                            s.interval = measured;
                        }
                    }
                    s.window = Some((now, r, 0));
                } else {
                    s.window = Some((start, before, answers));
                }
            }
        }
        if !s.pacing {
            if r <= LOW {
                s.pacing = true;
                s.next_slot = now;
            }
        } else if r > HIGH {
            s.pacing = false;
        } else if r > TARGET {
            s.interval = (s.interval * 99 / 100).max(FASTEST);
        } else if r < TARGET / 2 {
            s.interval = (s.interval * 11 / 10).min(slowest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remaining(n: u64) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "x-ms-ratelimit-remaining-subscription-writes",
            n.to_string().parse().unwrap(),
        );
        h
    }

    #[tokio::test]
    async fn pacing_follows_the_refill_rate_the_headers_show() {
        // Documented 10/s; the bucket really refills at about 100/s: it stays level while
        // answers arrive 10 ms apart.
        let pacer = Pacer::new(10.0);
        pacer.observe(&remaining(60), false).await;
        assert!(pacer.state.lock().await.pacing, "pacing below LOW");
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            pacer.observe(&remaining(60), false).await;
        }
        let interval = pacer.state.lock().await.interval;
        assert!(
            interval < Duration::from_millis(30),
            "measured about 10 ms, not the documented 100 ms: {interval:?}"
        );
        // A bucket that does not refill measures no rate: only the slow drift toward the
        // target level moves the interval.
        let slow = Pacer::new(10.0);
        slow.observe(&remaining(60), false).await;
        for n in (20..60).rev() {
            tokio::time::sleep(Duration::from_millis(10)).await;
            slow.observe(&remaining(n), false).await;
        }
        assert!(slow.state.lock().await.interval > Duration::from_millis(50));
    }

    #[test]
    fn requests_count_by_kind() {
        let url = |s: &str| Url::parse(s).unwrap();
        let op =
            url("https://m/subscriptions/s/providers/Microsoft.Network/locations/w/operations/1");
        assert_eq!(kind_of(&Method::GET, &op), Kind::Poll);
        let graph = url("https://m/providers/Microsoft.ResourceGraph/resources?api-version=x");
        assert_eq!(kind_of(&Method::POST, &graph), Kind::Graph);
        let rule = url("https://m/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/networkSecurityGroups/n/securityRules/x");
        assert_eq!(kind_of(&Method::GET, &rule), Kind::Read);
        assert_eq!(kind_of(&Method::PUT, &rule), Kind::Write);
        assert_eq!(kind_of(&Method::DELETE, &rule), Kind::Delete);
    }
}
