//! The original Java collector's record (camelCase, one host with its containers, deltas per
//! one-second tick) and its conversion to a v1 [`Record`]. Pure: no I/O, no clock.

use std::collections::BTreeMap;

use crate::wire::{ContainerSample, HostSample, Interface, Record, SCHEMA_VERSION};
use chrono::{DateTime, NaiveDateTime, Utc};
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
    /// RFC 3339, `YYYY-MM-DDTHH:MM:SS[.fff]` (UTC) or epoch milliseconds (number or digits).
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

/// Parses the JSON body of `POST /api/metrics` and converts it.
pub fn parse(body: &[u8]) -> Result<Record, String> {
    let java: JavaRecord = serde_json::from_slice(body).map_err(|e| format!("not a metrics record: {e}"))?;
    convert(java)
}

/// Converts a Java record to v1. The record id is derived from `hostId` and `timeStamp`, so a
/// retried post is a duplicate. Range checks are left to [`crate::validate::validate`].
pub fn convert(j: JavaRecord) -> Result<Record, String> {
    let sampled_at = timestamp(&j.time_stamp)?;
    let interfaces = interfaces(j.network_delta.unwrap_or_default());
    let (net_rx, net_tx) = sums(interfaces.iter().filter(|i| i.name != "lo"));
    let host = HostSample {
        cpu_percent: j.cpu_usage_percent,
        mem_used_bytes: bytes("memoryUsedBytes", j.memory_used_bytes)?,
        disk_read_bytes_per_sec: j.disk_read_bytes_delta,
        disk_write_bytes_per_sec: j.disk_write_bytes_delta,
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

fn container(id: String, c: JavaContainer) -> Result<ContainerSample, String> {
    let (rx, tx) = sums(interfaces(c.network_delta.unwrap_or_default()).iter());
    let name = c.name.unwrap_or_default();
    Ok(ContainerSample {
        name: name.strip_prefix('/').unwrap_or(&name).to_owned(),
        // the Java collector only reported running containers
        state: "running".to_owned(),
        cpu_percent: c.cpu_usage_percent,
        mem_used_bytes: bytes(&format!("containers[{id:?}].memoryUsedBytes"), c.memory_used_bytes)?,
        net_rx_bytes_per_sec: rx,
        net_tx_bytes_per_sec: tx,
        blk_read_bytes_per_sec: c.disk_read_bytes_delta,
        blk_write_bytes_per_sec: c.disk_write_bytes_delta,
        id,
        ..ContainerSample::default()
    })
}

fn interfaces(deltas: BTreeMap<String, JavaNet>) -> Vec<Interface> {
    deltas
        .into_iter()
        .map(|(name, d)| Interface {
            name,
            rx_bytes_per_sec: d.rx_bytes_delta,
            tx_bytes_per_sec: d.tx_bytes_delta,
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

/// `timeStamp` as RFC 3339, `YYYY-MM-DDTHH:MM:SS[.fff]` (taken as UTC) or epoch milliseconds.
pub fn timestamp(v: &serde_json::Value) -> Result<DateTime<Utc>, String> {
    let bad = || format!("timeStamp: {v} is not RFC 3339, YYYY-MM-DDTHH:MM:SS[.fff] (UTC) or epoch milliseconds");
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
                        .map(|n| n.and_utc())
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
        parse(&serde_json::to_vec(&v).unwrap())
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
            assert_eq!(crate::timefmt::format(&timestamp(&v).unwrap()), expect, "{v}");
        }
        for v in [
            json!("yesterday"),
            json!(null),
            json!(true),
            json!("2026-13-01T00:00:00"),
        ] {
            assert!(timestamp(&v).unwrap_err().starts_with("timeStamp"), "{v}");
        }
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
        assert!(parse(b"[1,2]").is_err());
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
