//! The newest stored record of every host, kept in memory by the ingest service: what
//! `GET /metrics/machines` exposes. A host whose newest sample is older than its staleness
//! window (`status::stale_after`) is stale; one silent for [`FORGET_AFTER`] is forgotten.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, TimeDelta, Utc};
use common::wire::Record;

use crate::status;

/// A host silent this long is dropped from memory (it comes back with its next record).
pub const FORGET_AFTER: TimeDelta = TimeDelta::hours(1);

/// The newest record per host id; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Latest(Arc<RwLock<HashMap<String, Arc<Record>>>>);

impl Latest {
    /// Keeps each host's newest record among `records` and those known.
    pub fn observe(&self, records: &[Record]) {
        if records.is_empty() {
            return;
        }
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        for r in records {
            let newer = map.get(&r.host_id).is_none_or(|known| known.sampled_at < r.sampled_at);
            if newer {
                map.insert(r.host_id.clone(), Arc::new(r.clone()));
            }
        }
    }

    /// Every host heard from within [`FORGET_AFTER`] with its newest record and whether it is
    /// stale at `now`, by host id; forgets the others.
    pub fn known(&self, now: DateTime<Utc>) -> Vec<Known> {
        let (mut out, forget) = {
            let map = self.0.read().unwrap_or_else(|e| e.into_inner());
            let out: Vec<Known> = map
                .values()
                .filter(|r| now - r.sampled_at <= FORGET_AFTER)
                .map(|r| Known {
                    record: r.clone(),
                    stale: is_stale(r, now),
                })
                .collect();
            let forget = out.len() < map.len();
            (out, forget)
        };
        if forget {
            let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
            map.retain(|_, r| now - r.sampled_at <= FORGET_AFTER);
        }
        out.sort_by(|a, b| a.record.host_id.cmp(&b.record.host_id));
        out
    }
}

/// A host's newest record, and whether the host is stale.
#[derive(Debug, Clone)]
pub struct Known {
    pub record: Arc<Record>,
    pub stale: bool,
}

fn is_stale(r: &Record, now: DateTime<Utc>) -> bool {
    let interval = u32::try_from(r.interval_ms).ok();
    now - r.sampled_at > status::stale_after(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(host: &str, at: DateTime<Utc>, cpu: f64) -> Record {
        let mut r: Record = serde_json::from_value(serde_json::json!({
            "schema": 1, "record_id": format!("{host}-{at}"), "host_id": host, "host_name": host,
            "sampled_at": common::timefmt::format(&at), "interval_ms": 1000, "host": {}
        }))
        .unwrap();
        r.host.cpu_percent = Some(cpu);
        r
    }

    #[test]
    fn the_newest_record_of_each_fresh_host_is_kept() {
        let now = Utc::now();
        let latest = Latest::default();
        latest.observe(&[record("b", now, 2.0), record("a", now - TimeDelta::seconds(1), 1.0)]);
        // an older record arriving late changes nothing
        latest.observe(&[record("b", now - TimeDelta::seconds(2), 9.0)]);
        let known = latest.known(now);
        let seen: Vec<(&str, Option<f64>, bool)> = known
            .iter()
            .map(|k| (k.record.host_id.as_str(), k.record.host.cpu_percent, k.stale))
            .collect();
        assert_eq!(seen, [("a", Some(1.0), false), ("b", Some(2.0), false)]);
    }

    #[test]
    fn a_stale_host_is_marked_and_a_long_silent_one_forgotten() {
        let now = Utc::now();
        let latest = Latest::default();
        latest.observe(&[
            record("stale", now - TimeDelta::seconds(10), 1.0),
            record("gone", now - TimeDelta::hours(2), 1.0),
            record("up", now, 1.0),
        ]);
        let known: Vec<(String, bool)> = latest
            .known(now)
            .into_iter()
            .map(|k| (k.record.host_id.clone(), k.stale))
            .collect();
        assert_eq!(known, [("stale".to_owned(), true), ("up".to_owned(), false)]);
        assert_eq!(latest.0.read().unwrap().len(), 2, "the silent one is forgotten");
    }
}
