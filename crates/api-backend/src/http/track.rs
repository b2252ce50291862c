//! Counts every answered request by route pattern and status (`api_http_requests_total`), and
//! the requests a limit refused by limit (`api_limit_refusals_total`).

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::LimitHit;
use crate::metrics::{HttpLabels, LimitLabel, Metrics};

/// Middleware: runs the request, then counts it. Unmatched paths share one label value so that
/// scanners cannot blow up the label set.
pub async fn count(metrics: Metrics, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(req).await;
    if let Some(LimitHit(limit)) = response.extensions().get::<LimitHit>() {
        metrics.limit_refusals.get_or_create(&LimitLabel { limit }).inc();
    }
    metrics
        .http_requests
        .get_or_create(&HttpLabels {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}
