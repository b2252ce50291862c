//! The dead-letter topic: records that are not JSON, or that the backend judged invalid, are
//! written there unchanged (same key and value) with the reason and their origin in headers.
//! A write is retried until the broker acknowledges it: nothing is committed before that.

use std::sync::Arc;
use std::time::Duration;

use common::shutdown::Shutdown;
use rdkafka::config::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use tokio::time::Instant;

use crate::batch::Message;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use common::backoff::Backoff;

/// Header carrying the human-readable reason.
pub const REASON_HEADER: &str = "dlq.reason";

/// One record to dead-letter, with why.
pub struct DeadLetter<'a> {
    pub message: &'a Message,
    pub reason: String,
    /// `invalid_json` or `rejected` (the metric label).
    pub kind: &'static str,
}

pub struct DeadLetterTopic {
    producer: FutureProducer,
    topic: String,
    source_topic: String,
    metrics: Arc<Metrics>,
}

impl DeadLetterTopic {
    pub fn new(config: &Config, metrics: Arc<Metrics>) -> rdkafka::error::KafkaResult<Self> {
        let mut cc = ClientConfig::new();
        cc.set("bootstrap.servers", &config.bootstrap_server)
            .set("acks", "all")
            .set("message.timeout.ms", "30000")
            .set("client.id", "metrics-consumer-dlq");
        for (k, v) in &config.kafka_overrides {
            cc.set(k, v);
        }
        Ok(Self {
            producer: cc.create()?,
            topic: config.dlq_topic.clone(),
            source_topic: config.topic.clone(),
            metrics,
        })
    }

    /// Writes every letter, retrying each until acknowledged. Fails only when shutdown was
    /// requested and `grace` ran out.
    pub async fn send_all(&self, letters: &[DeadLetter<'_>], shutdown: &Shutdown, grace: Duration) -> Result<()> {
        let mut abort_at: Option<Instant> = None;
        for letter in letters {
            let m = letter.message;
            let (partition, offset) = (m.partition.to_string(), m.offset.to_string());
            let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
            loop {
                let headers = OwnedHeaders::new()
                    .insert(Header {
                        key: REASON_HEADER,
                        value: Some(letter.reason.as_str()),
                    })
                    .insert(Header {
                        key: "dlq.kind",
                        value: Some(letter.kind),
                    })
                    .insert(Header {
                        key: "dlq.source.topic",
                        value: Some(self.source_topic.as_str()),
                    })
                    .insert(Header {
                        key: "dlq.source.partition",
                        value: Some(partition.as_str()),
                    })
                    .insert(Header {
                        key: "dlq.source.offset",
                        value: Some(offset.as_str()),
                    });
                let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic).headers(headers);
                if let Some(k) = &m.key {
                    record = record.key(k.as_slice());
                }
                if let Some(p) = &m.payload {
                    record = record.payload(p.as_slice());
                }
                match self.producer.send(record, Duration::from_secs(5)).await {
                    Ok(_) => {
                        tracing::info!(partition = m.partition, offset = m.offset, reason = %letter.reason, "record dead-lettered");
                        self.metrics
                            .records_dead_lettered
                            .get_or_create(&[("reason", letter.kind)])
                            .inc();
                        break;
                    }
                    Err((e, _)) => {
                        self.metrics.dlq_retries.inc();
                        let delay = backoff.next_delay();
                        tracing::warn!(error = %e, retry_in = ?delay, "dead-letter write failed; will retry");
                        if shutdown.is_triggered() {
                            let deadline = *abort_at.get_or_insert_with(|| Instant::now() + grace);
                            if Instant::now() + delay > deadline {
                                return Err(Error::Interrupted);
                            }
                        }
                        tokio::time::sleep(delay).await;
                    }
                }
            }
        }
        Ok(())
    }

    /// Waits (bounded) for anything still queued.
    pub fn flush(&self, timeout: Duration) {
        let _ = self.producer.flush(timeout);
    }
}
