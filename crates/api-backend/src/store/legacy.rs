//! The pre-tier tables (`host_samples`, `container_samples`, one row per sample, and
//! `ingested_records`) after an upgrade: converted into chunks and rollups one host and chunk
//! window at a time, newest first (the rows go in the same transaction), and dropped once
//! empty. Nothing writes them any more.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use codec::{Container, Sample};
use common::wire::HostSample;
use sqlx::mysql::{MySqlConnection, MySqlRow};
use sqlx::{Executor, Row as _};

use super::columns::{db_time, opt_text, text, utc, widen, Details};
use super::compact::{merge_into_tiers, Windows};
use super::raw::{chunk_start, CHUNK_WINDOW};
use super::Store;
use crate::error::{Error, Result};

/// What one conversion step did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Converted {
    /// Legacy sample rows moved (host and container rows).
    pub rows: u64,
    /// Every legacy row is converted and the tables are gone.
    pub done: bool,
}

impl Store {
    /// Are the legacy tables still there?
    pub async fn has_legacy(&self) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() \
             AND table_name IN ('host_samples', 'container_samples', 'ingested_records')",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(Error::from_sqlx)?;
        Ok(n > 0)
    }

    /// Converts the newest chunk window of up to `hosts` hosts; drops the tables once nothing is
    /// left in them.
    pub async fn convert_legacy(&self, hosts: usize) -> Result<Converted> {
        let mut tx = self.pool.begin().await.map_err(Error::from_sqlx)?;
        let step = convert(&mut tx, hosts).await.map_err(Error::from_sqlx)?;
        tx.commit().await.map_err(Error::from_sqlx)?;
        if step.rows > 0 {
            return Ok(step);
        }
        let mut conn = self.pool.acquire().await.map_err(Error::from_sqlx)?;
        // container rows of containers without a host cannot be placed: they are the only ones left
        let orphans = sqlx::query(
            "DELETE c FROM container_samples c LEFT JOIN machines m ON m.id = c.machine_id \
             WHERE m.host_machine_id IS NULL",
        )
        .execute(&mut *conn)
        .await
        .map_err(Error::from_sqlx)?
        .rows_affected();
        if orphans > 0 {
            tracing::warn!(rows = orphans, "legacy container samples without a host dropped");
        }
        conn.execute("DROP TABLE IF EXISTS host_samples, container_samples, ingested_records")
            .await
            .map_err(Error::from_sqlx)?;
        tracing::info!("legacy sample tables converted and dropped");
        Ok(Converted { rows: 0, done: true })
    }
}

async fn convert(conn: &mut MySqlConnection, hosts: usize) -> Result<Converted, sqlx::Error> {
    // each host's newest legacy sample (recent data is what readers look at first)
    let newest: Vec<(u32, NaiveDateTime)> = sqlx::query_as(
        "SELECT host, MAX(t) FROM ( \
           SELECT machine_id AS host, MAX(sampled_at) AS t FROM host_samples GROUP BY machine_id \
           UNION ALL \
           SELECT m.host_machine_id, MAX(c.sampled_at) FROM container_samples c JOIN machines m ON m.id = c.machine_id \
           WHERE m.host_machine_id IS NOT NULL GROUP BY m.host_machine_id \
         ) o GROUP BY host ORDER BY host LIMIT ?",
    )
    .bind(hosts as u64)
    .fetch_all(&mut *conn)
    .await?;
    let mut windows = Windows::new();
    let mut rows = 0u64;
    for (host, t) in newest {
        let start = chunk_start(utc(t));
        let end = start + CHUNK_WINDOW;
        let mut by_time: BTreeMap<NaiveDateTime, Sample> = BTreeMap::new();
        let host_rows = sqlx::query(
            "SELECT sampled_at, cpu_percent, cpu_cores, load1, load5, load15, mem_total_bytes, \
             mem_used_bytes, mem_available_bytes, mem_percent, swap_total_bytes, swap_used_bytes, \
             disk_read_bytes_per_sec, disk_write_bytes_per_sec, net_rx_bytes_per_sec, \
             net_tx_bytes_per_sec, uptime_secs, details FROM host_samples \
             WHERE machine_id = ? AND sampled_at >= ? AND sampled_at < ?",
        )
        .bind(host)
        .bind(db_time(start))
        .bind(db_time(end))
        .fetch_all(&mut *conn)
        .await?;
        for r in &host_rows {
            let at: NaiveDateTime = r.try_get("sampled_at")?;
            by_time.entry(at).or_insert_with(|| empty(at)).host = host_sample(r)?;
        }
        let container_rows = sqlx::query(
            "SELECT c.machine_id, c.sampled_at, c.state, c.health, c.restart_count, c.cpu_percent, c.mem_used_bytes, \
             c.mem_limit_bytes, c.mem_percent, c.net_rx_bytes_per_sec, c.net_tx_bytes_per_sec, \
             c.blk_read_bytes_per_sec, c.blk_write_bytes_per_sec, c.pids FROM container_samples c \
             JOIN machines m ON m.id = c.machine_id \
             WHERE m.host_machine_id = ? AND c.sampled_at >= ? AND c.sampled_at < ? ORDER BY c.machine_id",
        )
        .bind(host)
        .bind(db_time(start))
        .bind(db_time(end))
        .fetch_all(&mut *conn)
        .await?;
        let mut containers: Vec<u32> = Vec::new();
        for r in &container_rows {
            let at: NaiveDateTime = r.try_get("sampled_at")?;
            let c = container(r)?;
            if containers.last() != Some(&c.machine) {
                containers.push(c.machine);
            }
            by_time.entry(at).or_insert_with(|| empty(at)).containers.push(c);
        }
        rows += (host_rows.len() + container_rows.len()) as u64;
        windows.insert((host, start), by_time.into_values().collect());
        sqlx::query("DELETE FROM host_samples WHERE machine_id = ? AND sampled_at >= ? AND sampled_at < ?")
            .bind(host)
            .bind(db_time(start))
            .bind(db_time(end))
            .execute(&mut *conn)
            .await?;
        for c in containers {
            sqlx::query("DELETE FROM container_samples WHERE machine_id = ? AND sampled_at >= ? AND sampled_at < ?")
                .bind(c)
                .bind(db_time(start))
                .bind(db_time(end))
                .execute(&mut *conn)
                .await?;
        }
    }
    // windows come whole: written at the seal level
    let merged = merge_into_tiers(&mut *conn, windows, super::raw::SEAL_LEVEL).await?;
    if !merged.skipped_hosts.is_empty() {
        // a stored chunk of theirs cannot be decoded: leave their rows for a later step
        return Err(sqlx::Error::Protocol(format!(
            "legacy conversion: undecodable chunks of hosts {:?}",
            merged.skipped_hosts
        )));
    }
    Ok(Converted { rows, done: false })
}

