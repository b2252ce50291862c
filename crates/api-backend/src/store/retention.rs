//! Retention of the storage tiers: partitions are added ahead of time; data older than a tier's
//! window goes, whole partitions by dropping them and the rows of the partition the cutoff falls
//! in by small deletes (oldest first for the time-major rollups, per machine for the chunks); an
//! optional disk budget then drops the oldest raw partitions first (then minute, then hour
//! ones), keeping each tier's newest, and raises the raw floor ingest refuses older records
//! below. Container events are kept as long as the minute tier. None of it touches
//! `raw_recent`, so ingest goes on.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use sqlx::mysql::MySqlConnection;
use sqlx::{Executor, MySql, QueryBuilder};

use super::columns::{db_time, push_in};
use super::machines::Kind;
use super::partitions::{self, Unit};
use super::Store;
use crate::error::{Error, Result};

/// How long each tier keeps data, and the optional disk budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub raw: Duration,
    pub minute: Duration,
    pub hour: Duration,
    /// `STORAGE_MAX_BYTES`: data and indexes of the storage tables together.
    pub max_bytes: Option<u64>,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            raw: Duration::from_secs(7 * 86_400),
            minute: Duration::from_secs(90 * 86_400),
            // `2y` as humantime reads it (365.25 days a year)
            hour: Duration::from_secs(63_115_200),
            max_bytes: None,
        }
    }
}

/// The tables one tier keeps, with their time column and partition unit.
struct TierTables {
    tables: &'static [&'static str],
    column: &'static str,
    key: &'static str,
    unit: Unit,
    /// The primary key starts with the time (rollups); else with the machine (chunks).
    time_major: bool,
    /// How long a row's time covers (a chunk's window, a bucket): a row goes once all of it is
    /// older than the cutoff.
    width: TimeDelta,
}

const RAW: TierTables = TierTables {
    tables: &["raw_chunks"],
    column: "chunk_start",
    key: "host_machine_id",
    unit: Unit::Day,
    time_major: false,
    width: super::raw::CHUNK_WINDOW,
};
const MINUTE: TierTables = TierTables {
    tables: &["host_minutes", "container_minutes"],
    column: "bucket",
    key: "machine_id",
    unit: Unit::Day,
    time_major: true,
    width: TimeDelta::minutes(1),
};
const HOUR: TierTables = TierTables {
    tables: &["host_hours", "container_hours"],
    column: "bucket",
    key: "machine_id",
    unit: Unit::Month,
    time_major: true,
    width: TimeDelta::hours(1),
};

/// Every table whose size counts against `STORAGE_MAX_BYTES`.
pub const STORAGE_TABLES: &[&str] = &[
    "raw_recent",
    "raw_chunks",
    "host_minutes",
    "container_minutes",
    "host_hours",
    "container_hours",
    "container_events",
    "host_samples",
    "container_samples",
    "ingested_records",
];

/// Machines per boundary DELETE of the chunks, and rows per statement (small, so no statement
/// holds many locks for long).
const DELETE_MACHINES: usize = 200;
const DELETE_ROWS: u64 = 5000;

/// The start of the oldest day the raw tier holds after the disk budget dropped days inside
/// RETENTION_RAW (`storage_marks.raw_floor`), as milliseconds; `i64::MIN` when it never did.
#[derive(Debug)]
pub struct Floor(AtomicI64);

impl Default for Floor {
    fn default() -> Self {
        Floor(AtomicI64::new(i64::MIN))
    }
}

impl Floor {
    fn raise(&self, to: DateTime<Utc>) {
        self.0.fetch_max(to.timestamp_millis(), Ordering::Relaxed);
    }

    fn get(&self) -> Option<DateTime<Utc>> {
        match self.0.load(Ordering::Relaxed) {
            i64::MIN => None,
            ms => DateTime::from_timestamp_millis(ms),
        }
    }
}

const RAW_FLOOR: &str = "raw_floor";

impl Store {
    /// Records older than this are refused besides those older than RETENTION_RAW: the disk
    /// budget dropped their days, so a redelivered one would be stored and rolled up again.
    pub fn raw_floor(&self) -> Option<DateTime<Utc>> {
        self.raw_floor.get()
    }

