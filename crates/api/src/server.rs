//! The HTTP listener: `/metrics`, `/healthz`, `/readyz` and the read-only JSON API under
//! `/api/v1`.
//!
//! Every handler reads the store through [`StoreHandle::call`] (the blocking pool), so a slow
//! query never stalls the runtime the monitor runs on. Errors are JSON, `{ "error": "..." }`,
//! with 400 for a bad query, 401 for a missing or wrong token, 404 for an unknown id or route
//! and 500 for a store failure.

use crate::export::{self, ExportError, finding_json, rfc3339};
use crate::metrics::{Metrics, parse_status};
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ctwatch_monitor::StoreHandle;
use ctwatch_store::{Finding, FindingFilter, FindingStatus, Hash, StoreError};
use ring::hmac;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Default page size of `/api/v1/findings`.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page `/api/v1/findings` returns.
pub const MAX_LIMIT: usize = 1000;
/// Findings read per store query when filtering by status (the store filters the rest).
const STATUS_SCAN_PAGE: usize = 500;

/// Why the server did not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Listening beyond loopback without a token would publish findings to the network.
    #[error(
        "refusing to serve the API on {listen}: it is not a loopback address and no bearer token is configured \
         (set a token, or listen on 127.0.0.1 / ::1)"
    )]
    TokenRequired { listen: SocketAddr },
    /// The configured token cannot be sent in an `Authorization` header.
    #[error("invalid API token: {0}")]
    InvalidToken(&'static str),
    #[error("cannot set up the token check: no system randomness")]
    Randomness,
    #[error("cannot listen on {listen}: {source}")]
    Bind {
        listen: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("API server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// Where and how the API listens.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Listen address (`[metrics] listen`, default 127.0.0.1:9898).
    pub listen: SocketAddr,
    /// Bearer token every route except `/healthz` requires when set. Required when `listen` is
    /// not a loopback address.
    pub token: Option<String>,
    /// Minimum time between two store reads made for `/metrics` (findings, log status): scrapes
    /// in between serve the values of the last read.
    pub metrics_refresh: Duration,
}

impl ApiConfig {
    /// Loopback-only defaults for `listen`: no token, store read at most every 5 s.
    pub fn new(listen: SocketAddr) -> ApiConfig {
        ApiConfig { listen, token: None, metrics_refresh: Duration::from_secs(5) }
    }

    /// Check the configuration without binding: a token must be set when `listen` is not a
    /// loopback address, and a token must be printable ASCII without spaces.
    pub fn validate(&self) -> Result<(), ApiError> {
        match &self.token {
            None if !self.listen.ip().to_canonical().is_loopback() => {
                Err(ApiError::TokenRequired { listen: self.listen })
            }
            None => Ok(()),
            Some(t) if t.is_empty() => Err(ApiError::InvalidToken("it is empty")),
            Some(t) if !t.bytes().all(|b| b.is_ascii_graphic()) => {
                Err(ApiError::InvalidToken("it must be printable ASCII without spaces"))
            }
            Some(_) => Ok(()),
        }
    }
}

/// When `/readyz` answers 200.
#[derive(Clone)]
pub enum Readiness {
    /// Once every named log has a verified tree head in the store (the monitor's logs:
    /// `monitor.sources()` names).
    LogsVerified(Vec<String>),
    /// Whenever the function says so.
    Check(Arc<dyn Fn() -> bool + Send + Sync>),
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Readiness::LogsVerified(logs) => f.debug_tuple("LogsVerified").field(logs).finish(),
            Readiness::Check(_) => f.write_str("Check(..)"),
        }
    }
}

/// A watched CA, for `/api/v1/issuers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedCa {
    /// The configured name (`[[ca]] name`).
    pub name: String,
    /// SHA-256 of its issuers' SPKIs.
    pub issuers: Vec<Hash>,
}

impl From<&ctwatch_monitor::config::CaSettings> for WatchedCa {
    fn from(ca: &ctwatch_monitor::config::CaSettings) -> Self {
        WatchedCa { name: ca.name.clone(), issuers: ca.issuer_spki_sha256.clone() }
    }
}

/// What the handlers read.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub store: StoreHandle,
    pub metrics: Arc<Metrics>,
    pub readiness: Readiness,
    pub watched_cas: Vec<WatchedCa>,
}

