//! The Kafka producer: one JSON record per message, key = host_id, never expiring queued records.
//!
//! Settings: acks=all, idempotence, lz4, `message.timeout.ms=0` (records wait out a broker outage
//! in the bounded local queue instead of being dropped after a timeout), then the user's
//! `KAFKA_*` overrides. When the local queue is full, run mode drops the new record and counts it
//! (`collector_records_dropped_total{reason="queue_full"}`); simulate mode waits for room.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::shutdown::Shutdown;
use common::Record;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::ClientContext;

use crate::error::Result;
use crate::metrics::Metrics;

/// Producer settings from the command line.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    pub bootstrap: String,
    pub topic: String,
    /// PRODUCER_QUEUE_MAX_RECORDS: records held locally while Kafka is slow or away.
    pub queue_max_records: u32,
    pub client_id: String,
}

/// What happens to a record when the local queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFull {
    /// Drop it and count it (run mode: the next tick's record is newer anyway).
    Drop,
    /// Wait until there is room (simulate mode: never drop).
    Wait,
}

/// The outcome of [`KafkaSink::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Queued,
    Dropped,
}

/// librdkafka settings, ours first and the `KAFKA_*` pass-through last so users can override.
pub fn settings(cfg: &ProducerConfig, passthrough: Vec<(String, String)>) -> Vec<(String, String)> {
    let ours = [
        ("bootstrap.servers", cfg.bootstrap.clone()),
        ("client.id", cfg.client_id.clone()),
        ("acks", "all".into()),
        ("enable.idempotence", "true".into()),
        ("compression.type", "lz4".into()),
        ("message.timeout.ms", "0".into()),
        ("queue.buffering.max.messages", cfg.queue_max_records.to_string()),
        // short: the collector sends one record per tick, and every millisecond here is alert latency
        ("linger.ms", "5".into()),
    ];
    ours.into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(passthrough)
        .collect()
}

/// Rate-limits a repeated warning: at most one line per period, with the count of the others.
#[derive(Debug)]
struct Throttle {
    period: Duration,
    state: Mutex<(Option<Instant>, u64)>,
}

impl Throttle {
    fn new(period: Duration) -> Self {
        Throttle {
            period,
            state: Mutex::new((None, 0)),
        }
    }

    /// Calls `log` with the number of suppressed occurrences when a line is due.
    fn hit(&self, log: impl FnOnce(u64)) {
        let mut s = self.state.lock().expect("throttle lock");
        let due = s.0.is_none_or(|last| last.elapsed() >= self.period);
        if due {
            log(s.1);
            *s = (Some(Instant::now()), 0);
        } else {
            s.1 += 1;
        }
    }
}

/// Receives librdkafka's callbacks: delivery reports and logs.
struct Context {
    metrics: Metrics,
    failures: Throttle,
    /// Records accepted into the queue.
    queued: AtomicU64,
    /// Records acknowledged by Kafka.
    delivered: AtomicU64,
    /// Records that left the queue otherwise (refused by Kafka, purged at exit).
    failed: AtomicU64,
}

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        // Broker connection churn is reported by the `kafka` readiness check, once per change.
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical => {
                tracing::error!(facility = fac, "librdkafka: {message}")
            }
            _ => tracing::debug!(facility = fac, "librdkafka: {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(%error, "librdkafka: {reason}");
    }
}

impl ProducerContext for Context {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.metrics.records_delivered.inc();
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            // Purged at exit: already reported as undelivered by `flush`, not as a failure.
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight), _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
            Err((error, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.metrics.delivery_errors.inc();
                self.failures.hit(|suppressed| {
                    tracing::warn!(%error, suppressed, "Kafka refused a record (it is lost)");
                });
            }
        }
    }
}

/// A `BaseProducer` whose delivery reports are served by a thread of our own.
///
/// rust-rdkafka's `ThreadedProducer` polls in 100 ms cycles, and its poll loop busy-spins through
/// the last sub-millisecond of every cycle (the remaining time is truncated to a 0 ms librdkafka
/// timeout): about 1 % of a core on an otherwise idle collector. One-second cycles cut that
/// tenfold; delivery reports still arrive at once (the poll wakes on each event).
struct PolledProducer {
    producer: Arc<BaseProducer<Context>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl PolledProducer {
    fn start(producer: BaseProducer<Context>) -> Self {
        let producer = Arc::new(producer);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p, s) = (producer.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("kafka-poll".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    p.poll(Duration::from_secs(1));
                }
            })
            .expect("start the Kafka polling thread");
        PolledProducer {
            producer,
            stop,
            thread: Mutex::new(Some(thread)),
        }
    }
}

