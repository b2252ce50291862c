//! The original Java collector's record (camelCase, one host with its containers, deltas per
//! one-second tick) and its conversion to a v1 [`Record`]. Pure: no I/O, no clock; the time
//! zone of a `timeStamp` without one is the caller's (the backend's `TZ`). A negative delta is a
//! counter reset (a container restarted): that value is absent, the rest of the record kept.
//! A container posted as `{}` has no measurement: it is not running. [`render`] writes any v1
//! record back in this shape (as the original's `/ws/metrics` pushed records), numbers in
//! Java's `Double.toString` form ([`java_double`]).

use std::collections::BTreeMap;

use crate::wire::{ContainerSample, HostSample, Interface, Record, SCHEMA_VERSION};
use chrono::{DateTime, NaiveDateTime, TimeDelta, TimeZone, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The Java collector sampled every second, so its deltas are per-second rates.
pub const JAVA_INTERVAL_MS: u64 = 1000;

/// One record as the Java collector posted it to `POST /api/metrics`.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JavaRecord {
    /// `host` in practice; not needed for the conversion.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    pub host_id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// RFC 3339, `YYYY-MM-DDTHH:MM:SS[.fff]` (the sender's local time, in the receiver's zone)
    /// or epoch milliseconds (number or digits).
    pub time_stamp: serde_json::Value,
    #[serde(default)]
    pub cpu_usage_percent: Option<f64>,
    #[serde(default)]
    pub memory_used_bytes: Option<f64>,
    #[serde(default)]
    pub disk_read_bytes_delta: Option<f64>,
    #[serde(default)]
    pub disk_write_bytes_delta: Option<f64>,
    #[serde(default)]
    pub network_delta: Option<BTreeMap<String, JavaNet>>,
    #[serde(default)]
    pub temperatures: Option<BTreeMap<String, f64>>,
    #[serde(default)]
    pub containers: Option<BTreeMap<String, JavaContainer>>,
}

/// Bytes moved on one interface during the tick.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JavaNet {
    #[serde(default)]
    pub rx_bytes_delta: Option<f64>,
    #[serde(default)]
    pub tx_bytes_delta: Option<f64>,
}

/// One container, keyed by its id in [`JavaRecord::containers`].
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JavaContainer {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub cpu_usage_percent: Option<f64>,
    #[serde(default)]
    pub memory_used_bytes: Option<f64>,
    #[serde(default)]
    pub disk_read_bytes_delta: Option<f64>,
    #[serde(default)]
    pub disk_write_bytes_delta: Option<f64>,
    #[serde(default)]
    pub network_delta: Option<BTreeMap<String, JavaNet>>,
}

/// Parses the JSON body of `POST /api/metrics` and converts it; a `timeStamp` without a zone
/// is a local time of `zone`.
pub fn parse<Tz: TimeZone>(body: &[u8], zone: &Tz) -> Result<Record, String> {
    let java: JavaRecord = serde_json::from_slice(body).map_err(|e| format!("not a metrics record: {e}"))?;
    convert(java, zone)
}

/// Converts a Java record to v1. The record id is derived from `hostId` and `timeStamp`, so a
/// retried post is a duplicate. Range checks are left to [`crate::validate::validate`].
pub fn convert<Tz: TimeZone>(j: JavaRecord, zone: &Tz) -> Result<Record, String> {
    let sampled_at = timestamp(&j.time_stamp, zone)?;
    let interfaces = interfaces(j.network_delta.unwrap_or_default());
    let (net_rx, net_tx) = sums(interfaces.iter().filter(|i| !is_loopback(&i.name)));
    let host = HostSample {
        cpu_percent: j.cpu_usage_percent,
        mem_used_bytes: bytes("memoryUsedBytes", j.memory_used_bytes)?,
        disk_read_bytes_per_sec: delta(j.disk_read_bytes_delta),
        disk_write_bytes_per_sec: delta(j.disk_write_bytes_delta),
        net_rx_bytes_per_sec: net_rx,
        net_tx_bytes_per_sec: net_tx,
        interfaces,
        temperatures_c: j.temperatures.filter(|t| !t.is_empty()),
        ..HostSample::default()
    };
    let containers = j
        .containers
        .unwrap_or_default()
        .into_iter()
        .map(|(id, c)| container(id, c))
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Record {
        schema: SCHEMA_VERSION,
        record_id: record_id(&j.host_id, sampled_at),
        host_name: j.name.filter(|n| !n.is_empty()).unwrap_or_else(|| j.host_id.clone()),
        host_id: j.host_id,
        sampled_at,
        interval_ms: JAVA_INTERVAL_MS,
        host,
        containers,
        events: vec![],
    })
}

