//! Which engine state is already stored: a hash of each machine part as last written, so that
//! a save writes only the parts that changed and deletes those that went away. At 2,000 hosts
//! with 10 containers each, a save then writes a few thousand small rows instead of one
//! document of tens of MB.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use crate::alerts::{EngineState, MachineKind, MachinePart};
use crate::store::StateChange;

type PartKey = (MachineKind, String);

/// The hashes of the stored machine parts.
#[derive(Debug, Default)]
pub struct SavedParts {
    hashes: HashMap<PartKey, u64>,
}

/// What a [`StateChange`] will make stored, to [remember](SavedParts::stored) once it is.
#[derive(Debug, Default)]
pub struct Written {
    upserted: Vec<(PartKey, u64)>,
    deleted: Vec<PartKey>,
}

fn hash(json: &str) -> u64 {
    let mut h = DefaultHasher::new();
    json.hash(&mut h);
    h.finish()
}

impl SavedParts {
    /// What storage holds now (the parts loaded at start).
    pub fn from_stored(parts: &[MachinePart]) -> Self {
        SavedParts {
            hashes: parts.iter().map(|p| ((p.kind, p.id.clone()), hash(&p.json))).collect(),
        }
    }

    /// The change from what is stored to `state`.
    pub fn change(&self, state: &EngineState) -> (StateChange, Written) {
        let (header, parts) = state.to_parts();
        let mut change = StateChange {
            header,
            ..StateChange::default()
        };
        let mut written = Written::default();
        let present: HashSet<(MachineKind, &str)> = parts.iter().map(|p| (p.kind, p.id.as_str())).collect();
        for key in self.hashes.keys() {
            if !present.contains(&(key.0, key.1.as_str())) {
                change.deletes.push(key.clone());
                written.deleted.push(key.clone());
            }
        }
        for part in parts {
            let h = hash(&part.json);
            let key = (part.kind, part.id.clone());
            if self.hashes.get(&key) != Some(&h) {
                written.upserted.push((key, h));
                change.upserts.push(part);
            }
        }
        (change, written)
    }

    /// Remembers a change as stored.
    pub fn stored(&mut self, written: Written) {
        for key in written.deleted {
            self.hashes.remove(&key);
        }
        self.hashes.extend(written.upserted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{Engine, Rule, RuleSet};
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

    #[test]
    fn only_changed_parts_are_written_and_gone_ones_deleted() {
        let rule: Rule = serde_json::from_value(serde_json::json!({"id": 1, "metric": "host.cpu_percent",
            "direction": "above", "raise": 90, "clear": 80, "severity": "warning", "scope": {"kind": "all_hosts"}}))
        .unwrap();
        let rules = RuleSet::new(vec![rule]).unwrap();
        let now = chrono::Utc::now();
        let mut engine = Engine::default();
        engine.observe(&rules, &record("a", 0, 10.0), now);
        engine.observe(&rules, &record("b", 0, 10.0), now);
        let mut saved = SavedParts::default();

        let (change, written) = saved.change(&engine.snapshot());
        assert_eq!(change.upserts.len(), 2, "first save: every part");
        assert!(change.deletes.is_empty());
        saved.stored(written);

        let (change, _) = saved.change(&engine.snapshot());
        assert!(
            change.upserts.is_empty() && change.deletes.is_empty(),
            "nothing changed"
        );

        engine.observe(&rules, &record("b", 1000, 95.0), now);
        let (change, written) = saved.change(&engine.snapshot());
        let ids: Vec<&str> = change.upserts.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["b"], "only the host that changed");
        // Not stored (the write failed): the next change still carries it.
        let (again, _) = saved.change(&engine.snapshot());
        assert_eq!(again.upserts.len(), 1);
        saved.stored(written);

        let mut state = engine.snapshot();
        state.hosts.remove("a");
        let (change, written) = saved.change(&state);
        assert_eq!(change.deletes, [(MachineKind::Host, "a".to_owned())]);
        saved.stored(written);
        assert!(saved.change(&state).0.deletes.is_empty());
        assert_eq!(
            SavedParts::from_stored(&state.to_parts().1).hashes,
            saved.hashes,
            "what a restart loads is what was written"
        );
    }
}
