//! `GET /metrics/machines`: the newest value of every host and container metric in Prometheus
//! text format, with unit-suffixed names and the `host`, `host_id`, `container`, `image` labels;
//! unmeasured values left out, stale hosts reduced to `srmon_host_up 0`.

use chrono::{TimeDelta, Utc};
use serde_json::{json, Value};

use crate::support::{container, host_record, ts, TestApp};

/// The sample lines of an exposition (no comments).
fn samples(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect()
}

#[tokio::test]
async fn the_newest_values_of_fresh_hosts_and_their_containers() {
    let t = TestApp::start().await;
    let now = Utc::now();
    let mut older = host_record("r0", "h", &ts(now - TimeDelta::milliseconds(1500)));
    older["host"]["cpu_percent"] = json!(77.7);
    let mut newest = host_record("r1", "h", &ts(now - TimeDelta::milliseconds(500)));
    newest["containers"] = json!([container("c1", "/web", "running")]);
    // a host that measures no CPU, and one that went silent a minute ago
    let mut quiet = host_record("r2", "q", &ts(now - TimeDelta::milliseconds(500)));
    quiet["host"]["cpu_percent"] = Value::Null;
    let stale = host_record("r3", "s", &ts(now - TimeDelta::minutes(1)));
    let reply = t.post("/api/v1/ingest", &json!([newest, older, quiet, stale])).await;
    assert_eq!(reply.json["accepted"], 4, "{}", reply.text);

    let reply = t.get("/metrics/machines").await;
    assert_eq!(reply.status, 200);
    let lines = samples(&reply.text);
    let has = |line: &str| lines.contains(&line);
    for line in [
        r#"srmon_host_up{host="h-name",host_id="h"} 1.0"#,
        r#"srmon_host_up{host="q-name",host_id="q"} 1.0"#,
        r#"srmon_host_up{host="s-name",host_id="s"} 0.0"#,
        // the newest record's value, not the one that arrived after it
        r#"srmon_host_cpu_percent{host="h-name",host_id="h"} 12.4"#,
        r#"srmon_host_memory_used_bytes{host="h-name",host_id="h"} 8123456789.0"#,
        r#"srmon_host_cpu_core_percent{host="h-name",host_id="h",cpu="1"} 20.25"#,
        r#"srmon_host_interface_transmit_errors_total{host="h-name",host_id="h",interface="eth0"} 2.0"#,
        r#"srmon_host_filesystem_used_percent{host="h-name",host_id="h",mount="/",device="/dev/sda1",fstype="ext4"} 40.0"#,
        r#"srmon_host_temperature_celsius{host="h-name",host_id="h",sensor="cpu"} 47.5"#,
        r#"srmon_container_cpu_percent{host="h-name",host_id="h",container="web",image="nginx:1.27"} 150.5"#,
        r#"srmon_container_running{host="h-name",host_id="h",container="web",image="nginx:1.27"} 1.0"#,
        r#"srmon_container_restarts_total{host="h-name",host_id="h",container="web",image="nginx:1.27"} 1.0"#,
    ] {
        assert!(has(line), "missing {line} in:\n{}", reply.text);
    }
    assert!(!reply.text.contains("77.7"), "an older record's value: {}", reply.text);
    // not measured: absent, never 0; stale: only its up line
    assert!(!lines
        .iter()
        .any(|l| l.starts_with("srmon_host_cpu_percent{host=\"q-name\"")));
    let of_stale: Vec<&&str> = lines.iter().filter(|l| l.contains("host_id=\"s\"")).collect();
    assert_eq!(of_stale.len(), 1, "{of_stale:?}");
    // every family typed, every name with its unit
    assert!(reply.text.contains("# TYPE srmon_host_cpu_percent gauge"));
    assert!(reply.text.contains("# TYPE srmon_container_restarts_total counter"));
    assert!(!reply.text.contains("# EOF"));
}

#[tokio::test]
async fn with_no_host_there_are_no_samples_but_every_family_is_described() {
    let t = TestApp::start().await;
    let reply = t.get("/metrics/machines").await;
    assert_eq!(reply.status, 200);
    assert!(samples(&reply.text).is_empty(), "{}", reply.text);
    for family in [
        "# TYPE srmon_host_up gauge",
        "# TYPE srmon_host_temperature_celsius gauge",
        "# TYPE srmon_container_cpu_percent gauge",
        "# TYPE srmon_container_restarts_total counter",
    ] {
        assert!(reply.text.contains(family), "{family} in {}", reply.text);
    }
}

