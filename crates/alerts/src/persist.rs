//! The persistence API: the [`StateChange`] that brings storage up to date with the engine
//! state, and which state is already stored.
//!
//! Which engine state is already stored, so that a save writes only the machine parts that
//! changed and deletes those that went away. "Changed" means a [signature] change: a new or
//! ended alert, a state or severity change, a host's name, interval or containers. The parts
//! whose only changes are the last sample time and the open alerts' latest values are
//! rewritten at most every [`REFRESH_AFTER`] (plus a per-machine spread), so a fleet where
//! every host reports every second does not rewrite every row every second.
//!
//! [signature]: crate::state::HostState::signature

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use crate::state::json;
use crate::{EngineState, MachineKind, MachinePart};

/// A change of the saved engine state: the header, and the machine parts that changed or went
/// away since the last save (all of them the first time).
#[derive(Debug, Clone, Default)]
pub struct StateChange {
    pub header: String,
    pub upserts: Vec<MachinePart>,
    pub deletes: Vec<(MachineKind, String)>,
}

/// How old a stored part may get when only its volatile fields changed.
pub const REFRESH_AFTER: Duration = Duration::from_secs(60);

type PartKey = (MachineKind, String);

/// What is known of one stored part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stored {
    /// `None`: loaded at start; rewritten at the first save.
    signature: Option<u64>,
    written_at: Instant,
}

/// The stored machine parts.
#[derive(Debug, Default)]
pub struct SavedParts {
    parts: HashMap<PartKey, Stored>,
}

/// What a [`StateChange`] will make stored, to [remember](SavedParts::stored) once it is.
#[derive(Debug, Default)]
pub struct Written {
    upserted: Vec<(PartKey, Stored)>,
    deleted: Vec<PartKey>,
}

/// A per-machine delay of 0–59 s on top of [`REFRESH_AFTER`], so refreshes spread out.
fn spread(key: &(MachineKind, &str)) -> Duration {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    Duration::from_secs(h.finish() % 60)
}

impl SavedParts {
    /// What storage holds now (the parts loaded at start).
    pub fn from_stored(parts: &[MachinePart], now: Instant) -> Self {
        let stored = Stored {
            signature: None,
            written_at: now,
        };
        SavedParts {
            parts: parts.iter().map(|p| ((p.kind, p.id.clone()), stored)).collect(),
        }
    }

    /// The change from what is stored to `state`, at `now`; with `everything`, every part is
    /// written (the last save before a shutdown: the latest values and sample times too).
    pub fn change(&self, state: &EngineState, now: Instant, everything: bool) -> (StateChange, Written) {
        let mut change = StateChange {
            header: state.header_json(),
            ..StateChange::default()
        };
        let mut written = Written::default();
        let mut consider = |kind: MachineKind, id: &String, signature: u64, to_json: &dyn Fn() -> String| {
            let key = (kind, id.as_str());
            let due = match self.parts.get(&(kind, id.clone())) {
                _ if everything => true,
                None => true,
                Some(s) => {
                    s.signature != Some(signature) || now.duration_since(s.written_at) >= REFRESH_AFTER + spread(&key)
                }
            };
            if due {
                change.upserts.push(MachinePart {
                    kind,
                    id: id.clone(),
                    json: to_json(),
                });
                let stored = Stored {
                    signature: Some(signature),
                    written_at: now,
                };
                written.upserted.push(((kind, id.clone()), stored));
            }
        };
        for (id, h) in &state.hosts {
            consider(MachineKind::Host, id, h.signature(), &|| json(h));
        }
        for (id, c) in &state.containers {
            consider(MachineKind::Container, id, c.signature(), &|| json(c));
        }
        let present: HashSet<(MachineKind, &str)> = state
            .hosts
            .keys()
            .map(|id| (MachineKind::Host, id.as_str()))
            .chain(state.containers.keys().map(|id| (MachineKind::Container, id.as_str())))
            .collect();
        for key in self.parts.keys() {
            if !present.contains(&(key.0, key.1.as_str())) {
                change.deletes.push(key.clone());
                written.deleted.push(key.clone());
            }
        }
        (change, written)
    }

