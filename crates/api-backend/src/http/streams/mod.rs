//! The live streams: the native alert SSE (`/api/v1/alerts/stream`: snapshot on connect,
//! `Last-Event-ID` replay from storage, then live events; with `samples=` one machine's new
//! records too), the compat alert SSE of the original
//! system (`/api/metrics/threshold-alert`), live records as SSE (`/api/v1/metrics/stream`) and
//! as WebSocket frames (`/api/v1/metrics/ws` in v1, `/ws/metrics` in the original's shape). All are reads (behind the read token) and are fed by
//! the [`Hub`](crate::hub::Hub) in [`AppState`].
//!
//! - [`alerts`]: the two alert SSE endpoints; [`replay`]: paging stored events;
//!   [`compat`]: the original system's alert payload.
//! - [`records`]: the record SSE and the two WebSockets.
//! - [`limit`]: how many streams may be open, in total and per client.

mod alerts;
pub(super) mod compat; // also formats the compat threshold endpoints (http::compat_alerts)
pub mod limit;
mod records;
mod replay;

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::http::HeaderMap;
use axum::response::sse::KeepAlive;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::error::{Error, Result};

/// Paths of the streams (each is described in the OpenAPI document).
pub mod paths {
    pub const ALERTS: &str = "/api/v1/alerts/stream";
    pub const COMPAT_ALERTS: &str = "/api/metrics/threshold-alert";
    pub const METRICS: &str = "/api/v1/metrics/stream";
    pub const WS_METRICS: &str = "/ws/metrics";
    pub const NATIVE_WS_METRICS: &str = "/api/v1/metrics/ws";
    /// Every stream path, for the check that each is described.
    #[cfg(test)]
    pub const ALL: [&str; 5] = [ALERTS, COMPAT_ALERTS, METRICS, WS_METRICS, NATIVE_WS_METRICS];
}

/// The stream routes, within `streams`' limits; the caller puts them behind the read-token
/// check.
pub fn routes(streams: std::sync::Arc<limit::Streams>) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(alerts::native))
        .routes(routes!(alerts::compat))
        .routes(routes!(records::sse))
        .routes(routes!(records::ws))
        .routes(routes!(records::ws_native))
        .route_layer(axum::middleware::from_fn_with_state(streams, limit::guard))
}

/// Query parameters of the streams (others, such as `token`, are ignored).
#[derive(Debug, Default, Deserialize)]
pub struct StreamQuery {
    /// Alternative to the `Last-Event-ID` header.
    last_event_id: Option<String>,
    /// `/api/v1/metrics/stream`: a host id or container id.
    machine: Option<String>,
    /// `/api/v1/alerts/stream`: a host id or container id whose samples the stream carries too.
    samples: Option<String>,
}

fn query(q: Result<Query<StreamQuery>, QueryRejection>) -> Result<StreamQuery> {
    q.map(|Query(q)| q).map_err(|e| Error::InvalidParameter(e.body_text()))
}

/// The event id to resume after: the `Last-Event-ID` header, else `?last_event_id=`; none when
/// both are absent or empty.
fn last_event_id(headers: &HeaderMap, q: &StreamQuery) -> Result<Option<u64>> {
    let header = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let Some(text) = header
        .or(q.last_event_id.as_deref())
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return Ok(None);
    };
    text.parse().map(Some).map_err(|_| {
        Error::InvalidParameter(format!(
            "Last-Event-ID must be an event id (a non-negative integer), not {text:?}"
        ))
    })
}

/// The heartbeat comment (`: keep-alive`) every `hub.settings().heartbeat`.
fn keep_alive(state: &AppState) -> KeepAlive {
    KeepAlive::new()
        .interval(state.hub.settings().heartbeat)
        .text("keep-alive")
}

/// The original system's heartbeat (`event:ping`, `data:keepalive`) every
/// `hub.settings().heartbeat`.
fn compat_keep_alive(state: &AppState) -> KeepAlive {
    KeepAlive::new()
        .interval(state.hub.settings().heartbeat)
        .event(axum::response::sse::Event::default().event("ping").data("keepalive"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn last_event_id_comes_from_the_header_first_then_the_query() {
        let mut h = HeaderMap::new();
        let q = StreamQuery {
            last_event_id: Some("7".into()),
            ..StreamQuery::default()
        };
        assert_eq!(last_event_id(&h, &q).unwrap(), Some(7));
        h.insert("last-event-id", HeaderValue::from_static("12"));
        assert_eq!(last_event_id(&h, &q).unwrap(), Some(12));
        assert_eq!(last_event_id(&HeaderMap::new(), &StreamQuery::default()).unwrap(), None);
        h.insert("last-event-id", HeaderValue::from_static(" "));
        assert_eq!(last_event_id(&h, &StreamQuery::default()).unwrap(), None);
        h.insert("last-event-id", HeaderValue::from_static("x1"));
        assert!(last_event_id(&h, &q).is_err());
    }

    #[test]
    fn every_stream_is_described_in_openapi() {
        let spec = serde_json::to_value(crate::http::openapi()).unwrap();
        for path in paths::ALL {
            assert!(spec["paths"][path]["get"].is_object(), "{path} is not in openapi.json");
        }
    }
}
