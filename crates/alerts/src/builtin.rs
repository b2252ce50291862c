//! The alerts that are not thresholds:
//! - `stale`: at a [`tick`](super::Engine::tick), the host's newest sample is older than
//!   [`EngineConfig::stale_after`]; resolved at the first tick where it no longer is (records
//!   resumed). Deciding both at ticks from the same rule as the machine list's `stale` status
//!   keeps the two in agreement, and a host whose records keep arriving late stays one incident
//!   instead of flapping with every record.
//! - `container_died` (non-zero exit code only, carried), `container_oom`, `container_unhealthy`
//!   (event, or a sample whose health is `unhealthy`): resolved once the container runs healthy
//!   again — a `container_started` / `container_healthy` event, or a sample `running` and not
//!   `unhealthy`, that comes after the alert opened. A `container_removed` event ends every
//!   alert of the container (thresholds included) and forgets it.
//! - `container_id_changed`: a (host, container name) seen before shows up with a new id; one
//!   `info` event.
//! - `zero_value`: a host reports exactly 0 for CPU, memory used (bytes, else percent), disk read
//!   and disk write, all four measured. It fires once when the episode starts and is `resolved`
//!   when any of them is measured non-zero.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use common::wire::{ContainerSample, Event, EventKind, HostSample};

use super::event::{ActiveAlert, AlertEvent, AlertKey, AlertKind, AlertState, Cause, MachineRef};
use super::metric::MachineKind;
use super::state::{ContainerState, Health, HostState};

/// Settings of the built-in checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// A host is stale after this many of its intervals without a record (default 3).
    pub stale_intervals: u32,
    /// ... but never sooner than this ([`STALE_MIN`]: records travel through Kafka and a relay that
    /// batches them). The defaults agree with the machine list's `stale` status.
    pub stale_min: TimeDelta,
}

/// Missed intervals after which a host counts as stale.
pub const STALE_INTERVALS: i64 = 3;
/// Never stale sooner than this, whatever the interval: records travel through Kafka and a relay
/// that batches them (typically well under a second), so very short intervals get this floor.
/// With the default 1 s interval a host is stale after 3 s of silence.
pub const STALE_MIN: TimeDelta = TimeDelta::seconds(2);

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            stale_intervals: u32::try_from(STALE_INTERVALS).unwrap_or(3),
            stale_min: STALE_MIN,
        }
    }
}

impl EngineConfig {
    /// How long a host with this interval may stay silent before it is stale.
    pub fn stale_after(&self, interval_ms: u64) -> TimeDelta {
        let ms = interval_ms.saturating_mul(u64::from(self.stale_intervals));
        let intervals = i64::try_from(ms)
            .ok()
            .and_then(TimeDelta::try_milliseconds)
            .unwrap_or(TimeDelta::MAX);
        intervals.max(self.stale_min)
    }
}

/// Opens (at most one) or resolves the `stale` alert of a host, dated `now`.
pub(crate) fn check_stale(
    config: &EngineConfig,
    host_id: &str,
    host: &mut HostState,
    now: DateTime<Utc>,
    out: &mut Vec<AlertEvent>,
) {
    let allowed = config.stale_after(host.interval_ms);
    let silent = now - host.last_sampled_at;
    match &host.stale {
        Some(a) if silent <= allowed => {
            out.push(a.event(AlertState::Resolved, now.max(a.since), None));
            host.stale = None;
        }
        None if silent > allowed => {
            let machine = MachineRef {
                kind: MachineKind::Host,
                id: host_id,
                name: &host.name,
                host_id: None,
            };
            let kind = AlertKind::Stale;
            let key = AlertKey::builtin(kind, host_id);
            let mut a = ActiveAlert::open(key, machine, AlertState::Firing, kind.builtin_severity(), now);
            a.threshold = Some(seconds(allowed));
            a.value = Some(seconds(silent));
            out.push(a.event(AlertState::Firing, now, a.value));
            host.stale = Some(a);
        }
        _ => {}
    }
}

/// One zero-value episode per host: fires when all four are exactly 0, resolves when one is not.
pub(crate) fn zero_value(
    host: &mut HostState,
    machine: MachineRef<'_>,
    h: &HostSample,
    at: DateTime<Utc>,
    out: &mut Vec<AlertEvent>,
) {
    let memory = h.mem_used_bytes.map(|b| b as f64).or(h.mem_percent);
    let values = [
        h.cpu_percent,
        memory,
        h.disk_read_bytes_per_sec,
        h.disk_write_bytes_per_sec,
    ];
    match &host.zero_value {
        Some(a) if values.iter().any(|v| v.is_some_and(|v| v != 0.0)) => {
            out.push(a.event(AlertState::Resolved, at, None));
            host.zero_value = None;
        }
        None if values.iter().all(|&v| v == Some(0.0)) => {
            let kind = AlertKind::ZeroValue;
            let a = ActiveAlert::open(
                AlertKey::builtin(kind, machine.id),
                machine,
                AlertState::Firing,
                kind.builtin_severity(),
                at,
            );
            out.push(a.event(AlertState::Firing, at, Some(0.0)));
            host.zero_value = Some(a);
        }
        _ => {}
    }
}

