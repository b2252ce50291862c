//! Live records: `/api/v1/metrics/ws` pushes each newly stored record as a JSON text frame,
//! `/ws/metrics` the same in the original collector's shape;
//! `/api/v1/metrics/stream?machine=` filters by host or reduces to one container's sample.

use std::time::Duration;

use api_backend::hub::HubSettings;
use chrono::Utc;
use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::{Served, WAIT};
use crate::support::{container, host_record, ts};

async fn next_text<S>(ws: &mut S) -> serde_json::Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
            .expect("the socket is open")
            .expect("a frame");
        match msg {
            Message::Text(text) => return serde_json::from_str(text.as_str()).expect("JSON"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

#[tokio::test]
async fn websocket_receives_each_newly_ingested_record_once_as_a_json_text_frame() {
    let s = Served::start(HubSettings::default()).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/api/v1/metrics/ws", s.addr))
        .await
        .expect("the WebSocket opens");
    let mut first = host_record("r1", "h1", &ts(Utc::now()));
    first["containers"] = json!([container("c1", "web", "running")]);
    assert_eq!(s.ingest(&json!([first.clone()])).await["accepted"], 1);
    let frame = next_text(&mut ws).await;
    assert_eq!(frame, first, "the record as stored");

    // a duplicate is not stored again, so it is not pushed again
    let second = host_record("r2", "h1", &ts(Utc::now()));
    assert_eq!(
        s.ingest(&json!([first, second.clone()])).await,
        json!({"accepted": 1, "duplicates": 1, "rejected": []})
    );
    assert_eq!(next_text(&mut ws).await["record_id"], "r2");
}

#[tokio::test]
async fn the_compat_websocket_pushes_native_and_original_records_in_the_original_shape() {
    let s = Served::start(HubSettings::default()).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws/metrics", s.addr))
        .await
        .expect("the WebSocket opens");
    let at = Utc::now();
    let mut native = host_record("r1", "h1", &ts(at));
    native["host"]["cpu_percent"] = json!(42.5);
    let mut stopped = container("c2", "db", "exited");
    stopped["cpu_percent"] = json!(null);
    native["containers"] = json!([container("c1", "web", "running"), stopped]);
    assert_eq!(s.ingest(&json!([native])).await["accepted"], 1);
    let frame = next_text(&mut ws).await;
    assert_eq!(frame["type"], "host");
    assert_eq!(frame["hostId"], "h1");
    assert_eq!(frame["cpuUsagePercent"], 42.5);
    let local = at.with_timezone(&chrono::Local).format("%Y-%m-%dT%H:%M:%S").to_string();
    assert_eq!(frame["timeStamp"], local);
    assert_eq!(frame["containers"]["c1"]["name"], "/web");
    assert_eq!(frame["containers"]["c2"], json!({}), "not running: no measurements");
    assert!(
        frame.get("host_id").is_none() && frame.get("schema").is_none(),
        "{frame}"
    );

    // a record posted in the original format comes back in it
    let original = json!({"type": "host", "hostId": "java-1", "name": "legacy", "timeStamp": ts(at + chrono::TimeDelta::seconds(1)),
        "cpuUsagePercent": 7.0, "memoryUsedBytes": 6.442450944E9, "diskReadBytesDelta": 2.0E7,
        "containers": {"abc": {"name": "/redis", "cpuUsagePercent": 1.5}}});
    let reply = s.http.post(s.url("/api/metrics")).json(&original).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    let frame = next_text(&mut ws).await;
    assert_eq!(frame["hostId"], "java-1");
    assert_eq!(frame["memoryUsedBytes"], 6.442450944E9);
    assert_eq!(frame["diskReadBytesDelta"], 2.0E7);
    assert_eq!(frame["containers"]["abc"]["name"], "/redis");
    assert_eq!(frame["containers"]["abc"]["cpuUsagePercent"], 1.5);
}

#[tokio::test]
async fn metrics_stream_filters_by_host_or_reduces_to_one_container() {
    let s = Served::start(HubSettings::default()).await;
    let mut all = s.sse("/api/v1/metrics/stream", None).await;
    let mut host = s.sse("/api/v1/metrics/stream?machine=h1", None).await;
    let mut one = s.sse("/api/v1/metrics/stream?machine=c9", None).await;

    let now = Utc::now();
    let r1 = host_record("r1", "h1", &ts(now));
    let mut r2 = host_record("r2", "h2", &ts(now));
    r2["containers"] = json!([container("c8", "db", "running"), container("c9", "web", "running")]);
    let r3 = host_record("r3", "h1", &ts(now + chrono::Duration::seconds(1)));
    assert_eq!(s.ingest(&json!([r1, r2])).await["accepted"], 2);
    assert_eq!(s.ingest(&json!([r3])).await["accepted"], 1);

    for want in ["r1", "r2", "r3"] {
        let e = all.next_event().await.unwrap();
        assert_eq!(e.event.as_deref(), Some("record"));
        assert_eq!(e.json()["record_id"], want);
    }
    for want in ["r1", "r3"] {
        let e = host.next_event().await.unwrap();
        assert_eq!(e.event.as_deref(), Some("record"));
        assert_eq!(e.json()["record_id"], want, "only h1's records");
    }
    let sample = one.next_event().await.unwrap();
    assert_eq!(sample.event.as_deref(), Some("sample"));
    assert_eq!(
        sample.json(),
        json!({"record_id": "r2", "host_id": "h2", "host_name": "h2-name", "sampled_at": ts(now),
               "interval_ms": 1000, "container": container("c9", "web", "running")})
    );
    assert!(
        one.quiet_for(Duration::from_millis(300)).await,
        "nothing from records without c9"
    );
}

#[tokio::test]
async fn websockets_count_among_the_open_streams_until_they_close() {
    use api_backend::http::streams::limit::StreamSettings;
    let s = Served::start_with(HubSettings::default(), |c| {
        c.streams = StreamSettings { max: 10, per_client: 1 };
    })
    .await;
    let url = format!("ws://{}/api/v1/metrics/ws", s.addr);
    let (ws, _) = tokio_tungstenite::connect_async(&url).await.expect("the first opens");
    // the same client's next stream, WebSocket or SSE, is over its limit
    match tokio_tungstenite::connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 429),
        other => panic!("a second WebSocket from the client: {:?}", other.map(|_| "opened")),
    }
    let sse = s.http.get(s.url("/api/v1/alerts/stream")).send().await.unwrap();
    assert_eq!(sse.status(), 429, "the open WebSocket holds the client's place");
    // closed: its place is free again
    drop(ws);
    let mut reopened = false;
    for _ in 0..50 {
        if tokio_tungstenite::connect_async(&url).await.is_ok() {
            reopened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reopened, "a closed WebSocket frees its place");
}