    /// The whole state as storage holds it after a save of everything: the header and every
    /// machine part (tests: the format a restart loads).
    #[cfg(test)]
    pub fn all_parts(state: &EngineState) -> (String, Vec<MachinePart>) {
        let (change, _) = SavedParts::default().change(state, Instant::now(), true);
        (change.header, change.upserts)
    }

    /// Remembers a change as stored.
    pub fn stored(&mut self, written: Written) {
        for key in written.deleted {
            self.parts.remove(&key);
        }
        self.parts.extend(written.upserted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, Rule, RuleSet};
    use common::wire::Record;

    fn record(host: &str, ms: i64, cpu: f64) -> Record {
        let at = chrono::DateTime::from_timestamp_millis(1_767_225_600_000 + ms).unwrap();
        serde_json::from_value(serde_json::json!({
            "schema": 1, "record_id": format!("{host}-{ms}"), "host_id": host, "host_name": host,
            "sampled_at": common::timefmt::format(&at), "interval_ms": 1000,
            "host": {"cpu_percent": cpu}
        }))
        .unwrap()
    }

    fn ids(change: &StateChange) -> Vec<&str> {
        let mut ids: Vec<&str> = change.upserts.iter().map(|p| p.id.as_str()).collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn only_changed_parts_are_written_volatile_ones_refreshed_and_gone_ones_deleted() {
        let rule: Rule = serde_json::from_value(serde_json::json!({"id": 1, "metric": "host.cpu_percent",
            "direction": "above", "raise": 90, "clear": 80, "severity": "warning", "scope": {"kind": "all_hosts"}}))
        .unwrap();
        let rules = RuleSet::new(vec![rule]).unwrap();
        let now = chrono::Utc::now();
        let t0 = Instant::now();
        let mut engine = Engine::default();
        engine.observe(&rules, &record("a", 0, 10.0), now);
        engine.observe(&rules, &record("b", 0, 95.0), now);
        let mut saved = SavedParts::default();

        let (change, written) = saved.change(&engine.snapshot(), t0, false);
        assert_eq!(ids(&change), ["a", "b"], "first save: every part");
        assert!(change.deletes.is_empty());
        saved.stored(written);

        // New samples, the open alert's value moves: nothing worth a write yet.
        engine.observe(&rules, &record("a", 1000, 20.0), now);
        engine.observe(&rules, &record("b", 1000, 97.0), now);
        let (change, _) = saved.change(&engine.snapshot(), t0 + Duration::from_secs(1), false);
        assert!(change.upserts.is_empty() && change.deletes.is_empty(), "{change:?}");

        // b's alert resolves: b is written; not stored (a failed write): the next change still has it.
        engine.observe(&rules, &record("b", 2000, 50.0), now);
        let (change, written) = saved.change(&engine.snapshot(), t0 + Duration::from_secs(2), false);
        assert_eq!(ids(&change), ["b"]);
        assert_eq!(
            ids(&saved.change(&engine.snapshot(), t0 + Duration::from_secs(2), false).0),
            ["b"]
        );
        saved.stored(written);

        // Volatile fields are refreshed within REFRESH_AFTER + 60 s.
        let later = t0 + REFRESH_AFTER + Duration::from_secs(60);
        let (change, written) = saved.change(&engine.snapshot(), later, false);
        assert_eq!(ids(&change), ["a", "b"]);
        saved.stored(written);

        let mut state = engine.snapshot();
        state.hosts.remove("a");
        let (change, written) = saved.change(&state, later, false);
        assert_eq!(change.deletes, [(MachineKind::Host, "a".to_owned())]);
        saved.stored(written);
        assert!(saved.change(&state, later, false).0.deletes.is_empty());
        assert_eq!(
            ids(&saved.change(&state, later, true).0),
            ["b"],
            "everything, at shutdown"
        );

        // After a restart every loaded part is rewritten once.
        let loaded = SavedParts::from_stored(&saved.change(&state, later, true).0.upserts, later);
        assert_eq!(ids(&loaded.change(&state, later, false).0), ["b"]);
    }
}
