//! The bodies sent to webhooks.
//!
//! - Slack-style (`ALERT_WEBHOOK_URL`): `{"text": "<one line>", "attachments": [{"color",
//!   "fallback", "footer"}]}`, the line e.g. `[warning] FIRING host.cpu_percent on host web-1:
//!   93.5% (threshold: above 85%), since 2026-01-01 07:00:00 UTC`; the color follows the
//!   severity (green when resolved). Values carry their unit (`%`, `GiB`, `MiB/s`, `°C`).
//! - Generic (`ALERT_GENERIC_WEBHOOK_URL`): the alert event's JSON (as the alert API and
//!   stream show it) plus `"notification": "firing"|"resolved"|"reminder"|"info"` and the
//!   same line as `"summary"` (times in UTC).

use std::fmt::{Display, Write};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::{json, Value};

use super::policy::{Notification, NotificationKind};
use crate::alerts::{AlertEvent, AlertKind, Cause, MachineKind, Metric, Severity};

/// The Slack-style body; times are rendered in `tz` (the server's `TZ` in production).
pub fn slack_body<Tz: TimeZone>(n: &Notification, tz: &Tz) -> Value
where
    Tz::Offset: Display,
{
    let text = summary(n, tz);
    let ev = &n.event;
    let mut footer = format!("alert {} · {} {}", ev.alert_id, ev.machine_kind, ev.key.machine_id);
    if let Some(rule) = ev.key.rule_id {
        let _ = write!(footer, " · rule {rule}");
    }
    json!({
        "text": text,
        "attachments": [{"color": color(n), "fallback": text, "footer": footer}],
    })
}

/// The generic JSON body.
pub fn generic_body(n: &Notification) -> Value {
    let mut body = serde_json::to_value(&n.event).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut body {
        map.insert("notification".into(), n.kind.as_str().into());
        map.insert("summary".into(), summary(n, &Utc).into());
    }
    body
}

/// The one readable line: severity, what happened, where, value against threshold, since when.
pub fn summary<Tz: TimeZone>(n: &Notification, tz: &Tz) -> String
where
    Tz::Offset: Display,
{
    let ev = &n.event;
    let head = match n.kind {
        NotificationKind::Firing => "FIRING",
        NotificationKind::Resolved => "RESOLVED",
        NotificationKind::Reminder => "STILL FIRING",
        NotificationKind::Info => "INFO",
    };
    let mut line = format!("[{}] {head} {} on {}: ", ev.severity.as_str(), what(ev), machine(ev));
    line.push_str(&details(ev, n.kind));
    let firing_since = ev.firing_since.unwrap_or(ev.since);
    let when = |t: DateTime<Utc>| t.with_timezone(tz).format("%Y-%m-%d %H:%M:%S %Z").to_string();
    let _ = match n.kind {
        NotificationKind::Firing => write!(line, ", since {}", when(firing_since)),
        NotificationKind::Reminder => write!(
            line,
            ", since {} ({})",
            when(firing_since),
            duration(ev.at - firing_since)
        ),
        NotificationKind::Resolved => write!(
            line,
            ", fired {}, lasted {}",
            when(firing_since),
            duration(ev.at - firing_since)
        ),
        NotificationKind::Info => write!(line, ", at {}", when(ev.at)),
    };
    line
}

/// The metric (with its mount or sensor) of a threshold alert, else the alert kind.
fn what(ev: &AlertEvent) -> String {
    match (ev.key.kind, ev.metric) {
        (AlertKind::Threshold, Some(metric)) if ev.key.subject.is_empty() => metric.as_str().to_owned(),
        (AlertKind::Threshold, Some(metric)) => format!("{} {}", metric.as_str(), ev.key.subject),
        (kind, _) => kind.as_str().to_owned(),
    }
}

/// `host web-1`, or `container nginx (host h1)`.
fn machine(ev: &AlertEvent) -> String {
    match (ev.machine_kind, &ev.host_id) {
        (MachineKind::Container, Some(host)) => format!("container {} (host {host})", ev.machine_name),
        (kind, _) => format!("{kind} {}", ev.machine_name),
    }
}

