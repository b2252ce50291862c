//! Compaction: moves samples older than the cutoff from `raw_recent` into their chunks in
//! `raw_chunks`, and folds the samples new to a chunk into the minute and hour rollups, all in
//! one transaction per step of sample time, so a crash leaves every sample in exactly one place
//! and counted once. A window still filling grows by one appended frame per pass; once it ended
//! it is rewritten as one frame (in transactions of its own). A sample whose host already has
//! one at the same time is dropped (the first stored wins). The legacy conversion merges
//! through the same path.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use codec::Sample;
use sqlx::mysql::MySqlConnection;

use super::columns::{db_time, utc};
use super::raw::{self, ChunkRow};
use super::rollups::{self, Tier};
use super::Store;
use crate::error::{Error, Result};
use crate::rollup::{self, Bucket, Key};

/// How much time of a backlog one compaction step takes at most (whole chunk windows).
const SPAN: TimeDelta = TimeDelta::hours(1);
/// Host-hours of samples one step holds at most: a step of more hosts than this is shorter
/// than [`SPAN`] (at a 1 s tick, 25 host-hours are 90,000 records in one transaction).
const HOST_HOURS: i32 = 25;
/// Hosts whose ended windows are sealed per transaction.
const SEAL_HOSTS: usize = 25;
/// How far behind the most advanced host a pass waits for the others (see [`Progress`]).
pub const WAIT_FOR_HOSTS: TimeDelta = TimeDelta::minutes(2);
/// A host is waited for while its newest sample moved within this long.
const MOVING: Duration = Duration::from_secs(5);
/// Tries of one group before the pass gives up on it (it is tried again next pass).
const ATTEMPTS: u32 = 5;

/// Samples of one host for one chunk window, keyed (host, window start).
pub type Windows = BTreeMap<(u32, DateTime<Utc>), Vec<Sample>>;
/// One entry of [`Windows`].
type Window = ((u32, DateTime<Utc>), Vec<Sample>);

/// The newest cutoff any compaction may have used: records sampled before it may already be in
/// a chunk, so ingest looks there for duplicates. Starts at the process's start time (an
/// earlier process may have compacted anything older).
#[derive(Debug)]
pub struct Watermark(AtomicI64);

impl Default for Watermark {
    fn default() -> Self {
        Watermark(AtomicI64::new(Utc::now().timestamp_millis()))
    }
}

impl Watermark {
    pub fn get(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0.load(Ordering::SeqCst)).unwrap_or_default()
    }

    /// Raised before a pass reads anything, so no ingest can miss a chunk it writes.
    fn raise(&self, to: DateTime<Utc>) {
        self.0.fetch_max(to.timestamp_millis(), Ordering::SeqCst);
    }
}

/// Each host's newest sample in `raw_recent` as the last pass saw it, and when it last moved.
///
/// Records that arrive unevenly (a backlog replayed after an outage comes per Kafka partition,
/// some hosts ahead of others) would have compaction write the rollup rows of the hosts behind
/// between rows already written (the key is time first), splitting half-full pages. So a pass
/// takes no more than the newest sample of the host furthest behind among those still moving,
/// unless that host is more than [`WAIT_FOR_HOSTS`] behind the most advanced one. A host whose
/// newest sample has not moved for [`MOVING`] is not waited for (it stopped, or the backlog
/// ended), nor is any host at a process's first pass. Live hosts are far ahead of the cutoff
/// (STORAGE_COMPACT_AFTER, 10m), so there the cutoff is the bound.
#[derive(Debug, Default)]
pub struct Progress(Mutex<HashMap<u32, (NaiveDateTime, Option<Instant>)>>);