    /// Reads the floor saved by an earlier sweep.
    pub(super) async fn load_raw_floor(&self) -> Result<()> {
        let at: Option<NaiveDateTime> = sqlx::query_scalar("SELECT at FROM storage_marks WHERE name = ?")
            .bind(RAW_FLOOR)
            .fetch_optional(&self.pool)
            .await
            .map_err(Error::from_sqlx)?;
        if let Some(at) = at {
            self.raw_floor.raise(at.and_utc());
        }
        Ok(())
    }
}

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    pub partitions_added: usize,
    pub partitions_dropped: Vec<String>,
    pub rows_deleted: u64,
    /// Partitions dropped to stay within the disk budget (also in `partitions_dropped`).
    pub over_budget: Vec<String>,
}

fn days(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl Store {
    /// Adds the partitions `now` needs, up to two days ahead (records may be up to a day ahead
    /// of the backend's clock). On a new table the first one starts today: it also holds
    /// anything older, and goes once all of that is past retention.
    pub async fn ensure_partitions(&self, _r: &Retention, now: DateTime<Utc>) -> Result<usize> {
        let mut conn = self.pool.acquire().await.map_err(Error::from_sqlx)?;
        let today = now.date_naive();
        let mut added = 0;
        for t in [&RAW, &MINUTE, &HOUR] {
            let from = today;
            let through = match t.unit {
                Unit::Day => today + TimeDelta::days(2),
                Unit::Month => today + TimeDelta::days(31),
            };
            for table in t.tables {
                added += partitions::ensure(&mut conn, table, t.unit, from, through)
                    .await
                    .map_err(Error::from_sqlx)?;
            }
        }
        Ok(added)
    }

    /// Applies retention at `now`: partitions ahead, old data out, then the disk budget.
    pub async fn sweep(&self, r: &Retention, now: DateTime<Utc>) -> Result<Swept> {
        let mut swept = Swept {
            partitions_added: self.ensure_partitions(r, now).await?,
            ..Swept::default()
        };
        let mut conn = self.pool.acquire().await.map_err(Error::from_sqlx)?;
        for (t, keep) in [(&RAW, r.raw), (&MINUTE, r.minute), (&HOUR, r.hour)] {
            let cutoff = now - days(keep).min(TimeDelta::days(36_500));
            for table in t.tables {
                let dropped = partitions::drop_before(&mut conn, table, cutoff.date_naive())
                    .await
                    .map_err(Error::from_sqlx)?;
                swept
                    .partitions_dropped
                    .extend(dropped.into_iter().map(|p| format!("{table}.{p}")));
                swept.rows_deleted += self
                    .delete_older(&mut conn, table, t, cutoff)
                    .await
                    .map_err(Error::from_sqlx)?;
            }
        }
        swept.rows_deleted += delete_before(
            &mut conn,
            "container_events",
            "at",
            now - days(r.minute).min(TimeDelta::days(36_500)),
        )
        .await
        .map_err(Error::from_sqlx)?;
        if let Some(max) = r.max_bytes {
            let over = self.keep_within(&mut conn, max, now).await.map_err(Error::from_sqlx)?;
            swept.partitions_dropped.extend(over.iter().cloned());
            swept.over_budget = over;
        }
        Ok(swept)
    }

    /// Deletes rows older than `cutoff` that a dropped partition did not take, a few machines at
    /// a time (each delete is a range of the primary key, in the oldest partitions only).
    async fn delete_older(
        &self,
        conn: &mut MySqlConnection,
        table: &str,
        t: &TierTables,
        cutoff: DateTime<Utc>,
    ) -> Result<u64, sqlx::Error> {
        let before = cutoff - t.width;
        if t.time_major {
            // the oldest rows first, along the primary key
            return delete_before(conn, table, t.column, before).await;
        }
        let kind = if table.starts_with("container") {
            Kind::Container
        } else {
            Kind::Host
        };
        let ids: Vec<u32> = sqlx::query_scalar("SELECT id FROM machines WHERE kind = ? ORDER BY id")
            .bind(kind.as_str())
            .fetch_all(&mut *conn)
            .await?;
        let mut deleted = 0;
        for chunk in ids.chunks(DELETE_MACHINES) {
            loop {
                let mut q = QueryBuilder::<MySql>::new(format!("DELETE FROM {table} WHERE {} IN ", t.key));
                push_in(&mut q, chunk.iter().copied());
                q.push(format!(" AND {} < ", t.column))
                    .push_bind(db_time(before))
                    .push(format!(" LIMIT {DELETE_ROWS}"));
                let n = q.build().persistent(false).execute(&mut *conn).await?.rows_affected();
                deleted += n;
                if n < DELETE_ROWS {
                    break;
                }
            }
        }
        Ok(deleted)
    }

    /// Drops the oldest partitions (raw first, then minute, then hour) while the tiers' tables
    /// are larger than `max` bytes; the partitions of today and later always stay.
    async fn keep_within(
        &self,
        conn: &mut MySqlConnection,
        max: u64,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, sqlx::Error> {
        let today = now.date_naive();
        let mut dropped = Vec::new();
        for t in [&RAW, &MINUTE, &HOUR] {
            loop {
                let total = budget_bytes(&mut *conn).await?;
                if total <= max {
                    return Ok(dropped);
                }
                // the oldest bound among the tier's partitions that end by today
                let mut oldest: Option<NaiveDate> = None;
                for table in t.tables {
                    let parts = partitions::list(&mut *conn, table).await?;
                    if let Some(b) = parts.iter().filter_map(|p| p.bound).filter(|b| *b <= today).min() {
                        oldest = Some(oldest.map_or(b, |o| o.min(b)));
                    }
                }
                let Some(bound) = oldest else { break };
                if t.tables == RAW.tables {
                    // before the drop: a record refused for nothing is better than one counted twice
                    let floor = bound.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
                    sqlx::query(
                        "INSERT INTO storage_marks (name, at) VALUES (?, ?) ON DUPLICATE KEY UPDATE at = GREATEST(at, VALUES(at))",
                    )
                    .bind(RAW_FLOOR)
                    .bind(db_time(floor))
                    .execute(&mut *conn)
                    .await?;
                    self.raw_floor.raise(floor);
                }
                for table in t.tables {
                    let gone = partitions::drop_before(&mut *conn, table, bound).await?;
                    dropped.extend(gone.into_iter().map(|p| format!("{table}.{p}")));
                    conn.execute(format!("ANALYZE TABLE {table}").as_str()).await?;
                }
                tracing::warn!(max, total, before = %bound, "STORAGE_MAX_BYTES exceeded: dropped the oldest partition");
            }
        }
        Ok(dropped)
    }

    /// Data and index bytes of the storage tables, per table.
    pub async fn storage_sizes(&self) -> Result<Vec<(String, u64)>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from_sqlx)?;
        sizes(&mut conn).await.map_err(Error::from_sqlx)
    }
}

