//! The ingest transaction: one per batch, all or nothing. New record ids go into the idempotency
//! set, machines are created or refreshed, samples and events are inserted with multi-row
//! statements. A conflict with a concurrent batch (the same record id, a deadlock) rolls back and
//! retries the whole batch.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::wire::Record;
use sqlx::mysql::MySqlConnection;
use sqlx::{MySql, QueryBuilder};

use super::columns::{clip, db_time, details_json, health_code, narrow, state_code, text, u16_of, u32_of, CHUNK};
use super::machines::{self, Kind, NewContainer, Row};
use super::plan::Plan;
use super::Store;
use crate::error::{Error, Result};

/// Tries of one batch before a persistent conflict is reported as unavailable.
const ATTEMPTS: u32 = 5;

/// Per record whether it is new, and the machine ids to cache once the transaction committed.
/// Per record stored-now or not, machine ids found, machine rows written.
type Attempt = (Vec<bool>, Vec<(Kind, String, u32)>, Vec<(u32, machines::Written)>);

/// What storing a batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Per input record: stored now (`true`) or seen before (`false`).
    pub new: Vec<bool>,
    /// Transactions rolled back and retried after conflicts.
    pub retries: u32,
}

impl Store {
    /// Stores the records whose ids were not stored before. The ids in `records` must be distinct.
    pub async fn store_batch(&self, records: &[Record], received_at: DateTime<Utc>) -> Result<Written> {
        let mut retries = 0;
        loop {
            match self.try_store(records, received_at).await {
                Ok((new, found, written)) => {
                    self.machines.remember(found, written);
                    return Ok(Written { new, retries });
                }
                Err(e) if retries + 1 < ATTEMPTS && is_conflict(&e) => {
                    retries += 1;
                    tracing::debug!(error = %e, retries, "ingest transaction conflicted, retrying");
                    tokio::time::sleep(backoff(retries)).await;
                }
                Err(e) => return Err(Error::from_sqlx(e)),
            }
        }
    }

    /// One attempt: the transaction commits, or is rolled back before this returns (so its
    /// locks never outlive the attempt).
    async fn try_store(&self, records: &[Record], received_at: DateTime<Utc>) -> Result<Attempt, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        match self.write(&mut tx, records, received_at).await {
            Ok(Some(done)) => {
                tx.commit().await?;
                Ok(done)
            }
            Ok(None) => {
                tx.rollback().await?;
                Ok((vec![false; records.len()], Vec::new(), Vec::new()))
            }
            Err(e) => {
                if let Err(rollback) = tx.rollback().await {
                    tracing::debug!(error = %rollback, "rollback after a failed attempt failed too");
                }
                Err(e)
            }
        }
    }

    /// The statements of one attempt; `None` when every record was stored before.
    async fn write(
        &self,
        conn: &mut MySqlConnection,
        records: &[Record],
        received_at: DateTime<Utc>,
    ) -> Result<Option<Attempt>, sqlx::Error> {
        let existing = existing_records(&mut *conn, records).await?;
        let new: Vec<bool> = records
            .iter()
            .map(|r| !existing.contains(r.record_id.as_str()))
            .collect();
        let fresh: Vec<&Record> = records.iter().zip(&new).filter(|(_, n)| **n).map(|(r, _)| r).collect();
        if fresh.is_empty() {
            return Ok(None);
        }
        let plan = Plan::build(&fresh);

        let host_rows: Vec<Row<'_>> = plan
            .hosts
            .iter()
            .map(|(ext, h)| Row {
                ext_id: ext,
                name: clip(h.name, 255),
                host_machine_id: None,
                image: None,
                state: None,
                health: None,
                restart_count: None,
                interval_ms: u32_of(Some(h.interval_ms)),
                first_seen: db_time(h.first_seen),
                last_seen: db_time(h.last_seen),
            })
            .collect();
        let hosts = machines::ensure(&mut *conn, &self.machines, Kind::Host, &host_rows).await?;
        let host_updates = self.changed(&host_rows, &hosts.ids);
        machines::update_latest(&mut *conn, &host_updates).await?;

        let sampled_rows: Vec<Row<'_>> = plan
            .containers
            .iter()
            .map(|(ext, c)| Row {
                ext_id: ext,
                name: clip(c.name, 255),
                host_machine_id: hosts.ids.get(c.host).copied(),
                image: Some(clip(c.image, 255)).filter(|i| !i.is_empty()),
                state: Some(clip(c.state, 32)),
                health: c.health.map(|h| clip(h, 32)),
                restart_count: u32_of(c.restart_count),
                interval_ms: None,
                first_seen: db_time(c.first_seen),
                last_seen: db_time(c.last_seen),
            })
            .collect();
        let event_rows = plan.event_only.iter().map(|(ext, e)| Row {
            ext_id: ext,
            name: clip(e.name, 255),
            host_machine_id: hosts.ids.get(e.host).copied(),
            image: None,
            state: None,
            health: None,
            restart_count: None,
            interval_ms: None,
            first_seen: db_time(e.at),
            last_seen: db_time(e.at),
        });
        let container_rows: Vec<Row<'_>> = sampled_rows.iter().cloned().chain(event_rows).collect();
        let containers = machines::ensure(&mut *conn, &self.machines, Kind::Container, &container_rows).await?;
        let container_updates = self.changed(&sampled_rows, &containers.ids);
        machines::update_latest(&mut *conn, &container_updates).await?;

        insert_records(&mut *conn, &fresh, &hosts.ids, received_at).await?;
        insert_host_samples(&mut *conn, &fresh, &hosts.ids).await?;
        insert_container_samples(&mut *conn, &fresh, &containers.ids).await?;
        insert_events(&mut *conn, &fresh, &hosts.ids, &containers.ids).await?;
        let removed: Vec<_> = plan
            .removals
            .iter()
            .filter_map(|(ext, at)| Some((*containers.ids.get(ext)?, db_time(*at))))
            .collect();
        machines::mark_removed(&mut *conn, &removed).await?;
        let new_containers: Vec<NewContainer<'_>> = container_rows
            .iter()
            .filter(|r| containers.created.contains(r.ext_id))
            .filter_map(|r| {
                Some(NewContainer {
                    id: *containers.ids.get(r.ext_id)?,
                    host_machine_id: r.host_machine_id?,
                    name: r.name,
                    first_seen: r.first_seen,
                })
            })
            .collect();
        machines::link_predecessors(&mut *conn, &new_containers).await?;

        let mut found = hosts.to_cache;
        found.extend(containers.to_cache);
        let written = host_updates
            .iter()
            .chain(&container_updates)
            .map(|(id, r)| (*id, machines::Written::of(r)))
            .collect();
        Ok(Some((new, found, written)))
    }

    /// The rows (with their machine ids) that change their machine row; see [`machines::Cache::changes`].
    fn changed<'a>(&self, rows: &[Row<'a>], ids: &HashMap<&str, u32>) -> Vec<(u32, Row<'a>)> {
        with_ids(rows, ids)
            .into_iter()
            .filter(|(id, r)| self.machines.changes(*id, r))
            .collect()
    }
}

