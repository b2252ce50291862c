//! The read path: the machine list (kept between requests until the inventory's generation
//! moves, at most [`LISTED_FOR`]), one machine's container events over a time range, and the
//! compat inventory (samples: `samples`). Rows come back in the wire format's field names and
//! units.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use common::wire::{EventKind, HostSample};
use serde::Serialize;
use sqlx::mysql::MySqlRow;
use sqlx::Row as _;

use super::columns::{db_time, opt_text, text, utc};
use super::machines::Kind;
use super::Store;
use crate::error::{Error, Result};
use crate::status::{self, ContainerFacts, Status};

/// One entry of `GET /api/v1/machines`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MachineView {
    #[schema(value_type = String)]
    pub id: Arc<str>,
    #[schema(value_type = crate::alerts::MachineKind)]
    pub kind: &'static str,
    #[schema(value_type = String)]
    pub name: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub host_id: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub image: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub state: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub health: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub predecessor_id: Option<Arc<str>>,
    #[serde(with = "common::timefmt::millis")]
    pub first_seen: DateTime<Utc>,
    #[serde(with = "common::timefmt::millis")]
    pub last_seen: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none", with = "common::timefmt::millis_opt")]
    pub removed_at: Option<DateTime<Utc>>,
    pub status: Status,
}

/// A machine a path parameter named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineRef {
    pub id: u32,
    pub kind: Kind,
    /// The host whose records carry this machine's samples (itself, for a host).
    pub host: u32,
    pub ext_id: String,
    pub name: String,
}

/// One stored host sample: the §2 `host` fields plus `sampled_at`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HostSampleView {
    #[serde(with = "common::timefmt::millis")]
    pub sampled_at: DateTime<Utc>,
    #[serde(flatten)]
    pub host: HostSample,
}

/// One stored container sample: the §2 container fields plus `sampled_at`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContainerSampleView {
    #[serde(with = "common::timefmt::millis")]
    pub sampled_at: DateTime<Utc>,
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_used_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_limit_bytes: Option<u64>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids: Option<u32>,
}

/// Samples of one machine, oldest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Samples {
    Host(Vec<HostSampleView>),
    Container(Vec<ContainerSampleView>),
}

impl Samples {
    pub fn len(&self) -> usize {
        match self {
            Samples::Host(v) => v.len(),
            Samples::Container(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Time of the last sample.
    pub fn last_time(&self) -> Option<DateTime<Utc>> {
        match self {
            Samples::Host(v) => v.last().map(|s| s.sampled_at),
            Samples::Container(v) => v.last().map(|s| s.sampled_at),
        }
    }
}

/// One container event, as on the wire.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventView {
    #[schema(value_type = common::wire::EventKind)]
    pub kind: &'static str,
    pub container_id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(with = "common::timefmt::millis")]
    pub at: DateTime<Utc>,
}

/// Compat inventory: a host.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InventoryHost {
    pub id: String,
    pub name: String,
}

/// Compat inventory: a container, named as Docker names it (`/` first), and its host's name.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InventoryContainer {
    /// The host's name.
    pub host: String,
    pub id: String,
    /// With Docker's leading `/`.
    pub name: String,
}

impl Store {
    /// Every known host and container with its status at `now`; hosts first, then by name.
    pub async fn machines(&self, now: DateTime<Utc>) -> Result<Vec<MachineView>> {
        let rows = self.listing().await?;
        Ok(self
            .machines
            .with_seen(|seen| rows.iter().map(|r| r.view(now, seen)).collect()))
    }

    /// The machine rows: read again when the inventory changed since (or [`LISTED_FOR`] passed),
    /// else the copy read last (a large inventory is the dearest part of a fleet load).
    async fn listing(&self) -> Result<Arc<Vec<Listing>>> {
        let generation = self.machines.generation();
        if let Some(rows) = self.listed.get(generation) {
            return Ok(rows);
        }
        let rows = sqlx::query(
            // machines.last_seen is refreshed at most every LAST_SEEN_REFRESH; the newest
            // sample time this process stored is exact (Listing::view takes the later one)
            "SELECT m.id, m.kind, m.ext_id, m.name, h.id AS host_id, h.ext_id AS host_ext_id, m.image, m.state, \
             m.health, m.restart_count, m.interval_ms, h.interval_ms AS host_interval_ms, \
             h.last_seen AS host_last_seen, m.first_seen, m.last_seen, \
             m.removed_at, p.ext_id AS predecessor_ext_id \
             FROM machines m \
             LEFT JOIN machines h ON h.id = m.host_machine_id \
             LEFT JOIN machines p ON p.id = m.predecessor_id \
             ORDER BY m.kind, m.name, m.ext_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(Error::from_sqlx)?;
        let rows: Vec<Listing> = rows
            .iter()
            .map(Listing::of)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Error::from_sqlx)?;
        Ok(self.listed.put(generation, rows))
    }

