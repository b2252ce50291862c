//! The original system's alert SSE payload: `{"messageType","machineId","machineName",
//! "metricName","threshold","value","timestamp"}`, threshold and value as strings (Java's
//! `Double.toString` form, e.g. `85.0`, `2.0E10`), the timestamp `YYYY-MM-DDTHH:MM:SS` in local
//! time (`TZ`). Types without a metric (`zerovalue`, `containerIdChanged`, `timeout`) leave out
//! metricName, threshold and value.

use chrono::{DateTime, Local, Utc};
use serde_json::{Map, Value};

use crate::alerts::{AlertEvent, Metric};

/// The payload of `event`, or `None` when it has no compat form (see
/// [`AlertEvent::compat_message_type`]).
pub fn message(event: &AlertEvent) -> Option<Value> {
    let message_type = event.compat_message_type()?;
    let mut m = Map::new();
    m.insert("messageType".into(), message_type.into());
    m.insert("machineId".into(), event.key.machine_id.clone().into());
    m.insert("machineName".into(), event.machine_name.clone().into());
    if matches!(message_type, "thresholdExceeded" | "thresholdDeceeded") {
        if let Some(metric) = event.metric {
            m.insert("metricName".into(), metric_name(metric).into());
        }
        if let Some(threshold) = event.threshold {
            m.insert("threshold".into(), java_double(threshold).into());
        }
        if let Some(value) = event.value {
            m.insert("value".into(), java_double(value).into());
        }
    }
    m.insert("timestamp".into(), local_timestamp(event.at).into());
    Some(Value::Object(m))
}

/// The original system's name of a metric; metrics it did not have keep their native name.
pub fn metric_name(metric: Metric) -> &'static str {
    use Metric::*;
    match metric {
        HostCpuPercent | ContainerCpuPercent => "cpuPercent",
        HostMemUsedBytes | ContainerMemUsedBytes => "memoryUsage",
        HostDiskReadBytesPerSec | ContainerBlkReadBytesPerSec => "diskReadDelta",
        HostDiskWriteBytesPerSec | ContainerBlkWriteBytesPerSec => "diskWriteDelta",
        HostNetRxBytesPerSec | ContainerNetRxBytesPerSec => "networkRx",
        HostNetTxBytesPerSec | ContainerNetTxBytesPerSec => "networkTx",
        HostTemperatureC => "temperature",
        other => other.as_str(),
    }
}

/// `YYYY-MM-DDTHH:MM:SS` in the local time zone (`TZ`).
pub fn local_timestamp(at: DateTime<Utc>) -> String {
    at.with_timezone(&Local).format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// A number as Java's `Double.toString` writes it: plain with at least one decimal between
/// 10^-3 and 10^7 (`85.0`, `12.5`), otherwise scientific (`2.0E10`, `1.5E-4`).
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

#[cfg(test)]
mod tests {
    use super::*;

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
        ] {
            assert_eq!(java_double(v), want, "{v}");
        }
    }

    #[test]
    fn metric_names_map_back_to_the_original_ones() {
        assert_eq!(metric_name(Metric::HostCpuPercent), "cpuPercent");
        assert_eq!(metric_name(Metric::ContainerCpuPercent), "cpuPercent");
        assert_eq!(metric_name(Metric::HostMemUsedBytes), "memoryUsage");
        assert_eq!(metric_name(Metric::ContainerBlkWriteBytesPerSec), "diskWriteDelta");
        assert_eq!(metric_name(Metric::HostDiskReadBytesPerSec), "diskReadDelta");
        assert_eq!(metric_name(Metric::ContainerNetTxBytesPerSec), "networkTx");
        assert_eq!(metric_name(Metric::HostNetRxBytesPerSec), "networkRx");
        assert_eq!(metric_name(Metric::HostTemperatureC), "temperature");
        assert_eq!(metric_name(Metric::HostMemPercent), "host.mem_percent");
    }
}
