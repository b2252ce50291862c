//! The original system's threshold endpoints, same paths and JSON shapes:
//! `GET|POST /api/metrics/threshold-setting` (over values), `GET|POST
//! /api/metrics/under-threshold-setting` (under values), `POST /api/metrics/threshold-history`
//! (`{"targetId"}` → the machine's latest 20 breaches, or `{"date"}` → that day's) and
//! `GET /api/metrics/threshold-history-all` (the latest 50 alerts). Settings are strings in
//! Java's `Double.toString` form, history numbers JSON numbers in that form (`2.0E10`),
//! timestamps `YYYY-MM-DDTHH:MM:SS` in local time (`TZ`). The history lists every event the
//! original had (threshold, zerovalue, timeout, containerIdChanged), with null metricName,
//! threshold and value where it has no metric.
//! A refused request answers 400 `{"error": "<sentence>"}`; a setting crossing the other side
//! adds that side's current values (`overThresholdValues` / `underThresholdValues`).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Local, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::alerting::paths;
use super::openapi::tags;
use super::streams::compat::{java_double, java_number, local_timestamp, machine_name, view, View};
use super::AppState;
use crate::alerting::compat::{self, Side, FIELDS};
use crate::alerts::{AlertKind, AlertState, MachineKind};
use crate::error::{Error, Result};
use crate::store::{EventFilter, StoredEvent};

/// Rows answered for one machine.
const HISTORY_OF_MACHINE: usize = 20;
/// Rows answered for one day at most.
const HISTORY_OF_DAY: usize = 10_000;
/// Rows answered by history-all.
const HISTORY_ALL: usize = 50;
/// Stored events read per page while looking for rows with a compat form.
const HISTORY_PAGE: u32 = 500;
/// Pages read at most for one answer (events of native metrics have no compat row).
const HISTORY_PAGES: u32 = 40;

/// A compat 400: `{"error": "<sentence>"}`, with the other side's values when a setting
/// crossed them.
struct Refused {
    sentence: String,
    other: Option<(Side, compat::Values)>,
}

impl Refused {
    fn new(sentence: String) -> Refused {
        Refused { sentence, other: None }
    }
}

/// The body of a compat 400.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    /// A sentence for the person who sent the request.
    error: String,
    /// When an under value crossed the over one: the over values enforced.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Settings>)]
    over_threshold_values: Option<Ordered>,
    /// When an over value crossed the under one: the under values enforced.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Settings>)]
    under_threshold_values: Option<Ordered>,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut body = Refusal {
            error: self.sentence,
            over_threshold_values: None,
            under_threshold_values: None,
        };
        match self.other {
            Some((Side::Over, values)) => body.over_threshold_values = Some(Ordered::of(&values)),
            Some((Side::Under, values)) => body.under_threshold_values = Some(Ordered::of(&values)),
            None => {}
        }
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    }
}

