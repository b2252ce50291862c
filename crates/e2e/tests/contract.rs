//! Contract test of the compatibility surface: `contract/original-frontend.json` is a
//! conversation of the original system's frontend and collectors (requests, the exact answers,
//! the frames of the alert SSE and of the `/ws/metrics` WebSocket), written from the contract.
//! It is replayed, step by step, against the real api-backend binary on MariaDB, in the zone the
//! conversation names (`TZ`), so times, number forms, key order and status codes are pinned.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{Local, SubsecRound, TimeDelta, Utc};
use e2e::sse::SseClient;
use e2e::{free_port, Stack};
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

const CONVERSATION: &str = include_str!("../contract/original-frontend.json");
/// How long a stream frame may take to come.
const FRAME_WAIT: Duration = Duration::from_secs(15);

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_frontends_conversation_replays_exactly() {
    let conversation: Value = serde_json::from_str(CONVERSATION).expect("the conversation is JSON");
    let zone = conversation["zone"].as_str().expect("a zone").to_owned();
    // this process reads times in the same zone as the backend (the binary's only test)
    std::env::set_var("TZ", &zone);

    let stack = Stack::new("contract", 1).await;
    let api = free_port();
    let _backend = stack.start_backend_with(api, &[("TZ", zone.clone())]).await;
    let base = format!("http://127.0.0.1:{api}");

    // sample times a few seconds ahead (a host times out 3 s after its last sample: the
    // conversation's frames before the timeouts get 8 s however slow the machine), in the
    // backend's local time
    let t0 = Utc::now().trunc_subsecs(0) + TimeDelta::seconds(5);
    let local = |t: chrono::DateTime<Utc>| t.with_timezone(&Local).format("%Y-%m-%dT%H:%M:%S").to_string();
    let vars = [
        ("{{T0}}", local(t0)),
        ("{{T1}}", local(t0 + TimeDelta::seconds(2))),
        ("{{DAY}}", t0.with_timezone(&Local).format("%Y-%m-%d").to_string()),
    ];
    assert_ne!(
        (t0.with_timezone(&Local).offset().to_string()),
        "+00:00",
        "the conversation's zone ({zone}) is in effect here"
    );
    let fill = |text: &str| vars.iter().fold(text.to_owned(), |s, (k, v)| s.replace(k, v));
    let fill_json = |v: &Value| -> Value { serde_json::from_str(&fill(&v.to_string())).expect("filled JSON") };

    let mut sse: HashMap<String, SseClient> = HashMap::new();
    let mut ws: HashMap<String, Ws> = HashMap::new();
    for (n, step) in conversation["steps"].as_array().expect("steps").iter().enumerate() {
        let at = format!("step {n} ({})", step.get("say").and_then(Value::as_str).unwrap_or("-"));
        if let Some(name) = step["open_sse"].as_str() {
            let url = format!("{base}{}", step["path"].as_str().unwrap());
            sse.insert(name.to_owned(), SseClient::connect(&url, None).await);
        } else if let Some(name) = step["open_ws"].as_str() {
            let url = format!("ws://127.0.0.1:{api}{}", step["path"].as_str().unwrap());
            let (socket, _) = tokio_tungstenite::connect_async(url)
                .await
                .expect("the WebSocket opens");
            ws.insert(name.to_owned(), socket);
        } else if let Some(name) = step["frame"].as_str() {
            let got = if let Some(stream) = sse.get_mut(name) {
                next_event(stream, &at).await
            } else {
                next_frame(
                    ws.get_mut(name).unwrap_or_else(|| panic!("{at}: no stream {name}")),
                    &at,
                )
                .await
            };
            assert_text(&got, &fill(step["text"].as_str().unwrap()), &at);
        } else {
            let req = &step["request"];
            let method: reqwest::Method = req["method"].as_str().unwrap().parse().unwrap();
            let mut r = stack
                .http
                .request(method, format!("{base}{}", req["path"].as_str().unwrap()));
            if let Some(body) = req.get("body") {
                r = r.json(&fill_json(body));
            }
            let reply = r.send().await.unwrap_or_else(|e| panic!("{at}: {e}"));
            let status = reply.status().as_u16();
            let text = reply.text().await.unwrap_or_default();
            let expect = &step["expect"];
            assert_eq!(Some(status as u64), expect["status"].as_u64(), "{at}: {text}");
            if let Some(want) = expect["text"].as_str() {
                assert_text(&text, &fill(want), &at);
            }
            let json =
                || serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{at}: not JSON ({e}): {text}"));
            if let Some(want) = expect.get("json") {
                assert_eq!(json(), fill_json(want), "{at}");
            }
            if let Some(want) = expect.get("subset") {
                assert_subset(&json(), &fill_json(want), &at);
            }
        }
    }
}

/// The data of the next event that is not the keep-alive `ping`.
async fn next_event(stream: &mut SseClient, at: &str) -> String {
    loop {
        let e = stream
            .next(FRAME_WAIT)
            .await
            .unwrap_or_else(|| panic!("{at}: no event in time"));
        if e.event.as_deref() == Some("ping") {
            assert_eq!(e.data, "keepalive", "{at}: the original's keep-alive");
            continue;
        }
        assert_eq!(e.event, None, "{at}: the original's events are unnamed");
        return e.data;
    }
}

/// The next text frame.
async fn next_frame(socket: &mut Ws, at: &str) -> String {
    loop {
        let msg = tokio::time::timeout(FRAME_WAIT, socket.next())
            .await
            .unwrap_or_else(|_| panic!("{at}: no frame in time"))
            .unwrap_or_else(|| panic!("{at}: the socket closed"))
            .unwrap_or_else(|e| panic!("{at}: {e}"));
        match msg {
            Message::Text(text) => return text.as_str().to_owned(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("{at}: unexpected frame {other:?}"),
        }
    }
}

/// `got` is `want` byte for byte, where each `{{ANY_TIME}}` of `want` stands for one
/// `YYYY-MM-DDTHH:MM:SS`.
fn assert_text(got: &str, want: &str, at: &str) {
    const ANY: &str = "{{ANY_TIME}}";
    let is_time = |s: &str| {
        s.len() == 19
            && s.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                10 => b == b'T',
                13 | 16 => b == b':',
                _ => b.is_ascii_digit(),
            })
    };
    let mut rest = got;
    let mut ok = true;
    for (i, part) in want.split(ANY).enumerate() {
        if i > 0 {
            ok &= rest.get(..19).is_some_and(is_time);
            rest = rest.get(19..).unwrap_or("");
        }
        ok &= rest.starts_with(part);
        rest = rest.get(part.len()..).unwrap_or("");
    }
    assert!(ok && rest.is_empty(), "{at}:\n got: {got}\nwant: {want}");
}

/// Every key `want` names has the value it gives (objects compared key by key, deeply).
fn assert_subset(got: &Value, want: &Value, at: &str) {
    match want {
        Value::Object(w) => {
            for (k, v) in w {
                let g = got.get(k).unwrap_or_else(|| panic!("{at}: no {k:?} in {got}"));
                assert_subset(g, v, at);
            }
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}
