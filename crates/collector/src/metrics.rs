//! The collector's own measurements, served at `/metrics` (prefix `collector_`).
//!
//! Counters are registered without `_total`; prometheus-client's text encoder appends it, so the
//! exposed names are e.g. `collector_records_produced_total`.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Why a record never reached the producer queue.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

/// Which Docker API call failed.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabel {
    pub call: &'static str,
}

/// Which container event kind was received.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: &'static str,
}

/// Handles to every metric; cheap to clone (each handle is an `Arc` inside).
#[derive(Clone)]
pub struct Metrics {
    pub ticks: Counter,
    pub ticks_skipped: Counter,
    pub tick_duration: Histogram,
    pub records_produced: Counter,
    pub records_delivered: Counter,
    pub records_dropped: Family<ReasonLabel, Counter>,
    pub delivery_errors: Counter,
    pub producer_queue_depth: Gauge,
    pub docker_up: Gauge,
    pub containers: Gauge,
    pub docker_errors: Family<CallLabel, Counter>,
    pub events: Family<KindLabel, Counter>,
    pub events_dropped: Counter,
    pub last_tick_timestamp: Gauge<f64, AtomicU64>,
}

impl Metrics {
    /// Creates the metrics and registers them in a fresh registry with the `collector` prefix.
    pub fn new() -> (Self, Registry) {
        let m = Metrics {
            ticks: Counter::default(),
            ticks_skipped: Counter::default(),
            tick_duration: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            records_produced: Counter::default(),
            records_delivered: Counter::default(),
            records_dropped: Family::default(),
            delivery_errors: Counter::default(),
            producer_queue_depth: Gauge::default(),
            docker_up: Gauge::default(),
            containers: Gauge::default(),
            docker_errors: Family::default(),
            events: Family::default(),
            events_dropped: Counter::default(),
            last_tick_timestamp: Gauge::default(),
        };
        let mut r = Registry::with_prefix("collector");
        r.register("ticks", "Sampling ticks run", m.ticks.clone());
        r.register(
            "ticks_skipped",
            "Ticks skipped because the previous tick overran the interval",
            m.ticks_skipped.clone(),
        );
        r.register(
            "tick_duration_seconds",
            "Time spent sampling and queueing one tick",
            m.tick_duration.clone(),
        );
        r.register(
            "records_produced",
            "Records handed to the Kafka producer queue",
            m.records_produced.clone(),
        );
        r.register(
            "records_delivered",
            "Records acknowledged by Kafka",
            m.records_delivered.clone(),
        );
        r.register(
            "records_dropped",
            "Records dropped before reaching Kafka, by reason",
            m.records_dropped.clone(),
        );
        r.register(
            "delivery_errors",
            "Records Kafka reported as failed",
            m.delivery_errors.clone(),
        );
        r.register(
            "producer_queue_depth",
            "Records queued in the producer and not yet acknowledged",
            m.producer_queue_depth.clone(),
        );
        r.register(
            "docker_up",
            "1 when the Docker API answers, 0 otherwise",
            m.docker_up.clone(),
        );
        r.register("containers", "Containers listed at the last tick", m.containers.clone());
        r.register(
            "docker_errors",
            "Failed or timed-out Docker API calls, by call",
            m.docker_errors.clone(),
        );
        r.register(
            "events",
            "Container events received from Docker, by kind",
            m.events.clone(),
        );
        r.register(
            "events_dropped",
            "Container events dropped because the event buffer was full",
            m.events_dropped.clone(),
        );
        r.register(
            "last_tick_timestamp_seconds",
            "Unix time of the last completed tick",
            m.last_tick_timestamp.clone(),
        );
        // Present from the start so dashboards and alerts see 0 rather than no series.
        let _ = m.records_dropped.get_or_create(&ReasonLabel { reason: "queue_full" });
        (m, r)
    }

    /// Counts one failed Docker call.
    pub fn docker_error(&self, call: &'static str) {
        self.docker_errors.get_or_create(&CallLabel { call }).inc();
    }

    /// Counts one dropped record.
    pub fn dropped(&self, reason: &'static str) {
        self.records_dropped.get_or_create(&ReasonLabel { reason }).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_the_documented_names() {
        let (m, registry) = Metrics::new();
        m.dropped("queue_full");
        m.docker_error("stats");
        m.events.get_or_create(&KindLabel { kind: "container_died" }).inc();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for name in [
            "collector_ticks_total 0",
            "collector_ticks_skipped_total 0",
            "collector_tick_duration_seconds_bucket",
            "collector_records_produced_total 0",
            "collector_records_delivered_total 0",
            "collector_records_dropped_total{reason=\"queue_full\"} 1",
            "collector_last_tick_timestamp_seconds",
            "collector_delivery_errors_total 0",
            "collector_producer_queue_depth 0",
            "collector_docker_up 0",
            "collector_containers 0",
            "collector_docker_errors_total{call=\"stats\"} 1",
            "collector_events_total{kind=\"container_died\"} 1",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}
