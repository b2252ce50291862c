//! Fan-out of live data to stream subscribers (SSE and WebSocket clients): stored alert events
//! and newly stored records, each serialised once and shared by every subscriber.
//!
//! Built on bounded tokio broadcast channels, so publishing never waits for a subscriber and
//! never grows memory: a subscriber that falls more than [`HubSettings::capacity`] messages
//! behind is dropped (its [`Subscription`] ends; an SSE client reconnects with `Last-Event-ID`
//! and loses nothing) and counted in `api_stream_dropped_subscribers_total{stream}`.
//! `api_stream_subscribers{stream}` follows the open subscriptions.
//!
//! The alert snapshot sent on connect comes from a "snapshot source" set by whoever owns the
//! alert engine ([`Hub::set_snapshot_source`]); until one is set it is empty.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use common::wire::Record;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::{broadcast, watch};

use crate::alerts::{ActiveAlert, AlertEvent};

/// Messages a subscriber may fall behind before it is dropped.
pub const DEFAULT_CAPACITY: usize = 1024;
/// Interval of the SSE heartbeat comment (the contract asks for at most 15 s).
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// Bounds and timing of the live streams.
#[derive(Debug, Clone, Copy)]
pub struct HubSettings {
    /// How far (in messages) a subscriber may lag before it is dropped.
    pub capacity: usize,
    /// How often an idle SSE stream sends a `: keep-alive` comment.
    pub heartbeat: Duration,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            capacity: DEFAULT_CAPACITY,
            heartbeat: DEFAULT_HEARTBEAT,
        }
    }
}

/// A stored alert event, as streamed: its event id, the event and its JSON.
#[derive(Debug)]
pub struct PublishedAlert {
    pub id: u64,
    pub event: AlertEvent,
    /// Compact JSON of `event` (for replayed events: the stored text as it is).
    pub json: Utf8Bytes,
}

impl PublishedAlert {
    /// A row of `alert_events` (`id`, `event`); fails when `event` is not an [`AlertEvent`].
    pub fn from_stored(id: u64, json: String) -> serde_json::Result<Self> {
        let event = serde_json::from_str(&json)?;
        Ok(PublishedAlert {
            id,
            event,
            json: json.into(),
        })
    }
}

/// A newly stored record, as streamed: the record and its compact JSON (v1), and, once a
/// subscriber asked for it, in the original collector's shape.
#[derive(Debug)]
pub struct PublishedRecord {
    pub record: Record,
    pub json: Utf8Bytes,
    original: std::sync::OnceLock<Utf8Bytes>,
}

impl PublishedRecord {
    pub fn new(record: Record, json: Utf8Bytes) -> PublishedRecord {
        PublishedRecord {
            record,
            json,
            original: std::sync::OnceLock::new(),
        }
    }

    /// The record in the original collector's shape (local time of `TZ`), rendered once
    /// however many subscribers send it.
    pub fn original(&self) -> &Utf8Bytes {
        self.original
            .get_or_init(|| common::compat::render(&self.record, &chrono::Local).into())
    }
}

/// Lists the alerts open now, for the snapshot on connect.
pub type SnapshotSource = Arc<dyn Fn() -> Vec<ActiveAlert> + Send + Sync>;

/// `stream` label of the hub's metrics: `alerts` or `records`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamLabel {
    stream: &'static str,
}

/// The fan-out point; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    settings: HubSettings,
    alerts: Channel<PublishedAlert>,
    records: Channel<PublishedRecord>,
    snapshot: RwLock<SnapshotSource>,
    closed: watch::Sender<bool>,
    subscribers: Family<StreamLabel, Gauge>,
    dropped: Family<StreamLabel, Counter>,
}

struct Channel<T> {
    name: &'static str,
    tx: broadcast::Sender<Arc<T>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new(HubSettings::default())
    }
}

impl Hub {
    pub fn new(settings: HubSettings) -> Self {
        let capacity = settings.capacity.max(1);
        Hub {
            inner: Arc::new(Inner {
                settings,
                alerts: Channel {
                    name: "alerts",
                    tx: broadcast::channel(capacity).0,
                },
                records: Channel {
                    name: "records",
                    tx: broadcast::channel(capacity).0,
                },
                snapshot: RwLock::new(Arc::new(Vec::new)),
                closed: watch::channel(false).0,
                subscribers: Family::default(),
                dropped: Family::default(),
            }),
        }
    }

