//! `ArmClient::list` against tiny axum servers on 127.0.0.1: pages joined in order, a
//! `nextLink` to another host refused before anything is sent there, endless paging bounded.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use futures::future::BoxFuture;
use reqwest::Url;
use serde_json::{json, Value};

use super::MAX_PAGES;
use crate::providers::azure::auth::{AccessToken, AuthError, TokenProvider};
use crate::providers::azure::client::ArmClient;
use crate::providers::azure::error::ArmError;
use crate::providers::azure::retry::RetryPolicy;

struct Static;

impl TokenProvider for Static {
    fn name(&self) -> &'static str {
        "Static"
    }
    fn token<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<AccessToken, AuthError>> {
        Box::pin(async {
            Ok(AccessToken::new(
                "t".into(),
                jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1),
            ))
        })
    }
}

/// What a server answers on `/items?page=N`, given its own base URL.
type Answer = Arc<dyn Fn(&str, usize) -> Value + Send + Sync>;

#[derive(Clone)]
struct Server {
    base: String,
    hits: Arc<AtomicUsize>,
    answer: Answer,
}

async fn items(State(s): State<Server>, Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    s.hits.fetch_add(1, Ordering::SeqCst);
    let page = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
    Json((s.answer)(&s.base, page))
}

/// Serves `answer` on 127.0.0.1; returns its base URL and hit counter.
async fn serve(
    answer: impl Fn(&str, usize) -> Value + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/items", get(items))
        .with_state(Server {
            base: base.clone(),
            hits: hits.clone(),
            answer: Arc::new(answer),
        });
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, hits)
}

fn client(base: &str) -> ArmClient {
    ArmClient::new(
        reqwest::Client::new(),
        Url::parse(base).unwrap(),
        Arc::new(Static),
        "scope".into(),
        RetryPolicy {
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_retries: 1,
            max_wait: Duration::from_secs(1),
            max_throttled: 1,
        },
    )
}

#[tokio::test]
async fn follows_every_next_link_and_keeps_the_order() {
    let (base, hits) = serve(|base, page| {
        let mut body = json!({"value": [page * 2, page * 2 + 1]});
        if page < 2 {
            body["nextLink"] = json!(format!("{base}/items?page={}", page + 1));
        }
        body
    })
    .await;
    let got = client(&base).list(&format!("{base}/items")).await.unwrap();
    assert_eq!(got, (0..6).map(|i| json!(i)).collect::<Vec<_>>());
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused_before_sending() {
    let (other, other_hits) = serve(|_, _| json!({"value": ["secret-eater"]})).await;
    let link = format!("{other}/items?page=1");
    let (base, hits) = serve(move |_, _| json!({"value": [1], "nextLink": link})).await;
    let err = client(&base)
        .list(&format!("{base}/items"))
        .await
        .unwrap_err();
    assert!(matches!(err, ArmError::Refused(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("`{other}/items`")) && text.contains("refusing to send a token"),
        "{text}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(
        other_hits.load(Ordering::SeqCst),
        0,
        "no request left the endpoint"
    );
    // `localhost` is another host than `127.0.0.1`, even on the same port.
    let (base, _) = serve(|base, _| {
        json!({"value": [], "nextLink": format!("{}/items?page=1", base.replace("127.0.0.1", "localhost"))})
    })
    .await;
    let err = client(&base).list(&format!("{base}/items")).await;
    assert!(matches!(err, Err(ArmError::Refused(_))), "{err:?}");
}

#[tokio::test]
async fn endless_paging_stops_at_the_bound() {
    let (base, hits) = serve(|base, page| {
        json!({"value": [page], "nextLink": format!("{base}/items?page={}", page + 1)})
    })
    .await;
    let err = client(&base)
        .list(&format!("{base}/items"))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("after {MAX_PAGES} pages")),
        "{err}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), MAX_PAGES);
}

#[tokio::test]
async fn a_page_that_is_not_a_list_is_corrupt() {
    let (base, _) = serve(|_, _| json!({"value": {"not": "an array"}})).await;
    let err = client(&base)
        .list(&format!("{base}/items"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ArmError::Corrupt { message, .. } if message.contains("`value` should be an array")),
        "{err:?}"
    );
}
