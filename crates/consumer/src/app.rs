//! Wires the consumer together and runs the loop: fetch a batch → forward it → dead-letter what
//! the backend refused (and what is not JSON) → commit. One batch at a time, so a commit always
//! covers only records that were answered for; nothing is fetched while a batch is retried.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use common::ops::{self, Ops, Readiness};
use common::shutdown::Shutdown;
use prometheus_client::registry::Registry;
use rdkafka::consumer::Consumer as _;

use crate::batch::Batch;
use crate::config::Config;
use crate::dlq::{DeadLetter, DeadLetterTopic};
use crate::error::Result;
use crate::forwarder::Forwarder;
use crate::metrics::Metrics;
use crate::source::{self, GroupConsumer};

/// Runs until SIGINT/SIGTERM, then finishes the batch in flight, commits and leaves the group.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let (_trigger, shutdown) = common::shutdown::on_signals();
    run_until(config, shutdown).await
}

/// [`run`] with an explicit shutdown handle.
pub async fn run_until(config: Config, shutdown: Shutdown) -> anyhow::Result<()> {
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let readiness = Readiness::new();
    let listener = ops::bind(config.listen).await?;
    let server = tokio::spawn(ops::serve_on(
        listener,
        ops::router(Ops {
            registry: Arc::new(registry),
            readiness: readiness.clone(),
        }),
        shutdown.clone(),
    ));

    let consumer = Arc::new(source::create(&config, readiness.clone(), metrics.clone()).context("kafka consumer")?);
    let dlq = DeadLetterTopic::new(&config, metrics.clone()).context("dead-letter producer")?;
    let forwarder = Forwarder::new(
        config.ingest_url.clone(),
        config.ingest_token.clone(),
        config.ingest_timeout,
        (config.retry_initial, config.retry_max),
        metrics.clone(),
        readiness.clone(),
    );
    tokio::spawn(source::measure_lag(
        consumer.clone(),
        config.topic.clone(),
        metrics.clone(),
        Duration::from_secs(10),
        shutdown.clone(),
    ));
    tracing::info!(topic = %config.topic, group = %config.group_id, backend = %config.ingest_url, "consumer started");

    let pipeline = Pipeline {
        config: &config,
        consumer: &consumer,
        forwarder,
        dlq: &dlq,
        metrics: &metrics,
    };
    while !shutdown.is_triggered() {
        let batch = source::next_batch(&consumer, &config.batch, &shutdown, &metrics).await;
        if batch.is_empty() {
            continue;
        }
        if let Err(e) = pipeline.process(&batch, &shutdown).await {
            tracing::warn!(error = %e, records = batch.len(), "stopping with a batch unanswered; it will be redelivered");
            break;
        }
    }

    tracing::info!("leaving the consumer group");
    consumer.unsubscribe();
    dlq.flush(Duration::from_secs(5));
    drop(pipeline);
    drop(consumer);
    let _ = server.await;
    tracing::info!("consumer stopped");
    Ok(())
}

struct Pipeline<'a> {
    config: &'a Config,
    consumer: &'a GroupConsumer,
    forwarder: Forwarder,
    dlq: &'a DeadLetterTopic,
    metrics: &'a Metrics,
}

impl Pipeline<'_> {
    /// Answers for every record of the batch, then commits its offsets.
    async fn process(&self, batch: &Batch, shutdown: &Shutdown) -> Result<()> {
        let started = Instant::now();
        let grace = self.config.shutdown_grace;
        let (json, not_json) = batch.classify();
        let mut letters: Vec<DeadLetter<'_>> = not_json
            .into_iter()
            .map(|(i, reason)| DeadLetter {
                message: &batch.messages[i],
                reason,
                kind: "invalid_json",
            })
            .collect();

        if !json.is_empty() {
            let payloads: Vec<&[u8]> = json
                .iter()
                .map(|&i| batch.messages[i].payload.as_deref().unwrap_or_default())
                .collect();
            let answer = self.forwarder.forward(&payloads, shutdown, grace).await?;
            let forwarded = &self.metrics.records_forwarded;
            forwarded
                .get_or_create(&[("result", "accepted")])
                .inc_by(answer.accepted);
            forwarded
                .get_or_create(&[("result", "duplicate")])
                .inc_by(answer.duplicates);
            forwarded
                .get_or_create(&[("result", "rejected")])
                .inc_by(answer.rejected.len() as u64);
            letters.extend(answer.rejected.into_iter().map(|(j, reason)| DeadLetter {
                message: &batch.messages[json[j]],
                reason,
                kind: "rejected",
            }));
        }
        self.dlq.send_all(&letters, shutdown, grace).await?;

        match source::commit(self.consumer, &self.config.topic, &batch.commit_offsets()) {
            Ok(()) => {
                self.metrics.commits.inc();
            }
            Err(e) => {
                self.metrics.commit_errors.inc();
                tracing::warn!(error = %e, "offset commit failed; these records will be redelivered and deduplicated");
            }
        }
        self.metrics.batches.inc();
        self.metrics.batch_records.observe(batch.len() as f64);
        self.metrics.batch_seconds.observe(started.elapsed().as_secs_f64());
        Ok(())
    }
}