/// The seven settings as JSON, in the original's key order, values in Java's
/// `Double.toString` form.
pub struct Ordered(Vec<(&'static str, String)>);

impl Ordered {
    fn of(values: &compat::Values) -> Ordered {
        Ordered(
            FIELDS
                .iter()
                .zip(values)
                .map(|(f, &v)| (f.name, java_double(v)))
                .collect(),
        )
    }
}

impl Serialize for Ordered {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
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
pub async fn get_over(State(state): State<AppState>) -> Result<Json<Ordered>> {
    settings(&state, Side::Over).await
}

#[utoipa::path(
    get, path = paths::COMPAT_UNDER, tag = tags::COMPAT,
    summary = "The under thresholds enforced (defaults 0, temperature 5)",
    responses((status = 200, body = Settings))
)]
pub async fn get_under(State(state): State<AppState>) -> Result<Json<Ordered>> {
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

async fn settings(state: &AppState, side: Side) -> Result<Json<Ordered>> {
    Ok(Json(Ordered::of(&state.alerting.compat_values(side).await?)))
}

async fn save(state: &AppState, side: Side, body: Result<Bytes, BytesRejection>) -> Response {
    let values = match json_body(body).and_then(|v| compat::parse_values(&v)) {
        Ok(values) => values,
        Err(sentence) => return Refused::new(sentence).into_response(),
    };
    match state.alerting.set_compat_values(side, values).await {
        Ok(()) => Json(Saved { message: "ok" }).into_response(),
        Err(Error::InvalidBody(sentence)) => {
            let other = state.alerting.compat_values(side.other()).await.ok();
            Refused {
                sentence,
                other: other.map(|v| (side.other(), v)),
            }
            .into_response()
        }
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
    summary = "Alerts of one machine (latest 20) or of one local day: threshold breaches, zerovalue, timeout and containerIdChanged rows",
    request_body = HistoryAsk,
    responses((status = 200, body = Vec<Breach>), (status = 400, body = Refusal, description = "Refused"))
)]
pub async fn history(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let query = match json_body(body).and_then(|v| history_query(&v)) {
        Ok(q) => q,
        Err(sentence) => return Refused::new(sentence).into_response(),
    };
    let mut filter = compat_filter();
    let want = match query {
        HistoryQuery::Machine(id) => {
            filter.machine_id = Some(id);
            HISTORY_OF_MACHINE
        }
        HistoryQuery::Day(from, to) => {
            filter.from = Some(from);
            filter.to = Some(to);
            HISTORY_OF_DAY
        }
    };
    match compat_events(&state, filter, want).await {
        Ok(rows) => Json(rows.iter().map(|(e, v)| breach(e, v)).collect::<Vec<_>>()).into_response(),
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
    let rows = compat_events(&state, compat_filter(), HISTORY_ALL).await?;
    let mut host_ids: Vec<String> = rows.iter().filter_map(|(e, _)| e.event.host_id.clone()).collect();
    host_ids.sort_unstable();
    host_ids.dedup();
    let host_names: HashMap<String, String> = state.store.host_names(&host_ids).await?.into_iter().collect();
    Ok(Json(
        rows.iter().map(|(e, v)| history_entry(e, v, &host_names)).collect(),
    ))
}

/// The stored events that can have a compat form, newest first.
fn compat_filter() -> EventFilter {
    EventFilter {
        kinds: vec![
            AlertKind::Threshold,
            AlertKind::ZeroValue,
            AlertKind::Stale,
            AlertKind::ContainerIdChanged,
        ],
        states: vec![AlertState::Firing, AlertState::Info],
        limit: HISTORY_PAGE,
        ..EventFilter::default()
    }
}

/// Up to `want` newest events of `filter` that have a compat form, with it: a page at a time,
/// as events of metrics the original did not have are left out.
async fn compat_events(state: &AppState, mut filter: EventFilter, want: usize) -> Result<Vec<(StoredEvent, View)>> {
    let mut rows = Vec::new();
    for _ in 0..HISTORY_PAGES {
        let page = state.store.alert_events(&filter).await?;
        let full = page.len() >= filter.limit as usize;
        filter.before_id = page.last().map(|e| e.id);
        for e in page {
            if let Some(v) = view(&e.event) {
                rows.push((e, v));
                if rows.len() == want {
                    return Ok(rows);
                }
            }
        }
        if !full {
            break;
        }
    }
    Ok(rows)
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

/// One row of a machine's or a day's history.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Breach {
    /// `YYYY-MM-DDTHH:MM:SS`, local time (`TZ`).
    timestamp: String,
    target_id: String,
    /// cpu, memory, diskReadDelta, diskWriteDelta, networkRx, networkTx, temperature; null on
    /// zerovalue, timeout and containerIdChanged rows.
    metric_name: Option<&'static str>,
    /// A number in Java's `Double.toString` form (`2.0E10`); null without a metric.
    #[schema(value_type = Option<f64>)]
    threshold: Option<Box<RawValue>>,
    #[schema(value_type = Option<f64>)]
    value: Option<Box<RawValue>>,
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
    /// A container's starts with `/`.
    machine_name: String,
    metric_name: Option<&'static str>,
    host_name: String,
    /// A number in Java's `Double.toString` form (`2.0E10`); null without a metric.
    #[schema(value_type = Option<f64>)]
    threshold: Option<Box<RawValue>>,
    #[schema(value_type = Option<f64>)]
    value: Option<Box<RawValue>>,
}

fn breach(e: &StoredEvent, v: &View) -> Breach {
    let ev = &e.event;
    Breach {
        timestamp: local_timestamp(ev.at),
        target_id: ev.key.machine_id.clone(),
        metric_name: v.metric_name,
        threshold: v.threshold.and_then(java_number),
        value: v.value.and_then(java_number),
    }
}

fn history_entry(e: &StoredEvent, v: &View, host_names: &HashMap<String, String>) -> HistoryEntry {
    let ev = &e.event;
    let host_name = match ev.machine_kind {
        MachineKind::Host => ev.machine_name.clone(),
        MachineKind::Container => {
            let host = ev.host_id.clone().unwrap_or_default();
            host_names.get(&host).cloned().unwrap_or(host)
        }
    };
    HistoryEntry {
        timestamp: local_timestamp(ev.at),
        message_type: v.message_type,
        machine_type: ev.machine_kind,
        machine_id: ev.key.machine_id.clone(),
        machine_name: machine_name(ev.machine_kind, &ev.machine_name),
        metric_name: v.metric_name,
        host_name,
        threshold: v.threshold.and_then(java_number),
        value: v.value.and_then(java_number),
    }
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
