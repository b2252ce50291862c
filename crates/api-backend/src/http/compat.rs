//! The original Java system's endpoints, same paths and JSON shapes: `POST /api/metrics` (one
//! record in the Java collector's format) and `GET /api/inventory/list`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::Json;
use chrono::Utc;
use serde_json::{json, Value};

use super::ingest::read_body;
use super::AppState;
use crate::compat;
use crate::error::{Error, Result};

/// Converts one Java record to v1 and stores it through the native ingest path.
pub async fn post_metrics(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Result<Json<Value>> {
    let body = read_body(body, state.max_body)?;
    let record = compat::parse(&body).map_err(Error::InvalidBody)?;
    let record_id = record.record_id.clone();
    let checked = common::validate::validate(&record, Utc::now()).map(|()| record);
    let report = state.ingest.batch(vec![checked]).await?;
    if let Some(rejected) = report.rejected.first() {
        return Err(Error::InvalidBody(rejected.error.clone()));
    }
    Ok(Json(
        json!({"message": "ok", "record_id": record_id, "duplicate": report.accepted == 0}),
    ))
}

/// `{"host":[{"id","name"}],"container":[{"host","id","name"}]}` of the machines not removed.
pub async fn inventory(State(state): State<AppState>) -> Result<Json<Value>> {
    let (hosts, containers) = state.store.inventory().await?;
    Ok(Json(json!({"host": hosts, "container": containers})))
}
