//! What the engine tells the world: [`AlertEvent`]s (one per state change of an alert) and the
//! [`ActiveAlert`]s open right now, both keyed by an [`AlertKey`] and grouped into incidents by
//! an `alert_id`. Also the mapping to the original system's SSE `messageType`s.
//!
//! Lifecycles (`state` of the events):
//! - thresholds: `pending` → `firing` → `resolved`, or `pending` → `cancelled` when the value
//!   returns before the rule's for-duration has passed; with a for-duration of 0 an alert opens
//!   directly as `firing`.
//! - `stale`, `container_died`, `container_oom`, `container_unhealthy`, `zero_value`:
//!   `firing` → `resolved`.
//! - `container_id_changed`: a single `info` event, never open.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::metric::{MachineKind, Metric};
use super::rules::{Direction, Severity};

/// What raised an alert: a threshold rule or one of the built-in checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A threshold rule (the key's `rule_id` names it).
    Threshold,
    /// A host stopped reporting.
    Stale,
    /// A container exited with a non-zero code.
    ContainerDied,
    /// A container was killed for running out of memory.
    ContainerOom,
    /// A container's health check fails.
    ContainerUnhealthy,
    /// A container was re-created under the same name on the same host (informational).
    ContainerIdChanged,
    /// A host reports exactly 0 for CPU, memory, disk read and disk write at once.
    ZeroValue,
}

impl AlertKind {
    /// The stable name (`threshold`, `stale`, `container_died`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Threshold => "threshold",
            AlertKind::Stale => "stale",
            AlertKind::ContainerDied => "container_died",
            AlertKind::ContainerOom => "container_oom",
            AlertKind::ContainerUnhealthy => "container_unhealthy",
            AlertKind::ContainerIdChanged => "container_id_changed",
            AlertKind::ZeroValue => "zero_value",
        }
    }

    /// The severity of a built-in kind (thresholds take their rule's).
    pub fn builtin_severity(self) -> Severity {
        match self {
            AlertKind::Stale | AlertKind::ContainerOom => Severity::Critical,
            AlertKind::Threshold | AlertKind::ContainerDied | AlertKind::ContainerUnhealthy | AlertKind::ZeroValue => {
                Severity::Warning
            }
            AlertKind::ContainerIdChanged => Severity::Info,
        }
    }
}

/// Identifies an alert: at most one incident per key is open at any time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertKey {
    pub kind: AlertKind,
    /// Set exactly when `kind` is `threshold`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<u64>,
    /// The host id or container id.
    pub machine_id: String,
    /// The mount point or sensor name for per-mount / per-sensor metrics, else empty.
    #[serde(default)]
    pub subject: String,
}

impl AlertKey {
    /// The key of a threshold rule's alert.
    pub fn threshold(rule_id: u64, machine_id: &str, subject: &str) -> AlertKey {
        AlertKey {
            kind: AlertKind::Threshold,
            rule_id: Some(rule_id),
            machine_id: machine_id.to_owned(),
            subject: subject.to_owned(),
        }
    }

    /// The key of a built-in alert of a machine.
    pub fn builtin(kind: AlertKind, machine_id: &str) -> AlertKey {
        AlertKey {
            kind,
            rule_id: None,
            machine_id: machine_id.to_owned(),
            subject: String::new(),
        }
    }
}

/// Why an incident ended, when not by its own measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The container was removed (`docker rm`): its alerts end, it is not running again.
    ContainerRemoved,
}

/// The state an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Beyond the raise value, waiting for the rule's for-duration.
    Pending,
    /// The alert is on.
    Firing,
    /// A firing alert ended.
    Resolved,
    /// A pending alert ended before it fired.
    Cancelled,
    /// A one-shot notice (`container_id_changed`); nothing stays open.
    Info,
}

impl AlertState {
    /// `pending`, `firing`, `resolved`, `cancelled` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
            AlertState::Cancelled => "cancelled",
            AlertState::Info => "info",
        }
    }

    /// Whether an alert in this state is open (pending or firing).
    pub fn is_open(self) -> bool {
        matches!(self, AlertState::Pending | AlertState::Firing)
    }
}

