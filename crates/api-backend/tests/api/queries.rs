//! Reads: the machine list with status, samples with the §2 fields, paging and parameters,
//! events, and predecessor linking of re-created containers.

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::support::{assert_error, container, host_record, ts, TestApp};

#[tokio::test]
async fn samples_come_back_with_the_fields_that_were_sent() {
    let t = TestApp::start().await;
    let mut r = host_record("r1", "h1", "2026-03-01T10:00:00.123Z");
    r["containers"] = json!([container("c1", "web", "running")]);
    assert_eq!(t.post("/api/v1/ingest", &json!([r.clone()])).await.json["accepted"], 1);

    let reply = t.get("/api/v1/machines/h1/samples?from=2026-03-01&to=2026-03-01").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["kind"], "host");
    assert_eq!(reply.json["name"], "h1-name");
    let samples = reply.json["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 1);
    let mut expect = r["host"].clone();
    expect["sampled_at"] = json!("2026-03-01T10:00:00.123Z");
    // byte rates are kept to the byte (percentages to 0.01, temperatures to 0.1)
    for (field, kept) in [
        ("disk_read_bytes_per_sec", 4097.0),
        ("disk_write_bytes_per_sec", 123457.0),
        ("net_rx_bytes_per_sec", 1500.0),
        ("net_tx_bytes_per_sec", 901.0),
    ] {
        expect[field] = json!(kept);
    }
    expect["interfaces"][0]["rx_bytes_per_sec"] = json!(1500.0);
    expect["interfaces"][0]["tx_bytes_per_sec"] = json!(901.0);
    assert_eq!(samples[0], expect);

    let reply = t
        .get("/api/v1/machines/c1/samples?from=2026-03-01T10:00:00Z&to=2026-03-01T10:00:00.123Z")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["kind"], "container");
    let mut expect = container("c1", "web", "running");
    let obj = expect.as_object_mut().unwrap();
    for gone in ["id", "name", "image"] {
        obj.remove(gone);
    }
    obj.insert("sampled_at".into(), json!("2026-03-01T10:00:00.123Z"));
    obj.insert("net_rx_bytes_per_sec".into(), json!(101.0));
    obj.insert("net_tx_bytes_per_sec".into(), json!(200.0));
    assert_eq!(reply.json["samples"], json!([expect]));
}

