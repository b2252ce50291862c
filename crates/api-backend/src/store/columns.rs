//! How wire values fit the narrow columns and come back out: FLOAT rates and percentages,
//! clamped small integers, millisecond DATETIME(3), Docker states as an ENUM.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Rows per multi-row statement (keeps every statement well under MySQL's 65,535 placeholders).
pub const CHUNK: usize = 500;

/// UTC timestamp as stored: whole milliseconds, no zone (connections run with `time_zone='+00:00'`).
pub fn db_time(t: DateTime<Utc>) -> NaiveDateTime {
    common::timefmt::truncate_millis(t).naive_utc()
}

/// A stored timestamp back in UTC.
pub fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// A rate or percentage as stored (FLOAT: about 7 significant digits).
pub fn narrow(v: Option<f64>) -> Option<f32> {
    v.map(|x| x as f32)
}

/// A FLOAT read back as the shortest decimal that round-trips it (`12.4`, not `12.399999618`).
pub fn widen(v: Option<f32>) -> Option<f64> {
    v.map(|x| x.to_string().parse().unwrap_or(f64::from(x)))
}

/// Clamps a count into an INT UNSIGNED column.
pub fn u32_of(v: Option<u64>) -> Option<u32> {
    v.map(|x| u32::try_from(x).unwrap_or(u32::MAX))
}

/// Clamps a count into a SMALLINT UNSIGNED column.
pub fn u16_of(v: Option<u32>) -> Option<u16> {
    v.map(|x| u16::try_from(x).unwrap_or(u16::MAX))
}

/// At most `max` characters (VARCHAR counts characters), cut at a character boundary.
pub fn clip(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

/// The values of `container_samples.state`; anything else is stored as `other`.
const STATES: [&str; 7] = [
    "created",
    "running",
    "paused",
    "restarting",
    "removing",
    "exited",
    "dead",
];

/// Docker's state as stored in a sample row.
pub fn state_code(state: &str) -> &'static str {
    STATES.iter().copied().find(|s| *s == state).unwrap_or("other")
}

/// Docker's health as stored in a sample row; an unknown value is not stored.
pub fn health_code(health: Option<&str>) -> Option<&'static str> {
    let h = health?;
    ["starting", "healthy", "unhealthy", "none"]
        .into_iter()
        .find(|s| *s == h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_come_back_as_written_to_seven_digits() {
        for x in [12.4, 0.1, 99.99, 123456.7, 0.0, 1.0e-3] {
            assert_eq!(widen(narrow(Some(x))), Some(x));
        }
        assert_eq!(widen(narrow(None)), None);
    }

    #[test]
    fn clamps_and_clips() {
        assert_eq!(u32_of(Some(u64::MAX)), Some(u32::MAX));
        assert_eq!(u32_of(Some(7)), Some(7));
        assert_eq!(u16_of(Some(70_000)), Some(u16::MAX));
        assert_eq!(clip("héllo", 2), "hé");
        assert_eq!(clip("ab", 5), "ab");
    }

    #[test]
    fn docker_states_and_health() {
        assert_eq!(state_code("running"), "running");
        assert_eq!(state_code("weird"), "other");
        assert_eq!(health_code(Some("healthy")), Some("healthy"));
        assert_eq!(health_code(Some("sick")), None);
        assert_eq!(health_code(None), None);
    }

    #[test]
    fn times_are_truncated_to_millis() {
        let t = common::timefmt::parse("2026-01-01T00:00:00.123999Z").unwrap();
        assert_eq!(common::timefmt::format(&utc(db_time(t))), "2026-01-01T00:00:00.123Z");
    }
}

/// The list-valued host fields, stored together as compact JSON in `host_samples.details`.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
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

/// `details` of a host sample; `None` when it has none of those fields.
pub fn details_json(h: &common::wire::HostSample) -> Option<String> {
    #[derive(serde::Serialize)]
    struct DetailsRef<'a> {
        #[serde(skip_serializing_if = "<[f64]>::is_empty")]
        per_core_percent: &'a [f64],
        #[serde(skip_serializing_if = "<[common::wire::Interface]>::is_empty")]
        interfaces: &'a [common::wire::Interface],
        #[serde(skip_serializing_if = "<[common::wire::Filesystem]>::is_empty")]
        filesystems: &'a [common::wire::Filesystem],
        #[serde(skip_serializing_if = "Option::is_none")]
        temperatures_c: Option<&'a std::collections::BTreeMap<String, f64>>,
    }
    let empty = h.per_core_percent.is_empty()
        && h.interfaces.is_empty()
        && h.filesystems.is_empty()
        && h.temperatures_c.is_none();
    (!empty).then(|| {
        serde_json::to_string(&DetailsRef {
            per_core_percent: &h.per_core_percent,
            interfaces: &h.interfaces,
            filesystems: &h.filesystems,
            temperatures_c: h.temperatures_c.as_ref(),
        })
        .expect("host details always serialise")
    })
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
