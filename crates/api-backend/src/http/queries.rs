//! Native reads: `GET /api/v1/machines`, `GET /api/v1/machines/{id}/samples` and
//! `GET /api/v1/machines/{id}/events`.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{Duration, Utc};
use common::timefmt::format;
use serde::Deserialize;
use serde_json::{json, Value};

use super::AppState;
use crate::error::{Error, Result};
use crate::params;

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

pub async fn machines(State(state): State<AppState>) -> Result<Json<Value>> {
    let machines = state.store.machines(Utc::now()).await?;
    Ok(Json(json!({ "machines": machines })))
}

pub async fn samples(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Json<Value>> {
    let (Path(id), Query(q)) = (id.map_err(bad_path)?, query.map_err(bad_query)?);
    let range = params::range(q.from.as_deref(), q.to.as_deref(), Utc::now(), Some(Duration::hours(1)))?;
    let limit = params::limit(q.limit.as_deref(), SAMPLES_DEFAULT, SAMPLES_MAX)?;
    let machine = state.store.resolve(&id).await?;
    let (samples, more) = state.store.samples(&machine, range.from, range.to, limit).await?;
    // where the next page starts when `limit` cut the answer short
    let next_from = samples
        .last_time()
        .filter(|_| more)
        .map(|t| format(&(t + Duration::milliseconds(1))));
    Ok(Json(json!({
        "id": machine.ext_id,
        "kind": machine.kind.as_str(),
        "name": machine.name,
        "from": format(&range.from),
        "to": format(&range.to),
        "samples": samples,
        "next_from": next_from,
    })))
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