fn details(ev: &AlertEvent, kind: NotificationKind) -> String {
    let ended = kind == NotificationKind::Resolved;
    if ended && ev.cause == Some(Cause::ContainerRemoved) {
        return "container removed".to_owned();
    }
    match ev.key.kind {
        AlertKind::Threshold => {
            let limit = match (ev.direction, ev.threshold) {
                (Some(dir), Some(limit)) => format!("threshold: {} {}", dir.as_str(), value(ev.metric, limit)),
                _ => "threshold rule".to_owned(),
            };
            match ev.value {
                Some(v) => format!("{} ({limit})", value(ev.metric, v)),
                None => limit,
            }
        }
        AlertKind::Stale if ended => "reporting again".to_owned(),
        AlertKind::Stale => {
            let silent = ev
                .value
                .map_or("no records".to_owned(), |s| format!("no record for {}", secs(s)));
            match ev.threshold {
                Some(allowed) => format!("{silent} (allowed {})", secs(allowed)),
                None => silent,
            }
        }
        AlertKind::ContainerDied | AlertKind::ContainerOom if ended => "running again".to_owned(),
        AlertKind::ContainerDied => match ev.exit_code {
            Some(code) => format!("exited with code {code}"),
            None => "exited".to_owned(),
        },
        AlertKind::ContainerOom => "killed for running out of memory".to_owned(),
        AlertKind::ContainerUnhealthy if ended => "healthy again".to_owned(),
        AlertKind::ContainerUnhealthy => "health check failing".to_owned(),
        AlertKind::ZeroValue if ended => "reporting non-zero values again".to_owned(),
        AlertKind::ZeroValue => "CPU, memory, disk read and disk write all report 0".to_owned(),
        AlertKind::ContainerIdChanged => match &ev.previous_container_id {
            Some(before) => format!("re-created, id {} → {}", short_id(before), short_id(&ev.key.machine_id)),
            None => format!("re-created as {}", short_id(&ev.key.machine_id)),
        },
    }
}

/// A value with the unit of its metric: `93.5%`, `18.6 GiB`, `38.1 MiB/s`, `47 °C`.
fn value(metric: Option<Metric>, v: f64) -> String {
    let name = metric.map_or("", Metric::as_str);
    if name.ends_with("_percent") {
        format!("{}%", number(v))
    } else if name.ends_with("_bytes_per_sec") {
        format!("{}/s", bytes(v))
    } else if name.ends_with("_bytes") {
        bytes(v)
    } else if name.ends_with("temperature_c") {
        format!("{} °C", number(v))
    } else {
        number(v)
    }
}

