//! Builders for records, rules and events, and a checker of the event stream's invariants.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use common::wire::{ContainerSample, Event, EventKind, Filesystem, HostSample, Record};

use crate::{
    ActiveAlert, AlertEvent, AlertKey, AlertKind, AlertState, Direction, Engine, Metric, Rule, RuleSet, Scope, Severity,
};

/// A fixed origin plus `ms` milliseconds.
pub fn t(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_800_000_000_000).unwrap() + TimeDelta::milliseconds(ms)
}

/// A record of `host` sampled at `t(ms)`, 1 s interval, nothing measured.
pub fn record(host: &str, ms: i64) -> Record {
    Record {
        schema: 1,
        record_id: format!("{host}-{ms}"),
        host_id: host.to_owned(),
        host_name: format!("{host}-name"),
        sampled_at: t(ms),
        interval_ms: 1000,
        host: HostSample::default(),
        containers: vec![],
        events: vec![],
    }
}

/// A running container without a health check, nothing measured.
pub fn container(id: &str, name: &str) -> ContainerSample {
    ContainerSample {
        id: id.to_owned(),
        name: name.to_owned(),
        state: "running".to_owned(),
        ..Default::default()
    }
}

pub fn event(kind: EventKind, id: &str, name: &str, exit_code: Option<i64>, ms: i64) -> Event {
    Event {
        kind,
        container_id: id.to_owned(),
        name: name.to_owned(),
        exit_code,
        at: t(ms),
    }
}

pub fn rule(id: u64, metric: Metric, direction: Direction, raise: f64, clear: f64, for_secs: u32) -> Rule {
    let scope = match metric.machine_kind() {
        crate::MachineKind::Host => Scope::AllHosts,
        crate::MachineKind::Container => Scope::AllContainers,
    };
    Rule {
        id,
        metric,
        direction,
        raise,
        clear,
        for_secs,
        severity: Severity::Warning,
        scope,
        enabled: true,
    }
}

pub fn rules(list: Vec<Rule>) -> RuleSet {
    RuleSet::new(list).unwrap()
}

/// Writes one value of `metric` into the record (container metrics into every container;
/// `subject` is the mount or sensor). `None` leaves it unmeasured. Byte and count metrics take
/// the value rounded down to an integer, load per core uses one core.
pub fn set(record: &mut Record, metric: Metric, subject: &str, value: Option<f64>) {
    let h = &mut record.host;
    let int = value.map(|v| v.max(0.0) as u64);
    match metric {
        Metric::HostCpuPercent => h.cpu_percent = value,
        Metric::HostMemPercent => h.mem_percent = value,
        Metric::HostMemUsedBytes => h.mem_used_bytes = int,
        Metric::HostDiskReadBytesPerSec => h.disk_read_bytes_per_sec = value,
        Metric::HostDiskWriteBytesPerSec => h.disk_write_bytes_per_sec = value,
        Metric::HostNetRxBytesPerSec => h.net_rx_bytes_per_sec = value,
        Metric::HostNetTxBytesPerSec => h.net_tx_bytes_per_sec = value,
        Metric::HostLoadPerCore => {
            h.load1 = value;
            h.cpu_cores = Some(1);
        }
        Metric::HostFilesystemUsedPercent | Metric::HostFilesystemInodesUsedPercent => {
            let fs = match h.filesystems.iter_mut().position(|f| f.mount == subject) {
                Some(i) => &mut h.filesystems[i],
                None => {
                    h.filesystems.push(Filesystem {
                        mount: subject.to_owned(),
                        ..Default::default()
                    });
                    h.filesystems.last_mut().unwrap()
                }
            };
            if metric == Metric::HostFilesystemUsedPercent {
                fs.used_percent = value;
            } else {
                fs.inodes_used_percent = value;
            }
        }
        Metric::HostTemperatureC => {
            let map = h.temperatures_c.get_or_insert_with(BTreeMap::new);
            match value {
                Some(v) => map.insert(subject.to_owned(), v),
                None => map.remove(subject),
            };
        }
        _ => {
            for c in &mut record.containers {
                match metric {
                    Metric::ContainerCpuPercent => c.cpu_percent = value,
                    Metric::ContainerMemPercent => c.mem_percent = value,
                    Metric::ContainerMemUsedBytes => c.mem_used_bytes = int,
                    Metric::ContainerNetRxBytesPerSec => c.net_rx_bytes_per_sec = value,
                    Metric::ContainerNetTxBytesPerSec => c.net_tx_bytes_per_sec = value,
                    Metric::ContainerBlkReadBytesPerSec => c.blk_read_bytes_per_sec = value,
                    Metric::ContainerBlkWriteBytesPerSec => c.blk_write_bytes_per_sec = value,
                    Metric::ContainerRestartCount => c.restart_count = int,
                    _ => unreachable!("host metrics are handled above"),
                }
            }
        }
    }
}

