//! Validation of a record beyond its JSON shape: the checks a reader applies before trusting it.
//! Each failure names the offending field, so a rejected record can be fixed at its source.

use chrono::{DateTime, Duration, Utc};
use thiserror::Error;

use crate::wire::{Record, SCHEMA_VERSION};

/// Why a record was refused. The message names the field and the value.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{0}")]
pub struct ValidationError(pub String);

/// Longest accepted identifier (record, host and container ids).
pub const MAX_ID_LEN: usize = 128;
/// Longest accepted human name (host, container, image, mount, ...).
pub const MAX_NAME_LEN: usize = 255;

/// Parses one record from its JSON text (no intermediate `Value` tree) and validates it.
pub fn parse_record_json(json: &str, now: DateTime<Utc>) -> Result<Record, ValidationError> {
    let record: Record = serde_json::from_str(json).map_err(|e| ValidationError(format!("not a v1 record: {e}")))?;
    validate(&record, now)?;
    Ok(record)
}

/// Why a whole ingest body was refused (its records are not even looked at).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum BatchError {
    #[error("the body must be a JSON array of records")]
    NotAnArray,
    #[error("the body is not JSON: {0}")]
    NotJson(String),
}

/// Splits an ingest body (a JSON array of v1 records) and parses each element on its own, so
/// that one bad record is refused alone. The elements are borrowed slices of the body: each
/// record is parsed from its own text, without building a `Value` tree first (the most
/// expensive part of a large batch).
pub fn parse_batch(body: &[u8], now: DateTime<Utc>) -> Result<Vec<Result<Record, ValidationError>>, BatchError> {
    let elements = match serde_json::from_slice::<Vec<&serde_json::value::RawValue>>(body) {
        Ok(elements) => elements,
        Err(e) if e.is_data() => return Err(BatchError::NotAnArray),
        Err(e) => return Err(BatchError::NotJson(e.to_string())),
    };
    Ok(elements.iter().map(|raw| parse_record_json(raw.get(), now)).collect())
}

/// Checks a decoded record: schema, identifiers, time, and that every number is finite and in range.
pub fn validate(r: &Record, now: DateTime<Utc>) -> Result<(), ValidationError> {
    if r.schema != SCHEMA_VERSION {
        return err(format!(
            "schema: {} is not supported (expected {SCHEMA_VERSION})",
            r.schema
        ));
    }
    id("record_id", &r.record_id)?;
    id("host_id", &r.host_id)?;
    name("host_name", &r.host_name)?;
    time("sampled_at", r.sampled_at, now)?;
    if r.interval_ms == 0 || r.interval_ms > 86_400_000 {
        return err(format!("interval_ms: {} is out of range 1..=86400000", r.interval_ms));
    }
    let h = &r.host;
    percent("host.cpu_percent", h.cpu_percent)?;
    for (i, p) in h.per_core_percent.iter().enumerate() {
        percent(&format!("host.per_core_percent[{i}]"), Some(*p))?;
    }
    for (field, v) in [
        ("host.load1", h.load1),
        ("host.load5", h.load5),
        ("host.load15", h.load15),
    ] {
        non_negative(field, v)?;
    }
    percent("host.mem_percent", h.mem_percent)?;
    for (field, v) in [
        ("host.disk_read_bytes_per_sec", h.disk_read_bytes_per_sec),
        ("host.disk_write_bytes_per_sec", h.disk_write_bytes_per_sec),
        ("host.net_rx_bytes_per_sec", h.net_rx_bytes_per_sec),
        ("host.net_tx_bytes_per_sec", h.net_tx_bytes_per_sec),
    ] {
        non_negative(field, v)?;
    }
    for (i, nic) in h.interfaces.iter().enumerate() {
        name(&format!("host.interfaces[{i}].name"), &nic.name)?;
        non_negative(&format!("host.interfaces[{i}].rx_bytes_per_sec"), nic.rx_bytes_per_sec)?;
        non_negative(&format!("host.interfaces[{i}].tx_bytes_per_sec"), nic.tx_bytes_per_sec)?;
    }
    for (i, fs) in h.filesystems.iter().enumerate() {
        name(&format!("host.filesystems[{i}].mount"), &fs.mount)?;
        percent(&format!("host.filesystems[{i}].used_percent"), fs.used_percent)?;
        percent(
            &format!("host.filesystems[{i}].inodes_used_percent"),
            fs.inodes_used_percent,
        )?;
    }
    if let Some(temps) = &h.temperatures_c {
        for (sensor, c) in temps {
            name("host.temperatures_c key", sensor)?;
            if !c.is_finite() || !(-273.15..=1000.0).contains(c) {
                return err(format!(
                    "host.temperatures_c[{sensor:?}]: {c} is not a plausible temperature"
                ));
            }
        }
    }
    for (i, c) in r.containers.iter().enumerate() {
        let at = |f: &str| format!("containers[{i}].{f}");
        id(&at("id"), &c.id)?;
        name(&at("name"), &c.name)?;
        if c.state.is_empty() || c.state.len() > 32 {
            return err(format!("{}: {:?} is not a container state", at("state"), c.state));
        }
        non_negative(&at("cpu_percent"), c.cpu_percent)?;
        percent(&at("mem_percent"), c.mem_percent)?;
        for (field, v) in [
            ("net_rx_bytes_per_sec", c.net_rx_bytes_per_sec),
            ("net_tx_bytes_per_sec", c.net_tx_bytes_per_sec),
            ("blk_read_bytes_per_sec", c.blk_read_bytes_per_sec),
            ("blk_write_bytes_per_sec", c.blk_write_bytes_per_sec),
        ] {
            non_negative(&at(field), v)?;
        }
    }
    for (i, e) in r.events.iter().enumerate() {
        id(&format!("events[{i}].container_id"), &e.container_id)?;
        time(&format!("events[{i}].at"), e.at, now)?;
    }
    Ok(())
}

