//! The consumer's own measurements, exposed at `/metrics` with the `consumer_` prefix.

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// A label set with one label.
pub type Label = [(&'static str, &'static str); 1];

pub struct Metrics {
    pub records_consumed: Counter,
    pub batches: Counter,
    pub records_forwarded: Family<Label, Counter>,
    pub records_dead_lettered: Family<Label, Counter>,
    pub forward_retries: Counter,
    pub dlq_retries: Counter,
    pub commits: Counter,
    pub commit_errors: Counter,
    pub batch_records: Histogram,
    pub batch_seconds: Histogram,
    pub request_seconds: Histogram,
    pub lag_records: Gauge,
    pub assigned_partitions: Gauge,
    pub stalled: Gauge,
    pub rejoins: Counter,
    /// `consumer_offset_resets_total`: partitions read again from their start because their
    /// log went backwards (a broker that lost its data).
    pub offset_resets: Counter,
}

impl Metrics {
    /// Creates the metrics and registers them under `consumer_`.
    pub fn register(registry: &mut Registry) -> Arc<Self> {
        let m = Metrics {
            records_consumed: Counter::default(),
            batches: Counter::default(),
            records_forwarded: Family::default(),
            records_dead_lettered: Family::default(),
            forward_retries: Counter::default(),
            dlq_retries: Counter::default(),
            commits: Counter::default(),
            commit_errors: Counter::default(),
            batch_records: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            batch_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            request_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            lag_records: Gauge::default(),
            assigned_partitions: Gauge::default(),
            stalled: Gauge::default(),
            rejoins: Counter::default(),
            offset_resets: Counter::default(),
        };
        let r = registry.sub_registry_with_prefix("consumer");
        r.register(
            "records_consumed",
            "Kafka records read from the metrics topic",
            m.records_consumed.clone(),
        );
        r.register("batches", "Batches answered for and committed", m.batches.clone());
        r.register(
            "records_forwarded",
            "Records the backend answered for, by result (accepted, duplicate, rejected)",
            m.records_forwarded.clone(),
        );
        r.register(
            "records_dead_lettered",
            "Records written to the dead-letter topic, by reason (invalid_json, rejected)",
            m.records_dead_lettered.clone(),
        );
        r.register(
            "forward_retries",
            "Ingest requests retried (connection error, 408, 429, 5xx, auth)",
            m.forward_retries.clone(),
        );
        r.register("dlq_retries", "Dead-letter writes retried", m.dlq_retries.clone());
        r.register("commits", "Offset commits that succeeded", m.commits.clone());
        r.register(
            "commit_errors",
            "Offset commits that failed (the records will be redelivered)",
            m.commit_errors.clone(),
        );
        r.register("batch_records", "Records per batch", m.batch_records.clone());
        r.register(
            "batch_seconds",
            "Time to answer for a batch (forward and dead-letter), from its first record being taken up",
            m.batch_seconds.clone(),
        );
        r.register(
            "ingest_request_seconds",
            "Duration of one ingest HTTP request",
            m.request_seconds.clone(),
        );
        r.register(
            "lag_records",
            "Records of the topic not yet consumed (this member's position in its partitions, the group's committed offsets in the others)",
            m.lag_records.clone(),
        );
        r.register(
            "assigned_partitions",
            "Partitions currently assigned to this member",
            m.assigned_partitions.clone(),
        );
        r.register(
            "stalled",
            "1 while this member holds no partition, records wait and the group commits nothing",
            m.stalled.clone(),
        );
        r.register(
            "rejoins",
            "Times this member left and rejoined the group because it was stalled",
            m.rejoins.clone(),
        );
        r.register(
            "offset_resets",
            "Partitions read again from their start because their log went backwards (a broker that lost its data)",
            m.offset_resets.clone(),
        );
        Arc::new(m)
    }
}
