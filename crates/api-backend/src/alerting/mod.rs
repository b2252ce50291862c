//! The alerting service: the pure [`Engine`] wired to storage, ingest, notifications and the
//! live streams.
//!
//! ```text
//! ingest (before storing) ─observe┐
//! tick task (1 s)        ─tick───┼─▶ engine (one lock) ─events─▶ outbox ─▶ writer task ─▶ MySQL (events)
//! REST rule changes      ─set_rules┘   │  (in order)      (bounded)      └─▶ notifier, hub (after commit, id order)
//!                                      └─ snapshot ─▶ state saver (≤ 1/s, after its events are stored)
//!                                                      ─▶ MySQL (changed machine parts)
//! ```
//! Events are pushed to the outbox while the engine lock is held, and one writer stores them in
//! that order, so event ids are monotonic. A failed write keeps them queued and retries with
//! backoff; nothing on the ingest path waits for MySQL here, and a full outbox drops new events
//! (counted in `api_alert_events_dropped_total`).
//!
//! - [`outbox`]: the bounded queue of events not yet stored.
//! - [`writer`]: stores them (and the engine state), then publishes them.
//! - [`state_saver`]: saves the engine state beside the writer, after the events it includes.
//! - [`tasks`]: the 1 s engine tick, the 30 s state save and notifier tick, retention.
//! - [`rules`]: threshold rule changes (native REST).
//! - [`compat`]: the original system's over/under threshold settings as rules.
//! - [`silences`]: silence changes, handed to the notifier.
//! - [`metrics`]: the `api_alert_*` metrics.

pub mod compat;
pub mod metrics;
pub mod outbox;
pub mod rules;
pub mod silences;
mod state_saver;
mod tasks;
mod writer;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::shutdown::Shutdown;
use common::tasks::Tasks;
use common::wire::Record;
use tokio::sync::{watch, Notify};

use crate::alerts::persist::SavedParts;
use crate::alerts::{ActiveAlert, AlertEvent, Engine, EngineConfig, EngineState, Reorder, RuleSet};
use crate::error::Result;
use crate::hub::Hub;
use crate::notify::NotifierHandle;
use crate::store::Store;

pub use crate::alerts::silence::SilenceInput;
pub use metrics::AlertingMetrics;
pub use outbox::Outbox;
pub use rules::{RuleBody, RuleInput};

/// Events waiting to be stored at most; beyond, new ones are dropped and counted. The first
/// batch after a start with the default rules opened ~14,000 alerts at 2,000 hosts x 10
/// containers; 100,000 events are about 50 MB.
pub const OUTBOX_CAPACITY: usize = 100_000;
/// How long after the last batch refused for unavailable storage hosts get to catch up before
/// a silent one counts as stale (see [`Alerting::storage_unavailable`]).
pub const STORAGE_CATCH_UP: Duration = Duration::from_secs(30);
/// A batch waiting this long for storage holds stale detection (see [`Alerting::storing`]).
pub const STORAGE_STUCK: Duration = Duration::from_secs(2);
/// Stored events read per query when the saved state is brought up to date at start.
const CATCH_UP_PAGE: u32 = 5000;
/// How long [`Alerting::close`] waits for the last write.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of the service.
#[derive(Debug, Clone)]
pub struct AlertingSettings {
    /// Alert events older than this many days are deleted (ALERT_RETENTION_DAYS).
    pub retention_days: u32,
}

/// The running service; cheap to clone.
#[derive(Clone)]
pub struct Alerting {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Alerting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerting").finish_non_exhaustive()
    }
}

/// How long a record that leaves a gap after its host's last one waits for the records of the
/// gap (a batch still in flight) before the gap is taken as real.
pub const REORDER_GRACE: Duration = Duration::from_secs(1);

/// The engine, the rules it evaluates and the records held for it, behind one lock.
struct Core {
    engine: Engine,
    rules: Arc<RuleSet>,
    reorder: Reorder,
}

