//! Builders for alerts and events, and a real HTTP receiver that records what it is sent.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, TimeDelta, Utc};
use tokio::net::TcpListener;

use crate::alerts::{
    incident_id, ActiveAlert, AlertEvent, AlertKey, AlertKind, AlertState, Direction, MachineKind, Metric, Severity,
};

/// A fixed origin plus `secs` seconds.
pub fn t(secs: i64) -> DateTime<Utc> {
    common::timefmt::parse("2026-01-01T07:00:00Z").unwrap() + TimeDelta::seconds(secs)
}

/// A firing `host.cpu_percent above 85` alert (rule 1) of host `web-1` (id `h1`), opened at `since`.
pub fn cpu_alert(since: DateTime<Utc>) -> ActiveAlert {
    cpu_alert_of("h1", "web-1", since)
}

/// [`cpu_alert`] of another host.
pub fn cpu_alert_of(host_id: &str, host_name: &str, since: DateTime<Utc>) -> ActiveAlert {
    let key = AlertKey::threshold(1, host_id, "");
    ActiveAlert {
        alert_id: incident_id(&key, since),
        key,
        machine_kind: MachineKind::Host,
        machine_name: host_name.into(),
        host_id: None,
        state: AlertState::Firing,
        severity: Severity::Warning,
        metric: Some(Metric::HostCpuPercent),
        direction: Some(Direction::Above),
        threshold: Some(85.0),
        value: Some(93.5),
        exit_code: None,
        since,
        firing_since: Some(since),
    }
}

/// A firing built-in alert of `kind` on container `c1` (`nginx`) of host `h1`, opened at `since`.
pub fn container_alert(kind: AlertKind, since: DateTime<Utc>) -> ActiveAlert {
    let key = AlertKey::builtin(kind, "c1");
    ActiveAlert {
        alert_id: incident_id(&key, since),
        key,
        machine_kind: MachineKind::Container,
        machine_name: "nginx".into(),
        host_id: Some("h1".into()),
        state: AlertState::Firing,
        severity: kind.builtin_severity(),
        metric: None,
        direction: None,
        threshold: None,
        value: None,
        exit_code: None,
        since,
        firing_since: Some(since),
    }
}

/// The event reporting `state` of the alert's incident at `at`.
pub fn event(a: &ActiveAlert, state: AlertState, at: DateTime<Utc>) -> AlertEvent {
    a.event(state, at, a.value)
}

/// The `container_id_changed` notice of container `nginx` (now `c2`, before `c1`) on `h1`.
pub fn id_changed(at: DateTime<Utc>) -> AlertEvent {
    let mut a = container_alert(AlertKind::ContainerIdChanged, at);
    a.key.machine_id = "c2".into();
    a.alert_id = incident_id(&a.key, at);
    a.state = AlertState::Info;
    a.firing_since = None;
    let mut ev = event(&a, AlertState::Info, at);
    ev.previous_container_id = Some("c1".into());
    ev
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub body: serde_json::Value,
}

/// A real HTTP server on 127.0.0.1 that records every JSON POST and answers with `status`
/// (changeable while it runs).
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    pub got: Arc<Mutex<Vec<Received>>>,
    hits: Arc<AtomicUsize>,
    status: Arc<Mutex<StatusCode>>,
}

#[derive(Clone)]
struct ReceiverState {
    got: Arc<Mutex<Vec<Received>>>,
    hits: Arc<AtomicUsize>,
    status: Arc<Mutex<StatusCode>>,
}

async fn record(
    State(s): State<ReceiverState>,
    uri: axum::http::Uri,
    Json(body): Json<serde_json::Value>,
) -> StatusCode {
    s.hits.fetch_add(1, Ordering::SeqCst);
    let status = *s.status.lock().unwrap();
    if status.is_success() {
        s.got.lock().unwrap().push(Received {
            path: uri.path().to_owned(),
            body,
        });
    }
    status
}

impl Receiver {
    /// Binds a free port and serves at once.
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Receiver::serve(listener, StatusCode::OK)
    }

    /// Serves on `listener` (bound by the test, e.g. on a port announced before), answering
    /// `status` from the first request on.
    pub fn serve(listener: TcpListener, status: StatusCode) -> Receiver {
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let hits = Arc::new(AtomicUsize::new(0));
        let status = Arc::new(Mutex::new(status));
        let state = ReceiverState {
            got: got.clone(),
            hits: hits.clone(),
            status: status.clone(),
        };
        let app = Router::new().route("/{*path}", post(record)).with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            addr,
            got,
            hits,
            status,
        }
    }

    /// Requests answered so far, whatever the status.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Answers every following request with `status` (and records only 2xx ones).
    pub fn answer(&self, status: StatusCode) {
        *self.status.lock().unwrap() = status;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests were recorded (panics after `within`).
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {n} requests within {within:?}, got {}: {got:#?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Waits until `cond` holds (panics after `within`, naming `what`).
pub async fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