/// A unique-key race with a concurrent batch (1062), a deadlock (1213), a lock wait timeout
/// (1205), or a machine another batch created but had not committed yet (`RowNotFound`).
fn is_conflict(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::RowNotFound)
        || e.as_database_error()
            .and_then(|db| db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
            .is_some_and(|db| matches!(db.number(), 1062 | 1205 | 1213))
}

/// 20, 40, 80, ... ms plus up to 20 ms of jitter, so two conflicting batches do not meet again.
fn backoff(retry: u32) -> Duration {
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Duration::from_millis(20 * (1 << retry.min(6)) + u64::from(jitter % 20))
}

fn with_ids<'a>(rows: &[Row<'a>], ids: &HashMap<&str, u32>) -> Vec<(u32, Row<'a>)> {
    rows.iter()
        .filter_map(|r| Some((*ids.get(r.ext_id)?, r.clone())))
        .collect()
}

async fn existing_records(conn: &mut MySqlConnection, records: &[Record]) -> Result<HashSet<String>, sqlx::Error> {
    let mut existing = HashSet::new();
    for chunk in records.chunks(CHUNK) {
        let mut q = QueryBuilder::<MySql>::new("SELECT record_id FROM ingested_records WHERE record_id IN (");
        let mut list = q.separated(", ");
        for r in chunk {
            list.push_bind(r.record_id.as_str());
        }
        q.push(")");
        for row in q.build().persistent(false).fetch_all(&mut *conn).await? {
            existing.insert(text(&row, "record_id")?);
        }
    }
    Ok(existing)
}

// Full chunks always have the same SQL text, so their prepared statements are kept in the
// connection's statement cache (`persistent`); the shorter last chunk of a batch is not.

async fn insert_records(
    conn: &mut MySqlConnection,
    records: &[&Record],
    hosts: &HashMap<&str, u32>,
    received_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let received_at = db_time(received_at);
    for chunk in records.chunks(CHUNK) {
        let mut q = QueryBuilder::<MySql>::new(
            "INSERT INTO ingested_records (record_id, machine_id, sampled_at, received_at) ",
        );
        q.push_values(chunk, |mut b, r| {
            b.push_bind(r.record_id.as_str())
                .push_bind(hosts.get(r.host_id.as_str()).copied())
                .push_bind(db_time(r.sampled_at))
                .push_bind(received_at);
        });
        q.build().persistent(chunk.len() == CHUNK).execute(&mut *conn).await?;
    }
    Ok(())
}