impl Core {
    /// Evaluates records in the order given; returns the events.
    fn evaluate<'a>(
        engine: &mut Engine,
        rules: &RuleSet,
        records: impl IntoIterator<Item = std::borrow::Cow<'a, Record>>,
        now: chrono::DateTime<Utc>,
    ) -> Vec<AlertEvent> {
        let mut events = Vec::new();
        for record in records {
            events.extend(engine.observe(rules, &record, now));
        }
        events
    }
}

struct Inner {
    /// Lock order: `core`, then `outbox`.
    core: Mutex<Core>,
    outbox: Mutex<Outbox>,
    /// Wakes the writer.
    wake: Notify,
    /// Ends the writer's wait before a retry: someone waits for the events (ingest, once
    /// storage answered it again).
    hurry: Notify,
    /// The newest outbox sequence number stored (or dropped).
    done_seq: watch::Sender<u64>,
    /// The id of the newest stored event.
    stored_event_id: watch::Sender<u64>,
    /// Set by [`Alerting::close`]: the writer stores what is left and stops.
    closing: watch::Sender<bool>,
    writer_done: watch::Sender<bool>,
    saver_done: watch::Sender<bool>,
    /// No host counts as stale before this: a start, or storage being unavailable (ingest then
    /// refuses batches, so the consumer holds records back and hosts only seem silent).
    stale_from: Mutex<tokio::time::Instant>,
    /// When each batch being stored now began (see [`Alerting::storing`]).
    storing: Mutex<HashMap<u64, Instant>>,
    next_storing: AtomicU64,
    /// Serialises rule and silence changes (read, change, reload).
    changes: tokio::sync::Mutex<()>,
    store: Store,
    notifier: NotifierHandle,
    /// The live streams (SSE): stored events are published here.
    hub: Hub,
    metrics: AlertingMetrics,
}

impl Inner {
    fn core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stale_from(&self) -> MutexGuard<'_, tokio::time::Instant> {
        self.stale_from.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn storing(&self) -> MutexGuard<'_, HashMap<u64, Instant>> {
        self.storing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// True while a batch has waited for storage longer than [`STORAGE_STUCK`].
    fn storage_stuck(&self) -> bool {
        self.storing().values().any(|t| t.elapsed() > STORAGE_STUCK)
    }

    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues events for storing. Taking the engine's guard makes the caller hold the engine
    /// lock, so events enter the outbox in the order the engine produced them.
    fn enqueue(&self, _core: &MutexGuard<'_, Core>, events: Vec<AlertEvent>) {
        if events.is_empty() {
            return;
        }
        let mut outbox = self.outbox();
        let dropped = outbox.push(events);
        self.metrics.queue_depth.set(outbox.len() as i64);
        drop(outbox);
        if dropped > 0 {
            self.metrics.dropped.inc_by(dropped as u64);
            tracing::warn!(
                dropped,
                capacity = OUTBOX_CAPACITY,
                "alert events dropped: too many are waiting to be stored"
            );
        }
        self.wake.notify_one();
    }
}

