//! `collector simulate`: synthetic but realistic records for N hosts × M containers, produced
//! through the same sink as real samples (topic, key, format), for benchmarks and load tests.
//!
//! Values are bounded random walks seeded by `--seed`, so the same seed gives the same values.
//! Host ids are `<prefix>-0001`...; container ids are 64 hex digits derived from the host id and
//! the container's index, so they are stable across runs.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::shutdown::Shutdown;
use common::{ContainerSample, Event, EventKind, Filesystem, HostSample, Interface, Record};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::SimulateArgs;
use crate::metrics::Metrics;
use crate::producer::{OnFull, Sent};
use crate::rates::round2;
use crate::sink::Sink;
use crate::tick::Ticker;

/// How long the final flush may wait for Kafka's acknowledgements.
const FLUSH_BOUND: Duration = Duration::from_secs(30);

/// What a simulation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub seed: u64,
    pub produced: u64,
    pub delivered: u64,
    pub undelivered: u64,
    /// Numeric values in the produced records (what storage benchmarks divide by).
    pub values: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "simulate: produced {} records, delivered {}, undelivered {}, numeric values {} (seed {})",
            self.produced, self.delivered, self.undelivered, self.values, self.seed
        )
    }
}

/// Runs the simulation until `--records` are produced or shutdown, then flushes.
pub async fn run(args: &SimulateArgs, sink: &Sink, metrics: &Metrics, shutdown: &Shutdown) -> Summary {
    let (mut rng, seed) = rng(args.seed);
    tracing::info!(seed, hosts = args.hosts, containers = args.containers, interval = ?args.interval, records = ?args.records, "simulating");
    let mut hosts: Vec<SimHost> = (0..args.hosts)
        .map(|i| SimHost::new(&args.host_prefix, i, args.containers, &mut rng))
        .collect();
    let interval_ms = (args.interval.as_millis() as u64).max(1);
    let done = |produced: u64| args.records.is_some_and(|r| produced >= r);
    let mut ticker = Ticker::new(args.interval);
    let mut produced = 0u64;
    let mut values = 0u64;
    let mut backfill = args.start.map(common::timefmt::truncate_millis);
    'ticks: while !done(produced) {
        let at = match backfill.as_mut() {
            // backfill: no waiting, up to now
            Some(at) => {
                if *at > Utc::now() || shutdown.is_triggered() {
                    break;
                }
                let this = *at;
                *at += chrono::TimeDelta::from_std(args.interval).unwrap_or_default();
                this
            }
            None => {
                let (_, skipped) = tokio::select! {
                    biased;
                    _ = shutdown.wait() => break,
                    t = ticker.tick() => t,
                };
                metrics.ticks_skipped.inc_by(skipped);
                common::timefmt::truncate_millis(Utc::now())
            }
        };
        let started = std::time::Instant::now();
        for host in &mut hosts {
            if done(produced) {
                break;
            }
            let record = host.next_record(at, interval_ms, &mut rng);
            match sink.send(&record, OnFull::Wait, shutdown).await {
                Sent::Queued => {
                    produced += 1;
                    values += record.numeric_values() as u64;
                }
                Sent::Dropped if shutdown.is_triggered() => break 'ticks,
                Sent::Dropped => {}
            }
        }
        metrics.ticks.inc();
        metrics.tick_duration.observe(started.elapsed().as_secs_f64());
        sink.update_queue_depth();
    }
    let undelivered = sink.flush(FLUSH_BOUND).await;
    Summary {
        seed,
        produced,
        delivered: sink.delivered(),
        undelivered,
        values,
    }
}

/// A value wandering in `[min, max]`, pulled gently back towards its centre.
#[derive(Debug, Clone)]
struct Walk {
    value: f64,
    min: f64,
    max: f64,
    step: f64,
}

impl Walk {
    fn new(rng: &mut StdRng, min: f64, max: f64, step: f64) -> Self {
        let start = rng.random_range(min..=max);
        Walk {
            value: start,
            min,
            max,
            step,
        }
    }

    fn next(&mut self, rng: &mut StdRng) -> f64 {
        let centre = (self.min + self.max) / 2.0;
        let pull = (centre - self.value) * 0.02;
        self.value = (self.value + rng.random_range(-self.step..=self.step) + pull).clamp(self.min, self.max);
        self.value
    }
}