impl Progress {
    /// Notes `newest` (host, newest sample) seen `now`; the bound for this pass, if any.
    fn bound(&self, newest: &[(u32, NaiveDateTime)], now: Instant) -> Option<DateTime<Utc>> {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut moving: Option<NaiveDateTime> = None;
        let mut ahead: Option<NaiveDateTime> = None;
        let mut next = HashMap::with_capacity(newest.len());
        for &(host, at) in newest {
            let moved = match seen.get(&host) {
                Some(&(before, since)) if before == at => since,
                Some(_) => Some(now),
                None => None, // first seen: not known to move
            };
            if moved.is_some_and(|m| now.duration_since(m) < MOVING) {
                moving = Some(moving.map_or(at, |m| m.min(at)));
            }
            ahead = Some(ahead.map_or(at, |a| a.max(at)));
            next.insert(host, (at, moved));
        }
        *seen = next;
        // the laggard's newest sample included
        Some((utc(moving?) + TimeDelta::milliseconds(1)).max(utc(ahead?) - WAIT_FOR_HOSTS))
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    /// Records moved out of `raw_recent`.
    pub records: u64,
    /// Samples new to their chunk (the others were duplicates by host and time).
    pub added: u64,
    pub chunks: u64,
    pub retries: u32,
    /// Hosts left for the next pass because a stored chunk of theirs could not be decoded.
    pub skipped: u64,
    /// Recent rows that could not be decoded (dropped, and logged).
    pub undecodable: u64,
}

/// The merge of one window: the chunk's samples in time order, and those new to it.
pub fn merge(existing: Vec<Sample>, incoming: Vec<Sample>) -> (Vec<Sample>, Vec<Sample>) {
    let mut times: HashSet<i64> = existing.iter().map(|s| s.at.timestamp_millis()).collect();
    let added: Vec<Sample> = incoming
        .into_iter()
        .filter(|s| times.insert(s.at.timestamp_millis()))
        .collect();
    let mut all = existing;
    all.extend(added.iter().cloned());
    all.sort_by_key(|s| s.at);
    (all, added)
}

impl Store {
    /// Compacts every sample older than `cutoff`. A backlog (an outage of compaction, a
    /// backfill) goes a step at a time, oldest first: [`SPAN`], or less when it has more than
    /// [`HOST_HOURS`] hosts, so one transaction holds at most that many host-hours of records.
    /// All hosts of a step go in one transaction so that its rollup rows are written in key
    /// order (time first): appended, where groups of hosts would interleave and split pages.
    /// For the same reason a pass waits for hosts that are behind (see [`Progress`]).
    pub async fn compact(&self, cutoff: DateTime<Utc>) -> Result<Pass> {
        self.watermark.raise(cutoff);
        let mut conn = self.pool.acquire().await.map_err(Error::from_sqlx)?;
        let newest = raw::newest_per_host(&mut conn).await.map_err(Error::from_sqlx)?;
        drop(conn);
        let cutoff = self
            .progress
            .bound(&newest, Instant::now())
            .map_or(cutoff, |bound| bound.min(cutoff));
        let mut pass = Pass::default();
        let mut from = NaiveDateTime::default(); // 1970: no record is older (RETENTION_RAW)
        loop {
            // the next step starts at the oldest row not behind it: rows a step left (a host
            // whose chunk cannot be decoded) do not hold the others back, gaps are skipped
            let mut conn = self.pool.acquire().await.map_err(Error::from_sqlx)?;
            let oldest = raw::oldest_recent(&mut conn, from).await.map_err(Error::from_sqlx)?;
            drop(conn);
            let Some(oldest) = oldest.filter(|t| utc(*t) < cutoff) else {
                return Ok(pass);
            };
            let upto = (raw::chunk_start(utc(oldest)) + SPAN).min(cutoff);
            let mut conn = self.pool.acquire().await.map_err(Error::from_sqlx)?;
            let hosts = raw::hosts_with_recent_before(&mut conn, db_time(upto))
                .await
                .map_err(Error::from_sqlx)?;
            drop(conn);
            let n = i32::try_from(hosts.len()).unwrap_or(i32::MAX);
            let upto = if n > HOST_HOURS {
                let step = (SPAN * HOST_HOURS / n).max(TimeDelta::seconds(1));
                upto.min(utc(oldest) + step)
            } else {
                upto
            };
            self.compact_step(&hosts, db_time(upto), &mut pass).await?;
            from = db_time(upto);
        }
    }

    /// Compacts the samples of `hosts` older than `before` in one transaction (tried again
    /// when it conflicts with ingest), then seals their windows that ended.
    async fn compact_step(&self, hosts: &[u32], before: NaiveDateTime, pass: &mut Pass) -> Result<()> {
        let mut attempt = 0;
        let done = loop {
            match self.compact_hosts(hosts, before).await {
                Ok(done) => break done,
                Err(e) if attempt + 1 < ATTEMPTS && super::write::is_conflict(&e) => {
                    attempt += 1;
                    pass.retries += 1;
                    tracing::debug!(error = %e, attempt, "compaction conflicted with ingest, retrying");
                }
                Err(e) => return Err(Error::from_sqlx(e)),
            }
        };
        pass.records += done.pass.records;
        pass.added += done.pass.added;
        pass.chunks += done.pass.chunks;
        pass.skipped += done.pass.skipped;
        pass.undecodable += done.pass.undecodable;
        let hosts: Vec<u32> = hosts
            .iter()
            .copied()
            .filter(|h| !done.skipped_hosts.contains(h))
            .collect();
        for group in hosts.chunks(SEAL_HOSTS) {
            let mut tx = self.pool.begin().await.map_err(Error::from_sqlx)?;
            pass.chunks += seal(&mut tx, group, utc(before), &done.touched)
                .await
                .map_err(Error::from_sqlx)?;
            tx.commit().await.map_err(Error::from_sqlx)?;
        }
        Ok(())
    }

