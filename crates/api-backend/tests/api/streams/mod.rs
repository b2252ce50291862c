//! Live streams over a real listener: the alert SSE (snapshot, live, replay, slow clients,
//! heartbeat, compat payload) and the record streams (SSE filter, WebSocket). Shared here: the
//! app served on 127.0.0.1:0 with a hub of chosen settings, and a small SSE reader.

mod alerts;
mod compat;
mod records;

use std::net::SocketAddr;
use std::time::Duration;

use api_backend::alerts::{
    ActiveAlert, AlertEvent, AlertKey, AlertKind, AlertState, Direction, MachineKind, Metric, Severity,
};
use api_backend::hub::{Hub, HubSettings};
use api_backend::{App, Config};
use chrono::{DateTime, Utc};

use crate::support::{test_config, TestDb};

/// The app served over TCP on a fresh database.
pub struct Served {
    pub app: App,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    _trigger: common::shutdown::Trigger,
    _db: TestDb,
}

impl Served {
    pub async fn start(settings: HubSettings) -> Self {
        Self::start_with(settings, |_| {}).await
    }

    pub async fn start_with(settings: HubSettings, adjust: impl FnOnce(&mut Config)) -> Self {
        let db = TestDb::create().await;
        let config = test_config(db.url(), adjust);
        let (trigger, shutdown) = common::shutdown::channel();
        let app = api_backend::app::build_with_hub(&config, &shutdown, Hub::new(settings))
            .await
            .expect("the app starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(common::ops::serve_on(
            listener,
            app.router.clone(),
            shutdown,
            Default::default(),
        ));
        Served {
            app,
            addr,
            http: reqwest::Client::new(),
            _trigger: trigger,
            _db: db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Opens an event stream (the answer's headers are in: the server has subscribed).
    pub async fn sse(&self, path: &str, last_event_id: Option<&str>) -> Sse {
        let mut req = self.http.get(self.url(path)).header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let resp = req.send().await.expect("the stream opens");
        assert_eq!(resp.status(), 200, "{path}");
        let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.starts_with("text/event-stream"), "{content_type}");
        Sse { resp, buf: Vec::new() }
    }

    /// The value of one line of `/metrics` (e.g. `api_stream_subscribers{stream="alerts"}`).
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let text = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
    }

    pub async fn ingest(&self, records: &serde_json::Value) -> serde_json::Value {
        let resp = self
            .http
            .post(self.url("/api/v1/ingest"))
            .json(records)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }
}

/// One SSE block: its `event:`, `id:`, `data:` and comment lines.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Block {
    pub event: Option<String>,
    pub id: Option<String>,
    pub data: Option<String>,
    pub comments: Vec<String>,
}

impl Block {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.data.as_deref().expect("a data line")).expect("data is JSON")
    }
}

/// Reads an event stream block by block.
pub struct Sse {
    resp: reqwest::Response,
    buf: Vec<u8>,
}

/// How long a test waits for an expected event.
pub const WAIT: Duration = Duration::from_secs(10);

impl Sse {
    /// The next block, comments included; `None` when the stream ended. Panics after `within`.
    pub async fn next_block(&mut self, within: Duration) -> Option<Block> {
        tokio::time::timeout(within, self.read_block())
            .await
            .expect("an SSE block in time")
    }

    /// The next block with data (heartbeat comments skipped); `None` when the stream ended.
    pub async fn next_event(&mut self) -> Option<Block> {
        loop {
            let block = self.next_block(WAIT).await?;
            if block.data.is_some() || block.event.is_some() {
                return Some(block);
            }
        }
    }

    /// Whether an event arrives within `within` (heartbeats skipped).
    pub async fn quiet_for(&mut self, within: Duration) -> bool {
        tokio::time::timeout(within, async {
            loop {
                match self.read_block().await {
                    Some(b) if b.data.is_none() && b.event.is_none() => continue,
                    other => return other,
                }
            }
        })
        .await
        .is_err()
    }