/// At most two decimals, without trailing zeros.
fn number(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// Binary units, one decimal: `512 B`, `1.5 KiB`, `18.6 GiB`.
fn bytes(v: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = v;
    let mut unit = 0;
    while v.abs() >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{} B", number(v))
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn secs(s: f64) -> String {
    duration(TimeDelta::milliseconds((s * 1000.0) as i64))
}

/// The two largest units: `45s`, `12m 3s`, `4h`, `1d 2h`.
fn duration(d: TimeDelta) -> String {
    let total = d.num_seconds().max(0);
    let parts = [
        (total / 86_400, "d"),
        (total / 3600 % 24, "h"),
        (total / 60 % 60, "m"),
        (total % 60, "s"),
    ];
    let Some(first) = parts.iter().position(|(n, _)| *n > 0) else {
        return "0s".to_owned();
    };
    parts[first..(first + 2).min(parts.len())]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Docker's 12-character short id.
fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

fn color(n: &Notification) -> &'static str {
    if n.kind == NotificationKind::Resolved {
        return "#2e7d32";
    }
    match n.event.severity {
        Severity::Critical => "#d32f2f",
        Severity::Warning => "#f9a825",
        Severity::Info => "#1e88e5",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{AlertKey, AlertState};
    use crate::notify::tests::support::{container_alert, cpu_alert, event, id_changed, t};

    fn n(kind: NotificationKind, event: AlertEvent) -> Notification {
        Notification { kind, event }
    }

    #[test]
    fn threshold_lines_for_each_notification() {
        let a = cpu_alert(t(0));
        let firing = n(NotificationKind::Firing, event(&a, AlertState::Firing, t(0)));
        assert_eq!(
            summary(&firing, &Utc),
            "[warning] FIRING host.cpu_percent on host web-1: 93.5% (threshold: above 85%), since 2026-01-01 07:00:00 UTC"
        );
        let mut ev = event(&a, AlertState::Resolved, t(723));
        ev.value = Some(70.0);
        assert_eq!(
            summary(&n(NotificationKind::Resolved, ev), &Utc),
            "[warning] RESOLVED host.cpu_percent on host web-1: 70% (threshold: above 85%), \
             fired 2026-01-01 07:00:00 UTC, lasted 12m 3s"
        );
        let reminder = n(
            NotificationKind::Reminder,
            event(&a, AlertState::Firing, t(4 * 3600 + 5)),
        );
        assert_eq!(
            summary(&reminder, &Utc),
            "[warning] STILL FIRING host.cpu_percent on host web-1: 93.5% (threshold: above 85%), \
             since 2026-01-01 07:00:00 UTC (4h)"
        );
        // a rule removed while firing: resolved without a value
        let mut ev = event(&a, AlertState::Resolved, t(60));
        ev.value = None;
        assert_eq!(
            summary(&n(NotificationKind::Resolved, ev), &Utc),
            "[warning] RESOLVED host.cpu_percent on host web-1: threshold: above 85%, \
             fired 2026-01-01 07:00:00 UTC, lasted 1m"
        );
    }

    #[test]
    fn times_follow_the_given_zone() {
        let a = cpu_alert(t(0));
        let tz = chrono::FixedOffset::east_opt(3600).unwrap();
        let line = summary(&n(NotificationKind::Firing, event(&a, AlertState::Firing, t(0))), &tz);
        assert!(line.ends_with("since 2026-01-01 08:00:00 +01:00"), "{line}");
    }

    #[test]
    fn units_of_values() {
        let mut a = cpu_alert(t(0));
        a.key = AlertKey::threshold(4, "h1", "/data");
        a.metric = Some(Metric::HostFilesystemUsedPercent);
        a.value = Some(93.456);
        a.threshold = Some(90.0);
        a.severity = Severity::Critical;
        let line = summary(&n(NotificationKind::Firing, event(&a, AlertState::Firing, t(0))), &Utc);
        assert!(
            line.starts_with(
                "[critical] FIRING host.filesystem_used_percent /data on host web-1: 93.46% (threshold: above 90%)"
            ),
            "{line}"
        );
        assert_eq!(value(Some(Metric::HostMemUsedBytes), 2.0e10), "18.6 GiB");
        assert_eq!(value(Some(Metric::HostNetRxBytesPerSec), 300_000.0), "293.0 KiB/s");
        assert_eq!(value(Some(Metric::HostDiskReadBytesPerSec), 512.0), "512 B/s");
        assert_eq!(value(Some(Metric::HostTemperatureC), 50.0), "50 °C");
        assert_eq!(value(Some(Metric::HostLoadPerCore), 1.25), "1.25");
        assert_eq!(value(Some(Metric::ContainerRestartCount), 3.0), "3");
        assert_eq!(value(Some(Metric::HostCpuPercent), -0.001), "0%");
    }

    #[test]
    fn builtin_lines_name_the_container_and_its_host() {
        let mut died = container_alert(AlertKind::ContainerDied, t(0));
        died.exit_code = Some(137);
        assert_eq!(
            summary(
                &n(NotificationKind::Firing, event(&died, AlertState::Firing, t(0))),
                &Utc
            ),
            "[warning] FIRING container_died on container nginx (host h1): exited with code 137, \
             since 2026-01-01 07:00:00 UTC"
        );
        let oom = container_alert(AlertKind::ContainerOom, t(0));
        assert_eq!(
            summary(
                &n(NotificationKind::Resolved, event(&oom, AlertState::Resolved, t(45))),
                &Utc
            ),
            "[critical] RESOLVED container_oom on container nginx (host h1): running again, \
             fired 2026-01-01 07:00:00 UTC, lasted 45s"
        );
        // `docker rm -f`: died (137), then removed; the container is gone, not running again
        let mut removed = event(&died, AlertState::Resolved, t(5));
        removed.cause = Some(Cause::ContainerRemoved);
        assert_eq!(
            summary(&n(NotificationKind::Resolved, removed), &Utc),
            "[warning] RESOLVED container_died on container nginx (host h1): container removed, \
             fired 2026-01-01 07:00:00 UTC, lasted 5s"
        );
        let mut stale = cpu_alert(t(0));
        stale.key = AlertKey::builtin(AlertKind::Stale, "h1");
        stale.metric = None;
        stale.direction = None;
        stale.severity = Severity::Critical;
        stale.threshold = Some(60.0);
        stale.value = Some(125.0);
        assert_eq!(
            summary(
                &n(NotificationKind::Firing, event(&stale, AlertState::Firing, t(0))),
                &Utc
            ),
            "[critical] FIRING stale on host web-1: no record for 2m 5s (allowed 1m), since 2026-01-01 07:00:00 UTC"
        );
        assert_eq!(
            summary(&n(NotificationKind::Info, id_changed(t(0))), &Utc),
            "[info] INFO container_id_changed on container nginx (host h1): re-created, id c1 → c2, \
             at 2026-01-01 07:00:00 UTC"
        );
    }

    #[test]
    fn slack_body_has_text_and_a_severity_color() {
        let a = cpu_alert(t(0));
        let firing = n(NotificationKind::Firing, event(&a, AlertState::Firing, t(0)));
        let body = slack_body(&firing, &Utc);
        assert_eq!(body["text"], summary(&firing, &Utc));
        assert_eq!(body["attachments"][0]["color"], "#f9a825");
        assert_eq!(body["attachments"][0]["fallback"], body["text"]);
        assert_eq!(
            body["attachments"][0]["footer"],
            format!("alert {} · host h1 · rule 1", a.alert_id)
        );
        let resolved = n(NotificationKind::Resolved, event(&a, AlertState::Resolved, t(9)));
        assert_eq!(slack_body(&resolved, &Utc)["attachments"][0]["color"], "#2e7d32");
    }

    #[test]
    fn generic_body_is_the_event_plus_the_notification() {
        let a = cpu_alert(t(0));
        for (kind, want) in [
            (NotificationKind::Firing, "firing"),
            (NotificationKind::Resolved, "resolved"),
            (NotificationKind::Reminder, "reminder"),
            (NotificationKind::Info, "info"),
        ] {
            let ev = event(&a, AlertState::Firing, t(0));
            let body = generic_body(&n(kind, ev.clone()));
            assert_eq!(body["notification"], want);
            let mut expected = serde_json::to_value(&ev).unwrap();
            expected["notification"] = want.into();
            expected["summary"] = summary(&n(kind, ev), &Utc).into();
            assert_eq!(body, expected);
        }
        let body = generic_body(&n(NotificationKind::Firing, event(&a, AlertState::Firing, t(0))));
        assert_eq!(body["alert_id"], a.alert_id);
        assert_eq!(body["kind"], "threshold");
        assert_eq!(body["rule_id"], 1);
        assert_eq!(body["machine_id"], "h1");
        assert_eq!(body["machine_name"], "web-1");
        assert_eq!(body["state"], "firing");
        assert_eq!(body["severity"], "warning");
        assert_eq!(body["metric"], "host.cpu_percent");
        assert_eq!(body["value"], 93.5);
        assert_eq!(body["threshold"], 85.0);
        assert_eq!(body["since"], "2026-01-01T07:00:00Z");
    }

    #[test]
    fn durations_show_two_units() {
        assert_eq!(duration(TimeDelta::seconds(0)), "0s");
        assert_eq!(duration(TimeDelta::seconds(45)), "45s");
        assert_eq!(duration(TimeDelta::seconds(3600 + 5)), "1h");
        assert_eq!(duration(TimeDelta::seconds(3660)), "1h 1m");
        assert_eq!(duration(TimeDelta::seconds(90_000)), "1d 1h");
        assert_eq!(duration(TimeDelta::seconds(-5)), "0s");
    }
}