    /// Rewrites as one frame (at the seal level) up to `max` chunks of several frames whose
    /// window ended before `before`: those of hosts that stopped sending, which no compaction
    /// pass seals. Returns how many.
    pub async fn seal_stale(&self, before: DateTime<Utc>, max: u32) -> Result<u64> {
        let mut tx = self.pool.begin().await.map_err(Error::from_sqlx)?;
        let keys: Vec<(u32, NaiveDateTime)> = sqlx::query_as(
            "SELECT host_machine_id, chunk_start FROM raw_chunks WHERE segments > 1 AND chunk_start < ? LIMIT ?",
        )
        .bind(db_time(before - raw::CHUNK_WINDOW))
        .bind(max)
        .fetch_all(&mut *tx)
        .await
        .map_err(Error::from_sqlx)?;
        let n = rewrite_whole(&mut tx, &keys, raw::SEAL_LEVEL)
            .await
            .map_err(Error::from_sqlx)?;
        tx.commit().await.map_err(Error::from_sqlx)?;
        Ok(n)
    }

    async fn compact_hosts(&self, hosts: &[u32], before: NaiveDateTime) -> Result<Step, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let mut deltas = Deltas::default();
        let mut pass = Pass::default();
        let mut skipped_hosts = HashSet::new();
        let mut touched = HashSet::new();
        let mut ranges: Vec<(u32, NaiveDateTime, NaiveDateTime)> = Vec::new();
        let mut expect = 0u64;
        // a group of hosts at a time: only its samples are decoded at once, however many
        // hosts the step holds; the rollups of all of them are written once, at the end
        for group in hosts.chunks(GROUP_HOSTS) {
            let rows = raw::recent_before(&mut tx, group, before).await?;
            let (windows, group_ranges, undecodable) = off_workers(move || decode_rows(rows)).await;
            pass.undecodable += undecodable;
            let (merged, d) = merge_chunks(&mut tx, windows, raw::CHUNK_LEVEL, deltas).await?;
            deltas = d;
            // rows of skipped windows stay for the next pass
            for (host, (from, to, n)) in group_ranges {
                if !merged.skipped_hosts.contains(&host) {
                    ranges.push((host, from, to));
                    expect += n;
                }
            }
            pass.added += merged.added;
            pass.chunks += merged.chunks;
            skipped_hosts.extend(merged.skipped_hosts);
            touched.extend(merged.touched);
        }
        deltas.write(&mut tx).await?;
        let deleted = raw::delete_recent(&mut tx, &ranges).await?;
        if deleted != expect {
            // a late row was inserted into one of the ranges meanwhile: it would be lost
            tx.rollback().await?;
            return Err(sqlx::Error::RowNotFound);
        }
        tx.commit().await?;
        pass.records = deleted;
        pass.skipped = skipped_hosts.len() as u64;
        Ok(Step {
            pass,
            skipped_hosts,
            touched,
        })
    }
}

/// Hosts whose recent rows one compaction step decodes at once (a step of thousands of hosts
/// held them all decoded: 90,000 records of ten containers took the backend past 1.4 GB).
const GROUP_HOSTS: usize = 100;

/// Per host, the first and last sample time of a group's rows and how many rows.
type Ranges = BTreeMap<u32, (NaiveDateTime, NaiveDateTime, u64)>;

/// Decodes recent rows into their windows; also each host's range of rows and the number of
/// rows that could not be decoded (dropped, and logged).
fn decode_rows(rows: Vec<(u32, NaiveDateTime, Vec<u8>)>) -> (Windows, Ranges, u64) {
    let mut windows = Windows::new();
    let mut ranges = Ranges::new();
    let mut undecodable = 0u64;
    for (host, at, payload) in rows {
        let range = ranges.entry(host).or_insert((at, at, 0));
        range.0 = range.0.min(at);
        range.1 = range.1.max(at);
        range.2 += 1;
        match codec::decode_frames(&payload) {
            Ok(samples) => {
                for s in samples {
                    windows.entry((host, raw::chunk_start(s.at))).or_default().push(s);
                }
            }
            Err(e) => {
                undecodable += 1;
                tracing::error!(host, at = %utc(at), error = %e, "a recent row cannot be decoded; dropped");
            }
        }
    }
    (windows, ranges, undecodable)
}

