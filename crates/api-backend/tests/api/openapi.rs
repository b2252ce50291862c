//! The generated OpenAPI description against the router: every path and method the router
//! answers is described, every described operation is routed (each answer is also checked
//! against its schema by `send_to`, see `described`).

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::support::TestApp;

/// A value for each path parameter.
fn filled(template: &str) -> String {
    template
        .replace("{id}", "1")
        .replace("{metric}", "host.cpu_percent")
        .replace("{machine_id}", "h1")
        .replace("{file}", "app.js")
}

#[tokio::test]
async fn every_routed_path_and_method_is_described_and_every_described_one_is_routed() {
    let t = TestApp::start().await;
    let spec = t.get("/api/v1/openapi.json").await.json;
    let paths = spec["paths"].as_object().expect("paths");
    assert!(paths.len() >= 32, "{} paths", paths.len());
    let mut routed = 0;
    for (template, item) in paths {
        let path = filled(template);
        for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            let described = item.get(method.as_str().to_lowercase()).is_some();
            let req = Request::builder()
                .method(method.clone())
                .uri(&path)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap();
            // the streams answer headers at once and then never end: the body is read briefly
            let response = t.app.router.clone().oneshot(req).await.expect("the router answers");
            let status = response.status();
            let stream = response
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
            let body = if stream {
                None
            } else {
                let bytes = tokio::time::timeout(Duration::from_secs(10), response.into_body().collect())
                    .await
                    .unwrap_or_else(|_| panic!("{method} {path}: the body did not end"))
                    .expect("body")
                    .to_bytes();
                serde_json::from_slice::<serde_json::Value>(&bytes).ok()
            };
            let unrouted = status == StatusCode::METHOD_NOT_ALLOWED
                || (status == StatusCode::NOT_FOUND
                    && body
                        .as_ref()
                        .is_some_and(|b| b["detail"].as_str().is_some_and(|d| d.starts_with("no route for")))
                    && template != "/{file}"); // an asset not built answers no route too
            if described {
                assert!(!unrouted, "{method} {template} is described but not routed ({status})");
                routed += 1;
            } else {
                assert!(unrouted, "{method} {template} is routed ({status}) but not described");
            }
            crate::described::check(&method, &path, status, if stream { None } else { body.as_ref() });
        }
    }
    assert!(routed >= 39, "{routed} operations");
}
