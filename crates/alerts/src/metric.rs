//! The metrics a threshold rule can watch, by their stable names (`host.cpu_percent`, ...), and
//! the two kinds of machine they belong to.
//!
//! | name | value | one alert per |
//! |---|---|---|
//! | `host.cpu_percent` | whole-machine CPU, 0..100 | host |
//! | `host.mem_percent` | memory used, 0..100 | host |
//! | `host.mem_used_bytes` | memory used, bytes | host |
//! | `host.disk_read_bytes_per_sec` / `host.disk_write_bytes_per_sec` | physical disks | host |
//! | `host.net_rx_bytes_per_sec` / `host.net_tx_bytes_per_sec` | non-loopback interfaces | host |
//! | `host.filesystem_used_percent` | space used, 0..100 | mount |
//! | `host.filesystem_inodes_used_percent` | inodes used, 0..100 | mount |
//! | `host.temperature_c` | °C | sensor |
//! | `host.load_per_core` | `load1 / cpu_cores` | host |
//! | `container.cpu_percent` | 100 = one full core | container |
//! | `container.mem_percent` / `container.mem_used_bytes` | memory used | container |
//! | `container.net_rx_bytes_per_sec` / `container.net_tx_bytes_per_sec` | network | container |
//! | `container.blk_read_bytes_per_sec` / `container.blk_write_bytes_per_sec` | block I/O | container |
//! | `container.restart_count` | restarts so far | container |

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A host or a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MachineKind {
    Host,
    Container,
}

impl MachineKind {
    /// `host` or `container`, as in the machine list of the API.
    pub fn as_str(self) -> &'static str {
        match self {
            MachineKind::Host => "host",
            MachineKind::Container => "container",
        }
    }
}

impl fmt::Display for MachineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one value of a metric is about: the whole machine, or one of its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    /// One value per machine; the alert's subject is empty.
    Machine,
    /// One value per mounted filesystem; the subject is the mount point.
    Mount,
    /// One value per temperature sensor; the subject is the sensor name.
    Sensor,
}

macro_rules! metrics {
    ($($variant:ident => $name:literal,)*) => {
        /// A measured quantity a threshold rule can watch (see the module table for the names).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Metric {
            $($variant,)*
        }

        impl Metric {
            /// Every metric, in a stable order.
            pub const ALL: &'static [Metric] = &[$(Metric::$variant,)*];

            /// The stable name used in storage, in the REST API and in events.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Metric::$variant => $name,)*
                }
            }
        }
    };
}

metrics! {
    HostCpuPercent => "host.cpu_percent",
    HostMemPercent => "host.mem_percent",
    HostMemUsedBytes => "host.mem_used_bytes",
    HostDiskReadBytesPerSec => "host.disk_read_bytes_per_sec",
    HostDiskWriteBytesPerSec => "host.disk_write_bytes_per_sec",
    HostNetRxBytesPerSec => "host.net_rx_bytes_per_sec",
    HostNetTxBytesPerSec => "host.net_tx_bytes_per_sec",
    HostFilesystemUsedPercent => "host.filesystem_used_percent",
    HostFilesystemInodesUsedPercent => "host.filesystem_inodes_used_percent",
    HostTemperatureC => "host.temperature_c",
    HostLoadPerCore => "host.load_per_core",
    ContainerCpuPercent => "container.cpu_percent",
    ContainerMemPercent => "container.mem_percent",
    ContainerMemUsedBytes => "container.mem_used_bytes",
    ContainerNetRxBytesPerSec => "container.net_rx_bytes_per_sec",
    ContainerNetTxBytesPerSec => "container.net_tx_bytes_per_sec",
    ContainerBlkReadBytesPerSec => "container.blk_read_bytes_per_sec",
    ContainerBlkWriteBytesPerSec => "container.blk_write_bytes_per_sec",
    ContainerRestartCount => "container.restart_count",
}

/// A metric name that is not one of [`Metric::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown metric {name:?}; known metrics: {known}", known = known_names())]
pub struct UnknownMetric {
    pub name: String,
}

fn known_names() -> String {
    Metric::ALL.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
}

impl Metric {
    /// Inverse of [`Metric::as_str`].
    pub fn parse(name: &str) -> Result<Metric, UnknownMetric> {
        Metric::ALL
            .iter()
            .copied()
            .find(|m| m.as_str() == name)
            .ok_or_else(|| UnknownMetric { name: name.to_owned() })
    }

    /// Whether the metric is measured on hosts or on containers.
    pub fn machine_kind(self) -> MachineKind {
        if self.as_str().starts_with("host.") {
            MachineKind::Host
        } else {
            MachineKind::Container
        }
    }

    /// Whether a machine has one value of this metric, or one per mount or sensor.
    pub fn subject_kind(self) -> SubjectKind {
        match self {
            Metric::HostFilesystemUsedPercent | Metric::HostFilesystemInodesUsedPercent => SubjectKind::Mount,
            Metric::HostTemperatureC => SubjectKind::Sensor,
            _ => SubjectKind::Machine,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Metric {
    type Err = UnknownMetric;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Metric::parse(s)
    }
}

impl Serialize for Metric {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Metric {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Metric::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// In the OpenAPI description: one of the names above.
impl utoipa::PartialSchema for Metric {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(Metric::ALL.iter().map(|m| m.as_str())))
            .description(Some("A metric a threshold rule can watch"))
            .into()
    }
}

impl utoipa::ToSchema for Metric {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_metric_and_names_are_unique() {
        for &m in Metric::ALL {
            assert_eq!(Metric::parse(m.as_str()), Ok(m));
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.as_str()));
            assert_eq!(serde_json::from_str::<Metric>(&json).unwrap(), m);
        }
        let mut names: Vec<_> = Metric::ALL.iter().map(|m| m.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Metric::ALL.len());
    }

    #[test]
    fn an_unknown_name_is_refused_with_the_known_names() {
        let err = Metric::parse("host.cpu").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("unknown metric \"host.cpu\""), "{msg}");
        assert!(
            msg.contains("host.cpu_percent") && msg.contains("container.restart_count"),
            "{msg}"
        );
        assert!(serde_json::from_str::<Metric>("\"cpu\"").is_err());
    }

    #[test]
    fn kinds_and_subjects() {
        assert_eq!(Metric::HostLoadPerCore.machine_kind(), MachineKind::Host);
        assert_eq!(Metric::ContainerRestartCount.machine_kind(), MachineKind::Container);
        assert_eq!(
            Metric::HostFilesystemInodesUsedPercent.subject_kind(),
            SubjectKind::Mount
        );
        assert_eq!(Metric::HostTemperatureC.subject_kind(), SubjectKind::Sensor);
        assert_eq!(Metric::ContainerCpuPercent.subject_kind(), SubjectKind::Machine);
    }
}
