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

/// Runs until [`Alerting::close`](super::Alerting::close) and the last write.
pub(super) async fn run(inner: Arc<Inner>, mut last_event_id: u64) {
    let mut closing = inner.closing.subscribe();
    let mut failures = 0u32;
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
        match write_pending(&inner, &mut last_event_id).await {
            Ok(more) => {
                if failures > 0 {
                    tracing::info!(failures, "alert events are being stored again");
                }
                failures = 0;
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

/// One transaction; `Ok(true)` when more events are waiting.
async fn write_pending(inner: &Inner, last_event_id: &mut u64) -> Result<bool> {
    let (batch, state) = {
        let core = inner.core();
        let mut outbox = inner.outbox();
        let batch = outbox.take(MAX_BATCH);
        if batch.events.is_empty() && !outbox.snapshot_due {
            return Ok(false);
        }
        // Taken under the engine lock with a batch that empties the outbox, the state includes
        // exactly the events written with it.
        let state = batch.drains.then(|| core.engine.snapshot());
        if batch.drains {
            outbox.snapshot_due = false;
        }
        (batch, state)
    };
    let ids = match inner
        .store
        .write_alert_events(&batch.events, state.as_ref(), *last_event_id)
        .await
    {
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
    for (&id, event) in ids.iter().zip(&batch.events) {
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
