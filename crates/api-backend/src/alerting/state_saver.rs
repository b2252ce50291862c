//! Saves the engine state beside the event writer, in its own transaction, so that a large save
//! never holds up events: at most every [`SAVE_EVERY`] while the engine produces events (less
//! often when the snapshot holds the engine lock long: see [`HOLD_SHARE`]), on the periodic
//! request of the tick task, and at close. Only the machine parts that changed are
//! written ([`SavedParts`]). A save includes only stored events: it waits until the writer has
//! stored every event produced before its snapshot. It records the id of the newest event
//! stored when the snapshot was taken: every event up to it is in the state, and the catch-up
//! at start re-applies the later ones (re-applying one the state already holds changes
//! nothing). The id read after the wait would be too new: the writer may by then have stored
//! events produced after the snapshot, and the catch-up would skip them (an incident the
//! saved state still held open, resolved again after a crash).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Inner;
use crate::alerts::persist::SavedParts;

/// Saves at most this often while events are produced: a crash loses at most this much state.
pub const SAVE_EVERY: Duration = Duration::from_secs(1);
/// The share of the time the snapshot may hold the engine lock (ingest waits for it): the pause
/// between saves is at least the snapshot's hold divided by this, up to [`SAVE_EVERY_MAX`].
pub const HOLD_SHARE: f64 = 0.02;
pub const SAVE_EVERY_MAX: Duration = Duration::from_secs(30);

/// Runs until [`Alerting::close`](super::Alerting::close): then, once the writer stored what
/// was left, one last save.
pub(super) async fn run(inner: Arc<Inner>, mut saved: SavedParts) {
    let mut closing = inner.closing.subscribe();
    let mut saved_seq = 0u64;
    let mut pause = SAVE_EVERY;
    loop {
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = closing.changed() => {}
        }
        if *closing.borrow() {
            let mut writer = inner.writer_done.subscribe();
            let _ = writer.wait_for(|done| *done).await;
            if let Err(e) = save(&inner, &mut saved, true).await {
                tracing::warn!(error = %e, "cannot save the alert engine state at shutdown");
            }
            break;
        }
        let (due, seq) = {
            let outbox = inner.outbox();
            (outbox.snapshot_due || outbox.last_seq() > saved_seq, outbox.last_seq())
        };
        if !due {
            continue;
        }
        match save(&inner, &mut saved, false).await {
            Ok(hold) => {
                saved_seq = seq;
                inner.outbox().snapshot_due = false;
                pause = hold.div_f64(HOLD_SHARE).clamp(SAVE_EVERY, SAVE_EVERY_MAX);
            }
            Err(e) => {
                inner.metrics.write_failures.inc();
                tracing::debug!(error = %e, "saving the alert engine state failed; retrying later");
            }
        }
    }
    inner.saver_done.send_replace(true);
}

/// One save: snapshot under the engine lock, wait for its events to be stored, write the
/// changed parts (all of them with `everything`). Returns how long the snapshot held the lock.
async fn save(inner: &Inner, saved: &mut SavedParts, everything: bool) -> crate::error::Result<Duration> {
    let started = Instant::now();
    let (state, seq, last_event_id, hold) = {
        let core = inner.core();
        let locked = Instant::now();
        let seq = inner.outbox().last_seq();
        let last_event_id = *inner.stored_event_id.borrow();
        let state = core.engine.snapshot();
        (state, seq, last_event_id, locked.elapsed())
    };
    inner.metrics.snapshot_hold_seconds.observe(hold.as_secs_f64());
    let mut done = inner.done_seq.subscribe();
    let _ = done.wait_for(|stored| *stored >= seq).await;
    // Serialising a large state takes a while: off the async workers.
    let parts = std::mem::take(saved);
    let (parts, (change, written)) = tokio::task::spawn_blocking(move || {
        let change = parts.change(&state, Instant::now(), everything);
        (parts, change)
    })
    .await
    // a panic in the diff ends this run of the saver: its supervisor logs and counts it and
    // starts it again, knowing nothing stored (the next save writes every part)
    .expect("the state diff does not panic");
    *saved = parts;
    let rows = change.upserts.len() + change.deletes.len();
    inner.store.save_engine_state(&change, last_event_id).await?;
    saved.stored(written);
    inner
        .metrics
        .state_save_seconds
        .observe(started.elapsed().as_secs_f64());
    tracing::debug!(
        rows,
        ms = started.elapsed().as_millis(),
        hold_ms = hold.as_millis(),
        "alert engine state saved"
    );
    Ok(hold)
}