/// The state of a container posted with no measurement at all (`{}`): the original collector
/// had no stats of it, as of a container that is not running.
pub const NOT_RUNNING: &str = "exited";

fn container(id: String, c: JavaContainer) -> Result<ContainerSample, String> {
    let measured = c.cpu_usage_percent.is_some()
        || c.memory_used_bytes.is_some()
        || c.disk_read_bytes_delta.is_some()
        || c.disk_write_bytes_delta.is_some()
        || c.network_delta.is_some();
    let (rx, tx) = sums(interfaces(c.network_delta.unwrap_or_default()).iter());
    let name = c.name.unwrap_or_default();
    Ok(ContainerSample {
        name: name.strip_prefix('/').unwrap_or(&name).to_owned(),
        state: if measured { "running" } else { NOT_RUNNING }.to_owned(),
        cpu_percent: c.cpu_usage_percent,
        mem_used_bytes: bytes(&format!("containers[{id:?}].memoryUsedBytes"), c.memory_used_bytes)?,
        net_rx_bytes_per_sec: rx,
        net_tx_bytes_per_sec: tx,
        blk_read_bytes_per_sec: delta(c.disk_read_bytes_delta),
        blk_write_bytes_per_sec: delta(c.disk_write_bytes_delta),
        id,
        ..ContainerSample::default()
    })
}

/// A delta as a rate; a negative one is a counter reset, not a measurement.
fn delta(v: Option<f64>) -> Option<f64> {
    v.filter(|x| *x >= 0.0)
}

/// `lo`, or the original's `lo_<n>` key of it.
fn is_loopback(name: &str) -> bool {
    name == "lo"
        || name
            .strip_prefix("lo_")
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
}

fn interfaces(deltas: BTreeMap<String, JavaNet>) -> Vec<Interface> {
    deltas
        .into_iter()
        .map(|(name, d)| Interface {
            name,
            rx_bytes_per_sec: delta(d.rx_bytes_delta),
            tx_bytes_per_sec: delta(d.tx_bytes_delta),
            ..Interface::default()
        })
        .collect()
}

/// Sums of rx and tx; `None` when no interface measured that direction.
fn sums<'a>(ifaces: impl Iterator<Item = &'a Interface>) -> (Option<f64>, Option<f64>) {
    ifaces.fold((None, None), |(rx, tx), i| {
        (add(rx, i.rx_bytes_per_sec), add(tx, i.tx_bytes_per_sec))
    })
}

fn add(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

fn bytes(field: &str, v: Option<f64>) -> Result<Option<u64>, String> {
    match v {
        None => Ok(None),
        Some(x) if x.is_finite() && x >= 0.0 && x < u64::MAX as f64 => Ok(Some(x.round() as u64)),
        Some(x) => Err(format!("{field}: {x} must be a non-negative number of bytes")),
    }
}

/// `timeStamp` as RFC 3339, `YYYY-MM-DDTHH:MM:SS[.fff]` (a local time of `zone`) or epoch
/// milliseconds.
pub fn timestamp<Tz: TimeZone>(v: &serde_json::Value, zone: &Tz) -> Result<DateTime<Utc>, String> {
    let bad =
        || format!("timeStamp: {v} is not RFC 3339, YYYY-MM-DDTHH:MM:SS[.fff] (local time) or epoch milliseconds");
    let t = match v {
        serde_json::Value::Number(n) => n.as_i64().and_then(DateTime::from_timestamp_millis),
        serde_json::Value::String(s) => {
            let s = s.trim();
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse::<i64>().ok().and_then(DateTime::from_timestamp_millis)
            } else {
                crate::timefmt::parse(s).ok().or_else(|| {
                    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
                        .iter()
                        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
                        .and_then(|n| local_instant(n, zone))
                })
            }
        }
        _ => None,
    };
    // years 0000..=9999 only: RFC 3339 has no others, and the record must be writable as v1
    // (found by the compat_record fuzz target: "-026-03-01T…" parsed as the year -26)
    use chrono::Datelike;
    t.filter(|t| (0..=9999).contains(&t.year()))
        .map(crate::timefmt::truncate_millis)
        .ok_or_else(bad)
}

