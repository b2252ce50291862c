//! Native reads: `GET /api/v1/machines`, `GET /api/v1/machines/{id}/samples` (raw samples, or
//! buckets of a `step` from the tier that fits: raw, minute or hour) and
//! `GET /api/v1/machines/{id}/events`.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Duration, TimeDelta, Utc};
use common::timefmt::format;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::AppState;
use crate::error::{Error, Result};
use crate::params::{self, TierChoice};
use crate::rollup::{metric_names, Bucket};
use crate::store::{Kind, Retention, Source, Tier};

/// Samples per response: default and maximum.
const SAMPLES_DEFAULT: u32 = 1000;
const SAMPLES_MAX: u32 = 10_000;
/// Events per response: default and maximum.
const EVENTS_DEFAULT: u32 = 100;
const EVENTS_MAX: u32 = 1000;

/// `?from=&to=&limit=` (other parameters, such as `token`, are ignored here).
#[derive(Debug, Deserialize)]
pub struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
}

/// `?from=&to=&limit=&step=&metric=&tier=`.
#[derive(Debug, Deserialize)]
pub struct SamplesQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    step: Option<String>,
    metric: Option<String>,
    tier: Option<String>,
}

pub async fn machines(State(state): State<AppState>) -> Result<Json<Value>> {
    let machines = state.store.machines(Utc::now()).await?;
    Ok(Json(json!({ "machines": machines })))
}

/// `GET /api/v1/fleet`: every host with its containers, statuses, newest values and open alerts.
pub async fn fleet(State(state): State<AppState>) -> Result<Json<crate::fleet::Fleet>> {
    let now = Utc::now();
    let machines = state.store.machines(now).await?;
    let latest = state.latest.known(now);
    Ok(Json(crate::fleet::build(machines, &latest, &state.alerting.active())))
}

/// `GET /metrics/machines`: the hosts and their containers, in Prometheus text format.
pub async fn machine_metrics(State(state): State<AppState>) -> Result<impl IntoResponse> {
    let body =
        crate::exposition::render(state.latest.known(Utc::now())).map_err(|e| Error::Io(std::io::Error::other(e)))?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    ))
}

pub async fn samples(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<SamplesQuery>, QueryRejection>,
) -> Result<Json<Value>> {
    let (Path(id), Query(q)) = (id.map_err(bad_path)?, query.map_err(bad_query)?);
    let now = Utc::now();
    let range = params::range(q.from.as_deref(), q.to.as_deref(), now, Some(Duration::hours(1)))?;
    let limit = params::limit(q.limit.as_deref(), SAMPLES_DEFAULT, SAMPLES_MAX)?;
    let step = params::step(q.step.as_deref())?;
    let tier = params::tier(q.tier.as_deref())?;
    let machine = state.store.resolve(&id).await?;
    let fields = selected(machine.kind, q.metric.as_deref())?;
    let head = |tier: &str| {
        json!({
            "id": machine.ext_id,
            "kind": machine.kind.as_str(),
            "name": machine.name,
            "from": format(&range.from),
            "to": format(&range.to),
            "tier": tier,
        })
    };
    let Some((source, width)) = choose(tier, step, range.from, now, &state.retention) else {
        // raw samples, paged by `limit`, as the API always answered
        let (samples, more) = state.store.samples(&machine, range.from, range.to, limit).await?;
        let next_from = samples
            .last_time()
            .filter(|_| more)
            .map(|t| format(&(t + Duration::milliseconds(1))));
        let mut out = head("raw");
        let mut samples = serde_json::to_value(&samples).map_err(|e| Error::InvalidParameter(e.to_string()))?;
        if let (Some(fields), Some(list)) = (&fields, samples.as_array_mut()) {
            for s in list.iter_mut().filter_map(Value::as_object_mut) {
                s.retain(|k, _| k == "sampled_at" || fields.iter().any(|f| f == k));
            }
        }
        out["samples"] = samples;
        out["next_from"] = json!(next_from);
        return Ok(Json(out));
    };
    let buckets_asked = (range.to - range.from).num_milliseconds() / width.num_milliseconds().max(1);
    if buckets_asked > i64::from(SAMPLES_MAX) {
        return Err(Error::InvalidParameter(format!(
            "step: {} s over this range makes {buckets_asked} points, more than {SAMPLES_MAX}; use a larger step",
            width.num_milliseconds() as f64 / 1000.0
        )));
    }
    let names = metric_names(machine.kind);
    let wanted: Vec<usize> = match &fields {
        None => (0..names.len()).collect(),
        Some(f) => (0..names.len()).filter(|i| f.iter().any(|n| n == names[*i])).collect(),
    };
    let buckets = state
        .store
        .buckets(&machine, source, range.from, range.to, width, wanted.clone())
        .await?;
    let mut out = head(source.as_str());
    out["step"] = json!(width.num_milliseconds() as f64 / 1000.0);
    out["samples"] = Value::Array(buckets.iter().map(|b| bucket_json(b, &names, &wanted)).collect());
    out["next_from"] = Value::Null;
    Ok(Json(out))
}

