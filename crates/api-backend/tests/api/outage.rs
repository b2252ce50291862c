//! MySQL going away while the backend runs: ingest answers 503 and stores nothing, readiness
//! turns 503, and both recover by themselves once MySQL is reachable again.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{assert_error, host_record, server_addr, test_config, via, Proxy, TestApp, TestDb};

#[tokio::test]
async fn storage_outage_answers_503_and_recovers() {
    let db = TestDb::create().await;
    let proxy = Proxy::start(server_addr().await).await;
    let config = test_config(via(&db.url(), proxy.addr), |c| {
        c.acquire_timeout = Duration::from_secs(1)
    });
    let t = TestApp::on(db, &config).await;
    let first = json!([host_record("r1", "h", "2026-03-01T10:00:00Z")]);
    assert_eq!(t.post("/api/v1/ingest", &first).await.json["accepted"], 1);

    proxy.down();
    let batch = json!([host_record("r2", "h", "2026-03-01T10:00:01Z")]);
    let reply = t.post("/api/v1/ingest", &batch).await;
    assert_error(&reply, StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable");
    let not_ready = crate::support::eventually(Duration::from_secs(15), || async {
        t.get("/health/ready").await.status == StatusCode::SERVICE_UNAVAILABLE
    })
    .await;
    assert!(not_ready, "readiness must turn 503 while MySQL is unreachable");
    // the original's health URL says the same, in its shape, with the reason
    let actuator = t.get("/actuator/health").await;
    assert_eq!(actuator.status, StatusCode::SERVICE_UNAVAILABLE, "{}", actuator.text);
    assert_eq!(actuator.json["status"], "DOWN");
    assert_eq!(actuator.json["components"]["db"]["status"], "DOWN");
    assert!(
        actuator.json["components"]["db"]["details"]["error"].is_string(),
        "{}",
        actuator.text
    );
    let detailed = t.get("/health/detailed").await;
    assert_eq!(detailed.status, StatusCode::SERVICE_UNAVAILABLE, "{}", detailed.text);
    assert_eq!(detailed.json["status"], "unhealthy");
    let db = &detailed.json["checks"]["database"];
    assert_eq!(db["status"], "down", "{}", detailed.text);
    assert!(db["error"].as_str().is_some_and(|e| !e.is_empty()), "{}", detailed.text);
    assert_error(
        &t.get("/api/v1/machines").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_unavailable",
    );

    proxy.up();
    let ready = crate::support::eventually(Duration::from_secs(20), || async {
        t.get("/health/ready").await.status == StatusCode::OK
    })
    .await;
    assert!(ready, "readiness must recover once MySQL is back");
    let actuator = t.get("/actuator/health").await;
    assert_eq!(actuator.status, StatusCode::OK, "{}", actuator.text);
    assert_eq!(actuator.json["status"], "UP");
    assert_eq!(actuator.json["components"]["db"]["status"], "UP");
    // healthy again, with the ping's time, and the outage's error kept as the last one
    let detailed = t.get("/health/detailed").await;
    assert_eq!(detailed.status, StatusCode::OK, "{}", detailed.text);
    assert_eq!(detailed.json["status"], "healthy", "{}", detailed.text);
    let db = &detailed.json["checks"]["database"];
    assert_eq!(db["status"], "up");
    assert!(db["error"].is_null(), "{}", detailed.text);
    assert!(
        db["response_time_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{}",
        detailed.text
    );
    assert!(
        db["last_error"].is_string() && db["last_error_at"].is_string(),
        "{}",
        detailed.text
    );
    assert!(detailed.json["uptime_secs"].is_u64() && detailed.json["version"].is_string());
    assert!(detailed.json["disks"][0]["free_bytes"].is_u64(), "{}", detailed.text);
    let retried = t.post("/api/v1/ingest", &batch).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text);
    assert_eq!(
        retried.json["accepted"], 1,
        "the failed batch stored nothing, so its retry is new"
    );
    assert_eq!(t.stored().await.0, 2);
}
