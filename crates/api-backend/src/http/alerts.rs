//! Alert history and open alerts: `GET /api/v1/alerts?from=&to=&machine=&kind=&state=&cursor=&limit=`
//! (stored events newest first, `{"alerts": [...], "next_cursor": <id>|null}`) and
//! `GET /api/v1/alerts/active` (what the engine has open now).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use chrono::{Duration, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::alerting::paths;
use super::openapi::tags;
use super::AppState;
use crate::alerts::{ActiveAlert, AlertEvent};
use crate::error::{Error, Result};
use crate::params;
use crate::store::EventFilter;

/// Events per page: default and maximum.
const PAGE_DEFAULT: u32 = 100;
const PAGE_MAX: u32 = 1000;

/// Query of the history (other parameters, such as `token`, are ignored).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// YYYY-MM-DD (UTC) or RFC 3339, inclusive. Default: one day before `to`.
    from: Option<String>,
    /// YYYY-MM-DD (UTC, the whole day) or RFC 3339, inclusive. Default: now.
    to: Option<String>,
    /// A host id or container id.
    machine: Option<String>,
    /// Comma list of threshold, stale, container_died, container_oom, container_unhealthy,
    /// container_id_changed, zero_value.
    kind: Option<String>,
    /// Comma list of pending, firing, resolved, cancelled, info.
    state: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Events per page, 1..1000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

/// A stored event as answered: its id (the SSE event id) and the event.
#[derive(Serialize, utoipa::ToSchema)]
pub struct StoredAlertEvent<'a> {
    /// The event's id: the `id:` of the live stream, and the order of the history.
    id: u64,
    #[serde(flatten)]
    event: &'a AlertEvent,
}

/// `GET /api/v1/alerts`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AlertHistory<'a> {
    /// Newest first.
    alerts: Vec<StoredAlertEvent<'a>>,
    /// The `cursor` of the next page; null on the last one.
    next_cursor: Option<u64>,
}

/// `GET /api/v1/alerts/active`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ActiveAlerts {
    /// Oldest first.
    alerts: Vec<ActiveAlert>,
}

#[utoipa::path(
    get, path = paths::ALERTS, tag = tags::ALERTS,
    summary = "Alert history: every stored alert state change, newest first, paginated",
    params(HistoryQuery),
    responses((status = 200, body = AlertHistory))
)]
pub async fn history(
    State(state): State<AppState>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<axum::response::Response> {
    let Query(q) = query.map_err(|e| Error::InvalidParameter(e.body_text()))?;
    let range = params::range(q.from.as_deref(), q.to.as_deref(), Utc::now(), Some(Duration::days(1)))?;
    let limit = params::limit(q.limit.as_deref(), PAGE_DEFAULT, PAGE_MAX)?;
    let before_id = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            c.parse::<u64>()
                .map_err(|_| Error::InvalidParameter(format!("cursor: {c:?} is not a next_cursor value")))?,
        ),
    };
    let filter = EventFilter {
        from: Some(range.from),
        to: Some(range.to),
        machine_id: q.machine.filter(|m| !m.is_empty()),
        kinds: names("kind", q.kind.as_deref())?,
        states: names("state", q.state.as_deref())?,
        before_id,
        limit: limit + 1,
    };
    let mut events = state.store.alert_events(&filter).await?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next_cursor = events.last().filter(|_| more).map(|e| e.id);
    let alerts: Vec<StoredAlertEvent<'_>> = events
        .iter()
        .map(|e| StoredAlertEvent {
            id: e.id,
            event: &e.event,
        })
        .collect();
    Ok(axum::response::IntoResponse::into_response(Json(AlertHistory {
        alerts,
        next_cursor,
    })))
}

#[utoipa::path(
    get, path = paths::ALERTS_ACTIVE, tag = tags::ALERTS,
    summary = "The open (pending and firing) alerts, oldest first",
    responses((status = 200, body = ActiveAlerts))
)]
pub async fn active(State(state): State<AppState>) -> Json<ActiveAlerts> {
    Json(ActiveAlerts {
        alerts: state.alerting.active(),
    })
}

/// A comma list of snake_case names (`firing,resolved`) of a serde enum.
fn names<T: DeserializeOwned>(param: &str, list: Option<&str>) -> Result<Vec<T>> {
    list.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            serde_json::from_value(Value::String(s.to_owned()))
                .map_err(|e| Error::InvalidParameter(format!("{param}: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{AlertKind, AlertState};

    #[test]
    fn lists_of_names_are_parsed_or_refused_with_the_known_ones() {
        let states: Vec<AlertState> = names("state", Some("firing, resolved")).unwrap();
        assert_eq!(states, [AlertState::Firing, AlertState::Resolved]);
        assert!(names::<AlertKind>("kind", None).unwrap().is_empty());
        let err = names::<AlertKind>("kind", Some("threshold,boom"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("kind: unknown variant `boom`"), "{err}");
        assert!(err.contains("container_died"), "{err}");
    }
}