/// An open (pending or firing) alert, as [`Engine::active`](super::Engine::active) lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActiveAlert {
    /// Identifies the incident: equal in every event from its opening to its end.
    pub alert_id: String,
    #[serde(flatten)]
    pub key: AlertKey,
    pub machine_kind: MachineKind,
    /// The host name or container name when the alert opened.
    pub machine_name: String,
    /// For containers: the host they run on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    /// `pending` or `firing`.
    pub state: AlertState,
    pub severity: Severity,
    /// Thresholds: the rule's metric and direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Thresholds: the raise value; `stale`: the silence allowed, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Thresholds: the latest observed value; `stale`: seconds without a record when detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// `container_died`: the exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// When the incident opened (became pending, or firing when it skipped pending).
    pub since: DateTime<Utc>,
    /// When it started firing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firing_since: Option<DateTime<Utc>>,
}

/// One state change of one alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertEvent {
    /// Identifies the incident: equal in every event from its opening to its end.
    pub alert_id: String,
    #[serde(flatten)]
    pub key: AlertKey,
    pub machine_kind: MachineKind,
    pub machine_name: String,
    /// For containers: the host they run on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    pub state: AlertState,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Thresholds: the raise value; `stale`: the silence allowed, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The value that caused this change (absent when the change did not come from a value,
    /// e.g. a rule was removed); `stale`: seconds without a record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// `container_id_changed`: the id the container had before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_container_id: Option<String>,
    /// When the change happened: the sample time, the Docker event time, or the `now` of the
    /// call for `stale` detection and for rule changes.
    pub at: DateTime<Utc>,
    /// When the incident opened.
    pub since: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firing_since: Option<DateTime<Utc>>,
    /// Why it ended, when not by a value (`resolved` / `cancelled` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
}

impl AlertEvent {
    /// The original system's SSE `messageType` for this event, when it had one: `thresholdExceeded`
    /// / `thresholdDeceeded` (a threshold above / below starts firing), `zerovalue`, `timeout`
    /// (a host went stale), `containerIdChanged`. Every other event has no compat form.
    pub fn compat_message_type(&self) -> Option<&'static str> {
        match (self.key.kind, self.state) {
            (AlertKind::Threshold, AlertState::Firing) => match self.direction? {
                Direction::Above => Some("thresholdExceeded"),
                Direction::Below => Some("thresholdDeceeded"),
            },
            (AlertKind::ZeroValue, AlertState::Firing) => Some("zerovalue"),
            (AlertKind::Stale, AlertState::Firing) => Some("timeout"),
            (AlertKind::ContainerIdChanged, AlertState::Info) => Some("containerIdChanged"),
            _ => None,
        }
    }
}

/// The machine an alert is about, borrowed from the record being evaluated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MachineRef<'a> {
    pub kind: MachineKind,
    pub id: &'a str,
    pub name: &'a str,
    pub host_id: Option<&'a str>,
}

impl ActiveAlert {
    /// The open alert a stored `pending` or `firing` event reports.
    pub(crate) fn from_event(ev: &AlertEvent) -> ActiveAlert {
        ActiveAlert {
            alert_id: ev.alert_id.clone(),
            key: ev.key.clone(),
            machine_kind: ev.machine_kind,
            machine_name: ev.machine_name.clone(),
            host_id: ev.host_id.clone(),
            state: ev.state,
            severity: ev.severity,
            metric: ev.metric,
            direction: ev.direction,
            threshold: ev.threshold,
            value: ev.value,
            exit_code: ev.exit_code,
            since: ev.since,
            firing_since: ev.firing_since,
        }
    }

    /// A new incident of `key` on `machine`, opened at `since`, with no metric details yet.
    pub(crate) fn open(
        key: AlertKey,
        machine: MachineRef<'_>,
        state: AlertState,
        severity: Severity,
        since: DateTime<Utc>,
    ) -> Self {
        ActiveAlert {
            alert_id: incident_id(&key, since),
            key,
            machine_kind: machine.kind,
            machine_name: machine.name.to_owned(),
            host_id: machine.host_id.map(str::to_owned),
            state,
            severity,
            metric: None,
            direction: None,
            threshold: None,
            value: None,
            exit_code: None,
            since,
            firing_since: (state == AlertState::Firing).then_some(since),
        }
    }

    /// The event reporting `state` for this incident at `at`, caused by `value`.
    pub fn event(&self, state: AlertState, at: DateTime<Utc>, value: Option<f64>) -> AlertEvent {
        AlertEvent {
            alert_id: self.alert_id.clone(),
            key: self.key.clone(),
            machine_kind: self.machine_kind,
            machine_name: self.machine_name.clone(),
            host_id: self.host_id.clone(),
            state,
            severity: self.severity,
            metric: self.metric,
            direction: self.direction,
            threshold: self.threshold,
            value,
            exit_code: self.exit_code,
            previous_container_id: None,
            at,
            since: self.since,
            firing_since: self.firing_since,
            cause: None,
        }
    }
}

