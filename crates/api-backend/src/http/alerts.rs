//! Alert history and open alerts: `GET /api/v1/alerts?from=&to=&machine=&kind=&state=&cursor=&limit=`
//! (stored events newest first, `{"alerts": [...], "next_cursor": <id>|null}`) and
//! `GET /api/v1/alerts/active` (what the engine has open now).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use chrono::{Duration, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::AppState;
use crate::alerts::AlertEvent;
use crate::error::{Error, Result};
use crate::params;
use crate::store::EventFilter;

/// Events per page: default and maximum.
const PAGE_DEFAULT: u32 = 100;
const PAGE_MAX: u32 = 1000;

/// Query of the history (other parameters, such as `token`, are ignored).
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    from: Option<String>,
    to: Option<String>,
    machine: Option<String>,
    kind: Option<String>,
    state: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

/// A stored event as answered: its id (the SSE event id) and the event.
#[derive(Serialize)]
struct EventView<'a> {
    id: u64,
    #[serde(flatten)]
    event: &'a AlertEvent,
}

pub async fn history(
    State(state): State<AppState>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<Value>> {
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
    let alerts: Vec<EventView<'_>> = events
        .iter()
        .map(|e| EventView {
            id: e.id,
            event: &e.event,
        })
        .collect();
    Ok(Json(json!({ "alerts": alerts, "next_cursor": next_cursor })))
}

pub async fn active(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "alerts": state.alerting.active() }))
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
