//! The Kafka side of the consumer: group membership with manual commits, batch assembly under
//! count/bytes/time limits, synchronous commits of answered offsets, and lag measurement.

use std::sync::Arc;
use std::time::Duration;

use common::ops::Readiness;
use common::shutdown::Shutdown;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::message::Message as _;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::time::Instant;

use crate::batch::{Batch, Message};
use crate::config::{BatchLimits, Config};
use crate::metrics::Metrics;

/// Logs rebalances and keeps readiness and the assignment gauge current.
pub struct GroupContext {
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let parts: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
                tracing::info!(partitions = ?parts, "partitions assigned");
                self.readiness.set(
                    "kafka",
                    true,
                    format!("member of the group, {} partition(s) assigned", parts.len()),
                );
            }
            Rebalance::Revoke(tpl) => tracing::info!(partitions = tpl.count(), "partitions revoked"),
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance error"),
        }
        let assigned = consumer.assignment().map(|a| a.count()).unwrap_or(0);
        self.metrics.assigned_partitions.set(assigned as i64);
    }
}

pub type GroupConsumer = StreamConsumer<GroupContext>;

/// Creates the consumer and subscribes it to the topic.
pub fn create(config: &Config, readiness: Arc<Readiness>, metrics: Arc<Metrics>) -> KafkaResult<GroupConsumer> {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", &config.bootstrap_server)
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("queued.max.messages.kbytes", "16384")
        // How long the broker may hold a fetch that finds nothing new. On Kafka a fetch returns
        // as soon as a record arrives, so this is only the idle poll interval (40 requests a
        // second per broker); tansu 0.6 holds every fetch for it (half of it above 500 ms), so
        // librdkafka's 500 ms default put 250 ms into every sample's path to its alert.
        .set("fetch.wait.max.ms", "25")
        .set("client.id", "metrics-consumer");
    for (k, v) in &config.kafka_overrides {
        cc.set(k, v);
    }
    readiness.set("kafka", false, "joining the consumer group");
    let consumer: GroupConsumer = cc.create_with_context(GroupContext { readiness, metrics })?;
    consumer.subscribe(&[config.topic.as_str()])?;
    Ok(consumer)
}

/// Adds received records to `batch` until it is full, until `max_wait` after its first record,
/// or until no record came for `idle`. Cancel-safe: a record once received stays in `batch`, and
/// `deadline` (set by the first record) survives a cancelled call, so the caller can race this
/// against other work.
pub async fn fill(
    consumer: &GroupConsumer,
    batch: &mut Batch,
    deadline: &mut Option<Instant>,
    limits: &BatchLimits,
    metrics: &Metrics,
) {
    let mut last = Instant::now();
    while !batch.is_full(limits) {
        let until = deadline.map(|d| match limits.idle.is_zero() {
            true => d,
            false => d.min(last + limits.idle),
        });
        let received = match until {
            None => consumer.recv().await,
            Some(d) => match tokio::time::timeout_at(d, consumer.recv()).await {
                Ok(r) => r,
                Err(_) => return,
            },
        };
        match received {
            Ok(m) => {
                last = Instant::now();
                deadline.get_or_insert_with(|| last + limits.max_wait);
                batch.push(detach(&m));
                metrics.records_consumed.inc();
            }
            Err(e) => {
                tracing::warn!(error = %e, "kafka receive error");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

fn detach(m: &rdkafka::message::BorrowedMessage<'_>) -> Message {
    Message {
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(<[u8]>::to_vec),
        payload: m.payload().map(<[u8]>::to_vec),
    }
}

/// Commits `partition → next offset` synchronously.
pub fn commit(
    consumer: &GroupConsumer,
    topic: &str,
    offsets: &std::collections::BTreeMap<i32, i64>,
) -> KafkaResult<()> {
    let mut tpl = TopicPartitionList::with_capacity(offsets.len());
    for (&partition, &next) in offsets {
        tpl.add_partition_offset(topic, partition, Offset::Offset(next))?;
    }
    tokio::task::block_in_place(|| consumer.commit(&tpl, CommitMode::Sync))
}

/// Every `every`, sets the lag gauge to the records in assigned partitions not yet consumed.
pub async fn measure_lag(
    consumer: Arc<GroupConsumer>,
    topic: String,
    metrics: Arc<Metrics>,
    every: Duration,
    shutdown: Shutdown,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait() => return,
        }
        let (c, t) = (consumer.clone(), topic.clone());
        let lag = tokio::task::spawn_blocking(move || -> KafkaResult<i64> {
            let mut total = 0;
            for e in c.position()?.elements() {
                let (_, high) = c.fetch_watermarks(&t, e.partition(), Duration::from_secs(2))?;
                if let Offset::Offset(pos) = e.offset() {
                    total += (high - pos).max(0);
                } else {
                    let committed = c.committed_offsets(
                        {
                            let mut one = TopicPartitionList::new();
                            one.add_partition(&t, e.partition());
                            one
                        },
                        Duration::from_secs(2),
                    )?;
                    if let Some(Offset::Offset(pos)) = committed.elements().first().map(|x| x.offset()) {
                        total += (high - pos).max(0);
                    }
                }
            }
            Ok(total)
        })
        .await;
        match lag {
            Ok(Ok(l)) => {
                metrics.lag_records.set(l);
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "lag measurement failed"),
            Err(_) => {}
        }
    }
}
