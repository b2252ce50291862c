//! The routes of alerting: threshold rules, alert history and open alerts, silences, and the
//! original system's threshold endpoints. Reads want the read token; writes the admin token.

use std::sync::Arc;

use axum::middleware::from_fn_with_state;
use axum::routing::{get, post, put};
use axum::Router;

use super::{alerts, auth, compat_alerts, silences, thresholds, AppState};
use crate::config::Tokens;

/// Paths of alerting (each is described in the OpenAPI document).
pub mod paths {
    pub const THRESHOLDS: &str = "/api/v1/thresholds";
    pub const THRESHOLD: &str = "/api/v1/thresholds/{metric}";
    pub const THRESHOLD_MACHINE: &str = "/api/v1/thresholds/{metric}/machines/{machine_id}";
    pub const RULES: &str = "/api/v1/thresholds/rules";
    pub const RULE: &str = "/api/v1/thresholds/rules/{id}";
    pub const ALERTS: &str = "/api/v1/alerts";
    pub const ALERTS_ACTIVE: &str = "/api/v1/alerts/active";
    pub const SILENCES: &str = "/api/v1/silences";
    pub const SILENCE: &str = "/api/v1/silences/{id}";
    pub const COMPAT_OVER: &str = "/api/metrics/threshold-setting";
    pub const COMPAT_UNDER: &str = "/api/metrics/under-threshold-setting";
    pub const COMPAT_HISTORY: &str = "/api/metrics/threshold-history";
    pub const COMPAT_HISTORY_ALL: &str = "/api/metrics/threshold-history-all";
    pub const ALL: [&str; 13] = [
        THRESHOLDS,
        THRESHOLD,
        THRESHOLD_MACHINE,
        RULES,
        RULE,
        ALERTS,
        ALERTS_ACTIVE,
        SILENCES,
        SILENCE,
        COMPAT_OVER,
        COMPAT_UNDER,
        COMPAT_HISTORY,
        COMPAT_HISTORY_ALL,
    ];
}

/// The alerting routes with their token checks.
pub fn routes(tokens: Arc<Tokens>) -> Router<AppState> {
    let reads = Router::new()
        .route(paths::THRESHOLDS, get(thresholds::list))
        .route(paths::ALERTS, get(alerts::history))
        .route(paths::ALERTS_ACTIVE, get(alerts::active))
        .route(paths::SILENCES, get(silences::list))
        .route(paths::COMPAT_OVER, get(compat_alerts::get_over))
        .route(paths::COMPAT_UNDER, get(compat_alerts::get_under))
        // a query, though a POST in the original system
        .route(paths::COMPAT_HISTORY, post(compat_alerts::history))
        .route(paths::COMPAT_HISTORY_ALL, get(compat_alerts::history_all))
        .route_layer(from_fn_with_state(tokens.clone(), auth::require_read));
    let writes = Router::new()
        .route(
            paths::THRESHOLD,
            put(thresholds::put_global).delete(thresholds::delete_global),
        )
        .route(
            paths::THRESHOLD_MACHINE,
            put(thresholds::put_machine).delete(thresholds::delete_machine),
        )
        .route(paths::RULES, post(thresholds::create))
        .route(paths::RULE, put(thresholds::replace).delete(thresholds::delete))
        .route(paths::SILENCES, post(silences::create))
        .route(paths::SILENCE, axum::routing::delete(silences::delete))
        .route(paths::COMPAT_OVER, post(compat_alerts::post_over))
        .route(paths::COMPAT_UNDER, post(compat_alerts::post_under))
        .route_layer(from_fn_with_state(tokens, auth::require_admin));
    reads.merge(writes)
}
