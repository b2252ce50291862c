//! Sampling containers through the Docker Engine API (bollard): list every container, one-shot
//! stats for the running ones (bounded fan-out, a timeout on every call, a deadline per tick),
//! inspect for health and restart count when a container is first seen or an event says it
//! changed. When an engine reports a health check without its outcome (podman), the health
//! change found by inspecting becomes the `container_healthy`/`container_unhealthy` event.
//! When Docker cannot be reached the records go out host-only: one warning, a failing `docker`
//! readiness check, and one line again when it answers.

pub mod client;
pub mod events;
pub mod raw;
pub mod stats;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::StatsOptions;
use bollard::{ClientVersion, Docker};
use chrono::{DateTime, Utc};
use common::ops::Readiness;
use common::{ContainerSample, Event, EventKind};
use futures_util::StreamExt;
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::metrics::Metrics;
use client::{bounded, Endpoint};
use events::Notice;
use raw::RawClient;
use stats::StatsCounters;

/// Docker sampling settings.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    pub endpoint: Endpoint,
    /// DOCKER_TIMEOUT: the longest any single call may take.
    pub timeout: Duration,
    /// DOCKER_CONCURRENCY: stats/inspect calls in flight at once.
    pub concurrency: usize,
}

/// What inspect told us last.
#[derive(Debug, Clone, Default, PartialEq)]
struct Inspected {
    health: Option<String>,
    restart_count: Option<u64>,
}

/// What we keep per container between ticks.
#[derive(Debug, Default)]
struct Tracked {
    prev: Option<StatsCounters>,
    inspected: Option<Inspected>,
    needs_inspect: bool,
    /// A health check ran at this time with an outcome we learn by inspecting.
    health_check_at: Option<DateTime<Utc>>,
}

/// The answer of one container's calls in a tick.
struct Answer {
    id: String,
    stats: Option<Result<(ContainerStatsResponse, std::time::Instant)>>,
    inspect: Option<Result<raw::Inspect>>,
}

/// Samples containers; owns the connection and the per-container memory.
pub struct DockerSampler {
    cfg: DockerConfig,
    /// bollard, for version negotiation and stats.
    client: Option<Docker>,
    /// Plain HTTP, for the list and inspect (lenient parsing).
    raw: RawClient,
    connecting: Option<tokio::task::JoinHandle<Result<Docker>>>,
    /// Since when `list` has been answering too slowly for the tick.
    slow_since: Option<Instant>,
    up: Option<bool>,
    tracked: HashMap<String, Tracked>,
    /// Events found out by inspecting (health changes), for the record being built.
    derived: Vec<Event>,
    metrics: Metrics,
    readiness: Arc<Readiness>,
}

impl DockerSampler {
    pub fn new(cfg: DockerConfig, metrics: Metrics, readiness: Arc<Readiness>) -> Self {
        readiness.set("docker", false, format!("not connected yet to {}", cfg.endpoint));
        DockerSampler {
            raw: RawClient::new(&cfg.endpoint),
            cfg,
            client: None,
            connecting: None,
            slow_since: None,
            up: None,
            tracked: HashMap::new(),
            derived: Vec::new(),
            metrics,
            readiness,
        }
    }

    /// Takes an event into account: re-inspect after start/die/health changes (and forget the
    /// previous stats on start/die, whose counters restart with the container); forget removed
    /// containers.
    pub fn apply(&mut self, notice: &Notice) {
        if notice.removed {
            self.tracked.remove(&notice.container_id);
        } else if notice.reinspect {
            let t = self.tracked.entry(notice.container_id.clone()).or_default();
            t.needs_inspect = true;
            if let Some(at) = notice.health_unknown_at {
                t.health_check_at = Some(at);
            }
            let kind = notice.event.as_ref().map(|e| e.kind);
            if matches!(kind, Some(EventKind::ContainerStarted | EventKind::ContainerDied)) {
                t.prev = None;
            }
        }
    }

