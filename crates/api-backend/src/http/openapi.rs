//! `GET /api/v1/openapi.json`: the hand-written OpenAPI 3 description of the endpoints.

use axum::http::header;
use axum::response::IntoResponse;

/// The description, embedded at build time.
pub const SPEC: &str = include_str!("openapi.json");

pub async fn spec() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], SPEC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_every_route() {
        let spec: serde_json::Value = serde_json::from_str(SPEC).expect("openapi.json is JSON");
        assert!(spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
        for path in crate::http::paths::ALL
            .iter()
            .chain(&crate::http::alerting_paths::ALL)
            .chain(&["/health/live", "/health/ready", "/metrics"])
        {
            assert!(spec["paths"].get(*path).is_some(), "{path} is not in openapi.json");
        }
    }
}
