//! UTC timestamps on the wire: RFC 3339 with exactly three fractional digits and a `Z`
//! (`2026-11-22T07:38:15.123Z`). Readers accept any RFC 3339 offset and normalise to UTC.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// Formats a timestamp the way the wire format wants it.
pub fn format(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 timestamp (any offset) into UTC.
pub fn parse(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc))
}

/// Truncates a timestamp to whole milliseconds (what storage and the wire keep).
pub fn truncate_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// `#[serde(with = "common::timefmt::millis")]` for a `DateTime<Utc>` field.
pub mod millis {
    use super::*;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse(&s).map_err(|e| serde::de::Error::custom(format!("invalid RFC 3339 timestamp {s:?}: {e}")))
    }
}

/// Same as [`millis`] for an optional field (absent or `null` → `None`).
pub mod millis_opt {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&format(t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let s = Option::<std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.map(|s| parse(&s).map_err(|e| serde::de::Error::custom(format!("invalid RFC 3339 timestamp {s:?}: {e}"))))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_millis_and_z() {
        let t = parse("2026-11-22T08:38:15.123456+01:00").unwrap();
        assert_eq!(format(&t), "2026-11-22T07:38:15.123Z");
        assert_eq!(format(&truncate_millis(t)), "2026-11-22T07:38:15.123Z");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("yesterday").is_err());
    }
}
