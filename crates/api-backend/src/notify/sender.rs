//! The running notifier: a cheap, cloneable [`NotifierHandle`] for the ingest path and the
//! periodic task, one task applying the [`Policy`], and one [`delivery`](super::delivery)
//! worker per webhook.
//!
//! ```text
//! publish ──try_send──▶ [events, bounded] ──▶ policy task ──try_send──▶ [per target, bounded] ──▶ worker ──▶ webhook
//! tick, set_silences ──▶ (latest value only)  ──┘
//! ```
//! Nothing here can block the caller: a full queue drops the notification and counts it
//! (`api_notifications_dropped_total{reason}`). Ticks and silences keep only their latest value,
//! so they never queue up. A silence set before an event is published applies to that event.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::ops::Readiness;
use common::shutdown::Shutdown;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::config::NotifyConfig;
use super::delivery::{Format, Queued, Target, Tuning, Worker};
use super::metrics::{dropped, NotifyMetrics, ReasonLabel, TargetLabel};
use super::policy::{Decision, Notification, Policy};
use super::silence::Silence;
use crate::alerts::{ActiveAlert, AlertEvent, AlertState};

/// Starts notifiers.
pub struct Notifier;

/// The open alerts handed to a tick.
#[derive(Debug)]
struct Tick {
    now: DateTime<Utc>,
    active: Vec<ActiveAlert>,
}

struct Inner {
    events: mpsc::Sender<AlertEvent>,
    ticks: watch::Sender<Option<Arc<Tick>>>,
    silences: watch::Sender<Vec<Silence>>,
    metrics: NotifyMetrics,
    stopped: watch::Receiver<bool>,
}

/// Feeds the notifier; cheap to clone. Every method returns at once.
#[derive(Clone)]
pub struct NotifierHandle {
    /// `None` when no webhook is configured: every call is a no-op.
    inner: Option<Arc<Inner>>,
}

impl std::fmt::Debug for NotifierHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifierHandle")
            .field("enabled", &self.is_enabled())
            .finish()
    }
}

impl Notifier {
    /// Starts the notifier for the configured webhooks (a no-op handle when there is none).
    /// Must be called inside a tokio runtime. It stops when `shutdown` fires (queued
    /// notifications get a short grace) or when every handle is dropped.
    /// Each receiver's state shows in `readiness` as an optional dependency (`webhook_slack`,
    /// `webhook_generic`: `/health/detailed` is degraded while one fails).
    pub fn spawn(
        config: &NotifyConfig,
        metrics: NotifyMetrics,
        shutdown: Shutdown,
        readiness: Arc<Readiness>,
    ) -> NotifierHandle {
        Notifier::spawn_with(config, Tuning::default(), metrics, shutdown, readiness)
    }

    /// [`Notifier::spawn`] with other retry and shutdown timings (tests use short ones).
    pub fn spawn_with(
        config: &NotifyConfig,
        tuning: Tuning,
        metrics: NotifyMetrics,
        shutdown: Shutdown,
        readiness: Arc<Readiness>,
    ) -> NotifierHandle {
        let targets: Vec<Target> = [
            (Format::Slack, &config.alert_webhook_url),
            (Format::Generic, &config.alert_generic_webhook_url),
        ]
        .into_iter()
        .filter_map(|(format, url)| url.clone().map(|url| Target { format, url }))
        .collect();
        if targets.is_empty() {
            tracing::info!("no alert webhook configured; alert notifications are off");
            return NotifierHandle::disabled();
        }
        let client = reqwest::Client::builder()
            .timeout(config.alert_webhook_timeout)
            .connect_timeout(config.alert_webhook_timeout.min(Duration::from_secs(5)))
            // a redirected POST would turn into a GET: report it rather than follow it
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client without TLS or proxy settings builds");
        let capacity = config.alert_notify_queue.max(1) as usize;
        let mut queues = Vec::new();
        let mut tasks = Vec::new();
        for target in targets {
            tracing::info!(target_kind = target.format.label(), url = ?target.url, "alert notifications enabled");
            let (tx, rx) = mpsc::channel(capacity);
            queues.push((target.format.label(), tx));
            let worker = Worker::new(
                target,
                client.clone(),
                tuning.clone(),
                metrics.clone(),
                shutdown.clone(),
                readiness.clone(),
            );
            tasks.push(tokio::spawn(worker.run(rx)));
        }
        let (events_tx, events_rx) = mpsc::channel(capacity);
        let (ticks_tx, ticks_rx) = watch::channel(None);
        let (silences_tx, silences_rx) = watch::channel(Vec::new());
        let (stopped_tx, stopped_rx) = watch::channel(false);
        let policy = PolicyTask {
            policy: Policy::new(config.cooldown(), config.repeat_interval()),
            silences: silences_rx,
            queues,
            metrics: metrics.clone(),
        };
        tasks.push(tokio::spawn(policy.run(events_rx, ticks_rx, shutdown)));
        tokio::spawn(async move {
            for task in tasks {
                let _ = task.await;
            }
            let _ = stopped_tx.send(true);
        });
        NotifierHandle {
            inner: Some(Arc::new(Inner {
                events: events_tx,
                ticks: ticks_tx,
                silences: silences_tx,
                metrics,
                stopped: stopped_rx,
            })),
        }
    }
}