/// What one step's transaction did, and what its sealing needs.
struct Step {
    pass: Pass,
    skipped_hosts: HashSet<u32>,
    touched: HashSet<(u32, NaiveDateTime)>,
}

/// What [`merge_into_tiers`] wrote.
pub struct Merged {
    pub added: u64,
    pub chunks: u64,
    /// Hosts with a window whose stored chunk could not be decoded: nothing of theirs written.
    pub skipped_hosts: HashSet<u32>,
    /// The windows that got samples (they may get more: not sealed yet).
    pub touched: HashSet<(u32, NaiveDateTime)>,
}

/// Merges samples into their chunks (written at `level`), and the samples new to a chunk into
/// the minute and hour rollups. The caller owns the transaction.
pub async fn merge_into_tiers(
    conn: &mut MySqlConnection,
    windows: Windows,
    level: codec::Level,
) -> Result<Merged, sqlx::Error> {
    let (merged, deltas) = merge_chunks(&mut *conn, windows, level, Deltas::default()).await?;
    deltas.write(conn).await?;
    Ok(merged)
}

/// Rollup changes not written yet, per tier.
#[derive(Default)]
pub struct Deltas(HashMap<Tier, BTreeMap<Key, Bucket>>);

impl Deltas {
    /// Folds `samples` of `host` (new to their chunk) into every tier.
    fn add(&mut self, host: u32, samples: &[Sample]) {
        for tier in Tier::ALL {
            rollup::aggregate(
                host,
                samples,
                tier.width(),
                rollup::Machines::All,
                self.0.entry(tier).or_default(),
            );
        }
    }

    /// Merges the changes into the stored rollup rows, in key order.
    async fn write(self, conn: &mut MySqlConnection) -> Result<(), sqlx::Error> {
        for (tier, delta) in self.0 {
            let keys: Vec<Key> = delta.keys().copied().collect();
            let mut stored = rollups::get(&mut *conn, tier, &keys).await?;
            let merged: Vec<(Key, Bucket)> = delta
                .into_iter()
                .map(|(k, d)| match stored.remove(&k) {
                    Some(mut b) => {
                        b.merge(&d);
                        (k, b)
                    }
                    None => (k, d),
                })
                .collect();
            rollups::put(&mut *conn, tier, &merged).await?;
        }
        Ok(())
    }
}

