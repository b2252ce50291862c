//! The one writer of alert events: takes what the outbox holds (oldest first), stores it in one
//! transaction together with the engine state when the batch empties the outbox, then publishes
//! the stored events in id order to the notifier and the live streams. A failed write leaves
//! the events queued and is retried with backoff.

use std::sync::Arc;
use std::time::Duration;

use super::metrics::StateLabel;
use super::Inner;
use crate::error::Result;

/// Events per transaction at most.
const MAX_BATCH: usize = 1000;
/// Retry delays after failed writes: doubling from the first up to the last.
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// Attempts left once closing before the writer gives up.
const CLOSING_ATTEMPTS: u32 = 3;
/// The engine state is saved with the events at most this often while running (always when
/// closing): cloning and storing it takes the engine lock ingest needs, and it grows with the
/// open incidents. A crash loses at most this much state.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(1);

/// Runs until [`Alerting::close`](super::Alerting::close) and the last write.
pub(super) async fn run(inner: Arc<Inner>, mut last_event_id: u64) {
    let mut closing = inner.closing.subscribe();
    let mut failures = 0u32;
    let mut last_snapshot: Option<tokio::time::Instant> = None;
    loop {
        let is_closing = *closing.borrow_and_update();
        if failures > 0 {
            let delay = if is_closing { RETRY_FIRST } else { retry_delay(failures) };
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = closing.changed(), if !is_closing => {}
            }
        } else if !is_closing {
            tokio::select! {
                () = inner.wake.notified() => {}
                _ = closing.changed() => {}
            }
        }
        let is_closing = *closing.borrow_and_update();
        let snapshot_allowed = is_closing || last_snapshot.is_none_or(|t| t.elapsed() >= SNAPSHOT_EVERY);
        match write_pending(&inner, &mut last_event_id, snapshot_allowed).await {
            Ok(written) => {
                if failures > 0 {
                    tracing::info!(failures, "alert events are being stored again");
                }
                failures = 0;
                if written.snapshot {
                    last_snapshot = Some(tokio::time::Instant::now());
                }
                if written.more {
                    inner.wake.notify_one();
                } else if is_closing {
                    break;
                } else if inner.outbox().snapshot_due {
                    // A snapshot was held back: write it once its interval is up.
                    let at = last_snapshot.map_or_else(tokio::time::Instant::now, |t| t + SNAPSHOT_EVERY);
                    // New events wake it at once (the snapshot waits for its turn, not them).
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => inner.wake.notify_one(),
                        () = inner.wake.notified() => inner.wake.notify_one(),
                        _ = closing.changed() => {}
                    }
                }
            }
            Err(e) => {
                failures += 1;
                inner.metrics.write_failures.inc();
                if failures == 1 {
                    tracing::warn!(error = %e, "cannot store alert events; keeping them queued and retrying");
                } else {
                    tracing::debug!(error = %e, failures, "storing alert events failed again");
                }
                if is_closing && failures >= CLOSING_ATTEMPTS {
                    break;
                }
            }
        }
    }
    inner.writer_done.send_replace(true);
}

/// What one write did.
struct Written {
    /// More events are waiting.
    more: bool,
    /// The engine state was saved with them.
    snapshot: bool,
}

/// One transaction.
async fn write_pending(inner: &Inner, last_event_id: &mut u64, snapshot_allowed: bool) -> Result<Written> {
    let (batch, state) = {
        let core = inner.core();
        let mut outbox = inner.outbox();
        let batch = outbox.take(MAX_BATCH);
        if batch.events.is_empty() && !(outbox.snapshot_due && snapshot_allowed) {
            return Ok(Written {
                more: false,
                snapshot: false,
            });
        }
        // Taken under the engine lock with a batch that empties the outbox, the state includes
        // exactly the events written with it. Held back (and due) when one was saved just now.
        let state = (batch.drains && snapshot_allowed).then(|| core.engine.snapshot());
        if batch.drains {
            outbox.snapshot_due = !snapshot_allowed;
        }
        (batch, state)
    };
    if let Some(queued) = batch.oldest_queued {
        inner.metrics.queue_wait_seconds.observe(queued.elapsed().as_secs_f64());
    }
    let started = std::time::Instant::now();
    let written = inner
        .store
        .write_alert_events(&batch.events, state.as_ref(), *last_event_id)
        .await;
    inner.metrics.write_seconds.observe(started.elapsed().as_secs_f64());
    tracing::debug!(
        events = batch.events.len(),
        waited_ms = batch.oldest_queued.map(|q| (started - q).as_millis()),
        write_ms = started.elapsed().as_millis(),
        snapshot = state.is_some(),
        ok = written.is_ok(),
        "alert event write"
    );
    let ids = match written {
        Ok(ids) => ids,
        Err(e) => {
            if state.is_some() {
                inner.outbox().snapshot_due = true;
            }
            return Err(e);
        }
    };
    {
        let mut outbox = inner.outbox();
        outbox.written(batch.upto_seq);
        inner.metrics.queue_depth.set(outbox.len() as i64);
    }
    if let Some(&last) = ids.last() {
        *last_event_id = last;
    }
    let now = chrono::Utc::now();
    for (&id, event) in ids.iter().zip(&batch.events) {
        let delay = (now - event.at).to_std().unwrap_or_default();
        inner.metrics.event_delay_seconds.observe(delay.as_secs_f64());
        inner
            .metrics
            .events
            .get_or_create(&StateLabel {
                state: event.state.as_str(),
            })
            .inc();
        inner.notifier.publish(event);
        inner.hub.publish_alert(id, event);
    }
    inner.done_seq.send_replace(batch.upto_seq);
    Ok(Written {
        more: !batch.drains,
        snapshot: state.is_some(),
    })
}

fn retry_delay(failures: u32) -> Duration {
    RETRY_FIRST
        .saturating_mul(1 << failures.saturating_sub(1).min(10))
        .min(RETRY_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_up_to_the_maximum() {
        assert_eq!(retry_delay(1), Duration::from_millis(500));
        assert_eq!(retry_delay(2), Duration::from_secs(1));
        assert_eq!(retry_delay(4), Duration::from_secs(4));
        assert_eq!(retry_delay(40), RETRY_MAX);
    }
}
