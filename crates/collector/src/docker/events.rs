//! Docker's `/events` stream turned into record events (CONTRACT §2) and re-inspect hints.
//!
//! The subscription runs in its own task and reconnects with capped exponential backoff. After a
//! reconnect it asks for events `since` the last one seen, so a short outage loses nothing, and
//! skips the ones it already forwarded.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bollard::models::EventMessage;
use bollard::query_parameters::EventsOptions;
use chrono::{DateTime, Utc};
use common::backoff::Backoff;
use common::shutdown::Shutdown;
use common::{Event, EventKind};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::client::Endpoint;
use crate::metrics::{KindLabel, Metrics};

/// Actions we subscribe to. Podman filters on its own names (`died`, `remove`) but reports
/// Docker's (`die`); Docker ignores names it does not know.
const ACTIONS: &[&str] = &["start", "die", "died", "oom", "health_status", "destroy", "remove"];

/// Longest wait between two reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What one Docker event means for us.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub container_id: String,
    /// The event to carry in the next record, if it is one of the contract's kinds.
    pub event: Option<Event>,
    /// The container's health or restart count may have changed: inspect it again.
    pub reinspect: bool,
    /// The container is gone: forget what we kept about it.
    pub removed: bool,
    /// A health check ran but the event does not say its outcome (podman 4.x sends a bare
    /// `health_status` after every check): the sampler inspects the container and emits
    /// `container_healthy`/`container_unhealthy` itself when the health changed, stamped `at`.
    pub health_unknown_at: Option<DateTime<Utc>>,
}

/// Maps a Docker event message; `None` for events we do not care about.
pub fn map_event(msg: &EventMessage) -> Option<Notice> {
    let actor = msg.actor.as_ref()?;
    let id = actor.id.clone().filter(|id| !id.is_empty())?;
    let attr = |k: &str| actor.attributes.as_ref().and_then(|a| a.get(k)).cloned();
    let action = msg.action.as_deref()?;
    let mut health_unknown = false;
    let (kind, reinspect, removed) = match action {
        "start" => (Some(EventKind::ContainerStarted), true, false),
        "die" | "died" => (Some(EventKind::ContainerDied), true, false),
        "oom" => (Some(EventKind::ContainerOom), false, false),
        "destroy" | "remove" => (Some(EventKind::ContainerRemoved), false, true),
        a if a.starts_with("health_status") => {
            // Docker: "health_status: healthy" (sent when the status changes).
            let status = a
                .split_once(": ")
                .map(|(_, s)| s.trim().to_string())
                .or_else(|| attr("health_status"));
            health_unknown = status.is_none();
            let kind = match status.as_deref() {
                Some("healthy") => Some(EventKind::ContainerHealthy),
                Some("unhealthy") => Some(EventKind::ContainerUnhealthy),
                _ => None,
            };
            (kind, true, false)
        }
        _ => return None,
    };
    let event = kind.map(|kind| Event {
        kind,
        container_id: id.clone(),
        name: attr("name").unwrap_or_default(),
        exit_code: if kind == EventKind::ContainerDied {
            attr("exitCode").and_then(|c| c.parse().ok())
        } else {
            None
        },
        at: event_time(msg),
    });
    Some(Notice {
        container_id: id,
        event,
        health_unknown_at: health_unknown.then(|| event_time(msg)),
        reinspect,
        removed,
    })
}

/// The event's time, from `timeNano` (else `time`), truncated to milliseconds.
fn event_time(msg: &EventMessage) -> DateTime<Utc> {
    let t = match (msg.time_nano, msg.time) {
        (Some(ns), _) if ns > 0 => DateTime::from_timestamp_nanos(ns),
        (_, Some(s)) => DateTime::from_timestamp(s, 0).unwrap_or_else(Utc::now),
        _ => Utc::now(),
    };
    common::timefmt::truncate_millis(t)
}

/// Remembers what was forwarded, so a resubscription can replay the gap without duplicates.
#[derive(Debug, Default)]
pub struct Resume {
    /// Unix seconds when the current (or last) subscription started; 0 before the first one.
    subscribed_at: i64,
    last_nano: i64,
    seen_at_last: HashSet<(String, String)>,
    replaying: bool,
}