async fn sizes(conn: &mut MySqlConnection) -> Result<Vec<(String, u64)>, sqlx::Error> {
    let mut q = QueryBuilder::<MySql>::new(
        "SELECT CONVERT(table_name USING utf8mb4), CAST(data_length + index_length AS UNSIGNED) \
         FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN (",
    );
    let mut list = q.separated(", ");
    for t in STORAGE_TABLES {
        list.push_bind(*t);
    }
    q.push(")");
    q.build_query_as::<(String, u64)>().fetch_all(&mut *conn).await
}

/// Data and index bytes of the tables `STORAGE_MAX_BYTES` caps: the partitioned tiers, the
/// only ones dropping days can shrink (`raw_recent` holds about STORAGE_COMPACT_AFTER of
/// records, legacy tables empty as they are converted). Counting the others could make an
/// unreachable budget drop every day of history.
async fn budget_bytes(conn: &mut MySqlConnection) -> Result<u64, sqlx::Error> {
    let capped: Vec<&str> = [&RAW, &MINUTE, &HOUR]
        .iter()
        .flat_map(|t| t.tables.iter().copied())
        .collect();
    Ok(sizes(conn)
        .await?
        .iter()
        .filter(|(table, _)| capped.contains(&table.as_str()))
        .map(|(_, b)| *b)
        .sum())
}

/// Deletes the rows of `table` whose `column` is before `before`, oldest first, [`DELETE_ROWS`]
/// per statement (an index on `column` makes each a short range).
async fn delete_before(
    conn: &mut MySqlConnection,
    table: &str,
    column: &str,
    before: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let sql = format!("DELETE FROM {table} WHERE {column} < ? ORDER BY {column} LIMIT {DELETE_ROWS}");
    let mut deleted = 0;
    loop {
        let n = sqlx::query(&sql)
            .bind(db_time(before))
            .execute(&mut *conn)
            .await?
            .rows_affected();
        deleted += n;
        if n < DELETE_ROWS {
            return Ok(deleted);
        }
    }
}