impl NotifierHandle {
    /// A handle that does nothing (no webhook configured; tests of other parts).
    pub fn disabled() -> Self {
        NotifierHandle { inner: None }
    }

    /// Whether a webhook is configured.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Offers one event of the alert engine. Never blocks: when the queue is full the event is
    /// dropped and counted. Pending and cancelled events are ignored here already.
    pub fn publish(&self, event: &AlertEvent) {
        let Some(inner) = &self.inner else { return };
        if !matches!(
            event.state,
            AlertState::Firing | AlertState::Resolved | AlertState::Info
        ) {
            return;
        }
        match inner.events.try_send(event.clone()) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => inner.metrics.drop_one(dropped::QUEUE_FULL),
            Err(mpsc::error::TrySendError::Closed(_)) => inner.metrics.drop_one(dropped::SHUTDOWN),
        }
    }

    /// Hands over the engine's open alerts, listed at `now`, for reminders and for announcing
    /// held-back or never-seen firing alerts. Call it periodically (e.g. every 30 s); only
    /// the latest call counts when the notifier is busy.
    pub fn tick(&self, now: DateTime<Utc>, active: Vec<ActiveAlert>) {
        if let Some(inner) = &self.inner {
            inner.ticks.send_replace(Some(Arc::new(Tick { now, active })));
        }
    }

    /// Replaces the silences; they apply to every event published after this call.
    pub fn set_silences(&self, silences: Vec<Silence>) {
        if let Some(inner) = &self.inner {
            inner.silences.send_replace(silences);
        }
    }

    /// Resolves once the notifier has stopped (after shutdown, its queues delivered or the
    /// grace spent); at once for a disabled handle.
    pub async fn stopped(&self) {
        if let Some(inner) = &self.inner {
            let mut rx = inner.stopped.clone();
            let _ = rx.wait_for(|stopped| *stopped).await;
        }
    }
}

/// Applies the policy to events and ticks and hands notifications to the target queues.
struct PolicyTask {
    policy: Policy,
    silences: watch::Receiver<Vec<Silence>>,
    queues: Vec<(&'static str, mpsc::Sender<Queued>)>,
    metrics: NotifyMetrics,
}

impl PolicyTask {
    async fn run(
        mut self,
        mut events: mpsc::Receiver<AlertEvent>,
        mut ticks: watch::Receiver<Option<Arc<Tick>>>,
        shutdown: Shutdown,
    ) {
        loop {
            tokio::select! {
                biased;
                () = shutdown.wait() => break,
                event = events.recv() => match event {
                    Some(event) => self.on_event(&event),
                    None => break,
                },
                Ok(()) = ticks.changed() => {
                    let tick = ticks.borrow_and_update().clone();
                    if let Some(tick) = tick {
                        self.refresh_silences();
                        for d in self.policy.tick(tick.now, &tick.active) {
                            self.route(d);
                        }
                    }
                }
            }
        }
        // Stop intake; what was published before still counts.
        events.close();
        while let Some(event) = events.recv().await {
            self.on_event(&event);
        }
        // Dropping the queues lets the workers finish.
    }

    fn refresh_silences(&mut self) {
        if self.silences.has_changed().unwrap_or(false) {
            let silences = self.silences.borrow_and_update().clone();
            self.policy.set_silences(silences);
        }
    }

    fn on_event(&mut self, event: &AlertEvent) {
        self.refresh_silences();
        let d = self.policy.on_event(event, Utc::now());
        self.route(d);
    }

    fn route(&self, decision: Decision) {
        match decision {
            Decision::Notify(n) => {
                let n: Arc<Notification> = Arc::from(n);
                for (target, queue) in &self.queues {
                    let item = Queued {
                        notification: n.clone(),
                        queued_at: Instant::now(),
                    };
                    let pending = self.metrics.pending.get_or_create(&TargetLabel { target });
                    pending.inc(); // before the worker can take it and count it down
                    if queue.try_send(item).is_err() {
                        pending.dec();
                        self.metrics.drop_one(dropped::BACKLOG_FULL);
                    }
                }
            }
            Decision::Suppress(reason) => {
                self.metrics
                    .suppressed
                    .get_or_create(&ReasonLabel {
                        reason: reason.as_str(),
                    })
                    .inc();
            }
            Decision::Skip => {}
        }
    }
}
