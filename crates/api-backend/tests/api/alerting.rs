//! Alerting end to end through the HTTP API on a real database: ingested records crossing a
//! rule give exactly one firing and one resolved event (hysteresis), visible in the native and
//! compat history and in the open alerts; duplicates change nothing; a restart keeps open alerts
//! open without firing again and keeps the saved compat thresholds enforced; silences.

use std::time::Duration;

use api_backend::App;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{DateTime, Utc};
use common::shutdown::Trigger;
use serde_json::{json, Value};

use crate::support::{assert_error, host_record, send_to, test_config, ts, Reply, TestApp, TestDb};
use crate::thresholds::send_json;

/// A host record at `at` with the given memory percentage and CPU.
fn record(id: &str, host: &str, at: DateTime<Utc>, mem_percent: f64, cpu: f64) -> Value {
    let mut r = host_record(id, host, &ts(at));
    r["host"]["mem_percent"] = json!(mem_percent);
    r["host"]["cpu_percent"] = json!(cpu);
    r
}

/// Recent sample times, one second apart (the last one 10 s ago).
fn times(n: usize) -> Vec<DateTime<Utc>> {
    let start = Utc::now() - chrono::Duration::seconds(10 + n as i64);
    (0..n).map(|i| start + chrono::Duration::seconds(i as i64)).collect()
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

async fn flush(app: &App) {
    tokio::time::timeout(Duration::from_secs(10), app.alerting.flush())
        .await
        .expect("alert events are stored within 10 s");
}

async fn ingest(app: &App, records: Vec<Value>) -> Reply {
    let reply = send_to(
        &app.router,
        crate::support::post_request("/api/v1/ingest", &json!(records)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    flush(app).await;
    reply
}

async fn get(app: &App, uri: &str) -> Value {
    let reply = send_to(&app.router, Request::get(uri).body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text);
    reply.json
}

/// The threshold events of `day` (newest first).
async fn threshold_history(app: &App, day: &str) -> Vec<Value> {
    get(app, &format!("/api/v1/alerts?from={day}&to={day}&kind=threshold")).await["alerts"]
        .as_array()
        .unwrap()
        .clone()
}

async fn mem_rule(t: &TestApp) -> u64 {
    let reply = send_json(
        t,
        Method::PUT,
        "/api/v1/thresholds/host.mem_percent",
        None,
        Some(json!({"raise": 80, "clear": 70})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.json["id"].as_u64().unwrap()
}

#[tokio::test]
async fn a_crossing_fires_once_and_resolves_once_with_hysteresis() {
    let t = TestApp::start().await;
    let rule = mem_rule(&t).await;
    let at = times(5);
    let records: Vec<Value> = [50.0, 85.0, 75.0, 90.0, 65.0]
        .iter()
        .enumerate()
        .map(|(i, mem)| record(&format!("r{i}"), "h1", at[i], *mem, 10.0))
        .collect();

    ingest(&t.app, records[..2].to_vec()).await;
    let active = get(&t.app, "/api/v1/alerts/active").await["alerts"].clone();
    assert_eq!(active.as_array().unwrap().len(), 1, "{active}");
    assert_eq!(
        (&active[0]["rule_id"], &active[0]["machine_id"], &active[0]["state"]),
        (&json!(rule), &json!("h1"), &json!("firing"))
    );
    ingest(&t.app, records[2..].to_vec()).await;
    assert_eq!(get(&t.app, "/api/v1/alerts/active").await["alerts"], json!([]));

    let events = threshold_history(&t.app, &day(at[0])).await;
    assert_eq!(events.len(), 2, "{events:?}");
    let (resolved, firing) = (&events[0], &events[1]);
    assert_eq!(
        (&firing["state"], &firing["value"], &firing["threshold"]),
        (&json!("firing"), &json!(85.0), &json!(80.0))
    );
    assert_eq!(firing["at"], ts(at[1]));
    assert_eq!(
        (&resolved["state"], &resolved["value"]),
        (&json!("resolved"), &json!(65.0))
    );
    assert_eq!(resolved["alert_id"], firing["alert_id"]);
    assert!(
        resolved["id"].as_u64() > firing["id"].as_u64(),
        "ids grow in commit order"
    );

    // the same records again: duplicates, no events
    let before = t.count("alert_events").await;
    let again = ingest(&t.app, records.clone()).await;
    assert_eq!(again.json["duplicates"], 5);
    assert_eq!(t.count("alert_events").await, before);

    // pagination and filters
    let d = day(at[0]);
    let page = get(
        &t.app,
        &format!("/api/v1/alerts?from={d}&to={d}&kind=threshold&limit=1"),
    )
    .await;
    assert_eq!(page["alerts"][0]["state"], "resolved");
    let cursor = page["next_cursor"].as_u64().expect("a next page");
    let page = get(
        &t.app,
        &format!("/api/v1/alerts?from={d}&to={d}&kind=threshold&limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(page["alerts"][0]["state"], "firing");
    assert_eq!(page["next_cursor"], Value::Null);
    let firing_only = get(
        &t.app,
        &format!("/api/v1/alerts?from={d}&to={d}&state=firing&machine=h1"),
    )
    .await;
    assert!(firing_only["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["state"] == "firing"));
    assert_eq!(
        get(&t.app, &format!("/api/v1/alerts?from={d}&to={d}&machine=h2")).await["alerts"],
        json!([])
    );
    let bad = t.get("/api/v1/alerts?kind=boom").await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "invalid_parameter");
}

#[tokio::test]
async fn compat_history_lists_breaches_by_machine_by_day_and_all() {
    let t = TestApp::start().await;
    // a native rule on a metric the original had (memory) and one on a metric it did not
    let reply = send_json(
        &t,
        Method::PUT,
        "/api/v1/thresholds/host.mem_used_bytes",
        None,
        Some(json!({"raise": 8.0e9, "clear": 7.0e9})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    mem_rule(&t).await;
    let at = times(3);
    let mut records = Vec::new();
    for (i, (bytes, percent)) in [(8.5e9, 85.0), (6.0e9, 60.0), (9.25e9, 92.5)].into_iter().enumerate() {
        let mut r = record(&format!("r{i}"), "h1", at[i], percent, 10.0);
        r["host"]["mem_used_bytes"] = json!(bytes as u64);
        records.push(r);
    }
    ingest(&t.app, records).await;

    let by_machine = t
        .post("/api/metrics/threshold-history", &json!({"targetId": "h1"}))
        .await;
    assert_eq!(by_machine.status, StatusCode::OK, "{}", by_machine.text);
    let breaches = by_machine.json.as_array().unwrap();
    assert_eq!(
        breaches.len(),
        2,
        "two firing events of memory, not the resolved one, not mem_percent's: {breaches:?}"
    );
    let first = &breaches[0];
    let stamp = first["timestamp"].as_str().unwrap().to_owned();
    assert_eq!(
        first,
        &json!({"timestamp": stamp, "targetId": "h1", "metricName": "memory", "threshold": 8.0e9, "value": 9.25e9})
    );
    assert!(
        by_machine.text.contains(r#""threshold":8.0E9,"value":9.25E9"#),
        "numbers in Java's form: {}",
        by_machine.text
    );
    assert!(
        chrono::NaiveDateTime::parse_from_str(&stamp, "%Y-%m-%dT%H:%M:%S").is_ok(),
        "{stamp}"
    );
    assert_eq!(
        t.post("/api/metrics/threshold-history", &json!({"targetId": "h2"}))
            .await
            .json,
        json!([])
    );
    let local_day = at[0].with_timezone(&chrono::Local).format("%Y-%m-%d").to_string();
    let by_day = t
        .post("/api/metrics/threshold-history", &json!({"date": local_day}))
        .await;
    assert_eq!(by_day.json.as_array().map(Vec::len), Some(2), "{}", by_day.text);
    let refused = t.post("/api/metrics/threshold-history", &json!({})).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.json["error"].is_string(), "{}", refused.text);

    let all = t.get("/api/metrics/threshold-history-all").await;
    let entry = &all.json[0];
    assert_eq!(
        entry,
        &json!({"timestamp": stamp, "messageType": "thresholdExceeded", "machineType": "host", "machineId": "h1",
                "machineName": "h1-name", "metricName": "memory", "hostName": "h1-name",
                "threshold": 8.0e9, "value": 9.25e9})
    );
    assert_eq!(all.json.as_array().map(Vec::len), Some(2), "{}", all.text);
}

/// An app on `db` that can be stopped without dropping the database.
struct Running {
    app: App,
    trigger: Trigger,
}

async fn start_on(db: &TestDb) -> Running {
    let (trigger, shutdown) = common::shutdown::channel();
    let app = api_backend::build(&test_config(db.url(), |_| {}), &shutdown)
        .await
        .expect("the app starts");
    Running { app, trigger }
}

impl Running {
    /// Shuts down as `run` does: stop tasks, store the last events and the engine state.
    async fn stop(self) {
        self.trigger.fire();
        self.app.alerting.close().await;
        self.app.store.close().await;
    }
}

#[tokio::test]
async fn a_restart_mid_incident_keeps_the_alert_open_and_does_not_fire_again() {
    let db = TestDb::create().await;
    let first = start_on(&db).await;
    let reply = send_to(
        &first.app.router,
        Request::put("/api/v1/thresholds/host.mem_percent")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"raise": 80, "clear": 70}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let at = times(4);
    ingest(&first.app, vec![record("a", "h1", at[0], 85.0, 10.0)]).await;
    let before = get(&first.app, "/api/v1/alerts/active").await["alerts"].clone();
    first.stop().await;

    let second = start_on(&db).await;
    let after = get(&second.app, "/api/v1/alerts/active").await["alerts"].clone();
    assert_eq!(after, before, "the open alert survives the restart");
    ingest(&second.app, vec![record("b", "h1", at[1], 95.0, 10.0)]).await;
    ingest(&second.app, vec![record("c", "h1", at[2], 60.0, 10.0)]).await;
    let events = threshold_history(&second.app, &day(at[0])).await;
    let states: Vec<&str> = events.iter().map(|e| e["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["resolved", "firing"], "{events:?}");
    assert_eq!(events[0]["alert_id"], before[0]["alert_id"]);
    second.stop().await;
}

#[tokio::test]
async fn saved_compat_thresholds_survive_a_restart_and_are_enforced() {
    let db = TestDb::create().await;
    let first = start_on(&db).await;
    let over = json!({"cpuPercent": "50", "memoryUsage": 2.0e10, "diskReadDelta": 4.0e7, "diskWriteDelta": 4.0e7,
                      "networkRx": 300000, "networkTx": 300000, "temperature": 50});
    let saved = send_to(
        &first.app.router,
        crate::support::post_request("/api/metrics/threshold-setting", &over),
    )
    .await;
    assert_eq!(saved.json, json!({"message": "ok"}), "{}", saved.text);
    first.stop().await;

    let second = start_on(&db).await;
    assert_eq!(
        get(&second.app, "/api/metrics/threshold-setting").await["cpuPercent"],
        "50.0"
    );
    let at = times(2);
    ingest(
        &second.app,
        vec![
            record("a", "h1", at[0], 40.0, 45.0),
            record("b", "h1", at[1], 40.0, 60.5),
        ],
    )
    .await;
    let events = threshold_history(&second.app, &day(at[0])).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (
            &events[0]["state"],
            &events[0]["metric"],
            &events[0]["threshold"],
            &events[0]["value"]
        ),
        (&json!("firing"), &json!("host.cpu_percent"), &json!(50.0), &json!(60.5))
    );
    second.stop().await;
}

#[tokio::test]
async fn silences_are_created_listed_and_deleted() {
    let t = TestApp::start().await;
    let body = json!({"machine_id": "h1", "ends_at": "2099-01-01T00:00:00Z", "comment": "disk swap"});
    let created = t.post("/api/v1/silences", &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json["id"].as_u64().unwrap();
    assert_eq!(created.json["ends_at"], "2099-01-01T00:00:00.000Z");
    assert!(created.json["starts_at"].is_string());
    let list = t.get("/api/v1/silences").await;
    assert_eq!(list.json["silences"].as_array().map(Vec::len), Some(1), "{}", list.text);
    assert_eq!(list.json["silences"][0]["comment"], "disk swap");

    let everything = t
        .post("/api/v1/silences", &json!({"ends_at": "2099-01-01T00:00:00Z"}))
        .await;
    assert_error(&everything, StatusCode::BAD_REQUEST, "invalid_rule");
    assert!(everything.json["detail"]
        .as_str()
        .unwrap()
        .starts_with("a silence must name"));
    let backwards = json!({"kind": "stale", "starts_at": "2099-01-02T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z"});
    assert_error(
        &t.post("/api/v1/silences", &backwards).await,
        StatusCode::BAD_REQUEST,
        "invalid_rule",
    );

    let uri = format!("/api/v1/silences/{id}");
    let deleted = send_json(&t, Method::DELETE, &uri, None, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    let again = send_json(&t, Method::DELETE, &uri, None, None).await;
    assert_error(&again, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(t.get("/api/v1/silences").await.json["silences"], json!([]));
}

/// A webhook receiver: every POSTed JSON body, in arrival order.
async fn webhook() -> (String, tokio::sync::mpsc::UnboundedReceiver<Value>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, rx)
}

#[tokio::test]
async fn stored_events_are_notified_except_silenced_ones() {
    let (url, mut received) = webhook().await;
    let t = TestApp::start_with(|c| c.notify.alert_generic_webhook_url = Some(url.parse().unwrap())).await;
    mem_rule(&t).await;
    let silence = json!({"machine_id": "h1", "ends_at": "2099-01-01T00:00:00Z"});
    assert_eq!(t.post("/api/v1/silences", &silence).await.status, StatusCode::CREATED);
    let at = times(2);
    // h1 (silenced) breaches first, h2 second: notifications keep event order, so once h2's
    // arrives, h1's would have arrived before it
    ingest(
        &t.app,
        vec![
            record("a", "h1", at[0], 85.0, 10.0),
            record("b", "h2", at[1], 85.0, 10.0),
        ],
    )
    .await;
    let first = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("a notification within 10 s")
        .unwrap();
    assert_eq!(
        (&first["machine_id"], &first["state"], &first["notification"]),
        (&json!("h2"), &json!("firing"), &json!("firing")),
        "{first}"
    );
    assert!(received.try_recv().is_err(), "nothing about the silenced h1");
    assert_eq!(
        threshold_history(&t.app, &day(at[0])).await.len(),
        2,
        "silenced alerts are still recorded"
    );
}

#[tokio::test]
async fn a_record_from_a_clock_a_day_ahead_is_refused_and_does_not_blind_alerting() {
    let t = TestApp::start().await;
    let rule = mem_rule(&t).await;
    let ahead = Utc::now() + chrono::Duration::days(1);
    let reply = ingest(&t.app, vec![record("skewed", "h1", ahead, 10.0, 10.0)]).await;
    assert_eq!(reply.json["accepted"], 0, "{}", reply.text);
    let why = reply.json["rejected"][0]["error"].as_str().unwrap();
    assert!(
        why.starts_with("sampled_at:")
            && why.contains("ahead of the backend's clock")
            && why.contains("MAX_CLOCK_SKEW is 300 s"),
        "{why}"
    );
    let metrics = t.get("/metrics").await.text;
    assert!(
        metrics.contains("api_ingest_refused_total{reason=\"clock_ahead\"} 1"),
        "{metrics}"
    );

    // the host's next records, with a right clock, are evaluated: the crossing fires
    let at = times(5);
    let records = (0..5)
        .map(|i| record(&format!("r{i}"), "h1", at[i], 95.0, 10.0))
        .collect();
    let reply = ingest(&t.app, records).await;
    assert_eq!(reply.json["accepted"], 5, "{}", reply.text);
    let active = get(&t.app, "/api/v1/alerts/active").await["alerts"].clone();
    assert_eq!(active.as_array().unwrap().len(), 1, "{active}");
    assert_eq!(
        (&active[0]["rule_id"], &active[0]["state"]),
        (&json!(rule), &json!("firing"))
    );

    // a Docker event stamped ahead refuses its record too; within the skew is taken
    let mut event_ahead = record("ev", "h1", Utc::now(), 95.0, 10.0);
    event_ahead["events"] = json!([{"kind": "container_died", "container_id": "c1", "exit_code": 1, "at": ts(ahead)}]);
    let near = record("near", "h2", Utc::now() + chrono::Duration::seconds(60), 10.0, 10.0);
    let reply = ingest(&t.app, vec![event_ahead, near]).await;
    assert_eq!(reply.json["accepted"], 1, "{}", reply.text);
    assert_eq!(reply.json["rejected"][0]["index"], 0);
    assert!(reply.json["rejected"][0]["error"]
        .as_str()
        .unwrap()
        .starts_with("events[0].at:"));
}

/// A write whose commit succeeded but whose answer was lost is retried: the events it stored
/// keep their ids and are not stored twice (an incident would otherwise fire twice, as a MySQL
/// SIGKILL mid-commit showed in the fault test).
#[tokio::test]
async fn a_retried_event_write_keeps_what_the_lost_attempt_stored() {
    use crate::streams::{at, threshold_event};
    use api_backend::alerts::AlertState;
    let t = TestApp::start().await;
    let store = &t.app.store;
    let before = store.last_alert_event_id().await.unwrap();
    let when = at("2026-03-01T10:00:00Z");
    let (a, b, c) = (
        threshold_event("h1", AlertState::Firing, 95.0, when),
        threshold_event("h2", AlertState::Firing, 96.0, when),
        threshold_event("h3", AlertState::Firing, 97.0, when),
    );
    // the lost attempt: a and b stored, the writer never heard
    let lost = store.write_alert_events(&[a.clone(), b.clone()], None).await.unwrap();
    // the retry takes the queue again, now with c behind them
    let retried = store
        .write_alert_events(&[a.clone(), b.clone(), c.clone()], Some(before))
        .await
        .unwrap();
    assert_eq!(retried[..2], lost[..], "a and b keep their ids");
    assert_eq!(retried[2], lost[1] + 1, "c stored after them");
    assert_eq!(t.count("alert_events").await, 3, "nothing stored twice");
    // a retry after an attempt that stored nothing stores everything
    let d = threshold_event("h4", AlertState::Firing, 98.0, when);
    let after = store.last_alert_event_id().await.unwrap();
    let ids = store.write_alert_events(&[d], Some(after)).await.unwrap();
    assert_eq!(ids, [after + 1]);
    // rows after the known id that are not the queue's head: refused, nothing written
    let e = threshold_event("h5", AlertState::Firing, 99.0, when);
    assert!(store.write_alert_events(&[e], Some(before)).await.is_err());
    assert_eq!(t.count("alert_events").await, 4);
}
