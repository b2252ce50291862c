//! The operational HTTP surface every binary serves: `GET /health/live`, `GET /health/ready`
//! (200 when every readiness check passes, 503 with the failing ones otherwise),
//! `GET /health/detailed` (each dependency with its response time and last error, see
//! [`crate::health`]) and `GET /metrics` (Prometheus/OpenMetrics text from a
//! `prometheus-client` registry), plus tracing set-up.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::registry::Registry;

use crate::server::Connections;
use crate::shutdown::Shutdown;

/// Named checks of the binary's dependencies, each either passing or failing with a detail.
/// The critical ones make readiness; the others (a webhook receiver, say) only degrade the
/// detailed health.
#[derive(Debug)]
pub struct Readiness {
    checks: Mutex<BTreeMap<String, Entry>>,
    /// When the process started (for the detailed health's uptime).
    pub started: std::time::Instant,
}

impl Default for Readiness {
    fn default() -> Self {
        Readiness {
            checks: Mutex::default(),
            started: std::time::Instant::now(),
        }
    }
}

/// One check as last recorded, with what the detailed health reports of it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub check: Check,
    /// Part of readiness (else it only degrades the detailed health).
    pub critical: bool,
    /// How long the check's probe took, when it timed one.
    pub response_time: Option<std::time::Duration>,
    /// The newest failure's detail and time (kept after the check passes again).
    pub last_error: Option<(String, chrono::DateTime<chrono::Utc>)>,
    pub checked_at: chrono::DateTime<chrono::Utc>,
}

/// One readiness check.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Check {
    pub ok: bool,
    pub detail: String,
}

/// `GET /health/ready`'s body.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadyReport {
    /// Every check passes.
    pub ready: bool,
    pub checks: BTreeMap<String, Check>,
}

/// `GET /health/live`'s body: `{"status": "live"}`.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Live {
    pub status: &'static str,
}

impl Readiness {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Records the current state of one (critical) check.
    pub fn set(&self, name: &str, ok: bool, detail: impl Into<String>) {
        self.record(name, true, ok, detail.into(), None);
    }

    /// Records one critical check whose probe took `took`.
    pub fn measured(&self, name: &str, ok: bool, detail: impl Into<String>, took: std::time::Duration) {
        self.record(name, true, ok, detail.into(), Some(took));
    }

    /// Records a check that is not part of readiness: failing, it degrades the detailed
    /// health only (`took`: how long its probe took, when timed).
    pub fn set_optional(&self, name: &str, ok: bool, detail: impl Into<String>, took: Option<std::time::Duration>) {
        self.record(name, false, ok, detail.into(), took);
    }

    fn record(&self, name: &str, critical: bool, ok: bool, detail: String, took: Option<std::time::Duration>) {
        let now = chrono::Utc::now();
        let mut checks = self.checks.lock().expect("readiness lock");
        let last_error = match checks.get(name) {
            _ if !ok => Some((detail.clone(), now)),
            Some(e) => e.last_error.clone(),
            None => None,
        };
        // a timed check keeps its last time while a later record of it has none
        let response_time = took.or_else(|| checks.get(name).and_then(|e| e.response_time));
        checks.insert(
            name.to_owned(),
            Entry {
                check: Check { ok, detail },
                critical,
                response_time,
                last_error,
                checked_at: now,
            },
        );
    }

    /// True when every critical check passes.
    pub fn is_ready(&self) -> bool {
        self.checks
            .lock()
            .expect("readiness lock")
            .values()
            .all(|e| !e.critical || e.check.ok)
    }

    /// Every check as last recorded.
    pub fn entries(&self) -> BTreeMap<String, Entry> {
        self.checks.lock().expect("readiness lock").clone()
    }

    /// The checks as JSON: `{"ready": bool, "checks": {name: {"ok", "detail"}}}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.report()).unwrap_or_default()
    }

    /// The critical checks as answered by `GET /health/ready`.
    pub fn report(&self) -> ReadyReport {
        let checks: BTreeMap<String, Check> = self
            .checks
            .lock()
            .expect("readiness lock")
            .iter()
            .filter(|(_, e)| e.critical)
            .map(|(name, e)| (name.clone(), e.check.clone()))
            .collect();
        ReadyReport {
            ready: checks.values().all(|c| c.ok),
            checks,
        }
    }
}

/// Shared state of the ops routes.
#[derive(Clone)]
pub struct Ops {
    pub registry: Arc<Registry>,
    pub readiness: Arc<Readiness>,
}

/// Router with `/health/live`, `/health/ready`, `/health/detailed` and `/metrics`.
pub fn router(ops: Ops) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/health/detailed", get(detailed))
        .route("/metrics", get(metrics))
        .with_state(ops)
}

/// The ops routes' description, for api-backend's OpenAPI document.
#[cfg(feature = "openapi")]
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(live, ready, detailed, metrics))]
    struct Ops;
    <Ops as utoipa::OpenApi>::openapi()
}

#[cfg_attr(feature = "openapi", utoipa::path(
    get, path = "/health/live", tag = "ops", summary = "The process runs",
    responses((status = 200, description = "The process runs", body = Live))
))]
async fn live() -> Json<Live> {
    Json(Live { status: "live" })
}

