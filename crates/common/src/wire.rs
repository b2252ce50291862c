//! The Kafka record, wire format v1: one JSON object per sample of one host, keyed by `host_id`.
//!
//! A value that was not measured is `None` and is left out of the JSON (never a fake 0); unknown
//! fields are ignored when reading, so newer producers stay readable.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The only schema version this code writes and accepts.
pub const SCHEMA_VERSION: u32 = 1;

/// One sample of one host and its containers, plus the Docker events seen since the last one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Record {
    pub schema: u32,
    /// Unique per record, stable across retries of the same record (idempotency key).
    pub record_id: String,
    pub host_id: String,
    pub host_name: String,
    #[serde(with = "crate::timefmt::millis")]
    pub sampled_at: DateTime<Utc>,
    pub interval_ms: u64,
    pub host: HostSample,
    #[serde(default)]
    pub containers: Vec<ContainerSample>,
    #[serde(default)]
    pub events: Vec<Event>,
}

/// Whole-host measurements. Rates are per second over the measured elapsed time and absent on
/// the first sample after start or when a counter went backwards.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostSample {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_cores: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_core_percent: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load1: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load5: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load15: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_total_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_used_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_available_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap_total_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap_used_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_read_bytes_per_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_write_bytes_per_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_rx_bytes_per_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_tx_bytes_per_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<Interface>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filesystems: Vec<Filesystem>,
    /// Absent when the host has no temperature sensors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperatures_c: Option<BTreeMap<String, f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_secs: Option<u64>,
}

/// One network interface (loopback included here, excluded from the host sums).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Interface {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rx_bytes_per_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_bytes_per_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rx_errors: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_errors: Option<u64>,
}

/// One mounted real filesystem.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Filesystem {
    pub mount: String,
    #[serde(default)]
    pub device: String,
    #[serde(default)]
    pub fs_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inodes_used_percent: Option<f64>,
}

/// One container (running or not). `cpu_percent`: 100 = one full core (docker CLI convention).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContainerSample {
    pub id: String,
    /// Without the leading `/` Docker puts in front.
    pub name: String,
    #[serde(default)]
    pub image: String,
    /// Docker's state: `created`, `running`, `paused`, `restarting`, `exited`, `dead`, ...
    pub state: String,
    /// `healthy`, `unhealthy`, `starting`; absent when the container has no health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_used_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_limit_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_rx_bytes_per_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_tx_bytes_per_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blk_read_bytes_per_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blk_write_bytes_per_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<u64>,
}

/// A Docker event carried in the next record of its host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub kind: EventKind,
    pub container_id: String,
    #[serde(default)]
    pub name: String,
    /// Set for `container_died`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    #[serde(with = "crate::timefmt::millis")]
    pub at: DateTime<Utc>,
}

/// Kinds of container events (CONTRACT §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    ContainerStarted,
    ContainerDied,
    ContainerOom,
    ContainerUnhealthy,
    ContainerHealthy,
    ContainerRemoved,
}

impl EventKind {
    /// The name used on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ContainerStarted => "container_started",
            EventKind::ContainerDied => "container_died",
            EventKind::ContainerOom => "container_oom",
            EventKind::ContainerUnhealthy => "container_unhealthy",
            EventKind::ContainerHealthy => "container_healthy",
            EventKind::ContainerRemoved => "container_removed",
        }
    }

    /// Inverse of [`EventKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

impl Record {
    /// A fresh record id: a UUIDv7 (time-ordered, so storage indexes stay append-mostly).
    pub fn new_id() -> String {
        uuid::Uuid::now_v7().to_string()
    }

