//! Background tasks of the alerting service: the engine tick (stale hosts) every second, the
//! periodic state save and notifier tick, and retention of old alert events.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::shutdown::Shutdown;
use tokio::time::{Instant, MissedTickBehavior};

use super::Inner;
use crate::alerts::Engine;

/// Period of `Engine::tick`.
pub const TICK: Duration = Duration::from_secs(1);
/// Ticks between two saves of the engine state and two notifier ticks (30 s).
pub const PERIODIC_EVERY: u64 = 30;
/// Retention: first run after start, then this often.
pub const RETENTION_FIRST: Duration = Duration::from_secs(60);
pub const RETENTION_EVERY: Duration = Duration::from_secs(6 * 3600);
/// Rows per retention DELETE.
pub const RETENTION_CHUNK: u32 = 5000;

/// How long hosts get to report after a start, or after storage was unavailable, before
/// silent ones count as stale: the longest stale window of the hosts the engine remembers.
pub(super) fn stale_grace(engine: &Engine) -> Duration {
    engine
        .longest_stale_window()
        .to_std()
        .unwrap_or(Duration::from_secs(10))
}

/// Ticks the engine every [`TICK`] (not before `Inner::stale_from`) and every [`PERIODIC_EVERY`] ticks
/// asks for a state save and hands the open alerts to the notifier.
pub(super) async fn ticks(inner: Arc<Inner>, shutdown: Shutdown) {
    let mut every = tokio::time::interval(TICK);
    every.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = shutdown.wait() => return,
        }
        n += 1;
        let now = Utc::now();
        let active = {
            let mut guard = inner.core();
            let core = &mut *guard;
            let due = core.reorder.due(now);
            if !due.records.is_empty() {
                let rules = core.rules.clone();
                let events = super::Core::evaluate(&mut core.engine, &rules, due.records, now);
                inner.metrics.records_held.set(core.reorder.len() as i64);
                inner.enqueue(&guard, events);
            }
            if inner.storage_stuck() {
                let until = Instant::now() + stale_grace(&guard.engine).max(super::STORAGE_CATCH_UP);
                let mut from = inner.stale_from();
                *from = (*from).max(until);
            }
            if Instant::now() >= *inner.stale_from() {
                let events = guard.engine.tick(now);
                inner.enqueue(&guard, events);
            }
            (n % PERIODIC_EVERY == 0).then(|| guard.engine.active())
        };
        if let Some(active) = active {
            inner.metrics.active.set(active.len() as i64);
            inner.notifier.tick(now, active);
            inner.outbox().snapshot_due = true;
            inner.wake.notify_one();
        }
    }
}

/// Deletes alert events older than `days` days, soon after start and then every
/// [`RETENTION_EVERY`].
pub(super) async fn retention(inner: Arc<Inner>, days: u32, shutdown: Shutdown) {
    let mut next = Instant::now() + RETENTION_FIRST;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = shutdown.wait() => return,
        }
        next = Instant::now() + RETENTION_EVERY;
        let cutoff = Utc::now() - chrono::Duration::days(i64::from(days));
        match inner.store.delete_alert_events_before(cutoff, RETENTION_CHUNK).await {
            Ok(0) => {}
            Ok(n) => {
                inner.metrics.expired.inc_by(n);
                tracing::info!(deleted = n, days, "deleted old alert events");
            }
            Err(e) => tracing::warn!(error = %e, "alert event retention failed; retrying later"),
        }
    }
}