impl Alerting {
    /// Loads the rules (adding the compat defaults that are missing) and the saved engine state,
    /// hands the silences to the notifier, makes the engine's open alerts the hub's snapshot
    /// source, and starts the writer, tick and retention tasks (the last two stop with
    /// `shutdown`; the writer with [`Alerting::close`]).
    pub async fn start(
        store: Store,
        notifier: NotifierHandle,
        hub: Hub,
        metrics: AlertingMetrics,
        settings: AlertingSettings,
        shutdown: Shutdown,
        tasks: &Tasks,
    ) -> Result<Alerting> {
        compat::ensure_rules(&store).await?;
        let rules = Arc::new(rules::load(&store).await?);
        let config = EngineConfig::default();
        let loaded = store.load_engine_state().await?;
        let saved_upto = loaded.as_ref().map(|s| s.last_event_id);
        let (mut engine, saved) = match loaded {
            Some(saved) => match EngineState::from_parts(&saved.header, saved.parts.iter().cloned()) {
                Ok((state, skipped)) => {
                    if skipped > 0 {
                        tracing::warn!(
                            skipped,
                            "parts of the saved alert engine state do not parse; starting without them"
                        );
                    }
                    (
                        Engine::restore(config, state),
                        SavedParts::from_stored(&saved.parts, Instant::now()),
                    )
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the saved alert engine state does not parse; starting without it");
                    (
                        Engine::new(config),
                        SavedParts::from_stored(&saved.parts, Instant::now()),
                    )
                }
            },
            None => (Engine::new(config), SavedParts::default()),
        };
        if let Some(mut after) = saved_upto {
            // events stored after the last save (a crash came between the two)
            let mut applied = 0;
            loop {
                let page = store.alert_events_after(after, CATCH_UP_PAGE).await?;
                let Some((last, _)) = page.last() else { break };
                after = *last;
                applied += page.len();
                engine.catch_up(page.iter().map(|(_, ev)| ev));
            }
            if applied > 0 {
                tracing::info!(
                    events = applied,
                    "applied the alert events stored after the last state save"
                );
            }
        }
        let last_event_id = store.last_alert_event_id().await?;
        let first_tick = tasks::stale_grace(&engine);
        let events = engine.set_rules(&rules, Utc::now());
        let alerting = Alerting {
            inner: Arc::new(Inner {
                core: Mutex::new(Core {
                    engine,
                    rules,
                    reorder: Reorder::new(REORDER_GRACE),
                }),
                outbox: Mutex::new(Outbox::new(OUTBOX_CAPACITY)),
                wake: Notify::new(),
                hurry: Notify::new(),
                done_seq: watch::channel(0).0,
                stored_event_id: watch::channel(last_event_id).0,
                closing: watch::channel(false).0,
                writer_done: watch::channel(false).0,
                saver_done: watch::channel(false).0,
                stale_from: Mutex::new(tokio::time::Instant::now() + first_tick),
                storing: Mutex::new(HashMap::new()),
                next_storing: AtomicU64::new(0),
                changes: tokio::sync::Mutex::new(()),
                store,
                notifier,
                hub: hub.clone(),
                metrics,
            }),
        };
        let weak = Arc::downgrade(&alerting.inner);
        hub.set_snapshot_source(move || {
            weak.upgrade()
                .map(|inner| inner.core().engine.active())
                .unwrap_or_default()
        });
        {
            let core = alerting.inner.core();
            alerting.inner.enqueue(&core, events);
        }
        alerting.refresh_silences().await?;
        let inner = alerting.inner.clone();
        tasks.supervise("alert_writer", move || writer::run(inner.clone()));
        let (inner, mut saved) = (alerting.inner.clone(), Some(saved));
        // after a failure, the saver starts knowing nothing stored: its next save writes all
        tasks.supervise("alert_state_saver", move || {
            state_saver::run(inner.clone(), saved.take().unwrap_or_default())
        });
        let (inner, stop) = (alerting.inner.clone(), shutdown.clone());
        tasks.supervise("alert_ticks", move || tasks::ticks(inner.clone(), stop.clone()));
        let (inner, days) = (alerting.inner.clone(), settings.retention_days);
        tasks.supervise("alert_retention", move || {
            tasks::retention(inner.clone(), days, shutdown.clone())
        });
        Ok(alerting)
    }

