//! `POST /api/v1/ingest`: storage, idempotency, per-record rejection, body errors.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::support::{assert_error, container, host_record, TestApp};

fn batch() -> Value {
    let mut a1 = host_record("rec-a1", "host-a", "2026-03-01T10:00:00.000Z");
    a1["containers"] = json!([container("c-web", "web", "running"), container("c-db", "db", "running")]);
    a1["events"] = json!([{"kind": "container_started", "container_id": "c-web", "name": "web",
                           "at": "2026-03-01T09:59:59.500Z"}]);
    let mut a2 = host_record("rec-a2", "host-a", "2026-03-01T10:00:01.000Z");
    a2["containers"] = json!([container("c-web", "web", "running"), container("c-db", "db", "running")]);
    let b1 = host_record("rec-b1", "host-b", "2026-03-01T10:00:00.500Z");
    json!([a1, a2, b1])
}

#[tokio::test]
async fn stores_a_batch_once_and_counts_repeats_as_duplicates() {
    let t = TestApp::start().await;
    let first = t.post("/api/v1/ingest", &batch()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.json, json!({"accepted": 3, "duplicates": 0, "rejected": []}));
    let stored = t.counts().await;
    let expect: Vec<(String, i64)> = [
        ("machines", 4),
        ("container_events", 1),
        ("records", 3),
        ("container samples", 4),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), *v))
    .collect();
    assert_eq!(stored, expect);

    let again = t.post("/api/v1/ingest", &batch()).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.json, json!({"accepted": 0, "duplicates": 3, "rejected": []}));
    assert_eq!(t.counts().await, stored, "a repeated batch changes nothing");

    // a new record next to an old one, and one record twice in the same batch
    let new = host_record("rec-a3", "host-a", "2026-03-01T10:00:02.000Z");
    let mixed = json!([batch()[0].clone(), new.clone(), new]);
    let reply = t.post("/api/v1/ingest", &mixed).await;
    assert_eq!(
        reply.json,
        json!({"accepted": 1, "duplicates": 2, "rejected": []}),
        "{}",
        reply.text
    );
    assert_eq!(t.stored().await.0, 4);
}

#[tokio::test]
async fn rejects_invalid_records_by_index_and_stores_the_rest() {
    let t = TestApp::start().await;
    let mut too_hot = host_record("rec-2", "h", "2026-03-01T10:00:01Z");
    too_hot["host"]["cpu_percent"] = json!(250.0);
    let body = json!([
        host_record("rec-1", "h", "2026-03-01T10:00:00Z"),
        too_hot,
        "not a record",
        {"schema": 2, "record_id": "x"},
        host_record("rec-5", "h", "2026-03-01T10:00:04Z"),
    ]);
    let reply = t.post("/api/v1/ingest", &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["accepted"], 2);
    assert_eq!(reply.json["duplicates"], 0);
    let rejected = reply.json["rejected"].as_array().unwrap();
    let indexes: Vec<u64> = rejected.iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes, [1, 2, 3]);
    assert!(
        rejected[0]["error"].as_str().unwrap().starts_with("host.cpu_percent"),
        "{}",
        reply.text
    );
    assert_eq!(t.stored().await.0, 2, "rejected records are not stored");
}

#[tokio::test]
async fn a_body_that_is_not_a_json_array_is_a_400_json_error() {
    let t = TestApp::start().await;
    for body in [r#"{"schema": 1}"#, "not json", "", "42"] {
        let reply = t.post_raw("/api/v1/ingest", body.to_owned()).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_body");
    }
    let empty = t.post("/api/v1/ingest", &json!([])).await;
    assert_eq!(empty.json, json!({"accepted": 0, "duplicates": 0, "rejected": []}));
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_json_error_and_stores_nothing() {
    let t = TestApp::start_with(|c| c.ingest_max_body_bytes = 2048).await;
    let big: Vec<Value> = (0..10)
        .map(|i| host_record(&format!("r{i}"), "h", &format!("2026-03-01T10:00:0{i}Z")))
        .collect();
    let body = serde_json::to_vec(&big).unwrap();
    assert!(body.len() > 2048);
    let reply = t.post_raw("/api/v1/ingest", body).await;
    assert_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    assert_eq!(t.stored().await.0, 0);
    let small = t
        .post(
            "/api/v1/ingest",
            &json!([host_record("r1", "h", "2026-03-01T10:00:00Z")]),
        )
        .await;
    assert_eq!(small.json["accepted"], 1, "{}", small.text);
}

#[tokio::test]
async fn concurrent_identical_batches_store_every_record_once() {
    let t = TestApp::start().await;
    let records: Vec<Value> = (0..60)
        .map(|i| {
            let mut r = host_record(
                &format!("rec-{i}"),
                &format!("host-{}", i % 3),
                &format!("2026-03-01T10:{:02}:00Z", i),
            );
            r["containers"] = json!([container(&format!("c-{}", i % 3), "app", "running")]);
            r
        })
        .collect();
    let body = Value::Array(records);
    let replies = futures_util::future::join_all((0..4).map(|_| t.post("/api/v1/ingest", &body))).await;
    let (mut accepted, mut duplicates) = (0, 0);
    for r in &replies {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        accepted += r.json["accepted"].as_u64().unwrap();
        duplicates += r.json["duplicates"].as_u64().unwrap();
    }
    assert_eq!((accepted, duplicates), (60, 180));
    assert_eq!(t.stored().await, (60, 60));
    assert_eq!(
        t.count("machines").await,
        6,
        "3 hosts and 3 containers, each created once"
    );
}

#[tokio::test]
async fn an_older_record_does_not_move_a_machine_back() {
    let t = TestApp::start().await;
    let mut newer = host_record("new", "h", "2026-03-01T10:00:10Z");
    newer["host_name"] = json!("renamed");
    newer["containers"] = json!([container("c1", "web", "exited")]);
    let mut older = host_record("old", "h", "2026-03-01T10:00:00Z");
    older["host_name"] = json!("original");
    older["containers"] = json!([container("c1", "web", "running")]);
    assert_eq!(t.post("/api/v1/ingest", &json!([newer])).await.json["accepted"], 1);
    assert_eq!(t.post("/api/v1/ingest", &json!([older])).await.json["accepted"], 1);
    let host = t.machine("h").await;
    assert_eq!(host["name"], "renamed");
    assert_eq!(host["first_seen"], "2026-03-01T10:00:00.000Z");
    assert_eq!(host["last_seen"], "2026-03-01T10:00:10.000Z");
    let c = t.machine("c1").await;
    assert_eq!(c["state"], "exited");
    assert_eq!(c["status"], "stopped");
    assert_eq!(c["first_seen"], "2026-03-01T10:00:00.000Z");
}
