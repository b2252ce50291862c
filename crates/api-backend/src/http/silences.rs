//! Silences: `GET|POST /api/v1/silences`, `DELETE /api/v1/silences/{id}`. A silence mutes
//! notifications of matching alerts during its window; the alerts are still recorded.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::AppState;
use crate::alerting::SilenceInput;
use crate::error::{Error, Result};

pub async fn list(State(state): State<AppState>) -> Result<Json<Value>> {
    let silences = state.alerting.silences().await?;
    Ok(Json(json!({ "silences": silences })))
}

pub async fn create(
    State(state): State<AppState>,
    body: Result<Json<SilenceInput>, JsonRejection>,
) -> Result<Response> {
    let Json(input) = body.map_err(|e| Error::InvalidBody(e.body_text()))?;
    let silence = state.alerting.create_silence(input).await?;
    Ok((StatusCode::CREATED, Json(silence)).into_response())
}

pub async fn delete(State(state): State<AppState>, id: Result<Path<u64>, PathRejection>) -> Result<StatusCode> {
    let Path(id) = id.map_err(|e| Error::InvalidParameter(e.body_text()))?;
    state.alerting.delete_silence(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