    /// Events the sampler found out itself since the last call (health changes learnt by
    /// inspecting after a bare `health_status` event).
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.derived)
    }

    /// Samples every container; Docker calls still pending at `deadline` are abandoned and
    /// those containers' measurements are absent this tick. Empty when Docker is unreachable.
    pub async fn sample(&mut self, host_cores: Option<u32>, deadline: Instant) -> Vec<ContainerSample> {
        let Some(docker) = self.client(deadline).await else {
            return Vec::new();
        };
        let version = docker.client_version();
        match self.raw.list(&version, self.call_timeout(deadline)).await {
            Ok(list) => {
                self.slow_since = None;
                self.mark_up();
                self.sample_listed(docker, version, list, host_cores, deadline).await
            }
            Err(e @ Error::DockerTimeout { .. }) => {
                // Slow, maybe stuck: down only once it has not answered for DOCKER_TIMEOUT.
                self.metrics.docker_error("list");
                let since = *self.slow_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= self.cfg.timeout {
                    self.client = None;
                    self.mark_down(&e);
                }
                Vec::new()
            }
            Err(e) => {
                self.metrics.docker_error("list");
                self.client = None; // reconnect (and renegotiate the API version) next tick
                self.mark_down(&e);
                Vec::new()
            }
        }
    }

    /// The connected client. Connecting (which negotiates the API version) runs in its own task
    /// bounded by DOCKER_TIMEOUT, so a slow engine delays container sampling, not the tick.
    async fn client(&mut self, deadline: Instant) -> Option<Docker> {
        if let Some(c) = &self.client {
            return Some(c.clone());
        }
        let handle = self.connecting.get_or_insert_with(|| {
            let (endpoint, timeout) = (self.cfg.endpoint.clone(), self.cfg.timeout);
            tokio::spawn(async move { endpoint.connect(timeout).await })
        });
        let joined = tokio::time::timeout_at(deadline, handle).await.ok()?; // still connecting
        self.connecting = None;
        match joined.map_err(Error::Task).and_then(|r| r) {
            Ok(docker) => {
                self.client = Some(docker.clone());
                Some(docker)
            }
            Err(e) => {
                self.metrics.docker_error("connect");
                self.mark_down(&e);
                None
            }
        }
    }

    async fn sample_listed(
        &mut self,
        docker: Docker,
        version: ClientVersion,
        list: Vec<raw::Summary>,
        host_cores: Option<u32>,
        deadline: Instant,
    ) -> Vec<ContainerSample> {
        self.metrics.containers.set(list.len() as i64);
        let mut samples: Vec<ContainerSample> = list.iter().filter_map(summary_to_sample).collect();
        let listed: std::collections::HashSet<&str> = samples.iter().map(|s| s.id.as_str()).collect();
        self.tracked.retain(|id, _| listed.contains(id.as_str()));

        let timeout = self.call_timeout(deadline);
        let mut jobs = Vec::new();
        for s in &samples {
            let t = self.tracked.entry(s.id.clone()).or_insert_with(|| Tracked {
                needs_inspect: true,
                ..Default::default()
            });
            let running = s.state == "running";
            if !running {
                t.prev = None;
            }
            if running || t.needs_inspect {
                let (docker, raw) = (docker.clone(), self.raw.clone());
                jobs.push(fetch(
                    docker,
                    raw,
                    version,
                    s.id.clone(),
                    running,
                    t.needs_inspect,
                    timeout,
                ));
            }
        }
        let mut answers = Vec::with_capacity(jobs.len());
        let pending = jobs.len();
        let mut stream = futures_util::stream::iter(jobs).buffer_unordered(self.cfg.concurrency.max(1));
        while let Ok(Some(answer)) = tokio::time::timeout_at(deadline, stream.next()).await {
            answers.push(answer);
        }
        if answers.len() < pending {
            let late = pending - answers.len();
            tracing::debug!(
                late,
                "docker calls still pending at the tick's deadline; their containers have no stats this tick"
            );
            for _ in 0..late {
                self.metrics.docker_error("stats");
            }
        }

        let names: HashMap<&str, &str> = samples.iter().map(|s| (s.id.as_str(), s.name.as_str())).collect();
        let mut fresh: HashMap<String, (ContainerStatsResponse, StatsCounters)> = HashMap::new();
        for a in answers {
            let t = self.tracked.entry(a.id.clone()).or_default();
            match a.inspect {
                Some(Ok(resp)) => {
                    let now = Inspected {
                        health: resp.health(),
                        restart_count: resp.restart_count(),
                    };
                    let before = t.inspected.as_ref().and_then(|i| i.health.clone());
                    if let Some(at) = t.health_check_at.take() {
                        let name = names.get(a.id.as_str()).copied().unwrap_or_default();
                        self.derived
                            .extend(health_change(&a.id, name, before.as_deref(), now.health.as_deref(), at));
                    }
                    t.inspected = Some(now);
                    t.needs_inspect = false;
                }
                Some(Err(e)) => {
                    self.metrics.docker_error("inspect");
                    tracing::debug!(id = %a.id, error = %e, "inspect failed; will retry next tick");
                }
                None => {}
            }
            match a.stats {
                Some(Ok((resp, at))) => {
                    let c = stats::counters(&resp, at);
                    fresh.insert(a.id, (resp, c));
                }
                Some(Err(e)) => {
                    self.metrics.docker_error("stats");
                    tracing::debug!(id = %a.id, error = %e, "stats failed");
                }
                None => {}
            }
        }

        for s in &mut samples {
            let Some(t) = self.tracked.get_mut(&s.id) else { continue };
            if let Some(i) = &t.inspected {
                s.health = i.health.clone();
                s.restart_count = i.restart_count;
            }
            if let Some((resp, cur)) = fresh.remove(&s.id) {
                stats::fill(s, &resp, &cur, t.prev.as_ref(), host_cores);
                t.prev = Some(cur);
            }
        }
        samples
    }

    /// DOCKER_TIMEOUT, but never past the tick's deadline.
    fn call_timeout(&self, deadline: Instant) -> Duration {
        self.cfg
            .timeout
            .min(deadline.saturating_duration_since(Instant::now()))
            .max(Duration::from_millis(1))
    }

    fn mark_up(&mut self) {
        if self.up != Some(true) {
            if self.up == Some(false) {
                tracing::info!(endpoint = %self.cfg.endpoint, "Docker API answers again; container sampling resumed");
            } else {
                tracing::info!(endpoint = %self.cfg.endpoint, "connected to the Docker API");
            }
            self.up = Some(true);
            self.metrics.docker_up.set(1);
            self.readiness
                .set("docker", true, format!("connected to {}", self.cfg.endpoint));
        }
    }

    fn mark_down(&mut self, e: &Error) {
        if self.up != Some(false) {
            tracing::warn!(
                endpoint = %self.cfg.endpoint, error = %e,
                "Docker API unreachable; sending host-only records until it answers (logged once)"
            );
            self.up = Some(false);
            self.metrics.docker_up.set(0);
            self.metrics.containers.set(0);
            self.readiness
                .set("docker", false, format!("{} unreachable: {e}", self.cfg.endpoint));
            // Containers may change while we cannot see them: start afresh when Docker is back.
            self.tracked.clear();
        }
    }
}

