//! The raw tier's two tables and their SQL: `raw_recent` (one row per record, the
//! write-optimised form, until compacted) and `raw_chunks` (one row per host and
//! [`CHUNK_WINDOW`], compacted). Rows hold samples encoded by the `codec` crate.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};
use sqlx::mysql::MySqlConnection;
use sqlx::{MySql, QueryBuilder, Row as _};

use super::columns::{db_time, push_in, utc, CHUNK};

/// The span of one chunk: windows aligned to the epoch, so a sample's chunk is known from its
/// time alone. 20 minutes: 1,200 samples at 1 s, about 240 KB for a host with 10 containers
/// (off-page LOB pages waste half a page per chunk on average: 3 % at this size, 7 % at 10
/// minutes).
pub const CHUNK_WINDOW: TimeDelta = TimeDelta::minutes(20);

/// zstd levels: the frames of a chunk still filling (and its merges), a chunk rewritten whole
/// once its window ended (4 % smaller than level 3 for about 35 ms more per 1,200 samples, once
/// per window), the one-record rows of `raw_recent` (a fast level: 14 % smaller than plain for
/// about 4 us a record, where level 1 costs 20 us).
pub const CHUNK_LEVEL: codec::Level = Some(3);
pub const SEAL_LEVEL: codec::Level = Some(17);
pub const RECENT_LEVEL: codec::Level = Some(-3);

/// A record's identity in the duplicate set: the first 16 bytes of SHA-256 of its id.
pub type RecordKey = [u8; 16];

pub fn record_key(record_id: &str) -> RecordKey {
    let digest = Sha256::digest(record_id.as_bytes());
    digest[..16].try_into().expect("SHA-256 is 32 bytes")
}

/// The start of the chunk window `t` falls in.
pub fn chunk_start(t: DateTime<Utc>) -> DateTime<Utc> {
    crate::rollup::bucket_start(t, CHUNK_WINDOW)
}

/// One row of `raw_recent`.
#[derive(Debug, Clone)]
pub struct RecentRow {
    pub host: u32,
    pub at: NaiveDateTime,
    pub key: RecordKey,
    pub containers: u16,
    pub payload: Vec<u8>,
}

/// One row of `raw_chunks`.
#[derive(Debug, Clone)]
pub struct ChunkRow {
    pub host: u32,
    pub start: NaiveDateTime,
    pub first_at: NaiveDateTime,
    pub last_at: NaiveDateTime,
    pub samples: u32,
    pub containers: u32,
    /// Frames in `payload` (1 for a whole chunk).
    pub segments: u16,
    pub payload: Vec<u8>,
}

/// Which of `keys` are in `raw_recent` (records stored and not yet compacted).
pub async fn existing_keys(conn: &mut MySqlConnection, keys: &[RecordKey]) -> Result<HashSet<RecordKey>, sqlx::Error> {
    let mut out = HashSet::new();
    for chunk in keys.chunks(CHUNK) {
        let mut q = QueryBuilder::<MySql>::new("SELECT record_key FROM raw_recent WHERE record_key IN ");
        push_in(&mut q, chunk.iter().map(|k| k.as_slice()));
        for row in q.build().persistent(false).fetch_all(&mut *conn).await? {
            let k: Vec<u8> = row.try_get("record_key")?;
            if let Ok(k) = k.try_into() {
                out.insert(k);
            }
        }
    }
    Ok(out)
}

/// Which (host, sample time) pairs already have a row in `raw_recent`.
pub async fn recent_times(
    conn: &mut MySqlConnection,
    pairs: &[(u32, NaiveDateTime)],
) -> Result<HashSet<(u32, NaiveDateTime)>, sqlx::Error> {
    let mut out = HashSet::new();
    for chunk in pairs.chunks(CHUNK) {
        let mut q = QueryBuilder::<MySql>::new(
            "SELECT host_machine_id, sampled_at FROM raw_recent WHERE (host_machine_id, sampled_at) IN (",
        );
        let mut list = q.separated(", ");
        for (host, at) in chunk {
            list.push("(")
                .push_bind_unseparated(*host)
                .push_unseparated(", ")
                .push_bind_unseparated(*at)
                .push_unseparated(")");
        }
        q.push(")");
        for row in q.build().persistent(false).fetch_all(&mut *conn).await? {
            out.insert((row.try_get("host_machine_id")?, row.try_get("sampled_at")?));
        }
    }
    Ok(out)
}