impl ApiState {
    /// State with no watched CAs and no readiness condition (`/readyz` answers 200 until
    /// [`ApiState::with_readiness`] sets one).
    pub fn new(store: StoreHandle, metrics: Arc<Metrics>) -> ApiState {
        ApiState { store, metrics, readiness: Readiness::LogsVerified(Vec::new()), watched_cas: Vec::new() }
    }

    /// Replace the readiness rule.
    pub fn with_readiness(mut self, readiness: Readiness) -> ApiState {
        self.readiness = readiness;
        self
    }

    /// The CAs `/api/v1/issuers` reports.
    pub fn with_watched_cas(mut self, cas: Vec<WatchedCa>) -> ApiState {
        self.watched_cas = cas;
        self
    }
}

/// The configured token, compared in constant time: the expected token's HMAC under a random
/// per-process key is computed once, and a presented token is accepted when its HMAC verifies
/// against it (`ring::hmac::verify` compares tags in constant time, and comparing MACs hides
/// the token's length too).
struct BearerToken {
    key: hmac::Key,
    tag: hmac::Tag,
}

impl BearerToken {
    fn new(token: &str) -> Result<BearerToken, ApiError> {
        let rng = ring::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).map_err(|_| ApiError::Randomness)?;
        let tag = hmac::sign(&key, token.as_bytes());
        Ok(BearerToken { key, tag })
    }

    fn matches(&self, presented: &[u8]) -> bool {
        hmac::verify(&self.key, presented, self.tag.as_ref()).is_ok()
    }

    /// Whether the request's `Authorization` header is `Bearer <token>` (scheme
    /// case-insensitive, RFC 7235).
    fn authorizes(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(header::AUTHORIZATION) else { return false };
        let bytes = value.as_bytes();
        let Some((scheme, credentials)) = bytes.split_at_checked(7) else { return false };
        scheme.eq_ignore_ascii_case(b"bearer ") && self.matches(credentials)
    }
}

struct AppState {
    api: ApiState,
    token: Option<BearerToken>,
    metrics_refresh: Duration,
}

/// A bound API server, not yet serving.
#[derive(Debug)]
pub struct ApiServer {
    listener: tokio::net::TcpListener,
    local_addr: SocketAddr,
    router: Router,
}

impl ApiServer {
    /// Validate `config` (see [`ApiConfig::validate`]) and bind its address. Port 0 picks a free
    /// port; [`ApiServer::local_addr`] says which.
    pub async fn bind(config: ApiConfig, state: ApiState) -> Result<ApiServer, ApiError> {
        config.validate()?;
        let token = config.token.as_deref().map(BearerToken::new).transpose()?;
        let app = Arc::new(AppState { api: state, token, metrics_refresh: config.metrics_refresh });
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ApiError::Bind { listen: config.listen, source })?;
        let local_addr = listener.local_addr().map_err(|source| ApiError::Bind { listen: config.listen, source })?;
        Ok(ApiServer { listener, local_addr, router: router(app) })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serve until `shutdown` completes, then finish the requests in flight.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ApiError> {
        tracing::info!(listen = %self.local_addr, "serving metrics and API");
        axum::serve(self.listener, self.router).with_graceful_shutdown(shutdown).await.map_err(ApiError::Serve)
    }
}

/// Bind `config.listen` and serve until `shutdown` completes.
pub async fn serve(
    config: ApiConfig,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ApiError> {
    ApiServer::bind(config, state).await?.run(shutdown).await
}

fn router(app: Arc<AppState>) -> Router {
    let protected = Router::new()
        .route("/metrics", get(metrics))
        .route("/readyz", get(readyz))
        .route("/api/v1/findings", get(list_findings))
        .route("/api/v1/findings/{id}", get(show_finding))
        .route("/api/v1/findings/{id}/certificates.csv", get(finding_csv))
        .route("/api/v1/issuers", get(issuers))
        .route("/api/v1/logs", get(logs))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), require_token));
    Router::new().route("/healthz", get(healthz)).merge(protected).with_state(app)
}

/// A JSON error response.
#[derive(Debug)]
struct HttpError {
    status: StatusCode,
    message: String,
}

impl HttpError {
    fn bad_request(message: impl Into<String>) -> HttpError {
        HttpError { status: StatusCode::BAD_REQUEST, message: message.into() }
    }

    fn not_found(message: impl Into<String>) -> HttpError {
        HttpError { status: StatusCode::NOT_FOUND, message: message.into() }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({ "error": self.message }))).into_response()
    }
}

