//! The original Java system's endpoints, same paths and JSON shapes: `POST /api/metrics` (one
//! record in the Java collector's format) and `GET /api/inventory/list`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::Json;
use chrono::Utc;
use serde::Serialize;

use super::ingest::read_body;
use super::openapi::tags;
use super::{paths, AppState};
use crate::compat;
use crate::error::{Error, Result};

/// `POST /api/metrics`'s answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Stored {
    /// `ok`.
    message: &'static str,
    /// The v1 record id derived from hostId and timeStamp.
    record_id: String,
    /// The record was stored before: nothing changed.
    duplicate: bool,
}

/// `GET /api/inventory/list`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Inventory {
    host: Vec<crate::store::InventoryHost>,
    container: Vec<crate::store::InventoryContainer>,
}

/// Converts one Java record to v1 and stores it through the native ingest path.
#[utoipa::path(
    post, path = paths::COMPAT_METRICS, tag = tags::COMPAT,
    summary = "One record in the original Java collector's format",
    description = "Converted to a v1 record (deltas are per-second rates over the Java collector's 1 s tick) and stored like a native one. A timeStamp without a zone is local time in the server's TZ. A negative delta is a counter reset: that value is stored as absent, the rest of the record is stored. A container posted as {} (no measurement) is not running. The record id is derived from hostId and timeStamp, so a retried post is a duplicate.",
    request_body(content = crate::compat::JavaRecord, description = "The Java collector's record"),
    responses(
        (status = 200, body = Stored),
        (status = 413, body = crate::error::ErrorBody, description = "Body larger than INGEST_MAX_BODY_BYTES"),
    )
)]
pub async fn post_metrics(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Result<Json<Stored>> {
    let body = read_body(body, state.max_body)?;
    let record = compat::parse(&body, &chrono::Local).map_err(Error::InvalidBody)?;
    let record_id = record.record_id.clone();
    let checked = common::validate::validate(&record, Utc::now()).map(|()| record);
    let report = state.ingest.batch(vec![checked]).await?;
    if let Some(rejected) = report.rejected.first() {
        return Err(Error::InvalidBody(rejected.error.clone()));
    }
    Ok(Json(Stored {
        message: "ok",
        record_id,
        duplicate: report.accepted == 0,
    }))
}

/// `{"host":[{"id","name"}],"container":[{"host","id","name"}]}` of the machines not removed.
#[utoipa::path(
    get, path = paths::COMPAT_INVENTORY, tag = tags::COMPAT,
    summary = "Hosts and containers not removed, in the original system's shape",
    responses((status = 200, body = Inventory))
)]
pub async fn inventory(State(state): State<AppState>) -> Result<Json<Inventory>> {
    let (host, container) = state.store.inventory().await?;
    Ok(Json(Inventory { host, container }))
}
