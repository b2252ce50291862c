//! The ingest transaction: one per batch, all or nothing. A record is new unless its id is in
//! `raw_recent` or its host already has a sample at the same time (in `raw_recent` or, for a
//! record older than the compaction watermark, in its chunk). The (host, time) check against
//! `raw_recent` is left to its unique key: a batch that hits it is retried with the check done
//! first (so the common batch saves a query as wide as itself). Machines are created or
//! refreshed, each new record becomes one `raw_recent` row (its host and containers encoded
//! together), events are inserted with multi-row statements. A conflict with a concurrent batch
//! (the same record, a deadlock) rolls back and retries the whole batch.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use common::backoff::Backoff;
use common::wire::Record;
use sqlx::mysql::MySqlConnection;
use sqlx::{MySql, QueryBuilder};

use super::columns::{clip, db_time, u32_of, utc, CHUNK};
use super::machines::{self, Kind, NewContainer, Row};
use super::plan::Plan;
use super::raw::{self, RecentRow};
use super::Store;
use crate::error::{Error, Result};

/// Retry delays after a conflict with a concurrent batch.
const CONFLICT_BACKOFF_FIRST: Duration = Duration::from_millis(40);
const CONFLICT_BACKOFF_MAX: Duration = Duration::from_millis(1280);

/// Tries of one batch before a persistent conflict is reported as unavailable.
const ATTEMPTS: u32 = 5;

/// What one attempt's statements came to.
enum Step {
    Done(Attempt),
    /// Every record was stored before.
    Seen,
    /// A plain attempt found one of its records compacted already: roll back, and try again
    /// looking before inserting.
    Careful,
}

