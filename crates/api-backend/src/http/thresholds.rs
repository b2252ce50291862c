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
use serde_json::{json, Value};

use super::AppState;
use crate::alerting::rules::global_scope;
use crate::alerting::{RuleBody, RuleInput};
use crate::alerts::{Metric, Rule, Scope};
use crate::error::{Error, Result};

/// A rule as answered: the rule's JSON plus `compat_key` for the compat-managed ones.
#[derive(Serialize)]
struct RuleView<'a> {
    #[serde(flatten)]
    rule: &'a Rule,
    #[serde(skip_serializing_if = "Option::is_none")]
    compat_key: Option<&'a str>,
}

pub async fn list(State(state): State<AppState>) -> Result<Json<Value>> {
    let rules = state.alerting.rules().await?;
    let views: Vec<RuleView<'_>> = rules
        .iter()
        .map(|s| RuleView {
            rule: &s.rule,
            compat_key: s.compat_key.as_deref(),
        })
        .collect();
    Ok(Json(json!({ "rules": views })))
}

pub async fn put_global(
    State(state): State<AppState>,
    metric: Result<Path<String>, PathRejection>,
    body: Result<Json<RuleBody>, JsonRejection>,
) -> Result<Response> {
    let metric = metric_of(metric.map_err(bad_path)?.0)?;
    let Json(body) = body.map_err(bad_body)?;
    put(&state, metric, global_scope(metric), body).await
}

pub async fn delete_global(
    State(state): State<AppState>,
    metric: Result<Path<String>, PathRejection>,
) -> Result<StatusCode> {
    let metric = metric_of(metric.map_err(bad_path)?.0)?;
    state.alerting.delete_scoped_rule(metric, global_scope(metric)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn put_machine(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<RuleBody>, JsonRejection>,
) -> Result<Response> {
    let (metric, scope) = machine_scope(path)?;
    let Json(body) = body.map_err(bad_body)?;
    put(&state, metric, scope, body).await
}

pub async fn delete_machine(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode> {
    let (metric, scope) = machine_scope(path)?;
    state.alerting.delete_scoped_rule(metric, scope).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn create(State(state): State<AppState>, body: Result<Json<RuleInput>, JsonRejection>) -> Result<Response> {
    let Json(input) = body.map_err(bad_body)?;
    let rule = state.alerting.create_rule(input).await?;
    Ok((StatusCode::CREATED, Json(view(&rule))).into_response())
}

pub async fn replace(
    State(state): State<AppState>,
    id: Result<Path<u64>, PathRejection>,
    body: Result<Json<RuleInput>, JsonRejection>,
) -> Result<Json<Value>> {
    let Path(id) = id.map_err(bad_path)?;
    let Json(input) = body.map_err(bad_body)?;
    let rule = state.alerting.replace_rule(id, input).await?;
    Ok(Json(view(&rule)))
}

pub async fn delete(State(state): State<AppState>, id: Result<Path<u64>, PathRejection>) -> Result<StatusCode> {
    let Path(id) = id.map_err(bad_path)?;
    state.alerting.delete_rule(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn put(state: &AppState, metric: Metric, scope: Scope, body: RuleBody) -> Result<Response> {
    let (rule, created) = state.alerting.put_scoped_rule(metric, scope, body).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(view(&rule))).into_response())
}

fn view(rule: &Rule) -> Value {
    serde_json::to_value(RuleView { rule, compat_key: None }).unwrap_or_default()
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
