//! The native alert stream: snapshot on connect, live events with their ids, `Last-Event-ID`
//! replay from storage without gap or duplicate, slow clients dropped, heartbeats, auth, and a
//! machine's samples on the same connection.

use std::time::{Duration, Instant};

use api_backend::alerts::AlertState;
use api_backend::config::Tokens;
use api_backend::hub::HubSettings;

use super::{active, at, store_events, threshold_event, Served, WAIT};

const STREAM: &str = "/api/v1/alerts/stream";

#[tokio::test]
async fn connect_sends_the_active_alerts_first_then_live_events_with_their_ids() {
    let s = Served::start(HubSettings::default()).await;
    let firing = threshold_event("h1", AlertState::Firing, 97.5, at("2026-03-01T10:00:00Z"));
    let open = active(&firing);
    s.app.hub.set_snapshot_source(move || vec![open.clone()]);

    let mut sse = s.sse(STREAM, None).await;
    let snapshot = sse.next_event().await.expect("a snapshot");
    assert_eq!(snapshot.event.as_deref(), Some("snapshot"));
    assert_eq!(snapshot.id, None);
    let list = snapshot.json();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["alert_id"], firing.alert_id.as_str());
    assert_eq!(list[0]["machine_id"], "h1");
    assert_eq!(list[0]["state"], "firing");
    assert_eq!(s.metric(r#"api_stream_subscribers{stream="alerts"}"#).await, Some(1.0));

    let resolved = threshold_event("h1", AlertState::Resolved, 50.0, at("2026-03-01T10:05:00Z"));
    s.app.hub.publish_alert(41, &resolved);
    let live = sse.next_event().await.expect("a live event");
    assert_eq!(live.event.as_deref(), Some("alert"));
    assert_eq!(live.id.as_deref(), Some("41"));
    assert_eq!(live.json(), serde_json::to_value(&resolved).unwrap());

    drop(sse);
    let gone = super::super::support::eventually(WAIT, || async {
        s.metric(r#"api_stream_subscribers{stream="alerts"}"#).await == Some(0.0)
    })
    .await;
    assert!(gone, "a closed stream unsubscribes");
}

#[tokio::test]
async fn reconnect_with_last_event_id_replays_stored_events_then_continues_live_without_duplicates() {
    let s = Served::start(HubSettings::default()).await;
    // more than one replay page (1000 events)
    let stored: Vec<_> = (1..=1003u64)
        .map(|id| {
            let state = if id % 2 == 1 {
                AlertState::Firing
            } else {
                AlertState::Resolved
            };
            (
                id,
                threshold_event(&format!("h{id}"), state, 90.0, at("2026-03-01T10:00:00Z")),
            )
        })
        .collect();
    store_events(&s.app, &stored).await;

    let mut sse = s.sse(STREAM, Some("2")).await;
    for want in 3..=1003u64 {
        let event = sse.next_event().await.expect("a replayed event");
        assert_eq!(event.event.as_deref(), Some("alert"), "no snapshot on a resume");
        assert_eq!(event.id, Some(want.to_string()));
        assert_eq!(event.json()["machine_id"], format!("h{want}"));
    }
    // published live while (or after) it was replayed: sent once
    s.app.hub.publish_alert(1003, &stored[1002].1);
    let next = threshold_event("h1004", AlertState::Firing, 99.0, at("2026-03-01T10:01:00Z"));
    s.app.hub.publish_alert(1004, &next);
    let live = sse.next_event().await.expect("a live event");
    assert_eq!(live.id.as_deref(), Some("1004"));
    assert_eq!(live.json()["machine_id"], "h1004");

    // the query parameter works as well (for clients that cannot set the header)
    let mut by_query = s.sse(&format!("{STREAM}?last_event_id=1002"), None).await;
    assert_eq!(by_query.next_event().await.unwrap().id.as_deref(), Some("1003"));
    assert!(
        by_query.quiet_for(Duration::from_millis(300)).await,
        "nothing after the last stored one"
    );

    let bad = s
        .http
        .get(s.url(STREAM))
        .header("last-event-id", "abc")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_while_publishing_stays_fast_and_others_get_everything() {
    let capacity = 4;
    let s = Served::start(HubSettings {
        capacity,
        ..HubSettings::default()
    })
    .await;
    // big events fill the socket buffers quickly: then the stuck client lags behind in the hub
    let mut big = threshold_event("h1", AlertState::Firing, 99.0, at("2026-03-01T10:00:00Z"));
    big.machine_name = "x".repeat(64 * 1024);
    let total = 300u64;
    assert!(total as usize > capacity + 1);

    let mut stuck = s.sse(STREAM, None).await;
    let mut reader = s.sse(STREAM, None).await;
    assert_eq!(reader.next_event().await.unwrap().event.as_deref(), Some("snapshot"));

    let mut slowest = Duration::ZERO;
    for id in 1..=total {
        let started = Instant::now();
        s.app.hub.publish_alert(id, &big);
        slowest = slowest.max(started.elapsed());
        let got = reader.next_event().await.expect("the reading client gets every event");
        assert_eq!(got.id, Some(id.to_string()));
    }
    assert!(slowest < Duration::from_millis(250), "a publish took {slowest:?}");

    // the stuck client, reading at last: what was buffered, then the end of the stream
    assert_eq!(stuck.next_event().await.unwrap().event.as_deref(), Some("snapshot"));
    let mut ids = Vec::new();
    while let Some(event) = stuck.next_event().await {
        ids.push(event.id.unwrap().parse::<u64>().unwrap());
    }
    assert!(
        !ids.is_empty() && (ids.len() as u64) < total,
        "got {} events",
        ids.len()
    );
    assert_eq!(
        ids,
        (1..=ids.len() as u64).collect::<Vec<_>>(),
        "in order, without gaps"
    );
    assert_eq!(
        s.metric(r#"api_stream_dropped_subscribers_total{stream="alerts"}"#)
            .await,
        Some(1.0)
    );
    // the reader is still subscribed and served
    s.app.hub.publish_alert(total + 1, &big);
    assert_eq!(reader.next_event().await.unwrap().id, Some((total + 1).to_string()));
}

#[tokio::test]
async fn idle_streams_send_heartbeat_comments() {
    let s = Served::start(HubSettings {
        heartbeat: Duration::from_millis(200),
        ..HubSettings::default()
    })
    .await;
    // the compat stream's keep-alive is the original's ping event (streams/compat.rs)
    for path in [STREAM, "/api/v1/metrics/stream"] {
        let mut sse = s.sse(path, None).await;
        let mut beats = 0;
        let started = Instant::now();
        while beats < 2 {
            let block = sse.next_block(Duration::from_secs(5)).await.expect("open");
            if block.comments.iter().any(|c| c == "keep-alive") {
                beats += 1;
            }
        }
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "{path}: paced by the interval"
        );
    }
}

#[tokio::test]
async fn streams_need_the_read_token_which_may_come_as_query_or_cookie() {
    let s = Served::start_with(HubSettings::default(), |c| {
        c.tokens = Tokens {
            ingest: None,
            read: Some("rd-secret".into()),
            admin: None,
        }
    })
    .await;
    for path in [
        STREAM,
        "/api/metrics/threshold-alert",
        "/api/v1/metrics/stream",
        "/ws/metrics",
        "/api/v1/metrics/ws",
    ] {
        let denied = s.http.get(s.url(path)).send().await.unwrap();
        assert_eq!(denied.status(), 401, "{path}");
    }
    let by_query = s
        .http
        .get(s.url(&format!("{STREAM}?token=rd-secret")))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);
    let by_cookie = s
        .http
        .get(s.url(STREAM))
        .header("cookie", "token=rd-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), 200);
}

#[tokio::test]
async fn with_samples_the_alert_stream_also_carries_that_machines_new_records_without_ids() {
    let s = Served::start(HubSettings::default()).await;
    let mut sse = s.sse(&format!("{STREAM}?samples=h1"), None).await;
    assert_eq!(sse.next_event().await.unwrap().event.as_deref(), Some("snapshot"));

    let now = chrono::Utc::now();
    let other = crate::support::host_record("r0", "h2", &crate::support::ts(now));
    let mine = crate::support::host_record("r1", "h1", &crate::support::ts(now));
    assert_eq!(s.ingest(&serde_json::json!([other, mine])).await["accepted"], 2);
    let record = sse.next_event().await.expect("h1's record");
    assert_eq!(record.event.as_deref(), Some("record"));
    assert_eq!(record.json()["record_id"], "r1", "only h1's records");
    assert_eq!(record.id, None, "a record does not move Last-Event-ID");

    // alerts keep coming on the same connection, with their ids
    let alert = threshold_event("h7", AlertState::Firing, 95.0, at("2026-03-01T10:00:00Z"));
    s.app.hub.publish_alert(41, &alert);
    let live = sse.next_event().await.expect("the alert");
    assert_eq!((live.event.as_deref(), live.id.as_deref()), (Some("alert"), Some("41")));

    // resumed with last_event_id and samples together: the replay, then the samples
    store_events(&s.app, &[(42, alert.clone())]).await;
    let mut resumed = s.sse(&format!("{STREAM}?samples=h1&last_event_id=41"), None).await;
    assert_eq!(resumed.next_event().await.unwrap().id.as_deref(), Some("42"));
    let later = crate::support::host_record("r2", "h1", &crate::support::ts(now + chrono::Duration::seconds(1)));
    assert_eq!(s.ingest(&serde_json::json!([later])).await["accepted"], 1);
    let record = resumed.next_event().await.expect("h1's next record");
    assert_eq!(record.json()["record_id"], "r2");
}

#[tokio::test]
async fn streams_beyond_their_limits_get_429_with_the_reason_and_are_counted() {
    use api_backend::http::streams::limit::StreamSettings;
    let s = Served::start_with(HubSettings::default(), |c| {
        c.streams = StreamSettings { max: 10, per_client: 2 };
    })
    .await;
    let first = s.sse("/api/v1/alerts/stream", None).await;
    let _second = s.sse("/api/v1/alerts/stream", None).await;
    let refused = s.http.get(s.url("/api/v1/alerts/stream")).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "limit_reached");
    assert!(
        body["detail"].as_str().unwrap().contains("STREAMS_MAX_PER_CLIENT 2"),
        "{body}"
    );
    assert_eq!(
        s.metric("api_limit_refusals_total{limit=\"streams_per_client\"}").await,
        Some(1.0)
    );
    // a closed stream frees its place
    drop(first);
    let mut reopened = None;
    for _ in 0..50 {
        let r = s.http.get(s.url("/api/v1/alerts/stream")).send().await.unwrap();
        if r.status() == 200 {
            reopened = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reopened.is_some(), "the closed stream's place was not freed");
}
