//! The fleet at a glance (`GET /api/v1/fleet`, the dashboard's fleet view): every host with its
//! containers, each with its status, its newest values (from [`crate::latest`]) and how many of
//! its alerts are firing or pending. Pure: the caller passes the machine list, the newest
//! records and the open alerts.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FleetHost {
    pub id: String,
    pub name: String,
    pub status: Status,
    #[serde(with = "common::timefmt::millis")]
    pub last_seen: DateTime<Utc>,
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
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    pub status: Status,
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

fn host_values(at: DateTime<Utc>, h: &HostSample) -> HostValues {
    HostValues {
        sampled_at: at,
        cpu_percent: h.cpu_percent,
        mem_percent: h.mem_percent,
        mem_used_bytes: h.mem_used_bytes,
        mem_total_bytes: h.mem_total_bytes,
        disk_read_bytes_per_sec: h.disk_read_bytes_per_sec,
        disk_write_bytes_per_sec: h.disk_write_bytes_per_sec,
        net_rx_bytes_per_sec: h.net_rx_bytes_per_sec,
        net_tx_bytes_per_sec: h.net_tx_bytes_per_sec,
        disk_used_percent: h
            .filesystems
            .iter()
            .filter_map(|f| f.used_percent)
            .max_by(f64::total_cmp),
    }
}

fn container_values(c: &ContainerSample) -> ContainerValues {
    ContainerValues {
        cpu_percent: c.cpu_percent,
        mem_used_bytes: c.mem_used_bytes,
        mem_percent: c.mem_percent,
        net_rx_bytes_per_sec: c.net_rx_bytes_per_sec,
        net_tx_bytes_per_sec: c.net_tx_bytes_per_sec,
        blk_read_bytes_per_sec: c.blk_read_bytes_per_sec,
        blk_write_bytes_per_sec: c.blk_write_bytes_per_sec,
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
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut containers = Vec::new();
    for m in machines {
        let count = alerts.get(m.id.as_str()).copied().unwrap_or_default();
        if m.kind == "host" {
            let values = records
                .get(m.id.as_str())
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
        let values = m
            .host_id
            .as_deref()
            .and_then(|h| records.get(h))
            .and_then(|k| k.record.containers.iter().find(|c| c.id == m.id).map(container_values));
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