/// 32 hex digits of SHA-256 over the key and the opening time: the same in every process, and
/// distinct per incident because a key has at most one open incident and a new one opens later.
pub fn incident_id(key: &AlertKey, opened_at: DateTime<Utc>) -> String {
    let mut h = Sha256::new();
    for part in [key.kind.as_str(), &key.machine_id, &key.subject] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.update(key.rule_id.map_or([0xff; 8], u64::to_be_bytes));
    h.update(opened_at.timestamp_micros().to_be_bytes());
    h.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        common::timefmt::parse(s).unwrap()
    }

    fn host() -> MachineRef<'static> {
        MachineRef {
            kind: MachineKind::Host,
            id: "h1",
            name: "box",
            host_id: None,
        }
    }

    #[test]
    fn incident_ids_differ_by_key_and_opening_time_and_are_stable() {
        let k = AlertKey::threshold(1, "h1", "/");
        let at = t("2026-01-01T00:00:00Z");
        let id = incident_id(&k, at);
        assert_eq!(id.len(), 32);
        assert_eq!(id, incident_id(&k.clone(), at));
        assert_ne!(id, incident_id(&k, t("2026-01-01T00:00:01Z")));
        assert_ne!(id, incident_id(&AlertKey::threshold(2, "h1", "/"), at));
        assert_ne!(id, incident_id(&AlertKey::threshold(1, "h1", ""), at));
        assert_ne!(
            incident_id(&AlertKey::builtin(AlertKind::Stale, "h1"), at),
            incident_id(&AlertKey::builtin(AlertKind::ZeroValue, "h1"), at)
        );
    }

    #[test]
    fn compat_message_types_follow_the_original_system() {
        let at = t("2026-01-01T00:00:00Z");
        let mut a = ActiveAlert::open(
            AlertKey::threshold(1, "h1", ""),
            host(),
            AlertState::Firing,
            Severity::Warning,
            at,
        );
        a.direction = Some(Direction::Above);
        assert_eq!(
            a.event(AlertState::Firing, at, None).compat_message_type(),
            Some("thresholdExceeded")
        );
        assert_eq!(a.event(AlertState::Pending, at, None).compat_message_type(), None);
        assert_eq!(a.event(AlertState::Resolved, at, None).compat_message_type(), None);
        a.direction = Some(Direction::Below);
        assert_eq!(
            a.event(AlertState::Firing, at, None).compat_message_type(),
            Some("thresholdDeceeded")
        );
        for (kind, state, want) in [
            (AlertKind::ZeroValue, AlertState::Firing, Some("zerovalue")),
            (AlertKind::Stale, AlertState::Firing, Some("timeout")),
            (AlertKind::Stale, AlertState::Resolved, None),
            (
                AlertKind::ContainerIdChanged,
                AlertState::Info,
                Some("containerIdChanged"),
            ),
            (AlertKind::ContainerDied, AlertState::Firing, None),
        ] {
            let b = ActiveAlert::open(AlertKey::builtin(kind, "h1"), host(), state, Severity::Info, at);
            assert_eq!(
                b.event(state, at, None).compat_message_type(),
                want,
                "{kind:?} {state:?}"
            );
        }
    }

    #[test]
    fn event_json_is_flat_and_snake_case() {
        let at = t("2026-01-01T00:00:00.250Z");
        let mut a = ActiveAlert::open(
            AlertKey::threshold(7, "h1", "/data"),
            host(),
            AlertState::Pending,
            Severity::Critical,
            at,
        );
        a.metric = Some(Metric::HostFilesystemUsedPercent);
        a.direction = Some(Direction::Above);
        a.threshold = Some(90.0);
        let ev = a.event(AlertState::Pending, at, Some(93.5));
        let json = serde_json::to_value(&ev).unwrap();
        assert_eq!(json["kind"], "threshold");
        assert_eq!(json["rule_id"], 7);
        assert_eq!(json["machine_id"], "h1");
        assert_eq!(json["subject"], "/data");
        assert_eq!(json["machine_kind"], "host");
        assert_eq!(json["state"], "pending");
        assert_eq!(json["severity"], "critical");
        assert_eq!(json["metric"], "host.filesystem_used_percent");
        assert_eq!(json["threshold"], 90.0);
        assert_eq!(json["value"], 93.5);
        assert_eq!(json["at"], "2026-01-01T00:00:00.250Z");
        assert!(json.get("exit_code").is_none() && json.get("firing_since").is_none());
        let back: AlertEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, ev);
    }
}
