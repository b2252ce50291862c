//! Wires the consumer together and runs the loop: fill a batch → forward it → dead-letter what
//! the backend refused (and what is not JSON) → commit. Up to `max_in_flight` batches are
//! forwarded at once (one batch's parsing overlaps another's database transaction), but offsets
//! are committed strictly in batch order, each only after every earlier batch was answered for.
//! A full window stops fetching: that is the backpressure.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use common::ops::{self, Ops, Readiness};
use common::shutdown::Shutdown;
use prometheus_client::registry::Registry;
use rdkafka::consumer::Consumer as _;
use tokio::task::JoinHandle;

use crate::batch::Batch;
use crate::config::Config;
use crate::dlq::{DeadLetter, DeadLetterTopic};
use crate::error::Result;
use crate::forwarder::Forwarder;
use crate::metrics::Metrics;
use crate::source;

/// Runs until SIGINT/SIGTERM, then finishes the batches in flight, commits and leaves the group.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let (_trigger, shutdown) = common::shutdown::on_signals();
    run_until(config, shutdown).await
}

/// [`run`] with an explicit shutdown handle.
pub async fn run_until(config: Config, shutdown: Shutdown) -> anyhow::Result<()> {
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let conns = common::server::Connections::register(&mut registry);
    let readiness = Readiness::new();
    let listener = ops::bind(config.listen).await?;
    let server = tokio::spawn(ops::serve_on(
        listener,
        ops::router(Ops {
            registry: Arc::new(registry),
            readiness: readiness.clone(),
        }),
        shutdown.clone(),
        conns,
    ));

    let consumer = Arc::new(source::create(&config, readiness.clone(), metrics.clone()).context("kafka consumer")?);
    let dlq = Arc::new(DeadLetterTopic::new(&config, metrics.clone()).context("dead-letter producer")?);
    let forwarder = Forwarder::new(
        (config.ingest_url.clone(), config.compat_url.clone()),
        config.ingest_token.clone(),
        config.ingest_timeout,
        (config.retry_initial, config.retry_max),
        metrics.clone(),
        readiness.clone(),
    );
    tokio::spawn(source::watch_group(
        consumer.clone(),
        config.topic.clone(),
        metrics.clone(),
        readiness.clone(),
        (source::GROUP_CHECK_EVERY, source::STALL_AFTER),
        shutdown.clone(),
    ));
    tracing::info!(topic = %config.topic, group = %config.group_id, backend = %config.ingest_url, "consumer started");

    let pipeline = Arc::new(Pipeline {
        grace: config.shutdown_grace,
        format: config.record_format,
        forwarder,
        dlq: dlq.clone(),
        metrics: metrics.clone(),
    });
    let mut in_flight: VecDeque<JoinHandle<Result<Batch>>> = VecDeque::new();
    let mut filling = Batch::default();
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let stopping = shutdown.is_triggered();
        if stopping && in_flight.is_empty() {
            break;
        }
        let window_open = in_flight.len() < config.max_in_flight;
        tokio::select! {
            biased;
            done = async { in_flight.front_mut().expect("guarded by the condition").await }, if !in_flight.is_empty() => {
                in_flight.pop_front();
                match done {
                    Ok(Ok(batch)) => commit(&consumer, &config.topic, &batch, &metrics),
                    Ok(Err(e)) => {
                        // Later batches are not committed either: their offsets would cover this one's.
                        tracing::warn!(error = %e, "stopping with a batch unanswered; it and later ones will be redelivered");
                        break;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "batch task failed; stopping without committing it");
                        break;
                    }
                }
            }
            () = source::fill(&consumer, &mut filling, &mut deadline, &config.batch, &metrics), if window_open && !stopping => {
                let batch = std::mem::take(&mut filling);
                deadline = None;
                in_flight.push_back(tokio::spawn(pipeline.clone().process(batch, shutdown.clone())));
            }
            () = shutdown.wait(), if !stopping => {}
        }
    }
    for task in in_flight {
        task.abort();
    }

    tracing::info!(uncommitted = filling.len(), "leaving the consumer group");
    consumer.unsubscribe();
    dlq.flush(Duration::from_secs(5));
    drop(pipeline);
    drop(consumer);
    let _ = server.await;
    tracing::info!("consumer stopped");
    Ok(())
}

/// Commits a batch's offsets; a failure only means redelivery (the backend de-duplicates).
fn commit(consumer: &source::GroupConsumer, topic: &str, batch: &Batch, metrics: &Metrics) {
    match source::commit(consumer, topic, &batch.commit_offsets()) {
        Ok(()) => {
            metrics.commits.inc();
        }
        Err(e) => {
            metrics.commit_errors.inc();
            tracing::warn!(error = %e, "offset commit failed; these records will be redelivered and deduplicated");
        }
    }
}

/// What answering for a batch needs; shared by the batches in flight.
struct Pipeline {
    grace: Duration,
    /// RECORD_FORMAT: which records go to which ingest endpoint.
    format: crate::config::RecordFormat,
    forwarder: Forwarder,
    dlq: Arc<DeadLetterTopic>,
    metrics: Arc<Metrics>,
}

impl Pipeline {
    /// Answers for every record of the batch (forwarded, or dead-lettered) and hands the batch
    /// back for its commit.
    async fn process(self: Arc<Self>, batch: Batch, shutdown: Shutdown) -> Result<Batch> {
        let started = Instant::now();
        let classified = batch.classify(self.format);
        let mut letters: Vec<DeadLetter<'_>> = classified
            .not_json
            .into_iter()
            .map(|(i, reason)| DeadLetter {
                message: &batch.messages[i],
                reason,
                kind: "invalid_json",
            })
            .collect();
        for (indices, original) in [(classified.v1, false), (classified.original, true)] {
            if indices.is_empty() {
                continue;
            }
            let payloads: Vec<&[u8]> = indices
                .iter()
                .map(|&i| batch.messages[i].payload.as_deref().unwrap_or_default())
                .collect();
            let answer = if original {
                self.forwarder
                    .forward_original(&payloads, &shutdown, self.grace)
                    .await?
            } else {
                self.forwarder.forward(&payloads, &shutdown, self.grace).await?
            };
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
                message: &batch.messages[indices[j]],
                reason,
                kind: "rejected",
            }));
        }
        self.dlq.send_all(&letters, &shutdown, self.grace).await?;
        drop(letters);

        self.metrics.batches.inc();
        self.metrics.batch_records.observe(batch.len() as f64);
        self.metrics.batch_seconds.observe(started.elapsed().as_secs_f64());
        Ok(batch)
    }
}