impl Resume {
    /// Called when a subscription starts at `now` (unix seconds); returns its `since`. The first
    /// subscription starts from now; later ones from where the previous one left off.
    pub fn subscribe(&mut self, now: i64) -> Option<String> {
        let since = (self.subscribed_at > 0).then(|| self.subscribed_at.max(self.last_nano / 1_000_000_000));
        self.subscribed_at = now;
        self.replaying = since.is_some();
        since.map(|s| s.to_string())
    }

    /// False for a replayed event that was already forwarded.
    pub fn is_new(&mut self, msg: &EventMessage) -> bool {
        let Some(nano) = msg.time_nano.or(msg.time.map(|s| s * 1_000_000_000)) else {
            return true;
        };
        let key = (
            msg.actor.as_ref().and_then(|a| a.id.clone()).unwrap_or_default(),
            msg.action.clone().unwrap_or_default(),
        );
        if self.replaying {
            if nano < self.last_nano || (nano == self.last_nano && self.seen_at_last.contains(&key)) {
                return false;
            }
            if nano > self.last_nano {
                self.replaying = false; // past the gap: everything from here on is new
            }
        }
        if nano > self.last_nano {
            self.last_nano = nano;
            self.seen_at_last.clear();
        }
        if nano == self.last_nano {
            self.seen_at_last.insert(key);
        }
        true
    }
}