/// The instant of local time `n` in `zone`: the earlier one where the clock was set back, and
/// where it jumped forward over `n` the instant an hour later on the clock (as Java reads it).
fn local_instant<Tz: TimeZone>(n: NaiveDateTime, zone: &Tz) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&n).earliest() {
        Some(t) => Some(t.with_timezone(&Utc)),
        None => zone
            .from_local_datetime(&(n + TimeDelta::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc)),
    }
}

/// A number as Java's `Double.toString` writes it (and Jackson, the original's JSON writer):
/// plain with at least one decimal between 10^-3 and 10^7 (`85.0`, `12.5`), otherwise
/// scientific (`2.0E10`, `1.5E-4`).
pub fn java_double(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let magnitude = v.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let s = v.to_string();
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    let s = format!("{v:e}");
    let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_owned()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exponent}")
}

/// A number as a JSON number written in Java's `Double.toString` form (`85.0`, `2.0E10`);
/// `None` for NaN and the infinities, which JSON cannot carry.
pub fn java_number(v: f64) -> Option<Box<serde_json::value::RawValue>> {
    if !v.is_finite() {
        return None;
    }
    serde_json::value::RawValue::from_string(java_double(v)).ok()
}

/// A container's name as Docker gives it (and the original showed it): `/` first.
pub fn docker_name(name: &str) -> String {
    format!("/{}", name.trim_start_matches('/'))
}

/// The form of compat times: `YYYY-MM-DDTHH:MM:SS` (local time, no zone, no fraction).
pub const LOCAL_TIME: &str = "%Y-%m-%dT%H:%M:%S";

/// A JSON number in Java's form; null when absent or not finite.
struct Num(Option<f64>);

impl serde::Serialize for Num {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.and_then(java_number) {
            Some(raw) => raw.serialize(s),
            None => s.serialize_none(),
        }
    }
}

/// The original record's shape, keys in its order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Shape<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    host_id: &'a str,
    name: &'a str,
    time_stamp: String,
    cpu_usage_percent: Num,
    memory_used_bytes: Num,
    disk_read_bytes_delta: Num,
    disk_write_bytes_delta: Num,
    network_delta: BTreeMap<&'a str, NetShape>,
    temperatures: BTreeMap<&'a str, Num>,
    containers: BTreeMap<&'a str, ContainerShape<'a>>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct NetShape {
    rx_bytes_delta: Num,
    tx_bytes_delta: Num,
}

/// A running container's measurements, or `{}` for one that is not running.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum ContainerShape<'a> {
    Running(Box<RunningShape<'a>>),
    Other {},
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct RunningShape<'a> {
    name: String,
    cpu_usage_percent: Num,
    memory_used_bytes: Num,
    disk_read_bytes_delta: Num,
    disk_write_bytes_delta: Num,
    network_delta: BTreeMap<&'a str, NetShape>,
}

/// The interface name a container's summed traffic is written under (Docker's default one).
pub const CONTAINER_INTERFACE: &str = "eth0";

