//! Threshold rules: `GET /api/v1/thresholds`; the global rule of a metric
//! (`PUT|DELETE /api/v1/thresholds/{metric}`); per-machine rules
//! (`PUT|DELETE /api/v1/thresholds/{metric}/machines/{machine_id}`); any rule by id
//! (`POST /api/v1/thresholds/rules`, `PUT|DELETE /api/v1/thresholds/rules/{id}`).

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::alerting::paths;
use super::openapi::tags;
use super::AppState;
use crate::alerting::rules::global_scope;
use crate::alerting::{RuleBody, RuleInput};
use crate::alerts::{Metric, Rule, Scope};
use crate::error::{Error, Result};

/// A rule as answered: the rule's JSON plus `compat_key` for the compat-managed ones.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RuleView<'a> {
    #[serde(flatten)]
    rule: &'a Rule,
    /// The compat threshold setting that manages this rule (`over.cpuPercent`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    compat_key: Option<&'a str>,
}

/// `GET /api/v1/thresholds`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RuleList<'a> {
    rules: Vec<RuleView<'a>>,
}

/// The metric of a path.
const METRIC: &str = "A metric name (host.cpu_percent, container.mem_percent, ...)";

#[utoipa::path(
    get, path = paths::THRESHOLDS, tag = tags::ALERTS,
    summary = "Every threshold rule (compat-managed ones carry compat_key)",
    responses((status = 200, body = RuleList))
)]
pub async fn list(State(state): State<AppState>) -> Result<Response> {
    let rules = state.alerting.rules().await?;
    let views: Vec<RuleView<'_>> = rules
        .iter()
        .map(|s| RuleView {
            rule: &s.rule,
            compat_key: s.compat_key.as_deref(),
        })
        .collect();
    Ok(Json(RuleList { rules: views }).into_response())
}

#[utoipa::path(
    put, path = paths::THRESHOLD, tag = tags::ALERTS,
    summary = "Create or replace the global rule of a metric",
    description = "Scope all_hosts or all_containers by the metric's kind. Rules managed by the compat threshold-setting endpoints are separate and stay. Open alerts of a changed rule are re-judged by the new values from the next sample on.",
    params(("metric" = Metric, Path, description = METRIC)),
    request_body = RuleBody,
    responses((status = 200, body = RuleView, description = "Replaced"), (status = 201, body = RuleView, description = "Created"))
)]
pub async fn put_global(
    State(state): State<AppState>,
    metric: Result<Path<String>, PathRejection>,
    body: Result<Json<RuleBody>, JsonRejection>,
) -> Result<Response> {
    let metric = metric_of(metric.map_err(bad_path)?.0)?;
    let Json(body) = body.map_err(bad_body)?;
    put(&state, metric, global_scope(metric), body).await
}

#[utoipa::path(
    delete, path = paths::THRESHOLD, tag = tags::ALERTS,
    summary = "Delete the global rule of a metric (its open alerts resolve)",
    params(("metric" = Metric, Path, description = METRIC)),
    responses((status = 204, description = "Deleted"), (status = 404, body = crate::error::ErrorBody, description = "No such rule"))
)]
pub async fn delete_global(
    State(state): State<AppState>,
    metric: Result<Path<String>, PathRejection>,
) -> Result<StatusCode> {
    let metric = metric_of(metric.map_err(bad_path)?.0)?;
    state.alerting.delete_scoped_rule(metric, global_scope(metric)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    put, path = paths::THRESHOLD_MACHINE, tag = tags::ALERTS,
    summary = "Create or replace the rule of a metric for one machine",
    description = "Scope machine. It applies in addition to the global rule of the metric.",
    params(("metric" = Metric, Path, description = METRIC), ("machine_id" = String, Path, description = "A host id or container id")),
    request_body = RuleBody,
    responses((status = 200, body = RuleView, description = "Replaced"), (status = 201, body = RuleView, description = "Created"))
)]
pub async fn put_machine(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<RuleBody>, JsonRejection>,
) -> Result<Response> {
    let (metric, scope) = machine_scope(path)?;
    let Json(body) = body.map_err(bad_body)?;
    put(&state, metric, scope, body).await
}