/// Inserts rows into `raw_recent`. A row whose key or (host, time) is taken fails the statement
/// (a concurrent batch stored it first; the caller retries the batch).
pub async fn insert_recent(conn: &mut MySqlConnection, rows: &[RecentRow]) -> Result<(), sqlx::Error> {
    // few rows per statement: each carries a payload of about a kilobyte
    for chunk in rows.chunks(CHUNK / 2) {
        let mut q = QueryBuilder::<MySql>::new(
            "INSERT INTO raw_recent (host_machine_id, sampled_at, record_key, containers, payload) ",
        );
        q.push_values(chunk, |mut b, r| {
            b.push_bind(r.host)
                .push_bind(r.at)
                .push_bind(r.key.as_slice())
                .push_bind(r.containers)
                .push_bind(r.payload.as_slice());
        });
        q.build()
            .persistent(chunk.len() == CHUNK / 2)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// What a chunk holds, without its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub first_at: NaiveDateTime,
    pub last_at: NaiveDateTime,
    pub segments: u16,
}

/// The spans of the chunks named by (host, chunk start).
pub async fn chunk_spans(
    conn: &mut MySqlConnection,
    keys: &[(u32, NaiveDateTime)],
) -> Result<HashMap<(u32, NaiveDateTime), Span>, sqlx::Error> {
    let mut out = HashMap::new();
    for chunk in keys.chunks(CHUNK) {
        let mut q = QueryBuilder::<MySql>::new(
            "SELECT host_machine_id, chunk_start, first_at, last_at, segments FROM raw_chunks \
             WHERE (host_machine_id, chunk_start) IN (",
        );
        push_pairs(&mut q, chunk);
        for row in q.build().persistent(false).fetch_all(&mut *conn).await? {
            out.insert(
                (row.try_get("host_machine_id")?, row.try_get("chunk_start")?),
                Span {
                    first_at: row.try_get("first_at")?,
                    last_at: row.try_get("last_at")?,
                    segments: row.try_get("segments")?,
                },
            );
        }
    }
    Ok(out)
}

/// The payloads of the chunks named by (host, chunk start).
pub async fn chunk_payloads(
    conn: &mut MySqlConnection,
    keys: &[(u32, NaiveDateTime)],
) -> Result<HashMap<(u32, NaiveDateTime), Vec<u8>>, sqlx::Error> {
    let mut out = HashMap::new();
    for chunk in keys.chunks(50) {
        let mut q = QueryBuilder::<MySql>::new(
            "SELECT host_machine_id, chunk_start, payload FROM raw_chunks WHERE (host_machine_id, chunk_start) IN (",
        );
        push_pairs(&mut q, chunk);
        for row in q.build().persistent(false).fetch_all(&mut *conn).await? {
            out.insert(
                (row.try_get("host_machine_id")?, row.try_get("chunk_start")?),
                row.try_get("payload")?,
            );
        }
    }
    Ok(out)
}

fn push_pairs(q: &mut QueryBuilder<'_, MySql>, pairs: &[(u32, NaiveDateTime)]) {
    let mut list = q.separated(", ");
    for (host, at) in pairs {
        list.push("(")
            .push_bind_unseparated(*host)
            .push_unseparated(", ")
            .push_bind_unseparated(*at)
            .push_unseparated(")");
    }
    q.push(")");
}

/// Rows per chunk-writing statement, and the payload bytes one statement carries at most (a
/// row larger than that goes alone): far below MySQL's `max_allowed_packet` (16 MB by default)
/// whatever the hosts' container counts.
const PUT_ROWS: usize = 20;
const PUT_BYTES: usize = 4 << 20;

/// `rows` split into the runs one statement writes.
fn statements(rows: &[ChunkRow]) -> impl Iterator<Item = &[ChunkRow]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut n = 0;
        let mut bytes = 0;
        while n < rest.len() && n < PUT_ROWS && (n == 0 || bytes + rest[n].payload.len() <= PUT_BYTES) {
            bytes += rest[n].payload.len();
            n += 1;
        }
        let (run, tail) = rest.split_at(n);
        rest = tail;
        Some(run)
    })
}

/// How [`put_chunks`] writes a row whose key exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// The row's payload and counts replace the stored ones.
    Replace,
    /// The row's payload (frames of samples newer than the stored ones) is appended, its
    /// counts added.
    Append,
}

