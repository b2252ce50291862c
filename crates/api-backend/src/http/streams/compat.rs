//! The original system's view of alert events. On its SSE: `{"messageType","machineId",
//! "machineName","metricName","threshold","value","timestamp"}` in that key order, threshold and
//! value as strings (Java's `Double.toString` form, e.g. `85.0`, `2.0E10`), the timestamp
//! `YYYY-MM-DDTHH:MM:SS` in local time (`TZ`). Types without a metric (`zerovalue`,
//! `containerIdChanged`, `timeout`) leave out metricName, threshold and value. Metrics the
//! original did not have give no compat event at all. Container names start with `/`, as
//! Docker gives them.

use chrono::{DateTime, Local, Utc};
use serde::Serialize;

pub use common::compat::{java_double, java_number};

use crate::alerts::{AlertEvent, MachineKind, Metric};

/// An event as the original system named it.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub message_type: &'static str,
    /// The original metric name, threshold and value: threshold types only.
    pub metric_name: Option<&'static str>,
    pub threshold: Option<f64>,
    pub value: Option<f64>,
}

/// `event` as the original system had it, or `None` when it has no compat form (see
/// [`AlertEvent::compat_message_type`]) or its metric had no original name.
pub fn view(event: &AlertEvent) -> Option<View> {
    let message_type = event.compat_message_type()?;
    if !matches!(message_type, "thresholdExceeded" | "thresholdDeceeded") {
        return Some(View {
            message_type,
            metric_name: None,
            threshold: None,
            value: None,
        });
    }
    Some(View {
        message_type,
        metric_name: Some(metric_name(event.metric?)?),
        threshold: event.threshold,
        value: event.value,
    })
}

/// The payload of one compat SSE event, keys in the original's order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    message_type: &'static str,
    machine_id: String,
    machine_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    metric_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    threshold: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    timestamp: String,
}

/// The SSE payload of `event`, when it has a compat form.
pub fn message(event: &AlertEvent) -> Option<Message> {
    let v = view(event)?;
    Some(Message {
        message_type: v.message_type,
        machine_id: event.key.machine_id.clone(),
        machine_name: machine_name(event.machine_kind, &event.machine_name),
        metric_name: v.metric_name,
        threshold: v.threshold.map(java_double),
        value: v.value.map(java_double),
        timestamp: local_timestamp(event.at),
    })
}

/// A machine's name as the original gave it: a container's with Docker's leading `/`.
pub fn machine_name(kind: MachineKind, name: &str) -> String {
    match kind {
        MachineKind::Container => common::compat::docker_name(name),
        MachineKind::Host => name.to_owned(),
    }
}

/// The original system's name of a metric (`cpu`, `memory`, `diskReadDelta`,
/// `diskWriteDelta`, `networkRx`, `networkTx`, `temperature`); `None` for metrics it did not
/// have.
pub fn metric_name(metric: Metric) -> Option<&'static str> {
    use Metric::*;
    Some(match metric {
        HostCpuPercent | ContainerCpuPercent => "cpu",
        HostMemUsedBytes | ContainerMemUsedBytes => "memory",
        HostDiskReadBytesPerSec | ContainerBlkReadBytesPerSec => "diskReadDelta",
        HostDiskWriteBytesPerSec | ContainerBlkWriteBytesPerSec => "diskWriteDelta",
        HostNetRxBytesPerSec | ContainerNetRxBytesPerSec => "networkRx",
        HostNetTxBytesPerSec | ContainerNetTxBytesPerSec => "networkTx",
        HostTemperatureC => "temperature",
        _ => return None,
    })
}

/// `YYYY-MM-DDTHH:MM:SS` in the local time zone (`TZ`).
pub fn local_timestamp(at: DateTime<Utc>) -> String {
    at.with_timezone(&Local).format(common::compat::LOCAL_TIME).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_map_back_to_the_original_ones() {
        for (metric, want) in [
            (Metric::HostCpuPercent, Some("cpu")),
            (Metric::ContainerCpuPercent, Some("cpu")),
            (Metric::HostMemUsedBytes, Some("memory")),
            (Metric::ContainerMemUsedBytes, Some("memory")),
            (Metric::ContainerBlkWriteBytesPerSec, Some("diskWriteDelta")),
            (Metric::HostDiskReadBytesPerSec, Some("diskReadDelta")),
            (Metric::ContainerNetTxBytesPerSec, Some("networkTx")),
            (Metric::HostNetRxBytesPerSec, Some("networkRx")),
            (Metric::HostTemperatureC, Some("temperature")),
            (Metric::HostMemPercent, None),
        ] {
            assert_eq!(metric_name(metric), want, "{metric:?}");
        }
    }

    #[test]
    fn numbers_of_the_history_are_json_numbers_in_java_form() {
        assert_eq!(java_number(2.0e10).unwrap().get(), "2.0E10");
        assert_eq!(java_number(85.0).unwrap().get(), "85.0");
        assert!(java_number(f64::NAN).is_none());
        let parsed: f64 = serde_json::from_str(java_number(4.0e7).unwrap().get()).unwrap();
        assert_eq!(parsed, 4.0e7);
    }
}