impl From<StoreError> for HttpError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "API store read failed");
        HttpError { status: StatusCode::INTERNAL_SERVER_ERROR, message: format!("store error: {e}") }
    }
}

impl From<ExportError> for HttpError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::NotFound(id) => HttpError::not_found(format!("no finding with id {id}")),
            ExportError::Store(e) => e.into(),
            ExportError::Io(e) => HttpError { status: StatusCode::INTERNAL_SERVER_ERROR, message: e.to_string() },
        }
    }
}

async fn require_token(State(app): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    match &app.token {
        Some(token) if !token.authorizes(request.headers()) => {
            let mut response =
                HttpError { status: StatusCode::UNAUTHORIZED, message: "missing or invalid bearer token".into() }
                    .into_response();
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
        _ => next.run(request).await,
    }
}

async fn not_found() -> HttpError {
    HttpError::not_found("no such endpoint")
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(app): State<Arc<AppState>>) -> Result<Response, HttpError> {
    let missing = match &app.api.readiness {
        Readiness::Check(check) => (!check()).then(|| "not ready".to_string()),
        Readiness::LogsVerified(expected) => {
            let expected = expected.clone();
            let unverified = app
                .api
                .store
                .call(move |s| {
                    let verified: std::collections::HashSet<String> = s
                        .log_status()?
                        .into_iter()
                        .filter(|l| l.verified_tree_size.is_some())
                        .map(|l| l.name)
                        .collect();
                    Ok(expected.into_iter().filter(|name| !verified.contains(name)).collect::<Vec<_>>())
                })
                .await?;
            (!unverified.is_empty())
                .then(|| format!("not ready: no verified tree head yet for {}", unverified.join(", ")))
        }
    };
    Ok(match missing {
        None => "ready\n".into_response(),
        Some(message) => HttpError { status: StatusCode::SERVICE_UNAVAILABLE, message }.into_response(),
    })
}

async fn metrics(State(app): State<Arc<AppState>>) -> Result<Response, HttpError> {
    // A store that cannot be read must not take the metrics down with it: the event-driven
    // families are still right, and `up` must not say ctwatch is down.
    if let Err(e) = app.api.metrics.refresh_if_older_than(&app.api.store, app.metrics_refresh).await {
        tracing::warn!(error = %e, "metrics: store refresh failed; serving the last values");
    }
    let text = app
        .api
        .metrics
        .encode()
        .map_err(|e| HttpError { status: StatusCode::INTERNAL_SERVER_ERROR, message: e.to_string() })?;
    Ok(([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response())
}

/// `/api/v1/findings` query parameters, as given (validated by [`ListQuery::validate`]).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    kind: Option<String>,
    ca: Option<String>,
    since: Option<String>,
    status: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

/// A validated findings query.
#[derive(Debug, Clone, PartialEq)]
struct FindingsQuery {
    kind: Option<String>,
    ca: Option<String>,
    since: Option<i64>,
    status: Option<FindingStatus>,
    limit: usize,
    offset: usize,
}

impl ListQuery {
    fn validate(self) -> Result<FindingsQuery, HttpError> {
        let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
        let since = nonempty(self.since).map(|s| parse_since(&s)).transpose()?;
        let status = nonempty(self.status)
            .map(|s| {
                parse_status(&s).ok_or_else(|| {
                    HttpError::bad_request(format!("invalid status {s:?}: expected open, acknowledged or resolved"))
                })
            })
            .transpose()?;
        let limit = match nonempty(self.limit) {
            None => DEFAULT_LIMIT,
            Some(s) => match s.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(HttpError::bad_request(format!(
                        "invalid limit {s:?}: expected a number from 1 to {MAX_LIMIT}"
                    )));
                }
            },
        };
        let offset = match nonempty(self.offset) {
            None => 0,
            Some(s) => match s.parse::<usize>() {
                Ok(n) if i64::try_from(n).is_ok() && n.checked_add(limit + 1).is_some() => n,
                _ => return Err(HttpError::bad_request(format!("invalid offset {s:?}: expected a number ≥ 0"))),
            },
        };
        Ok(FindingsQuery { kind: nonempty(self.kind), ca: nonempty(self.ca), since, status, limit, offset })
    }
}

/// `since`: Unix seconds or an RFC 3339 time.
fn parse_since(value: &str) -> Result<i64, HttpError> {
    let error = || {
        HttpError::bad_request(format!(
            "invalid since {value:?}: expected Unix seconds or an RFC 3339 time such as 2025-02-01T00:00:00Z"
        ))
    };
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().map_err(|_| error());
    }
    OffsetDateTime::parse(value, &Rfc3339).map(|t| t.unix_timestamp()).map_err(|_| error())
}