    /// Registers `api_stream_subscribers` and `api_stream_dropped_subscribers_total`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "api_stream_subscribers",
            "Open live-stream subscriptions (SSE and WebSocket clients), by stream",
            self.inner.subscribers.clone(),
        );
        registry.register(
            "api_stream_dropped_subscribers",
            "Live-stream subscribers dropped for falling too far behind, by stream",
            self.inner.dropped.clone(),
        );
        for name in [self.inner.alerts.name, self.inner.records.name] {
            // present from the start, at 0
            let _ = self.inner.subscribers.get_or_create(&StreamLabel { stream: name });
            let _ = self.inner.dropped.get_or_create(&StreamLabel { stream: name });
        }
    }

    pub fn settings(&self) -> HubSettings {
        self.inner.settings
    }

    /// Publishes a stored alert event (call after the transaction that stored it committed, in
    /// id order). Never waits.
    pub fn publish_alert(&self, id: u64, event: &AlertEvent) {
        if self.inner.alerts.tx.receiver_count() == 0 {
            return;
        }
        match serde_json::to_string(event) {
            Ok(json) => {
                let _ = self.inner.alerts.tx.send(Arc::new(PublishedAlert {
                    id,
                    event: event.clone(),
                    json: json.into(),
                }));
            }
            Err(e) => tracing::error!(error = %e, id, "cannot serialise an alert event"),
        }
    }

    /// Publishes a newly stored record (call after its transaction committed). Never waits.
    pub fn publish_record(&self, record: &Record) {
        if self.inner.records.tx.receiver_count() == 0 {
            return;
        }
        match serde_json::to_string(record) {
            Ok(json) => {
                let _ = self
                    .inner
                    .records
                    .tx
                    .send(Arc::new(PublishedRecord::new(record.clone(), json.into())));
            }
            Err(e) => tracing::error!(error = %e, record_id = %record.record_id, "cannot serialise a record"),
        }
    }

    pub fn subscribe_alerts(&self) -> Subscription<PublishedAlert> {
        self.subscribe(&self.inner.alerts)
    }

    pub fn subscribe_records(&self) -> Subscription<PublishedRecord> {
        self.subscribe(&self.inner.records)
    }

    /// Open subscriptions to the alert events.
    pub fn alert_subscribers(&self) -> usize {
        self.inner.alerts.tx.receiver_count()
    }

    /// Open subscriptions to the records.
    pub fn record_subscribers(&self) -> usize {
        self.inner.records.tx.receiver_count()
    }

    /// Sets what the snapshot on connect lists (the alert engine's active alerts).
    pub fn set_snapshot_source(&self, source: impl Fn() -> Vec<ActiveAlert> + Send + Sync + 'static) {
        *self.inner.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(source);
    }

    /// The alerts open now, from the snapshot source.
    pub fn active_alerts(&self) -> Vec<ActiveAlert> {
        let source = self.inner.snapshot.read().unwrap_or_else(|e| e.into_inner()).clone();
        source()
    }

    /// Ends every subscription, now and later (at shutdown, so open streams let the server stop).
    pub fn close(&self) {
        self.inner.closed.send_replace(true);
    }

    fn subscribe<T>(&self, channel: &Channel<T>) -> Subscription<T> {
        let label = StreamLabel { stream: channel.name };
        let gauge = self.inner.subscribers.get_or_create(&label).clone();
        gauge.inc();
        Subscription {
            rx: channel.tx.subscribe(),
            closed: self.inner.closed.subscribe(),
            gauge,
            dropped: self.inner.dropped.get_or_create(&label).clone(),
            ended: false,
        }
    }
}

/// One subscriber's view of a stream: every message published after it was created, until it
/// lags past the capacity or the hub closes.
pub struct Subscription<T> {
    rx: broadcast::Receiver<Arc<T>>,
    closed: watch::Receiver<bool>,
    gauge: Gauge,
    dropped: Counter,
    ended: bool,
}

impl<T> Subscription<T> {
    /// The next message; `None` once the subscription has ended (dropped for lagging, or the
    /// hub closed).
    pub async fn recv(&mut self) -> Option<Arc<T>> {
        if self.ended {
            return None;
        }
        let received = tokio::select! {
            received = self.rx.recv() => received,
            _ = self.closed.wait_for(|closed| *closed) => Err(broadcast::error::RecvError::Closed),
        };
        match received {
            Ok(message) => Some(message),
            Err(e) => {
                if let broadcast::error::RecvError::Lagged(missed) = e {
                    tracing::info!(missed, "dropping a live-stream subscriber that fell behind");
                    self.dropped.inc();
                }
                self.ended = true;
                None
            }
        }
    }
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::wire::HostSample;

    fn record(id: &str) -> Record {
        Record {
            schema: 1,
            record_id: id.to_owned(),
            host_id: "h".to_owned(),
            host_name: "h".to_owned(),
            sampled_at: chrono::Utc::now(),
            interval_ms: 1000,
            host: HostSample::default(),
            containers: Vec::new(),
            events: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_lagging_subscriber_ends_and_is_counted_while_others_continue() {
        let hub = Hub::new(HubSettings {
            capacity: 4,
            ..HubSettings::default()
        });
        let mut slow = hub.subscribe_records();
        let mut fast = hub.subscribe_records();
        assert_eq!(hub.record_subscribers(), 2);
        for i in 0..10 {
            hub.publish_record(&record(&i.to_string()));
            assert_eq!(fast.recv().await.unwrap().record.record_id, i.to_string());
        }
        assert!(slow.recv().await.is_none(), "lagged past the capacity");
        assert!(slow.recv().await.is_none(), "and stays ended");
        assert_eq!(
            hub.inner
                .dropped
                .get_or_create(&StreamLabel { stream: "records" })
                .get(),
            1
        );
        drop(slow);
        assert_eq!(
            hub.inner
                .subscribers
                .get_or_create(&StreamLabel { stream: "records" })
                .get(),
            1
        );
    }

    #[tokio::test]
    async fn close_ends_current_and_later_subscriptions() {
        let hub = Hub::default();
        let mut sub = hub.subscribe_alerts();
        hub.close();
        assert!(sub.recv().await.is_none());
        assert!(hub.subscribe_alerts().recv().await.is_none());
    }
}
