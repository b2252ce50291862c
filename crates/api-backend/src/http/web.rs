//! The dashboard at `/` and the API description page at `/api/v1/docs` (Swagger UI): the
//! assets built from `web/` (`scripts/build-web.sh` → `web/dist`), embedded at compile time,
//! so the binary serves them offline. A binary built without them (`cargo build` alone)
//! answers both with a page that says how to build them.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::error::Error;

#[derive(rust_embed::Embed)]
#[folder = "../../web/dist/"]
#[allow_missing = true]
struct Assets;

/// Shown at `/` when the binary was built without the dashboard's assets.
const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>srmon</title></head>\
<body><h1>srmon</h1><p>This api-backend was built without the dashboard: run <code>scripts/build-web.sh</code> \
(npm) before <code>cargo build</code>. The API works: <a href=\"/api/v1/machines\">/api/v1/machines</a>, \
<a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p></body></html>";

#[utoipa::path(
    get, path = super::paths::DASHBOARD, tag = super::openapi::tags::DASHBOARD,
    summary = "The web dashboard (assets embedded in the binary; without them, a page saying how to build them)",
    responses((status = 200, description = "The dashboard's page", content_type = "text/html"))
)]
pub async fn index() -> Response {
    page("index.html")
}

#[utoipa::path(
    get, path = super::paths::DOCS, tag = super::openapi::tags::OPS,
    summary = "This description, readable (Swagger UI, embedded in the binary)",
    responses((status = 200, description = "The page", content_type = "text/html"))
)]
pub async fn docs() -> Response {
    page("docs.html")
}

fn page(name: &str) -> Response {
    match Assets::get(name) {
        Some(file) => asset(name, file.data.into_owned()),
        None => (StatusCode::OK, Html(NOT_BUILT)).into_response(),
    }
}

/// A top-level asset (`/app.js`, `/app.css`); any other path is the usual JSON 404.
#[utoipa::path(
    get, path = super::paths::ASSET, tag = super::openapi::tags::DASHBOARD,
    summary = "An asset of the dashboard (app.js, app.css, ...)",
    params(("file" = String, Path, description = "The asset's file name")),
    responses(
        (status = 200, description = "The asset", content_type = "application/octet-stream"),
        (status = 404, body = crate::error::ErrorBody, description = "No such asset"),
    )
)]
pub async fn file(Path(name): Path<String>) -> Response {
    match Assets::get(&name) {
        Some(file) if !name.ends_with(".html") => asset(&name, file.data.into_owned()),
        _ => Error::NoRoute(format!("/{name}")).into_response(),
    }
}

fn asset(name: &str, body: Vec<u8>) -> Response {
    let kind = match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    // the HTML names the assets without a version: revalidate rather than cache blindly
    (
        [(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-cache")],
        body,
    )
        .into_response()
}
