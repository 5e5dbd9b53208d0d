//! The HTTP side: a listener whose connections a handler can kill (for connection-reset
//! faults), and the one handler that applies latency, faults, auth, throttling, then routes.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Bytes;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::arm::{self, Call};
use super::auth;
use super::errors::{
    add_headers, arm_error, code_for_status, empty_response, error_body, json_response,
};
use super::faults::FaultKind;
use super::state::Shared;
use super::throttle::{Draw, Kind};

/// A TCP listener handing each connection a kill switch.
pub struct KillableListener(pub TcpListener);

/// Per-connection handle given to handlers as `ConnectInfo`.
#[derive(Clone, Debug)]
pub struct Conn(Arc<AtomicBool>);

impl Conn {
    /// Drops the connection with a reset instead of answering.
    pub fn kill(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

pub struct KillableStream {
    inner: TcpStream,
    killed: Arc<AtomicBool>,
}

impl KillableStream {
    fn dead(&self) -> Option<io::Error> {
        if self.killed.load(Ordering::SeqCst) {
            // Linger 0: closing sends RST, as a crashed front end would.
            let _ = self.inner.set_zero_linger();
            Some(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection reset by fault injection",
            ))
        } else {
            None
        }
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(e) = self.dead() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.dead() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.dead() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = Conn;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let killed = Arc::new(AtomicBool::new(false));
                    return (
                        KillableStream {
                            inner: stream,
                            killed: killed.clone(),
                        },
                        Conn(killed),
                    );
                }
                // Too many open files and the like: wait a little, as axum's own listener does.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0
            .local_addr()
            .map(|_| Conn(Arc::new(AtomicBool::new(false))))
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// Every request lands here. Rule writes are counted in flight per subscription while they
/// are handled (latency included), so a test can see writes of two subscriptions overlap.
pub async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let kind = super::state::request_kind(method.as_str(), uri.path());
    let _writing = matches!(kind, "rule_write" | "rule_delete").then(|| {
        let sub = uri.path().split('/').nth(2).unwrap_or_default();
        InFlight::start(&shared, sub)
    });
    handle_request(&shared, conn, method, uri, headers, body).await
}

/// A rule write being handled; dropped when it is answered (or abandoned).
struct InFlight {
    shared: Arc<Shared>,
    subscription: String,
}

impl InFlight {
    fn start(shared: &Arc<Shared>, subscription: &str) -> InFlight {
        let subscription = subscription.to_ascii_lowercase();
        let mut inner = shared.lock();
        *inner
            .writes_in_flight
            .entry(subscription.clone())
            .or_default() += 1;
        let at_once = inner.writes_in_flight.values().filter(|n| **n > 0).count();
        let stats = &mut inner.stats;
        stats.subscriptions_writing_at_once = stats.subscriptions_writing_at_once.max(at_once);
        InFlight {
            shared: shared.clone(),
            subscription,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(n) = self
            .shared
            .lock()
            .writes_in_flight
            .get_mut(&self.subscription)
        {
            *n = n.saturating_sub(1);
        }
    }
}

async fn handle_request(
    shared: &Arc<Shared>,
    conn: Conn,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let shared = shared.clone();
    let method = method.as_str().to_string();
    let path = uri.path().to_string();
    let faults = {
        let mut inner = shared.lock();
        *inner.stats.requests.entry(method.clone()).or_default() += 1;
        let kind = super::state::request_kind(&method, &path);
        *inner.stats.by_kind.entry(kind).or_default() += 1;
        let faults = inner.faults.triggered(&method, &path);
        inner.stats.faults_injected += faults.len() as u64;
        faults
    };
    let mut delay = shared.config.latency;
    for fault in &faults {
        if let FaultKind::Latency(extra) = fault {
            delay += *extra;
        }
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if faults
        .iter()
        .any(|f| matches!(f, FaultKind::ConnectionReset))
    {
        conn.kill();
        return empty_response(500, &[]);
    }
    if let Some(status) = faults.iter().find_map(|f| {
        if let FaultKind::Status(s) = f {
            Some(*s)
        } else {
            None
        }
    }) {
        let body = error_body(
            code_for_status(status),
            "An injected fault occurred. Please retry the request.",
            &[],
        );
        return json_response(status, &body, &[]);
    }
    let lro_fail = faults.iter().any(|f| matches!(f, FaultKind::LroFailed));
    let another = faults
        .iter()
        .any(|f| matches!(f, FaultKind::AnotherOperation));
    let response = route(
        &shared,
        &method,
        &path,
        uri.query().unwrap_or(""),
        &headers,
        &body,
        lro_fail,
        another,
    );
    // The answer is made; another client's write lands before the next request is served.
    for fault in &faults {
        if let FaultKind::ConcurrentRule(rule) = fault {
            super::put_concurrent_rule(&mut shared.lock(), &path, rule);
        }
    }
    response
}

#[allow(clippy::too_many_arguments)]
fn route(
    shared: &Shared,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
    lro_fail: bool,
    another: bool,
) -> Response {
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(str::to_ascii_lowercase)
        .collect();
    if method == "POST" && segs.len() == 4 && segs[1..] == ["oauth2", "v2.0", "token"] {
        return auth::token_endpoint(shared, body);
    }
    if method == "GET" && segs == ["metadata", "identity", "oauth2", "token"] {
        return auth::imds_endpoint(shared, headers, query);
    }
    if super::graph::is_query(method, &segs) {
        return super::graph::query(shared, headers, query, body);
    }
    if segs.first().map(String::as_str) != Some("subscriptions") || segs.len() < 2 {
        return arm_error(404, "NotFound", &format!("No route for `{method} {path}`."));
    }
    let principal = match auth::principal(shared, headers) {
        Ok(p) => p,
        Err(response) => return response,
    };
    let query = auth::parse_pairs(query);
    if let Err(response) = arm::check_api_version(path, &query) {
        return response;
    }
    let auto = shared
        .config
        .lro_auto_complete
        .map(|d| shared.clock.real(d.as_secs_f64()));
    let kind = Kind::for_method(method);
    let draw = {
        let mut inner = shared.lock();
        inner.settle(
            auto,
            shared
                .config
                .lro_duration
                .map(|d| shared.clock.real(d.as_secs_f64())),
        );
        super::defender::expire(&mut inner, &shared.clock);
        let now = shared.clock.now();
        let draw = inner
            .throttle
            .draw(&shared.config.throttle, &segs[1], &principal, kind, now);
        if matches!(draw, Draw::Throttled { .. }) {
            inner.stats.bump_throttled(kind.as_str());
        }
        draw
    };
    let remaining_header = format!("x-ms-ratelimit-remaining-subscription-{}", kind.as_str());
    let remaining = match draw {
        Draw::Throttled { wait } => {
            let mut headers: Vec<(&str, String)> = shared.clock.retry_after_headers(wait).into();
            headers.push((remaining_header.as_str(), "0".to_string()));
            let secs = shared.clock.retry_after_headers(wait)[0].1.clone();
            let message = format!(
                "Number of '{}' requests for subscription '{}' actor '{principal}' exceeded. Please try again after '{secs}' seconds after the time at which the request was throttled.",
                kind.as_str().trim_end_matches('s'),
                segs[1]
            );
            return json_response(
                429,
                &error_body("SubscriptionRequestsThrottled", &message, &[]),
                &headers,
            );
        }
        Draw::Allowed { remaining } => Some(remaining),
        Draw::Unlimited => None,
    };
    let mut response = if another {
        shared.lock().stats.bump_throttled("another_operation");
        arm::another_operation(shared, path)
    } else {
        let call = Call {
            shared,
            method,
            path,
            query: &query,
            headers,
            body,
            lro_fail,
        };
        super::compute::dispatch(&call)
            .or_else(|| super::defender::dispatch(&call))
            .unwrap_or_else(|| arm::dispatch(&call))
    };
    if let Some(remaining) = remaining {
        add_headers(
            &mut response,
            &[(remaining_header.as_str(), remaining.to_string())],
        );
    }
    response
}