#[tokio::test]
async fn samples_are_oldest_first_paged_and_default_to_the_last_hour() {
    let t = TestApp::start().await;
    let now = Utc::now();
    let mut records: Vec<Value> = (1..=5)
        .map(|i| host_record(&format!("r{i}"), "h", &ts(now - Duration::minutes(10 - i))))
        .collect();
    records.push(host_record("old", "h", &ts(now - Duration::hours(2))));
    assert_eq!(
        t.post("/api/v1/ingest", &Value::Array(records)).await.json["accepted"],
        6
    );

    let all = t.get("/api/v1/machines/h/samples").await;
    let times: Vec<&str> = all.json["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sampled_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        times.len(),
        5,
        "the sample two hours old is outside the default range: {}",
        all.text
    );
    assert!(times.windows(2).all(|w| w[0] < w[1]), "oldest first: {times:?}");
    assert_eq!(all.json["next_from"], Value::Null);

    let page = t.get("/api/v1/machines/h/samples?limit=2").await;
    let got: Vec<&str> = page.json["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sampled_at"].as_str().unwrap())
        .collect();
    assert_eq!(got, times[..2]);
    let next = page.json["next_from"].as_str().expect("more pages").to_owned();
    let page2 = t
        .get(&format!(
            "/api/v1/machines/h/samples?limit=2&from={}",
            next.replace('+', "%2B")
        ))
        .await;
    let got: Vec<&str> = page2.json["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sampled_at"].as_str().unwrap())
        .collect();
    assert_eq!(got, times[2..4], "{}", page2.text);

    let two_hours = t
        .get(&format!(
            "/api/v1/machines/h/samples?from={}",
            ts(now - Duration::hours(3))
        ))
        .await;
    assert_eq!(two_hours.json["samples"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn bad_parameters_are_400_and_unknown_machines_404() {
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
    for query in [
        "limit=0",
        "limit=10001",
        "limit=many",
        "from=yesterday",
        "to=2026-02-30",
        "from=2026-03-02&to=2026-03-01",
    ] {
        let reply = t.get(&format!("/api/v1/machines/h/samples?{query}")).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_parameter");
    }
    assert_error(
        &t.get("/api/v1/machines/nope/samples").await,
        StatusCode::NOT_FOUND,
        "unknown_machine",
    );
    assert_error(
        &t.get("/api/v1/machines/nope/events").await,
        StatusCode::NOT_FOUND,
        "unknown_machine",
    );
}

#[tokio::test]
async fn machine_status_follows_time_state_and_removal() {
    let t = TestApp::start().await;
    let now = Utc::now();
    let mut fresh = host_record("r1", "live-host", &ts(now - Duration::seconds(1)));
    fresh["containers"] = json!([
        container("c-up", "api", "running"),
        container("c-exited", "job", "exited")
    ]);
    fresh["events"] = json!([{"kind": "container_removed", "container_id": "c-gone", "name": "tmp",
                              "at": ts(now - Duration::seconds(2))}]);
    let mut silent = host_record("r2", "silent-host", &ts(now - Duration::minutes(5)));
    silent["containers"] = json!([container("c-orphan", "api", "running")]);
    let reply = t.post("/api/v1/ingest", &json!([fresh, silent])).await;
    assert_eq!(reply.json["accepted"], 2, "{}", reply.text);

    let status = |m: &Value| m["status"].as_str().unwrap().to_owned();
    assert_eq!(status(&t.machine("live-host").await), "up");
    assert_eq!(status(&t.machine("silent-host").await), "stale");
    let up = t.machine("c-up").await;
    assert_eq!(
        (status(&up), up["host_id"].as_str(), up["kind"].as_str()),
        ("up".into(), Some("live-host"), Some("container"))
    );
    assert_eq!(up["image"], "nginx:1.27");
    assert_eq!(status(&t.machine("c-exited").await), "stopped");
    assert_eq!(status(&t.machine("c-orphan").await), "stale", "its host is stale");
    let gone = t.machine("c-gone").await;
    assert_eq!(status(&gone), "removed");
    assert_eq!(gone["name"], "tmp");

    let list = t.get("/api/v1/machines").await;
    let kinds: Vec<&str> = list.json["machines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["host", "host", "container", "container", "container", "container"],
        "hosts first"
    );
}

#[tokio::test]
async fn a_recreated_container_links_to_its_predecessor() {
    let t = TestApp::start().await;
    let mut before = host_record("r1", "h1", "2026-03-01T10:00:00Z");
    before["containers"] = json!([container("web-old", "web", "running")]);
    let mut after = host_record("r2", "h1", "2026-03-01T10:05:00Z");
    after["containers"] = json!([container("web-new", "web", "running")]);
    let mut elsewhere = host_record("r3", "h2", "2026-03-01T10:06:00Z");
    elsewhere["containers"] = json!([container("web-h2", "web", "running")]);
    for r in [before, after, elsewhere] {
        assert_eq!(t.post("/api/v1/ingest", &json!([r])).await.json["accepted"], 1);
    }
    assert_eq!(t.machine("web-new").await["predecessor_id"], "web-old");
    assert_eq!(t.machine("web-old").await.get("predecessor_id"), None);
    assert_eq!(
        t.machine("web-h2").await.get("predecessor_id"),
        None,
        "another host's container is not a predecessor"
    );

    // three live containers are called "web": the name is ambiguous
    assert_error(
        &t.get("/api/v1/machines/web/samples?from=2026-03-01").await,
        StatusCode::BAD_REQUEST,
        "ambiguous_machine",
    );
    let mut removal = host_record("r4", "h1", "2026-03-01T10:07:00Z");
    removal["containers"] = json!([container("web-new", "web", "running")]);
    removal["events"] = json!([{"kind": "container_removed", "container_id": "web-old", "name": "web", "at": "2026-03-01T10:04:00Z"},
                               {"kind": "container_removed", "container_id": "web-h2", "name": "web", "at": "2026-03-01T10:06:30Z"}]);
    assert_eq!(t.post("/api/v1/ingest", &json!([removal])).await.json["accepted"], 1);
    let reply = t.get("/api/v1/machines/web/samples?from=2026-03-01").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json["id"], "web-new",
        "the one container called web that is not removed"
    );
    assert_eq!(reply.json["samples"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn events_are_listed_newest_first() {
    let t = TestApp::start().await;
    let mut r = host_record("r1", "h1", "2026-03-01T10:00:10Z");
    r["containers"] = json!([container("c1", "web", "running")]);
    r["events"] = json!([
        {"kind": "container_started", "container_id": "c1", "name": "web", "at": "2026-03-01T10:00:01Z"},
        {"kind": "container_died", "container_id": "c1", "name": "web", "exit_code": 137, "at": "2026-03-01T10:00:05Z"},
        {"kind": "container_oom", "container_id": "c1", "name": "web", "at": "2026-03-01T10:00:04Z"}
    ]);
    assert_eq!(t.post("/api/v1/ingest", &json!([r])).await.json["accepted"], 1);
    for id in ["c1", "h1"] {
        let reply = t.get(&format!("/api/v1/machines/{id}/events")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(
            reply.json["events"],
            json!([
                {"kind": "container_died", "container_id": "c1", "name": "web", "exit_code": 137, "at": "2026-03-01T10:00:05.000Z"},
                {"kind": "container_oom", "container_id": "c1", "name": "web", "at": "2026-03-01T10:00:04.000Z"},
                {"kind": "container_started", "container_id": "c1", "name": "web", "at": "2026-03-01T10:00:01.000Z"}
            ]),
            "{id}"
        );
    }
    let limited = t.get("/api/v1/machines/c1/events?limit=1").await;
    assert_eq!(limited.json["events"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_machine_list_shows_every_change_at_once_though_it_is_kept_between_requests() {
    let t = TestApp::start().await;
    let now = Utc::now();
    let mut first = host_record("r1", "h1", &ts(now - Duration::seconds(3)));
    first["containers"] = json!([container("c1", "web", "running")]);
    assert_eq!(t.post("/api/v1/ingest", &json!([first])).await.json["accepted"], 1);
    assert_eq!(t.machine("c1").await["state"], "running");

    // a new container and a changed state: both listed on the next request
    let mut second = host_record("r2", "h1", &ts(now - Duration::seconds(2)));
    second["containers"] = json!([container("c1", "web", "exited"), container("c2", "db", "running")]);
    assert_eq!(t.post("/api/v1/ingest", &json!([second])).await.json["accepted"], 1);
    assert_eq!(t.machine("c1").await["state"], "exited");
    assert_eq!(t.machine("c2").await["name"], "db");

    // nothing but a newer sample: the newest time is listed too
    let mut third = host_record("r3", "h1", &ts(now - Duration::seconds(1)));
    third["containers"] = json!([container("c1", "web", "exited"), container("c2", "db", "running")]);
    assert_eq!(t.post("/api/v1/ingest", &json!([third])).await.json["accepted"], 1);
    assert_eq!(t.machine("h1").await["last_seen"], ts(now - Duration::seconds(1)));

    // a removal event
    let mut fourth = host_record("r4", "h1", &ts(now));
    fourth["containers"] = json!([container("c2", "db", "running")]);
    fourth["events"] = json!([{"kind": "container_removed", "container_id": "c1", "name": "web", "at": ts(now)}]);
    assert_eq!(t.post("/api/v1/ingest", &json!([fourth])).await.json["accepted"], 1);
    assert_eq!(t.machine("c1").await["status"], "removed");
}