/// One container's calls of this tick: stats when running, inspect when needed.
async fn fetch(
    docker: Docker,
    raw: RawClient,
    version: ClientVersion,
    id: String,
    stats: bool,
    inspect: bool,
    timeout: Duration,
) -> Answer {
    let stats_call = async {
        if !stats {
            return None;
        }
        let options = StatsOptions {
            stream: false,
            one_shot: true,
        };
        let one = async {
            let mut s = docker.stats(&id, Some(options));
            match s.next().await {
                Some(r) => r,
                None => Err(bollard::errors::Error::DockerStreamError {
                    error: "empty stats answer".into(),
                }),
            }
        };
        Some(
            bounded("stats", timeout, one)
                .await
                .map(|r| (r, std::time::Instant::now())),
        )
    };
    let inspect_call = async {
        if !inspect {
            return None;
        }
        Some(raw.inspect(&version, &id, timeout).await)
    };
    let (stats, inspect) = tokio::join!(stats_call, inspect_call);
    Answer { id, stats, inspect }
}

/// The event for a health change learnt by inspecting; none when the health did not change
/// (podman reports every check) or is neither healthy nor unhealthy.
fn health_change(id: &str, name: &str, before: Option<&str>, now: Option<&str>, at: DateTime<Utc>) -> Option<Event> {
    let kind = match now? {
        "healthy" => EventKind::ContainerHealthy,
        "unhealthy" => EventKind::ContainerUnhealthy,
        _ => return None,
    };
    (before != now).then(|| Event {
        kind,
        container_id: id.to_string(),
        name: name.to_string(),
        exit_code: None,
        at,
    })
}

