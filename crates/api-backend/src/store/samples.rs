//! Reading one machine's samples: raw (from `raw_recent` and the chunks, merged by time) or in
//! buckets from a tier (raw samples bucketed on the fly, or the minute and hour rollups plus the
//! not yet compacted samples). Each read runs in one REPEATABLE READ snapshot, so a compaction
//! running meanwhile is seen whole or not at all.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use codec::Sample;
use sqlx::mysql::MySqlConnection;
use sqlx::{Connection, Executor};

use super::machines::Kind;
use super::raw::{self, CHUNK_WINDOW};
use super::read::{ContainerSampleView, HostSampleView, MachineRef, Samples};
use super::rollups::{self, Tier};
use super::Store;
use crate::error::{Error, Result};
use crate::rollup::{self, Bucket};

/// Where bucketed samples come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Raw,
    Rollup(Tier),
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Raw => "raw",
            Source::Rollup(t) => t.as_str(),
        }
    }
}

/// Chunks read per round trip while filling a page of raw samples.
const CHUNKS_PER_READ: u32 = 12;

impl Store {
    /// Runs `read` in a REPEATABLE READ transaction (one snapshot for all its statements).
    async fn snapshot<T>(
        &self,
        read: impl for<'c> FnOnce(&'c mut MySqlConnection) -> futures_util::future::BoxFuture<'c, Result<T, sqlx::Error>>,
    ) -> Result<T> {
        let mut conn = self.pool.acquire().await.map_err(Error::from_sqlx)?;
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .await
            .map_err(Error::from_sqlx)?;
        let mut tx = conn.begin().await.map_err(Error::from_sqlx)?;
        let out = read(&mut tx).await.map_err(Error::from_sqlx)?;
        tx.commit().await.map_err(Error::from_sqlx)?;
        Ok(out)
    }

    /// Raw samples of `m` in `[from, to)`, oldest first, at most `limit`; the flag tells whether
    /// more remain.
    pub async fn samples(
        &self,
        m: &MachineRef,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> Result<(Samples, bool)> {
        let want = limit as usize + 1;
        let (host, mine) = (m.host, m.clone());
        let found = self
            .snapshot(move |conn| {
                Box::pin(async move {
                    let mut out: Vec<Sample> = Vec::new();
                    let mut cursor = from;
                    // chunks in time order until the page is full (or none are left)
                    loop {
                        let read = raw::read_chunks(conn, host, cursor, to, CHUNKS_PER_READ).await?;
                        let n = read.len() as u32;
                        for (start, payload) in read {
                            out.extend(
                                decoded(&payload, &mine)
                                    .into_iter()
                                    .filter(|s| s.at >= from && s.at < to && holds(&mine, s)),
                            );
                            cursor = start + CHUNK_WINDOW;
                        }
                        if n < CHUNKS_PER_READ || out.len() >= want {
                            break;
                        }
                    }
                    let recent_to = if out.len() >= want { cursor.min(to) } else { to };
                    for payload in raw::read_recent(conn, host, from, recent_to).await? {
                        out.extend(decoded(&payload, &mine).into_iter().filter(|s| holds(&mine, s)));
                    }
                    Ok(out)
                })
            })
            .await?;
        let mut samples = by_time(found);
        let more = samples.len() > limit as usize;
        samples.truncate(limit as usize);
        Ok((view(m, &samples), more))
    }

    /// Buckets of `width` (a multiple of the source's resolution) of `m` in `[from, to)`, with
    /// the `metrics` (indexes into the kind's rollup metrics) filled in.
    pub async fn buckets(
        &self,
        m: &MachineRef,
        source: Source,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        width: TimeDelta,
        metrics: Vec<usize>,
    ) -> Result<Vec<Bucket>> {
        let (host, id, kind, mine) = (m.host, m.id, m.kind, m.clone());
        let buckets = self
            .snapshot(move |conn| {
                Box::pin(async move {
                    let mut into: BTreeMap<rollup::Key, Bucket> = BTreeMap::new();
                    let recent = raw::read_recent(conn, host, from, to).await?;
                    let mut samples: Vec<Sample> = recent.iter().flat_map(|p| decoded(p, &mine)).collect();
                    let stored = match source {
                        Source::Raw => {
                            let mut cursor = from;
                            loop {
                                let read = raw::read_chunks(conn, host, cursor, to, CHUNKS_PER_READ).await?;
                                let n = read.len() as u32;
                                for (start, payload) in read {
                                    samples.extend(decoded(&payload, &mine));
                                    cursor = start + CHUNK_WINDOW;
                                }
                                if n < CHUNKS_PER_READ {
                                    break;
                                }
                            }
                            Vec::new()
                        }
                        Source::Rollup(tier) => rollups::read(conn, tier, kind, id, from, to, &metrics).await?,
                    };
                    let samples: Vec<Sample> = by_time(samples)
                        .into_iter()
                        .filter(|s| s.at >= from && s.at < to)
                        .collect();
                    rollup::aggregate(host, &samples, width, rollup::Machines::One(kind, id), &mut into);
                    let mut out: Vec<Bucket> = into
                        .into_iter()
                        .filter(|(k, _)| k.kind == kind && k.machine == id)
                        .map(|(_, b)| b)
                        .collect();
                    out.extend(stored);
                    out.sort_by_key(|b| b.start);
                    Ok(out)
                })
            })
            .await?;
        Ok(rollup::coarsen(buckets, width))
    }
}