/// `r` in the original collector's shape, as one compact JSON object: deltas are the rates of
/// one second (the original's tick), `timeStamp` is `YYYY-MM-DDTHH:MM:SS` local time of `zone`,
/// container names start with `/`, a container that is not running is `{}`, a value not
/// measured is null.
pub fn render<Tz: TimeZone>(r: &Record, zone: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let bytes = |b: Option<u64>| Num(b.map(|b| b as f64));
    let h = &r.host;
    let containers = r
        .containers
        .iter()
        .map(|c| {
            let shape = if c.state == "running" {
                let mut net = BTreeMap::new();
                if c.net_rx_bytes_per_sec.is_some() || c.net_tx_bytes_per_sec.is_some() {
                    net.insert(
                        CONTAINER_INTERFACE,
                        NetShape {
                            rx_bytes_delta: Num(c.net_rx_bytes_per_sec),
                            tx_bytes_delta: Num(c.net_tx_bytes_per_sec),
                        },
                    );
                }
                ContainerShape::Running(Box::new(RunningShape {
                    name: docker_name(&c.name),
                    cpu_usage_percent: Num(c.cpu_percent),
                    memory_used_bytes: bytes(c.mem_used_bytes),
                    disk_read_bytes_delta: Num(c.blk_read_bytes_per_sec),
                    disk_write_bytes_delta: Num(c.blk_write_bytes_per_sec),
                    network_delta: net,
                }))
            } else {
                ContainerShape::Other {}
            };
            (c.id.as_str(), shape)
        })
        .collect();
    let shape = Shape {
        kind: "host",
        host_id: &r.host_id,
        name: &r.host_name,
        time_stamp: r.sampled_at.with_timezone(zone).format(LOCAL_TIME).to_string(),
        cpu_usage_percent: Num(h.cpu_percent),
        memory_used_bytes: bytes(h.mem_used_bytes),
        disk_read_bytes_delta: Num(h.disk_read_bytes_per_sec),
        disk_write_bytes_delta: Num(h.disk_write_bytes_per_sec),
        network_delta: h
            .interfaces
            .iter()
            .map(|i| {
                let net = NetShape {
                    rx_bytes_delta: Num(i.rx_bytes_per_sec),
                    tx_bytes_delta: Num(i.tx_bytes_per_sec),
                };
                (i.name.as_str(), net)
            })
            .collect(),
        temperatures: h
            .temperatures_c
            .iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), Num(Some(*v))))
            .collect(),
        containers,
    };
    serde_json::to_string(&shape).expect("the original shape serialises")
}

