//! Wiring: builds the collector (or the simulation) from the parsed command line and runs it
//! beside the ops HTTP server, the readiness checks and one shutdown signal.

use std::sync::Arc;
use std::time::Duration;

use common::ops::{router, serve, Ops, Readiness};
use common::shutdown::{Shutdown, Trigger};
use tokio::sync::mpsc;

use crate::config::{Cli, Command};
use crate::docker::client::Endpoint;
use crate::docker::{events, DockerConfig, DockerSampler};
use crate::error::{Error, Result};
use crate::host::Roots;
use crate::metrics::Metrics;
use crate::producer::{KafkaSink, ProducerConfig};
use crate::sink::Sink;
use crate::tick::Collector;
use crate::{identity, simulate};

/// How long shutdown waits for Kafka to acknowledge what is queued.
const FLUSH_BOUND: Duration = Duration::from_secs(10);
/// How often the `kafka` readiness check fetches the topic's metadata.
const KAFKA_CHECK_EVERY: Duration = Duration::from_secs(5);
/// Docker events buffered between two ticks.
const EVENT_BUFFER: usize = 4096;

/// Runs until SIGINT/SIGTERM (or, for `simulate --records`, until done).
pub async fn run(cli: Cli) -> Result<()> {
    let (trigger, shutdown) = common::shutdown::on_signals();
    run_with(cli, trigger, shutdown).await
}

/// [`run`] with an explicit shutdown signal (tests fire it themselves).
pub async fn run_with(cli: Cli, trigger: Trigger, shutdown: Shutdown) -> Result<()> {
    let (metrics, mut registry) = Metrics::new();
    let conns = common::server::Connections::register(&mut registry);
    let readiness = Readiness::new();
    let simulate = matches!(cli.command, Some(Command::Simulate(_)));

    // Everything that can be refused is checked before anything starts.
    let identity = if simulate {
        None
    } else {
        let id = identity::host_id(cli.run.host_id.as_deref(), &cli.run.host_rootfs)?;
        let name = identity::host_name(cli.run.host_name.as_deref(), &cli.run.host_rootfs)?;
        Some((id, name))
    };
    let endpoint = if simulate {
        None
    } else {
        Endpoint::parse(&cli.run.docker_host)?
    };
    let client_id = match &identity {
        Some((id, _)) => format!("collector-{id}"),
        None => "collector-simulate".to_string(),
    };
    let sink = make_sink(&cli, client_id, &metrics, &readiness)?;

    let ops = Ops {
        registry: Arc::new(registry),
        readiness: readiness.clone(),
    };
    let server = tokio::spawn({
        let (addr, shutdown, trigger) = (cli.output.listen, shutdown.clone(), trigger.clone());
        async move {
            let result = serve(addr, router(ops), shutdown, conns).await;
            if result.is_err() {
                trigger.fire(); // no ops surface, no run: stop the rest too
            }
            result
        }
    });
    if let Sink::Kafka(k) = &sink {
        tokio::spawn(kafka_readiness(k.clone(), readiness.clone(), shutdown.clone()));
    }

    let mut outcome = Ok(());
    match cli.command {
        Some(Command::Simulate(args)) => {
            let summary = simulate::run(&args, &sink, &metrics, &shutdown).await;
            if cli.output.print {
                eprintln!("{summary}");
            } else {
                println!("{summary}");
            }
            if summary.undelivered > 0 || metrics.delivery_errors.get() > 0 {
                outcome = Err(Error::Undelivered(summary.undelivered + metrics.delivery_errors.get()));
            }
        }
        None => {
            let (host_id, host_name) = identity.expect("identity is resolved in run mode");
            tracing::info!(%host_id, %host_name, interval = ?cli.run.collect_interval, "collecting");
            let (docker, notices) = match endpoint {
                Some(endpoint) => {
                    let cfg = DockerConfig {
                        endpoint: endpoint.clone(),
                        timeout: cli.run.docker_timeout,
                        concurrency: cli.run.docker_concurrency as usize,
                    };
                    let (tx, rx) = mpsc::channel(EVENT_BUFFER);
                    let task = events::run(endpoint, cli.run.docker_timeout, tx, metrics.clone(), shutdown.clone());
                    tokio::spawn(task);
                    (
                        Some(DockerSampler::new(cfg, metrics.clone(), readiness.clone())),
                        Some(rx),
                    )
                }
                None => {
                    tracing::info!("DOCKER_HOST is empty or none: container sampling disabled");
                    readiness.set("docker", true, "disabled (DOCKER_HOST is empty or none)");
                    (None, None)
                }
            };
            let collector = Collector {
                host_id,
                host_name,
                interval: cli.run.collect_interval,
                roots: Roots {
                    proc: cli.run.proc_root,
                    sys: cli.run.sys_root,
                    rootfs: cli.run.host_rootfs,
                },
                docker,
                notices,
                sink: sink.clone(),
                metrics: metrics.clone(),
            };
            collector.run(shutdown.clone()).await;
            let undelivered = sink.flush(FLUSH_BOUND).await;
            if undelivered > 0 {
                tracing::warn!(
                    undelivered,
                    "shutting down with records Kafka has not acknowledged; they are lost"
                );
            } else {
                tracing::info!(delivered = sink.delivered(), "all records delivered; bye");
            }
        }
    }

    trigger.fire();
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Ok(Err(e))) => return Err(Error::Serve(e)),
        Ok(Err(e)) => return Err(Error::Task(e)),
        _ => {}
    }
    outcome
}