    /// How many numeric values the record carries (measured ones: an absent value is not one),
    /// list entries included; what storage cost is measured per.
    pub fn numeric_values(&self) -> usize {
        let h = &self.host;
        let some = |xs: &[bool]| xs.iter().filter(|x| **x).count();
        let host = some(&[
            h.cpu_percent.is_some(),
            h.cpu_cores.is_some(),
            h.load1.is_some(),
            h.load5.is_some(),
            h.load15.is_some(),
            h.mem_total_bytes.is_some(),
            h.mem_used_bytes.is_some(),
            h.mem_available_bytes.is_some(),
            h.mem_percent.is_some(),
            h.swap_total_bytes.is_some(),
            h.swap_used_bytes.is_some(),
            h.disk_read_bytes_per_sec.is_some(),
            h.disk_write_bytes_per_sec.is_some(),
            h.net_rx_bytes_per_sec.is_some(),
            h.net_tx_bytes_per_sec.is_some(),
            h.uptime_secs.is_some(),
        ]) + h.per_core_percent.len()
            + h.interfaces
                .iter()
                .map(|n| {
                    some(&[
                        n.rx_bytes_per_sec.is_some(),
                        n.tx_bytes_per_sec.is_some(),
                        n.rx_errors.is_some(),
                        n.tx_errors.is_some(),
                    ])
                })
                .sum::<usize>()
            + h.filesystems
                .iter()
                .map(|f| {
                    some(&[
                        f.total_bytes.is_some(),
                        f.used_bytes.is_some(),
                        f.used_percent.is_some(),
                        f.inodes_used_percent.is_some(),
                    ])
                })
                .sum::<usize>()
            + h.temperatures_c.as_ref().map_or(0, |t| t.len());
        let containers: usize = self
            .containers
            .iter()
            .map(|c| {
                some(&[
                    c.restart_count.is_some(),
                    c.cpu_percent.is_some(),
                    c.mem_used_bytes.is_some(),
                    c.mem_limit_bytes.is_some(),
                    c.mem_percent.is_some(),
                    c.net_rx_bytes_per_sec.is_some(),
                    c.net_tx_bytes_per_sec.is_some(),
                    c.blk_read_bytes_per_sec.is_some(),
                    c.blk_write_bytes_per_sec.is_some(),
                    c.pids.is_some(),
                ])
            })
            .sum();
        host + containers
    }

    /// Compact JSON, as it goes on the wire.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a Record always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            schema: 1,
            record_id: "r1".into(),
            host_id: "h1".into(),
            host_name: "box".into(),
            sampled_at: crate::timefmt::parse("2026-11-22T07:38:15.123Z").unwrap(),
            interval_ms: 1000,
            host: HostSample {
                cpu_percent: Some(12.5),
                ..Default::default()
            },
            containers: vec![],
            events: vec![Event {
                kind: EventKind::ContainerDied,
                container_id: "c1".into(),
                name: "web".into(),
                exit_code: Some(3),
                at: crate::timefmt::parse("2026-11-22T07:38:14Z").unwrap(),
            }],
        }
    }

    #[test]
    fn unmeasured_values_are_left_out_not_zero() {
        let json = String::from_utf8(sample().to_json()).unwrap();
        assert!(json.contains(r#""cpu_percent":12.5"#));
        assert!(!json.contains("mem_total_bytes"));
        assert!(!json.contains("temperatures_c"));
        assert!(json.contains(r#""sampled_at":"2026-11-22T07:38:15.123Z""#));
        assert!(json.contains(r#""kind":"container_died""#));
    }

    #[test]
    fn round_trips_and_ignores_unknown_fields() {
        let mut v: serde_json::Value = serde_json::from_slice(&sample().to_json()).unwrap();
        v["future_field"] = serde_json::json!({"x": 1});
        let back: Record = serde_json::from_value(v).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn numeric_values_count_what_was_measured() {
        let mut r = sample();
        assert_eq!(r.numeric_values(), 1);
        r.host.per_core_percent = vec![1.0, 2.0];
        r.host.temperatures_c = Some(BTreeMap::from([("cpu".to_owned(), 40.0)]));
        r.containers = vec![ContainerSample {
            cpu_percent: Some(0.0),
            pids: Some(3),
            ..Default::default()
        }];
        assert_eq!(r.numeric_values(), 1 + 2 + 1 + 2);
    }

    #[test]
    fn event_kind_names() {
        assert_eq!(EventKind::parse("container_oom"), Some(EventKind::ContainerOom));
        assert_eq!(EventKind::ContainerOom.as_str(), "container_oom");
        assert_eq!(EventKind::parse("nope"), None);
    }
}
