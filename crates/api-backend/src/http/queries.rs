//! Native reads: `GET /api/v1/machines`, `GET /api/v1/fleet`, `GET /api/v1/machines/{id}/samples`
//! (raw samples, or buckets of a `step` from the tier that fits: raw, minute or hour, with the
//! statistics `stats` names), `GET /api/v1/machines/{id}/events`, and `GET /metrics/machines`
//! (Prometheus text).

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, TimeDelta, Utc};
use common::timefmt::format;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::Value;

use super::openapi::tags;
use super::{paths, AppState};
use crate::alerts::MachineKind;
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
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// RFC 3339 timestamp or YYYY-MM-DD (inclusive). Default: no lower bound.
    from: Option<String>,
    /// RFC 3339 timestamp (inclusive) or YYYY-MM-DD (the whole day). Default: now.
    to: Option<String>,
    /// Events per answer, 1..1000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

/// `?from=&to=&limit=&step=&metric=&tier=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SamplesQuery {
    /// RFC 3339 timestamp or YYYY-MM-DD (inclusive). Default: one hour before `to`.
    from: Option<String>,
    /// RFC 3339 timestamp (inclusive) or YYYY-MM-DD (the whole day). Default: now.
    to: Option<String>,
    /// Raw samples per answer, 1..10000 (default 1000).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 10000)]
    limit: Option<String>,
    /// Bucket width: seconds (`60`, `0.5`) or a duration (`5m`, `1h`). Without it the answer is
    /// raw samples paged by `limit`; with it one bucket per step (rounded up to whole buckets of
    /// the tier), at most 10000 buckets.
    step: Option<String>,
    /// Comma list of the fields to answer with (e.g. `cpu_percent,mem_used_bytes`); default all.
    /// Bucketed answers have the rollup metrics: the scalar fields, and for hosts
    /// `temperature_c` (hottest sensor) and `fs_used_percent` (fullest filesystem).
    metric: Option<String>,
    /// Which tier answers a bucketed query: `auto` (the coarsest tier whose buckets are at most
    /// twice the step, or a coarser one when `from` is before that tier's retention), `raw`,
    /// `minute` or `hour`.
    #[param(value_type = Option<TierParam>)]
    tier: Option<String>,
    /// Which statistics a bucket carries besides each metric's average: a comma list of `min`,
    /// `max`, `last`, `count` (default all four), or `none` for the averages only (the smallest
    /// answer, for a chart).
    stats: Option<String>,
}

/// The statistics of a bucket besides the averages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stats {
    min: bool,
    max: bool,
    last: bool,
    count: bool,
}

impl Stats {
    const ALL: Stats = Stats {
        min: true,
        max: true,
        last: true,
        count: true,
    };

    fn parse(text: Option<&str>) -> Result<Stats> {
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(Stats::ALL);
        };
        let mut out = Stats {
            min: false,
            max: false,
            last: false,
            count: false,
        };
        if text == "none" {
            return Ok(out);
        }
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "min" => out.min = true,
                "max" => out.max = true,
                "last" => out.last = true,
                "count" => out.count = true,
                other => {
                    return Err(Error::InvalidParameter(format!(
                        "stats: {other:?} is not one of min, max, last, count (or none)"
                    )))
                }
            }
        }
        Ok(out)
    }
}

/// The `tier` parameter.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // a schema only: the parameter is parsed by params::tier
enum TierParam {
    Auto,
    Raw,
    Minute,
    Hour,
}

/// A machine in a path: the host_id of a host, the id of a container, or a container name when
/// it names one container (or exactly one that is not removed).
const MACHINE_ID: &str = "host_id of a host, id of a container, or a container name when it names one container (or exactly one that is not removed)";

/// `GET /api/v1/machines`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MachineList {
    /// Hosts first, then by name.
    machines: Vec<crate::store::MachineView>,
}

