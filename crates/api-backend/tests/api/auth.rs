//! Tokens: ingest wants API_INGEST_TOKEN as a bearer header; reads want API_READ_TOKEN (or the
//! admin token) as a bearer header, `?token=` or cookie; health and metrics stay open. CORS.

use api_backend::config::{Cors, Tokens};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::json;

use crate::support::{assert_error, host_record, Reply, TestApp};

async fn with_tokens() -> TestApp {
    TestApp::start_with(|c| {
        c.tokens = Tokens {
            ingest: Some("in-secret".into()),
            read: Some("rd-secret".into()),
            admin: Some("ad-secret".into()),
        }
    })
    .await
}

async fn post_with(t: &TestApp, uri: &str, auth: Option<&str>, body: &serde_json::Value) -> Reply {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    t.send(req.body(Body::from(serde_json::to_vec(body).unwrap())).unwrap())
        .await
}

async fn get_with(t: &TestApp, uri: &str, header: Option<(header::HeaderName, &str)>) -> Reply {
    let mut req = Request::get(uri);
    if let Some((name, value)) = header {
        req = req.header(name, value);
    }
    t.send(req.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn ingest_needs_the_ingest_token_when_set() {
    let t = with_tokens().await;
    let batch = json!([host_record("r1", "h", "2026-03-01T10:00:00Z")]);
    for auth in [None, Some("Bearer wrong"), Some("Bearer rd-secret"), Some("in-secret")] {
        let reply = post_with(&t, "/api/v1/ingest", auth, &batch).await;
        assert_error(&reply, StatusCode::UNAUTHORIZED, "unauthorized");
        assert_eq!(
            reply.headers.get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer",
            "{auth:?}"
        );
    }
    assert_error(
        &post_with(&t, "/api/metrics", None, &json!({})).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    assert_eq!(t.stored().await.0, 0);
    let ok = post_with(&t, "/api/v1/ingest", Some("Bearer in-secret"), &batch).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.json["accepted"], 1);
}

#[tokio::test]
async fn reads_need_the_read_token_as_header_query_or_cookie() {
    let t = with_tokens().await;
    for uri in [
        "/api/v1/machines",
        "/api/inventory/list",
        "/api/v1/machines/h/samples",
        "/metrics/machines",
    ] {
        assert_error(&get_with(&t, uri, None).await, StatusCode::UNAUTHORIZED, "unauthorized");
        let wrong = get_with(&t, uri, Some((header::AUTHORIZATION, "Bearer in-secret"))).await;
        assert_error(&wrong, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let ok = [
        get_with(
            &t,
            "/api/v1/machines",
            Some((header::AUTHORIZATION, "Bearer rd-secret")),
        )
        .await,
        get_with(&t, "/api/v1/machines?token=rd-secret", None).await,
        get_with(
            &t,
            "/api/v1/machines",
            Some((header::COOKIE, "lang=en; token=rd-secret")),
        )
        .await,
        get_with(
            &t,
            "/api/v1/machines",
            Some((header::AUTHORIZATION, "Bearer ad-secret")),
        )
        .await,
    ];
    for reply in ok {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    for open in ["/health/live", "/health/ready", "/metrics", "/api/v1/openapi.json"] {
        assert_eq!(get_with(&t, open, None).await.status, StatusCode::OK, "{open}");
    }
}

#[tokio::test]
async fn cors_headers_only_for_allowed_origins() {
    let t = TestApp::start_with(|c| c.cors = Cors::Origins(vec!["https://dash.example".into()])).await;
    let allowed = get_with(&t, "/api/v1/machines", Some((header::ORIGIN, "https://dash.example"))).await;
    assert_eq!(
        allowed.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).unwrap(),
        "https://dash.example"
    );
    let other = get_with(&t, "/api/v1/machines", Some((header::ORIGIN, "https://evil.example"))).await;
    assert_eq!(other.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN), None);
    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/v1/ingest")
        .header(header::ORIGIN, "https://dash.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .body(Body::empty())
        .unwrap();
    let reply = t.send(preflight).await;
    assert!(reply.status.is_success(), "{}", reply.status);
    assert_eq!(
        reply.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).unwrap(),
        "https://dash.example"
    );

    let same_origin = TestApp::start().await;
    let reply = get_with(
        &same_origin,
        "/api/v1/machines",
        Some((header::ORIGIN, "https://dash.example")),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        None,
        "no CORS_ALLOWED_ORIGINS: no CORS headers"
    );
}

#[tokio::test]
async fn the_dashboard_login_exchanges_the_read_token_for_an_http_only_cookie() {
    let t = with_tokens().await;
    let wrong = post_with(&t, "/api/v1/session", None, &json!({"token": "guess"})).await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(wrong.headers.get(header::SET_COOKIE).is_none());
    assert_error(
        &post_with(&t, "/api/v1/session", None, &json!({"tok": "rd-secret"})).await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
    );
    for token in ["rd-secret", "ad-secret"] {
        let ok = post_with(&t, "/api/v1/session", None, &json!({ "token": token })).await;
        assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.text);
        let cookie = ok.headers[header::SET_COOKIE].to_str().unwrap().to_owned();
        assert_eq!(cookie, format!("token={token}; HttpOnly; SameSite=Strict; Path=/"));
        // the cookie is what the read routes take
        let sent = cookie.split(';').next().unwrap();
        let fleet = get_with(&t, "/api/v1/fleet", Some((header::COOKIE, sent))).await;
        assert_eq!(fleet.status, StatusCode::OK, "{}", fleet.text);
    }
    let out = t
        .send(Request::delete("/api/v1/session").body(Body::empty()).unwrap())
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.headers[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    // without a read token there is nothing to log in to
    let open = TestApp::start().await;
    let reply = post_with(&open, "/api/v1/session", None, &json!({"token": "anything"})).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.headers.get(header::SET_COOKIE).is_none());
}