/// Which source and bucket width answer a request; `None`: raw samples as they are.
fn choose(
    tier: TierChoice,
    step: Option<TimeDelta>,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
    retention: &Retention,
) -> Option<(Source, TimeDelta)> {
    let kept = |d: std::time::Duration| now - TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX / 2);
    let source = match tier {
        TierChoice::Raw => Source::Raw,
        TierChoice::Minute => Source::Rollup(Tier::Minute),
        TierChoice::Hour => Source::Rollup(Tier::Hour),
        // without a step: raw samples, as this endpoint always answered
        TierChoice::Auto if step.is_none() => return None,
        TierChoice::Auto => {
            // the coarsest tier whose buckets are at most twice the step, then a coarser one
            // when the range starts before that tier's retention
            let step = step.unwrap_or_default();
            let mut source = if step * 2 >= Tier::Hour.width() {
                Source::Rollup(Tier::Hour)
            } else if step * 2 >= Tier::Minute.width() {
                Source::Rollup(Tier::Minute)
            } else {
                Source::Raw
            };
            if source == Source::Raw && from < kept(retention.raw) {
                source = Source::Rollup(Tier::Minute);
            }
            if source == Source::Rollup(Tier::Minute) && from < kept(retention.minute) {
                source = Source::Rollup(Tier::Hour);
            }
            source
        }
    };
    let width = match (source, step) {
        (Source::Raw, None) => return None,
        (Source::Raw, Some(step)) => step,
        (Source::Rollup(t), step) => {
            // a whole number of the tier's buckets
            let w = t.width().num_milliseconds();
            let s = step.map_or(w, |s| s.num_milliseconds());
            TimeDelta::milliseconds(((s + w - 1) / w).max(1) * w)
        }
    };
    Some((source, width))
}

/// `metric=a,b`: the fields to answer with (`None`: all); unknown names are an error.
fn selected(kind: Kind, metric: Option<&str>) -> Result<Option<Vec<String>>> {
    let Some(list) = metric.filter(|m| !m.trim().is_empty()) else {
        return Ok(None);
    };
    let known = metric_names(kind);
    let raw = match kind {
        Kind::Host => RAW_HOST_FIELDS,
        Kind::Container => RAW_CONTAINER_FIELDS,
    };
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !known.contains(&name) && !raw.contains(&name) {
            return Err(Error::InvalidParameter(format!(
                "metric: {name:?} is not a {} metric; known: {}",
                kind.as_str(),
                known.join(", ")
            )));
        }
        out.push(name.to_owned());
    }
    Ok(Some(out))
}

/// Raw sample fields a `metric=` may name besides the rollup metrics.
const RAW_HOST_FIELDS: &[&str] = &[
    "cpu_cores",
    "per_core_percent",
    "mem_total_bytes",
    "swap_total_bytes",
    "interfaces",
    "filesystems",
    "temperatures_c",
    "uptime_secs",
];
const RAW_CONTAINER_FIELDS: &[&str] = &["state", "health", "restart_count", "mem_limit_bytes"];

/// A bucket as JSON: the averages under the metric names (so a chart of a field works on any
/// tier), then `min`, `max`, `last` and `count` per metric.
fn bucket_json(b: &Bucket, names: &[&str], wanted: &[usize]) -> Value {
    let mut out = Map::new();
    out.insert("sampled_at".into(), json!(format(&b.start)));
    let (mut min, mut max, mut last, mut count) = (Map::new(), Map::new(), Map::new(), Map::new());
    for i in wanted {
        let name = names[*i].to_owned();
        if let Some(s) = b.stats[*i] {
            out.insert(name.clone(), json!(s.avg()));
            min.insert(name.clone(), json!(s.min));
            max.insert(name.clone(), json!(s.max));
            count.insert(name.clone(), json!(s.n));
        }
        if let Some(v) = b.last[*i] {
            last.insert(name, json!(v));
        }
    }
    out.insert("min".into(), Value::Object(min));
    out.insert("max".into(), Value::Object(max));
    out.insert("last".into(), Value::Object(last));
    out.insert("count".into(), Value::Object(count));
    Value::Object(out)
}

pub async fn events(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Json<Value>> {
    let (Path(id), Query(q)) = (id.map_err(bad_path)?, query.map_err(bad_query)?);
    let range = params::range(q.from.as_deref(), q.to.as_deref(), Utc::now(), None)?;
    let limit = params::limit(q.limit.as_deref(), EVENTS_DEFAULT, EVENTS_MAX)?;
    let machine = state.store.resolve(&id).await?;
    let events = state.store.events(&machine, range.from, range.to, limit).await?;
    Ok(Json(
        json!({"id": machine.ext_id, "kind": machine.kind.as_str(), "events": events}),
    ))
}

fn bad_path(e: PathRejection) -> Error {
    Error::InvalidParameter(e.body_text())
}

fn bad_query(e: QueryRejection) -> Error {
    Error::InvalidParameter(e.body_text())
}
