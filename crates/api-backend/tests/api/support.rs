//! Test support: a fresh database per test, the app built on it, requests through the router,
//! sample records, and a TCP proxy that can cut the app off from MySQL.

use std::net::SocketAddr;
use std::time::Duration;

use api_backend::{App, Config};
use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sqlx::{Connection, Executor, MySqlConnection};
use tower::ServiceExt;

/// The MySQL server the tests create their databases on.
pub fn server_url() -> String {
    match std::env::var("SRMON_TEST_MYSQL_URL") {
        Ok(url) if !url.trim().is_empty() => url.trim().trim_end_matches('/').to_owned(),
        _ => panic!(
            "SRMON_TEST_MYSQL_URL is not set: run scripts/test.sh (or source ~/.cache/srmon/services/env) \
             so the tests can reach MariaDB"
        ),
    }
}

/// A database created for one test and dropped when the test ends (also when it fails).
pub struct TestDb {
    server: String,
    pub name: String,
}

impl TestDb {
    pub async fn create() -> Self {
        let server = server_url();
        let name = format!("apitest_{}", uuid::Uuid::new_v4().simple());
        let mut conn = MySqlConnection::connect(&server)
            .await
            .unwrap_or_else(|e| panic!("cannot reach MySQL at SRMON_TEST_MYSQL_URL: {e}"));
        conn.execute(format!("CREATE DATABASE `{name}`").as_str())
            .await
            .expect("create test database");
        let _ = conn.close().await;
        TestDb { server, name }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // a runtime of its own: this may run while the test's runtime is shutting down
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = MySqlConnection::connect(&server).await {
                    // connections of the test's pool may still hold locks: end them first
                    let ids: Vec<u64> = sqlx::query_scalar(
                        "SELECT CAST(id AS UNSIGNED) FROM information_schema.processlist WHERE db = ?",
                    )
                    .bind(&name)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap_or_default();
                    for id in ids {
                        let _ = conn.execute(format!("KILL {id}").as_str()).await;
                    }
                    let _ = conn.execute(format!("DROP DATABASE IF EXISTS `{name}`").as_str()).await;
                }
            });
        })
        .join();
    }
}

/// The app on a fresh database.
pub struct TestApp {
    pub app: App,
    _trigger: common::shutdown::Trigger,
    pub db: TestDb,
}

/// A response: status, headers, body as JSON (`Value::Null` when empty or not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
}

impl TestApp {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts with settings changed by `adjust`.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let db = TestDb::create().await;
        let config = test_config(db.url(), adjust);
        Self::on(db, &config).await
    }

    /// Starts on an existing database with the given settings.
    pub async fn on(db: TestDb, config: &Config) -> Self {
        let (trigger, shutdown) = common::shutdown::channel();
        let app = api_backend::build(config, &shutdown).await.expect("the app starts");
        TestApp {
            app,
            _trigger: trigger,
            db,
        }
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        send_to(&self.app.router, req).await
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    pub async fn post(&self, uri: &str, body: &Value) -> Reply {
        self.post_raw(uri, serde_json::to_vec(body).unwrap()).await
    }

    pub async fn post_raw(&self, uri: &str, body: impl Into<Body>) -> Reply {
        let req = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.into())
            .unwrap();
        self.send(req).await
    }

    /// Rows in a table.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(self.app.store.pool())
            .await
            .expect("count rows")
    }

    /// Stored records (compacted or not) and the container samples among them.
    pub async fn stored(&self) -> (u64, u64) {
        self.app.store.stored_counts().await.expect("stored counts")
    }

    /// Row counts of the inventory and events and the stored sample counts, to compare before
    /// and after.
    pub async fn counts(&self) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        for t in ["machines", "container_events"] {
            out.push((t.to_owned(), self.count(t).await));
        }
        let (records, containers) = self.stored().await;
        out.push(("records".to_owned(), records as i64));
        out.push(("container samples".to_owned(), containers as i64));
        out
    }

    /// The `/api/v1/machines` entry with this id.
    pub async fn machine(&self, id: &str) -> Value {
        let reply = self.get("/api/v1/machines").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json["machines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("machine {id} not listed: {}", reply.text))
    }
}

/// Sends a request through a router. Every answer is checked against the OpenAPI description
/// (`crate::described`): a JSON body that does not match its schema fails the test.
pub async fn send_to(router: &axum::Router, req: Request<Body>) -> Reply {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let response = router.clone().oneshot(req).await.expect("the router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    crate::described::check(&method, &path, status, is_json.then_some(&json));
    Reply {
        status,
        headers,
        json,
        text,
    }
}

/// A JSON POST request.
pub fn post_request(uri: &str, body: &Value) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap()
}

