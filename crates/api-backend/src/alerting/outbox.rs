//! The events produced but not yet stored, in production order, each with a sequence number.
//! Bounded: when full, a new event is dropped (and counted by the caller) rather than growing
//! without limit while MySQL is down. Pure data structure, no I/O.

use std::collections::VecDeque;
use std::time::Instant;

use crate::alerts::AlertEvent;

/// Pending events plus whether the engine state should be saved even without events.
#[derive(Debug)]
pub struct Outbox {
    queue: VecDeque<(u64, Instant, AlertEvent)>,
    /// The sequence number the next event gets (starts at 1).
    next_seq: u64,
    capacity: usize,
    /// Save the engine state at the next write even when there are no events.
    pub snapshot_due: bool,
}

/// A batch taken for writing: the events (oldest first) and the sequence number of the last.
#[derive(Debug)]
pub struct Batch {
    pub events: Vec<AlertEvent>,
    pub upto_seq: u64,
    /// When the oldest event of the batch was queued.
    pub oldest_queued: Option<Instant>,
    /// Whether the batch empties the queue (so a state snapshot taken with it is consistent).
    pub drains: bool,
}

impl Outbox {
    pub fn new(capacity: usize) -> Self {
        Outbox {
            queue: VecDeque::new(),
            next_seq: 1,
            capacity: capacity.max(1),
            snapshot_due: false,
        }
    }

    /// Appends events in order; returns how many did not fit and were dropped.
    pub fn push(&mut self, events: Vec<AlertEvent>) -> usize {
        let mut dropped = 0;
        let now = Instant::now();
        for event in events {
            if self.queue.len() >= self.capacity {
                dropped += 1;
                continue;
            }
            self.queue.push_back((self.next_seq, now, event));
            self.next_seq += 1;
        }
        dropped
    }

    /// The sequence number of the newest event pushed (0: none yet).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Copies up to `max` of the oldest events for writing; they stay queued until
    /// [`Outbox::written`] confirms them.
    pub fn take(&self, max: usize) -> Batch {
        let events: Vec<AlertEvent> = self.queue.iter().take(max).map(|(_, _, e)| e.clone()).collect();
        let upto_seq = match events.len() {
            0 => self.last_seq(),
            n => self.queue[n - 1].0,
        };
        let oldest_queued = self.queue.front().map(|(_, at, _)| *at);
        Batch {
            drains: events.len() == self.queue.len(),
            events,
            upto_seq,
            oldest_queued,
        }
    }

    /// Forgets the events up to `upto_seq` (they are stored).
    pub fn written(&mut self, upto_seq: u64) {
        while self.queue.front().is_some_and(|(seq, _, _)| *seq <= upto_seq) {
            self.queue.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{AlertKey, AlertKind, AlertState, MachineKind, Severity};

    fn event(machine: &str) -> AlertEvent {
        let at = common::timefmt::parse("2026-01-01T00:00:00Z").unwrap();
        AlertEvent {
            alert_id: "a".into(),
            key: AlertKey::builtin(AlertKind::Stale, machine),
            machine_kind: MachineKind::Host,
            machine_name: machine.into(),
            host_id: None,
            state: AlertState::Firing,
            severity: Severity::Critical,
            metric: None,
            direction: None,
            threshold: None,
            value: None,
            exit_code: None,
            previous_container_id: None,
            at,
            since: at,
            firing_since: None,
            cause: None,
        }
    }

    fn machines(b: &Batch) -> Vec<&str> {
        b.events.iter().map(|e| e.key.machine_id.as_str()).collect()
    }

    #[test]
    fn batches_keep_order_and_stay_until_written() {
        let mut o = Outbox::new(10);
        assert_eq!(o.push(vec![event("a"), event("b"), event("c")]), 0);
        let b = o.take(2);
        assert_eq!(machines(&b), ["a", "b"]);
        assert_eq!((b.upto_seq, b.drains), (2, false));
        // not confirmed: taken again
        assert_eq!(machines(&o.take(2)), ["a", "b"]);
        o.written(b.upto_seq);
        o.push(vec![event("d")]);
        let b = o.take(10);
        assert_eq!(machines(&b), ["c", "d"]);
        assert_eq!((b.upto_seq, b.drains), (4, true));
        o.written(b.upto_seq);
        assert!(o.is_empty());
        assert_eq!(o.last_seq(), 4);
    }

    #[test]
    fn a_full_outbox_drops_new_events_and_says_how_many() {
        let mut o = Outbox::new(2);
        assert_eq!(o.push(vec![event("a"), event("b"), event("c")]), 1);
        assert_eq!(machines(&o.take(10)), ["a", "b"]);
        assert_eq!(o.last_seq(), 2, "a dropped event gets no sequence number");
    }
}
