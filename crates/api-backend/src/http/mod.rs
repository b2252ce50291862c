//! The HTTP surface on one port: the dashboard at `/`, native `/api/v1`, the compat `/api` of
//! the original system, the OpenAPI description, and the ops routes (`/health/*`, `/metrics`) from `common::ops`.
//! Routes are registered from their handlers' `#[utoipa::path]` attributes (`routes!`), which
//! also make the description (`openapi`).
//! Handlers are thin: they parse, call the library, and answer JSON; errors answer through
//! [`crate::Error`]'s `IntoResponse`.

mod actuator;
mod alerting;
mod alerts;
mod auth;
mod compat;
mod compat_alerts;
mod ingest;
pub mod openapi;
mod queries;
mod silences;
pub mod streams;
mod thresholds;
mod track;
mod web;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::from_fn;
use axum::{Extension, Router};
use common::ops::Ops;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::CompressionLevel;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::alerting::Alerting;
use crate::config::{Cors, Tokens};
use crate::error::Error;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::store::Store;

pub use alerting::paths as alerting_paths;

/// Paths served (besides the ops routes); each one is described in the OpenAPI document.
pub mod paths {
    pub const INGEST: &str = "/api/v1/ingest";
    pub const MACHINES: &str = "/api/v1/machines";
    pub const SAMPLES: &str = "/api/v1/machines/{id}/samples";
    pub const EVENTS: &str = "/api/v1/machines/{id}/events";
    pub const OPENAPI: &str = "/api/v1/openapi.json";
    pub const COMPAT_METRICS: &str = "/api/metrics";
    pub const COMPAT_INVENTORY: &str = "/api/inventory/list";
    pub const MACHINE_METRICS: &str = "/metrics/machines";
    pub const FLEET: &str = "/api/v1/fleet";
    pub const DASHBOARD: &str = "/";
    pub const SESSION: &str = "/api/v1/session";
    pub const ASSET: &str = "/{file}";
    pub const DOCS: &str = "/api/v1/docs";
    pub const ACTUATOR_HEALTH: &str = "/actuator/health";
    pub const ACTUATOR_INFO: &str = "/actuator/info";
    pub const ALL: [&str; 15] = [
        INGEST,
        MACHINES,
        SAMPLES,
        EVENTS,
        OPENAPI,
        COMPAT_METRICS,
        COMPAT_INVENTORY,
        MACHINE_METRICS,
        FLEET,
        DASHBOARD,
        SESSION,
        ASSET,
        DOCS,
        ACTUATOR_HEALTH,
        ACTUATOR_INFO,
    ];
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: Metrics,
    /// INGEST_MAX_BODY_BYTES, for the 413 message.
    pub max_body: usize,
    /// Fan-out of stored alert events and records to the live streams.
    pub hub: Hub,
    /// The alert engine: rules, history and silences.
    pub alerting: Alerting,
    /// The ingest service (validate, alert, store, publish).
    pub ingest: crate::ingest::Ingest,
    /// Which tiers keep how much (for the samples queries' tier choice).
    pub retention: crate::store::Retention,
    /// The newest record of every host (`/metrics/machines`).
    pub latest: crate::latest::Latest,
    /// The open live streams, within their limits.
    pub streams: std::sync::Arc<streams::limit::Streams>,
    /// The readiness checks (`/actuator/health` answers from them).
    pub readiness: Arc<common::ops::Readiness>,
}

/// The whole application router.
pub fn router(state: AppState, tokens: Tokens, cors: &Cors, ops: Ops) -> Router {
    let (app, api) = routes(state.max_body, Arc::new(tokens), state.streams.clone());
    let spec = openapi::Spec(openapi::finish(api).to_json().unwrap_or_default().into());
    let metrics = state.metrics.clone();
    let mut app = app
        .with_state(state)
        .merge(common::ops::router(ops))
        .layer(Extension(spec))
        .fallback(no_route)
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(compression())
        .layer(from_fn(move |req, next| track::count(metrics.clone(), req, next)));
    if let Some(cors) = cors_layer(cors) {
        app = app.layer(cors);
    }
    app
}

/// The routes and their description (without the ops routes: [`openapi::finish`] adds them).
fn routes(
    max_body: usize,
    tokens: Arc<Tokens>,
    streams: Arc<streams::limit::Streams>,
) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let alerting = alerting::routes(tokens.clone()); // thresholds, alerts, silences, compat thresholds
    let ingest = OpenApiRouter::new()
        .routes(routes!(ingest::batch))
        .routes(routes!(compat::post_metrics))
        .layer(DefaultBodyLimit::max(max_body));
    let ingest = auth::behind(ingest, &tokens, auth::Token::Ingest);
    let reads = OpenApiRouter::new()
        .routes(routes!(queries::machines))
        .routes(routes!(queries::samples))
        .routes(routes!(queries::events))
        .routes(routes!(compat::inventory))
        .routes(routes!(queries::machine_metrics))
        .routes(routes!(queries::fleet))
        .merge(streams::routes(streams)); // live streams (SSE, WebSocket): read routes too
    let reads = auth::behind(reads, &tokens, auth::Token::Read);
    let docs = OpenApiRouter::new().routes(routes!(openapi::spec));
    // the original's health URLs: unauthenticated, as /health/ready
    let actuator = OpenApiRouter::new()
        .routes(routes!(actuator::health))
        .routes(routes!(actuator::info));
    // the dashboard's assets hold no data (its requests need the read token)
    let dashboard = OpenApiRouter::new()
        .routes(routes!(web::index))
        .routes(routes!(web::file))
        .routes(routes!(web::docs))
        .routes(routes!(auth::login, auth::logout))
        .with_state(tokens);
    OpenApiRouter::with_openapi(openapi::base())
        .merge(ingest)
        .merge(reads)
        .merge(alerting)
        .merge(docs)
        .merge(actuator)
        .merge(dashboard)
        .split_for_parts()
}

/// The description of every route, as `GET /api/v1/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let streams = streams::limit::Streams::new(Default::default());
    openapi::finish(routes(0, Arc::new(Tokens::default()), streams).1)
}

async fn no_route(req: Request) -> Error {
    Error::NoRoute(format!("{} {}", req.method(), req.uri().path()))
}

/// Answers compressed when the client asks (`Accept-Encoding`: zstd or gzip), at the fastest
/// level: the fleet answer and the exposition are megabytes of JSON and text at 22,000
/// machines, and a compressor's default level would cost more time than the transfer saves.
/// tower-http leaves out the live streams (`text/event-stream`; a WebSocket upgrade has no
/// body), answers under 32 bytes and those already encoded.
fn compression() -> CompressionLayer {
    CompressionLayer::new().quality(CompressionLevel::Fastest)
}

/// CORS_ALLOWED_ORIGINS as a layer; none for same-origin only (no CORS headers at all).
fn cors_layer(cors: &Cors) -> Option<CorsLayer> {
    let base = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("last-event-id"),
        ]);
    match cors {
        Cors::SameOrigin => None,
        Cors::AnyOrigin => Some(base.allow_origin(tower_http::cors::Any)),
        Cors::Origins(list) => {
            let origins = list.iter().filter_map(|o| HeaderValue::from_str(o).ok());
            // credentials: the read token may travel as a cookie
            Some(base.allow_origin(AllowOrigin::list(origins)).allow_credentials(true))
        }
    }
}