fn err<T>(msg: String) -> Result<T, ValidationError> {
    Err(ValidationError(msg))
}

fn id(field: &str, v: &str) -> Result<(), ValidationError> {
    if v.is_empty() || v.len() > MAX_ID_LEN || v.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return err(format!(
            "{field}: {v:?} must be 1..={MAX_ID_LEN} characters without spaces"
        ));
    }
    Ok(())
}

fn name(field: &str, v: &str) -> Result<(), ValidationError> {
    if v.len() > MAX_NAME_LEN || v.chars().any(char::is_control) {
        return err(format!(
            "{field}: must be at most {MAX_NAME_LEN} bytes without control characters"
        ));
    }
    Ok(())
}

fn time(field: &str, t: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), ValidationError> {
    if t.timestamp() < 946_684_800 || t > now + Duration::days(1) {
        return err(format!(
            "{field}: {} is not a plausible sample time (before 2000 or more than a day ahead)",
            crate::timefmt::format(&t)
        ));
    }
    Ok(())
}

fn percent(field: &str, v: Option<f64>) -> Result<(), ValidationError> {
    match v {
        Some(p) if !p.is_finite() || !(0.0..=100.5).contains(&p) => {
            err(format!("{field}: {p} is out of range 0..=100"))
        }
        _ => Ok(()),
    }
}

fn non_negative(field: &str, v: Option<f64>) -> Result<(), ValidationError> {
    match v {
        Some(x) if !x.is_finite() || x < 0.0 => err(format!("{field}: {x} must be a finite number >= 0")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        crate::timefmt::parse("2026-11-22T08:00:00Z").unwrap()
    }

    fn good() -> serde_json::Value {
        json!({"schema": 1, "record_id": "r-1", "host_id": "h1", "host_name": "box",
               "sampled_at": "2026-11-22T07:59:59.000Z", "interval_ms": 1000,
               "host": {"cpu_percent": 5.0},
               "containers": [{"id": "c1", "name": "web", "state": "running", "cpu_percent": 180.0}]})
    }

    #[test]
    fn accepts_a_good_record() {
        parse_record_json(&good().to_string(), now()).unwrap();
    }

    #[test]
    fn names_the_bad_field() {
        let mut v = good();
        v["host"]["cpu_percent"] = json!(150.0);
        assert!(parse_record_json(&v.to_string(), now())
            .unwrap_err()
            .0
            .starts_with("host.cpu_percent"));
        let mut v = good();
        v["containers"][0]["id"] = json!("");
        assert!(parse_record_json(&v.to_string(), now())
            .unwrap_err()
            .0
            .starts_with("containers[0].id"));
        let mut v = good();
        v["schema"] = json!(2);
        assert!(parse_record_json(&v.to_string(), now())
            .unwrap_err()
            .0
            .starts_with("schema"));
        let mut v = good();
        v["sampled_at"] = json!("2027-01-01T00:00:00Z");
        assert!(parse_record_json(&v.to_string(), now())
            .unwrap_err()
            .0
            .starts_with("sampled_at"));
    }

    #[test]
    fn a_wrong_shape_says_so() {
        let err = parse_record_json(r#"{"schema": 1}"#, now()).unwrap_err();
        assert!(err.0.starts_with("not a v1 record"), "{err}");
    }

    #[test]
    fn rejects_wrong_shapes() {
        assert!(parse_record_json(&json!({"schema": 1}).to_string(), now()).is_err());
        assert!(parse_record_json(&json!("text").to_string(), now()).is_err());
    }
}