    /// Evaluates received records, per host in sample-time order whatever order the batches
    /// come in (ingest calls it before storing them; see [`crate::alerts::reorder`]). A record
    /// not newer than the last one of its host changes nothing, so redelivered records may be
    /// passed. Never waits for storage; returns the sequence number to pass to
    /// [`Alerting::events_stored`] to wait for the events it raised (and every earlier one).
    pub fn observe(&self, records: &[Record]) -> u64 {
        if records.is_empty() {
            return self.inner.outbox().last_seq();
        }
        let started = Instant::now();
        let now = Utc::now();
        let mut guard = self.inner.core();
        let core = &mut *guard;
        let released = core.reorder.admit(records, |h| core.engine.last_sampled(h), now);
        let rules = core.rules.clone();
        let events = Core::evaluate(&mut core.engine, &rules, released.records, now);
        self.inner.metrics.records_held.set(core.reorder.len() as i64);
        if released.unordered > 0 {
            self.inner.metrics.records_unordered.inc_by(released.unordered as u64);
        }
        tracing::debug!(
            records = records.len(),
            held = released.held,
            events = events.len(),
            oldest = ?records.iter().map(|r| r.sampled_at).min(),
            "records evaluated"
        );
        self.inner.enqueue(&guard, events);
        let upto = self.inner.outbox().last_seq();
        drop(guard);
        self.inner
            .metrics
            .evaluate_seconds
            .observe(started.elapsed().as_secs_f64());
        upto
    }

    /// Resolves once the events up to outbox sequence number `upto` (from [`Alerting::observe`])
    /// are stored (or were dropped), hurrying a writer that waits to retry. While MySQL is
    /// unreachable this waits; callers bound it with a timeout.
    pub async fn events_stored(&self, upto: u64) {
        let mut done = self.inner.done_seq.subscribe();
        if *done.borrow() >= upto {
            return;
        }
        self.inner.hurry.notify_one();
        let _ = done.wait_for(|seq| *seq >= upto).await;
    }

    /// Marks a batch as being stored until the guard drops. While one has waited longer than
    /// [`STORAGE_STUCK`] (MySQL hangs, the pool has no connection), records of every host may
    /// be waiting behind it: no host counts as stale then, nor for [`STORAGE_CATCH_UP`] after.
    pub fn storing(&self) -> Storing<'_> {
        let id = self.inner.next_storing.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        self.inner.storing().insert(id, started);
        Storing {
            alerting: self,
            id,
            started,
        }
    }

    /// Ingest could not store a batch because storage is unavailable: records are held back
    /// (the consumer retries), and once storage is back they arrive late while the backlog
    /// drains; so no host counts as stale until [`STORAGE_CATCH_UP`] (or the longest stale
    /// window, if longer) after the last refused batch.
    pub fn storage_unavailable(&self) {
        let grace = tasks::stale_grace(&self.inner.core().engine).max(STORAGE_CATCH_UP);
        let until = tokio::time::Instant::now() + grace;
        let mut from = self.inner.stale_from();
        *from = (*from).max(until);
    }

    /// The open (pending and firing) alerts, oldest first.
    pub fn active(&self) -> Vec<ActiveAlert> {
        self.inner.core().engine.active()
    }

    /// Resolves once every event produced before the call is stored (or dropped). While MySQL
    /// is unreachable this waits; callers bound it with a timeout.
    pub async fn flush(&self) {
        let target = self.inner.outbox().last_seq();
        self.inner.wake.notify_one();
        self.events_stored(target).await;
    }

    /// Stores what is queued, then the engine state, and stops the writer and the state saver
    /// (at shutdown, after the HTTP server stopped taking requests); bounded by [`CLOSE_TIMEOUT`].
    pub async fn close(&self) {
        self.inner.outbox().snapshot_due = true;
        self.inner.closing.send_replace(true);
        self.inner.wake.notify_one();
        let mut done = self.inner.saver_done.subscribe();
        if tokio::time::timeout(CLOSE_TIMEOUT, done.wait_for(|d| *d))
            .await
            .is_err()
        {
            tracing::warn!(
                pending = self.inner.outbox().len(),
                "alert events and engine state could not be stored before shutdown"
            );
        }
    }
}

/// A batch being stored, from [`Alerting::storing`].
pub struct Storing<'a> {
    alerting: &'a Alerting,
    id: u64,
    started: Instant,
}

impl Drop for Storing<'_> {
    fn drop(&mut self) {
        self.alerting.inner.storing().remove(&self.id);
        if self.started.elapsed() > STORAGE_STUCK {
            self.alerting.storage_unavailable();
        }
    }
}