#[utoipa::path(
    delete, path = paths::THRESHOLD_MACHINE, tag = tags::ALERTS,
    summary = "Delete the rule of a metric for one machine",
    params(("metric" = Metric, Path, description = METRIC), ("machine_id" = String, Path, description = "A host id or container id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = crate::error::ErrorBody, description = "No such rule"))
)]
pub async fn delete_machine(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode> {
    let (metric, scope) = machine_scope(path)?;
    state.alerting.delete_scoped_rule(metric, scope).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = paths::RULES, tag = tags::ALERTS,
    summary = "Create a rule with any scope (container name globs included)",
    request_body = RuleInput,
    responses((status = 201, body = RuleView, description = "Created"))
)]
pub async fn create(State(state): State<AppState>, body: Result<Json<RuleInput>, JsonRejection>) -> Result<Response> {
    let Json(input) = body.map_err(bad_body)?;
    let rule = state.alerting.create_rule(input).await?;
    Ok((StatusCode::CREATED, view(&rule)).into_response())
}

#[utoipa::path(
    put, path = paths::RULE, tag = tags::ALERTS,
    summary = "Replace a rule",
    description = "A compat-managed rule may change values, severity, for_secs and enabled, not its metric, direction or scope (409 conflict).",
    params(("id" = u64, Path, description = "The rule's id")),
    request_body = RuleInput,
    responses(
        (status = 200, body = RuleView, description = "Replaced"),
        (status = 404, body = crate::error::ErrorBody, description = "No such rule"),
        (status = 409, body = crate::error::ErrorBody, description = "A compat-managed rule's metric, direction or scope"),
    )
)]
pub async fn replace(
    State(state): State<AppState>,
    id: Result<Path<u64>, PathRejection>,
    body: Result<Json<RuleInput>, JsonRejection>,
) -> Result<Response> {
    let Path(id) = id.map_err(bad_path)?;
    let Json(input) = body.map_err(bad_body)?;
    let rule = state.alerting.replace_rule(id, input).await?;
    Ok(view(&rule).into_response())
}

#[utoipa::path(
    delete, path = paths::RULE, tag = tags::ALERTS,
    summary = "Delete a rule",
    description = "Compat-managed rules cannot be deleted (409 conflict): disable them.",
    params(("id" = u64, Path, description = "The rule's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, body = crate::error::ErrorBody, description = "No such rule"),
        (status = 409, body = crate::error::ErrorBody, description = "A compat-managed rule"),
    )
)]
pub async fn delete(State(state): State<AppState>, id: Result<Path<u64>, PathRejection>) -> Result<StatusCode> {
    let Path(id) = id.map_err(bad_path)?;
    state.alerting.delete_rule(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn put(state: &AppState, metric: Metric, scope: Scope, body: RuleBody) -> Result<Response> {
    let (rule, created) = state.alerting.put_scoped_rule(metric, scope, body).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, view(&rule)).into_response())
}

fn view(rule: &Rule) -> Response {
    Json(RuleView { rule, compat_key: None }).into_response()
}

fn metric_of(name: String) -> Result<Metric> {
    Metric::parse(&name).map_err(|e| Error::InvalidParameter(e.to_string()))
}

fn machine_scope(path: Result<Path<(String, String)>, PathRejection>) -> Result<(Metric, Scope)> {
    let Path((metric, id)) = path.map_err(bad_path)?;
    let metric = metric_of(metric)?;
    if id.is_empty() || id.len() > common::validate::MAX_ID_LEN {
        return Err(Error::InvalidParameter(format!(
            "machine_id must have 1 to {} characters",
            common::validate::MAX_ID_LEN
        )));
    }
    Ok((metric, Scope::Machine { id }))
}

fn bad_path(e: PathRejection) -> Error {
    Error::InvalidParameter(e.body_text())
}

fn bad_body(e: JsonRejection) -> Error {
    Error::InvalidBody(e.body_text())
}