/// One page of findings (newest first) and whether more follow.
fn findings_page(store: &mut dyn ctwatch_store::Store, q: &FindingsQuery) -> Result<(Vec<Finding>, bool), StoreError> {
    let base = FindingFilter { kind: q.kind.clone(), ca: q.ca.clone(), since: q.since, limit: None, offset: None };
    let Some(status) = q.status else {
        let filter = FindingFilter { limit: Some(q.limit + 1), offset: Some(q.offset), ..base };
        let mut page = store.findings(&filter)?;
        let more = page.len() > q.limit;
        page.truncate(q.limit);
        return Ok((page, more));
    };
    // The store does not filter by status: scan in pages, skipping `offset` matches.
    let mut skipped = 0;
    let mut out = Vec::new();
    let mut scan_offset = 0;
    loop {
        let filter = FindingFilter { limit: Some(STATUS_SCAN_PAGE), offset: Some(scan_offset), ..base.clone() };
        let page = store.findings(&filter)?;
        let n = page.len();
        for f in page.into_iter().filter(|f| f.status == status) {
            if skipped < q.offset {
                skipped += 1;
            } else if out.len() < q.limit {
                out.push(f);
            } else {
                return Ok((out, true));
            }
        }
        if n < STATUS_SCAN_PAGE {
            return Ok((out, false));
        }
        scan_offset += n;
    }
}

