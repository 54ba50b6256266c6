//! The HTTP server: every [`TestLog`] under `/<name>/ct/v1/` (RFC 6962) and `/<name>/tiles/`
//! (static-ct-api monitoring prefix).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::log::TestLog;
use crate::respond::{Reply, Request, respond};

/// What every request handler shares.
#[derive(Debug)]
struct Shared {
    logs: HashMap<String, TestLog>,
    base_url: String,
}

impl Shared {
    fn monitoring_url(&self, name: &str) -> String {
        format!("{}{name}/tiles/", self.base_url)
    }
}

/// A running test log server. Dropping it stops the server too (without waiting).
#[derive(Debug)]
pub struct TestLogServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Serve `logs` on `addr` (use port 0 for any free port) until [`TestLogServer::shutdown`].
/// Fails if the address cannot be bound or two logs share a name.
pub async fn serve(logs: Vec<TestLog>, addr: SocketAddr) -> std::io::Result<TestLogServer> {
    let mut by_name = HashMap::new();
    for log in logs {
        let name = log.name();
        if by_name.insert(name.clone(), log).is_some() {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("two logs are named {name:?}")));
        }
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared { logs: by_name, base_url: format!("http://{addr}/") });
    let router = Router::new()
        .route("/{log}/ct/v1/{endpoint}", get(rfc6962_handler))
        .route("/{log}/tiles/{*path}", get(tiles_handler))
        .with_state(Arc::clone(&shared));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, router).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        if let Err(error) = server.await {
            tracing::warn!(%error, "test log server stopped with an error");
        }
    });
    Ok(TestLogServer { addr, shared, stop: Some(stop), task: Some(task) })
}

/// [`serve`] on `127.0.0.1:0`.
pub async fn serve_local(logs: Vec<TestLog>) -> std::io::Result<TestLogServer> {
    serve(logs, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
}

impl TestLogServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>/`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The RFC 6962 base URL of log `name`, `http://<addr>/<name>/` (requests go to
    /// `…/ct/v1/get-sth` and so on).
    pub fn url_rfc6962(&self, name: &str) -> String {
        format!("{}{name}/", self.shared.base_url)
    }

    /// The static-ct-api monitoring prefix of log `name`, `http://<addr>/<name>/tiles/`.
    pub fn url_monitoring(&self, name: &str) -> String {
        self.shared.monitoring_url(name)
    }

    /// The submission URL listed for the tiled view of log `name`: the monitoring URL, so that
    /// the checkpoint origin is the same whichever of the two a client derives it from (the
    /// test log takes no submissions over HTTP).
    pub fn url_submission(&self, name: &str) -> String {
        self.url_monitoring(name)
    }

    /// The checkpoint origin of log `name`: [`ctwatch_ct::checkpoint::origin_from_url`] of its
    /// monitoring (and submission) URL, e.g. `127.0.0.1:41234/argon/tiles`.
    pub fn origin(&self, name: &str) -> String {
        checkpoint_origin(&self.url_monitoring(name))
    }

    /// The logs served, in no particular order.
    pub fn logs(&self) -> Vec<TestLog> {
        self.shared.logs.values().cloned().collect()
    }

    /// Stop accepting connections, let in-flight requests finish (at most 5 seconds), and wait
    /// for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err()
        {
            task.abort();
        }
    }
}

impl Drop for TestLogServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The origin line of a checkpoint served under `monitoring_url` (the ct crate's definition:
/// the URL without scheme and trailing slash).
pub(crate) fn checkpoint_origin(monitoring_url: &str) -> String {
    ctwatch_ct::checkpoint::origin_from_url(monitoring_url)
}

async fn rfc6962_handler(
    State(shared): State<Arc<Shared>>,
    Path((log, endpoint)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(log) = shared.logs.get(&log) else {
        return (StatusCode::NOT_FOUND, "no such log").into_response();
    };
    let reply = respond(log, &Request::Rfc6962 { endpoint: &endpoint, query: &query });
    into_response(reply).await
}

async fn tiles_handler(State(shared): State<Arc<Shared>>, Path((name, path)): Path<(String, String)>) -> Response {
    let Some(log) = shared.logs.get(&name) else {
        return (StatusCode::NOT_FOUND, "no such log").into_response();
    };
    let origin = checkpoint_origin(&shared.monitoring_url(&name));
    let reply = respond(log, &Request::Tiles { path: &path, origin: &origin });
    into_response(reply).await
}

async fn into_response(reply: Reply) -> Response {
    if reply.stall_ms > 0 {
        tokio::time::sleep(Duration::from_millis(reply.stall_ms)).await;
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = if reply.reset {
        // Send a little of the body, then fail the stream: hyper aborts the connection
        // mid-message, which the client sees as a reset/incomplete response.
        let head = reply.body.get(..reply.body.len() / 2).unwrap_or_default().to_vec();
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
            Ok(head),
            Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset (misbehaviour)")),
        ];
        Body::from_stream(futures::stream::iter(chunks))
    } else {
        Body::from(reply.body)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    if let Some(wait) = reply.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(wait));
    }
    if reply.gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}
