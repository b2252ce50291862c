//! Health, metrics, the OpenAPI description, JSON errors for unknown routes, restarts, the
//! dashboard's assets.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{assert_error, host_record, post_request, send_to, test_config, TestApp};

#[tokio::test]
async fn health_metrics_and_openapi() {
    let t = TestApp::start().await;
    assert_eq!(t.get("/health/live").await.status, StatusCode::OK);
    let ready = t.get("/health/ready").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text);
    assert_eq!(ready.json["checks"]["database"]["ok"], true);

    let batch = json!([
        host_record("r1", "h", "2026-03-01T10:00:00Z"),
        host_record("r1", "h", "2026-03-01T10:00:00Z"),
        {}
    ]);
    assert_eq!(t.post("/api/v1/ingest", &batch).await.status, StatusCode::OK);
    let metrics = t.get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    for line in [
        r#"api_ingest_records_total{result="accepted"} 1"#,
        r#"api_ingest_records_total{result="duplicate"} 1"#,
        r#"api_ingest_records_total{result="rejected"} 1"#,
        "api_ingest_batches_total 1",
        "api_ingest_batch_seconds_count 1",
        r#"api_http_requests_total{route="/api/v1/ingest",status="200"} 1"#,
        "api_database_up 1",
    ] {
        assert!(
            metrics.text.lines().any(|l| l == line),
            "missing {line:?} in\n{}",
            metrics.text
        );
    }

    let spec = t.get("/api/v1/openapi.json").await;
    assert_eq!(spec.status, StatusCode::OK);
    assert!(
        spec.json["paths"]["/api/v1/ingest"]["post"].is_object(),
        "{}",
        spec.text
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let t = TestApp::start().await;
    assert_error(&t.get("/api/v1/nothing-here").await, StatusCode::NOT_FOUND, "not_found");
    assert_error(
        &t.get("/api/v1/ingest").await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
}

#[tokio::test]
async fn a_restart_on_the_same_database_keeps_the_data() {
    let t = TestApp::start().await;
    assert_eq!(
        t.post(
            "/api/v1/ingest",
            &json!([host_record("r1", "h", "2026-03-01T10:00:00Z")])
        )
        .await
        .json["accepted"],
        1
    );
    let config = test_config(t.db.url(), |_| {});
    let (_trigger, shutdown) = common::shutdown::channel();
    let again = api_backend::build(&config, &shutdown)
        .await
        .expect("migrations run again without harm");
    let batch = json!([host_record("r1", "h", "2026-03-01T10:00:00Z")]);
    let reply = send_to(&again.router, post_request("/api/v1/ingest", &batch)).await;
    assert_eq!(
        reply.json["duplicates"], 1,
        "the idempotency set survives a restart: {}",
        reply.text
    );
}

#[tokio::test]
async fn the_dashboard_is_served_from_the_binary() {
    // scripts/test.sh builds web/dist (scripts/build-web.sh) before the binaries
    let t = TestApp::start().await;
    let page = t.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains(r#"<div id="app">"#),
        "not the built dashboard: {}",
        page.text
    );
    assert!(page.text.contains(r#"src="/app.js""#), "{}", page.text);
    for (asset, kind) in [("/app.js", "text/javascript"), ("/app.css", "text/css")] {
        let reply = t.get(asset).await;
        assert_eq!(reply.status, StatusCode::OK, "{asset}");
        assert!(reply.text.len() > 100, "{asset}: {}", reply.text);
        let content_type = reply.headers[axum::http::header::CONTENT_TYPE].to_str().unwrap();
        assert!(content_type.starts_with(kind), "{asset}: {content_type}");
    }
    // other top-level paths are the API's JSON 404
    assert_error(&t.get("/nothing.js").await, StatusCode::NOT_FOUND, "not_found");
    assert_error(&t.get("/index.html").await, StatusCode::NOT_FOUND, "not_found");
}
