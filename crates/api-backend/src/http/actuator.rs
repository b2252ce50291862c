//! The original system's Spring Boot health URLs, answered from the readiness checks:
//! `GET /actuator/health` (`{"status": "UP"|"DOWN", "components": {"db": {"status", …}, …}}`,
//! 503 when DOWN, as Spring answers) and `GET /actuator/info` (the build). Unauthenticated, as
//! `/health/ready` is: uptime checks poll them.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::openapi::tags;
use super::paths::{ACTUATOR_HEALTH, ACTUATOR_INFO};
use super::AppState;
use crate::app::DATABASE_CHECK;

/// `UP` or `DOWN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ActuatorStatus {
    Up,
    Down,
}

impl ActuatorStatus {
    fn of(ok: bool) -> ActuatorStatus {
        if ok {
            ActuatorStatus::Up
        } else {
            ActuatorStatus::Down
        }
    }
}

/// One component of the health answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActuatorComponent {
    status: ActuatorStatus,
    /// What the check found (`error` when it is down).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    details: BTreeMap<&'static str, String>,
}

/// `GET /actuator/health`'s body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActuatorHealth {
    /// UP when every component is.
    status: ActuatorStatus,
    /// `db` (MySQL), `ping`, and the backend's other readiness checks by name.
    components: BTreeMap<String, ActuatorComponent>,
}

/// `GET /actuator/info`'s body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActuatorInfo {
    build: ActuatorBuild,
}

/// The running build.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActuatorBuild {
    name: &'static str,
    version: &'static str,
}

#[utoipa::path(
    get, path = ACTUATOR_HEALTH, tag = tags::COMPAT,
    summary = "Health in the original's Spring Boot form, from the readiness checks",
    responses(
        (status = 200, description = "Every component is UP", body = ActuatorHealth),
        (status = 503, description = "A component is DOWN", body = ActuatorHealth),
    )
)]
pub async fn health(State(state): State<AppState>) -> Response {
    let report = state.readiness.report();
    let mut components = BTreeMap::new();
    components.insert(
        "ping".to_owned(),
        ActuatorComponent {
            status: ActuatorStatus::Up,
            details: BTreeMap::new(),
        },
    );
    for (name, check) in report.checks {
        let mut details = BTreeMap::new();
        let name = if name == DATABASE_CHECK {
            details.insert("database", "MySQL".to_owned());
            "db".to_owned()
        } else {
            name
        };
        details.insert(if check.ok { "detail" } else { "error" }, check.detail);
        components.insert(
            name,
            ActuatorComponent {
                status: ActuatorStatus::of(check.ok),
                details,
            },
        );
    }
    let status = ActuatorStatus::of(report.ready);
    let code = match status {
        ActuatorStatus::Up => StatusCode::OK,
        ActuatorStatus::Down => StatusCode::SERVICE_UNAVAILABLE,
    };
    (code, Json(ActuatorHealth { status, components })).into_response()
}

#[utoipa::path(
    get, path = ACTUATOR_INFO, tag = tags::COMPAT,
    summary = "The build, in the original's Spring Boot form",
    responses((status = 200, body = ActuatorInfo))
)]
pub async fn info() -> Json<ActuatorInfo> {
    Json(ActuatorInfo {
        build: ActuatorBuild {
            name: "srmon-api-backend",
            version: env!("CARGO_PKG_VERSION"),
        },
    })
}
