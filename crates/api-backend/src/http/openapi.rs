//! The OpenAPI description, generated: each handler carries a `#[utoipa::path]` attribute (path,
//! method, parameters, the types of its body and answers) and the router is built from those
//! attributes (`utoipa_axum::routes!`), so a route cannot exist without its description. This
//! module gives the parts no handler states: the title, the tags, the security schemes, the
//! error answers every operation may give, and the ops routes of `common::ops`. Served at
//! `GET /api/v1/openapi.json`, and readable at `GET /api/v1/docs` (Swagger UI, embedded).

use std::sync::Arc;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi as _};

use super::auth::Token;
use crate::error::ErrorBody;

/// Tag names, one per part of the surface.
pub mod tags {
    pub const INGEST: &str = "ingest";
    pub const READ: &str = "read";
    pub const ALERTS: &str = "alerts";
    pub const COMPAT: &str = "compat";
    pub const DASHBOARD: &str = "dashboard";
    pub const OPS: &str = "ops";
}

/// Security scheme names (see [`Security`]).
mod security {
    pub const INGEST: &str = "ingestToken";
    pub const READ: &str = "readToken";
    pub const READ_QUERY: &str = "readTokenQuery";
    pub const READ_COOKIE: &str = "readTokenCookie";
    pub const ADMIN: &str = "adminToken";
}

/// Says which token the operations of `api` want (each one, or none while it is not set):
/// called where the routes are put behind the token's check.
pub fn secured(api: &mut OpenApi, token: Token) {
    let schemes: &[&str] = match token {
        Token::Ingest => &[security::INGEST],
        Token::Read => &[security::READ, security::READ_QUERY, security::READ_COOKIE],
        Token::Admin => &[security::ADMIN],
    };
    let mut any: Vec<SecurityRequirement> = schemes
        .iter()
        .map(|s| SecurityRequirement::new(*s, Vec::<String>::new()))
        .collect();
    any.push(SecurityRequirement::default()); // open while the token is not set
    for item in api.paths.paths.values_mut() {
        for op in operations(item) {
            op.security = Some(any.clone());
        }
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "srmon api-backend",
        description = "Stores server and container samples (wire format v1) and serves them: \
            the native `/api/v1`, the original Java system's `/api`, live streams, the dashboard. \
            Timestamps are UTC, RFC 3339 with milliseconds, unless an endpoint says otherwise. \
            Every error answers `{\"error\": \"<code>\", \"detail\": \"<sentence>\"}` (the compat \
            threshold endpoints: `{\"error\": \"<sentence>\", \"status\": 400}`)."
    ),
    servers((url = "/")),
    tags(
        (name = "ingest", description = "Records in. Bearer API_INGEST_TOKEN when it is set."),
        (name = "read", description = "Stored data out. API_READ_TOKEN (or API_ADMIN_TOKEN) when it is set: bearer header, `?token=` or the cookie `token`."),
        (name = "alerts", description = "Threshold rules, alert history, open alerts, silences. Writes want bearer API_ADMIN_TOKEN when it is set; reads the read token."),
        (name = "compat", description = "Paths and JSON shapes of the original Java system."),
        (name = "dashboard", description = "The web dashboard and its login."),
        (name = "ops", description = "Health, metrics and this description; always open."),
    ),
    modifiers(&Security),
    components(schemas(ErrorBody))
)]
struct Base;

/// The security schemes the operations name.
struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        let bearer = |what: &str| {
            let mut h = Http::new(HttpAuthScheme::Bearer);
            h.description = Some(what.to_owned());
            SecurityScheme::Http(h)
        };
        components.add_security_scheme(security::INGEST, bearer("API_INGEST_TOKEN"));
        components.add_security_scheme(security::READ, bearer("API_READ_TOKEN or API_ADMIN_TOKEN"));
        components.add_security_scheme(
            security::ADMIN,
            bearer("API_ADMIN_TOKEN (writes: thresholds, silences). Without it, writes take what reads take."),
        );
        components.add_security_scheme(
            security::READ_QUERY,
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::new("token"))),
        );
        components.add_security_scheme(
            security::READ_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("token"))),
        );
    }
}

/// The description's parts no handler states.
pub fn base() -> OpenApi {
    Base::openapi()
}

/// Completes the description the router's handlers gave: the ops routes, and on every operation
/// the error answer (`default`: the error body) unless it gives its own.
pub fn finish(mut api: OpenApi) -> OpenApi {
    api.merge(common::ops::openapi());
    let error = ResponseBuilder::new()
        .description("An error: `{\"error\": \"<code>\", \"detail\": \"<sentence>\"}`")
        .content(
            "application/json",
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorBody"))))
                .build(),
        )
        .build();
    for item in api.paths.paths.values_mut() {
        for op in operations(item) {
            op.responses
                .responses
                .entry("default".to_owned())
                .or_insert_with(|| RefOr::T(error.clone()));
        }
    }
    api
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The description as served.
#[derive(Clone)]
pub struct Spec(pub Arc<str>);

/// `GET /api/v1/openapi.json`.
#[utoipa::path(
    get,
    path = super::paths::OPENAPI,
    tag = tags::OPS,
    summary = "This description",
    responses((status = 200, description = "This description (OpenAPI 3.1)", body = serde_json::Value, content_type = "application/json"))
)]
pub async fn spec(Extension(spec): Extension<Spec>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], spec.0.to_string()).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn describes_every_path_with_its_answers() {
        let spec = serde_json::to_value(crate::http::openapi()).unwrap();
        if let Ok(out) = std::env::var("SRMON_OPENAPI_OUT") {
            std::fs::write(out, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
        }
        assert!(spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
        for path in crate::http::paths::ALL
            .iter()
            .chain(&crate::http::alerting_paths::ALL)
            .chain(&["/health/live", "/health/ready", "/health/detailed", "/metrics"])
        {
            let item = spec["paths"][*path].as_object();
            assert!(item.is_some_and(|i| !i.is_empty()), "{path} is not described");
            for (method, op) in item.unwrap() {
                assert!(
                    op["responses"]["default"].is_object(),
                    "{method} {path}: no error answer"
                );
                assert!(op["summary"].is_string(), "{method} {path}: no summary");
            }
        }
    }
}
