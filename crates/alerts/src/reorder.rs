//! Puts each host's records back in sample-time order before the engine sees them, whatever
//! order concurrent batches arrive in. The engine ignores a record not newer than its host's
//! last one (that is what makes redelivery harmless), so with two batches in flight, batch N+1
//! evaluated before batch N would lose N's samples and Docker events.
//!
//! A record that follows its host's last one within [`GAP_FACTOR`] intervals goes through at
//! once (the common case, no delay). One that leaves a gap is held until the records of the gap
//! arrive, or at most the grace: then the gap is taken as real (a collector restart, a lost
//! record) and the held records go through in order. Pure: the caller passes `now`.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use common::wire::Record;

/// A record this many of its host's intervals after the last one (or closer) follows it; one
/// further away leaves a gap (one missing 1 s record makes it 2 s).
pub const GAP_FACTOR: f64 = 1.9;
/// Records held at most, all hosts together; beyond, records go through unordered (counted by
/// the caller as `unordered`) rather than grow without bound.
pub const MAX_HELD: usize = 20_000;

/// The records held back, by host.
#[derive(Debug, Default)]
pub struct Reorder {
    grace: TimeDelta,
    held: HashMap<String, Vec<Held>>,
    count: usize,
}

#[derive(Debug)]
struct Held {
    record: Record,
    until: DateTime<Utc>,
}

/// What [`Reorder::admit`] and [`Reorder::due`] hand on, in evaluation order.
#[derive(Debug, Default)]
pub struct Released<'a> {
    pub records: Vec<Cow<'a, Record>>,
    /// Records held back now.
    pub held: usize,
    /// Records let through out of order because [`MAX_HELD`] were held.
    pub unordered: usize,
}

impl Reorder {
    /// Holds a record that leaves a gap at most `grace`.
    pub fn new(grace: std::time::Duration) -> Self {
        Reorder {
            grace: TimeDelta::from_std(grace).unwrap_or(TimeDelta::MAX),
            ..Reorder::default()
        }
    }

    /// Records held now, all hosts together.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Takes a batch (any order) and returns what to evaluate now, in order: per host, the
    /// records that follow its last evaluated one (`last(host)`, none for a host never seen)
    /// and the held ones they close the gap to. Records not newer than the last one go through
    /// (the engine ignores them).
    pub fn admit<'a>(
        &mut self,
        records: &'a [Record],
        last: impl Fn(&str) -> Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Released<'a> {
        let mut ordered: Vec<&Record> = records.iter().collect();
        ordered.sort_by_key(|r| r.sampled_at);
        let mut out = Released::default();
        // per host, the newest sample time handed on in this call
        let mut cursor: HashMap<&str, Option<DateTime<Utc>>> = HashMap::new();
        for r in ordered {
            let at = cursor.entry(&r.host_id).or_insert_with(|| last(&r.host_id));
            let follows = match *at {
                None => true,
                Some(prev) => r.sampled_at <= prev + interval_span(r.interval_ms),
            };
            if follows || self.count >= MAX_HELD {
                if !follows {
                    out.unordered += 1;
                }
                if at.is_none_or(|prev| r.sampled_at > prev) {
                    *at = Some(r.sampled_at);
                }
                out.records.push(Cow::Borrowed(r));
                self.release_following(&r.host_id, at, &mut out.records);
            } else {
                self.hold(r.clone(), now + self.grace);
                out.held += 1;
            }
        }
        out
    }

    /// The held records whose grace ended by `now`, in order per host (with every later record
    /// of the same host: the gap before them is taken as real).
    pub fn due(&mut self, now: DateTime<Utc>) -> Released<'static> {
        let mut out = Released::default();
        let mut hosts: Vec<&String> = self
            .held
            .iter()
            .filter(|(_, list)| list.iter().any(|h| h.until <= now))
            .map(|(host, _)| host)
            .collect();
        hosts.sort();
        let hosts: Vec<String> = hosts.into_iter().cloned().collect();
        for host in hosts {
            let held = self.held.remove(&host).unwrap_or_default();
            self.count -= held.len();
            out.records.extend(held.into_iter().map(|h| Cow::Owned(h.record)));
        }
        out
    }

    fn hold(&mut self, record: Record, until: DateTime<Utc>) {
        let list = self.held.entry(record.host_id.clone()).or_default();
        let at = list.partition_point(|h| h.record.sampled_at <= record.sampled_at);
        list.insert(at, Held { record, until });
        self.count += 1;
    }

    /// Moves the held records of `host` that now follow `at` (one after the other) to `out`.
    fn release_following(&mut self, host: &str, at: &mut Option<DateTime<Utc>>, out: &mut Vec<Cow<'_, Record>>) {
        let Some(list) = self.held.get_mut(host) else {
            return;
        };
        let mut n = 0;
        for h in list.iter() {
            let prev = at.expect("set by the caller");
            if h.record.sampled_at > prev + interval_span(h.record.interval_ms) {
                break;
            }
            if h.record.sampled_at > prev {
                *at = Some(h.record.sampled_at);
            }
            n += 1;
        }
        if n == 0 {
            return;
        }
        out.extend(list.drain(..n).map(|h| Cow::Owned(h.record)));
        self.count -= n;
        if list.is_empty() {
            self.held.remove(host);
        }
    }
}

