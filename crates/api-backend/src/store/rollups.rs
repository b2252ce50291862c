//! The rollup tables (`host_minutes`, `container_minutes`, `host_hours`, `container_hours`):
//! reading buckets back and writing merged ones. Only the compactor writes them.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use sqlx::mysql::{MySqlConnection, MySqlRow};
use sqlx::{MySql, QueryBuilder, Row as _};

use super::columns::{db_time, utc};
use super::machines::Kind;
use crate::rollup::{metric_names, Bucket, Key, Stat};

/// A rollup tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    Minute,
    Hour,
}

impl Tier {
    pub const ALL: [Tier; 2] = [Tier::Minute, Tier::Hour];

    pub fn width(self) -> TimeDelta {
        match self {
            Tier::Minute => TimeDelta::minutes(1),
            Tier::Hour => TimeDelta::hours(1),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Minute => "minute",
            Tier::Hour => "hour",
        }
    }

    /// The largest sample count a bucket's `_n` columns hold (a minute at a 1 ms interval has
    /// 60,000).
    pub fn max_count(self) -> u32 {
        match self {
            Tier::Minute => u32::from(u16::MAX),
            Tier::Hour => 16_777_215,
        }
    }

    pub fn table(self, kind: Kind) -> &'static str {
        match (self, kind) {
            (Tier::Minute, Kind::Host) => "host_minutes",
            (Tier::Minute, Kind::Container) => "container_minutes",
            (Tier::Hour, Kind::Host) => "host_hours",
            (Tier::Hour, Kind::Container) => "container_hours",
        }
    }
}

/// Rows per statement (a container row has 43 columns, a host row 73).
const ROWS: usize = 400;

/// The columns of a rollup row: identity, then min, max, avg, last, n of each metric in order
/// ([`bucket_of`] reads them by position).
fn columns(kind: Kind, metrics: &[usize]) -> String {
    let names = metric_names(kind);
    let mut cols = vec!["machine_id".to_owned(), "bucket".to_owned(), "last_at".to_owned()];
    if kind == Kind::Container {
        cols.push("host_machine_id".to_owned());
    }
    for i in metrics {
        let m = names[*i];
        cols.extend([
            format!("{m}_min"),
            format!("{m}_max"),
            format!("{m}_avg"),
            format!("{m}_last"),
            format!("{m}_n"),
        ]);
    }
    cols.join(", ")
}

fn all(kind: Kind) -> Vec<usize> {
    (0..metric_names(kind).len()).collect()
}

/// A row selected with [`columns`]`(kind, metrics)`, read by position (its columns' order).
fn bucket_of(r: &MySqlRow, kind: Kind, metrics: &[usize]) -> Result<Bucket, sqlx::Error> {
    let names = metric_names(kind);
    let mut stats = vec![None; names.len()];
    let mut last = vec![None; names.len()];
    let first = if kind == Kind::Container { 4 } else { 3 };
    for (k, i) in metrics.iter().enumerate() {
        let at = first + 5 * k; // min, max, avg, last, n
        let n: u32 = r.try_get(at + 4)?;
        let get =
            |c: usize| -> Result<Option<f64>, sqlx::Error> { Ok(r.try_get::<Option<f32>, _>(at + c)?.map(f64::from)) };
        if n > 0 {
            let (min, max, avg) = (get(0)?, get(1)?, get(2)?);
            stats[*i] = Some(Stat {
                min: min.unwrap_or(f64::NAN),
                max: max.unwrap_or(f64::NAN),
                sum: avg.unwrap_or(f64::NAN) * f64::from(n),
                n,
            });
        }
        last[*i] = get(3)?;
    }
    Ok(Bucket {
        start: utc(r.try_get(1)?),
        last_at: utc(r.try_get(2)?),
        stats,
        last,
    })
}

