//! Silences: `GET|POST /api/v1/silences`, `DELETE /api/v1/silences/{id}`. A silence mutes
//! notifications of matching alerts during its window; the alerts are still recorded.

use super::alerting::paths;
use super::openapi::tags;
use super::AppState;
use crate::alerting::SilenceInput;
use crate::error::{Error, Result};
use crate::notify::silence::Silence;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// `GET /api/v1/silences`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SilenceList {
    silences: Vec<Silence>,
}

#[utoipa::path(
    get, path = paths::SILENCES, tag = tags::ALERTS,
    summary = "Every silence, ended ones included",
    responses((status = 200, body = SilenceList))
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<SilenceList>> {
    let silences = state.alerting.silences().await?;
    Ok(Json(SilenceList { silences }))
}

#[utoipa::path(
    post, path = paths::SILENCES, tag = tags::ALERTS,
    summary = "Create a silence: no notifications for matching alerts during [starts_at, ends_at); they are still recorded",
    request_body = SilenceInput,
    responses((status = 201, body = Silence, description = "Created"))
)]
pub async fn create(
    State(state): State<AppState>,
    body: Result<Json<SilenceInput>, JsonRejection>,
) -> Result<Response> {
    let Json(input) = body.map_err(|e| Error::InvalidBody(e.body_text()))?;
    let silence = state.alerting.create_silence(input).await?;
    Ok((StatusCode::CREATED, Json(silence)).into_response())
}

#[utoipa::path(
    delete, path = paths::SILENCE, tag = tags::ALERTS,
    summary = "Delete a silence",
    params(("id" = u64, Path, description = "The silence's id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = crate::error::ErrorBody, description = "No such silence"))
)]
pub async fn delete(State(state): State<AppState>, id: Result<Path<u64>, PathRejection>) -> Result<StatusCode> {
    let Path(id) = id.map_err(|e| Error::InvalidParameter(e.body_text()))?;
    state.alerting.delete_silence(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