/// How far after the last record the next one may be and still follow it.
fn interval_span(interval_ms: u64) -> TimeDelta {
    TimeDelta::milliseconds((interval_ms as f64 * GAP_FACTOR) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::support::{record, t};

    fn ids(r: &Released<'_>) -> Vec<String> {
        r.records.iter().map(|r| r.record_id.clone()).collect()
    }

    const GRACE: std::time::Duration = std::time::Duration::from_secs(1);

    #[test]
    fn a_record_that_follows_goes_through_at_once() {
        let mut q = Reorder::new(GRACE);
        let batch = [record("h1", 1000), record("h2", 1000)];
        let out = q.admit(&batch, |_| Some(t(0)), t(1500));
        assert_eq!(ids(&out), ["h1-1000", "h2-1000"]);
        assert!(q.is_empty());
        // a host never seen, and a record far from the last one of a host not in the engine
        let far = [record("h3", 90_000)];
        let out = q.admit(&far, |_| None, t(90_000));
        assert_eq!(ids(&out), ["h3-90000"]);
    }

    #[test]
    fn batch_n_plus_one_before_batch_n_is_put_back_in_order() {
        let mut q = Reorder::new(GRACE);
        let n = [record("h1", 1000), record("h2", 1000)];
        let n1 = [record("h1", 2000), record("h2", 2000)];
        let out = q.admit(&n1, |_| Some(t(0)), t(2100));
        assert!(out.records.is_empty());
        assert_eq!((out.held, q.len()), (2, 2));
        let out = q.admit(&n, |_| Some(t(0)), t(2150));
        assert_eq!(ids(&out), ["h1-1000", "h1-2000", "h2-1000", "h2-2000"]);
        assert!(q.is_empty());
    }

    #[test]
    fn the_engine_sees_the_docker_event_of_a_batch_that_came_second() {
        use crate::tests::support::{event, rules, states};
        use crate::{AlertKind, AlertState, Engine};
        let (mut engine, rules) = (Engine::default(), rules(vec![]));
        let mut q = Reorder::new(GRACE);
        let evaluate = |engine: &mut Engine, released: Released<'_>| {
            let mut out = Vec::new();
            for r in released.records {
                out.extend(engine.observe(&rules, &r, t(0)));
            }
            out
        };
        let first = [record("h1", 0)];
        let released = q.admit(&first, |h| engine.last_sampled(h), t(0));
        assert!(evaluate(&mut engine, released).is_empty());
        let mut n = record("h1", 1000);
        n.events
            .push(event(common::wire::EventKind::ContainerDied, "c1", "web", Some(1), 900));
        let (n, n1) = ([n], [record("h1", 2000)]);
        let released = q.admit(&n1, |h| engine.last_sampled(h), t(2050));
        assert!(evaluate(&mut engine, released).is_empty(), "held");
        let released = q.admit(&n, |h| engine.last_sampled(h), t(2100));
        let events = evaluate(&mut engine, released);
        assert_eq!(states(&events), [(AlertKind::ContainerDied, AlertState::Firing)]);
        assert_eq!(engine.last_sampled("h1"), Some(t(2000)));
    }

    #[test]
    fn a_real_gap_ends_with_the_grace() {
        let mut q = Reorder::new(GRACE);
        let after_gap = [record("h1", 5000), record("h1", 6000)];
        let out = q.admit(&after_gap, |_| Some(t(0)), t(5100));
        assert!(out.records.is_empty());
        assert!(q.due(t(6000)).records.is_empty(), "within the grace");
        let out = q.due(t(6100));
        assert_eq!(ids(&out), ["h1-5000", "h1-6000"]);
        assert!(q.is_empty());
    }

    #[test]
    fn old_and_repeated_records_go_through_for_the_engine_to_ignore() {
        let mut q = Reorder::new(GRACE);
        let old = [record("h1", 1000)];
        let out = q.admit(&old, |_| Some(t(5000)), t(5000));
        assert_eq!(ids(&out), ["h1-1000"]);
    }

    #[test]
    fn the_held_records_are_bounded() {
        let mut q = Reorder::new(GRACE);
        let batch: Vec<Record> = (0..MAX_HELD + 5).map(|i| record(&format!("h{i}"), 9000)).collect();
        let out = q.admit(&batch, |_| Some(t(0)), t(9000));
        assert_eq!((out.held, out.unordered, out.records.len()), (MAX_HELD, 5, 5));
        assert_eq!(q.len(), MAX_HELD);
    }
}
