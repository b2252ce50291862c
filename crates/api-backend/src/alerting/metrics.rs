//! What alerting measures about itself (`api_alert_*` at `/metrics`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// `state` of a stored event.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: &'static str,
}

/// Alerting's metrics; cheap to clone.
#[derive(Debug, Clone)]
pub struct AlertingMetrics {
    /// `api_alert_events_total{state}`: events stored.
    pub events: Family<StateLabel, Counter>,
    /// `api_alert_events_dropped_total`: events lost because the retry queue was full.
    pub dropped: Counter,
    /// `api_alert_write_failures_total`: failed writes of events / engine state (retried).
    pub write_failures: Counter,
    /// `api_alert_queue_depth`: events waiting to be stored.
    pub queue_depth: Gauge,
    /// `api_alert_active`: open alerts at the last periodic check.
    pub active: Gauge,
    /// `api_alert_evaluate_seconds`: time to evaluate one ingest batch.
    pub evaluate_seconds: Histogram,
    /// `api_alert_events_expired_total`: events deleted by retention.
    pub expired: Counter,
    /// `api_alert_write_seconds`: one transaction of the event writer (events + engine state).
    pub write_seconds: Histogram,
    /// `api_alert_state_save_seconds`: one save of the engine state (snapshot, wait for its
    /// events, diff, write).
    pub state_save_seconds: Histogram,
    /// `api_alert_queue_wait_seconds`: how long the oldest event of each write waited in the
    /// queue before the write began.
    pub queue_wait_seconds: Histogram,
    /// `api_alert_event_delay_seconds`: from an event's time (the sample time for threshold
    /// alerts) to its publication to the streams and the notifier, after it was stored.
    pub event_delay_seconds: Histogram,
    /// `api_alert_state_snapshot_seconds`: how long a state save's snapshot held the engine
    /// lock (ingest's alert evaluation waits meanwhile).
    pub snapshot_hold_seconds: Histogram,
    /// `api_alert_records_held`: records held back until the records before them arrive
    /// (their host's order, see `alerts::reorder`).
    pub records_held: Gauge,
    /// `api_alert_records_unordered_total`: records evaluated out of order because too many
    /// were held.
    pub records_unordered: Counter,
}

impl AlertingMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = AlertingMetrics {
            events: Family::default(),
            dropped: Counter::default(),
            write_failures: Counter::default(),
            queue_depth: Gauge::default(),
            active: Gauge::default(),
            evaluate_seconds: Histogram::new(exponential_buckets(0.000_01, 4.0, 10)),
            expired: Counter::default(),
            write_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            state_save_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            queue_wait_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            event_delay_seconds: Histogram::new(exponential_buckets(0.05, 1.5, 14)),
            snapshot_hold_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            records_held: Gauge::default(),
            records_unordered: Counter::default(),
        };
        registry.register("api_alert_events", "Alert events stored, by state", m.events.clone());
        registry.register(
            "api_alert_events_dropped",
            "Alert events lost because the retry queue was full",
            m.dropped.clone(),
        );
        registry.register(
            "api_alert_write_failures",
            "Failed writes of alert events or engine state (retried)",
            m.write_failures.clone(),
        );
        registry.register(
            "api_alert_queue_depth",
            "Alert events waiting to be stored",
            m.queue_depth.clone(),
        );
        registry.register(
            "api_alert_active",
            "Open (pending or firing) alerts at the last periodic check",
            m.active.clone(),
        );
        registry.register(
            "api_alert_evaluate_seconds",
            "Time to evaluate the new records of one ingest batch",
            m.evaluate_seconds.clone(),
        );
        registry.register(
            "api_alert_events_expired",
            "Alert events deleted by retention (ALERT_RETENTION_DAYS)",
            m.expired.clone(),
        );
        registry.register(
            "api_alert_write_seconds",
            "Time of one event writer transaction (alert events and engine state)",
            m.write_seconds.clone(),
        );
        registry.register(
            "api_alert_state_save_seconds",
            "Time of one save of the alert engine state",
            m.state_save_seconds.clone(),
        );
        registry.register(
            "api_alert_queue_wait_seconds",
            "How long the oldest event of each write waited to be stored",
            m.queue_wait_seconds.clone(),
        );
        registry.register(
            "api_alert_event_delay_seconds",
            "From an alert event's time (the sample time of threshold alerts) to its publication",
            m.event_delay_seconds.clone(),
        );
        registry.register(
            "api_alert_state_snapshot_seconds",
            "How long a state save's snapshot held the engine lock",
            m.snapshot_hold_seconds.clone(),
        );
        registry.register(
            "api_alert_records_held",
            "Records held back until the earlier records of their host arrive",
            m.records_held.clone(),
        );
        registry.register(
            "api_alert_records_unordered",
            "Records evaluated out of their host's order because too many were held",
            m.records_unordered.clone(),
        );
        m
    }
}
