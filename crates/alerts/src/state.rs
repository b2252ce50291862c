//! What the engine remembers between calls, and what [`EngineState`] persists across restarts:
//! per host its last sample time, interval, container names and open alerts; per container its
//! open alerts (a container without open alerts has no state at all, so memory follows the
//! number of hosts and open alerts, not container churn).
//!
//! For storage the state splits into parts: a small header (version,
//! rules fingerprint) and one JSON document per machine, so that a large fleet is saved as many
//! small rows, of which only the changed ones need writing.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::event::{ActiveAlert, AlertEvent, AlertKind, AlertState};
use super::metric::MachineKind;
use super::threshold::OpenThresholds;

/// The format version [`EngineState`] is written with.
pub const STATE_VERSION: u32 = 1;

/// Everything the engine knows, as [`Engine::snapshot`](super::Engine::snapshot) returns it and
/// [`Engine::restore`](super::Engine::restore) takes it back. Serialise it with serde (JSON);
/// its content is private to the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineState {
    #[serde(default)]
    pub(crate) version: u32,
    /// Of the rule set the open alerts were last checked against.
    #[serde(default)]
    pub(crate) rules_fingerprint: Option<u64>,
    #[serde(default)]
    pub(crate) hosts: HashMap<String, HostState>,
    #[serde(default)]
    pub(crate) containers: HashMap<String, ContainerState>,
}

/// One machine's part of a stored state: its kind, id and state as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachinePart {
    pub kind: MachineKind,
    pub id: String,
    pub json: String,
}

/// [`EngineState::from_parts`] could not read the header.
#[derive(Debug, thiserror::Error)]
#[error("the saved alert engine state header does not parse: {0}")]
pub struct BadHeader(#[from] serde_json::Error);

impl EngineState {
    /// The header alone: everything but the machines, as JSON.
    pub fn header_json(&self) -> String {
        json(&EngineState {
            version: self.version,
            rules_fingerprint: self.rules_fingerprint,
            ..EngineState::default()
        })
    }

    /// The state from a header and machine parts. The header may also be a whole state saved
    /// in one piece (the format before parts): its machines are kept, and parts are added to
    /// them. A part that does not parse is skipped; the count of skipped parts is returned.
    pub fn from_parts(
        header: &str,
        parts: impl IntoIterator<Item = MachinePart>,
    ) -> Result<(EngineState, usize), BadHeader> {
        let mut state: EngineState = serde_json::from_str(header)?;
        let mut skipped = 0;
        for part in parts {
            let ok = match part.kind {
                MachineKind::Host => serde_json::from_str(&part.json).map(|h| {
                    state.hosts.insert(part.id, h);
                }),
                MachineKind::Container => serde_json::from_str(&part.json).map(|c| {
                    state.containers.insert(part.id, c);
                }),
            };
            if ok.is_err() {
                skipped += 1;
            }
        }
        Ok((state, skipped))
    }
}

impl EngineState {
    /// Brings the state up to a stored event it does not include yet. A state is saved after
    /// its events are stored, so after a crash the events stored since the last save are
    /// applied at start: without them the engine would forget incidents that opened (and open
    /// them a second time) or keep ones that ended. An event that opens or updates an alert
    /// sets it; one that ends it removes it; a one-shot notice changes nothing but the time.
    pub fn apply(&mut self, ev: &AlertEvent) {
        // Events from a record are dated by its sample (or its Docker event): that record and
        // older ones were evaluated. Redelivered after the crash, they must change nothing, as
        // they would have with the state saved after them. (`stale` is dated by the tick, and a
        // threshold alert ended without a value by a rule change by the time of the change.)
        let host_of = match ev.machine_kind {
            MachineKind::Host => Some(&ev.key.machine_id),
            MachineKind::Container => ev.host_id.as_ref(),
        };
        let by_record = match ev.key.kind {
            AlertKind::Stale => false,
            AlertKind::Threshold => ev.value.is_some(),
            _ => true,
        };
        if by_record {
            if let Some(host) = host_of.and_then(|h| self.hosts.get_mut(h)) {
                host.last_sampled_at = host.last_sampled_at.max(ev.at);
            }
        }
        let alert = match ev.state {
            AlertState::Pending | AlertState::Firing => Some(ActiveAlert::from_event(ev)),
            AlertState::Resolved | AlertState::Cancelled => None,
            AlertState::Info => return,
        };
        let id = &ev.key.machine_id;
        match ev.machine_kind {
            MachineKind::Host => {
                let host = match self.hosts.get_mut(id) {
                    Some(host) => host,
                    None if alert.is_none() => return,
                    // a host the saved state never saw: known from the event on
                    None => self
                        .hosts
                        .entry(id.clone())
                        .or_insert_with(|| HostState::new(&ev.machine_name, ev.at, DEFAULT_INTERVAL_MS)),
                };
                match (ev.key.kind, ev.key.rule_id) {
                    (AlertKind::Threshold, Some(rule)) => host.thresholds.put(rule, &ev.key.subject, alert),
                    (AlertKind::Stale, _) => host.stale = alert,
                    (AlertKind::ZeroValue, _) => host.zero_value = alert,
                    _ => {}
                }
            }
            MachineKind::Container => {
                let c = self.containers.entry(id.clone()).or_default();
                match (ev.key.kind, ev.key.rule_id) {
                    (AlertKind::Threshold, Some(rule)) => c.thresholds.put(rule, &ev.key.subject, alert),
                    (AlertKind::ContainerDied, _) => c.died = alert,
                    (AlertKind::ContainerOom, _) => c.oom = alert,
                    (AlertKind::ContainerUnhealthy, _) => c.unhealthy = alert,
                    _ => {}
                }
                if c.is_empty() {
                    self.containers.remove(id);
                }
            }
        }
    }
}

/// The interval assumed for a host known only from a stored event, until its next record.
const DEFAULT_INTERVAL_MS: u64 = 1000;

/// Hashes with fixed keys: equal inputs give equal signatures in every process.
fn hash_of(v: impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// What makes an open alert worth saving again: not its latest value, which changes with
/// every sample.
fn alert_signature(a: &ActiveAlert) -> u64 {
    hash_of((
        &a.alert_id,
        a.state.as_str(),
        a.severity,
        a.threshold.map(f64::to_bits),
        a.firing_since,
        a.since,
    ))
}

/// Order-independent: the sum of the items' signatures.
fn sum(items: impl Iterator<Item = u64>) -> u64 {
    items.fold(0, u64::wrapping_add)
}

impl HostState {
    /// Changes when anything but the last sample time or the open alerts' latest values
    /// changes (see `alerting::saved_parts`).
    pub fn signature(&self) -> u64 {
        let containers = sum(self.container_ids.iter().map(hash_of));
        hash_of((
            &self.name,
            self.interval_ms,
            containers,
            sum(self.open().map(alert_signature)),
        ))
    }
}

impl ContainerState {
    /// Changes when the open alerts change (not with their latest values).
    pub fn signature(&self) -> u64 {
        sum(self.open().map(alert_signature))
    }
}

pub(crate) fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("engine state serialises to JSON")
}

impl Default for EngineState {
    fn default() -> Self {
        EngineState {
            version: STATE_VERSION,
            rules_fingerprint: None,
            hosts: HashMap::new(),
            containers: HashMap::new(),
        }
    }
}

/// One host that has reported at least once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct HostState {
    pub name: String,
    /// The newest sample time seen; older records are ignored.
    pub last_sampled_at: DateTime<Utc>,
    pub interval_ms: u64,
    /// Container name → the id last seen under it (to notice re-creations).
    #[serde(default)]
    pub container_ids: HashMap<String, String>,
    #[serde(default)]
    pub thresholds: OpenThresholds,
    #[serde(default)]
    pub stale: Option<ActiveAlert>,
    #[serde(default)]
    pub zero_value: Option<ActiveAlert>,
}

