//! The alert SSE endpoints. Both subscribe to the hub first, then replay from storage what a
//! reconnecting client missed (`Last-Event-ID`), then follow live events, skipping live ones
//! the replay already sent: no gap, no duplicate.
//!
//! - native `/api/v1/alerts/stream`: without `Last-Event-ID` it starts with `event: snapshot`
//!   (the active alerts as a JSON array); each change is `event: alert`, `id: <id>`,
//!   `data: <AlertEvent JSON>`. With `samples=<machine id>` it carries that machine's new
//!   records too (as `records` renders them, without `id:`), so a dashboard page needs one
//!   connection for its alerts and its live chart.
//! - compat `/api/metrics/threshold-alert`: unnamed events with the original system's payload,
//!   only for events that have a compat `messageType`; they carry `id:` too, so a reconnect
//!   resumes the same way.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use sqlx::MySqlPool;

use super::replay::{self, Page};
use super::{compat as payload, compat_keep_alive, keep_alive, last_event_id, query, StreamQuery};
use crate::error::Result;
use crate::http::openapi::tags;
use crate::http::AppState;
use crate::hub::{PublishedAlert, Subscription};

#[utoipa::path(
    get, path = super::paths::ALERTS, tag = tags::READ,
    summary = "Live alert events (Server-Sent Events)",
    description = "Subscribes first, then: without Last-Event-ID, `event: snapshot` whose data is the JSON array of the active alerts (as /api/v1/alerts/active); with Last-Event-ID, every stored event after that id, oldest first; then live events, each `event: alert`, `id: <monotonic event id>`, `data: <alert event JSON>`, without gap or duplicate. A `: keep-alive` comment is sent every 15 s when idle. A client that falls more than the hub's capacity (1024 events) behind is disconnected; it reconnects with Last-Event-ID and misses nothing.",
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id: every stored event with a greater id is replayed first (browsers' EventSource sends it on reconnect)."),
        ("last_event_id" = Option<u64>, Query, description = "Same as the Last-Event-ID header, for clients that cannot send it."),
        ("samples" = Option<String>, Query, description = "A host id or container id: the stream also carries that machine's new samples, live, as `/api/v1/metrics/stream?machine=` sends them (`event: record` or `event: sample`, without `id:`), so a page needs one connection for both. The stream ends when either part falls too far behind."),),
    responses((status = 200, description = "The event stream", content_type = "text/event-stream"))
)]
pub async fn native(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<StreamQuery>, QueryRejection>,
) -> Result<Response> {
    let q = query(q)?;
    let after = last_event_id(&headers, &q)?;
    let sub = state.hub.subscribe_alerts();
    // subscribed before the replay starts: no record stored meanwhile is missed
    let samples = q
        .samples
        .filter(|m| !m.is_empty())
        .map(|m| super::records::events(state.hub.subscribe_records(), Some(m)));
    let snapshot = match after {
        Some(_) => None,
        None => Some(snapshot_event(&state)),
    };
    let alerts = events(&state, sub, after).await?.map(|a| {
        Event::default()
            .event("alert")
            .id(a.id.to_string())
            .data(a.json.as_str())
    });
    let alerts = stream::iter(snapshot).chain(alerts);
    let stream = match samples {
        None => alerts.boxed(),
        Some(samples) => until_either_ends(alerts, samples).boxed(),
    };
    Ok(Sse::new(stream.map(Ok::<_, Infallible>))
        .keep_alive(keep_alive(&state))
        .into_response())
}

