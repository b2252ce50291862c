//! The HTTP server loop every binary uses: HTTP/1.1 with upgrades (the WebSocket), the peer
//! address as axum's `ConnectInfo`, and the limits a server facing hostile clients needs:
//! a request's target and headers within [`MAX_HEADER_BYTES`] (431 otherwise; hyper's read
//! buffer, [`READ_BUFFER_BYTES`], bounds what is held before that), a request's headers complete
//! within [`HEADER_READ_TIMEOUT`] of its first byte (slowloris: the connection is closed), at
//! most [`MAX_CONNECTIONS`] open connections (503 otherwise). Each refusal is counted in
//! `http_connections_refused_total{reason}`; `http_connections_open` shows the open ones.
//! Graceful shutdown: stop accepting, let every connection finish its request, wait for them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::io::AsyncWriteExt;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::shutdown::Shutdown;

/// A request's target and header names and values must fit in this many bytes (nginx's default
/// header buffers hold 32 KiB too); also at most 100 header lines (hyper's limit).
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// A connection's read buffer at most: a request whose headers do not fit is refused before
/// they are parsed.
pub const READ_BUFFER_BYTES: usize = 2 * MAX_HEADER_BYTES;
/// A request's headers must be complete this long after its first byte arrived.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Open connections at most; one more is answered 503 and closed.
pub const MAX_CONNECTIONS: i64 = 10_000;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

/// The server's connection figures.
#[derive(Debug, Default)]
pub struct Connections {
    refused: Family<Reason, Counter>,
    open: Gauge,
}

impl Connections {
    /// The figures, registered in `registry`.
    pub fn register(registry: &mut Registry) -> Arc<Self> {
        let c = Self::default();
        registry.register(
            "http_connections_refused",
            "HTTP connections refused or closed by a limit, by reason (header_too_large, header_timeout, too_many_connections)",
            c.refused.clone(),
        );
        registry.register("http_connections_open", "Open HTTP connections", c.open.clone());
        Arc::new(c)
    }

    fn refused(&self, reason: &'static str) {
        self.refused.get_or_create(&Reason { reason }).inc();
    }
}

/// One open connection, counted while it lives.
struct Open(Arc<Connections>);

impl Open {
    /// Counts a new connection; `None` when [`MAX_CONNECTIONS`] are already open.
    fn try_new(conns: &Arc<Connections>) -> Option<Self> {
        // the gauge is the count: inc returns the number open before this one
        if conns.open.inc() >= MAX_CONNECTIONS {
            conns.open.dec();
            return None;
        }
        Some(Self(conns.clone()))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.dec();
    }
}

const BUSY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 21\r\n\r\ntoo many connections\n";

/// Serves `router` on `listener` until `shutdown` fires, then waits for open connections to
/// finish their requests.
pub async fn serve(listener: tokio::net::TcpListener, router: Router, shutdown: Shutdown, conns: Arc<Connections>) {
    let tracker = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // out of file descriptors and the like: pause instead of spinning
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.wait() => break,
        };
        let Some(open) = Open::try_new(&conns) else {
            conns.refused("too_many_connections");
            tracker.spawn(async move {
                let mut stream = stream;
                let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(BUSY)).await;
            });
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (router, counted) = (router.clone(), conns.clone());
        let service = tower::service_fn(move |req: hyper::Request<Incoming>| {
            let (router, counted) = (router.clone(), counted.clone());
            async move {
                if header_bytes(&req) > MAX_HEADER_BYTES {
                    counted.refused("header_too_large");
                    return Ok(too_large());
                }
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut().insert(ConnectInfo(peer));
                router.oneshot(req).await
            }
        });
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            connection(stream, peer, service, shutdown, open).await;
        });
    }
    tracker.close();
    tracker.wait().await;
}

/// The bytes of a request's target and header names and values.
fn header_bytes<B>(req: &hyper::Request<B>) -> usize {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    target
        + req
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum::<usize>()
}

fn too_large() -> axum::response::Response {
    let mut r = axum::response::Response::new(axum::body::Body::from(format!(
        "request target and headers over {MAX_HEADER_BYTES} bytes\n"
    )));
    *r.status_mut() = axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain"),
    );
    r.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    r
}

async fn connection<S>(stream: tokio::net::TcpStream, peer: SocketAddr, service: S, shutdown: Shutdown, open: Open)
where
    S: tower::Service<hyper::Request<Incoming>, Response = axum::response::Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(READ_BUFFER_BYTES);
    let conn = builder
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = shutdown.wait() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        if e.is_parse_too_large() {
            open.0.refused("header_too_large");
        } else if e.is_timeout() {
            open.0.refused("header_timeout");
        }
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
