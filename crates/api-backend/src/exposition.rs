//! The monitored machines in Prometheus text format (`GET /metrics/machines`): the newest value
//! of every host and container metric of the hosts not stale (and `srmon_host_up` of every host
//! heard from in the last hour), one scrape target for the whole server room. Names carry their unit (`_bytes`, `_bytes_per_second`, `_percent`, `_seconds`,
//! `_celsius`); labels are `host` (name) and `host_id`, plus `container` and `image` on container
//! series and the bounded per-host `cpu`, `interface`, `mount`/`device`/`fstype` and `sensor`.
//! A value that was not measured is left out (never a 0).

use common::wire::{ContainerSample, Filesystem, HostSample, Interface, Record};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::latest::Known;

/// A value of a `T`: metric name, help, how to read it.
type Value<T> = (&'static str, &'static str, fn(&T) -> Option<f64>);

fn int(v: Option<u64>) -> Option<f64> {
    v.map(|v| v as f64)
}

const HOST_GAUGES: &[Value<HostSample>] = &[
    (
        "srmon_host_cpu_percent",
        "CPU busy, percent of all cores (0-100).",
        |h| h.cpu_percent,
    ),
    ("srmon_host_cpu_cores", "Logical CPU cores.", |h| {
        h.cpu_cores.map(f64::from)
    }),
    ("srmon_host_load1", "Load average over 1 minute.", |h| h.load1),
    ("srmon_host_load5", "Load average over 5 minutes.", |h| h.load5),
    ("srmon_host_load15", "Load average over 15 minutes.", |h| h.load15),
    ("srmon_host_memory_total_bytes", "Physical memory.", |h| {
        int(h.mem_total_bytes)
    }),
    ("srmon_host_memory_used_bytes", "Memory in use.", |h| {
        int(h.mem_used_bytes)
    }),
    (
        "srmon_host_memory_available_bytes",
        "Memory available for new work.",
        |h| int(h.mem_available_bytes),
    ),
    (
        "srmon_host_memory_used_percent",
        "Memory in use, percent of the total.",
        |h| h.mem_percent,
    ),
    (
        "srmon_host_swap_total_bytes",
        "Swap space.",
        |h| int(h.swap_total_bytes),
    ),
    ("srmon_host_swap_used_bytes", "Swap in use.", |h| int(h.swap_used_bytes)),
    (
        "srmon_host_disk_read_bytes_per_second",
        "Bytes read from disks per second.",
        |h| h.disk_read_bytes_per_sec,
    ),
    (
        "srmon_host_disk_write_bytes_per_second",
        "Bytes written to disks per second.",
        |h| h.disk_write_bytes_per_sec,
    ),
    (
        "srmon_host_network_receive_bytes_per_second",
        "Bytes received per second, all interfaces.",
        |h| h.net_rx_bytes_per_sec,
    ),
    (
        "srmon_host_network_transmit_bytes_per_second",
        "Bytes sent per second, all interfaces.",
        |h| h.net_tx_bytes_per_sec,
    ),
    ("srmon_host_uptime_seconds", "Time since the host booted.", |h| {
        int(h.uptime_secs)
    }),
];

const CONTAINER_GAUGES: &[Value<ContainerSample>] = &[
    (
        "srmon_container_cpu_percent",
        "CPU used, percent of one core (may exceed 100).",
        |c| c.cpu_percent,
    ),
    ("srmon_container_memory_used_bytes", "Memory in use.", |c| {
        int(c.mem_used_bytes)
    }),
    ("srmon_container_memory_limit_bytes", "Memory limit.", |c| {
        int(c.mem_limit_bytes)
    }),
    (
        "srmon_container_memory_used_percent",
        "Memory in use, percent of the limit.",
        |c| c.mem_percent,
    ),
    (
        "srmon_container_network_receive_bytes_per_second",
        "Bytes received per second.",
        |c| c.net_rx_bytes_per_sec,
    ),
    (
        "srmon_container_network_transmit_bytes_per_second",
        "Bytes sent per second.",
        |c| c.net_tx_bytes_per_sec,
    ),
    (
        "srmon_container_block_read_bytes_per_second",
        "Bytes read from block devices per second.",
        |c| c.blk_read_bytes_per_sec,
    ),
    (
        "srmon_container_block_write_bytes_per_second",
        "Bytes written to block devices per second.",
        |c| c.blk_write_bytes_per_sec,
    ),
    ("srmon_container_pids", "Processes and threads.", |c| int(c.pids)),
    (
        "srmon_container_running",
        "1 while the container's state is running, else 0.",
        |c| Some(f64::from(u8::from(c.state == "running"))),
    ),
];

const NIC_GAUGES: &[Value<Interface>] = &[
    (
        "srmon_host_interface_receive_bytes_per_second",
        "Bytes received per second.",
        |n| n.rx_bytes_per_sec,
    ),
    (
        "srmon_host_interface_transmit_bytes_per_second",
        "Bytes sent per second.",
        |n| n.tx_bytes_per_sec,
    ),
];

const NIC_COUNTERS: &[Value<Interface>] = &[
    (
        "srmon_host_interface_receive_errors_total",
        "Receive errors since the interface came up.",
        |n| int(n.rx_errors),
    ),
    (
        "srmon_host_interface_transmit_errors_total",
        "Transmit errors since the interface came up.",
        |n| int(n.tx_errors),
    ),
];

const FILESYSTEM_GAUGES: &[Value<Filesystem>] = &[
    ("srmon_host_filesystem_size_bytes", "Size of the filesystem.", |f| {
        int(f.total_bytes)
    }),
    ("srmon_host_filesystem_used_bytes", "Space in use.", |f| {
        int(f.used_bytes)
    }),
    (
        "srmon_host_filesystem_used_percent",
        "Space in use, percent of the size.",
        |f| f.used_percent,
    ),
    (
        "srmon_host_filesystem_inodes_used_percent",
        "Inodes in use, percent.",
        |f| f.inodes_used_percent,
    ),
];