#[utoipa::path(
    get, path = super::paths::COMPAT_ALERTS, tag = tags::COMPAT,
    summary = "Alerts in the original system's SSE form",
    description = "Unnamed events (no `event:` line), one per alert that starts firing (and per container re-creation), with `id:` set to the event id so a reconnect with Last-Event-ID resumes from storage. `data`: {\"messageType\": \"thresholdExceeded|thresholdDeceeded|zerovalue|containerIdChanged|timeout\", \"machineId\", \"machineName\", \"metricName\", \"threshold\", \"value\", \"timestamp\"}; threshold and value are strings (e.g. \"85.0\", \"2.0E10\"), timestamp `YYYY-MM-DDTHH:MM:SS` in the server's TZ; metricName is the original's (cpu, memory, diskReadDelta, diskWriteDelta, networkRx, networkTx, temperature; alerts of other metrics are not on this stream); machineName of a container starts with `/`; zerovalue, containerIdChanged and timeout have no metricName, threshold or value. Keys in that order. An `event: ping` with `data: keepalive` every 15 s when idle, as the original.",
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id: every stored event with a greater id is replayed first (browsers' EventSource sends it on reconnect)."),
        ("last_event_id" = Option<u64>, Query, description = "Same as the Last-Event-ID header, for clients that cannot send it."),),
    responses((status = 200, description = "The event stream", content_type = "text/event-stream"))
)]
pub async fn compat(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<StreamQuery>, QueryRejection>,
) -> Result<Response> {
    let after = last_event_id(&headers, &query(q)?)?;
    let sub = state.hub.subscribe_alerts();
    let events = events(&state, sub, after).await?.filter_map(|a| async move {
        let data = payload::message(&a.event)?;
        let data = serde_json::to_string(&data).ok()?;
        Some(Ok::<_, Infallible>(Event::default().id(a.id.to_string()).data(data)))
    });
    Ok(Sse::new(events).keep_alive(compat_keep_alive(&state)).into_response())
}

/// The events of both streams as they come, ending when either one ends.
fn until_either_ends(
    a: impl Stream<Item = Event> + Send + 'static,
    b: impl Stream<Item = Event> + Send + 'static,
) -> impl Stream<Item = Event> {
    let end = || stream::once(async { None });
    stream::select(a.map(Some).chain(end()), b.map(Some).chain(end())).scan((), |(), e| async move { e })
}

fn snapshot_event(state: &AppState) -> Event {
    let active = state.hub.active_alerts();
    let data = serde_json::to_string(&active).unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot serialise the active alerts");
        "[]".to_owned()
    });
    Event::default().event("snapshot").data(data)
}

/// Stored events after `after` (when given), then the live events of `sub` with greater ids.
/// The first page is read before the response starts, so a storage outage answers 503; a
/// later failure ends the stream (the client resumes from its last id).
async fn events(
    state: &AppState,
    sub: Subscription<PublishedAlert>,
    after: Option<u64>,
) -> Result<impl Stream<Item = Arc<PublishedAlert>>> {
    let pool = state.store.pool().clone();
    let mut cursor = Cursor {
        sub,
        pool,
        after: after.unwrap_or(0),
        pending: VecDeque::new(),
        more_stored: false,
    };
    if after.is_some() {
        let first = replay::page(&cursor.pool, cursor.after).await?;
        cursor.take(first);
    }
    Ok(stream::unfold(cursor, |mut c| async move {
        let next = c.next().await?;
        Some((next, c))
    }))
}

/// Where an alert stream is: replayed events not sent yet, whether storage may hold more, and
/// the id of the last event sent.
struct Cursor {
    sub: Subscription<PublishedAlert>,
    pool: MySqlPool,
    after: u64,
    pending: VecDeque<Arc<PublishedAlert>>,
    more_stored: bool,
}

impl Cursor {
    fn take(&mut self, page: Page) {
        self.pending.extend(page.events);
        self.more_stored = page.full;
        if let Some(last) = page.last_id {
            // rows left out still count as read
            self.after = self.after.max(last);
        }
    }

    async fn next(&mut self) -> Option<Arc<PublishedAlert>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.more_stored {
                match replay::page(&self.pool, self.after).await {
                    Ok(page) => self.take(page),
                    Err(e) => {
                        tracing::warn!(error = %e, "alert replay failed; ending the stream");
                        return None;
                    }
                }
                continue;
            }
            let live = self.sub.recv().await?;
            if live.id > self.after {
                self.after = live.id;
                return Some(live);
            }
        }
    }
}