    /// Finds a machine by external id, or a container by name when that is unambiguous (a name
    /// shared by several containers resolves to the one not removed, if there is exactly one).
    pub async fn resolve(&self, key: &str) -> Result<MachineRef> {
        let by_id = sqlx::query(
            "SELECT id, kind, ext_id, name, host_machine_id FROM machines WHERE ext_id = ? ORDER BY kind LIMIT 1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(Error::from_sqlx)?;
        if let Some(row) = by_id {
            return machine_ref(&row).map_err(Error::from_sqlx);
        }
        let named = sqlx::query(
            "SELECT id, kind, ext_id, name, host_machine_id, removed_at FROM machines \
             WHERE kind = 'container' AND name = ? ORDER BY last_seen DESC LIMIT 20",
        )
        .bind(key)
        .fetch_all(&self.pool)
        .await
        .map_err(Error::from_sqlx)?;
        let mut present: Vec<&MySqlRow> = Vec::new();
        for r in &named {
            if r.try_get::<Option<NaiveDateTime>, _>("removed_at")
                .map_err(Error::from_sqlx)?
                .is_none()
            {
                present.push(r);
            }
        }
        let chosen = match (named.len(), present.len()) {
            (0, _) => return Err(Error::UnknownMachine(key.to_owned())),
            (1, _) => &named[0],
            (_, 1) => present[0],
            _ => {
                let ids: Vec<String> = named.iter().filter_map(|r| text(r, "ext_id").ok()).collect();
                return Err(Error::AmbiguousMachine(format!(
                    "container name {key:?} matches {} containers ({}); use a container id",
                    named.len(),
                    ids.join(", ")
                )));
            }
        };
        machine_ref(chosen).map_err(Error::from_sqlx)
    }

    /// Container events of a container (or of every container of a host) in `[from, to)`,
    /// newest first, at most `limit`.
    pub async fn events(
        &self,
        m: &MachineRef,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EventView>> {
        let column = match m.kind {
            Kind::Host => "e.host_machine_id",
            Kind::Container => "e.machine_id",
        };
        let sql = format!(
            "SELECT e.kind, c.ext_id, c.name, e.exit_code, e.at FROM container_events e \
             JOIN machines c ON c.id = e.machine_id \
             WHERE {column} = ? AND e.at >= ? AND e.at < ? ORDER BY e.at DESC, e.id DESC LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(m.id)
            .bind(db_time(from))
            .bind(db_time(to))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(Error::from_sqlx)?;
        rows.iter()
            .map(|r| {
                let kind = text(r, "kind")?;
                Ok(EventView {
                    kind: EventKind::parse(&kind).map_or("unknown", EventKind::as_str),
                    container_id: text(r, "ext_id")?,
                    name: text(r, "name")?,
                    exit_code: r.try_get("exit_code")?,
                    at: utc(r.try_get("at")?),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Error::from_sqlx)
    }

    /// Hosts and containers not removed, for the compat `GET /api/inventory/list`.
    pub async fn inventory(&self) -> Result<(Vec<InventoryHost>, Vec<InventoryContainer>)> {
        let rows = sqlx::query(
            "SELECT m.kind, m.ext_id, m.name, h.name AS host_name FROM machines m \
             LEFT JOIN machines h ON h.id = m.host_machine_id \
             WHERE m.removed_at IS NULL ORDER BY m.kind, m.name, m.ext_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(Error::from_sqlx)?;
        let (mut hosts, mut containers) = (Vec::new(), Vec::new());
        for r in &rows {
            let kind = text(r, "kind").map_err(Error::from_sqlx)?;
            let id = text(r, "ext_id").map_err(Error::from_sqlx)?;
            let name = text(r, "name").map_err(Error::from_sqlx)?;
            match Kind::parse(&kind) {
                Some(Kind::Host) => hosts.push(InventoryHost { id, name }),
                Some(Kind::Container) => {
                    let host = opt_text(r, "host_name").map_err(Error::from_sqlx)?;
                    containers.push(InventoryContainer {
                        host: host.unwrap_or_default(),
                        id,
                        name: common::compat::docker_name(&name),
                    });
                }
                None => {}
            }
        }
        Ok((hosts, containers))
    }
}

fn machine_ref(r: &MySqlRow) -> Result<MachineRef, sqlx::Error> {
    let kind = text(r, "kind")?;
    let kind = Kind::parse(&kind).ok_or_else(|| sqlx::Error::Decode(format!("unknown kind {kind:?}").into()))?;
    let id: u32 = r.try_get("id")?;
    let host: Option<u32> = r.try_get("host_machine_id")?;
    Ok(MachineRef {
        id,
        kind,
        host: match kind {
            Kind::Host => id,
            // a container seen only in events has no host row yet: it has no samples either
            Kind::Container => host.unwrap_or(0),
        },
        ext_id: text(r, "ext_id")?,
        name: text(r, "name")?,
    })
}

/// How long a copy of the machine rows serves at most, however still the inventory is (another
/// process may write it too).
const LISTED_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// The machine rows as last read, with the inventory generation they were read at.
#[derive(Debug, Default)]
pub struct Listed {
    copy: std::sync::Mutex<Option<Snapshot>>,
}

/// The rows, the generation and the time they were read at.
#[derive(Debug)]
struct Snapshot {
    generation: u64,
    at: std::time::Instant,
    rows: Arc<Vec<Listing>>,
}

impl Listed {
    fn get(&self, generation: u64) -> Option<Arc<Vec<Listing>>> {
        let copy = self.copy.lock().expect("listing lock");
        let c = copy.as_ref()?;
        (c.generation == generation && c.at.elapsed() < LISTED_FOR).then(|| c.rows.clone())
    }

    fn put(&self, generation: u64, rows: Vec<Listing>) -> Arc<Vec<Listing>> {
        let rows = Arc::new(rows);
        *self.copy.lock().expect("listing lock") = Some(Snapshot {
            generation,
            at: std::time::Instant::now(),
            rows: rows.clone(),
        });
        rows
    }
}

/// A row of the machine list, as stored (its status depends on the time it is looked at).
#[derive(Debug, Clone)]
pub struct Listing {
    id: u32,
    kind: Kind,
    ext_id: Arc<str>,
    name: Arc<str>,
    host_id: Option<u32>,
    host_ext_id: Option<Arc<str>>,
    image: Option<Arc<str>>,
    state: Option<Arc<str>>,
    health: Option<Arc<str>>,
    restart_count: Option<u32>,
    interval_ms: Option<u32>,
    host_interval_ms: Option<u32>,
    host_last_seen: Option<NaiveDateTime>,
    first_seen: NaiveDateTime,
    last_seen: Option<NaiveDateTime>,
    removed_at: Option<NaiveDateTime>,
    predecessor_ext_id: Option<Arc<str>>,
}

impl Listing {
    fn of(r: &MySqlRow) -> Result<Listing, sqlx::Error> {
        let kind = text(r, "kind")?;
        Ok(Listing {
            id: r.try_get("id")?,
            kind: Kind::parse(&kind).ok_or_else(|| sqlx::Error::Decode(format!("unknown kind {kind:?}").into()))?,
            ext_id: text(r, "ext_id")?.into(),
            name: text(r, "name")?.into(),
            host_id: r.try_get("host_id")?,
            host_ext_id: opt_text(r, "host_ext_id")?.map(Into::into),
            image: opt_text(r, "image")?.map(Into::into),
            state: opt_text(r, "state")?.map(Into::into),
            health: opt_text(r, "health")?.map(Into::into),
            restart_count: r.try_get("restart_count")?,
            interval_ms: r.try_get("interval_ms")?,
            host_interval_ms: r.try_get("host_interval_ms")?,
            host_last_seen: r.try_get("host_last_seen")?,
            first_seen: r.try_get("first_seen")?,
            last_seen: r.try_get("last_seen")?,
            removed_at: r.try_get("removed_at")?,
            predecessor_ext_id: opt_text(r, "predecessor_ext_id")?.map(Into::into),
        })
    }

    /// The machine as listed at `now`: its newest sample time (stored, or the later one this
    /// process stored) and its status.
    fn view(&self, now: DateTime<Utc>, seen: &HashMap<u32, NaiveDateTime>) -> MachineView {
        let newest =
            |id: Option<u32>, stored: Option<NaiveDateTime>| match (id.and_then(|i| seen.get(&i).copied()), stored) {
                (Some(seen), Some(stored)) => Some(seen.max(stored)),
                (seen, stored) => stored.or(seen),
            };
        let last_seen = utc(newest(Some(self.id), self.last_seen).unwrap_or_default());
        let host_last_seen = newest(self.host_id, self.host_last_seen);
        let status = match self.kind {
            Kind::Host => status::host_status(last_seen, self.interval_ms, now),
            Kind::Container => status::container_status(
                ContainerFacts {
                    removed: self.removed_at.is_some(),
                    state: self.state.as_deref(),
                    last_seen,
                    host: host_last_seen.map(|t| status::host_status(utc(t), self.host_interval_ms, now)),
                    host_interval_ms: self.host_interval_ms,
                },
                now,
            ),
        };
        MachineView {
            id: self.ext_id.clone(),
            kind: self.kind.as_str(),
            name: self.name.clone(),
            host_id: self.host_ext_id.clone(),
            image: self.image.clone(),
            state: self.state.clone(),
            health: self.health.clone(),
            restart_count: self.restart_count,
            interval_ms: self.interval_ms,
            predecessor_id: self.predecessor_ext_id.clone(),
            first_seen: utc(self.first_seen),
            last_seen,
            removed_at: self.removed_at.map(utc),
            status,
        }
    }
}
