//! Whether a machine is `up`, `stale`, `stopped` or `removed`, from what storage knows about it
//! and the current time. Pure: the caller passes `now`.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// The status shown in the machine list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Up,
    Stale,
    Stopped,
    Removed,
}

/// The alert engine's staleness, which the machine list's agrees with.
pub use alerts::builtin::{STALE_INTERVALS, STALE_MIN};
/// Interval assumed when a host never told us its own.
pub const DEFAULT_INTERVAL_MS: u32 = 1000;

/// How long a host may stay silent before it is stale.
pub fn stale_after(interval_ms: Option<u32>) -> Duration {
    let interval = Duration::milliseconds(i64::from(interval_ms.unwrap_or(DEFAULT_INTERVAL_MS)));
    (interval * STALE_INTERVALS as i32).max(STALE_MIN)
}

/// A host: up while it reports, stale once silent for longer than [`stale_after`].
pub fn host_status(last_seen: DateTime<Utc>, interval_ms: Option<u32>, now: DateTime<Utc>) -> Status {
    if now - last_seen > stale_after(interval_ms) {
        Status::Stale
    } else {
        Status::Up
    }
}

/// What is known about a container and its host.
#[derive(Debug, Clone, Copy)]
pub struct ContainerFacts<'a> {
    pub removed: bool,
    pub state: Option<&'a str>,
    pub last_seen: DateTime<Utc>,
    /// The host's status, when the host is known.
    pub host: Option<Status>,
    /// The host's reporting interval.
    pub host_interval_ms: Option<u32>,
}

/// A container: `removed` once removed; `running` is `up`, or `stale` when its host is stale or it
/// stopped appearing in its host's records; any other state is `stopped`.
pub fn container_status(c: ContainerFacts<'_>, now: DateTime<Utc>) -> Status {
    if c.removed {
        Status::Removed
    } else if c.state == Some("running") {
        let silent = now - c.last_seen > stale_after(c.host_interval_ms);
        if silent || c.host == Some(Status::Stale) {
            Status::Stale
        } else {
            Status::Up
        }
    } else {
        Status::Stopped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        common::timefmt::parse(s).unwrap()
    }

    #[test]
    fn host_goes_stale_after_three_intervals_but_not_sooner_than_the_minimum() {
        let seen = t("2026-01-01T00:00:00Z");
        assert_eq!(host_status(seen, Some(1000), t("2026-01-01T00:00:03Z")), Status::Up);
        assert_eq!(
            host_status(seen, Some(1000), t("2026-01-01T00:00:03.001Z")),
            Status::Stale
        );
        assert_eq!(host_status(seen, None, t("2026-01-01T00:00:04Z")), Status::Stale);
        // a 100 ms collector gets the 2 s floor
        assert_eq!(host_status(seen, Some(100), t("2026-01-01T00:00:02Z")), Status::Up);
        assert_eq!(
            host_status(seen, Some(100), t("2026-01-01T00:00:02.001Z")),
            Status::Stale
        );
        // a 60 s collector is stale only after three minutes
        assert_eq!(host_status(seen, Some(60_000), t("2026-01-01T00:02:59Z")), Status::Up);
        assert_eq!(
            host_status(seen, Some(60_000), t("2026-01-01T00:03:01Z")),
            Status::Stale
        );
    }

    #[test]
    fn container_status_follows_state_removal_and_host() {
        let now = t("2026-01-01T00:00:05Z");
        let base = ContainerFacts {
            removed: false,
            state: Some("running"),
            last_seen: t("2026-01-01T00:00:04Z"),
            host: Some(Status::Up),
            host_interval_ms: Some(1000),
        };
        assert_eq!(container_status(base, now), Status::Up);
        assert_eq!(
            container_status(
                ContainerFacts {
                    host: Some(Status::Stale),
                    ..base
                },
                now
            ),
            Status::Stale
        );
        assert_eq!(
            container_status(
                ContainerFacts {
                    state: Some("exited"),
                    ..base
                },
                now
            ),
            Status::Stopped
        );
        assert_eq!(
            container_status(ContainerFacts { state: None, ..base }, now),
            Status::Stopped
        );
        assert_eq!(
            container_status(ContainerFacts { removed: true, ..base }, now),
            Status::Removed
        );
        let later = t("2026-01-01T00:01:00Z");
        assert_eq!(
            container_status(base, later),
            Status::Stale,
            "vanished from its host's records"
        );
    }
}
