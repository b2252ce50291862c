//! Sampling the host itself from `PROC_ROOT` and `SYS_ROOT` (and statvfs under `HOST_ROOTFS`).
//!
//! [`HostSampler`] keeps the previous counters so each sample carries rates over the measured
//! elapsed time (monotonic clock); the first sample has none. A section that cannot be read (a
//! missing file under a wrong root) is left out of the record and logged once, not every tick.

pub mod cpu;
pub mod disks;
pub mod filesystems;
pub mod memory;
pub mod net;
pub mod temperatures;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use common::HostSample;
use procfs_core::{FromRead, LoadAverage, Uptime};

use crate::error::{Error, Result};
use crate::rates::round2;

/// Where the host's kernel interfaces and root filesystem are seen from this process.
#[derive(Debug, Clone)]
pub struct Roots {
    /// `PROC_ROOT` (`/proc`, or e.g. `/host/proc` in a container).
    pub proc: PathBuf,
    /// `SYS_ROOT` (`/sys`).
    pub sys: PathBuf,
    /// `HOST_ROOTFS` (`/`): prefix of mount points for statvfs.
    pub rootfs: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Roots {
            proc: "/proc".into(),
            sys: "/sys".into(),
            rootfs: "/".into(),
        }
    }
}

/// Counters kept from one sample to the next.
struct Counters {
    at: Instant,
    cpu: Option<cpu::CpuCounters>,
    disks: Option<BTreeMap<String, disks::DiskBytes>>,
    nics: Option<BTreeMap<String, net::NicCounters>>,
}

/// Samples the host; owns the previous counters.
pub struct HostSampler {
    roots: Roots,
    prev: Option<Counters>,
    prober: filesystems::Prober,
    failing: BTreeSet<&'static str>,
}

impl HostSampler {
    pub fn new(roots: Roots) -> Self {
        HostSampler {
            roots,
            prev: None,
            prober: filesystems::Prober::default(),
            failing: BTreeSet::new(),
        }
    }

    /// Takes one sample (blocking file reads; call it off the async runtime).
    pub fn sample(&mut self) -> HostSample {
        let at = Instant::now();
        let proc = self.roots.proc.clone();
        let sys = self.roots.sys.clone();

        let cpu = self.section("cpu", parse_file(&proc.join("stat"), cpu::parse));
        let disks = self.section(
            "disks",
            disks::physical_disks(&sys)
                .map_err(|e| Error::read(sys.join("block"), e))
                .and_then(|physical| parse_file(&proc.join("diskstats"), |r| disks::parse(r, &physical))),
        );
        let nics = self.section("network", parse_file(&proc.join("net/dev"), net::parse));
        let mem = self.section("memory", parse_file(&proc.join("meminfo"), memory::parse));
        let load = self.section(
            "load",
            parse_file(&proc.join("loadavg"), |r| {
                LoadAverage::from_read(r).map_err(|e| e.to_string())
            }),
        );
        let uptime = self.section(
            "uptime",
            parse_file(&proc.join("uptime"), |r| {
                Uptime::from_read(r).map_err(|e| e.to_string())
            }),
        );
        let mounts = self.section("filesystems", self.mounts());
        let filesystems = mounts
            .map(|m| self.prober.measure_all(&self.roots.rootfs, &m))
            .unwrap_or_default();

        let prev = self.prev.take();
        let elapsed = prev.as_ref().map(|p| at.duration_since(p.at));
        let mut h = HostSample::default();

        if let Some(c) = &cpu {
            h.cpu_cores = Some(c.cores.len() as u32);
            if let Some(p) = prev.as_ref().and_then(|p| p.cpu.as_ref()) {
                let (total, per_core) = cpu::percentages(p, c);
                h.cpu_percent = total;
                h.per_core_percent = per_core;
            }
        }
        if let Some(l) = load {
            h.load1 = Some(round2(l.one as f64));
            h.load5 = Some(round2(l.five as f64));
            h.load15 = Some(round2(l.fifteen as f64));
        }
        if let Some(m) = mem {
            h.mem_total_bytes = Some(m.total);
            h.mem_used_bytes = Some(m.used);
            h.mem_available_bytes = Some(m.available);
            h.mem_percent = m.percent;
            h.swap_total_bytes = Some(m.swap_total);
            h.swap_used_bytes = Some(m.swap_used);
        }
        if let Some(d) = &disks {
            let before = prev.as_ref().and_then(|p| p.disks.as_ref()).zip(elapsed);
            (h.disk_read_bytes_per_sec, h.disk_write_bytes_per_sec) = disks::rates(before, d);
        }
        if let Some(n) = &nics {
            let before = prev.as_ref().and_then(|p| p.nics.as_ref()).zip(elapsed);
            let (list, rx, tx) = net::derive(before, n, |name| net::is_loopback(&sys, name));
            (h.interfaces, h.net_rx_bytes_per_sec, h.net_tx_bytes_per_sec) = (list, rx, tx);
        }
        h.filesystems = filesystems;
        h.temperatures_c = temperatures::read(&sys);
        h.uptime_secs = uptime.map(|u| u.uptime as u64);

        self.prev = Some(Counters { at, cpu, disks, nics });
        h
    }

