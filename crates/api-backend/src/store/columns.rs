//! Column helpers: millisecond DATETIME(3) times, clamped integers, clipped text, text columns
//! with a binary collation, and how the pre-tier tables' FLOAT and JSON columns read back.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Rows per multi-row statement (keeps every statement well under MySQL's 65,535 placeholders).
pub const CHUNK: usize = 500;

/// Pushes `(?, ?, ...)` binding `items`: the list of an `IN`.
pub fn push_in<'a, T>(q: &mut sqlx::QueryBuilder<'a, sqlx::MySql>, items: impl IntoIterator<Item = T>)
where
    T: 'a + sqlx::Encode<'a, sqlx::MySql> + sqlx::Type<sqlx::MySql> + Send,
{
    q.push("(");
    let mut list = q.separated(", ");
    for item in items {
        list.push_bind(item);
    }
    q.push(")");
}

/// UTC timestamp as stored: whole milliseconds, no zone (connections run with `time_zone='+00:00'`).
pub fn db_time(t: DateTime<Utc>) -> NaiveDateTime {
    common::timefmt::truncate_millis(t).naive_utc()
}

/// A stored timestamp back in UTC.
pub fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// A FLOAT read back as the shortest decimal that round-trips it (`12.4`, not `12.399999618`).
pub fn widen(v: Option<f32>) -> Option<f64> {
    v.map(|x| x.to_string().parse().unwrap_or(f64::from(x)))
}

/// Clamps a count into an INT UNSIGNED column.
pub fn u32_of(v: Option<u64>) -> Option<u32> {
    v.map(|x| u32::try_from(x).unwrap_or(u32::MAX))
}

/// At most `max` characters (VARCHAR counts characters), cut at a character boundary.
pub fn clip(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_come_back_as_written_to_seven_digits() {
        for x in [12.4, 0.1, 99.99, 123456.7, 0.0, 1.0e-3] {
            assert_eq!(widen(Some(x as f32)), Some(x));
        }
        assert_eq!(widen(None), None);
    }

    #[test]
    fn clamps_and_clips() {
        assert_eq!(u32_of(Some(u64::MAX)), Some(u32::MAX));
        assert_eq!(u32_of(Some(7)), Some(7));
        assert_eq!(clip("héllo", 2), "hé");
        assert_eq!(clip("ab", 5), "ab");
    }

    #[test]
    fn times_are_truncated_to_millis() {
        let t = common::timefmt::parse("2026-01-01T00:00:00.123999Z").unwrap();
        assert_eq!(common::timefmt::format(&utc(db_time(t))), "2026-01-01T00:00:00.123Z");
    }
}

/// The list-valued host fields, as the pre-tier `host_samples.details` JSON column held them.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Details {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_core_percent: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<common::wire::Interface>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filesystems: Vec<common::wire::Filesystem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperatures_c: Option<std::collections::BTreeMap<String, f64>>,
}

/// A text column. Columns with a binary collation (`utf8mb4_bin`, used for exact id matching)
/// carry MySQL's BINARY flag, which sqlx's type check takes for VARBINARY; the bytes are UTF-8
/// text all the same, so they are decoded without that check (`String` still validates UTF-8).
pub fn text(r: &sqlx::mysql::MySqlRow, column: &str) -> Result<String, sqlx::Error> {
    sqlx::Row::try_get_unchecked(r, column)
}

/// A nullable text column (see [`text`]).
pub fn opt_text(r: &sqlx::mysql::MySqlRow, column: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::Row::try_get_unchecked(r, column)
}