/// The exposition of these hosts (classic text format): `srmon_host_up` for each, the values
/// of the records of those not stale.
pub fn render(known: Vec<Known>) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Machines(known)));
    common::ops::render_metrics(&registry)
}

#[derive(Debug)]
struct Machines(Vec<Known>);

/// A family: its descriptor (also without samples: the exposition lists every metric it has),
/// then one sample per (labels, value).
fn family<'a, L: prometheus_client::encoding::EncodeLabelSet + 'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: impl Iterator<Item = (L, f64)>,
) -> Result<(), std::fmt::Error> {
    // a counter's family name has no `_total` (the text encoder adds it to its samples)
    let family = if matches!(kind, MetricType::Counter) {
        name.strip_suffix("_total").unwrap_or(name)
    } else {
        name
    };
    let mut metrics = encoder.encode_descriptor(family, help, None, kind)?;
    for (labels, value) in samples {
        let sample = metrics.encode_family(&labels)?;
        if matches!(kind, MetricType::Counter) {
            ConstCounter::new(value).encode(sample)?;
        } else {
            ConstGauge::new(value).encode(sample)?;
        }
    }
    Ok(())
}

type Labels<'a> = Vec<(&'static str, &'a str)>;

fn host_labels(r: &Record) -> Labels<'_> {
    vec![("host", r.host_name.as_str()), ("host_id", r.host_id.as_str())]
}

fn container_labels<'a>(r: &'a Record, c: &'a ContainerSample) -> Labels<'a> {
    let mut l = host_labels(r);
    l.push(("container", c.name.trim_start_matches('/')));
    l.push(("image", c.image.as_str()));
    l
}

impl Collector for Machines {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let gauge = MetricType::Gauge;
        family(
            &mut e,
            "srmon_host_up",
            "1 while the host reports, 0 once it is stale (silent for 3 of its intervals, at least 2 s); forgotten after an hour of silence.",
            gauge,
            self.0.iter().map(|k| (host_labels(&k.record), f64::from(u8::from(!k.stale)))),
        )?;
        let hosts: Vec<&Record> = self.0.iter().filter(|k| !k.stale).map(|k| k.record.as_ref()).collect();
        for (name, help, value) in HOST_GAUGES {
            let samples = hosts.iter().filter_map(|r| Some((host_labels(r), value(&r.host)?)));
            family(&mut e, name, help, gauge, samples)?;
        }
        family(
            &mut e,
            "srmon_host_last_sample_timestamp_seconds",
            "Sample time of the host's newest record (Unix time).",
            gauge,
            hosts
                .iter()
                .map(|r| (host_labels(r), r.sampled_at.timestamp_millis() as f64 / 1000.0)),
        )?;
        let cores: Vec<(Labels, String, f64)> = hosts
            .iter()
            .flat_map(|r| {
                r.host
                    .per_core_percent
                    .iter()
                    .enumerate()
                    .map(move |(i, v)| (host_labels(r), i.to_string(), *v))
            })
            .collect();
        family(
            &mut e,
            "srmon_host_cpu_core_percent",
            "CPU busy per logical core, percent (0-100).",
            gauge,
            cores.iter().map(|(l, cpu, v)| (with(l, "cpu", cpu), *v)),
        )?;
        let nics = NIC_GAUGES
            .iter()
            .map(|v| (v, gauge))
            .chain(NIC_COUNTERS.iter().map(|v| (v, MetricType::Counter)));
        for ((name, help, value), kind) in nics {
            let samples = hosts.iter().flat_map(|r| {
                r.host
                    .interfaces
                    .iter()
                    .filter_map(move |n| Some((with(&host_labels(r), "interface", &n.name), value(n)?)))
            });
            family(&mut e, name, help, kind, samples)?;
        }
        for (name, help, value) in FILESYSTEM_GAUGES {
            let samples = hosts.iter().flat_map(|r| {
                r.host.filesystems.iter().filter_map(move |f| {
                    let mut l = host_labels(r);
                    l.extend([
                        ("mount", f.mount.as_str()),
                        ("device", f.device.as_str()),
                        ("fstype", f.fs_type.as_str()),
                    ]);
                    Some((l, value(f)?))
                })
            });
            family(&mut e, name, help, gauge, samples)?;
        }
        family(
            &mut e,
            "srmon_host_temperature_celsius",
            "Temperature per sensor.",
            gauge,
            hosts.iter().flat_map(|r| {
                r.host
                    .temperatures_c
                    .iter()
                    .flatten()
                    .map(move |(sensor, v)| (with(&host_labels(r), "sensor", sensor), *v))
            }),
        )?;
        for (name, help, value) in CONTAINER_GAUGES {
            let samples = hosts.iter().flat_map(|r| {
                r.containers
                    .iter()
                    .filter_map(move |c| Some((container_labels(r, c), value(c)?)))
            });
            family(&mut e, name, help, gauge, samples)?;
        }
        family(
            &mut e,
            "srmon_container_restarts_total",
            "Restarts of the container as Docker counts them.",
            MetricType::Counter,
            hosts.iter().flat_map(|r| {
                r.containers
                    .iter()
                    .filter_map(move |c| Some((container_labels(r, c), int(c.restart_count)?)))
            }),
        )?;
        Ok(())
    }
}

/// `labels` and one more.
fn with<'a>(labels: &Labels<'a>, key: &'static str, value: &'a str) -> Labels<'a> {
    let mut l = labels.clone();
    l.push((key, value));
    l
}
