//! The one writer of alert events: takes what the outbox holds (oldest first), stores it in one
//! transaction, then publishes the stored events in id order to the notifier and the live
//! streams. A failed write leaves the events queued and is retried with backoff. The engine
//! state is saved beside it ([`super::state_saver`]).

use std::sync::Arc;
use std::time::Duration;

use common::backoff::Backoff;

use super::metrics::StateLabel;
use super::Inner;
use crate::error::Result;

/// Events per transaction at most.
const MAX_BATCH: usize = 1000;
/// Retry delays after failed writes: doubling from the first up to the last, with jitter.
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// Attempts left once closing before the writer gives up.
const CLOSING_ATTEMPTS: u32 = 3;
/// Runs until [`Alerting::close`](super::Alerting::close) and the last write.
pub(super) async fn run(inner: Arc<Inner>) {
    let mut closing = inner.closing.subscribe();
    let mut failures = 0u32;
    let mut backoff = Backoff::new(RETRY_FIRST, RETRY_MAX);
    loop {
        let is_closing = *closing.borrow_and_update();
        if failures > 0 {
            let delay = if is_closing { RETRY_FIRST } else { backoff.next_delay() };
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = inner.hurry.notified() => {}
                _ = closing.changed(), if !is_closing => {}
            }
        } else if !is_closing {
            tokio::select! {
                () = inner.wake.notified() => {}
                _ = closing.changed() => {}
            }
        }
        let is_closing = *closing.borrow_and_update();
        match write_pending(&inner, failures > 0).await {
            Ok(more) => {
                if failures > 0 {
                    tracing::info!(failures, "alert events are being stored again");
                }
                failures = 0;
                backoff.reset();
                if more {
                    inner.wake.notify_one();
                } else if is_closing {
                    break;
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

/// One transaction; returns whether more events are waiting. After a failed write, the events
/// that write may have stored after all (its commit done, its answer lost) keep their ids.
async fn write_pending(inner: &Inner, after_failure: bool) -> Result<bool> {
    let batch = inner.outbox().take(MAX_BATCH);
    if batch.events.is_empty() {
        return Ok(false);
    }
    if let Some(queued) = batch.oldest_queued {
        inner.metrics.queue_wait_seconds.observe(queued.elapsed().as_secs_f64());
    }
    let started = std::time::Instant::now();
    let resume_after = after_failure.then(|| *inner.stored_event_id.borrow());
    let written = inner.store.write_alert_events(&batch.events, resume_after).await;
    inner.metrics.write_seconds.observe(started.elapsed().as_secs_f64());
    tracing::debug!(
        events = batch.events.len(),
        waited_ms = batch.oldest_queued.map(|q| (started - q).as_millis()),
        write_ms = started.elapsed().as_millis(),
        ok = written.is_ok(),
        "alert event write"
    );
    let ids = written?;
    {
        let mut outbox = inner.outbox();
        outbox.written(batch.upto_seq);
        inner.metrics.queue_depth.set(outbox.len() as i64);
    }
    if let Some(&last) = ids.last() {
        inner.stored_event_id.send_replace(last);
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
    Ok(!batch.drains)
}
