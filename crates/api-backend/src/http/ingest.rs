//! `POST /api/v1/ingest`: a JSON array of v1 records in, `{"accepted","duplicates","rejected"}` out.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;

use super::openapi::tags;
use super::{paths, AppState};
use crate::error::{Error, Result};

#[utoipa::path(
    post, path = paths::INGEST, tag = tags::INGEST,
    summary = "Store a batch of records",
    description = "Idempotent by record_id: a record stored before, or repeated earlier in the same batch, counts as a duplicate and changes nothing. Invalid records are rejected one by one; the rest are stored in one transaction.",
    request_body(content = Vec<common::wire::Record>, description = "A JSON array of v1 records"),
    responses(
        (status = 200, body = crate::ingest::Summary, description = "Batch handled"),
        (status = 413, body = crate::error::ErrorBody, description = "Body larger than INGEST_MAX_BODY_BYTES (error body_too_large)"),
    )
)]
pub async fn batch(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Result<Response> {
    let body = read_body(body, state.max_body)?;
    let parsed = common::validate::parse_batch(&body, Utc::now()).map_err(|e| Error::InvalidBody(e.to_string()))?;
    let report = state.ingest.batch(parsed).await?;
    Ok((StatusCode::OK, Json(report.summary())).into_response())
}

/// The body, or 413 beyond the limit.
pub fn read_body(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::BodyTooLarge(limit)
        } else {
            Error::InvalidBody(e.body_text())
        }
    })
}