impl HostState {
    pub fn new(name: &str, sampled_at: DateTime<Utc>, interval_ms: u64) -> Self {
        HostState {
            name: name.to_owned(),
            last_sampled_at: sampled_at,
            interval_ms,
            container_ids: HashMap::new(),
            thresholds: OpenThresholds::default(),
            stale: None,
            zero_value: None,
        }
    }

    /// Every open alert of the host.
    pub fn open(&self) -> impl Iterator<Item = &ActiveAlert> {
        self.thresholds.iter().chain(&self.stale).chain(&self.zero_value)
    }
}

/// The container alerts that end when the container runs healthy again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    Died,
    Oom,
    Unhealthy,
}

impl Health {
    pub fn kind(self) -> AlertKind {
        match self {
            Health::Died => AlertKind::ContainerDied,
            Health::Oom => AlertKind::ContainerOom,
            Health::Unhealthy => AlertKind::ContainerUnhealthy,
        }
    }
}

/// One container with at least one open alert.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ContainerState {
    #[serde(default)]
    pub thresholds: OpenThresholds,
    #[serde(default)]
    pub died: Option<ActiveAlert>,
    #[serde(default)]
    pub oom: Option<ActiveAlert>,
    #[serde(default)]
    pub unhealthy: Option<ActiveAlert>,
}

impl ContainerState {
    /// Nothing open: the state can be dropped.
    pub fn is_empty(&self) -> bool {
        self.thresholds.is_empty() && self.died.is_none() && self.oom.is_none() && self.unhealthy.is_none()
    }

    /// The slot of one health alert.
    pub fn slot(&mut self, health: Health) -> &mut Option<ActiveAlert> {
        match health {
            Health::Died => &mut self.died,
            Health::Oom => &mut self.oom,
            Health::Unhealthy => &mut self.unhealthy,
        }
    }

    /// The open health alerts, in a fixed order.
    pub fn health_slots(&mut self) -> [&mut Option<ActiveAlert>; 3] {
        [&mut self.died, &mut self.oom, &mut self.unhealthy]
    }

    /// Every open alert of the container.
    pub fn open(&self) -> impl Iterator<Item = &ActiveAlert> {
        self.thresholds
            .iter()
            .chain(&self.died)
            .chain(&self.oom)
            .chain(&self.unhealthy)
    }
}
