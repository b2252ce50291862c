//! The library's one error type, and how each case answers over HTTP:
//! `{"error": "<code>", "detail": "<sentence>"}` with a 4xx/5xx status.

use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The body of every error answer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code: `invalid_body`, `invalid_parameter`, `ambiguous_machine`, `unknown_machine`,
    /// `not_found`, `invalid_rule`, `conflict`, `method_not_allowed`, `unauthorized`,
    /// `body_too_large`, `storage_unavailable`, `internal`.
    pub error: String,
    /// A sentence for the person who sent the request.
    pub detail: String,
}

/// Everything that can go wrong in the backend, from a bad request to a lost database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request body is not what the endpoint takes.
    #[error("{0}")]
    InvalidBody(String),
    /// A path or query parameter is malformed or out of range.
    #[error("{0}")]
    InvalidParameter(String),
    /// A container name matches more than one container.
    #[error("{0}")]
    AmbiguousMachine(String),
    /// No machine with this id (or container name) is known.
    #[error("no host or container {0:?} is known")]
    UnknownMachine(String),
    /// No route matches the path.
    #[error("no route for {0}")]
    NoRoute(String),
    /// The addressed resource (a rule, a silence) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A threshold rule or silence is not acceptable; the sentence says why.
    #[error("{0}")]
    InvalidRule(String),
    /// The change conflicts with what exists (e.g. a rule the compat endpoints manage).
    #[error("{0}")]
    Conflict(String),
    /// A limit that protects the backend was reached (too many rules, silences, streams);
    /// `limit` names it in `api_limit_refusals_total`.
    #[error("{message}")]
    LimitReached { limit: &'static str, message: String },
    /// Too much open at once (live streams); `limit` names it in `api_limit_refusals_total`.
    #[error("{message}")]
    Busy { limit: &'static str, message: String },
    /// The route exists but not with this method.
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// A token is required and was missing or wrong.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The body is larger than the configured limit.
    #[error("the request body is larger than {0} bytes")]
    BodyTooLarge(usize),
    /// MySQL cannot be reached (or kept conflicting); nothing was stored, the request is safe to retry.
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The records were stored but the alert events they raised are not yet: the answer waits
    /// for them so that a crash after it loses none; a retry finds the records stored.
    #[error("the alert events of the batch could not be stored within {}s", .0.as_secs())]
    EventsUnstored(Duration),
    /// MySQL answered with an error that retrying will not fix.
    #[error("storage error: {0}")]
    Storage(#[source] sqlx::Error),
    /// The database could not be reached at start within the allowed time.
    #[error("cannot connect to MySQL within {}s: {source}", after.as_secs())]
    Connect { after: Duration, source: sqlx::Error },
    /// The schema migrations failed at start.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Binding or serving the HTTP listener failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Sorts a database error: lost connections and timeouts are `Unavailable`, the rest `Storage`.
    pub fn from_sqlx(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match e {
            E::Io(_) | E::Tls(_) | E::Protocol(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => {
                Error::Unavailable(e)
            }
            E::Database(ref db) if is_unavailable_code(db.as_ref()) => Error::Unavailable(e),
            e => Error::Storage(e),
        }
    }

    /// HTTP status and stable error code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Error::InvalidBody(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
            Error::InvalidParameter(_) => (StatusCode::BAD_REQUEST, "invalid_parameter"),
            Error::AmbiguousMachine(_) => (StatusCode::BAD_REQUEST, "ambiguous_machine"),
            Error::UnknownMachine(_) => (StatusCode::NOT_FOUND, "unknown_machine"),
            Error::NoRoute(_) | Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::InvalidRule(_) => (StatusCode::BAD_REQUEST, "invalid_rule"),
            Error::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Error::LimitReached { .. } => (StatusCode::CONFLICT, "limit_reached"),
            Error::Busy { .. } => (StatusCode::TOO_MANY_REQUESTS, "limit_reached"),
            Error::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Error::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Error::BodyTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            Error::Unavailable(_) | Error::EventsUnstored(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable")
            }
            Error::Storage(_) | Error::Connect { .. } | Error::Migrate(_) | Error::Io(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }

    /// The sentence shown to the client. Server-side failures are logged in full but described
    /// briefly, without internals.
    fn detail(&self) -> String {
        match self {
            Error::Unavailable(_) => "storage is unavailable; nothing was stored, retry later".to_owned(),
            Error::Storage(_) | Error::Connect { .. } | Error::Migrate(_) | Error::Io(_) => {
                "the server failed to handle the request; see its log".to_owned()
            }
            other => other.to_string(),
        }
    }
}

/// MySQL error numbers that mean "the server is going away / not accepting work right now".
fn is_unavailable_code(db: &dyn sqlx::error::DatabaseError) -> bool {
    db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        // 1040 too many connections, 1053 shutdown in progress, 1205 lock wait timeout,
        // 1213 deadlock (after our retries), 2006/2013 server gone / lost connection;
        // out of disk space: 3 error writing a file, 1021 disk full, 1114 table full
        .is_some_and(|e| matches!(e.number(), 3 | 1021 | 1040 | 1053 | 1114 | 1205 | 1213 | 2006 | 2013))
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        let body = Json(ErrorBody {
            error: code.to_owned(),
            detail: self.detail(),
        });
        let limit = match &self {
            Error::LimitReached { limit, .. } | Error::Busy { limit, .. } => Some(LimitHit(limit)),
            _ => None,
        };
        let mut response = match self {
            Error::Unauthorized(_) => (status, [(header::WWW_AUTHENTICATE, "Bearer")], body).into_response(),
            Error::Unavailable(_) | Error::Busy { .. } => (status, [(header::RETRY_AFTER, "5")], body).into_response(),
            _ => (status, body).into_response(),
        };
        // counted by the request tracker
        if let Some(hit) = limit {
            response.extensions_mut().insert(hit);
        }
        response
    }
}

/// On a response refused by a limit: which one (counted by the request tracker).
#[derive(Debug, Clone, Copy)]
pub struct LimitHit(pub &'static str);

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
