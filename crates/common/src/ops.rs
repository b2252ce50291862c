//! The operational HTTP surface every binary serves: `GET /health/live`, `GET /health/ready`
//! (200 when every readiness check passes, 503 with the failing ones otherwise) and
//! `GET /metrics` (Prometheus/OpenMetrics text from a `prometheus-client` registry), plus
//! tracing set-up.

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

/// Named readiness checks, each either passing or failing with a detail.
#[derive(Debug, Default)]
pub struct Readiness {
    checks: Mutex<BTreeMap<String, Check>>,
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

    /// Records the current state of one check.
    pub fn set(&self, name: &str, ok: bool, detail: impl Into<String>) {
        let mut checks = self.checks.lock().expect("readiness lock");
        checks.insert(
            name.to_owned(),
            Check {
                ok,
                detail: detail.into(),
            },
        );
    }

    /// True when every check passes.
    pub fn is_ready(&self) -> bool {
        self.checks.lock().expect("readiness lock").values().all(|c| c.ok)
    }

    /// The checks as JSON: `{"ready": bool, "checks": {name: {"ok", "detail"}}}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.report()).unwrap_or_default()
    }

    /// The checks as answered by `GET /health/ready`.
    pub fn report(&self) -> ReadyReport {
        let checks = self.checks.lock().expect("readiness lock");
        ReadyReport {
            ready: checks.values().all(|c| c.ok),
            checks: checks.clone(),
        }
    }
}

/// Shared state of the ops routes.
#[derive(Clone)]
pub struct Ops {
    pub registry: Arc<Registry>,
    pub readiness: Arc<Readiness>,
}

/// Router with `/health/live`, `/health/ready` and `/metrics`.
pub fn router(ops: Ops) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(ops)
}

/// The ops routes' description, for api-backend's OpenAPI document.
#[cfg(feature = "openapi")]
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(live, ready, metrics))]
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
}