async fn insert_host_samples(
    conn: &mut MySqlConnection,
    records: &[&Record],
    hosts: &HashMap<&str, u32>,
) -> Result<(), sqlx::Error> {
    for chunk in records.chunks(CHUNK) {
        let mut q = QueryBuilder::<MySql>::new(
            "INSERT INTO host_samples (machine_id, sampled_at, cpu_percent, cpu_cores, load1, load5, load15, \
             mem_total_bytes, mem_used_bytes, mem_available_bytes, mem_percent, swap_total_bytes, swap_used_bytes, \
             disk_read_bytes_per_sec, disk_write_bytes_per_sec, net_rx_bytes_per_sec, net_tx_bytes_per_sec, \
             uptime_secs, details) ",
        );
        q.push_values(chunk, |mut b, r| {
            let h = &r.host;
            b.push_bind(hosts.get(r.host_id.as_str()).copied())
                .push_bind(db_time(r.sampled_at))
                .push_bind(narrow(h.cpu_percent))
                .push_bind(u16_of(h.cpu_cores))
                .push_bind(narrow(h.load1))
                .push_bind(narrow(h.load5))
                .push_bind(narrow(h.load15))
                .push_bind(h.mem_total_bytes)
                .push_bind(h.mem_used_bytes)
                .push_bind(h.mem_available_bytes)
                .push_bind(narrow(h.mem_percent))
                .push_bind(h.swap_total_bytes)
                .push_bind(h.swap_used_bytes)
                .push_bind(narrow(h.disk_read_bytes_per_sec))
                .push_bind(narrow(h.disk_write_bytes_per_sec))
                .push_bind(narrow(h.net_rx_bytes_per_sec))
                .push_bind(narrow(h.net_tx_bytes_per_sec))
                .push_bind(u32_of(h.uptime_secs))
                .push_bind(details_json(h));
        });
        // two records of one host for the same millisecond: the first one stored is kept
        q.push(" ON DUPLICATE KEY UPDATE machine_id = machine_id");
        q.build().persistent(chunk.len() == CHUNK).execute(&mut *conn).await?;
    }
    Ok(())
}

async fn insert_container_samples(
    conn: &mut MySqlConnection,
    records: &[&Record],
    containers: &HashMap<&str, u32>,
) -> Result<(), sqlx::Error> {
    let rows: Vec<_> = records
        .iter()
        .flat_map(|r| r.containers.iter().map(move |c| (r.sampled_at, c)))
        .filter_map(|(t, c)| Some((*containers.get(c.id.as_str())?, t, c)))
        .collect();
    for chunk in rows.chunks(CHUNK) {
        let mut q = QueryBuilder::<MySql>::new(
            "INSERT INTO container_samples (machine_id, sampled_at, cpu_percent, mem_used_bytes, mem_limit_bytes, \
             mem_percent, net_rx_bytes_per_sec, net_tx_bytes_per_sec, blk_read_bytes_per_sec, \
             blk_write_bytes_per_sec, pids, state, health, restart_count) ",
        );
        q.push_values(chunk, |mut b, (id, t, c)| {
            b.push_bind(*id)
                .push_bind(db_time(*t))
                .push_bind(narrow(c.cpu_percent))
                .push_bind(c.mem_used_bytes)
                .push_bind(c.mem_limit_bytes)
                .push_bind(narrow(c.mem_percent))
                .push_bind(narrow(c.net_rx_bytes_per_sec))
                .push_bind(narrow(c.net_tx_bytes_per_sec))
                .push_bind(narrow(c.blk_read_bytes_per_sec))
                .push_bind(narrow(c.blk_write_bytes_per_sec))
                .push_bind(u32_of(c.pids))
                .push_bind(state_code(&c.state))
                .push_bind(health_code(c.health.as_deref()))
                .push_bind(u32_of(c.restart_count));
        });
        q.push(" ON DUPLICATE KEY UPDATE machine_id = machine_id");
        q.build().persistent(chunk.len() == CHUNK).execute(&mut *conn).await?;
    }
    Ok(())
}

async fn insert_events(
    conn: &mut MySqlConnection,
    records: &[&Record],
    hosts: &HashMap<&str, u32>,
    containers: &HashMap<&str, u32>,
) -> Result<(), sqlx::Error> {
    let rows: Vec<_> = records
        .iter()
        .flat_map(|r| r.events.iter().map(move |e| (r.host_id.as_str(), e)))
        .filter_map(|(host, e)| Some((*containers.get(e.container_id.as_str())?, *hosts.get(host)?, e)))
        .collect();
    for chunk in rows.chunks(CHUNK) {
        let mut q = QueryBuilder::<MySql>::new(
            "INSERT INTO container_events (machine_id, host_machine_id, kind, exit_code, at) ",
        );
        q.push_values(chunk, |mut b, (id, host, e)| {
            b.push_bind(*id)
                .push_bind(*host)
                .push_bind(e.kind.as_str())
                .push_bind(
                    e.exit_code
                        .map(|c| c.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32),
                )
                .push_bind(db_time(e.at));
        });
        q.build().persistent(false).execute(&mut *conn).await?;
    }
    Ok(())
}