/// Kafka, or stdout with `--print`.
fn make_sink(cli: &Cli, client_id: String, metrics: &Metrics, readiness: &Arc<Readiness>) -> Result<Sink> {
    if cli.output.print {
        readiness.set("kafka", true, "not used: printing records to stdout (--print)");
        return Ok(Sink::Stdout(metrics.clone()));
    }
    let bootstrap = cli.output.bootstrap_server.clone().filter(|b| !b.trim().is_empty()).ok_or_else(|| {
        Error::Config("BOOTSTRAP_SERVER is required (set the BOOTSTRAP_SERVER environment variable or pass --bootstrap-server)".into())
    })?;
    let cfg = ProducerConfig {
        bootstrap,
        topic: cli.output.topic.clone(),
        queue_max_records: cli.output.queue_max_records,
        client_id,
    };
    let sink = KafkaSink::new(&cfg, common::config::kafka_passthrough_from_env(), metrics.clone())
        .map_err(|e| Error::Config(format!("Kafka producer settings refused: {e}")))?;
    readiness.set("kafka", false, "not checked yet");
    Ok(Sink::Kafka(sink))
}

/// Keeps the `kafka` readiness check current: the topic's metadata must be fetchable.
async fn kafka_readiness(sink: KafkaSink, readiness: Arc<Readiness>, shutdown: Shutdown) {
    let mut last_ok = None;
    while !shutdown.is_triggered() {
        let k = sink.clone();
        let started = std::time::Instant::now();
        let result = tokio::task::spawn_blocking(move || k.check_topic(Duration::from_secs(3)))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        let took = started.elapsed();
        match &result {
            Ok(detail) => {
                if last_ok != Some(true) {
                    tracing::info!(topic = sink.topic(), "Kafka reachable: {detail}");
                }
                readiness.measured("kafka", true, detail.clone(), took);
            }
            Err(e) => {
                if last_ok != Some(false) {
                    tracing::warn!(topic = sink.topic(), error = %e, "Kafka not usable; records wait in the local queue (logged once until it recovers)");
                }
                readiness.measured("kafka", false, e.clone(), took);
            }
        }
        last_ok = Some(result.is_ok());
        sink.update_queue_depth();
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tokio::time::sleep(KAFKA_CHECK_EVERY) => {}
        }
    }
}