#[utoipa::path(
    get, path = paths::MACHINES, tag = tags::READ,
    summary = "Hosts and containers known, with their status",
    responses((status = 200, body = MachineList))
)]
pub async fn machines(State(state): State<AppState>) -> Result<Json<MachineList>> {
    let machines = state.store.machines(Utc::now()).await?;
    Ok(Json(MachineList { machines }))
}

/// `GET /api/v1/fleet`: every host with its containers, statuses, newest values and open alerts.
#[utoipa::path(
    get, path = paths::FLEET, tag = tags::READ,
    summary = "Every host with its containers: status, newest values (cpu_percent, mem_percent, disk and network rates, the fullest filesystem's used percent) and open alerts (firing, pending)",
    responses((status = 200, body = crate::fleet::Fleet))
)]
pub async fn fleet(State(state): State<AppState>) -> Result<Response> {
    let now = Utc::now();
    let machines = state.store.machines(now).await?;
    let latest = state.latest.known(now);
    let fleet = crate::fleet::build(machines, &latest, &state.alerting.active());
    // megabytes at 22,000 machines: written into a buffer the size of the last answer, not
    // grown from empty by doubling
    static LAST_SIZE: AtomicUsize = AtomicUsize::new(0);
    let mut body = Vec::with_capacity(LAST_SIZE.load(Ordering::Relaxed) + (64 << 10));
    serde_json::to_writer(&mut body, &fleet).map_err(|e| Error::Io(std::io::Error::other(e)))?;
    LAST_SIZE.store(body.len(), Ordering::Relaxed);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `GET /metrics/machines`: the hosts and their containers, in Prometheus text format.
#[utoipa::path(
    get, path = paths::MACHINE_METRICS, tag = tags::READ,
    summary = "The newest value of every host and container metric of the hosts not stale, in Prometheus text format (labels host, host_id, container, image)",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain"))
)]
pub async fn machine_metrics(State(state): State<AppState>) -> Result<impl IntoResponse> {
    let body =
        crate::exposition::render(state.latest.known(Utc::now())).map_err(|e| Error::Io(std::io::Error::other(e)))?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    ))
}

/// `GET /api/v1/machines/{id}/samples`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SamplesPage {
    id: String,
    kind: MachineKind,
    name: String,
    /// The range asked for (inclusive).
    #[schema(value_type = String, format = DateTime)]
    from: String,
    #[schema(value_type = String, format = DateTime)]
    to: String,
    /// The tier the answer came from.
    tier: AnsweredTier,
    /// Bucket width in seconds (bucketed answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<f64>,
    /// Oldest first: raw samples, or one bucket per step.
    #[schema(value_type = Vec<SampleRow>)]
    samples: Rows,
    /// When `limit` cut a raw answer short: where the next page starts.
    #[schema(value_type = Option<String>, format = DateTime)]
    next_from: Option<String>,
}

/// Which tier answered.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AnsweredTier {
    Raw,
    Minute,
    Hour,
}

impl From<Source> for AnsweredTier {
    fn from(s: Source) -> Self {
        match s {
            Source::Raw => AnsweredTier::Raw,
            Source::Rollup(Tier::Minute) => AnsweredTier::Minute,
            Source::Rollup(Tier::Hour) => AnsweredTier::Hour,
        }
    }
}

/// One row of `samples`: a raw host or container sample, or a bucket; with `metric`, only the
/// fields named (and `sampled_at`).
pub struct SampleRow;

impl utoipa::PartialSchema for SampleRow {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::AnyOfBuilder;
        use utoipa::openapi::Ref;
        AnyOfBuilder::new()
            .item(Ref::from_schema_name("HostSampleView"))
            .item(Ref::from_schema_name("ContainerSampleView"))
            .item(Ref::from_schema_name("Bucket"))
            .description(Some(
                "A raw host or container sample, or a bucket; with `metric`, only the fields named (and `sampled_at`)",
            ))
            .into()
    }
}

