//! The fleet at a glance (`GET /api/v1/fleet`, the dashboard's fleet view): every host with its
//! containers, each with its status, its newest values (from [`crate::latest`]) and how many of
//! its alerts are firing or pending. Pure: the caller passes the machine list, the newest
//! records and the open alerts. Values are given at the precision they are stored at
//! (`codec::precision`) and a machine without open alerts has no `alerts`: at 22,000 machines
//! the answer is the dashboard's largest.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use codec::precision::{round, BYTES_PER_SEC, PERCENT};
use common::wire::{ContainerSample, HostSample};
use serde::Serialize;

use crate::alerts::{ActiveAlert, AlertState};
use crate::latest::Known;
use crate::status::Status;
use crate::store::MachineView;

/// The answer of `GET /api/v1/fleet`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Fleet {
    pub hosts: Vec<FleetHost>,
    /// Containers whose host is not in the machine list (none normally).
    pub orphans: Vec<FleetContainer>,
}

/// Open alerts of one machine.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AlertCount {
    pub firing: u32,
    pub pending: u32,
}

impl AlertCount {
    fn is_none(&self) -> bool {
        *self == Self::default()
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FleetHost {
    #[schema(value_type = String)]
    pub id: Arc<str>,
    #[schema(value_type = String)]
    pub name: Arc<str>,
    pub status: Status,
    #[serde(with = "common::timefmt::millis")]
    pub last_seen: DateTime<Utc>,
    /// Absent when none is open.
    #[serde(skip_serializing_if = "AlertCount::is_none")]
    #[schema(required = false)]
    pub alerts: AlertCount,
    /// The newest record's values; absent when none is in memory (after a restart, until the
    /// host's next record).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<HostValues>,
    pub containers: Vec<FleetContainer>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HostValues {
    #[serde(with = "common::timefmt::millis")]
    pub sampled_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_used_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_total_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_read_bytes_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_write_bytes_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_rx_bytes_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_tx_bytes_per_sec: Option<f64>,
    /// The fullest filesystem's used percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_used_percent: Option<f64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FleetContainer {
    #[schema(value_type = String)]
    pub id: Arc<str>,
    #[schema(value_type = String)]
    pub name: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub image: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub state: Option<Arc<str>>,
    pub status: Status,
    /// Absent when none is open.
    #[serde(skip_serializing_if = "AlertCount::is_none")]
    #[schema(required = false)]
    pub alerts: AlertCount,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<ContainerValues>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContainerValues {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_used_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_rx_bytes_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_tx_bytes_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blk_read_bytes_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blk_write_bytes_per_sec: Option<f64>,
}

fn percent(v: Option<f64>) -> Option<f64> {
    v.map(|v| round(v, PERCENT))
}

fn rate(v: Option<f64>) -> Option<f64> {
    v.map(|v| round(v, BYTES_PER_SEC))
}

fn host_values(at: DateTime<Utc>, h: &HostSample) -> HostValues {
    HostValues {
        sampled_at: at,
        cpu_percent: percent(h.cpu_percent),
        mem_percent: percent(h.mem_percent),
        mem_used_bytes: h.mem_used_bytes,
        mem_total_bytes: h.mem_total_bytes,
        disk_read_bytes_per_sec: rate(h.disk_read_bytes_per_sec),
        disk_write_bytes_per_sec: rate(h.disk_write_bytes_per_sec),
        net_rx_bytes_per_sec: rate(h.net_rx_bytes_per_sec),
        net_tx_bytes_per_sec: rate(h.net_tx_bytes_per_sec),
        disk_used_percent: percent(
            h.filesystems
                .iter()
                .filter_map(|f| f.used_percent)
                .max_by(f64::total_cmp),
        ),
    }
}

fn container_values(c: &ContainerSample) -> ContainerValues {
    ContainerValues {
        cpu_percent: percent(c.cpu_percent),
        mem_used_bytes: c.mem_used_bytes,
        mem_percent: percent(c.mem_percent),
        net_rx_bytes_per_sec: rate(c.net_rx_bytes_per_sec),
        net_tx_bytes_per_sec: rate(c.net_tx_bytes_per_sec),
        blk_read_bytes_per_sec: rate(c.blk_read_bytes_per_sec),
        blk_write_bytes_per_sec: rate(c.blk_write_bytes_per_sec),
    }
}

/// The fleet from the machine list (hosts first, as `Store::machines` lists them), the newest
/// records and the open alerts.
pub fn build(machines: Vec<MachineView>, latest: &[Known], active: &[ActiveAlert]) -> Fleet {
    let mut alerts: HashMap<&str, AlertCount> = HashMap::new();
    for a in active {
        let count = alerts.entry(a.key.machine_id.as_str()).or_default();
        match a.state {
            AlertState::Firing => count.firing += 1,
            _ => count.pending += 1,
        }
    }
    let records: HashMap<&str, &Known> = latest.iter().map(|k| (k.record.host_id.as_str(), k)).collect();
    let mut hosts: Vec<FleetHost> = Vec::new();
    let mut index: HashMap<Arc<str>, usize> = HashMap::new();
    let mut containers = Vec::new();
    for m in machines {
        let count = alerts.get(&*m.id).copied().unwrap_or_default();
        if m.kind == "host" {
            let values = records
                .get(&*m.id)
                .map(|k| host_values(k.record.sampled_at, &k.record.host));
            index.insert(m.id.clone(), hosts.len());
            hosts.push(FleetHost {
                id: m.id,
                name: m.name,
                status: m.status,
                last_seen: m.last_seen,
                alerts: count,
                values,
                containers: Vec::new(),
            });
        } else {
            containers.push((m, count));
        }
    }
    let mut orphans = Vec::new();
    for (m, count) in containers {
        let values = m.host_id.as_deref().and_then(|h| records.get(h)).and_then(|k| {
            k.record
                .containers
                .iter()
                .find(|c| *c.id == *m.id)
                .map(container_values)
        });
        let host = m.host_id.as_ref().and_then(|h| index.get(h)).copied();
        let c = FleetContainer {
            id: m.id,
            name: m.name,
            image: m.image,
            state: m.state,
            status: m.status,
            alerts: count,
            values,
        };
        match host {
            Some(i) => hosts[i].containers.push(c),
            None => orphans.push(c),
        }
    }
    Fleet { hosts, orphans }
}