/// Writes chunks: new keys are inserted, existing ones replaced or appended to.
pub async fn put_chunks(conn: &mut MySqlConnection, rows: &[ChunkRow], how: Put) -> Result<(), sqlx::Error> {
    for chunk in statements(rows) {
        let mut q = QueryBuilder::<MySql>::new(
            "INSERT INTO raw_chunks (host_machine_id, chunk_start, first_at, last_at, samples, containers, segments, payload) ",
        );
        q.push_values(chunk, |mut b, r| {
            b.push_bind(r.host)
                .push_bind(r.start)
                .push_bind(r.first_at)
                .push_bind(r.last_at)
                .push_bind(r.samples)
                .push_bind(r.containers)
                .push_bind(r.segments)
                .push_bind(r.payload.as_slice());
        });
        q.push(match how {
            Put::Replace => {
                " ON DUPLICATE KEY UPDATE first_at = VALUES(first_at), last_at = VALUES(last_at), \
                 samples = VALUES(samples), containers = VALUES(containers), segments = VALUES(segments), \
                 payload = VALUES(payload)"
            }
            Put::Append => {
                " ON DUPLICATE KEY UPDATE first_at = LEAST(first_at, VALUES(first_at)), \
                 last_at = GREATEST(last_at, VALUES(last_at)), samples = samples + VALUES(samples), \
                 containers = containers + VALUES(containers), segments = segments + VALUES(segments), \
                 payload = CONCAT(payload, VALUES(payload))"
            }
        });
        q.build().persistent(false).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Chunks of `hosts` made of several frames whose window ended before `before` (and started
/// after `since`): the ones to rewrite whole.
pub async fn unsealed(
    conn: &mut MySqlConnection,
    hosts: &[u32],
    since: NaiveDateTime,
    before: NaiveDateTime,
) -> Result<Vec<(u32, NaiveDateTime)>, sqlx::Error> {
    let mut out = Vec::new();
    for chunk in hosts.chunks(CHUNK) {
        let mut q =
            QueryBuilder::<MySql>::new("SELECT host_machine_id, chunk_start FROM raw_chunks WHERE host_machine_id IN ");
        push_in(&mut q, chunk.iter().copied());
        q.push(" AND chunk_start >= ")
            .push_bind(since)
            .push(" AND chunk_start < ")
            .push_bind(before)
            .push(" AND segments > 1");
        out.extend(q.build_query_as::<(u32, NaiveDateTime)>().fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// The `raw_recent` rows of `hosts` sampled before `before`, oldest first per host.
pub async fn recent_before(
    conn: &mut MySqlConnection,
    hosts: &[u32],
    before: NaiveDateTime,
) -> Result<Vec<(u32, NaiveDateTime, Vec<u8>)>, sqlx::Error> {
    let mut out = Vec::new();
    for chunk in hosts.chunks(CHUNK) {
        let mut q = QueryBuilder::<MySql>::new(
            "SELECT host_machine_id, sampled_at, payload FROM raw_recent WHERE host_machine_id IN ",
        );
        push_in(&mut q, chunk.iter().copied());
        q.push(" AND sampled_at < ")
            .push_bind(before)
            .push(" ORDER BY host_machine_id, sampled_at");
        for row in q.build().persistent(false).fetch_all(&mut *conn).await? {
            out.push((
                row.try_get("host_machine_id")?,
                row.try_get("sampled_at")?,
                row.try_get("payload")?,
            ));
        }
    }
    Ok(out)
}

/// Deletes the `raw_recent` rows of each host between two times (inclusive) and returns how
/// many went: the caller compares with what it read, as a row inserted meanwhile in a range
/// would go too.
pub async fn delete_recent(
    conn: &mut MySqlConnection,
    ranges: &[(u32, NaiveDateTime, NaiveDateTime)],
) -> Result<u64, sqlx::Error> {
    let mut deleted = 0;
    for chunk in ranges.chunks(CHUNK) {
        let mut q = QueryBuilder::<MySql>::new("DELETE FROM raw_recent WHERE ");
        for (i, (host, from, to)) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(" OR ");
            }
            q.push("(host_machine_id = ")
                .push_bind(*host)
                .push(" AND sampled_at BETWEEN ")
                .push_bind(*from)
                .push(" AND ")
                .push_bind(*to)
                .push(")");
        }
        deleted += q.build().persistent(false).execute(&mut *conn).await?.rows_affected();
    }
    Ok(deleted)
}

/// The sample time of the oldest row in `raw_recent` at or after `from` (along its primary key).
pub async fn oldest_recent(
    conn: &mut MySqlConnection,
    from: NaiveDateTime,
) -> Result<Option<NaiveDateTime>, sqlx::Error> {
    sqlx::query_scalar("SELECT MIN(sampled_at) FROM raw_recent WHERE sampled_at >= ?")
        .bind(from)
        .fetch_one(&mut *conn)
        .await
}

/// Each host's newest sample time in `raw_recent`.
pub async fn newest_per_host(conn: &mut MySqlConnection) -> Result<Vec<(u32, NaiveDateTime)>, sqlx::Error> {
    // one probe per host of the key (host, time)
    sqlx::query_as("SELECT host_machine_id, MAX(sampled_at) FROM raw_recent GROUP BY host_machine_id")
        .fetch_all(&mut *conn)
        .await
}

/// Hosts with rows in `raw_recent` sampled before `before`.
pub async fn hosts_with_recent_before(
    conn: &mut MySqlConnection,
    before: NaiveDateTime,
) -> Result<Vec<u32>, sqlx::Error> {
    // one probe per host of the primary key (host, time)
    sqlx::query_scalar("SELECT host_machine_id FROM raw_recent GROUP BY host_machine_id HAVING MIN(sampled_at) < ?")
        .bind(before)
        .fetch_all(&mut *conn)
        .await
}

/// One host's chunks that may hold samples in `[from, to)`, in time order, at most `max`.
pub async fn read_chunks(
    conn: &mut MySqlConnection,
    host: u32,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max: u32,
) -> Result<Vec<(DateTime<Utc>, Vec<u8>)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT chunk_start, payload FROM raw_chunks WHERE host_machine_id = ? AND chunk_start >= ? \
         AND chunk_start < ? ORDER BY chunk_start LIMIT ?",
    )
    .bind(host)
    .bind(db_time(chunk_start(from)))
    .bind(db_time(to))
    .bind(max)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((utc(r.try_get("chunk_start")?), r.try_get("payload")?)))
        .collect()
}

/// One host's `raw_recent` rows sampled in `[from, to)`.
pub async fn read_recent(
    conn: &mut MySqlConnection,
    host: u32,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT payload FROM raw_recent WHERE host_machine_id = ? AND sampled_at >= ? AND sampled_at < ? \
         ORDER BY sampled_at",
    )
    .bind(host)
    .bind(db_time(from))
    .bind(db_time(to))
    .fetch_all(&mut *conn)
    .await
}

