//! Ingest of a batch of records: validation one by one, de-duplication inside the batch, one
//! storage transaction for the rest, and the counts the caller answers with. The records stored
//! now are returned, so the live streams show new data only.

use std::collections::HashSet;
use std::time::Instant;

use chrono::Utc;
use common::validate::ValidationError;
use common::wire::Record;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::store::Store;

/// A record refused as invalid, by its position in the batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub index: usize,
    pub error: String,
}

/// The outcome of one batch.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Stored now.
    pub accepted: usize,
    /// Seen before (in storage or earlier in the same batch); nothing changed.
    pub duplicates: usize,
    pub rejected: Vec<Rejection>,
    /// The records stored now, in batch order.
    pub stored: Vec<Record>,
}

/// The JSON answer of `POST /api/v1/ingest`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary<'a> {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: &'a [Rejection],
}

impl Report {
    pub fn summary(&self) -> Summary<'_> {
        Summary {
            accepted: self.accepted,
            duplicates: self.duplicates,
            rejected: &self.rejected,
        }
    }
}

/// Splits parsed records into the distinct valid ones, the count of repeats inside the batch
/// (the first occurrence of a record id wins) and the rejections.
pub fn dedupe(parsed: Vec<Result<Record, ValidationError>>) -> (Vec<Record>, usize, Vec<Rejection>) {
    let mut seen = HashSet::new();
    let (mut unique, mut repeats, mut rejected) = (Vec::new(), 0, Vec::new());
    for (index, p) in parsed.into_iter().enumerate() {
        match p {
            Ok(r) if seen.insert(r.record_id.clone()) => unique.push(r),
            Ok(_) => repeats += 1,
            Err(e) => rejected.push(Rejection { index, error: e.0 }),
        }
    }
    (unique, repeats, rejected)
}

/// Stores the valid records of a batch. On a storage failure nothing is stored. `before_storing`
/// sees the valid, distinct records first (the alert engine: it ignores a record not newer than
/// the last one of its host, so redelivered records change nothing, and alerts do not wait for
/// the storage transaction, nor for MySQL at all while it is down).
pub async fn ingest(
    store: &Store,
    metrics: &Metrics,
    parsed: Vec<Result<Record, ValidationError>>,
    before_storing: impl FnOnce(&[Record]),
) -> Result<Report> {
    let started = Instant::now();
    metrics.ingest_batch_records.observe(parsed.len() as f64);
    let (unique, repeats, rejected) = dedupe(parsed);
    let arrived = Utc::now();
    for r in &unique {
        let delay = (arrived - r.sampled_at).to_std().unwrap_or_default();
        metrics.ingest_record_delay_seconds.observe(delay.as_secs_f64());
    }
    let mut report = Report {
        duplicates: repeats,
        rejected,
        ..Report::default()
    };
    before_storing(&unique);
    if !unique.is_empty() {
        let written = store.store_batch(&unique, Utc::now()).await.inspect_err(|e| {
            if matches!(e, Error::Unavailable(_)) {
                metrics.ingest_unavailable.inc();
            }
        })?;
        metrics.ingest_retries.inc_by(u64::from(written.retries));
        for (record, new) in unique.into_iter().zip(written.new) {
            if new {
                report.stored.push(record);
            } else {
                report.duplicates += 1;
            }
        }
        report.accepted = report.stored.len();
    }
    metrics.ingest_batches.inc();
    metrics.ingest_batch_seconds.observe(started.elapsed().as_secs_f64());
    metrics.records("accepted", report.accepted);
    metrics.records("duplicate", report.duplicates);
    metrics.records("rejected", report.rejected.len());
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(id: &str) -> serde_json::Value {
        json!({"schema": 1, "record_id": id, "host_id": "h", "host_name": "h",
               "sampled_at": "2026-01-01T00:00:00Z", "interval_ms": 1000, "host": {}})
    }

    #[test]
    fn rejections_keep_their_index_and_repeats_count_as_duplicates() {
        let now = common::timefmt::parse("2026-01-01T00:00:01Z").unwrap();
        let parsed = [record("a"), json!({"schema": 1}), record("b"), record("a"), json!(3)]
            .iter()
            .map(|v| common::validate::parse_record_json(&v.to_string(), now))
            .collect();
        let (unique, repeats, rejected) = dedupe(parsed);
        assert_eq!(
            unique.iter().map(|r| r.record_id.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(repeats, 1);
        assert_eq!(rejected.iter().map(|r| r.index).collect::<Vec<_>>(), [1, 4]);
        assert!(
            rejected[0].error.starts_with("not a v1 record"),
            "{}",
            rejected[0].error
        );
    }
}