    fn mounts(&self) -> Result<Vec<filesystems::MountPoint>> {
        let pid1 = self.roots.proc.join("1/mounts");
        let path = if pid1.exists() {
            pid1
        } else {
            self.roots.proc.join("self/mounts")
        };
        parse_file(&path, filesystems::parse_mounts)
    }

    /// Unwraps a section's result; logs the first failure and the recovery, not every tick.
    fn section<T>(&mut self, name: &'static str, result: Result<T>) -> Option<T> {
        match result {
            Ok(v) => {
                if self.failing.remove(name) {
                    tracing::info!(section = name, "host {name} readable again");
                }
                Some(v)
            }
            Err(e) => {
                if self.failing.insert(name) {
                    tracing::warn!(section = name, error = %e, "host {name} not sampled (logged once until it recovers)");
                }
                None
            }
        }
    }
}

/// Opens `path` and parses it; errors name the file.
fn parse_file<T>(path: &Path, parse: impl FnOnce(File) -> Result<T, String>) -> Result<T> {
    let file = File::open(path).map_err(|e| Error::read(path, e))?;
    parse(file).map_err(|e| Error::parse(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempTree;

    /// A fake PROC_ROOT/SYS_ROOT pair built from the fixtures.
    fn fake_roots(tree: &TempTree) -> Roots {
        let fx =
            |f: &str| std::fs::read_to_string(common::manifest_dir!().join("tests/fixtures/proc").join(f)).unwrap();
        tree.write("proc/stat", &fx("stat.1"));
        tree.write("proc/meminfo", &fx("meminfo"));
        tree.write("proc/diskstats", &fx("diskstats"));
        tree.write("proc/net/dev", &fx("net_dev.1"));
        tree.write("proc/loadavg", "0.29 1.50 2.00 3/118 18074\n");
        tree.write("proc/uptime", "12345.67 20000.00\n");
        tree.write("proc/1/mounts", "/dev/sda2 / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n");
        tree.mkdir("sys/block/sda/device");
        tree.mkdir("sys/block/loop0");
        Roots {
            proc: tree.path().join("proc"),
            sys: tree.path().join("sys"),
            rootfs: "/".into(),
        }
    }

    #[test]
    fn first_sample_has_levels_but_no_rates_and_second_has_rates() {
        let tree = TempTree::new();
        let mut s = HostSampler::new(fake_roots(&tree));
        let first = s.sample();
        assert_eq!(first.cpu_cores, Some(2));
        assert_eq!(first.cpu_percent, None);
        assert!(first.per_core_percent.is_empty());
        assert_eq!(first.disk_read_bytes_per_sec, None);
        assert_eq!(first.net_rx_bytes_per_sec, None);
        assert_eq!(first.load1, Some(0.29));
        assert_eq!(first.mem_percent, Some(25.0));
        assert_eq!(first.uptime_secs, Some(12_345));
        assert_eq!(first.temperatures_c, None);
        assert_eq!(first.filesystems.len(), 1);
        assert_eq!(first.filesystems[0].mount, "/");
        assert_eq!(first.interfaces.len(), 3);

        let fx =
            |f: &str| std::fs::read_to_string(common::manifest_dir!().join("tests/fixtures/proc").join(f)).unwrap();
        tree.write("proc/stat", &fx("stat.2"));
        tree.write("proc/net/dev", &fx("net_dev.2"));
        let second = s.sample();
        assert_eq!(second.cpu_percent, Some(75.0));
        assert_eq!(second.per_core_percent, vec![100.0, 50.0]);
        // Disk counters did not move: a measured zero, not an absent value.
        assert_eq!(second.disk_read_bytes_per_sec, Some(0.0));
        assert!(second.net_rx_bytes_per_sec.unwrap() > 0.0);
    }

    #[test]
    fn unreadable_sections_are_absent_not_zero() {
        let tree = TempTree::new();
        let mut s = HostSampler::new(Roots {
            proc: tree.path().join("nope"),
            sys: tree.path().join("nope"),
            rootfs: "/".into(),
        });
        let h = s.sample();
        assert_eq!(h, HostSample::default());
    }
}