/// Does this host sample have a value of `m` (always, for the host itself)?
fn holds(m: &MachineRef, s: &Sample) -> bool {
    m.kind == Kind::Host || s.containers.iter().any(|c| c.machine == m.id)
}

/// A row's samples of `m`; a row that cannot be decoded is skipped (and logged). Only `m`'s
/// part is decoded: for a host its own values, for a container that container's.
fn decoded(payload: &[u8], m: &MachineRef) -> Vec<Sample> {
    let parts = match m.kind {
        Kind::Host => codec::Parts::Host,
        Kind::Container => codec::Parts::Container(m.id),
    };
    codec::decode_frames_of(payload, parts).unwrap_or_else(|e| {
        tracing::error!(host = m.host, error = %e, "stored samples cannot be decoded; skipped");
        Vec::new()
    })
}

/// Sorted by time, one sample per time (a sample read both from `raw_recent` and its chunk is
/// the same sample).
fn by_time(mut samples: Vec<Sample>) -> Vec<Sample> {
    samples.sort_by_key(|s| s.at);
    samples.dedup_by_key(|s| s.at);
    samples
}

/// The samples of `m` among its host's samples, as the API shows them.
fn view(m: &MachineRef, samples: &[Sample]) -> Samples {
    match m.kind {
        Kind::Host => Samples::Host(
            samples
                .iter()
                .map(|s| HostSampleView {
                    sampled_at: s.at,
                    host: s.host.clone(),
                })
                .collect(),
        ),
        Kind::Container => Samples::Container(
            samples
                .iter()
                .filter_map(|s| {
                    let c = s.containers.iter().find(|c| c.machine == m.id)?;
                    Some(ContainerSampleView {
                        sampled_at: s.at,
                        state: c.state.clone(),
                        health: c.health.clone(),
                        restart_count: c.restart_count.map(|v| u32::try_from(v).unwrap_or(u32::MAX)),
                        cpu_percent: c.cpu_percent,
                        mem_used_bytes: c.mem_used_bytes,
                        mem_limit_bytes: c.mem_limit_bytes,
                        mem_percent: c.mem_percent,
                        net_rx_bytes_per_sec: c.net_rx_bytes_per_sec,
                        net_tx_bytes_per_sec: c.net_tx_bytes_per_sec,
                        blk_read_bytes_per_sec: c.blk_read_bytes_per_sec,
                        blk_write_bytes_per_sec: c.blk_write_bytes_per_sec,
                        pids: c.pids.map(|v| u32::try_from(v).unwrap_or(u32::MAX)),
                    })
                })
                .collect(),
        ),
    }
}