/// Per record stored-now or not, machine ids found, machine rows written, newest sample time
/// per machine: what to cache once the transaction committed.
type Attempt = (
    Vec<bool>,
    Vec<(Kind, String, u32)>,
    Vec<(u32, machines::Written)>,
    Vec<(u32, NaiveDateTime)>,
);

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
    pub async fn store_batch(&self, records: &[Record]) -> Result<Written> {
        let mut retries = 0;
        let mut careful = false;
        // doubling delays with jitter, so two conflicting batches do not meet again
        let mut conflicts = Backoff::new(CONFLICT_BACKOFF_FIRST, CONFLICT_BACKOFF_MAX);
        loop {
            match self.try_store(records, careful).await {
                Ok(Some((new, found, written, seen))) => {
                    if records.iter().any(|r| !r.events.is_empty()) {
                        self.machines.changed(); // a removal, maybe
                    }
                    self.machines.remember(found, written);
                    self.machines.note_seen(seen);
                    return Ok(Written { new, retries });
                }
                // a late record matched a compacted sample: again, looking before inserting
                Ok(None) if !careful => careful = true,
                Ok(None) => unreachable!("a careful attempt decides every record"),
                Err(e) if retries + 1 < ATTEMPTS && is_conflict(&e) => {
                    retries += 1;
                    // a sample of the same host and time is stored: look for it first next time
                    careful |= is_duplicate_key(&e);
                    tracing::debug!(error = %e, retries, "ingest transaction conflicted, retrying");
                    tokio::time::sleep(conflicts.next_delay()).await;
                }
                Err(e) => return Err(Error::from_sqlx(e)),
            }
        }
    }

    /// One attempt: the transaction commits, or is rolled back before this returns (so its
    /// locks never outlive the attempt).
    /// `None`: try again carefully (see [`Step::Careful`]).
    async fn try_store(&self, records: &[Record], careful: bool) -> Result<Option<Attempt>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        match self.write(&mut tx, records, careful).await {
            Ok(Step::Done(done)) => {
                tx.commit().await?;
                Ok(Some(done))
            }
            Ok(Step::Seen) => {
                tx.rollback().await?;
                Ok(Some((vec![false; records.len()], Vec::new(), Vec::new(), Vec::new())))
            }
            Ok(Step::Careful) => {
                tx.rollback().await?;
                Ok(None)
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
    async fn write(&self, conn: &mut MySqlConnection, records: &[Record], careful: bool) -> Result<Step, sqlx::Error> {
        let keys: Vec<raw::RecordKey> = records.iter().map(|r| raw::record_key(&r.record_id)).collect();
        let known = raw::existing_keys(&mut *conn, &keys).await?;
        let candidates: Vec<usize> = (0..records.len()).filter(|i| !known.contains(&keys[*i])).collect();
        if candidates.is_empty() {
            return Ok(Step::Seen);
        }
        // hosts first: a sample is a duplicate when its host already has one at the same time
        let host_plan = Plan::build(&candidates.iter().map(|i| &records[*i]).collect::<Vec<_>>());
        let host_rows: Vec<Row<'_>> = host_plan.hosts.iter().map(|(ext, h)| host_row(ext, h)).collect();
        let hosts = machines::ensure(&mut *conn, &self.machines, Kind::Host, &host_rows).await?;
        // careful: look before inserting (a plain attempt lets the unique key of raw_recent tell,
        // and looks at the chunks after inserting)
        let taken = match careful {
            true => self.taken_times(&mut *conn, records, &candidates, &hosts.ids).await?,
            false => HashSet::new(),
        };
        let mut seen = HashSet::new();
        let mut new = vec![false; records.len()];
        for i in &candidates {
            let r = &records[*i];
            let Some(host) = hosts.ids.get(r.host_id.as_str()) else {
                continue;
            };
            let at = db_time(r.sampled_at);
            if !taken.contains(&(*host, at)) && seen.insert((*host, at)) {
                new[*i] = true;
            }
        }
        let fresh: Vec<&Record> = records.iter().zip(&new).filter(|(_, n)| **n).map(|(r, _)| r).collect();
        if fresh.is_empty() {
            return Ok(Step::Seen);
        }
        let plan = Plan::build(&fresh);

        let host_rows: Vec<Row<'_>> = plan.hosts.iter().map(|(ext, h)| host_row(ext, h)).collect();
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

        let rows = recent_rows(&fresh, &hosts.ids, &containers.ids);
        raw::insert_recent(&mut *conn, &rows).await?;
        // the watermark read after the insert: a sample moved out of raw_recent before it is in
        // its chunk by now
        if !careful && !self.in_chunks(&mut *conn, &rows).await?.is_empty() {
            return Ok(Step::Careful);
        }
        insert_events(&mut *conn, &fresh, &hosts.ids, &containers.ids).await?;
        let removed: Vec<_> = plan
            .removals
            .iter()
            .filter_map(|(ext, at)| Some((*containers.ids.get(ext)?, db_time(*at))))
            .collect();
        machines::mark_removed(&mut *conn, &removed).await?;
        let new_containers: Vec<NewContainer<'_>> = container_rows
            .iter()
            // a container without a name (the original's `{}`) has no predecessor to link
            .filter(|r| containers.created.contains(r.ext_id) && !r.name.is_empty())
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
        let seen = host_rows
            .iter()
            .filter_map(|r| Some((*hosts.ids.get(r.ext_id)?, r.last_seen)))
            .chain(
                sampled_rows
                    .iter()
                    .filter_map(|r| Some((*containers.ids.get(r.ext_id)?, r.last_seen))),
            )
            .collect();
        Ok(Step::Done((new, found, written, seen)))
    }

    /// The (host, time) pairs among the candidates that are stored already: in `raw_recent`,
    /// or (looked at after it: a sample moved out of it meanwhile is in its chunk by then) in
    /// their chunk.
    async fn taken_times(
        &self,
        conn: &mut MySqlConnection,
        records: &[Record],
        candidates: &[usize],
        hosts: &HashMap<&str, u32>,
    ) -> Result<HashSet<(u32, NaiveDateTime)>, sqlx::Error> {
        let pairs: Vec<(u32, NaiveDateTime)> = candidates
            .iter()
            .filter_map(|i| {
                let r = &records[*i];
                Some((*hosts.get(r.host_id.as_str())?, db_time(r.sampled_at)))
            })
            .collect();
        let mut taken = raw::recent_times(&mut *conn, &pairs).await?;
        taken.extend(self.compacted(&mut *conn, &pairs).await?);
        Ok(taken)
    }

    /// Which of the inserted rows' samples are in a chunk already.
    async fn in_chunks(
        &self,
        conn: &mut MySqlConnection,
        rows: &[RecentRow],
    ) -> Result<HashSet<(u32, NaiveDateTime)>, sqlx::Error> {
        let pairs: Vec<(u32, NaiveDateTime)> = rows.iter().map(|r| (r.host, r.at)).collect();
        self.compacted(conn, &pairs).await
    }

    /// Which of the (host, time) pairs are in a chunk: only pairs older than the compaction
    /// watermark can be, and only within their chunk's first and last sample time.
    async fn compacted(
        &self,
        conn: &mut MySqlConnection,
        pairs: &[(u32, NaiveDateTime)],
    ) -> Result<HashSet<(u32, NaiveDateTime)>, sqlx::Error> {
        let mut taken = HashSet::new();
        let watermark = db_time(self.watermark.get());
        let late: Vec<(u32, NaiveDateTime, DateTime<Utc>)> = pairs
            .iter()
            .filter(|(_, at)| *at < watermark)
            .map(|(h, at)| (*h, *at, utc(*at)))
            .collect();
        if late.is_empty() {
            return Ok(taken);
        }
        let windows: Vec<(u32, NaiveDateTime)> = late
            .iter()
            .map(|(h, _, t)| (*h, db_time(raw::chunk_start(*t))))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let spans = raw::chunk_spans(&mut *conn, &windows).await?;
        let inside: Vec<(u32, NaiveDateTime)> = late
            .iter()
            .filter_map(|(h, at, t)| {
                let key = (*h, db_time(raw::chunk_start(*t)));
                let span = spans.get(&key)?;
                (span.first_at <= *at && *at <= span.last_at).then_some(key)
            })
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if inside.is_empty() {
            return Ok(taken);
        }
        let asked: HashSet<(u32, NaiveDateTime)> = late.iter().map(|(h, at, _)| (*h, *at)).collect();
        for ((host, _), payload) in raw::chunk_payloads(&mut *conn, &inside).await? {
            // an undecodable chunk counts as holding nothing: the compactor keeps its samples apart
            for s in codec::decode_frames(&payload).unwrap_or_default() {
                let pair = (host, db_time(s.at));
                if asked.contains(&pair) {
                    taken.insert(pair);
                }
            }
        }
        Ok(taken)
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
pub(super) fn is_conflict(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::RowNotFound) || matches!(mysql_error(e), Some(1062 | 1205 | 1213))
}

/// A unique key refused a row (1062).
fn is_duplicate_key(e: &sqlx::Error) -> bool {
    mysql_error(e) == Some(1062)
}

/// MySQL's error number, for an error the server sent.
fn mysql_error(e: &sqlx::Error) -> Option<u16> {
    e.as_database_error()
        .and_then(|db| db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
        .map(|db| db.number())
}

fn with_ids<'a>(rows: &[Row<'a>], ids: &HashMap<&str, u32>) -> Vec<(u32, Row<'a>)> {
    rows.iter()
        .filter_map(|r| Some((*ids.get(r.ext_id)?, r.clone())))
        .collect()
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

/// A host's inventory row as the batch describes it.
fn host_row<'a>(ext: &'a str, h: &super::plan::HostFacts<'a>) -> Row<'a> {
    Row {
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
    }
}

/// Each record as one `raw_recent` row: the host's values and its containers' (by machine id,
/// the first entry of a container listed twice), encoded together.
fn recent_rows(records: &[&Record], hosts: &HashMap<&str, u32>, containers: &HashMap<&str, u32>) -> Vec<RecentRow> {
    records
        .iter()
        .filter_map(|r| {
            let sample = sample_of(r, containers);
            Some(RecentRow {
                host: *hosts.get(r.host_id.as_str())?,
                at: db_time(r.sampled_at),
                key: raw::record_key(&r.record_id),
                containers: u16::try_from(sample.containers.len()).unwrap_or(u16::MAX),
                payload: codec::frame(std::slice::from_ref(&sample), raw::RECENT_LEVEL),
            })
        })
        .collect()
}

/// A record as the raw tier stores it.
pub(super) fn sample_of(r: &Record, containers: &HashMap<&str, u32>) -> codec::Sample {
    let mut seen = HashSet::new();
    codec::Sample {
        at: common::timefmt::truncate_millis(r.sampled_at),
        host: r.host.clone(),
        containers: r
            .containers
            .iter()
            .filter_map(|c| {
                let machine = *containers.get(c.id.as_str())?;
                seen.insert(machine).then(|| codec::Container::from_wire(machine, c))
            })
            .collect(),
    }
}