impl std::ops::Deref for PolledProducer {
    type Target = BaseProducer<Context>;
    fn deref(&self) -> &Self::Target {
        &self.producer
    }
}

impl Drop for PolledProducer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
    }
}

/// The Kafka side of the collector; cheap to clone.
#[derive(Clone)]
pub struct KafkaSink {
    producer: Arc<PolledProducer>,
    topic: String,
    metrics: Metrics,
    produce_errors: Arc<Throttle>,
}

impl KafkaSink {
    /// Creates the producer (no network I/O yet: librdkafka connects in the background).
    pub fn new(cfg: &ProducerConfig, passthrough: Vec<(String, String)>, metrics: Metrics) -> Result<Self> {
        let mut client = ClientConfig::new();
        // librdkafka's own debug lines only when RUST_LOG asks for ours (`KAFKA_DEBUG=...` picks topics).
        let level = if tracing::enabled!(tracing::Level::DEBUG) {
            RDKafkaLogLevel::Debug
        } else {
            RDKafkaLogLevel::Error
        };
        client.set_log_level(level);
        for (k, v) in settings(cfg, passthrough) {
            client.set(k, v);
        }
        let ctx = Context {
            metrics: metrics.clone(),
            failures: Throttle::new(Duration::from_secs(10)),
            queued: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        };
        let producer: BaseProducer<Context> = client.create_with_context(ctx)?;
        Ok(KafkaSink {
            producer: Arc::new(PolledProducer::start(producer)),
            topic: cfg.topic.clone(),
            metrics,
            produce_errors: Arc::new(Throttle::new(Duration::from_secs(10))),
        })
    }