/// `java-` and 32 hex digits of SHA-256 over host id and sample time: stable across retries.
pub fn record_id(host_id: &str, sampled_at: DateTime<Utc>) -> String {
    let mut h = Sha256::new();
    h.update(host_id.as_bytes());
    h.update([0u8]);
    h.update(sampled_at.timestamp_millis().to_be_bytes());
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("java-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn java() -> serde_json::Value {
        json!({
            "type": "host", "hostId": "h-1", "name": "box-1", "timeStamp": "2026-03-01T10:00:00.250",
            "cpuUsagePercent": 12.5, "memoryUsedBytes": 1048576, "diskReadBytesDelta": 4096,
            "diskWriteBytesDelta": 8192,
            "networkDelta": {"eth0": {"rxBytesDelta": 100, "txBytesDelta": 200},
                             "eth1": {"rxBytesDelta": 1, "txBytesDelta": 2},
                             "lo": {"rxBytesDelta": 999, "txBytesDelta": 999}},
            "temperatures": {"cpu": 47.0},
            "containers": {"abc123": {"name": "/web", "cpuUsagePercent": 150.0, "memoryUsedBytes": 2048,
                                      "diskReadBytesDelta": 10, "diskWriteBytesDelta": 20,
                                      "networkDelta": {"eth0": {"rxBytesDelta": 5, "txBytesDelta": 6}}}}
        })
    }

    fn convert_json(v: serde_json::Value) -> Result<Record, String> {
        parse(&serde_json::to_vec(&v).unwrap(), &Utc)
    }

    #[test]
    fn converts_host_fields_and_deltas_to_per_second_rates() {
        let r = convert_json(java()).unwrap();
        assert_eq!(r.host_id, "h-1");
        assert_eq!(r.host_name, "box-1");
        assert_eq!(crate::timefmt::format(&r.sampled_at), "2026-03-01T10:00:00.250Z");
        assert_eq!(r.interval_ms, 1000);
        assert_eq!(r.host.cpu_percent, Some(12.5));
        assert_eq!(r.host.mem_used_bytes, Some(1_048_576));
        assert_eq!(r.host.disk_read_bytes_per_sec, Some(4096.0));
        assert_eq!(r.host.disk_write_bytes_per_sec, Some(8192.0));
        assert_eq!(r.host.net_rx_bytes_per_sec, Some(101.0), "loopback is not counted");
        assert_eq!(r.host.net_tx_bytes_per_sec, Some(202.0));
        assert_eq!(r.host.interfaces.len(), 3);
        assert_eq!(r.host.temperatures_c.as_ref().unwrap()["cpu"], 47.0);
        assert_eq!(r.host.mem_total_bytes, None, "not measured stays absent");
        crate::validate::validate(&r, r.sampled_at).unwrap();
    }

    #[test]
    fn converts_containers() {
        let r = convert_json(java()).unwrap();
        let c = &r.containers[0];
        assert_eq!(
            (c.id.as_str(), c.name.as_str(), c.state.as_str()),
            ("abc123", "web", "running")
        );
        assert_eq!(c.cpu_percent, Some(150.0));
        assert_eq!(c.mem_used_bytes, Some(2048));
        assert_eq!(
            (c.blk_read_bytes_per_sec, c.blk_write_bytes_per_sec),
            (Some(10.0), Some(20.0))
        );
        assert_eq!((c.net_rx_bytes_per_sec, c.net_tx_bytes_per_sec), (Some(5.0), Some(6.0)));
    }

    #[test]
    fn minimal_record_has_no_fake_zeros() {
        let r = convert_json(json!({"hostId": "h", "timeStamp": 1767225600000_i64})).unwrap();
        assert_eq!(r.host_name, "h");
        assert_eq!(r.host, HostSample::default());
        assert!(r.containers.is_empty());
        let r = convert_json(
            json!({"hostId": "h", "timeStamp": 1767225600000_i64, "temperatures": {},
                                    "networkDelta": null, "containers": null}),
        )
        .unwrap();
        assert_eq!(
            r.host.temperatures_c, None,
            "a host without sensors has no temperatures"
        );
        assert_eq!(r.host.net_rx_bytes_per_sec, None);
    }

    #[test]
    fn timestamp_formats() {
        let expect = "2026-01-01T00:00:00.000Z";
        for v in [
            json!("2026-01-01T00:00:00Z"),
            json!("2026-01-01T01:00:00+01:00"),
            json!("2026-01-01T00:00:00"),
            json!("2026-01-01 00:00:00.000"),
            json!(1767225600000_i64),
            json!("1767225600000"),
        ] {
            assert_eq!(crate::timefmt::format(&timestamp(&v, &Utc).unwrap()), expect, "{v}");
        }
        for v in [
            json!("yesterday"),
            json!(null),
            json!(true),
            json!("2026-13-01T00:00:00"),
        ] {
            assert!(timestamp(&v, &Utc).unwrap_err().starts_with("timeStamp"), "{v}");
        }
    }

    #[test]
    fn a_time_without_a_zone_is_local_time_of_the_receivers_zone() {
        let seoul = chrono::FixedOffset::east_opt(9 * 3600).unwrap();
        let t = timestamp(&json!("2026-03-01T19:00:00.250"), &seoul).unwrap();
        assert_eq!(crate::timefmt::format(&t), "2026-03-01T10:00:00.250Z");
        // a zone in the value wins; epoch milliseconds have none to take
        let t = timestamp(&json!("2026-03-01T10:00:00Z"), &seoul).unwrap();
        assert_eq!(crate::timefmt::format(&t), "2026-03-01T10:00:00.000Z");
        let t = timestamp(&json!(1767225600000_i64), &seoul).unwrap();
        assert_eq!(crate::timefmt::format(&t), "2026-01-01T00:00:00.000Z");
    }

    #[test]
    fn a_negative_delta_is_a_counter_reset_left_absent_and_the_rest_kept() {
        let mut v = java();
        v["diskReadBytesDelta"] = json!(-4096);
        v["networkDelta"]["eth0"]["rxBytesDelta"] = json!(-100);
        v["containers"]["abc123"]["diskWriteBytesDelta"] = json!(-20);
        let r = convert_json(v).unwrap();
        assert_eq!(r.host.disk_read_bytes_per_sec, None);
        assert_eq!(r.host.disk_write_bytes_per_sec, Some(8192.0));
        assert_eq!(r.host.net_rx_bytes_per_sec, Some(1.0), "eth1 only");
        assert_eq!(r.host.net_tx_bytes_per_sec, Some(202.0));
        assert_eq!(r.containers[0].blk_write_bytes_per_sec, None);
        assert_eq!(r.containers[0].blk_read_bytes_per_sec, Some(10.0));
        crate::validate::validate(&r, r.sampled_at).unwrap();
    }

    #[test]
    fn a_container_without_measurements_is_not_running_and_loopback_keys_are_not_counted() {
        let mut v = java();
        v["containers"]["dead00"] = json!({});
        v["networkDelta"] = json!({"eth0_0": {"rxBytesDelta": 100, "txBytesDelta": 200},
                                   "lo_1": {"rxBytesDelta": 999, "txBytesDelta": 999}});
        let r = convert_json(v).unwrap();
        let dead = r.containers.iter().find(|c| c.id == "dead00").unwrap();
        assert_eq!((dead.state.as_str(), dead.name.as_str()), (NOT_RUNNING, ""));
        assert_eq!(r.containers.iter().find(|c| c.id == "abc123").unwrap().state, "running");
        assert_eq!(r.host.net_rx_bytes_per_sec, Some(100.0));
        crate::validate::validate(&r, r.sampled_at).unwrap();
    }

    #[test]
    fn record_id_is_stable_across_retries_and_formats() {
        let a = convert_json(java()).unwrap();
        let mut v = java();
        v["timeStamp"] = json!("2026-03-01T10:00:00.250Z");
        let b = convert_json(v).unwrap();
        assert_eq!(a.record_id, b.record_id);
        let mut v = java();
        v["hostId"] = json!("h-2");
        assert_ne!(convert_json(v).unwrap().record_id, a.record_id);
        let mut v = java();
        v["timeStamp"] = json!("2026-03-01T10:00:00.251");
        assert_ne!(convert_json(v).unwrap().record_id, a.record_id);
        assert!(a.record_id.starts_with("java-") && a.record_id.len() == 37);
    }

    #[test]
    fn bad_input_is_an_error_naming_the_field() {
        assert!(convert_json(json!({"timeStamp": 1})).unwrap_err().contains("hostId"));
        assert!(convert_json(json!({"hostId": "h"})).unwrap_err().contains("timeStamp"));
        let mut v = java();
        v["memoryUsedBytes"] = json!(-1);
        assert!(convert_json(v).unwrap_err().starts_with("memoryUsedBytes"));
        assert!(parse(b"[1,2]", &Utc).is_err());
    }

    #[test]
    fn numbers_are_written_like_java_doubles() {
        for (v, want) in [
            (85.0, "85.0"),
            (12.5, "12.5"),
            (0.0, "0.0"),
            (-3.0, "-3.0"),
            (300000.0, "300000.0"),
            (2.0e10, "2.0E10"),
            (4.0e7, "4.0E7"),
            (1.5e-4, "1.5E-4"),
            (12345678.9, "1.23456789E7"),
            (6.442450944e9, "6.442450944E9"),
        ] {
            assert_eq!(java_double(v), want, "{v}");
        }
    }

    #[test]
    fn a_record_renders_back_in_the_original_shape() {
        let mut v = java();
        v["containers"]["dead00"] = json!({});
        let r = convert_json(v).unwrap();
        let text = render(&r, &Utc);
        assert!(
            text.starts_with(r#"{"type":"host","hostId":"h-1","name":"box-1","timeStamp":"2026-03-01T10:00:00","cpuUsagePercent":12.5,"memoryUsedBytes":1048576.0,"diskReadBytesDelta":4096.0,"#),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back["networkDelta"]["eth0"],
            json!({"rxBytesDelta": 100.0, "txBytesDelta": 200.0})
        );
        assert_eq!(back["temperatures"], json!({"cpu": 47.0}));
        assert_eq!(back["containers"]["dead00"], json!({}));
        let c = &back["containers"]["abc123"];
        assert_eq!(c["name"], "/web");
        assert_eq!(c["networkDelta"][CONTAINER_INTERFACE]["txBytesDelta"], 6.0);
        // what it renders converts to the same measurements
        let again = parse(text.as_bytes(), &Utc).unwrap();
        assert_eq!(again.host.cpu_percent, r.host.cpu_percent);
        assert_eq!(again.host.net_rx_bytes_per_sec, r.host.net_rx_bytes_per_sec);
        assert_eq!(again.containers, r.containers);
        // local time of the zone given; an unmeasured value is null
        let seoul = chrono::FixedOffset::east_opt(9 * 3600).unwrap();
        let mut r = r;
        r.host.cpu_percent = None;
        let back: serde_json::Value = serde_json::from_str(&render(&r, &seoul)).unwrap();
        assert_eq!(back["timeStamp"], "2026-03-01T19:00:00");
        assert_eq!(back["cpuUsagePercent"], serde_json::Value::Null);
    }

    #[test]
    fn a_year_rfc_3339_cannot_write_is_refused() {
        let mut j = java();
        j["timeStamp"] = json!("-026-03-01T10:00:00.250");
        assert!(convert_json(j).unwrap_err().starts_with("timeStamp:"));
        let mut j = java();
        j["timeStamp"] = json!(i64::MAX / 1000);
        assert!(convert_json(j).is_err());
    }
}