/// The stored buckets among `keys` (all of one tier).
pub async fn get(conn: &mut MySqlConnection, tier: Tier, keys: &[Key]) -> Result<HashMap<Key, Bucket>, sqlx::Error> {
    let mut out = HashMap::new();
    for kind in [Kind::Host, Kind::Container] {
        let of_kind: Vec<(u32, NaiveDateTime)> = keys
            .iter()
            .filter(|k| k.kind == kind)
            .map(|k| (k.machine, db_time(k.start)))
            .collect();
        let metrics = all(kind);
        for chunk in of_kind.chunks(ROWS) {
            let mut q = QueryBuilder::<MySql>::new(format!(
                "SELECT {} FROM {} WHERE (machine_id, bucket) IN (",
                columns(kind, &metrics),
                tier.table(kind)
            ));
            let mut list = q.separated(", ");
            for (id, at) in chunk {
                list.push("(")
                    .push_bind_unseparated(*id)
                    .push_unseparated(", ")
                    .push_bind_unseparated(*at)
                    .push_unseparated(")");
            }
            q.push(")");
            for r in q.build().persistent(false).fetch_all(&mut *conn).await? {
                let b = bucket_of(&r, kind, &metrics)?;
                let machine: u32 = r.try_get("machine_id")?;
                let host = match kind {
                    Kind::Host => machine,
                    Kind::Container => r.try_get("host_machine_id")?,
                };
                let key = Key {
                    kind,
                    start: b.start,
                    host,
                    machine,
                };
                out.insert(key, b);
            }
        }
    }
    Ok(out)
}

/// Writes buckets (merged ones replace what their keys held).
pub async fn put(conn: &mut MySqlConnection, tier: Tier, buckets: &[(Key, Bucket)]) -> Result<(), sqlx::Error> {
    for kind in [Kind::Host, Kind::Container] {
        // in key order: time first, so the rows append
        let mut of_kind: Vec<&(Key, Bucket)> = buckets.iter().filter(|(k, _)| k.kind == kind).collect();
        of_kind.sort_by_key(|(k, _)| *k);
        let names = metric_names(kind);
        for chunk in of_kind.chunks(ROWS) {
            let mut q = QueryBuilder::<MySql>::new(format!(
                "INSERT INTO {} ({}) ",
                tier.table(kind),
                columns(kind, &all(kind))
            ));
            q.push_values(chunk, |mut b, (key, bucket)| {
                b.push_bind(key.machine)
                    .push_bind(db_time(bucket.start))
                    .push_bind(db_time(bucket.last_at));
                if kind == Kind::Container {
                    b.push_bind(key.host);
                }
                for (stat, last) in bucket.stats.iter().zip(&bucket.last) {
                    b.push_bind(stat.and_then(|s| float(s.min)))
                        .push_bind(stat.and_then(|s| float(s.max)))
                        .push_bind(stat.and_then(|s| float(s.avg())))
                        .push_bind(last.and_then(float))
                        .push_bind(stat.map_or(0, |s| s.n.min(tier.max_count())));
                }
            });
            q.push(" ON DUPLICATE KEY UPDATE last_at = VALUES(last_at)");
            for m in &names {
                for c in ["min", "max", "avg", "last", "n"] {
                    q.push(format!(", {m}_{c} = VALUES({m}_{c})"));
                }
            }
            q.build().persistent(false).execute(&mut *conn).await?;
        }
    }
    Ok(())
}

/// A value as its FLOAT column holds it: beyond FLOAT's range it is the largest FLOAT of its
/// sign (MySQL refuses an infinite value, and one such row would stop compaction); NaN is NULL.
fn float(v: f64) -> Option<f32> {
    (!v.is_nan()).then(|| v.clamp(-f64::from(f32::MAX), f64::from(f32::MAX)) as f32)
}

/// One machine's buckets in `[from, to)`, oldest first, with only the `metrics` (indexes into
/// the kind's metric list) filled in.
pub async fn read(
    conn: &mut MySqlConnection,
    tier: Tier,
    kind: Kind,
    machine: u32,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    metrics: &[usize],
) -> Result<Vec<Bucket>, sqlx::Error> {
    let sql = format!(
        "SELECT {} FROM {} WHERE machine_id = ? AND bucket >= ? AND bucket < ? ORDER BY bucket",
        columns(kind, metrics),
        tier.table(kind)
    );
    let rows = sqlx::query(&sql)
        .bind(machine)
        .bind(db_time(crate::rollup::bucket_start(from, tier.width())))
        .bind(db_time(to))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(|r| bucket_of(r, kind, metrics)).collect()
}

#[cfg(test)]
mod tests {
    use super::float;

    #[test]
    fn values_beyond_float_range_are_stored_as_its_bounds() {
        assert_eq!(float(1e39), Some(f32::MAX));
        assert_eq!(float(-1e300), Some(-f32::MAX));
        assert_eq!(float(f64::INFINITY), Some(f32::MAX));
        assert_eq!(float(f64::NAN), None);
        assert_eq!(float(12.5), Some(12.5));
    }
}
