//! The original system's threshold endpoints, same paths and JSON shapes:
//! `GET|POST /api/metrics/threshold-setting` (over values), `GET|POST
//! /api/metrics/under-threshold-setting` (under values), `POST /api/metrics/threshold-history`
//! (`{"targetId"}` → the machine's latest 20 breaches, or `{"date"}` → that day's) and
//! `GET /api/metrics/threshold-history-all` (the latest 50 alerts). Numbers are strings in
//! Java's `Double.toString` form, timestamps `YYYY-MM-DDTHH:MM:SS` in local time (`TZ`).
//! A refused request answers 400 `{"error": "<sentence>", "status": 400}`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Local, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::alerting::paths;
use super::openapi::tags;
use super::streams::compat::{java_double, local_timestamp, metric_name};
use super::AppState;
use crate::alerting::compat::{self, Side, FIELDS};
use crate::alerts::{AlertKind, AlertState, MachineKind};
use crate::error::{Error, Result};
use crate::store::{EventFilter, StoredEvent};

/// Breaches answered for one machine.
const HISTORY_OF_MACHINE: u32 = 20;
/// Breaches answered for one day at most.
const HISTORY_OF_DAY: u32 = 10_000;
/// Alerts answered by history-all.
const HISTORY_ALL: u32 = 50;

/// A compat 400: `{"error": "<sentence>", "status": 400}`.
struct Refused(String);

/// The body of a compat 400.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Refusal {
    /// A sentence for the person who sent the request.
    error: String,
    /// 400.
    status: u16,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let body = Refusal {
            error: self.0,
            status: 400,
        };
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    }
}

/// `{"message": "ok"}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Saved {
    message: &'static str,
}

/// The seven settings, each a number in Java's `Double.toString` form (`"85.0"`, `"2.0E10"`).
pub struct Settings;

/// The seven settings to save, each a number or a numeric string.
pub struct NewSettings;

fn settings_schema(value: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>) -> utoipa::openapi::schema::Schema {
    let mut object = utoipa::openapi::ObjectBuilder::new();
    for f in &FIELDS {
        object = object.property(f.name, value.clone()).required(f.name);
    }
    object.into()
}

impl utoipa::PartialSchema for Settings {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        settings_schema(ObjectBuilder::new().schema_type(Type::String).into()).into()
    }
}

impl utoipa::ToSchema for Settings {}

impl utoipa::PartialSchema for NewSettings {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        let number_or_text = ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::Number, Type::String]));
        settings_schema(number_or_text.into()).into()
    }
}

impl utoipa::ToSchema for NewSettings {}

#[utoipa::path(
    get, path = paths::COMPAT_OVER, tag = tags::COMPAT,
    summary = "The over thresholds enforced (defaults: cpuPercent 85, memoryUsage 2.0E10, diskRead/WriteDelta 4.0E7, networkRx/Tx 300000, temperature 50)",
    responses((status = 200, body = Settings))
)]
pub async fn get_over(State(state): State<AppState>) -> Result<Json<Value>> {
    settings(&state, Side::Over).await
}

#[utoipa::path(
    get, path = paths::COMPAT_UNDER, tag = tags::COMPAT,
    summary = "The under thresholds enforced (defaults 0, temperature 5)",
    responses((status = 200, body = Settings))
)]
pub async fn get_under(State(state): State<AppState>) -> Result<Json<Value>> {
    settings(&state, Side::Under).await
}

#[utoipa::path(
    post, path = paths::COMPAT_OVER, tag = tags::COMPAT,
    summary = "Save the over thresholds (global above rules, host and container; kept across restarts)",
    request_body = NewSettings,
    responses((status = 200, body = Saved), (status = 400, body = Refusal, description = "Refused"))
)]
pub async fn post_over(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    save(&state, Side::Over, body).await
}

