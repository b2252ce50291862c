//! What the backend measures about itself, exposed at `/metrics` (names prefixed `api_`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// `result` of one record offered to ingest.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RecordResult {
    pub result: &'static str,
}

/// Why a valid record was refused (`api_ingest_refused_total{reason}`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalReason {
    /// `clock_ahead` (stamped further ahead of the backend's clock than MAX_CLOCK_SKEW) or
    /// `too_old` (older than the raw tier keeps).
    pub reason: &'static str,
}

/// A limit that refused a request: `rules`, `silences`, `streams`, `streams_per_client`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabel {
    pub limit: &'static str,
}

/// One answered HTTP request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The route pattern (`/api/v1/machines/{id}/samples`), or `unmatched`.
    pub route: String,
    pub status: u16,
}

/// The backend's metrics; cheap to clone (every metric is an `Arc` inside).
#[derive(Debug, Clone)]
pub struct Metrics {
    /// `api_ingest_records_total{result=accepted|duplicate|rejected}`
    pub ingest_records: Family<RecordResult, Counter>,
    /// `api_ingest_refused_total{reason}`: well-formed records refused for their time (also
    /// counted as `rejected` above).
    pub ingest_refused: Family<RefusalReason, Counter>,
    /// `api_ingest_batches_total`: ingest requests answered with counts (not the 4xx/5xx ones).
    pub ingest_batches: Counter,
    /// `api_ingest_batch_seconds`: time to store one batch, retries included.
    pub ingest_batch_seconds: Histogram,
    /// `api_ingest_batch_records`: records per ingest request.
    pub ingest_batch_records: Histogram,
    /// `api_ingest_record_delay_seconds`: from a record's sample time to its arrival here (the
    /// collector, broker and consumer part of the pipeline's delay).
    pub ingest_record_delay_seconds: Histogram,
    /// `api_ingest_values_total`: numeric values in the records stored (what storage cost is
    /// measured per).
    pub ingest_values: Counter,
    /// `api_ingest_retries_total`: transactions retried after a conflict with a concurrent batch.
    pub ingest_retries: Counter,
    /// `api_ingest_unavailable_total`: batches answered 503 because storage was unavailable.
    pub ingest_unavailable: Counter,
    /// `api_database_up`: 1 when the last database check passed.
    pub database_up: Gauge,
    /// `api_http_requests_total{route,status}`
    pub http_requests: Family<HttpLabels, Counter>,
    /// `api_limit_refusals_total{limit}`: requests refused because a limit was reached.
    pub limit_refusals: Family<LimitLabel, Counter>,
}

impl Metrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Metrics {
            ingest_records: Family::default(),
            ingest_refused: Family::default(),
            ingest_batches: Counter::default(),
            ingest_batch_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            ingest_batch_records: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            ingest_record_delay_seconds: Histogram::new(exponential_buckets(0.05, 1.5, 14)),
            ingest_values: Counter::default(),
            ingest_retries: Counter::default(),
            ingest_unavailable: Counter::default(),
            database_up: Gauge::default(),
            http_requests: Family::default(),
            limit_refusals: Family::default(),
        };
        registry.register(
            "api_limit_refusals",
            "Requests refused because a limit was reached, by limit (rules, silences, streams, streams_per_client)",
            m.limit_refusals.clone(),
        );
        registry.register(
            "api_ingest_records",
            "Records offered to ingest, by result",
            m.ingest_records.clone(),
        );
        registry.register(
            "api_ingest_refused",
            "Well-formed records refused for their time, by reason (clock_ahead, too_old)",
            m.ingest_refused.clone(),
        );
        registry.register(
            "api_ingest_batches",
            "Ingest batches handled (answered with accepted/duplicates/rejected counts)",
            m.ingest_batches.clone(),
        );
        registry.register(
            "api_ingest_batch_seconds",
            "Time to store one ingest batch, retries included",
            m.ingest_batch_seconds.clone(),
        );
        registry.register(
            "api_ingest_batch_records",
            "Records per ingest request",
            m.ingest_batch_records.clone(),
        );
        registry.register(
            "api_ingest_record_delay_seconds",
            "From a record's sample time to its arrival at the backend",
            m.ingest_record_delay_seconds.clone(),
        );
        registry.register(
            "api_ingest_values",
            "Numeric values in the records stored",
            m.ingest_values.clone(),
        );
        registry.register(
            "api_ingest_retries",
            "Ingest transactions retried after a conflict with a concurrent batch",
            m.ingest_retries.clone(),
        );
        registry.register(
            "api_ingest_unavailable",
            "Ingest batches answered 503 because storage was unavailable",
            m.ingest_unavailable.clone(),
        );
        registry.register(
            "api_database_up",
            "1 when the last database check passed",
            m.database_up.clone(),
        );
        registry.register(
            "api_http_requests",
            "Answered HTTP requests by route and status",
            m.http_requests.clone(),
        );
        m
    }

    /// Counts one record refused for `reason`.
    pub fn refused(&self, reason: &'static str) {
        self.ingest_refused.get_or_create(&RefusalReason { reason }).inc();
    }

    /// Counts `n` records with the given result.
    pub fn records(&self, result: &'static str, n: usize) {
        if n > 0 {
            self.ingest_records
                .get_or_create(&RecordResult { result })
                .inc_by(n as u64);
        }
    }
}