/// One simulated container.
#[derive(Debug, Clone)]
struct SimContainer {
    id: String,
    name: String,
    image: String,
    cpu: Walk,
    mem: Walk,
    mem_limit: u64,
    net_rx: Walk,
    net_tx: Walk,
    blk_read: Walk,
    blk_write: Walk,
    pids: Walk,
    has_health: bool,
    restart_count: u64,
}

/// One simulated host.
#[derive(Debug, Clone)]
pub struct SimHost {
    id: String,
    name: String,
    cores: u32,
    cpu: Walk,
    mem_total: u64,
    mem_used: Walk,
    swap_total: u64,
    load: Walk,
    disk_read: Walk,
    disk_write: Walk,
    net_rx: Walk,
    net_tx: Walk,
    fs_used: Walk,
    temp: Walk,
    uptime_start: u64,
    ticks: u64,
    containers: Vec<SimContainer>,
}

const IMAGES: &[&str] = &[
    "nginx:1.27",
    "postgres:16",
    "redis:7",
    "app/api:2.3.1",
    "app/worker:2.3.1",
    "grafana/grafana:11",
];

impl SimHost {
    /// Host number `index` (0-based) with `containers` containers.
    pub fn new(prefix: &str, index: u32, containers: u32, rng: &mut StdRng) -> Self {
        let id = format!("{prefix}-{:04}", index + 1);
        let cores = [2, 4, 8, 16, 32][rng.random_range(0..5)];
        let mem_total = cores as u64 * 4 * (1 << 30);
        let containers = (0..containers)
            .map(|c| {
                let image = IMAGES[(c as usize) % IMAGES.len()];
                SimContainer {
                    id: container_id(&id, c),
                    name: format!("{}-{}", image_base(image), c + 1),
                    image: image.to_string(),
                    cpu: Walk::new(rng, 0.0, 100.0 * (cores as f64).min(2.0), 5.0),
                    mem: Walk::new(rng, 0.05, 0.9, 0.01),
                    mem_limit: 512 << 20 << (c % 3),
                    net_rx: Walk::new(rng, 0.0, 2e6, 5e4),
                    net_tx: Walk::new(rng, 0.0, 1e6, 5e4),
                    blk_read: Walk::new(rng, 0.0, 5e6, 2e5),
                    blk_write: Walk::new(rng, 0.0, 5e6, 2e5),
                    pids: Walk::new(rng, 1.0, 200.0, 2.0),
                    has_health: c % 2 == 0,
                    restart_count: 0,
                }
            })
            .collect();
        SimHost {
            name: format!("{id}.sim"),
            id,
            cores,
            cpu: Walk::new(rng, 2.0, 95.0, 4.0),
            mem_total,
            mem_used: Walk::new(rng, 0.1, 0.95, 0.01),
            swap_total: 2 << 30,
            load: Walk::new(rng, 0.0, cores as f64 * 1.5, 0.2),
            disk_read: Walk::new(rng, 0.0, 2e8, 5e6),
            disk_write: Walk::new(rng, 0.0, 2e8, 5e6),
            net_rx: Walk::new(rng, 0.0, 1.25e8, 2e6),
            net_tx: Walk::new(rng, 0.0, 1.25e8, 2e6),
            fs_used: Walk::new(rng, 0.2, 0.97, 0.0005),
            temp: Walk::new(rng, 30.0, 90.0, 1.0),
            uptime_start: rng.random_range(3_600..30_000_000),
            ticks: 0,
            containers,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The host's next record, sampled at `at`.
    pub fn next_record(&mut self, at: DateTime<Utc>, interval_ms: u64, rng: &mut StdRng) -> Record {
        self.ticks += 1;
        let cpu = self.cpu.next(rng);
        let per_core: Vec<f64> = (0..self.cores)
            .map(|_| round2((cpu + rng.random_range(-15.0..=15.0)).clamp(0.0, 100.0)))
            .collect();
        let cpu_percent = round2(per_core.iter().sum::<f64>() / per_core.len() as f64);
        let mem_used = (self.mem_used.next(rng) * self.mem_total as f64) as u64;
        let load = self.load.next(rng);
        let (rx, tx) = (round2(self.net_rx.next(rng)), round2(self.net_tx.next(rng)));
        let fs_total: u64 = 500 << 30;
        let fs_used = (self.fs_used.next(rng) * fs_total as f64) as u64;
        let host = HostSample {
            cpu_percent: Some(cpu_percent),
            cpu_cores: Some(self.cores),
            per_core_percent: per_core,
            load1: Some(round2(load)),
            load5: Some(round2(load * 0.9)),
            load15: Some(round2(load * 0.8)),
            mem_total_bytes: Some(self.mem_total),
            mem_used_bytes: Some(mem_used),
            mem_available_bytes: Some(self.mem_total - mem_used),
            mem_percent: Some(round2(mem_used as f64 / self.mem_total as f64 * 100.0)),
            swap_total_bytes: Some(self.swap_total),
            swap_used_bytes: Some(self.swap_total / 10),
            disk_read_bytes_per_sec: Some(round2(self.disk_read.next(rng))),
            disk_write_bytes_per_sec: Some(round2(self.disk_write.next(rng))),
            net_rx_bytes_per_sec: Some(rx),
            net_tx_bytes_per_sec: Some(tx),
            interfaces: vec![
                Interface {
                    name: "eth0".into(),
                    rx_bytes_per_sec: Some(rx),
                    tx_bytes_per_sec: Some(tx),
                    rx_errors: Some(0),
                    tx_errors: Some(0),
                },
                Interface {
                    name: "lo".into(),
                    rx_bytes_per_sec: Some(1_024.0),
                    tx_bytes_per_sec: Some(1_024.0),
                    rx_errors: Some(0),
                    tx_errors: Some(0),
                },
            ],
            filesystems: vec![Filesystem {
                mount: "/".into(),
                device: "/dev/sda1".into(),
                fs_type: "ext4".into(),
                total_bytes: Some(fs_total),
                used_bytes: Some(fs_used),
                used_percent: Some(round2(fs_used as f64 / fs_total as f64 * 100.0)),
                inodes_used_percent: Some(round2(self.fs_used.value * 40.0)),
            }],
            temperatures_c: Some(BTreeMap::from([(
                "coretemp/Package id 0".to_string(),
                round2(self.temp.next(rng)),
            )])),
            uptime_secs: Some(self.uptime_start + self.ticks * interval_ms / 1000),
        };
        let mut events = Vec::new();
        let containers = self
            .containers
            .iter_mut()
            .map(|c| {
                // Now and then a container crashes and is restarted by its policy.
                if rng.random_ratio(1, 20_000) {
                    c.restart_count += 1;
                    for (kind, exit_code) in [
                        (EventKind::ContainerDied, Some(137)),
                        (EventKind::ContainerStarted, None),
                    ] {
                        events.push(Event {
                            kind,
                            container_id: c.id.clone(),
                            name: c.name.clone(),
                            exit_code,
                            at,
                        });
                    }
                }
                let mem_used = (c.mem.next(rng) * c.mem_limit as f64) as u64;
                ContainerSample {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    image: c.image.clone(),
                    state: "running".into(),
                    health: c.has_health.then(|| "healthy".to_string()),
                    restart_count: Some(c.restart_count),
                    cpu_percent: Some(round2(c.cpu.next(rng))),
                    mem_used_bytes: Some(mem_used),
                    mem_limit_bytes: Some(c.mem_limit),
                    mem_percent: Some(round2(mem_used as f64 / c.mem_limit as f64 * 100.0)),
                    net_rx_bytes_per_sec: Some(round2(c.net_rx.next(rng))),
                    net_tx_bytes_per_sec: Some(round2(c.net_tx.next(rng))),
                    blk_read_bytes_per_sec: Some(round2(c.blk_read.next(rng))),
                    blk_write_bytes_per_sec: Some(round2(c.blk_write.next(rng))),
                    pids: Some(c.pids.next(rng) as u64),
                }
            })
            .collect();
        Record {
            schema: common::wire::SCHEMA_VERSION,
            record_id: Record::new_id(),
            host_id: self.id.clone(),
            host_name: self.name.clone(),
            sampled_at: at,
            interval_ms,
            host,
            containers,
            events,
        }
    }
}

/// `grafana/grafana:11` → `grafana`.
fn image_base(image: &str) -> &str {
    let repo = image.split(':').next().unwrap_or(image);
    repo.rsplit('/').next().unwrap_or(repo)
}

/// A 64-hex container id, stable for a host id and container index.
pub fn container_id(host_id: &str, index: u32) -> String {
    // FNV-1a of the host id, then SplitMix64 steps: cheap, stable, well spread.
    let mut state = host_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    state ^= (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (0..4)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            format!("{:016x}", z ^ (z >> 31))
        })
        .collect()
}

/// The random generator for a run: `--seed`, or a seed from the clock and process id.
pub fn rng(seed: Option<u64>) -> (StdRng, u64) {
    let seed = seed.unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        (nanos as u64) ^ ((std::process::id() as u64) << 32)
    });
    (StdRng::seed_from_u64(seed), seed)
}