/// Merges samples into their chunks (written at `level`) and folds the samples new to a chunk
/// into `deltas`, returned with what was written. Samples all newer than a chunk's last one are
/// appended to it as a frame (nothing stored is decoded); others are merged by time and the
/// chunk written back whole. The caller owns the transaction.
async fn merge_chunks(
    conn: &mut MySqlConnection,
    windows: Windows,
    level: codec::Level,
    deltas: Deltas,
) -> Result<(Merged, Deltas), sqlx::Error> {
    let keys: Vec<(u32, NaiveDateTime)> = windows.keys().map(|(h, w)| (*h, db_time(*w))).collect();
    let spans = raw::chunk_spans(&mut *conn, &keys).await?;
    // windows whose incoming samples are not all newer than the chunk: merged whole
    let mut appends: Vec<Window> = Vec::new();
    let mut rewrites: Vec<Window> = Vec::new();
    for ((host, start), mut incoming) in windows {
        incoming.sort_by_key(|s| s.at);
        incoming.dedup_by_key(|s| s.at);
        let newer = match spans.get(&(host, db_time(start))) {
            None => true,
            Some(span) => incoming.first().is_some_and(|s| db_time(s.at) > span.last_at),
        };
        if newer {
            appends.push(((host, start), incoming));
        } else {
            rewrites.push(((host, start), incoming));
        }
    }
    let rewrite_keys: Vec<(u32, NaiveDateTime)> = rewrites.iter().map(|((h, w), _)| (*h, db_time(*w))).collect();
    let stored = raw::chunk_payloads(&mut *conn, &rewrite_keys).await?;
    // decoding, merging, encoding and folding into the rollups off the async workers; the
    // samples are dropped there
    let (whole, appended, skipped_hosts, added, deltas) = off_workers(move || {
        let mut deltas = deltas;
        let mut skipped_hosts = HashSet::new();
        let mut whole = Vec::new();
        let mut added_total = 0u64;
        for ((host, start), incoming) in rewrites {
            let existing = match stored.get(&(host, db_time(start))).map(|p| codec::decode_frames(p)) {
                None => Vec::new(),
                Some(Ok(samples)) => samples,
                Some(Err(e)) => {
                    tracing::error!(host, chunk = %start, error = %e, "a stored chunk cannot be decoded; its host's new samples wait");
                    skipped_hosts.insert(host);
                    continue;
                }
            };
            let (all, added) = merge(existing, incoming);
            if !added.is_empty() {
                whole.push(chunk_row(host, start, &all, level));
                added_total += added.len() as u64;
                deltas.add(host, &added);
            }
        }
        let mut appended = Vec::new();
        for ((host, start), incoming) in appends {
            if skipped_hosts.contains(&host) || incoming.is_empty() {
                continue;
            }
            appended.push(chunk_row(host, start, &incoming, level));
            added_total += incoming.len() as u64;
            deltas.add(host, &incoming);
        }
        (whole, appended, skipped_hosts, added_total, deltas)
    })
    .await;
    raw::put_chunks(&mut *conn, &whole, raw::Put::Replace).await?;
    raw::put_chunks(&mut *conn, &appended, raw::Put::Append).await?;
    // windows of many frames are rewritten as one (each frame repeats what a chunk's columns
    // start with), however far from done they are
    let crowded: Vec<(u32, NaiveDateTime)> = appended
        .iter()
        .filter(|r| {
            spans
                .get(&(r.host, r.start))
                .is_some_and(|s| s.segments + 1 >= MAX_FRAMES)
        })
        .map(|r| (r.host, r.start))
        .collect();
    let rewritten = rewrite_whole(&mut *conn, &crowded, raw::CHUNK_LEVEL).await?;
    let merged = Merged {
        added,
        chunks: (whole.len() + appended.len()) as u64 + rewritten,
        skipped_hosts,
        // a window that got samples now may get more (a backfill fills it over many passes)
        touched: keys.into_iter().collect(),
    };
    Ok((merged, deltas))
}

/// How far back a window may still be waiting to be rewritten as one frame.
const SEAL_LOOKBACK: TimeDelta = TimeDelta::days(1);
/// A window with this many frames is rewritten as one while it still fills.
const MAX_FRAMES: u16 = 8;

/// Rewrites as one frame the chunks of `hosts` with several frames whose window ended before
/// `before`, but for the `touched` ones; returns how many.
async fn seal(
    conn: &mut MySqlConnection,
    hosts: &[u32],
    before: DateTime<Utc>,
    touched: &HashSet<(u32, NaiveDateTime)>,
) -> Result<u64, sqlx::Error> {
    let ended_before = before - raw::CHUNK_WINDOW;
    let mut keys = raw::unsealed(
        &mut *conn,
        hosts,
        db_time(ended_before - SEAL_LOOKBACK),
        db_time(ended_before),
    )
    .await?;
    keys.retain(|k| !touched.contains(k));
    rewrite_whole(conn, &keys, raw::SEAL_LEVEL).await
}

/// Rewrites the chunks named by `keys` as one frame each; returns how many.
async fn rewrite_whole(
    conn: &mut MySqlConnection,
    keys: &[(u32, NaiveDateTime)],
    level: codec::Level,
) -> Result<u64, sqlx::Error> {
    if keys.is_empty() {
        return Ok(0);
    }
    let payloads = raw::chunk_payloads(&mut *conn, keys).await?;
    let rows = off_workers(move || {
        let mut rows = Vec::new();
        for ((host, start), payload) in payloads {
            match codec::decode_frames(&payload) {
                Ok(samples) => rows.push(chunk_row(host, utc(start), &samples, level)),
                Err(e) => {
                    tracing::error!(host, chunk = %utc(start), error = %e, "a stored chunk cannot be decoded; left as it is")
                }
            }
        }
        rows
    })
    .await;
    raw::put_chunks(&mut *conn, &rows, raw::Put::Replace).await?;
    Ok(rows.len() as u64)
}

/// Runs `work` (decoding and encoding chunks, folding samples into rollups: compaction's CPU)
/// on the compaction thread, off the async workers, so they go on answering queries and
/// ingest meanwhile. That thread runs at a lower CPU priority (nice +10): when the cores are
/// busy, ingest and alerting go first, and compaction, which has a whole interval for a pass,
/// waits (the soak at 2,000 hosts took alert latency p99 past 0.5 s while compaction ran beside
/// ingest at the same priority).
async fn off_workers<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)));
    });
    compaction_thread()
        .send(job)
        .expect("the compaction thread runs for the life of the process");
    match rx.await {
        Ok(Ok(out)) => out,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("the compaction thread dropped a job"),
    }
}