/// The listed facts about one container (id, name without `/`, image, state).
fn summary_to_sample(c: &raw::Summary) -> Option<ContainerSample> {
    if c.id.is_empty() {
        return None;
    }
    let name = c
        .names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_else(|| c.id.chars().take(12).collect());
    let state = c
        .state
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    Some(ContainerSample {
        id: c.id.clone(),
        name,
        image: c.image.clone().unwrap_or_default(),
        state,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_container_fields() {
        let c: raw::Summary = serde_json::from_str(
            r#"{"Id":"6e76937934c1","Names":["/cburn"],"Image":"localhost/busybox:local","State":"running","Status":"Up 1 second"}"#,
        )
        .unwrap();
        let s = summary_to_sample(&c).unwrap();
        assert_eq!(
            (s.id.as_str(), s.name.as_str(), s.image.as_str(), s.state.as_str()),
            ("6e76937934c1", "cburn", "localhost/busybox:local", "running")
        );
        assert_eq!(s.cpu_percent, None);
        let odd: raw::Summary = serde_json::from_str(r#"{"Id":"6e76937934c1ffff","State":""}"#).unwrap();
        let s = summary_to_sample(&odd).unwrap();
        assert_eq!((s.name.as_str(), s.state.as_str()), ("6e76937934c1", "unknown"));
    }

    #[test]
    fn health_events_only_on_change() {
        let at = Utc::now();
        let ev = health_change("c1", "web", Some("starting"), Some("unhealthy"), at).unwrap();
        assert_eq!(
            (ev.kind, ev.name.as_str(), ev.at),
            (EventKind::ContainerUnhealthy, "web", at)
        );
        assert_eq!(
            health_change("c1", "web", None, Some("healthy"), at).unwrap().kind,
            EventKind::ContainerHealthy
        );
        assert_eq!(
            health_change("c1", "web", Some("unhealthy"), Some("unhealthy"), at),
            None
        );
        assert_eq!(health_change("c1", "web", Some("healthy"), Some("starting"), at), None);
    }

    #[tokio::test]
    async fn unreachable_docker_gives_host_only_records_and_fails_readiness() {
        let (metrics, _) = Metrics::new();
        let readiness = Readiness::new();
        let cfg = DockerConfig {
            endpoint: Endpoint::Unix("/nonexistent/docker.sock".into()),
            timeout: Duration::from_millis(100),
            concurrency: 2,
        };
        let mut d = DockerSampler::new(cfg, metrics.clone(), readiness.clone());
        let deadline = Instant::now() + Duration::from_millis(200);
        assert!(d.sample(Some(2), deadline).await.is_empty());
        assert!(!readiness.is_ready());
        assert!(readiness.to_json()["checks"]["docker"]["detail"]
            .as_str()
            .unwrap()
            .contains("unreachable"));
        assert_eq!(metrics.docker_up.get(), 0);
    }
}
