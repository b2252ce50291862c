//! `POST /api/v1/ingest`: a JSON array of v1 records in, `{"accepted","duplicates","rejected"}` out.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;

use super::AppState;
use crate::error::{Error, Result};
use crate::ingest;

pub async fn batch(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Result<Response> {
    let body = read_body(body, state.max_body)?;
    let values = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Array(values)) => values,
        Ok(_) => {
            return Err(Error::InvalidBody(
                "the body must be a JSON array of records".to_owned(),
            ))
        }
        Err(e) => return Err(Error::InvalidBody(format!("the body is not JSON: {e}"))),
    };
    let report = ingest::ingest(&state.store, &state.metrics, ingest::parse_batch(values, Utc::now())).await?;
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