#[utoipa::path(
    post, path = paths::COMPAT_UNDER, tag = tags::COMPAT,
    summary = "Save the under thresholds (global below rules)",
    request_body = NewSettings,
    responses((status = 200, body = Saved), (status = 400, body = Refusal, description = "Refused"))
)]
pub async fn post_under(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    save(&state, Side::Under, body).await
}

async fn settings(state: &AppState, side: Side) -> Result<Json<Value>> {
    let values = state.alerting.compat_values(side).await?;
    let body: Map<String, Value> = FIELDS
        .iter()
        .zip(values)
        .map(|(f, v)| (f.name.to_owned(), Value::String(java_double(v))))
        .collect();
    Ok(Json(Value::Object(body)))
}

async fn save(state: &AppState, side: Side, body: Result<Bytes, BytesRejection>) -> Response {
    let values = match json_body(body).and_then(|v| compat::parse_values(&v)) {
        Ok(values) => values,
        Err(sentence) => return Refused(sentence).into_response(),
    };
    match state.alerting.set_compat_values(side, values).await {
        Ok(()) => Json(Saved { message: "ok" }).into_response(),
        Err(Error::InvalidBody(sentence)) => Refused(sentence).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /api/metrics/threshold-history`'s body: one of the two.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema only: the body is read by history_query
pub struct HistoryAsk {
    /// A machine id: its latest 20 breaches.
    #[schema(rename = "targetId")]
    target_id: Option<String>,
    /// A local day `YYYY-MM-DD`: that day's breaches.
    date: Option<String>,
}

/// `POST /api/metrics/threshold-history`.
#[utoipa::path(
    post, path = paths::COMPAT_HISTORY, tag = tags::COMPAT,
    summary = "Threshold breaches (firing events) of one machine (latest 20) or of one local day",
    request_body = HistoryAsk,
    responses((status = 200, body = Vec<Breach>), (status = 400, body = Refusal, description = "Refused"))
)]
pub async fn history(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let query = match json_body(body).and_then(|v| history_query(&v)) {
        Ok(q) => q,
        Err(sentence) => return Refused(sentence).into_response(),
    };
    let mut filter = EventFilter {
        kinds: vec![AlertKind::Threshold],
        states: vec![AlertState::Firing],
        ..EventFilter::default()
    };
    match query {
        HistoryQuery::Machine(id) => {
            filter.machine_id = Some(id);
            filter.limit = HISTORY_OF_MACHINE;
        }
        HistoryQuery::Day(from, to) => {
            filter.from = Some(from);
            filter.to = Some(to);
            filter.limit = HISTORY_OF_DAY;
        }
    }
    match state.store.alert_events(&filter).await {
        Ok(events) => Json(events.iter().map(breach).collect::<Vec<_>>()).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /api/metrics/threshold-history-all`: the latest alerts that have a compat form.
#[utoipa::path(
    get, path = paths::COMPAT_HISTORY_ALL, tag = tags::COMPAT,
    summary = "The latest 50 alerts that had a compat messageType",
    responses((status = 200, body = Vec<HistoryEntry>))
)]
pub async fn history_all(State(state): State<AppState>) -> Result<Json<Vec<HistoryEntry>>> {
    let filter = EventFilter {
        kinds: vec![
            AlertKind::Threshold,
            AlertKind::ZeroValue,
            AlertKind::Stale,
            AlertKind::ContainerIdChanged,
        ],
        states: vec![AlertState::Firing, AlertState::Info],
        limit: HISTORY_ALL,
        ..EventFilter::default()
    };
    let events = state.store.alert_events(&filter).await?;
    let mut host_ids: Vec<String> = events.iter().filter_map(|e| e.event.host_id.clone()).collect();
    host_ids.sort_unstable();
    host_ids.dedup();
    let host_names: HashMap<String, String> = state.store.host_names(&host_ids).await?.into_iter().collect();
    Ok(Json(
        events.iter().filter_map(|e| history_entry(e, &host_names)).collect(),
    ))
}

