//! The values a record holds for a metric: one per machine, or one per mount / sensor with the
//! mount point / sensor name as the subject. A value that was not measured (absent, or not a
//! finite number) is simply not produced.

use common::wire::{ContainerSample, HostSample};

use super::metric::Metric;

/// Calls `f(subject, value)` for each value of a host metric in the sample (container metrics
/// produce nothing). Subject-less metrics use the empty subject.
pub fn host_values(metric: Metric, h: &HostSample, mut f: impl FnMut(&str, f64)) {
    let mut one = |v: Option<f64>| emit(&mut f, "", v);
    match metric {
        Metric::HostCpuPercent => one(h.cpu_percent),
        Metric::HostMemPercent => one(h.mem_percent),
        Metric::HostMemUsedBytes => one(bytes(h.mem_used_bytes)),
        Metric::HostDiskReadBytesPerSec => one(h.disk_read_bytes_per_sec),
        Metric::HostDiskWriteBytesPerSec => one(h.disk_write_bytes_per_sec),
        Metric::HostNetRxBytesPerSec => one(h.net_rx_bytes_per_sec),
        Metric::HostNetTxBytesPerSec => one(h.net_tx_bytes_per_sec),
        Metric::HostLoadPerCore => one(match (h.load1, h.cpu_cores) {
            (Some(load), Some(cores)) if cores > 0 => Some(load / f64::from(cores)),
            _ => None,
        }),
        Metric::HostFilesystemUsedPercent => {
            for fs in &h.filesystems {
                emit(&mut f, &fs.mount, fs.used_percent);
            }
        }
        Metric::HostFilesystemInodesUsedPercent => {
            for fs in &h.filesystems {
                emit(&mut f, &fs.mount, fs.inodes_used_percent);
            }
        }
        Metric::HostTemperatureC => {
            for (sensor, &c) in h.temperatures_c.iter().flatten() {
                emit(&mut f, sensor, Some(c));
            }
        }
        Metric::ContainerCpuPercent
        | Metric::ContainerMemPercent
        | Metric::ContainerMemUsedBytes
        | Metric::ContainerNetRxBytesPerSec
        | Metric::ContainerNetTxBytesPerSec
        | Metric::ContainerBlkReadBytesPerSec
        | Metric::ContainerBlkWriteBytesPerSec
        | Metric::ContainerRestartCount => {}
    }
}

/// The value of a container metric in the sample, if measured (host metrics give `None`).
pub fn container_value(metric: Metric, c: &ContainerSample) -> Option<f64> {
    let v = match metric {
        Metric::ContainerCpuPercent => c.cpu_percent,
        Metric::ContainerMemPercent => c.mem_percent,
        Metric::ContainerMemUsedBytes => bytes(c.mem_used_bytes),
        Metric::ContainerNetRxBytesPerSec => c.net_rx_bytes_per_sec,
        Metric::ContainerNetTxBytesPerSec => c.net_tx_bytes_per_sec,
        Metric::ContainerBlkReadBytesPerSec => c.blk_read_bytes_per_sec,
        Metric::ContainerBlkWriteBytesPerSec => c.blk_write_bytes_per_sec,
        Metric::ContainerRestartCount => bytes(c.restart_count),
        _ => None,
    };
    v.filter(|v| v.is_finite())
}

fn bytes(v: Option<u64>) -> Option<f64> {
    v.map(|b| b as f64)
}

fn emit(f: &mut impl FnMut(&str, f64), subject: &str, v: Option<f64>) {
    if let Some(v) = v.filter(|v| v.is_finite()) {
        f(subject, v);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use common::wire::Filesystem;

    use super::*;

    fn collect(metric: Metric, h: &HostSample) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        host_values(metric, h, |s, v| out.push((s.to_owned(), v)));
        out
    }

    #[test]
    fn per_mount_and_per_sensor_values_carry_their_subject() {
        let h = HostSample {
            filesystems: vec![
                Filesystem {
                    mount: "/".into(),
                    used_percent: Some(50.0),
                    inodes_used_percent: None,
                    ..Default::default()
                },
                Filesystem {
                    mount: "/data".into(),
                    used_percent: Some(97.5),
                    inodes_used_percent: Some(3.0),
                    ..Default::default()
                },
            ],
            temperatures_c: Some(BTreeMap::from([("cpu".into(), 70.0), ("nvme".into(), 41.0)])),
            ..Default::default()
        };
        assert_eq!(
            collect(Metric::HostFilesystemUsedPercent, &h),
            [("/".into(), 50.0), ("/data".into(), 97.5)]
        );
        assert_eq!(
            collect(Metric::HostFilesystemInodesUsedPercent, &h),
            [("/data".into(), 3.0)]
        );
        assert_eq!(
            collect(Metric::HostTemperatureC, &h),
            [("cpu".into(), 70.0), ("nvme".into(), 41.0)]
        );
    }

    #[test]
    fn unmeasured_values_produce_nothing_and_are_never_zero() {
        let h = HostSample::default();
        for &m in Metric::ALL {
            assert!(collect(m, &h).is_empty(), "{m}");
            assert_eq!(container_value(m, &ContainerSample::default()), None, "{m}");
        }
        let nan = HostSample {
            cpu_percent: Some(f64::NAN),
            ..Default::default()
        };
        assert!(collect(Metric::HostCpuPercent, &nan).is_empty());
    }

    #[test]
    fn load_per_core_divides_by_the_cores() {
        let h = HostSample {
            load1: Some(6.0),
            cpu_cores: Some(4),
            ..Default::default()
        };
        assert_eq!(collect(Metric::HostLoadPerCore, &h), [(String::new(), 1.5)]);
        let no_cores = HostSample {
            cpu_cores: Some(0),
            ..h.clone()
        };
        assert!(collect(Metric::HostLoadPerCore, &no_cores).is_empty());
    }

    #[test]
    fn container_values_read_their_field() {
        let c = ContainerSample {
            restart_count: Some(4),
            mem_used_bytes: Some(1024),
            blk_write_bytes_per_sec: Some(9.5),
            ..Default::default()
        };
        assert_eq!(container_value(Metric::ContainerRestartCount, &c), Some(4.0));
        assert_eq!(container_value(Metric::ContainerMemUsedBytes, &c), Some(1024.0));
        assert_eq!(container_value(Metric::ContainerBlkWriteBytesPerSec, &c), Some(9.5));
        assert_eq!(container_value(Metric::HostCpuPercent, &c), None);
    }
}
