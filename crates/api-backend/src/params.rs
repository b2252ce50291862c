//! Query parameters of the read endpoints: time ranges (`from`/`to` as RFC 3339 or
//! `YYYY-MM-DD`) and page sizes. Pure: the caller passes `now`.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::error::Error;

/// A half-open time range `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// `from`/`to` as given; a missing `to` is `now`, a missing `from` is `to - default_span`
/// (`None`: the beginning of time). A timestamp `to` is inclusive, a date `to` covers that whole
/// day (UTC).
pub fn range(
    from: Option<&str>,
    to: Option<&str>,
    now: DateTime<Utc>,
    default_span: Option<Duration>,
) -> Result<Range, Error> {
    let to = match to.filter(|s| !s.is_empty()) {
        Some(s) => bound("to", s, true)?,
        None => now + Duration::milliseconds(1),
    };
    let from = match from.filter(|s| !s.is_empty()) {
        Some(s) => bound("from", s, false)?,
        None => default_span.map_or(DateTime::<Utc>::UNIX_EPOCH, |span| to - span),
    };
    if from >= to {
        return Err(Error::InvalidParameter(format!(
            "from ({}) must be before to ({})",
            common::timefmt::format(&from),
            common::timefmt::format(&to)
        )));
    }
    Ok(Range { from, to })
}

/// One end of a range; for `to`, the first instant after it.
fn bound(name: &str, s: &str, end: bool) -> Result<DateTime<Utc>, Error> {
    if let Ok(t) = common::timefmt::parse(s) {
        let t = common::timefmt::truncate_millis(t);
        return Ok(if end { t + Duration::milliseconds(1) } else { t });
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let day = if end { d.succ_opt().unwrap_or(d) } else { d };
        return Ok(day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    Err(Error::InvalidParameter(format!(
        "{name}: {s:?} is not an RFC 3339 timestamp or a YYYY-MM-DD date"
    )))
}

/// `limit`: `default` when absent, else 1..=`max`.
pub fn limit(s: Option<&str>, default: u32, max: u32) -> Result<u32, Error> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(Error::InvalidParameter(format!(
                "limit: {s:?} must be a whole number from 1 to {max}"
            ))),
        },
    }
}

/// `tier`: which storage tier answers a samples query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierChoice {
    Auto,
    Raw,
    Minute,
    Hour,
}

/// `tier=raw|minute|hour|auto` (absent: auto).
pub fn tier(s: Option<&str>) -> Result<TierChoice, Error> {
    match s.filter(|s| !s.is_empty()) {
        None | Some("auto") => Ok(TierChoice::Auto),
        Some("raw") => Ok(TierChoice::Raw),
        Some("minute") => Ok(TierChoice::Minute),
        Some("hour") => Ok(TierChoice::Hour),
        Some(other) => Err(Error::InvalidParameter(format!(
            "tier: {other:?} must be raw, minute, hour or auto"
        ))),
    }
}

/// `step`: seconds (`60`, `0.5`) or a duration (`5m`, `1h`); at least a millisecond.
pub fn step(s: Option<&str>) -> Result<Option<Duration>, Error> {
    let Some(s) = s.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let bad = || {
        Error::InvalidParameter(format!(
            "step: {s:?} must be seconds (60) or a duration (5m, 1h), at least 1ms"
        ))
    };
    let d = match s.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs < 1.0e9 => {
            Duration::milliseconds((secs * 1000.0).round() as i64)
        }
        Ok(_) => return Err(bad()),
        Err(_) => humantime::parse_duration(s)
            .ok()
            .and_then(|d| Duration::from_std(d).ok())
            .ok_or_else(bad)?,
    };
    if d < Duration::milliseconds(1) || d > Duration::days(3650) {
        return Err(bad());
    }
    Ok(Some(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        common::timefmt::parse(s).unwrap()
    }

    #[test]
    fn default_range_is_the_last_hour() {
        let now = t("2026-01-01T12:00:00Z");
        let r = range(None, None, now, Some(Duration::hours(1))).unwrap();
        assert_eq!(r.from, t("2026-01-01T11:00:00.001Z"));
        assert_eq!(r.to, t("2026-01-01T12:00:00.001Z"), "now is included");
    }

    #[test]
    fn dates_cover_whole_days_and_timestamps_are_inclusive() {
        let now = t("2026-01-05T00:00:00Z");
        let r = range(Some("2026-01-01"), Some("2026-01-02"), now, None).unwrap();
        assert_eq!((r.from, r.to), (t("2026-01-01T00:00:00Z"), t("2026-01-03T00:00:00Z")));
        let r = range(
            Some("2026-01-01T10:00:00+02:00"),
            Some("2026-01-01T09:00:00Z"),
            now,
            None,
        )
        .unwrap();
        assert_eq!(
            (r.from, r.to),
            (t("2026-01-01T08:00:00Z"), t("2026-01-01T09:00:00.001Z"))
        );
    }

    #[test]
    fn bad_ranges_are_rejected_naming_the_parameter() {
        let now = t("2026-01-05T00:00:00Z");
        let err = |r: Result<Range, Error>| r.unwrap_err().to_string();
        assert!(err(range(Some("yesterday"), None, now, None)).starts_with("from"));
        assert!(err(range(None, Some("2026-02-30"), now, None)).starts_with("to"));
        assert!(err(range(Some("2026-01-03"), Some("2026-01-02"), now, None)).contains("must be before"));
    }

    #[test]
    fn steps_and_tiers() {
        assert_eq!(step(None).unwrap(), None);
        assert_eq!(step(Some("60")).unwrap(), Some(Duration::seconds(60)));
        assert_eq!(step(Some("0.5")).unwrap(), Some(Duration::milliseconds(500)));
        assert_eq!(step(Some("5m")).unwrap(), Some(Duration::minutes(5)));
        for bad in ["0", "-1", "soon", "0.0001", "NaN"] {
            assert!(step(Some(bad)).unwrap_err().to_string().starts_with("step"), "{bad}");
        }
        assert_eq!(tier(None).unwrap(), TierChoice::Auto);
        assert_eq!(tier(Some("hour")).unwrap(), TierChoice::Hour);
        assert!(tier(Some("daily")).unwrap_err().to_string().starts_with("tier"));
    }

    #[test]
    fn limits() {
        assert_eq!(limit(None, 1000, 10_000).unwrap(), 1000);
        assert_eq!(limit(Some("10000"), 1000, 10_000).unwrap(), 10_000);
        for bad in ["0", "10001", "-1", "ten"] {
            assert!(
                limit(Some(bad), 1000, 10_000)
                    .unwrap_err()
                    .to_string()
                    .starts_with("limit"),
                "{bad}"
            );
        }
    }
}