/// Stored record count (recent rows plus compacted samples) and container samples among them.
pub(super) async fn counts(conn: &mut MySqlConnection) -> Result<(u64, u64), sqlx::Error> {
    let row = sqlx::query(
        "SELECT CAST((SELECT COUNT(*) FROM raw_recent) + (SELECT COALESCE(SUM(samples), 0) FROM raw_chunks) AS UNSIGNED) AS records, \
         CAST((SELECT COALESCE(SUM(containers), 0) FROM raw_recent) + (SELECT COALESCE(SUM(containers), 0) FROM raw_chunks) AS UNSIGNED) AS containers",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.try_get("records")?, row.try_get("containers")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(bytes: usize) -> ChunkRow {
        let t = NaiveDateTime::default();
        ChunkRow {
            host: 1,
            start: t,
            first_at: t,
            last_at: t,
            samples: 1,
            containers: 0,
            segments: 1,
            payload: vec![0; bytes],
        }
    }

    #[test]
    fn statements_stay_under_the_byte_and_row_limits() {
        let rows: Vec<ChunkRow> = [3 << 20, 2 << 20, 5 << 20, 1, 1].into_iter().map(row).collect();
        let runs: Vec<usize> = statements(&rows).map(<[ChunkRow]>::len).collect();
        // 3 MB alone (3 + 2 > 4), 2 MB alone (2 + 5 > 4), the 5 MB row alone, the small ones together
        assert_eq!(runs, [1, 1, 1, 2]);
        let small: Vec<ChunkRow> = (0..45).map(|_| row(10)).collect();
        let runs: Vec<usize> = statements(&small).map(<[ChunkRow]>::len).collect();
        assert_eq!(runs, [20, 20, 5]);
        assert_eq!(statements(&[]).count(), 0);
    }
}
