//! Live records. `GET /api/v1/metrics/stream[?machine=<id>]` (SSE): without `machine`, every
//! newly stored record as `event: record` with the record JSON (§2); with a host id, that
//! host's records; with a container id, `event: sample` with
//! `{"record_id","host_id","host_name","sampled_at","interval_ms","container":{…}}` (the
//! container's entry of each record of its host). WebSockets pushing every newly stored record
//! as one compact JSON text frame: `GET /api/v1/metrics/ws` in the v1 shape, `GET /ws/metrics`
//! (compat) in the original collector's shape, whatever format the record arrived in. No
//! replay: these are live only.

use std::convert::Infallible;

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::stream::{self, Stream, StreamExt};
use serde_json::json;

use super::{keep_alive, query, StreamQuery};
use crate::error::Result;
use crate::http::openapi::tags;
use crate::http::AppState;
use crate::hub::{PublishedRecord, Subscription};

#[utoipa::path(
    get, path = super::paths::METRICS, tag = tags::READ,
    summary = "Live records (Server-Sent Events)",
    description = "Every newly stored record, live only (no replay). Without `machine`: `event: record`, data = the record (wire format v1). With a host id: that host's records, same form. With a container id: `event: sample`, data = {\"record_id\", \"host_id\", \"host_name\", \"sampled_at\", \"interval_ms\", \"container\": <the container's entry of the record>}. A `: keep-alive` comment every 15 s; a client too far behind is disconnected.",
    params(("machine" = Option<String>, Query, description = "A host id or container id.")),
    responses((status = 200, description = "The event stream", content_type = "text/event-stream"))
)]
pub async fn sse(State(state): State<AppState>, q: Result<Query<StreamQuery>, QueryRejection>) -> Result<Response> {
    let machine = query(q)?.machine.filter(|m| !m.is_empty());
    let events = events(state.hub.subscribe_records(), machine).map(Ok::<_, Infallible>);
    Ok(Sse::new(events).keep_alive(keep_alive(&state)).into_response())
}

/// The events of every new record (`machine`: of that host or container only); ends when the
/// subscriber fell too far behind.
pub fn events(sub: Subscription<PublishedRecord>, machine: Option<String>) -> impl Stream<Item = Event> {
    stream::unfold((sub, machine), |(mut sub, machine)| async move {
        loop {
            let published = sub.recv().await?;
            if let Some(event) = render(&published, machine.as_deref()) {
                return Some((event, (sub, machine)));
            }
        }
    })
}

/// The event for `machine` (a host or container id; `None`: every record), if the record has one.
fn render(published: &PublishedRecord, machine: Option<&str>) -> Option<Event> {
    let record = &published.record;
    let Some(machine) = machine.filter(|m| *m != record.host_id) else {
        return Some(Event::default().event("record").data(published.json.as_str()));
    };
    let container = record.containers.iter().find(|c| c.id == machine)?;
    let data = json!({
        "record_id": record.record_id,
        "host_id": record.host_id,
        "host_name": record.host_name,
        "sampled_at": common::timefmt::format(&record.sampled_at),
        "interval_ms": record.interval_ms,
        "container": container,
    });
    Some(Event::default().event("sample").data(data.to_string()))
}

#[utoipa::path(
    get, path = super::paths::WS_METRICS, tag = tags::COMPAT,
    summary = "Live records over WebSocket, in the original collector's shape",
    description = "A WebSocket (GET with Upgrade: websocket) that pushes every newly stored record, whatever format it arrived in, as one compact JSON text frame in the original collector's shape: {\"type\": \"host\", \"hostId\", \"name\", \"timeStamp\" (YYYY-MM-DDTHH:MM:SS, server's TZ), \"cpuUsagePercent\", \"memoryUsedBytes\", \"diskReadBytesDelta\", \"diskWriteBytesDelta\", \"networkDelta\": {iface: {\"rxBytesDelta\", \"txBytesDelta\"}}, \"temperatures\", \"containers\": {id: {\"name\" (with a leading /), …} or {} when not running}}, numbers in Java's Double.toString form, deltas per second, null where not measured. Frames from the client are ignored; a client too far behind is closed.",
    responses((status = 101, description = "Switching to the WebSocket protocol"))
)]
pub async fn ws(
    State(state): State<AppState>,
    Extension(slot): Extension<super::limit::PermitSlot>,
    upgrade: WebSocketUpgrade,
) -> Response {
    socket(&state, slot, upgrade, |p| p.original().clone())
}

#[utoipa::path(
    get, path = super::paths::NATIVE_WS_METRICS, tag = tags::READ,
    summary = "Live records over WebSocket (wire format v1)",
    description = "A WebSocket (GET with Upgrade: websocket) that pushes every newly stored record as one compact JSON text frame, the record in wire format v1 (as the record SSE's data). Frames from the client are ignored; a client too far behind is closed.",
    responses((status = 101, description = "Switching to the WebSocket protocol"))
)]
pub async fn ws_native(
    State(state): State<AppState>,
    Extension(slot): Extension<super::limit::PermitSlot>,
    upgrade: WebSocketUpgrade,
) -> Response {
    socket(&state, slot, upgrade, |p| p.json.clone())
}

/// Upgrades to a WebSocket that sends `frame` of every new record.
fn socket(
    state: &AppState,
    slot: super::limit::PermitSlot,
    upgrade: WebSocketUpgrade,
    frame: fn(&PublishedRecord) -> axum::extract::ws::Utf8Bytes,
) -> Response {
    // subscribed before the handshake answer: nothing stored after it is missed
    let sub = state.hub.subscribe_records();
    // counted among the open streams until the socket closes
    let permit = slot.take();
    upgrade.on_upgrade(move |socket| async move {
        push(socket, sub, frame).await;
        drop(permit);
    })
}

/// Sends each record as a text frame until the client leaves or lags past the hub's capacity
/// (then the socket is closed; the client may reconnect).
async fn push(
    mut socket: WebSocket,
    mut sub: Subscription<PublishedRecord>,
    frame: fn(&PublishedRecord) -> axum::extract::ws::Utf8Bytes,
) {
    loop {
        tokio::select! {
            published = sub.recv() => {
                let Some(published) = published else {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                };
                if socket.send(Message::Text(frame(&published))).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                // pings are answered by the library; other frames from the client are ignored
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