    async fn read_block(&mut self) -> Option<Block> {
        let mut searched = 0;
        loop {
            if let Some(end) = self.buf[searched..].windows(2).position(|w| w == b"\n\n") {
                let end = searched + end;
                let text = String::from_utf8(self.buf[..end].to_vec()).expect("UTF-8");
                self.buf.drain(..end + 2);
                return Some(parse_block(&text));
            }
            searched = self.buf.len().saturating_sub(1);
            let chunk = self.resp.chunk().await.ok()??;
            self.buf.extend_from_slice(&chunk);
        }
    }
}

fn parse_block(text: &str) -> Block {
    let mut b = Block::default();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix(':') {
            b.comments.push(comment.trim().to_owned());
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
        match field {
            "event" => b.event = Some(value),
            "id" => b.id = Some(value),
            "data" => {
                b.data = Some(match b.data.take() {
                    Some(d) => format!("{d}\n{value}"),
                    None => value,
                })
            }
            _ => {}
        }
    }
    b
}

pub fn at(s: &str) -> DateTime<Utc> {
    common::timefmt::parse(s).unwrap()
}

/// A `host.cpu_percent > 85` threshold alert of `machine` in `state`.
pub fn threshold_event(machine: &str, state: AlertState, value: f64, when: DateTime<Utc>) -> AlertEvent {
    AlertEvent {
        alert_id: api_backend::alerts::incident_id(&AlertKey::threshold(1, machine, ""), when),
        key: AlertKey::threshold(1, machine, ""),
        machine_kind: MachineKind::Host,
        machine_name: format!("{machine}-name"),
        host_id: None,
        state,
        severity: Severity::Warning,
        metric: Some(Metric::HostCpuPercent),
        direction: Some(Direction::Above),
        threshold: Some(85.0),
        value: Some(value),
        exit_code: None,
        previous_container_id: None,
        at: when,
        since: when,
        firing_since: (state == AlertState::Firing).then_some(when),
        cause: None,
    }
}

/// A built-in alert event (`stale`, `zero_value`, ...) of a host.
pub fn builtin_event(kind: AlertKind, machine: &str, state: AlertState, when: DateTime<Utc>) -> AlertEvent {
    AlertEvent {
        alert_id: api_backend::alerts::incident_id(&AlertKey::builtin(kind, machine), when),
        key: AlertKey::builtin(kind, machine),
        machine_kind: MachineKind::Host,
        machine_name: format!("{machine}-name"),
        host_id: None,
        state,
        severity: kind.builtin_severity(),
        metric: None,
        direction: None,
        threshold: Some(30.0),
        value: Some(42.0),
        exit_code: None,
        previous_container_id: None,
        at: when,
        since: when,
        firing_since: Some(when),
        cause: None,
    }
}

/// The active alert of a firing threshold event.
pub fn active(event: &AlertEvent) -> ActiveAlert {
    ActiveAlert {
        alert_id: event.alert_id.clone(),
        key: event.key.clone(),
        machine_kind: event.machine_kind,
        machine_name: event.machine_name.clone(),
        host_id: event.host_id.clone(),
        state: event.state,
        severity: event.severity,
        metric: event.metric,
        direction: event.direction,
        threshold: event.threshold,
        value: event.value,
        exit_code: event.exit_code,
        since: event.since,
        firing_since: event.firing_since,
    }
}

/// Writes events into `alert_events` with the given ids, as the alerting store would.
pub async fn store_events(app: &App, events: &[(u64, AlertEvent)]) {
    for chunk in events.chunks(500) {
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO alert_events (id, alert_id, kind, rule_id, machine_id, machine_kind, state, severity, at, event) ",
        );
        q.push_values(chunk, |mut row, (id, e)| {
            row.push_bind(*id)
                .push_bind(&e.alert_id)
                .push_bind(e.key.kind.as_str())
                .push_bind(e.key.rule_id)
                .push_bind(&e.key.machine_id)
                .push_bind(e.machine_kind.as_str())
                .push_bind(e.state.as_str())
                .push_bind(e.severity.as_str())
                .push_bind(e.at.naive_utc())
                .push_bind(serde_json::to_string(e).unwrap());
        });
        q.build().execute(app.store.pool()).await.expect("insert alert events");
    }
}