impl utoipa::ToSchema for SampleRow {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        use utoipa::PartialSchema;
        schemas.push(("HostSampleView".into(), crate::store::HostSampleView::schema()));
        schemas.push((
            "ContainerSampleView".into(),
            crate::store::ContainerSampleView::schema(),
        ));
        schemas.push(("Bucket".into(), bucket_schema()));
        <crate::store::HostSampleView as utoipa::ToSchema>::schemas(schemas);
    }
}

/// A bucket: the averages under the metric names, then `min`, `max`, `last` and `count` per metric.
fn bucket_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, SchemaType, Type};
    // a value that is not a finite number (none is stored, but a sum can overflow) is null
    let number = || ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::Number, Type::Null]));
    let numbers = |what: &str| {
        ObjectBuilder::new()
            .description(Some(what))
            .additional_properties(Some(AdditionalProperties::RefOr(number().into())))
    };
    ObjectBuilder::new()
        .description(Some(
            "One bucket of a step: the average of each metric under its name, and per metric its min, max, last value and count of samples",
        ))
        .property(
            "sampled_at",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::DateTime,
                )))
                .description(Some("The bucket's start")),
        )
        .required("sampled_at")
        .property("min", numbers("The smallest value per metric (unless `stats` leaves it out)"))
        .property("max", numbers("The largest value per metric (unless `stats` leaves it out)"))
        .property("last", numbers("The last value per metric (unless `stats` leaves it out)"))
        .property("count", numbers("Samples per metric (unless `stats` leaves it out)"))
        .additional_properties(Some(AdditionalProperties::RefOr(number().into())))
        .into()
}

#[utoipa::path(
    get, path = paths::SAMPLES, tag = tags::READ,
    summary = "Samples of one host or container, oldest first: raw, or one bucket per step from the raw, minute or hour tier",
    params(("id" = String, Path, description = MACHINE_ID), SamplesQuery),
    responses(
        (status = 200, body = SamplesPage, description = "Raw samples (when `limit` cut the answer short, `next_from` is where the next page starts), or buckets when `step` is given"),
        (status = 404, body = crate::error::ErrorBody, description = "No such machine"),
    )
)]
pub async fn samples(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<SamplesQuery>, QueryRejection>,
) -> Result<Json<SamplesPage>> {
    let (Path(id), Query(q)) = (id.map_err(bad_path)?, query.map_err(bad_query)?);
    let now = Utc::now();
    let range = params::range(q.from.as_deref(), q.to.as_deref(), now, Some(Duration::hours(1)))?;
    let limit = params::limit(q.limit.as_deref(), SAMPLES_DEFAULT, SAMPLES_MAX)?;
    let step = params::step(q.step.as_deref())?;
    let tier = params::tier(q.tier.as_deref())?;
    let stats = Stats::parse(q.stats.as_deref())?;
    let machine = state.store.resolve(&id).await?;
    let fields = selected(machine.kind, q.metric.as_deref())?;
    let kind = MachineKind::from(machine.kind);
    let page = |source: Source, step: Option<f64>, samples: Rows, next_from: Option<String>| SamplesPage {
        id: machine.ext_id.clone(),
        kind,
        name: machine.name.clone(),
        from: format(&range.from),
        to: format(&range.to),
        tier: source.into(),
        step,
        samples,
        next_from,
    };
    let Some((source, width)) = choose(tier, step, range.from, now, &state.retention) else {
        // raw samples, paged by `limit`, as the API always answered
        let (samples, more) = state.store.samples(&machine, range.from, range.to, limit).await?;
        let next_from = samples
            .last_time()
            .filter(|_| more)
            .map(|t| format(&(t + Duration::milliseconds(1))));
        let mut samples = match serde_json::to_value(&samples).map_err(|e| Error::InvalidParameter(e.to_string()))? {
            Value::Array(list) => list,
            _ => Vec::new(),
        };
        if let Some(fields) = &fields {
            for s in samples.iter_mut().filter_map(Value::as_object_mut) {
                s.retain(|k, _| k == "sampled_at" || fields.iter().any(|f| f == k));
            }
        }
        return Ok(Json(page(Source::Raw, None, Rows::Raw(samples), next_from)));
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
    let step = width.num_milliseconds() as f64 / 1000.0;
    let (names, wanted): (Arc<[&'static str]>, Arc<[usize]>) = (names.into(), wanted.into());
    let rows = buckets
        .into_iter()
        .map(|bucket| BucketRow {
            bucket,
            names: names.clone(),
            wanted: wanted.clone(),
            stats,
        })
        .collect();
    Ok(Json(page(source, Some(step), Rows::Buckets(rows), None)))
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

/// A bucket as answered: the averages under the metric names (so a chart of a field works on
/// any tier), then `min`, `max`, `last` and `count` per metric (those `stats` names). Written
/// straight to the answer (no JSON tree built first).
pub struct BucketRow {
    bucket: Bucket,
    names: Arc<[&'static str]>,
    wanted: Arc<[usize]>,
    stats: Stats,
}

/// A statistic of one metric of a bucket, if it has one.
type Statistic = fn(&Bucket, usize) -> Option<Value>;

/// One statistic of every wanted metric of a bucket.
struct PerMetric<'a> {
    row: &'a BucketRow,
    of: Statistic,
}

impl Serialize for PerMetric<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        for &i in self.row.wanted.iter() {
            if let Some(v) = (self.of)(&self.row.bucket, i) {
                m.serialize_entry(self.row.names[i], &v)?;
            }
        }
        m.end()
    }
}

impl Serialize for BucketRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let b = &self.bucket;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("sampled_at", &format(&b.start))?;
        for &i in self.wanted.iter() {
            if let Some(st) = b.stats[i] {
                m.serialize_entry(self.names[i], &st.avg())?;
            }
        }
        // numbers (a JSON number holds no allocation); a count as an integer
        let stats: [(&str, bool, Statistic); 4] = [
            ("min", self.stats.min, |b, i| b.stats[i].map(|s| s.min.into())),
            ("max", self.stats.max, |b, i| b.stats[i].map(|s| s.max.into())),
            ("last", self.stats.last, |b, i| b.last[i].map(Value::from)),
            ("count", self.stats.count, |b, i| b.stats[i].map(|s| s.n.into())),
        ];
        for (name, on, of) in stats {
            if on {
                m.serialize_entry(name, &PerMetric { row: self, of })?;
            }
        }
        m.end()
    }
}

