//! The original Java system's endpoints: `POST /api/metrics` and `GET /api/inventory/list`.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{assert_error, TestApp};

fn java_record() -> serde_json::Value {
    json!({
        "type": "host", "hostId": "java-host", "name": "legacy-box", "timeStamp": "2026-03-01T10:00:00.250",
        "cpuUsagePercent": 33.5, "memoryUsedBytes": 4_294_967_296_u64,
        "diskReadBytesDelta": 1024, "diskWriteBytesDelta": 2048,
        "networkDelta": {"eth0": {"rxBytesDelta": 300, "txBytesDelta": 400}},
        "temperatures": {"cpu": 51.5},
        "containers": {"abcdef123456": {"name": "/redis", "cpuUsagePercent": 2.5, "memoryUsedBytes": 1_048_576,
                                        "diskReadBytesDelta": 0, "diskWriteBytesDelta": 512,
                                        "networkDelta": {"eth0": {"rxBytesDelta": 10, "txBytesDelta": 20}}}}
    })
}

#[tokio::test]
async fn a_java_record_is_stored_once_and_listed_in_the_inventory() {
    let t = TestApp::start().await;
    let first = t.post("/api/metrics", &java_record()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.json["message"], "ok");
    assert_eq!(first.json["duplicate"], false);
    let retry = t.post("/api/metrics", &java_record()).await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.text);
    assert_eq!(retry.json["duplicate"], true, "a retried post is a duplicate");
    assert_eq!(retry.json["record_id"], first.json["record_id"]);
    assert_eq!(t.stored().await.0, 1);

    let inventory = t.get("/api/inventory/list").await;
    assert_eq!(inventory.status, StatusCode::OK, "{}", inventory.text);
    assert_eq!(
        inventory.json,
        json!({"host": [{"id": "java-host", "name": "legacy-box"}],
               "container": [{"host": "legacy-box", "id": "abcdef123456", "name": "/redis"}]})
    );

    let host = t
        .get("/api/v1/machines/java-host/samples?from=2026-03-01&to=2026-03-01")
        .await;
    let s = &host.json["samples"][0];
    assert_eq!(s["sampled_at"], "2026-03-01T10:00:00.250Z");
    assert_eq!(s["cpu_percent"], 33.5);
    assert_eq!(s["mem_used_bytes"], 4_294_967_296_u64);
    assert_eq!(s["disk_write_bytes_per_sec"], 2048.0);
    assert_eq!(s["net_rx_bytes_per_sec"], 300.0);
    assert_eq!(s["temperatures_c"], json!({"cpu": 51.5}));
    let c = t
        .get("/api/v1/machines/redis/samples?from=2026-03-01&to=2026-03-01")
        .await;
    assert_eq!(c.json["samples"][0]["blk_write_bytes_per_sec"], 512.0, "{}", c.text);
    assert_eq!(c.json["samples"][0]["net_tx_bytes_per_sec"], 20.0);
}

#[tokio::test]
async fn bad_java_records_are_400_json_errors() {
    let t = TestApp::start().await;
    let mut no_time = java_record();
    no_time.as_object_mut().unwrap().remove("timeStamp");
    let mut bad_time = java_record();
    bad_time["timeStamp"] = json!("last tuesday");
    let mut hot = java_record();
    hot["cpuUsagePercent"] = json!(400.0);
    for body in [no_time, bad_time, hot, json!([1, 2]), json!({"timeStamp": 1})] {
        assert_error(
            &t.post("/api/metrics", &body).await,
            StatusCode::BAD_REQUEST,
            "invalid_body",
        );
    }
    assert_error(
        &t.post_raw("/api/metrics", "{").await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
    );
    assert_eq!(t.stored().await.0, 0);
}

#[tokio::test]
async fn a_counter_reset_is_stored_absent_and_a_local_time_is_read_in_the_servers_zone() {
    let t = TestApp::start().await;
    let mut r = java_record();
    r["diskWriteBytesDelta"] = json!(-2048);
    r["networkDelta"]["eth0"]["rxBytesDelta"] = json!(-300);
    r["containers"]["abcdef123456"]["diskWriteBytesDelta"] = json!(-512);
    let reply = t.post("/api/metrics", &r).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "one reset does not refuse the record: {}",
        reply.text
    );
    // this process's zone (TZ) is the server's: the stored instant is that local time's
    let local = chrono::NaiveDateTime::parse_from_str("2026-03-01T10:00:00.250", "%Y-%m-%dT%H:%M:%S%.3f").unwrap();
    let instant = local
        .and_local_timezone(chrono::Local)
        .earliest()
        .unwrap()
        .with_timezone(&chrono::Utc);
    let host = t
        .get("/api/v1/machines/java-host/samples?from=2026-02-28&to=2026-03-02")
        .await;
    let s = &host.json["samples"][0];
    assert_eq!(s["sampled_at"], common::timefmt::format(&instant), "{}", host.text);
    assert!(s.get("disk_write_bytes_per_sec").is_none_or(|v| v.is_null()), "{s}");
    assert_eq!(s["disk_read_bytes_per_sec"], 1024.0, "the rest of the record is stored");
    assert!(s.get("net_rx_bytes_per_sec").is_none_or(|v| v.is_null()), "{s}");
    assert_eq!(s["net_tx_bytes_per_sec"], 400.0);
    let c = t
        .get("/api/v1/machines/abcdef123456/samples?from=2026-02-28&to=2026-03-02")
        .await;
    let cs = &c.json["samples"][0];
    assert!(cs.get("blk_write_bytes_per_sec").is_none_or(|v| v.is_null()), "{cs}");
    assert_eq!(cs["cpu_percent"], 2.5);
}

#[tokio::test]
async fn a_container_posted_without_measurements_is_stored_as_not_running_keeping_its_name() {
    let t = TestApp::start().await;
    assert_eq!(t.post("/api/metrics", &java_record()).await.status, StatusCode::OK);
    let mut later = java_record();
    later["timeStamp"] = json!("2026-03-01T10:00:01.250");
    later["containers"]["abcdef123456"] = json!({});
    assert_eq!(t.post("/api/metrics", &later).await.status, StatusCode::OK);
    let c = t.machine("abcdef123456").await;
    assert_eq!(c["state"], "exited", "{c}");
    assert_eq!(c["name"], "redis", "the name it had is kept: {c}");
}