/// A valid record with every field set (tests and examples).
pub fn example_record() -> Record {
    let (mut rng, _) = rng(Some(1));
    SimHost::new("example", 0, 2, &mut rng).next_record(common::timefmt::truncate_millis(Utc::now()), 1000, &mut rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(seed: u64, n: u32, m: u32) -> (Vec<SimHost>, StdRng) {
        let (mut rng, _) = rng(Some(seed));
        let hosts = (0..n).map(|i| SimHost::new("sim-host", i, m, &mut rng)).collect();
        (hosts, rng)
    }

    #[test]
    fn records_are_valid_and_complete() {
        let (mut hs, mut rng) = hosts(7, 3, 4);
        let now = common::timefmt::truncate_millis(Utc::now());
        for _ in 0..200 {
            for h in &mut hs {
                let r = h.next_record(now, 1000, &mut rng);
                common::validate::validate(&r, now).unwrap();
                assert_eq!(r.containers.len(), 4);
                assert!(r.host.cpu_percent.is_some() && r.host.temperatures_c.is_some());
            }
        }
    }

    #[tokio::test]
    async fn stops_after_exactly_the_requested_records() {
        let (metrics, _) = Metrics::new();
        let records = std::sync::Arc::default();
        let sink = Sink::Memory(metrics.clone(), std::sync::Arc::clone(&records));
        let (_trigger, shutdown) = common::shutdown::channel();
        let args = SimulateArgs {
            hosts: 3,
            containers: 1,
            interval: Duration::from_millis(5),
            records: Some(7),
            seed: Some(9),
            host_prefix: "sim-host".into(),
            start: None,
        };
        let summary = run(&args, &sink, &metrics, &shutdown).await;
        assert_eq!(
            summary,
            Summary {
                seed: 9,
                produced: 7,
                delivered: 7,
                undelivered: 0,
                values: summary.values,
            }
        );
        assert_eq!(metrics.records_produced.get(), 7);
        assert_eq!(metrics.ticks.get(), 3); // 3 + 3 + 1
        let records = records.lock().unwrap();
        let hosts: Vec<&str> = records.iter().map(|r| r.host_id.as_str()).collect();
        assert_eq!(
            hosts,
            [
                "sim-host-0001",
                "sim-host-0002",
                "sim-host-0003",
                "sim-host-0001",
                "sim-host-0002",
                "sim-host-0003",
                "sim-host-0001"
            ]
        );
        let ids: std::collections::HashSet<&str> = records.iter().map(|r| r.record_id.as_str()).collect();
        assert_eq!(ids.len(), 7);
    }

    #[test]
    fn same_seed_same_values_and_stable_ids() {
        let now = common::timefmt::truncate_millis(Utc::now());
        let (mut a, mut ra) = hosts(42, 2, 3);
        let (mut b, mut rb) = hosts(42, 2, 3);
        let (ra1, rb1) = (
            a[1].next_record(now, 1000, &mut ra),
            b[1].next_record(now, 1000, &mut rb),
        );
        assert_eq!(ra1.host, rb1.host);
        assert_eq!(ra1.containers, rb1.containers);
        assert_ne!(ra1.record_id, rb1.record_id);
        assert_eq!(ra1.host_id, "sim-host-0002");
        assert_eq!(ra1.containers[1].name, "postgres-2");
        assert_eq!(image_base("grafana/grafana:11"), "grafana");
        let id = &ra1.containers[0].id;
        assert_eq!(id.len(), 64);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(*id, container_id("sim-host-0002", 0));
        assert_ne!(container_id("sim-host-0002", 0), container_id("sim-host-0002", 1));
        assert_ne!(container_id("sim-host-0001", 0), container_id("sim-host-0002", 0));
        let (mut c, mut rc) = hosts(43, 2, 3);
        assert_ne!(c[1].next_record(now, 1000, &mut rc).host, ra1.host);
    }
}
