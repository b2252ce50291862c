//! The server loop's limits over real TCP: oversized headers get 431, a client that sends its
//! headers too slowly is disconnected, both are counted; the peer address reaches handlers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::Router;
use common::server::{Connections, HEADER_READ_TIMEOUT, MAX_HEADER_BYTES};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Server {
    addr: SocketAddr,
    registry: Registry,
    _stop: common::shutdown::Trigger,
}

async fn start() -> Server {
    let mut registry = Registry::default();
    let conns = Connections::register(&mut registry);
    let router = Router::new().route(
        "/peer",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, shutdown) = common::shutdown::channel();
    tokio::spawn(common::ops::serve_on(listener, router, shutdown, conns));
    Server {
        addr,
        registry,
        _stop: stop,
    }
}

fn refused(registry: &Registry, reason: &str) -> u64 {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    let prefix = format!("http_connections_refused_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// Sends `request` and reads until the server closes (or 30 s).
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(request).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_request_within_the_limits_is_served_with_its_peer_address() {
    let server = start().await;
    let answer = exchange(
        server.addr,
        b"GET /peer HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("127.0.0.1"), "{answer}");
}

#[tokio::test]
async fn oversized_request_headers_get_431_and_are_counted() {
    let server = start().await;
    let header = |bytes: usize| format!("GET /peer HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n", "a".repeat(bytes));
    // just within the limit: served
    let answer = exchange(server.addr, header(MAX_HEADER_BYTES - 100).as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // just over it, and far over what the read buffer holds: refused
    for (n, bytes) in [(1, MAX_HEADER_BYTES + 10), (2, 10 * MAX_HEADER_BYTES)] {
        let answer = exchange(server.addr, header(bytes).as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 431"), "{bytes} bytes: {answer}");
        assert_eq!(refused(&server.registry, "header_too_large"), n);
    }
    // too many header lines are refused the same way
    let many: String = (0..200).map(|i| format!("x-h{i}: v\r\n")).collect();
    let answer = exchange(
        server.addr,
        format!("GET /peer HTTP/1.1\r\nhost: x\r\n{many}\r\n").as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert_eq!(refused(&server.registry, "header_too_large"), 3);
}

#[tokio::test]
async fn a_client_that_sends_its_headers_too_slowly_is_disconnected_and_counted() {
    let server = start().await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    s.write_all(b"GET /peer HTTP/1.1\r\n").await.unwrap();
    // a header line every second, never the blank line that ends them (slowloris)
    let mut closed = false;
    for i in 0..30 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if s.write_all(format!("x-slow-{i}: v\r\n").as_bytes()).await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 64];
        if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(Duration::from_millis(10), s.read(&mut buf)).await {
            closed = true;
            break;
        }
    }
    let took = started.elapsed();
    assert!(closed, "the server kept a slowloris connection open for {took:?}");
    assert!(
        took >= HEADER_READ_TIMEOUT && took < HEADER_READ_TIMEOUT + Duration::from_secs(5),
        "closed after {took:?}"
    );
    assert_eq!(refused(&server.registry, "header_timeout"), 1);
}
