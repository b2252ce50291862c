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
    let retried = t.post("/api/v1/ingest", &batch).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text);
    assert_eq!(
        retried.json["accepted"], 1,
        "the failed batch stored nothing, so its retry is new"
    );
    assert_eq!(t.stored().await.0, 2);
}