/// The rows of an answer: raw samples (narrowed to the fields asked for), or buckets.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Rows {
    Raw(Vec<Value>),
    Buckets(Vec<BucketRow>),
}

/// `GET /api/v1/machines/{id}/events`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EventsPage {
    id: String,
    kind: MachineKind,
    /// Newest first.
    events: Vec<crate::store::EventView>,
}

#[utoipa::path(
    get, path = paths::EVENTS, tag = tags::READ,
    summary = "Container events of a container, or of every container of a host, newest first",
    params(("id" = String, Path, description = MACHINE_ID), RangeQuery),
    responses(
        (status = 200, body = EventsPage),
        (status = 404, body = crate::error::ErrorBody, description = "No such machine"),
    )
)]
pub async fn events(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Json<EventsPage>> {
    let (Path(id), Query(q)) = (id.map_err(bad_path)?, query.map_err(bad_query)?);
    let range = params::range(q.from.as_deref(), q.to.as_deref(), Utc::now(), None)?;
    let limit = params::limit(q.limit.as_deref(), EVENTS_DEFAULT, EVENTS_MAX)?;
    let machine = state.store.resolve(&id).await?;
    let events = state.store.events(&machine, range.from, range.to, limit).await?;
    let kind = MachineKind::from(machine.kind);
    Ok(Json(EventsPage {
        id: machine.ext_id,
        kind,
        events,
    }))
}

fn bad_path(e: PathRejection) -> Error {
    Error::InvalidParameter(e.body_text())
}

fn bad_query(e: QueryRejection) -> Error {
    Error::InvalidParameter(e.body_text())
}