/// Work for the compaction thread.
type Job = Box<dyn FnOnce() + Send>;

/// The compaction thread's queue; the thread starts at the first job.
fn compaction_thread() -> &'static std::sync::mpsc::Sender<Job> {
    static QUEUE: std::sync::OnceLock<std::sync::mpsc::Sender<Job>> = std::sync::OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("srmon-compact".into())
            .spawn(move || {
                // on Linux a thread id names one thread: only this one is lowered
                let tid = rustix::thread::gettid();
                if let Err(e) = rustix::process::setpriority_process(Some(tid), COMPACTION_NICE) {
                    tracing::warn!(error = %e, "cannot lower the compaction thread's CPU priority");
                }
                for job in rx {
                    job();
                }
            })
            .expect("start the compaction thread");
        tx
    })
}

/// The compaction thread's nice value.
const COMPACTION_NICE: i32 = 10;

/// A chunk row of one frame holding `samples` (time order).
fn chunk_row(host: u32, start: DateTime<Utc>, samples: &[Sample], level: codec::Level) -> ChunkRow {
    ChunkRow {
        host,
        start: db_time(start),
        first_at: db_time(samples.first().map_or(start, |s| s.at)),
        last_at: db_time(samples.last().map_or(start, |s| s.at)),
        samples: samples.len() as u32,
        containers: samples.iter().map(|s| s.containers.len() as u32).sum(),
        segments: 1,
        payload: codec::frame(samples, level),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ms: i64, cpu: f64) -> Sample {
        Sample {
            at: DateTime::from_timestamp_millis(ms).unwrap(),
            host: common::wire::HostSample {
                cpu_percent: Some(cpu),
                ..Default::default()
            },
            containers: vec![],
        }
    }

    fn t(s: &str) -> NaiveDateTime {
        db_time(common::timefmt::parse(s).unwrap())
    }

    #[test]
    fn a_pass_waits_for_moving_hosts_behind_but_not_for_long() {
        let p = Progress::default();
        let start = Instant::now();
        // first seen: nobody is known to move, no bound
        assert_eq!(
            p.bound(&[(1, t("2026-01-01T10:00:00Z")), (2, t("2026-01-01T10:01:00Z"))], start),
            None
        );
        // both moved: up to the laggard's newest sample (included)
        let now = start + Duration::from_secs(1);
        let bound = p.bound(&[(1, t("2026-01-01T10:00:10Z")), (2, t("2026-01-01T10:01:30Z"))], now);
        assert_eq!(bound, Some(utc(t("2026-01-01T10:00:10Z")) + TimeDelta::milliseconds(1)));
        // a laggard more than WAIT_FOR_HOSTS behind the leader holds nobody back beyond it
        let now = now + Duration::from_secs(1);
        let bound = p.bound(&[(1, t("2026-01-01T10:00:20Z")), (2, t("2026-01-01T10:05:00Z"))], now);
        assert_eq!(bound, Some(utc(t("2026-01-01T10:05:00Z")) - WAIT_FOR_HOSTS));
        // host 1 stopped moving: after MOVING it is not waited for; host 2 still moves
        let later = now + MOVING;
        let bound = p.bound(&[(1, t("2026-01-01T10:00:20Z")), (2, t("2026-01-01T10:05:01Z"))], later);
        assert_eq!(bound, Some(utc(t("2026-01-01T10:05:01Z")) + TimeDelta::milliseconds(1)));
        // nothing moves any more (the backlog ended): no bound, everything goes
        assert_eq!(p.bound(&[(2, t("2026-01-01T10:05:01Z"))], later + MOVING), None);
    }

    #[test]
    fn the_first_stored_sample_of_a_time_wins_and_order_is_restored() {
        let (all, added) = merge(
            vec![s(1000, 1.0), s(3000, 3.0)],
            vec![s(2000, 2.0), s(3000, 9.0), s(2000, 8.0)],
        );
        let times: Vec<i64> = all.iter().map(|s| s.at.timestamp_millis()).collect();
        assert_eq!(times, [1000, 2000, 3000]);
        assert_eq!(all[2].host.cpu_percent, Some(3.0));
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].host.cpu_percent, Some(2.0));
    }
}
