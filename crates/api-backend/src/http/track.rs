//! Counts every answered request by route pattern and status (`api_http_requests_total`).

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

use crate::metrics::{HttpLabels, Metrics};

/// Middleware: runs the request, then counts it. Unmatched paths share one label value so that
/// scanners cannot blow up the label set.
pub async fn count(metrics: Metrics, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(req).await;
    metrics
        .http_requests
        .get_or_create(&HttpLabels {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}