async fn list_findings(
    State(app): State<Arc<AppState>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<axum::Json<Value>, HttpError> {
    let Query(query) = query.map_err(|e| HttpError::bad_request(e.body_text()))?;
    let q = query.validate()?;
    let (offset, limit) = (q.offset, q.limit);
    let (page, more) = app.api.store.call(move |s| findings_page(s, &q)).await?;
    let findings: Vec<Value> = page.iter().map(finding_json).collect();
    let next_offset = more.then_some(offset + limit);
    Ok(axum::Json(json!({ "findings": findings, "next_offset": next_offset })))
}

fn parse_id(id: &str) -> Result<i64, HttpError> {
    id.parse::<i64>().map_err(|_| HttpError::bad_request(format!("invalid finding id {id:?}: expected an integer")))
}

async fn show_finding(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, HttpError> {
    let id = parse_id(&id)?;
    let detail = app.api.store.call(move |s| Ok(export::finding_detail(&*s, id))).await??;
    Ok(axum::Json(detail))
}

async fn finding_csv(State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Response, HttpError> {
    let id = parse_id(&id)?;
    let csv = app
        .api
        .store
        .call(move |s| {
            let mut out = Vec::new();
            Ok(export::write_certificates_csv(&*s, id, &mut out).map(|()| out))
        })
        .await??;
    let disposition = format!("attachment; filename=\"finding-{id}-certificates.csv\"");
    let mut response = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response();
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Issuance of the watched CAs in the last 24 hours and 7 days (hourly buckets, the current
/// hour included).
async fn issuers(State(app): State<Arc<AppState>>) -> Result<axum::Json<Value>, HttpError> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let now_hour = now.div_euclid(3600);
    let (from_7d, from_24h, to) = (now_hour - 7 * 24 + 1, now_hour - 24 + 1, now_hour + 1);
    let cas = app.api.watched_cas.clone();
    let rows = app
        .api
        .store
        .call(move |s| {
            let mut rows = Vec::new();
            for ca in cas {
                let mut day = BTreeMap::<String, u64>::new();
                let mut week = BTreeMap::<String, u64>::new();
                for issuer in &ca.issuers {
                    for c in s.issuance_counts(Some(issuer), from_7d, to)? {
                        *week.entry(c.validation_type.clone()).or_default() += c.count;
                        if c.hour >= from_24h {
                            *day.entry(c.validation_type).or_default() += c.count;
                        }
                    }
                }
                rows.push(json!({
                    "ca": ca.name,
                    "issuer_spki_sha256": ca.issuers.iter().map(hex::encode).collect::<Vec<_>>(),
                    "certificates_24h": day.values().sum::<u64>(),
                    "certificates_7d": week.values().sum::<u64>(),
                    "by_validation_24h": day,
                    "by_validation_7d": week,
                }));
            }
            Ok(rows)
        })
        .await?;
    Ok(axum::Json(json!({ "issuers": rows, "as_of": rfc3339(now) })))
}

async fn logs(State(app): State<Arc<AppState>>) -> Result<axum::Json<Value>, HttpError> {
    let status = app.api.store.call(|s| s.log_status()).await?;
    let logs: Vec<Value> = status
        .iter()
        .map(|l| {
            json!({
                "name": l.name,
                "log_id": l.log_id,
                "url": l.url,
                "cursor": l.cursor,
                "verified_tree_size": l.verified_tree_size,
                "seen_tree_size": l.seen_tree_size,
                "seen_timestamp": l.seen_timestamp_ms.map(export::rfc3339_ms),
                "lag_entries": l.seen_tree_size.map(|s| s.saturating_sub(l.cursor)),
                "entries_stored": l.entries_stored,
                "entries_skipped": l.entries_skipped,
                "malformed_entries": l.malformed_entries,
            })
        })
        .collect();
    Ok(axum::Json(json!({ "logs": logs })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn bearer_token_accepts_only_the_exact_token() {
        let token = BearerToken::new("s3cret-token").unwrap();
        assert!(token.authorizes(&headers("Bearer s3cret-token")));
        assert!(token.authorizes(&headers("bearer s3cret-token")));
        for wrong in [
            "Bearer s3cret-tokeN",
            "Bearer s3cret-toke",
            "Bearer s3cret-token ",
            "Bearer ",
            "Basic s3cret-token",
            "s3cret-token",
            "Bearer",
            "",
        ] {
            assert!(!token.authorizes(&headers(wrong)), "{wrong:?} was accepted");
        }
        assert!(!token.authorizes(&HeaderMap::new()));
    }

    #[test]
    fn non_loopback_listen_needs_a_token() {
        let mut config = ApiConfig::new("0.0.0.0:9898".parse().unwrap());
        assert!(matches!(config.validate(), Err(ApiError::TokenRequired { .. })));
        config.listen = "[::ffff:127.0.0.1]:9898".parse().unwrap();
        assert!(config.validate().is_ok());
        config.listen = "[::1]:9898".parse().unwrap();
        assert!(config.validate().is_ok());
        config.listen = "192.0.2.1:9898".parse().unwrap();
        config.token = Some("abc".into());
        assert!(config.validate().is_ok());
        config.token = Some(String::new());
        assert!(matches!(config.validate(), Err(ApiError::InvalidToken(_))));
        config.token = Some("has space".into());
        assert!(matches!(config.validate(), Err(ApiError::InvalidToken(_))));
    }

    #[test]
    fn since_accepts_unix_seconds_and_rfc3339_only() {
        assert_eq!(parse_since("1738368000").unwrap(), 1_738_368_000);
        assert_eq!(parse_since("2025-02-01T08:00:00+08:00").unwrap(), 1_738_368_000);
        for bad in ["", "-1", "24h", "2025-02-01", "99999999999999999999"] {
            assert!(parse_since(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn list_query_defaults_and_bounds() {
        let q = ListQuery::default().validate().unwrap();
        assert_eq!((q.limit, q.offset, q.status), (DEFAULT_LIMIT, 0, None));
        let with = |limit: &str, offset: &str| {
            ListQuery { limit: Some(limit.into()), offset: Some(offset.into()), ..Default::default() }.validate()
        };
        assert_eq!(with("1000", "5").unwrap().limit, 1000);
        for (limit, offset) in [("0", "0"), ("1001", "0"), ("x", "0"), ("-1", "0"), ("10", "-1"), ("10", "1e3")] {
            assert!(with(limit, offset).is_err(), "{limit}/{offset} accepted");
        }
        assert!(with("10", &u64::MAX.to_string()).is_err());
        let q = ListQuery { status: Some("acknowledged".into()), kind: Some(String::new()), ..Default::default() };
        let q = q.validate().unwrap();
        assert_eq!((q.status, q.kind), (Some(FindingStatus::Acknowledged), None));
        assert!(ListQuery { status: Some("closed".into()), ..Default::default() }.validate().is_err());
    }
}
