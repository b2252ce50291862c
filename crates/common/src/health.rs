//! `GET /health/detailed`, every binary's: overall `status` (`healthy` / `degraded` /
//! `unhealthy`), `checks`: each dependency the binary checks (MySQL, Kafka, Docker, the
//! backend, a webhook receiver) with its `status`, `response_time_ms` where the check timed a
//! probe, `error` (the current failure, null while up) and the newest error and when it was,
//! the disk space where the process runs (its working directory: logs, spools), version and
//! uptime. Built from the same checks as `/health/ready` ([`crate::ops::Readiness`]).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ops::Readiness;

/// The overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Overall {
    /// Every check passes.
    Healthy,
    /// An optional dependency fails; the binary still does its job.
    Degraded,
    /// A critical dependency fails (the binary is not ready).
    Unhealthy,
}

/// `up` or `down`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Up {
    Up,
    Down,
}

/// One dependency.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dependency {
    pub status: Up,
    /// Part of readiness: down makes the binary unhealthy (else degraded).
    pub critical: bool,
    /// How long the last probe took, when the check times one.
    pub response_time_ms: Option<f64>,
    /// What the last check found.
    pub detail: String,
    /// The current failure; null while the dependency is up.
    pub error: Option<String>,
    /// The newest failure (kept after the dependency is back), and when it was (RFC 3339).
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    /// When the dependency was last checked (RFC 3339).
    pub checked_at: String,
}

/// Space of one filesystem the process writes to.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Disk {
    pub path: String,
    pub total_bytes: u64,
    pub free_bytes: u64,
    pub used_percent: f64,
}

/// `GET /health/detailed`'s body.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Detailed {
    pub status: Overall,
    pub version: &'static str,
    pub uptime_secs: u64,
    /// Each dependency by name.
    pub checks: BTreeMap<String, Dependency>,
    pub disks: Vec<Disk>,
}

/// The detailed health of the checks in `readiness`.
pub fn detailed(readiness: &Readiness) -> Detailed {
    let mut status = Overall::Healthy;
    let checks = readiness
        .entries()
        .into_iter()
        .map(|(name, e)| {
            if !e.check.ok {
                status = match (status, e.critical) {
                    (_, true) | (Overall::Unhealthy, _) => Overall::Unhealthy,
                    _ => Overall::Degraded,
                };
            }
            let dep = Dependency {
                status: if e.check.ok { Up::Up } else { Up::Down },
                critical: e.critical,
                error: (!e.check.ok).then(|| e.check.detail.clone()),
                response_time_ms: e.response_time.map(|d| (d.as_secs_f64() * 1e6).round() / 1e3),
                detail: e.check.detail,
                last_error_at: e.last_error.as_ref().map(|(_, at)| crate::timefmt::format(at)),
                last_error: e.last_error.map(|(text, _)| text),
                checked_at: crate::timefmt::format(&e.checked_at),
            };
            (name, dep)
        })
        .collect();
    Detailed {
        status,
        version: env!("CARGO_PKG_VERSION"),
        uptime_secs: readiness.started.elapsed().as_secs(),
        checks,
        disks: disk(".").into_iter().collect(),
    }
}

/// The space of the filesystem holding `path`, when it can be read.
fn disk(path: &str) -> Option<Disk> {
    let dir = std::fs::canonicalize(path).ok()?;
    let st = rustix::fs::statvfs(&dir).ok()?;
    let block = st.f_frsize.max(1);
    let total = st.f_blocks.saturating_mul(block);
    let free = st.f_bavail.saturating_mul(block);
    let used_percent = if total == 0 {
        0.0
    } else {
        ((total - free.min(total)) as f64 * 1000.0 / total as f64).round() / 10.0
    };
    Some(Disk {
        path: dir.display().to_string(),
        total_bytes: total,
        free_bytes: free,
        used_percent,
    })
}