/// Test settings: short timeouts, everything else default.
pub fn test_config(url: String, adjust: impl FnOnce(&mut Config)) -> Config {
    let mut config = Config::new(url);
    config.connect_timeout = Duration::from_secs(10);
    config.acquire_timeout = Duration::from_secs(2);
    config.pool_size = 4;
    // the tests' records carry fixed dates, some months old: keep them
    config.storage.retention.raw = Duration::from_secs(3650 * 86_400);
    config.storage.retention.minute = Duration::from_secs(3650 * 86_400);
    config.storage.retention.hour = Duration::from_secs(3650 * 86_400);
    adjust(&mut config);
    config
}

/// An error body has exactly the documented shape and this code.
pub fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.json["error"], code, "{}", reply.text);
    assert!(
        reply.json["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{}",
        reply.text
    );
    assert_eq!(
        reply.json.as_object().map(|o| o.len()),
        Some(2),
        "only error and detail: {}",
        reply.text
    );
}

pub fn ts(t: DateTime<Utc>) -> String {
    common::timefmt::format(&t)
}

/// A v1 record with most host fields set (floats chosen to survive FLOAT storage exactly).
pub fn host_record(record_id: &str, host_id: &str, at: &str) -> Value {
    json!({
        "schema": 1, "record_id": record_id, "host_id": host_id, "host_name": format!("{host_id}-name"),
        "sampled_at": at, "interval_ms": 1000,
        "host": {
            "cpu_percent": 12.4, "cpu_cores": 4, "per_core_percent": [10.5, 20.25, 5.5, 13.5],
            "load1": 0.52, "load5": 0.61, "load15": 0.7,
            "mem_total_bytes": 16_000_000_000_u64, "mem_used_bytes": 8_123_456_789_u64,
            "mem_available_bytes": 7_876_543_211_u64, "mem_percent": 50.77,
            "swap_total_bytes": 2_000_000_000_u64, "swap_used_bytes": 0,
            "disk_read_bytes_per_sec": 4096.5, "disk_write_bytes_per_sec": 123456.7,
            "net_rx_bytes_per_sec": 1500.25, "net_tx_bytes_per_sec": 900.5,
            "interfaces": [{"name": "eth0", "rx_bytes_per_sec": 1500.25, "tx_bytes_per_sec": 900.5,
                            "rx_errors": 0, "tx_errors": 2}],
            "filesystems": [{"mount": "/", "device": "/dev/sda1", "fs_type": "ext4", "total_bytes": 100_000_000_000_u64,
                             "used_bytes": 40_000_000_000_u64, "used_percent": 40.0, "inodes_used_percent": 3.5}],
            "temperatures_c": {"cpu": 47.5},
            "uptime_secs": 86_400
        },
        "containers": [],
        "events": []
    })
}

/// A container sample for [`host_record`]'s `containers`.
pub fn container(id: &str, name: &str, state: &str) -> Value {
    json!({
        "id": id, "name": name, "image": "nginx:1.27", "state": state, "health": "healthy", "restart_count": 1,
        "cpu_percent": 150.5, "mem_used_bytes": 52_428_800, "mem_limit_bytes": 1_073_741_824_u64, "mem_percent": 4.88,
        "net_rx_bytes_per_sec": 100.5, "net_tx_bytes_per_sec": 200.25,
        "blk_read_bytes_per_sec": 0.0, "blk_write_bytes_per_sec": 4096.0, "pids": 7
    })
}

pub use e2e::proxy::Proxy;

/// `url` with its host and port replaced by `addr`.
pub fn via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let start = rest.find('@').map_or(0, |at| at + 1);
    let end = rest[start..].find('/').map_or(rest.len(), |i| start + i);
    format!("{scheme}://{}{addr}{}", &rest[..start], &rest[end..])
}

/// Host and port of the MySQL server.
pub async fn server_addr() -> SocketAddr {
    use std::str::FromStr;
    let opts = sqlx::mysql::MySqlConnectOptions::from_str(&server_url()).expect("SRMON_TEST_MYSQL_URL parses");
    let mut addrs = tokio::net::lookup_host((opts.get_host(), opts.get_port()))
        .await
        .expect("resolve MySQL host");
    addrs.next().expect("an address")
}

/// Polls `check` until it holds or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
