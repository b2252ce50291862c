//! Where records go: Kafka, or stdout (`--print`, for debugging).

use std::io::Write;
use std::time::Duration;

use common::shutdown::Shutdown;
use common::Record;

use crate::metrics::Metrics;
use crate::producer::{KafkaSink, OnFull, Sent};

/// The destination of records.
#[derive(Clone)]
pub enum Sink {
    Kafka(KafkaSink),
    /// One compact JSON record per line on stdout.
    Stdout(Metrics),
    /// Keeps records in memory (unit tests).
    #[cfg(test)]
    Memory(Metrics, std::sync::Arc<std::sync::Mutex<Vec<Record>>>),
}

impl Sink {
    /// Hands one record over; see [`OnFull`] for a full Kafka queue.
    pub async fn send(&self, record: &Record, on_full: OnFull, shutdown: &Shutdown) -> Sent {
        match self {
            Sink::Kafka(k) => k.send(record, on_full, shutdown).await,
            Sink::Stdout(metrics) => {
                let mut line = record.to_json();
                line.push(b'\n');
                let mut out = std::io::stdout().lock();
                if out.write_all(&line).and_then(|_| out.flush()).is_err() {
                    metrics.dropped("stdout_closed");
                    return Sent::Dropped;
                }
                metrics.records_produced.inc();
                metrics.records_delivered.inc();
                Sent::Queued
            }
            #[cfg(test)]
            Sink::Memory(metrics, records) => {
                records.lock().unwrap().push(record.clone());
                metrics.records_produced.inc();
                metrics.records_delivered.inc();
                Sent::Queued
            }
        }
    }

    /// Waits up to `bound` for queued records; returns how many are still undelivered.
    pub async fn flush(&self, bound: Duration) -> u64 {
        match self {
            Sink::Kafka(k) => k.flush(bound).await,
            _ => 0,
        }
    }

    /// Records delivered so far.
    pub fn delivered(&self) -> u64 {
        match self {
            Sink::Kafka(k) => k.delivered(),
            Sink::Stdout(m) => m.records_delivered.get(),
            #[cfg(test)]
            Sink::Memory(m, _) => m.records_delivered.get(),
        }
    }

    /// Refreshes the queue-depth gauge.
    pub fn update_queue_depth(&self) {
        if let Sink::Kafka(k) = self {
            k.update_queue_depth();
        }
    }
}
