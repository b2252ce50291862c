//! The one ingest service, behind both `POST /api/v1/ingest` and the compat `POST
//! /api/metrics`: parsed records are checked (rejections keep their index), de-duplicated inside
//! the batch, shown to the alert engine (before storage: alerts wait neither for the transaction
//! nor for MySQL), stored in one transaction, and the records stored now are published to the
//! live streams (so they show new data only) and kept as their host's newest ([`crate::latest`]).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use common::validate::ValidationError;
use common::wire::Record;
use serde::Serialize;

use crate::alerting::Alerting;
use crate::error::{Error, Result};
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::store::Store;

/// How long an ingest answer waits for the alert events of its records to be stored.
pub const EVENTS_STORED_WAIT: Duration = Duration::from_secs(5);

/// Everything a batch passes through; cheap to clone.
#[derive(Clone)]
pub struct Ingest {
    pub store: Store,
    pub metrics: Metrics,
    pub alerting: Alerting,
    pub hub: Hub,
    /// The newest record of every host (for `/metrics/machines`).
    pub latest: crate::latest::Latest,
    /// RETENTION_RAW: an older record is refused (its sample could not be checked for
    /// duplicates, and retention would drop it at once), as is one older than the days the disk
    /// budget left (`Store::raw_floor`).
    pub raw_retention: Duration,
    /// MAX_CLOCK_SKEW: a record (or one of its Docker events) stamped further ahead of this
    /// backend's clock is refused. The engine evaluates a host's records in sample-time order
    /// and ignores one not newer than the last, so a single record from a clock a day ahead
    /// would otherwise blind alerting for that host for a day.
    pub max_clock_skew: Duration,
}

impl Ingest {
    /// Validates, de-duplicates, alerts on, stores and publishes one batch.
    pub async fn batch(&self, parsed: Vec<Result<Record, ValidationError>>) -> Result<Report> {
        let now = Utc::now();
        let retained = now - TimeDelta::from_std(self.raw_retention).unwrap_or(TimeDelta::MAX);
        let window = Window {
            now,
            oldest: self.store.raw_floor().map_or(retained, |floor| floor.max(retained)),
            skew: self.max_clock_skew,
        };
        let parsed = parsed
            .into_iter()
            .map(|p| {
                p.and_then(|r| {
                    window.check(r).map_err(|(reason, e)| {
                        self.metrics.refused(reason);
                        e
                    })
                })
            })
            .collect();
        let _storing = self.alerting.storing();
        let mut events_upto = 0;
        let report = ingest(&self.store, &self.metrics, parsed, |r| {
            events_upto = self.alerting.observe(r);
        })
        .await
        .inspect_err(|e| {
            if matches!(e, Error::Unavailable(_)) {
                self.alerting.storage_unavailable();
            }
        })?;
        // acknowledged records are not delivered again: their alert events (and every earlier
        // one) must be stored before the answer, or a crash right after it would lose them
        if tokio::time::timeout(EVENTS_STORED_WAIT, self.alerting.events_stored(events_upto))
            .await
            .is_err()
        {
            self.metrics.ingest_unavailable.inc();
            return Err(Error::EventsUnstored(EVENTS_STORED_WAIT));
        }
        report.stored.iter().for_each(|r| self.hub.publish_record(r));
        self.latest.observe(&report.stored);
        Ok(report)
    }
}

/// The sample times ingest takes: from the oldest the raw tier keeps to `skew` ahead of `now`.
struct Window {
    now: DateTime<Utc>,
    oldest: DateTime<Utc>,
    skew: Duration,
}

impl Window {
    /// The record, or why it is refused: the metric reason and the rejection.
    fn check(&self, r: Record) -> Result<Record, (&'static str, ValidationError)> {
        if r.sampled_at < self.oldest {
            return Err(("too_old", ValidationError(format!(
                "sampled_at: {} is older than the raw tier keeps (RETENTION_RAW, or the days STORAGE_MAX_BYTES left), so it is not stored",
                common::timefmt::format(&r.sampled_at)
            ))));
        }
        let newest = self.now + TimeDelta::from_std(self.skew).unwrap_or(TimeDelta::MAX);
        let ahead = |field: &str, t: DateTime<Utc>| {
            (
                "clock_ahead",
                ValidationError(format!(
                "{field}: {} is {} s ahead of the backend's clock (MAX_CLOCK_SKEW is {} s): is the host's clock right?",
                common::timefmt::format(&t),
                (t - self.now).num_seconds(),
                self.skew.as_secs()
            )),
            )
        };
        if r.sampled_at > newest {
            return Err(ahead("sampled_at", r.sampled_at));
        }
        if let Some((i, e)) = r.events.iter().enumerate().find(|(_, e)| e.at > newest) {
            return Err(ahead(&format!("events[{i}].at"), e.at));
        }
        Ok(r)
    }
}

/// A record refused as invalid, by its position in the batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
/// the last one of its host, so redelivered records change nothing).
async fn ingest(
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
        let written = store.store_batch(&unique).await.inspect_err(|e| {
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
        let values: usize = report.stored.iter().map(Record::numeric_values).sum();
        metrics.ingest_values.inc_by(values as u64);
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