#[tokio::test]
async fn the_fleet_lists_each_host_with_its_containers_values_and_alerts() {
    let t = TestApp::start().await;
    let now = Utc::now();
    let mut r = host_record("r1", "h", &ts(now - TimeDelta::milliseconds(300)));
    r["host"]["cpu_percent"] = json!(99.5); // over the default 85: an alert opens
    r["host"]["mem_percent"] = json!(41.2371); // given at the stored precision: 41.24
    r["containers"] = json!([container("c1", "/web", "running"), container("c2", "/db", "exited")]);
    let reply = t.post("/api/v1/ingest", &json!([r])).await;
    assert_eq!(reply.json["accepted"], 1, "{}", reply.text);
    let fleet = t.get("/api/v1/fleet").await;
    assert_eq!(fleet.status, 200, "{}", fleet.text);
    let hosts = fleet.json["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 1, "{}", fleet.text);
    let h = &hosts[0];
    assert_eq!(h["id"], "h");
    assert_eq!(h["name"], "h-name");
    assert_eq!(h["status"], "up");
    assert_eq!(h["values"]["cpu_percent"], 99.5);
    assert_eq!(h["values"]["disk_used_percent"], 40.0);
    assert_eq!(h["values"]["mem_percent"], 41.24);
    assert_eq!(h["alerts"]["firing"], 1, "{}", fleet.text);
    let names: Vec<(&str, &str)> = h["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("/db", "stopped"), ("/web", "up")], "{}", fleet.text);
    let web = &h["containers"][1];
    assert_eq!(web["values"]["cpu_percent"], 150.5);
    assert_eq!(web["image"], "nginx:1.27");
    // byte rates exact to the byte, as stored (200.25 B/s)
    assert_eq!(web["values"]["net_tx_bytes_per_sec"], 200.0);
    // over the default 85 too
    assert_eq!(web["alerts"]["firing"], 1, "{}", fleet.text);
    // a machine without open alerts has no `alerts` (the answer is megabytes at 22,000 machines)
    assert!(h["containers"][0].get("alerts").is_none(), "{}", fleet.text);
}

/// A GET asking for `encoding`, straight through the router (a compressed body is not the JSON
/// the described-answer check reads).
async fn asking(t: &TestApp, path: &str, encoding: &str) -> axum::response::Response {
    use tower::ServiceExt;
    let req = axum::http::Request::get(path)
        .header("accept-encoding", encoding)
        .body(axum::body::Body::empty())
        .unwrap();
    let response = t.app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response
}

/// The body and `content-encoding` of a GET asking for `encoding`.
async fn encoded(t: &TestApp, path: &str, encoding: &str) -> (Option<String>, Vec<u8>) {
    use http_body_util::BodyExt;
    let response = asking(t, path, encoding).await;
    let used = response
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_owned());
    (used, response.into_body().collect().await.unwrap().to_bytes().to_vec())
}

#[tokio::test]
async fn answers_are_compressed_for_clients_that_ask_and_the_live_streams_are_not() {
    let t = TestApp::start().await;
    let mut r = host_record("r1", "h", &ts(Utc::now() - TimeDelta::milliseconds(300)));
    r["containers"] = json!([container("c1", "/web", "running")]);
    assert_eq!(t.post("/api/v1/ingest", &json!([r])).await.json["accepted"], 1);

    // the dashboard's browsers ask for zstd: the fleet answer decodes to the same JSON
    let (used, body) = encoded(&t, "/api/v1/fleet", "zstd, gzip").await;
    assert_eq!(used.as_deref(), Some("zstd"));
    let fleet: Value = serde_json::from_slice(&zstd::decode_all(&body[..]).unwrap()).unwrap();
    assert_eq!(fleet["hosts"][0]["containers"][0]["name"], "/web");
    assert_eq!(fleet, t.get("/api/v1/fleet").await.json);
    // Prometheus asks for gzip
    let (used, body) = encoded(&t, "/metrics/machines", "gzip").await;
    assert_eq!(used.as_deref(), Some("gzip"));
    assert_eq!(body[..2], [0x1f, 0x8b], "a gzip member");
    // a client that does not ask gets plain JSON
    let (used, body) = encoded(&t, "/api/v1/fleet", "identity").await;
    assert_eq!(used, None);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), fleet);

    // an event stream is never compressed (a compressor would hold its events back); its
    // headers come at once, the body never ends
    let response = asking(&t, "/api/v1/alerts/stream", "gzip").await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert!(response.headers().get("content-encoding").is_none());
}