/// A record of host `h1` at `ms` with one value of a host metric (no subject).
pub fn host_value(metric: Metric, ms: i64, value: f64) -> Record {
    let mut r = record("h1", ms);
    set(&mut r, metric, "", Some(value));
    r
}

/// (kind, state) of each event, for compact assertions.
pub fn states(events: &[AlertEvent]) -> Vec<(AlertKind, AlertState)> {
    events.iter().map(|e| (e.key.kind, e.state)).collect()
}

/// Follows an event stream and checks, event by event, what must hold whatever the input:
/// one open incident per key; `pending` opens, `firing` opens or follows `pending`, `resolved`
/// follows `firing` and `cancelled` follows `pending` of the same incident; `info` never opens;
/// every event of an incident has its key; and [`Engine::active`] is exactly the open incidents.
#[derive(Debug, Default)]
pub struct Lifecycle {
    /// key → (alert id, open state).
    open: HashMap<AlertKey, (String, AlertState)>,
    /// alert id → key, for every incident ever seen.
    seen: HashMap<String, AlertKey>,
    pub firings: usize,
}

impl Lifecycle {
    pub fn check(&mut self, events: &[AlertEvent]) -> Result<(), String> {
        for e in events {
            if let Some(key) = self.seen.get(&e.alert_id) {
                if *key != e.key {
                    return Err(format!("incident {} changed key: {key:?} → {:?}", e.alert_id, e.key));
                }
            }
            if e.at < e.since {
                return Err(format!("event dated before its incident opened: {e:?}"));
            }
            let open = self.open.get(&e.key).cloned();
            let same = |s: AlertState| matches!(&open, Some((id, st)) if *id == e.alert_id && *st == s);
            match e.state {
                AlertState::Pending | AlertState::Firing if open.is_none() => {
                    if self.seen.contains_key(&e.alert_id) {
                        return Err(format!("incident id reused: {e:?}"));
                    }
                    self.open.insert(e.key.clone(), (e.alert_id.clone(), e.state));
                }
                AlertState::Firing if same(AlertState::Pending) => {
                    self.open.insert(e.key.clone(), (e.alert_id.clone(), e.state));
                }
                AlertState::Resolved if same(AlertState::Firing) => {
                    self.open.remove(&e.key);
                }
                AlertState::Cancelled if same(AlertState::Pending) => {
                    self.open.remove(&e.key);
                }
                AlertState::Info if !self.seen.contains_key(&e.alert_id) => {}
                _ => return Err(format!("{:?} after {open:?}: {e:?}", e.state)),
            }
            if e.state == AlertState::Firing {
                self.firings += 1;
            }
            self.seen.insert(e.alert_id.clone(), e.key.clone());
        }
        Ok(())
    }

    /// The engine's active list must be exactly the open incidents of the event stream.
    pub fn check_active(&self, engine: &Engine) -> Result<(), String> {
        let active: Vec<ActiveAlert> = engine.active();
        let mut keys: Vec<&AlertKey> = active.iter().map(|a| &a.key).collect();
        keys.sort();
        keys.dedup();
        if keys.len() != active.len() {
            return Err(format!("two open alerts for one key: {active:?}"));
        }
        if active.len() != self.open.len() {
            return Err(format!("active {active:?} vs open per events {:?}", self.open));
        }
        for a in &active {
            match self.open.get(&a.key) {
                Some((id, state)) if *id == a.alert_id && *state == a.state => {}
                other => return Err(format!("active {a:?} but events say {other:?}")),
            }
        }
        Ok(())
    }
}