/// Subscribes to container events until shutdown, forwarding notices on `tx`.
pub async fn run(
    endpoint: Endpoint,
    timeout: Duration,
    tx: mpsc::Sender<Notice>,
    metrics: Metrics,
    shutdown: Shutdown,
) {
    let filters = HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        ("event".to_string(), ACTIONS.iter().map(|s| s.to_string()).collect()),
    ]);
    let mut resume = Resume::default();
    let mut backoff = Backoff::new(Duration::from_secs(1), MAX_BACKOFF);
    while !shutdown.is_triggered() {
        match endpoint.connect(timeout).await {
            Err(e) => tracing::debug!(error = %e, "docker events: cannot connect"),
            Ok(docker) => {
                let since = resume.subscribe(Utc::now().timestamp());
                tracing::debug!(?since, "docker events: subscribing");
                let options = EventsOptions {
                    since,
                    until: None,
                    filters: Some(filters.clone()),
                };
                let mut stream = docker.events(Some(options));
                loop {
                    let item = tokio::select! {
                        _ = shutdown.wait() => return,
                        item = stream.next() => item,
                    };
                    match item {
                        Some(Ok(msg)) => {
                            backoff.reset();
                            if !resume.is_new(&msg) {
                                continue;
                            }
                            let Some(notice) = map_event(&msg) else { continue };
                            if let Some(ev) = &notice.event {
                                metrics
                                    .events
                                    .get_or_create(&KindLabel { kind: ev.kind.as_str() })
                                    .inc();
                            }
                            if tx.try_send(notice).is_err() {
                                metrics.events_dropped.inc();
                            }
                        }
                        Some(Err(e)) => {
                            metrics.docker_error("events");
                            tracing::debug!(error = %e, "docker events: stream failed");
                            break;
                        }
                        None => {
                            tracing::debug!("docker events: stream ended");
                            break;
                        }
                    }
                }
            }
        }
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(json: &str) -> EventMessage {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn die_carries_the_exit_code() {
        // As podman 4.3 sends it through the Docker-compatible API.
        let m = msg(
            r#"{"status":"die","id":"d968","from":"localhost/busybox:local","Type":"container","Action":"die",
            "Actor":{"ID":"d968","Attributes":{"containerExitCode":"7","exitCode":"7","image":"localhost/busybox:local","name":"cev"}},
            "scope":"local","time":1795335628,"timeNano":1795335628655831296}"#,
        );
        let n = map_event(&m).unwrap();
        let ev = n.event.unwrap();
        assert_eq!(ev.kind, EventKind::ContainerDied);
        assert_eq!(ev.exit_code, Some(7));
        assert_eq!(ev.name, "cev");
        assert_eq!(ev.container_id, "d968");
        assert_eq!(common::timefmt::format(&ev.at), "2026-11-22T08:20:28.655Z");
        assert!(n.reinspect && !n.removed);
    }

    #[test]
    fn docker_health_status_action() {
        let m = msg(
            r#"{"Type":"container","Action":"health_status: unhealthy","Actor":{"ID":"c1","Attributes":{"name":"web"}},"time":1795335628}"#,
        );
        let ev = map_event(&m).unwrap().event.unwrap();
        assert_eq!(ev.kind, EventKind::ContainerUnhealthy);
        assert_eq!(ev.exit_code, None);
        assert_eq!(common::timefmt::format(&ev.at), "2026-11-22T08:20:28.000Z");
        let m = msg(r#"{"Type":"container","Action":"health_status: healthy","Actor":{"ID":"c1"},"time":1795335628}"#);
        assert_eq!(map_event(&m).unwrap().event.unwrap().kind, EventKind::ContainerHealthy);
        // "starting" is no contract event, but health changed: re-inspect.
        let m = msg(r#"{"Type":"container","Action":"health_status: starting","Actor":{"ID":"c1"},"time":1795335628}"#);
        let n = map_event(&m).unwrap();
        assert!(n.event.is_none() && n.reinspect);
    }

    #[test]
    fn podman_bare_health_status_asks_the_sampler_to_find_out() {
        // As podman 4.3 sends it after `podman healthcheck run`.
        let m = msg(
            r#"{"status":"health_status","id":"9ee9","Type":"container","Action":"health_status",
                "Actor":{"ID":"9ee9","Attributes":{"containerExitCode":"0","image":"busybox","name":"hc","podId":""}},
                "scope":"local","time":1795336611,"timeNano":1795336611000000000}"#,
        );
        let n = map_event(&m).unwrap();
        assert_eq!(n.event, None);
        assert!(n.reinspect);
        assert_eq!(
            n.health_unknown_at.map(|t| common::timefmt::format(&t)).as_deref(),
            Some("2026-11-22T08:36:51.000Z")
        );
    }

    #[test]
    fn podman_health_status_attribute() {
        let m = msg(
            r#"{"Type":"container","Action":"health_status","Actor":{"ID":"c1","Attributes":{"health_status":"unhealthy"}},"time":1}"#,
        );
        assert_eq!(
            map_event(&m).unwrap().event.unwrap().kind,
            EventKind::ContainerUnhealthy
        );
    }

    #[test]
    fn kinds_of_the_other_actions() {
        let kind = |action: &str| {
            let m = msg(&format!(
                r#"{{"Type":"container","Action":"{action}","Actor":{{"ID":"c1"}},"time":1}}"#
            ));
            map_event(&m).map(|n| (n.event.map(|e| e.kind), n.removed))
        };
        assert_eq!(kind("start"), Some((Some(EventKind::ContainerStarted), false)));
        assert_eq!(kind("oom"), Some((Some(EventKind::ContainerOom), false)));
        assert_eq!(kind("destroy"), Some((Some(EventKind::ContainerRemoved), true)));
        assert_eq!(kind("remove"), Some((Some(EventKind::ContainerRemoved), true)));
        assert_eq!(kind("attach"), None);
        assert_eq!(kind("exec_start: sh"), None);
    }

    #[test]
    fn resume_replays_the_gap_without_duplicates() {
        let at = |id: &str, nano: i64| {
            msg(&format!(
                r#"{{"Type":"container","Action":"start","Actor":{{"ID":"{id}"}},"timeNano":{nano}}}"#
            ))
        };
        let mut r = Resume::default();
        assert_eq!(r.subscribe(4), None); // first subscription: from now on
        assert!(r.is_new(&at("a", 5_000_000_000)));
        assert!(r.is_new(&at("b", 6_500_000_000)));
        // Reconnect: replay from the second of the last forwarded event.
        assert_eq!(r.subscribe(100).as_deref(), Some("6"));
        assert!(!r.is_new(&at("b", 6_500_000_000)));
        assert!(r.is_new(&at("c", 6_500_000_000)));
        assert!(r.is_new(&at("d", 50_000_000_000)));
        // Out of replay, an engine clock step back does not hide events.
        assert!(r.is_new(&at("e", 40_000_000_000)));
        // A subscription that saw nothing resumes from when it started.
        assert_eq!(r.subscribe(200).as_deref(), Some("100"));
    }
}
