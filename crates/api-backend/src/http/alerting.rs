//! The routes of alerting: threshold rules, alert history and open alerts, silences, and the
//! original system's threshold endpoints. Reads want the read token; writes the admin token.

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
pub fn routes(tokens: Arc<Tokens>) -> OpenApiRouter<AppState> {
    let reads = OpenApiRouter::new()
        .routes(routes!(thresholds::list))
        .routes(routes!(alerts::history))
        .routes(routes!(alerts::active))
        .routes(routes!(silences::list))
        .routes(routes!(compat_alerts::get_over))
        .routes(routes!(compat_alerts::get_under))
        // a query, though a POST in the original system
        .routes(routes!(compat_alerts::history))
        .routes(routes!(compat_alerts::history_all));
    let writes = OpenApiRouter::new()
        .routes(routes!(thresholds::put_global, thresholds::delete_global))
        .routes(routes!(thresholds::put_machine, thresholds::delete_machine))
        .routes(routes!(thresholds::create))
        .routes(routes!(thresholds::replace, thresholds::delete))
        .routes(routes!(silences::create))
        .routes(routes!(silences::delete))
        .routes(routes!(compat_alerts::post_over))
        .routes(routes!(compat_alerts::post_under));
    auth::behind(reads, &tokens, auth::Token::Read).merge(auth::behind(writes, &tokens, auth::Token::Admin))
}