/// Applies one Docker event of a host's record.
pub(crate) fn container_event(
    containers: &mut HashMap<String, ContainerState>,
    host_id: &str,
    ev: &Event,
    out: &mut Vec<AlertEvent>,
) {
    let machine = MachineRef {
        kind: MachineKind::Container,
        id: &ev.container_id,
        name: if ev.name.is_empty() { &ev.container_id } else { &ev.name },
        host_id: Some(host_id),
    };
    match ev.kind {
        EventKind::ContainerDied => match ev.exit_code {
            Some(code) if code != 0 => raise(containers, Health::Died, machine, ev.at, Some(code), out),
            _ => {}
        },
        EventKind::ContainerOom => raise(containers, Health::Oom, machine, ev.at, None, out),
        EventKind::ContainerUnhealthy => raise(containers, Health::Unhealthy, machine, ev.at, None, out),
        EventKind::ContainerStarted | EventKind::ContainerHealthy => {
            recover(containers, &ev.container_id, |since| since <= ev.at, ev.at, out)
        }
        EventKind::ContainerRemoved => {
            if let Some(mut c) = containers.remove(&ev.container_id) {
                let from = out.len();
                for slot in c.health_slots() {
                    if let Some(a) = slot.take() {
                        out.push(a.event(AlertState::Resolved, ev.at.max(a.since), None));
                    }
                }
                c.thresholds.close_unless(|_| false, ev.at, out);
                out[from..]
                    .iter_mut()
                    .for_each(|e| e.cause = Some(Cause::ContainerRemoved));
            }
        }
    }
}

/// Applies the built-in checks to one container sample: re-creation, health, healthy run.
pub(crate) fn container_sample(
    host: &mut HostState,
    containers: &mut HashMap<String, ContainerState>,
    machine: MachineRef<'_>,
    c: &ContainerSample,
    at: DateTime<Utc>,
    out: &mut Vec<AlertEvent>,
) {
    match host.container_ids.get_mut(&c.name) {
        // a container posted without its name (the original's `{}`) says nothing of re-creation
        _ if c.name.is_empty() => {}
        Some(id) if *id == c.id => {}
        Some(id) => {
            let kind = AlertKind::ContainerIdChanged;
            let a = ActiveAlert::open(
                AlertKey::builtin(kind, &c.id),
                machine,
                AlertState::Info,
                kind.builtin_severity(),
                at,
            );
            let mut ev = a.event(AlertState::Info, at, None);
            ev.previous_container_id = Some(std::mem::replace(id, c.id.clone()));
            out.push(ev);
        }
        None => {
            host.container_ids.insert(c.name.clone(), c.id.clone());
        }
    }
    let health = c.health.as_deref();
    if health == Some("unhealthy") {
        raise(containers, Health::Unhealthy, machine, at, None, out);
    } else if c.state == "running" {
        recover(containers, &c.id, |since| since < at, at, out);
    }
}

fn raise(
    containers: &mut HashMap<String, ContainerState>,
    health: Health,
    machine: MachineRef<'_>,
    at: DateTime<Utc>,
    exit_code: Option<i64>,
    out: &mut Vec<AlertEvent>,
) {
    if containers.get_mut(machine.id).is_some_and(|c| c.slot(health).is_some()) {
        return; // already open: folded into the open incident
    }
    let kind = health.kind();
    let mut a = ActiveAlert::open(
        AlertKey::builtin(kind, machine.id),
        machine,
        AlertState::Firing,
        kind.builtin_severity(),
        at,
    );
    a.exit_code = exit_code;
    out.push(a.event(AlertState::Firing, at, None));
    *containers.entry(machine.id.to_owned()).or_default().slot(health) = Some(a);
}

/// Resolves the health alerts that opened before the healthy run (`opened_before(since)`).
fn recover(
    containers: &mut HashMap<String, ContainerState>,
    id: &str,
    opened_before: impl Fn(DateTime<Utc>) -> bool,
    at: DateTime<Utc>,
    out: &mut Vec<AlertEvent>,
) {
    let Some(c) = containers.get_mut(id) else {
        return;
    };
    for slot in c.health_slots() {
        if slot.as_ref().is_some_and(|a| opened_before(a.since)) {
            let a = slot.take().expect("checked above");
            out.push(a.event(AlertState::Resolved, at, None));
        }
    }
    if c.is_empty() {
        containers.remove(id);
    }
}

fn seconds(d: TimeDelta) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_after_is_intervals_times_multiplier_but_at_least_the_minimum() {
        let c = EngineConfig::default();
        assert_eq!(c.stale_intervals, 3);
        assert_eq!(c.stale_after(1_000), TimeDelta::seconds(3));
        assert_eq!(
            c.stale_after(100),
            TimeDelta::seconds(2),
            "the floor for very short intervals"
        );
        assert_eq!(c.stale_after(60_000), TimeDelta::seconds(180));
        let five = EngineConfig {
            stale_intervals: 5,
            stale_min: TimeDelta::zero(),
        };
        assert_eq!(five.stale_after(2_000), TimeDelta::seconds(10));
        assert_eq!(five.stale_after(u64::MAX), TimeDelta::MAX);
    }
}