fn empty(at: NaiveDateTime) -> Sample {
    Sample {
        at: utc(at),
        host: HostSample::default(),
        containers: Vec::new(),
    }
}

fn host_sample(r: &MySqlRow) -> Result<HostSample, sqlx::Error> {
    let details: Details = match opt_text(r, "details")? {
        Some(json) => serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        None => Details::default(),
    };
    Ok(HostSample {
        cpu_percent: widen(r.try_get("cpu_percent")?),
        cpu_cores: r.try_get::<Option<u16>, _>("cpu_cores")?.map(u32::from),
        per_core_percent: details.per_core_percent,
        load1: widen(r.try_get("load1")?),
        load5: widen(r.try_get("load5")?),
        load15: widen(r.try_get("load15")?),
        mem_total_bytes: r.try_get("mem_total_bytes")?,
        mem_used_bytes: r.try_get("mem_used_bytes")?,
        mem_available_bytes: r.try_get("mem_available_bytes")?,
        mem_percent: widen(r.try_get("mem_percent")?),
        swap_total_bytes: r.try_get("swap_total_bytes")?,
        swap_used_bytes: r.try_get("swap_used_bytes")?,
        disk_read_bytes_per_sec: widen(r.try_get("disk_read_bytes_per_sec")?),
        disk_write_bytes_per_sec: widen(r.try_get("disk_write_bytes_per_sec")?),
        net_rx_bytes_per_sec: widen(r.try_get("net_rx_bytes_per_sec")?),
        net_tx_bytes_per_sec: widen(r.try_get("net_tx_bytes_per_sec")?),
        interfaces: details.interfaces,
        filesystems: details.filesystems,
        temperatures_c: details.temperatures_c,
        uptime_secs: r.try_get::<Option<u32>, _>("uptime_secs")?.map(u64::from),
    })
}

fn container(r: &MySqlRow) -> Result<Container, sqlx::Error> {
    Ok(Container {
        machine: r.try_get("machine_id")?,
        state: text(r, "state")?,
        health: opt_text(r, "health")?,
        restart_count: r.try_get::<Option<u32>, _>("restart_count")?.map(u64::from),
        cpu_percent: widen(r.try_get("cpu_percent")?),
        mem_used_bytes: r.try_get("mem_used_bytes")?,
        mem_limit_bytes: r.try_get("mem_limit_bytes")?,
        mem_percent: widen(r.try_get("mem_percent")?),
        net_rx_bytes_per_sec: widen(r.try_get("net_rx_bytes_per_sec")?),
        net_tx_bytes_per_sec: widen(r.try_get("net_tx_bytes_per_sec")?),
        blk_read_bytes_per_sec: widen(r.try_get("blk_read_bytes_per_sec")?),
        blk_write_bytes_per_sec: widen(r.try_get("blk_write_bytes_per_sec")?),
        pids: r.try_get::<Option<u32>, _>("pids")?.map(u64::from),
    })
}
