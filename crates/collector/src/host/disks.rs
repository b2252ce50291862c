//! Disk read/write throughput from `/proc/diskstats`, counting physical disks only.
//!
//! A physical disk is a whole device listed in `SYS_ROOT/block` that has a `device` link (backed
//! by hardware or a virtio/SCSI/NVMe controller), excluding virtual block devices (loop, ram,
//! zram, device-mapper, md). Partitions are never counted, so nothing is counted twice.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use procfs_core::{DiskStats, FromRead};

use crate::rates::{per_sec, round2, sum_rates};

/// `/proc/diskstats` counts in 512-byte sectors whatever the device's real sector size.
const SECTOR_BYTES: u64 = 512;

/// Name prefixes of virtual block devices that may still show up with a `device` link.
const VIRTUAL_PREFIXES: &[&str] = &["loop", "ram", "zram", "dm-", "md", "nbd"];

/// Cumulative bytes read and written by one disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskBytes {
    pub read: u64,
    pub written: u64,
}

/// Is a `/sys/block` entry name one of the virtual devices we never count?
pub fn is_virtual_name(name: &str) -> bool {
    VIRTUAL_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The physical disks listed under `sys_root/block`.
pub fn physical_disks(sys_root: &Path) -> std::io::Result<BTreeSet<String>> {
    let mut disks = BTreeSet::new();
    for entry in std::fs::read_dir(sys_root.join("block"))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_virtual_name(&name) && entry.path().join("device").exists() {
            disks.insert(name);
        }
    }
    Ok(disks)
}

/// Parses `/proc/diskstats` with procfs-core and keeps the cumulative bytes of `physical` disks.
pub fn parse(r: impl Read, physical: &BTreeSet<String>) -> Result<BTreeMap<String, DiskBytes>, String> {
    let stats = DiskStats::from_read(r).map_err(|e| e.to_string())?;
    Ok(stats
        .0
        .into_iter()
        .filter(|d| physical.contains(&d.name))
        .map(|d| {
            let bytes = DiskBytes {
                read: d.sectors_read.saturating_mul(SECTOR_BYTES),
                written: d.sectors_written.saturating_mul(SECTOR_BYTES),
            };
            (d.name, bytes)
        })
        .collect())
}

/// Read and write bytes per second summed over the disks seen in both readings. `None` on the
/// first reading, when no disk was seen twice, or when a counter went backwards.
pub fn rates(
    prev: Option<(&BTreeMap<String, DiskBytes>, Duration)>,
    cur: &BTreeMap<String, DiskBytes>,
) -> (Option<f64>, Option<f64>) {
    let Some((prev, elapsed)) = prev else {
        return (None, None);
    };
    let pairs: Vec<_> = cur
        .iter()
        .filter_map(|(name, c)| prev.get(name).map(|p| (p, c)))
        .collect();
    let read = sum_rates(pairs.iter().map(|(p, c)| per_sec(p.read, c.read, elapsed)));
    let written = sum_rates(pairs.iter().map(|(p, c)| per_sec(p.written, c.written, elapsed)));
    (read.map(round2), written.map(round2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempTree;

    #[test]
    fn only_whole_physical_disks_count() {
        let sys = TempTree::new();
        for dev in ["sda", "nvme0n1", "loop0", "dm-0", "md0", "zram0", "ram0"] {
            sys.mkdir(&format!("block/{dev}/device"));
        }
        sys.mkdir("block/sdb"); // no device link: virtual
        let disks = physical_disks(sys.path()).unwrap();
        assert_eq!(disks.into_iter().collect::<Vec<_>>(), ["nvme0n1", "sda"]);
    }

    #[test]
    fn partitions_and_virtual_devices_are_not_counted() {
        let physical = BTreeSet::from(["sda".to_string()]);
        let text = include_str!("../../tests/fixtures/proc/diskstats");
        let bytes = parse(text.as_bytes(), &physical).unwrap();
        assert_eq!(bytes.len(), 1);
        assert_eq!(
            bytes["sda"],
            DiskBytes {
                read: 2_000 * 512,
                written: 8_000 * 512
            }
        );
    }

    #[test]
    fn rates_sum_disks_seen_twice() {
        let b = |read, written| DiskBytes { read, written };
        let prev = BTreeMap::from([("sda".to_string(), b(1_000, 2_000)), ("sdb".to_string(), b(0, 0))]);
        let cur = BTreeMap::from([
            ("sda".to_string(), b(3_000, 2_000)),
            ("sdb".to_string(), b(1_000, 4_000)),
            ("sdc".to_string(), b(1 << 40, 1 << 40)), // hot-plugged: no rate yet
        ]);
        assert_eq!(
            rates(Some((&prev, Duration::from_secs(2))), &cur),
            (Some(1_500.0), Some(2_000.0))
        );
        assert_eq!(rates(None, &cur), (None, None));
        // A counter that went backwards voids that tick.
        assert_eq!(rates(Some((&cur, Duration::from_secs(1))), &prev), (None, None));
    }

    #[test]
    fn virtual_names() {
        for name in ["loop7", "ram0", "zram0", "dm-3", "md127"] {
            assert!(is_virtual_name(name), "{name}");
        }
        for name in ["sda", "vda", "nvme0n1", "mmcblk0", "xvda"] {
            assert!(!is_virtual_name(name), "{name}");
        }
    }
}