enum HistoryQuery {
    Machine(String),
    /// The local day as a UTC range `[from, to)`.
    Day(DateTime<Utc>, DateTime<Utc>),
}

fn history_query(body: &Value) -> Result<HistoryQuery, String> {
    let text = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    match (text("targetId"), text("date")) {
        (Some(id), None) => Ok(HistoryQuery::Machine(id.to_owned())),
        (None, Some(date)) => {
            let day = NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map_err(|_| format!("date: {date:?} is not a YYYY-MM-DD date"))?;
            Ok(HistoryQuery::Day(
                local_midnight(day)?,
                local_midnight(day.succ_opt().unwrap_or(day))?,
            ))
        }
        _ => Err("give either targetId (a machine id) or date (YYYY-MM-DD)".to_owned()),
    }
}

/// The first instant of a local (`TZ`) day, in UTC.
fn local_midnight(day: NaiveDate) -> Result<DateTime<Utc>, String> {
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    Local
        .from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("date: {day} has no midnight in the local time zone"))
}

fn json_body(body: Result<Bytes, BytesRejection>) -> Result<Value, String> {
    let bytes = body.map_err(|e| e.body_text())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("the body is not JSON: {e}"))
}

fn number(v: Option<f64>) -> Option<String> {
    v.map(java_double)
}

/// A threshold breach.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Breach {
    /// `YYYY-MM-DDTHH:MM:SS`, local time (`TZ`).
    timestamp: String,
    target_id: String,
    metric_name: Option<&'static str>,
    /// Java's `Double.toString` form.
    threshold: Option<String>,
    value: Option<String>,
}

/// An alert of the history, in the original's form.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// `YYYY-MM-DDTHH:MM:SS`, local time (`TZ`).
    timestamp: String,
    /// thresholdExceeded, thresholdDeceeded, zerovalue, timeout, containerIdChanged.
    message_type: &'static str,
    machine_type: MachineKind,
    machine_id: String,
    machine_name: String,
    metric_name: Option<&'static str>,
    host_name: String,
    threshold: Option<String>,
    value: Option<String>,
}

fn breach(e: &StoredEvent) -> Breach {
    let ev = &e.event;
    Breach {
        timestamp: local_timestamp(ev.at),
        target_id: ev.key.machine_id.clone(),
        metric_name: ev.metric.map(metric_name),
        threshold: number(ev.threshold),
        value: number(ev.value),
    }
}

fn history_entry(e: &StoredEvent, host_names: &HashMap<String, String>) -> Option<HistoryEntry> {
    let ev = &e.event;
    let message_type = ev.compat_message_type()?;
    let host_name = match ev.machine_kind {
        MachineKind::Host => ev.machine_name.clone(),
        MachineKind::Container => {
            let host = ev.host_id.clone().unwrap_or_default();
            host_names.get(&host).cloned().unwrap_or(host)
        }
    };
    Some(HistoryEntry {
        timestamp: local_timestamp(ev.at),
        message_type,
        machine_type: ev.machine_kind,
        machine_id: ev.key.machine_id.clone(),
        machine_name: ev.machine_name.clone(),
        metric_name: ev.metric.map(metric_name),
        host_name,
        threshold: number(ev.threshold),
        value: number(ev.value),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_history_query_names_a_machine_or_a_day() {
        assert!(matches!(
            history_query(&json!({"targetId": "h1"})),
            Ok(HistoryQuery::Machine(id)) if id == "h1"
        ));
        let Ok(HistoryQuery::Day(from, to)) = history_query(&json!({"date": "2026-03-01"})) else {
            panic!("a day")
        };
        assert_eq!(to - from, chrono::Duration::days(1));
        for bad in [
            json!({}),
            json!({"targetId": "h", "date": "2026-03-01"}),
            json!({"date": "yesterday"}),
        ] {
            assert!(history_query(&bad).is_err(), "{bad}");
        }
    }
}
