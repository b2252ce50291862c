//! Time partitions of the tier tables (`RANGE COLUMNS` on the time column): a partition per day
//! (per month for the hour tier) named `pYYYYMMDD` (`pYYYYMM`) holding the rows before its
//! bound, and `p_future` for anything later. New partitions are split off `p_future` ahead of
//! time; retention drops whole partitions. Each statement is one metadata change: none of them
//! touches `raw_recent`, so ingest never waits for them.

use chrono::{Datelike, Months, NaiveDate, TimeDelta};
use sqlx::mysql::MySqlConnection;
use sqlx::{Executor, Row as _};

/// How wide a table's partitions are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Day,
    Month,
}

impl Unit {
    /// The first instant of the partition that holds `d`.
    fn floor(self, d: NaiveDate) -> NaiveDate {
        match self {
            Unit::Day => d,
            Unit::Month => d.with_day(1).expect("day 1 exists"),
        }
    }

    fn next(self, d: NaiveDate) -> NaiveDate {
        match self {
            Unit::Day => d + TimeDelta::days(1),
            Unit::Month => self.floor(d) + Months::new(1),
        }
    }

    fn name(self, start: NaiveDate) -> String {
        match self {
            Unit::Day => start.format("p%Y%m%d").to_string(),
            Unit::Month => start.format("p%Y%m").to_string(),
        }
    }
}

/// A partition and its upper bound (exclusive); `None` for `p_future`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub name: String,
    pub bound: Option<NaiveDate>,
    /// Data and index bytes, from the table statistics.
    pub bytes: u64,
}

/// A table's partitions, in bound order.
pub async fn list(conn: &mut MySqlConnection, table: &str) -> Result<Vec<Partition>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT CONVERT(partition_name USING utf8mb4) AS name, CONVERT(partition_description USING utf8mb4) AS bound, \
         CAST(data_length + index_length AS UNSIGNED) AS bytes FROM information_schema.partitions \
         WHERE table_schema = DATABASE() AND table_name = ? AND partition_name IS NOT NULL \
         ORDER BY partition_ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let bound: String = r.try_get("bound")?;
            Ok(Partition {
                name: r.try_get("name")?,
                // `'2026-12-02 00:00:00'` or `MAXVALUE`
                bound: NaiveDate::parse_from_str(bound.trim_matches('\'').get(..10).unwrap_or(""), "%Y-%m-%d").ok(),
                bytes: r.try_get("bytes")?,
            })
        })
        .collect()
}

/// Makes sure partitions exist up to the one holding `through`, splitting them off `p_future`.
/// On a table with none yet, the first starts at `from` (older rows then fall in it).
pub async fn ensure(
    conn: &mut MySqlConnection,
    table: &str,
    unit: Unit,
    from: NaiveDate,
    through: NaiveDate,
) -> Result<usize, sqlx::Error> {
    let parts = list(&mut *conn, table).await?;
    let last = parts.iter().filter_map(|p| p.bound).max();
    let mut start = match last {
        Some(bound) => bound,
        None => unit.floor(from),
    };
    let mut new = Vec::new();
    while start <= through {
        let end = unit.next(start);
        new.push(format!(
            "PARTITION {} VALUES LESS THAN ('{}')",
            unit.name(start),
            end.format("%Y-%m-%d")
        ));
        start = end;
    }
    if new.is_empty() {
        return Ok(0);
    }
    conn.execute(
        format!(
            "ALTER TABLE {table} REORGANIZE PARTITION p_future INTO ({}, PARTITION p_future VALUES LESS THAN (MAXVALUE))",
            new.join(", ")
        )
        .as_str(),
    )
    .await?;
    Ok(new.len())
}

/// Drops the partitions whose rows are all older than `cutoff` (their bound is not after it).
pub async fn drop_before(
    conn: &mut MySqlConnection,
    table: &str,
    cutoff: NaiveDate,
) -> Result<Vec<String>, sqlx::Error> {
    let old: Vec<String> = list(&mut *conn, table)
        .await?
        .into_iter()
        .filter(|p| p.bound.is_some_and(|b| b <= cutoff))
        .map(|p| p.name)
        .collect();
    drop(conn, table, &old).await?;
    Ok(old)
}

/// Drops the named partitions.
pub async fn drop(conn: &mut MySqlConnection, table: &str, names: &[String]) -> Result<(), sqlx::Error> {
    if !names.is_empty() {
        conn.execute(format!("ALTER TABLE {table} DROP PARTITION {}", names.join(", ")).as_str())
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_bounds() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        assert_eq!(Unit::Day.name(d), "p20261231");
        assert_eq!(Unit::Day.next(d), NaiveDate::from_ymd_opt(2027, 1, 1).unwrap());
        assert_eq!(Unit::Month.floor(d), NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        assert_eq!(Unit::Month.next(d), NaiveDate::from_ymd_opt(2027, 1, 1).unwrap());
        assert_eq!(Unit::Month.name(Unit::Month.floor(d)), "p202612");
    }
}