#[cfg_attr(feature = "openapi", utoipa::path(
    get, path = "/health/ready", tag = "ops", summary = "Readiness: every check passes",
    responses(
        (status = 200, description = "Every readiness check passes (api-backend: `database`, MySQL reachable)", body = ReadyReport),
        (status = 503, description = "A check fails", body = ReadyReport),
    )
))]
async fn ready(State(ops): State<Ops>) -> Response {
    let status = if ops.readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(ops.readiness.report())).into_response()
}

#[cfg_attr(feature = "openapi", utoipa::path(
    get, path = "/health/detailed", tag = "ops", summary = "Each dependency's status, response time and last error; disk space, version, uptime",
    responses(
        (status = 200, description = "`healthy` (every check passes) or `degraded` (an optional dependency, such as a webhook receiver, fails)", body = crate::health::Detailed),
        (status = 503, description = "`unhealthy`: a critical dependency fails (as /health/ready)", body = crate::health::Detailed),
    )
))]
async fn detailed(State(ops): State<Ops>) -> Response {
    let report = crate::health::detailed(&ops.readiness);
    let status = if report.status == crate::health::Overall::Unhealthy {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(report)).into_response()
}

#[cfg_attr(feature = "openapi", utoipa::path(
    get, path = "/metrics", tag = "ops", summary = "The binary's own metrics (Prometheus text format)",
    responses((status = 200, description = "The binary's own metrics, Prometheus text format", content_type = "text/plain"))
))]
async fn metrics(State(ops): State<Ops>) -> Response {
    match render_metrics(&ops.registry) {
        Ok(body) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Encodes a registry in the classic Prometheus text format (what `promtool check metrics` and
/// every Prometheus version read).
pub fn render_metrics(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut open_metrics = String::new();
    prometheus_client::encoding::text::encode(&mut open_metrics, registry)?;
    Ok(openmetrics_to_prometheus(&open_metrics))
}

/// prometheus-client writes OpenMetrics, where a counter family `x` has samples `x_total`; the
/// classic format wants the family itself named `x_total`, and has no `# EOF` or `# UNIT`.
fn openmetrics_to_prometheus(text: &str) -> String {
    let counters: std::collections::HashSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            counters.contains(name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line).trim_end());
        out.push('\n');
    }
    out
}

/// Binds `addr`; the error names the address (call it at start-up so a busy port fails fast).
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// Serves `router` on a bound listener until `shutdown` fires, within the connection limits of
/// [`crate::server`], counting refusals in `conns`.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: Shutdown,
    conns: Arc<Connections>,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "listening");
    }
    crate::server::serve(listener, router, shutdown, conns).await;
    Ok(())
}

/// Binds `addr` (a start-up error names it) and serves `router` until `shutdown` fires.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    shutdown: Shutdown,
    conns: Arc<Connections>,
) -> std::io::Result<()> {
    serve_on(bind(addr).await?, router, shutdown, conns).await
}

/// Logs to stderr; `RUST_LOG` filters (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::gauge::Gauge;

    #[test]
    fn counters_are_named_with_total_in_classic_text() {
        let mut registry = Registry::default();
        let c = Counter::<u64>::default();
        c.inc();
        registry.register("things_done", "Things done", c);
        registry.register("queue_depth", "Depth", Gauge::<i64>::default());
        let text = render_metrics(&registry).unwrap();
        assert!(text.contains("# HELP things_done_total Things done."), "{text}");
        assert!(text.contains("# TYPE things_done_total counter"), "{text}");
        assert!(text.contains("things_done_total 1"), "{text}");
        assert!(text.contains("# TYPE queue_depth gauge"), "{text}");
        assert!(!text.contains("# EOF"), "{text}");
    }

    #[test]
    fn readiness_fails_when_any_check_fails() {
        let r = Readiness::new();
        assert!(r.is_ready());
        r.set("kafka", true, "connected");
        r.set("docker", false, "unreachable");
        assert!(!r.is_ready());
        assert_eq!(r.to_json()["checks"]["docker"]["detail"], "unreachable");
        r.set("docker", true, "ok");
        assert!(r.is_ready());
    }

    #[test]
    fn an_optional_check_degrades_but_does_not_unready_and_errors_are_remembered() {
        use crate::health::{detailed, Overall};
        let r = Readiness::new();
        r.measured("database", true, "reachable", std::time::Duration::from_millis(3));
        assert_eq!(detailed(&r).status, Overall::Healthy);
        r.set_optional("webhook", false, "connection refused", None);
        assert!(r.is_ready(), "optional checks are not readiness");
        assert!(!r.report().checks.contains_key("webhook"), "/health/ready is unchanged");
        let d = detailed(&r);
        assert_eq!(d.status, Overall::Degraded);
        assert_eq!(d.checks["webhook"].error.as_deref(), Some("connection refused"));
        assert_eq!(d.checks["webhook"].last_error.as_deref(), Some("connection refused"));
        r.measured("database", false, "timed out", std::time::Duration::from_secs(2));
        assert_eq!(detailed(&r).status, Overall::Unhealthy);
        r.measured("database", true, "reachable", std::time::Duration::from_millis(4));
        let db = &detailed(&r).checks["database"];
        assert_eq!((db.status, db.response_time_ms), (crate::health::Up::Up, Some(4.0)));
        assert_eq!(db.error, None, "up: no current error");
        assert_eq!(db.last_error.as_deref(), Some("timed out"), "the last error is kept");
    }
}
