//! The webhook sink against an axum receiver on 127.0.0.1 that verifies the signature, fails
//! the first attempts with 503 and records deliveries.

use crate::support::{SharedStore, new_finding, worker};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use ctwatch_store::{FindingStatus, Severity, Store};
use ring::hmac;
use std::sync::{Arc, Mutex};

const SECRET: &[u8] = b"correct horse battery staple";

/// What the receiver saw.
#[derive(Debug, Default)]
struct Received {
    /// Requests that still get a 503.
    fail_next: u32,
    attempts: u32,
    bad_signatures: u32,
    /// (X-Ctwatch-Delivery, body) of accepted deliveries.
    deliveries: Vec<(String, serde_json::Value)>,
}

type Shared = Arc<Mutex<Received>>;

async fn receive(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut state = state.lock().unwrap();
    state.attempts += 1;
    // Verify the signature the way a receiver would: recompute and compare in constant time.
    let signature = headers
        .get("x-ctwatch-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("sha256="))
        .and_then(|v| hex::decode(v).ok());
    let key = hmac::Key::new(hmac::HMAC_SHA256, SECRET);
    if signature.is_none_or(|sig| hmac::verify(&key, &body, &sig).is_err()) {
        state.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    if state.fail_next > 0 {
        state.fail_next -= 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let delivery = headers.get("x-ctwatch-delivery").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    state.deliveries.push((delivery, serde_json::from_slice(&body).unwrap()));
    StatusCode::NO_CONTENT
}

/// Start the receiver; returns its URL.
async fn receiver(state: Shared) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = Router::new().route("/hook", post(receive)).with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn config(url: &str, secret: &str, max_attempts: u32) -> String {
    format!(
        "[[sink]]\ntype = \"webhook\"\nname = \"hook\"\nurl = \"{url}\"\nsecret = \"{secret}\"\n\
         max_attempts = {max_attempts}\nbackoff_secs = 0.001\nmax_backoff_secs = 0.01\n"
    )
}

#[tokio::test]
async fn signed_deliveries_survive_503s_and_are_not_repeated() {
    let state = Shared::default();
    state.lock().unwrap().fail_next = 2;
    let url = receiver(state.clone()).await;
    let store = SharedStore::new();
    let found = store.record(&[new_finding("caa_conflict:x", "caa_conflict", Severity::Error, Some("HiPKI"), 1_000)]);
    let mut worker = worker(&config(&url, std::str::from_utf8(SECRET).unwrap(), 3), &store);

    // Two 503s, then success, within one pass.
    let stats = worker.pass().await.unwrap();
    assert_eq!((stats.delivered(), stats.failed()), (1, 0), "{stats:?}");
    {
        let state = state.lock().unwrap();
        assert_eq!((state.attempts, state.bad_signatures), (3, 0));
        let (delivery, body) = &state.deliveries[0];
        assert_eq!(delivery, "caa_conflict:x:1000:open");
        assert_eq!(body["id"], found[0].id);
        assert_eq!(body["key"], "caa_conflict:x");
        assert_eq!(body["kind"], "caa_conflict");
        assert_eq!(body["severity"], "error");
        assert_eq!(body["ca"], "HiPKI");
        assert_eq!(body["certificate_count"], 0);
        assert_eq!(body["first_seen"], 1_000);
        assert_eq!(body["last_seen"], 1_000);
        assert_eq!(body["status"], "open");
        assert_eq!(body["evidence"]["names"][0], "a.gov.tw");
    }

    // Nothing new: no request at all.
    let stats = worker.pass().await.unwrap();
    assert_eq!(stats.delivered(), 0);
    assert_eq!(state.lock().unwrap().attempts, 3);

    // Seen again later: delivered again under a new dedup key; so is the resolution.
    store.record(&[new_finding("caa_conflict:x", "caa_conflict", Severity::Error, Some("HiPKI"), 2_000)]);
    assert_eq!(worker.pass().await.unwrap().delivered(), 1);
    store.sync(|s| s.set_finding_status(found[0].id, FindingStatus::Resolved).unwrap());
    assert_eq!(worker.pass().await.unwrap().delivered(), 1);
    let state = state.lock().unwrap();
    let keys: Vec<&str> = state.deliveries.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(keys, ["caa_conflict:x:1000:open", "caa_conflict:x:2000:open", "caa_conflict:x:2000:resolved"]);
    assert_eq!(state.deliveries[1].1["last_seen"], 2_000);
}

#[tokio::test]
async fn attempts_are_bounded_per_pass_and_resumed_next_pass() {
    let state = Shared::default();
    state.lock().unwrap().fail_next = 4;
    let url = receiver(state.clone()).await;
    let store = SharedStore::new();
    let found = store.record(&[new_finding("k", "lint_violation", Severity::Error, None, 1_000)]);
    let mut worker = worker(&config(&url, std::str::from_utf8(SECRET).unwrap(), 3), &store);

    let stats = worker.pass().await.unwrap();
    assert_eq!((stats.delivered(), stats.failed()), (0, 1));
    let error = stats.sinks[0].first_error.clone().unwrap();
    assert!(error.contains("HTTP 503 after 3 attempt(s)"), "{error}");
    assert_eq!(state.lock().unwrap().attempts, 3);
    assert_eq!(store.pending("hook"), [found[0].id]);

    // Next pass: one more 503, then accepted.
    assert_eq!(worker.pass().await.unwrap().delivered(), 1);
    assert_eq!(state.lock().unwrap().attempts, 5);
    assert!(store.pending("hook").is_empty());
}

#[tokio::test]
async fn a_wrong_secret_is_refused_without_retries_and_stays_pending() {
    let state = Shared::default();
    let url = receiver(state.clone()).await;
    let store = SharedStore::new();
    let found = store.record(&[new_finding("k", "lint_violation", Severity::Error, None, 1_000)]);
    let mut worker = worker(&config(&url, "not the secret", 3), &store);
    let stats = worker.pass().await.unwrap();
    assert_eq!(stats.failed(), 1);
    assert!(stats.sinks[0].first_error.as_deref().unwrap().contains("HTTP 401 after 1 attempt(s)"));
    let state = state.lock().unwrap();
    assert_eq!((state.attempts, state.bad_signatures, state.deliveries.len()), (1, 1, 0));
    assert_eq!(store.pending("hook"), [found[0].id]);
}

#[tokio::test]
async fn an_unreachable_receiver_is_retried_then_left_pending() {
    // A port nobody listens on: bind, note the address, close.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    drop(listener);
    let store = SharedStore::new();
    let found = store.record(&[new_finding("k", "lint_violation", Severity::Error, None, 1_000)]);
    let mut worker = worker(&config(&url, "s", 2), &store);
    let stats = worker.pass().await.unwrap();
    assert_eq!(stats.failed(), 1);
    let error = stats.sinks[0].first_error.clone().unwrap();
    assert!(error.contains("no answer after 2 attempt(s)"), "{error}");
    assert_eq!(store.pending("hook"), [found[0].id]);
}
