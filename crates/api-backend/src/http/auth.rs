//! Token checks. Ingest endpoints want `Authorization: Bearer <API_INGEST_TOKEN>`; writes
//! (thresholds, silences) want `Authorization: Bearer <API_ADMIN_TOKEN>`; reads want
//! API_READ_TOKEN (or API_ADMIN_TOKEN) as a bearer header, a `?token=` query parameter or a
//! `token` cookie, because browsers' EventSource cannot send headers. An unset token leaves its
//! endpoints open. The dashboard logs in once (`POST /api/v1/session`) and gets that cookie,
//! HttpOnly and SameSite=Strict.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::Json;

use utoipa_axum::router::OpenApiRouter;

use crate::config::Tokens;
use crate::error::Error;

/// Which token a group of routes wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Ingest,
    Read,
    Admin,
}

/// Puts `router`'s routes behind the check of `token`, and says so in their description.
pub fn behind<S: Clone + Send + Sync + 'static>(
    mut router: OpenApiRouter<S>,
    tokens: &Arc<Tokens>,
    token: Token,
) -> OpenApiRouter<S> {
    super::openapi::secured(router.get_openapi_mut(), token);
    let tokens = tokens.clone();
    match token {
        Token::Ingest => router.route_layer(from_fn_with_state(tokens, require_ingest)),
        Token::Read => router.route_layer(from_fn_with_state(tokens, require_read)),
        Token::Admin => router.route_layer(from_fn_with_state(tokens, require_admin)),
    }
}

/// Middleware for the ingest routes.
pub async fn require_ingest(State(tokens): State<Arc<Tokens>>, req: Request, next: Next) -> Response {
    match &tokens.ingest {
        Some(want) if !bearer(req.headers()).is_some_and(|got| same(got, want)) => {
            Error::Unauthorized("a valid ingest token is required (Authorization: Bearer <API_INGEST_TOKEN>)")
                .into_response()
        }
        _ => next.run(req).await,
    }
}

/// Middleware for the write routes (thresholds, silences): `Authorization: Bearer
/// <API_ADMIN_TOKEN>` when that is set; without an admin token, whatever reads need.
pub async fn require_admin(State(tokens): State<Arc<Tokens>>, req: Request, next: Next) -> Response {
    match &tokens.admin {
        Some(want) if !bearer(req.headers()).is_some_and(|got| same(got, want)) => {
            Error::Unauthorized("a valid admin token is required (Authorization: Bearer <API_ADMIN_TOKEN>)")
                .into_response()
        }
        Some(_) => next.run(req).await,
        None => require_read(State(tokens), req, next).await,
    }
}

/// Middleware for the read routes.
pub async fn require_read(State(tokens): State<Arc<Tokens>>, req: Request, next: Next) -> Response {
    let Some(read) = &tokens.read else {
        return next.run(req).await;
    };
    let query: Option<String> = Query::<HashMap<String, String>>::try_from_uri(req.uri())
        .ok()
        .and_then(|Query(mut q)| q.remove("token"));
    let offered = [bearer(req.headers()), query.as_deref(), cookie(req.headers(), "token")];
    let accepted = |t: &str| same(t, read) || tokens.admin.as_deref().is_some_and(|a| same(t, a));
    if offered.into_iter().flatten().any(accepted) {
        next.run(req).await
    } else {
        Error::Unauthorized(
            "a valid read token is required (Authorization: Bearer <API_READ_TOKEN>, ?token= or cookie token)",
        )
        .into_response()
    }
}

/// `POST /api/v1/session` `{"token": "…"}`: the dashboard's login. A read (or admin) token is
/// answered with 204 and an HttpOnly, SameSite=Strict cookie `token` holding it (the cookie the
/// read routes accept), so the page never keeps the token itself; a wrong one with 401. Without
/// API_READ_TOKEN, reads are open: 204 and no cookie.
#[utoipa::path(
    post, path = super::paths::SESSION, tag = super::openapi::tags::DASHBOARD,
    summary = "Log in: exchanges the read (or admin) token for an HttpOnly, SameSite=Strict cookie `token`; without API_READ_TOKEN, 204 and no cookie",
    request_body = Login,
    responses(
        (status = 204, description = "Logged in (Set-Cookie: token)"),
        (status = 401, body = crate::error::ErrorBody, description = "Not the read token nor the admin token"),
    )
)]
pub async fn login(State(tokens): State<Arc<Tokens>>, body: Result<Json<Login>, JsonRejection>) -> Response {
    let Json(login) = match body {
        Ok(b) => b,
        Err(e) => return Error::InvalidBody(format!("expected {{\"token\": \"...\"}}: {e}")).into_response(),
    };
    let Some(read) = &tokens.read else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let accepted = same(&login.token, read) || tokens.admin.as_deref().is_some_and(|a| same(&login.token, a));
    if !accepted {
        return Error::Unauthorized("this is not the read token (API_READ_TOKEN) nor the admin token").into_response();
    }
    match HeaderValue::from_str(&format!("token={}; HttpOnly; SameSite=Strict; Path=/", login.token)) {
        Ok(cookie) => (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response(),
        Err(_) => Error::InvalidBody("the token has characters a cookie cannot hold".into()).into_response(),
    }
}

/// `DELETE /api/v1/session`: the dashboard's logout (the cookie is cleared).
#[utoipa::path(
    delete, path = super::paths::SESSION, tag = super::openapi::tags::DASHBOARD,
    summary = "Log out: clears the cookie",
    responses((status = 204, description = "Logged out"))
)]
pub async fn logout() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(
            header::SET_COOKIE,
            HeaderValue::from_static("token=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
        )],
    )
        .into_response()
}

/// The body of [`login`].
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct Login {
    /// API_READ_TOKEN or API_ADMIN_TOKEN.
    token: String,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// Compares without an early exit, so the time taken does not reveal how much of a token matched.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn finds_bearer_and_cookie_tokens() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer abc"));
        h.append(header::COOKIE, HeaderValue::from_static("theme=dark; token=xyz"));
        assert_eq!(bearer(&h), Some("abc"));
        assert_eq!(cookie(&h, "token"), Some("xyz"));
        assert_eq!(cookie(&h, "other"), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn compares_whole_tokens() {
        assert!(same("secret", "secret"));
        assert!(!same("secret", "secreT"));
        assert!(!same("secret", "secret2"));
        assert!(!same("", "x"));
    }
}