    /// Queues one record (key = host_id, value = its JSON).
    pub async fn send(&self, record: &Record, on_full: OnFull, shutdown: &Shutdown) -> Sent {
        let payload = record.to_json();
        loop {
            let message = BaseRecord::to(&self.topic)
                .key(record.host_id.as_str())
                .payload(&payload);
            match self.producer.send(message) {
                Ok(()) => {
                    self.producer.context().queued.fetch_add(1, Ordering::Relaxed);
                    self.metrics.records_produced.inc();
                    self.update_queue_depth();
                    return Sent::Queued;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    if on_full == OnFull::Drop || shutdown.is_triggered() {
                        self.metrics.dropped("queue_full");
                        return Sent::Dropped;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((error, _)) => {
                    self.metrics.dropped("produce_error");
                    self.produce_errors.hit(|suppressed| {
                        tracing::warn!(%error, suppressed, "record not queued for Kafka");
                    });
                    return Sent::Dropped;
                }
            }
        }
    }

    /// Records queued or in flight: neither acknowledged nor failed yet.
    pub fn queue_depth(&self) -> u64 {
        let ctx = self.producer.context();
        let done = ctx.delivered.load(Ordering::Relaxed) + ctx.failed.load(Ordering::Relaxed);
        ctx.queued.load(Ordering::Relaxed).saturating_sub(done)
    }

    /// Records acknowledged by Kafka since start.
    pub fn delivered(&self) -> u64 {
        self.producer.context().delivered.load(Ordering::Relaxed)
    }

    pub fn update_queue_depth(&self) {
        self.metrics.producer_queue_depth.set(self.queue_depth() as i64);
    }

    /// Waits up to `bound` for every queued record to be acknowledged; returns how many were not.
    pub async fn flush(&self, bound: Duration) -> u64 {
        let producer = self.producer.clone();
        let _ = tokio::task::spawn_blocking(move || producer.flush(bound)).await;
        self.update_queue_depth();
        self.queue_depth()
    }

    /// Fetches the topic's metadata (blocking; run it with `spawn_blocking`). `Ok` describes the
    /// topic, `Err` says why it is not usable.
    pub fn check_topic(&self, timeout: Duration) -> Result<String, String> {
        let md = self
            .producer
            .client()
            .fetch_metadata(Some(&self.topic), timeout)
            .map_err(|e| e.to_string())?;
        let topic = md
            .topics()
            .iter()
            .find(|t| t.name() == self.topic)
            .ok_or("topic missing from metadata")?;
        if let Some(err) = topic.error() {
            return Err(format!("topic {}: {err:?}", self.topic));
        }
        if topic.partitions().is_empty() {
            return Err(format!("topic {} has no partitions", self.topic));
        }
        Ok(format!(
            "topic {} has {} partitions",
            self.topic,
            topic.partitions().len()
        ))
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ProducerConfig {
        ProducerConfig {
            bootstrap: "k1:9092,k2:9092".into(),
            topic: "server-metrics".into(),
            queue_max_records: 5000,
            client_id: "collector".into(),
        }
    }

    fn get(settings: &[(String, String)], key: &str) -> Option<String> {
        settings.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    #[test]
    fn never_expires_records_and_is_safe_by_default() {
        let s = settings(&cfg(), vec![]);
        assert_eq!(get(&s, "message.timeout.ms").as_deref(), Some("0"));
        assert_eq!(get(&s, "acks").as_deref(), Some("all"));
        assert_eq!(get(&s, "enable.idempotence").as_deref(), Some("true"));
        assert_eq!(get(&s, "compression.type").as_deref(), Some("lz4"));
        assert_eq!(get(&s, "queue.buffering.max.messages").as_deref(), Some("5000"));
        assert_eq!(get(&s, "bootstrap.servers").as_deref(), Some("k1:9092,k2:9092"));
    }

    #[test]
    fn user_overrides_win() {
        let s = settings(&cfg(), vec![("compression.type".into(), "zstd".into())]);
        assert_eq!(get(&s, "compression.type").as_deref(), Some("zstd"));
        // And librdkafka accepts the final list (the last value of a key wins).
        let mut c = ClientConfig::new();
        for (k, v) in s {
            c.set(k, v);
        }
        assert_eq!(c.get("compression.type"), Some("zstd"));
    }

    #[tokio::test]
    async fn full_queue_drops_in_run_mode_and_counts_it() {
        let (metrics, _) = Metrics::new();
        let mut c = cfg();
        c.bootstrap = "127.0.0.1:1".into(); // nothing listens: records stay queued
        c.queue_max_records = 2;
        let sink = KafkaSink::new(&c, vec![], metrics.clone()).unwrap();
        let (_t, shutdown) = common::shutdown::channel();
        let record = crate::simulate::example_record();
        assert_eq!(sink.send(&record, OnFull::Drop, &shutdown).await, Sent::Queued);
        assert_eq!(sink.send(&record, OnFull::Drop, &shutdown).await, Sent::Queued);
        assert_eq!(sink.send(&record, OnFull::Drop, &shutdown).await, Sent::Dropped);
        assert_eq!(metrics.records_produced.get(), 2);
        let dropped = metrics
            .records_dropped
            .get_or_create(&crate::metrics::ReasonLabel { reason: "queue_full" })
            .get();
        assert_eq!(dropped, 1);
        assert_eq!(sink.queue_depth(), 2);
        assert_eq!(sink.flush(Duration::from_millis(100)).await, 2);
    }

    #[tokio::test]
    async fn full_queue_waits_in_simulate_mode_until_shutdown() {
        let (metrics, _) = Metrics::new();
        let mut c = cfg();
        c.bootstrap = "127.0.0.1:1".into();
        c.queue_max_records = 1;
        let sink = KafkaSink::new(&c, vec![], metrics.clone()).unwrap();
        let (trigger, shutdown) = common::shutdown::channel();
        let record = crate::simulate::example_record();
        assert_eq!(sink.send(&record, OnFull::Wait, &shutdown).await, Sent::Queued);
        let waiting = sink.send(&record, OnFull::Wait, &shutdown);
        tokio::pin!(waiting);
        // No room and no broker: it keeps waiting instead of dropping.
        assert!(tokio::time::timeout(Duration::from_millis(300), &mut waiting)
            .await
            .is_err());
        trigger.fire();
        assert_eq!(waiting.await, Sent::Dropped);
        assert_eq!(metrics.records_produced.get(), 1);
    }
}
