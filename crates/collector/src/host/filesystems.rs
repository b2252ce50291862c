//! Usage of the host's real filesystems: mounts from `PROC_ROOT/1/mounts`, sizes from statvfs(2)
//! on `HOST_ROOTFS` + mount point.
//!
//! Pseudo and overlay filesystems (tmpfs, overlay, proc, sysfs, cgroup, squashfs, ...) are
//! skipped; a device mounted several times (bind mounts, btrfs subvolumes) is reported once.
//! statvfs on a network filesystem can hang forever when its server is gone, so those are
//! measured on a helper thread with a timeout and skipped while a previous probe is still stuck.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::Filesystem;

use crate::rates::round2;

/// Filesystem types that hold data on a disk or a file server.
const REAL_FS_TYPES: &[&str] = &[
    "ext2", "ext3", "ext4", "xfs", "btrfs", "bcachefs", "zfs", "f2fs", "vfat", "msdos", "exfat", "ntfs", "ntfs3",
    "jfs", "reiserfs", "hfs", "hfsplus", "nfs", "nfs4", "cifs", "smb3", "ceph", "fuseblk",
];

/// Of those, the ones served over the network (statvfs may block on a dead server).
const NETWORK_FS_TYPES: &[&str] = &["nfs", "nfs4", "cifs", "smb3", "ceph"];

/// How long a network filesystem may take to answer statvfs.
const NETWORK_STATVFS_TIMEOUT: Duration = Duration::from_secs(1);

/// A mounted real filesystem, before it is measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountPoint {
    pub mount: String,
    pub device: String,
    pub fs_type: String,
}

/// Sizes of a filesystem as statvfs(2) reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VfsStats {
    pub fragment_size: u64,
    pub blocks: u64,
    pub blocks_free: u64,
    pub blocks_available: u64,
    pub files: u64,
    pub files_free: u64,
}

/// Parses a mounts file and keeps one entry per device of a real filesystem, preferring the
/// shortest mount point (`/` over a bind mount of `/etc/hosts` from the same disk).
///
/// Not procfs-core's parser: 0.18 leaves `\040` (a space, as the kernel escapes it) in paths.
pub fn parse_mounts(mut r: impl Read) -> Result<Vec<MountPoint>, String> {
    let mut text = String::new();
    r.read_to_string(&mut text).map_err(|e| e.to_string())?;
    let mut mounts = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let mut fields = line.split_whitespace();
        let (Some(device), Some(mount), Some(fs_type)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(format!(
                "line {}: expected device, mount point and type: {line:?}",
                n + 1
            ));
        };
        mounts.push(MountPoint {
            mount: unescape(mount),
            device: unescape(device),
            fs_type: unescape(fs_type),
        });
    }
    Ok(select(mounts))
}

/// Undoes the kernel's octal escapes in mount fields (`\040` space, `\011` tab, `\012`
/// newline, `\134` backslash).
pub fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal.and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok()) {
            Some(b) => {
                out.push(b);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Filters and de-duplicates mount points; the result is sorted by mount point.
pub fn select(mounts: impl IntoIterator<Item = MountPoint>) -> Vec<MountPoint> {
    let mut by_device: HashMap<String, MountPoint> = HashMap::new();
    for m in mounts
        .into_iter()
        .filter(|m| REAL_FS_TYPES.contains(&m.fs_type.as_str()))
    {
        let shorter = |old: &MountPoint| (depth(&m.mount), m.mount.len()) < (depth(&old.mount), old.mount.len());
        match by_device.get(&m.device) {
            Some(old) if !shorter(old) => {}
            _ => {
                by_device.insert(m.device.clone(), m);
            }
        }
    }
    let sorted: BTreeMap<String, MountPoint> = by_device.into_values().map(|m| (m.mount.clone(), m)).collect();
    sorted.into_values().collect()
}

fn depth(mount: &str) -> usize {
    mount.split('/').filter(|s| !s.is_empty()).count()
}

/// Where a host mount point is seen from here: `rootfs` + `mount` (`rootfs` is `/` natively and
/// e.g. `/host` when the host's root is mounted into the collector's container).
pub fn host_path(rootfs: &Path, mount: &str) -> PathBuf {
    rootfs.join(mount.trim_start_matches('/'))
}

/// The record entry for one filesystem from its statvfs numbers. `used_percent` follows `df`:
/// used / (used + available to unprivileged users), so reserved blocks count as not available.
pub fn measure(m: &MountPoint, s: &VfsStats) -> Filesystem {
    let total = s.blocks.saturating_mul(s.fragment_size);
    let used = s.blocks.saturating_sub(s.blocks_free).saturating_mul(s.fragment_size);
    let avail = s.blocks_available.saturating_mul(s.fragment_size);
    let used_percent = (used + avail > 0).then(|| round2(used as f64 / (used + avail) as f64 * 100.0));
    let inodes_used_percent =
        (s.files > 0).then(|| round2(s.files.saturating_sub(s.files_free) as f64 / s.files as f64 * 100.0));
    Filesystem {
        mount: m.mount.clone(),
        device: m.device.clone(),
        fs_type: m.fs_type.clone(),
        total_bytes: Some(total),
        used_bytes: Some(used),
        used_percent,
        inodes_used_percent,
    }
}

fn statvfs(path: &Path) -> std::io::Result<VfsStats> {
    let s = rustix::fs::statvfs(path)?;
    Ok(VfsStats {
        fragment_size: if s.f_frsize > 0 { s.f_frsize } else { s.f_bsize },
        blocks: s.f_blocks,
        blocks_free: s.f_bfree,
        blocks_available: s.f_bavail,
        files: s.f_files,
        files_free: s.f_ffree,
    })
}

/// Measures filesystems, keeping track of network mounts whose statvfs is stuck.
#[derive(Debug, Default)]
pub struct Prober {
    stuck: HashMap<PathBuf, Arc<AtomicBool>>,
}

impl Prober {
    /// statvfs of every mount point under `rootfs`. A mount that cannot be measured (not visible
    /// under `rootfs`, permission denied, a network server not answering) is left out.
    pub fn measure_all(&mut self, rootfs: &Path, mounts: &[MountPoint]) -> Vec<Filesystem> {
        mounts
            .iter()
            .filter_map(|m| {
                let path = host_path(rootfs, &m.mount);
                let stats = if NETWORK_FS_TYPES.contains(&m.fs_type.as_str()) {
                    self.statvfs_bounded(path.clone())
                } else {
                    statvfs(&path).ok()
                };
                if stats.is_none() {
                    tracing::debug!(path = %path.display(), "filesystem not measured");
                }
                stats.map(|s| measure(m, &s))
            })
            .collect()
    }

    fn statvfs_bounded(&mut self, path: PathBuf) -> Option<VfsStats> {
        let busy = self.stuck.entry(path.clone()).or_default().clone();
        if busy.swap(true, Ordering::AcqRel) {
            return None; // the previous probe of this mount has not come back yet
        }
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new().name("statvfs".into()).spawn(move || {
            let _ = tx.send(statvfs(&path));
            busy.store(false, Ordering::Release);
        });
        if spawned.is_err() {
            return None;
        }
        rx.recv_timeout(NETWORK_STATVFS_TIMEOUT).ok().and_then(Result::ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounts() -> Vec<MountPoint> {
        parse_mounts(include_str!("../../tests/fixtures/proc/mounts").as_bytes()).unwrap()
    }

    #[test]
    fn keeps_real_filesystems_once_per_device() {
        let mounts = mounts();
        let got: Vec<(&str, &str, &str)> = mounts
            .iter()
            .map(|m| (m.mount.as_str(), m.device.as_str(), m.fs_type.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("/", "/dev/sda2", "ext4"),
                ("/boot/efi", "/dev/sda1", "vfat"),
                ("/data", "/dev/nvme0n1p1", "xfs"),
                ("/mnt/my disk", "/dev/sdb1", "btrfs"),
                ("/srv/share", "nas:/export", "nfs4"),
            ]
        );
    }

    #[test]
    fn unescapes_like_the_kernel_escapes() {
        assert_eq!(unescape(r"/mnt/my\040disk"), "/mnt/my disk");
        assert_eq!(unescape(r"/a\134b\011c"), "/a\\b\tc");
        assert_eq!(unescape(r"/plain\x"), r"/plain\x");
    }

    #[test]
    fn usage_like_df() {
        let m = MountPoint {
            mount: "/".into(),
            device: "/dev/sda2".into(),
            fs_type: "ext4".into(),
        };
        let s = VfsStats {
            fragment_size: 4096,
            blocks: 1000,
            blocks_free: 300,
            blocks_available: 250, // 50 blocks reserved for root
            files: 200,
            files_free: 150,
        };
        let fs = measure(&m, &s);
        assert_eq!(fs.total_bytes, Some(4_096_000));
        assert_eq!(fs.used_bytes, Some(700 * 4096));
        assert_eq!(fs.used_percent, Some(73.68)); // 700 / (700 + 250)
        assert_eq!(fs.inodes_used_percent, Some(25.0));
    }

    #[test]
    fn filesystems_without_inodes_have_no_inode_percentage() {
        let m = MountPoint {
            mount: "/".into(),
            device: "/dev/sda2".into(),
            fs_type: "btrfs".into(),
        };
        let s = VfsStats {
            fragment_size: 4096,
            blocks: 10,
            blocks_free: 5,
            blocks_available: 5,
            ..Default::default()
        };
        assert_eq!(measure(&m, &s).inodes_used_percent, None);
    }

    #[test]
    fn mount_points_resolve_under_the_host_rootfs() {
        assert_eq!(host_path(Path::new("/"), "/boot/efi"), PathBuf::from("/boot/efi"));
        assert_eq!(
            host_path(Path::new("/host"), "/boot/efi"),
            PathBuf::from("/host/boot/efi")
        );
        assert_eq!(host_path(Path::new("/host"), "/"), PathBuf::from("/host/"));
    }

    #[test]
    fn measures_a_real_directory() {
        let m = MountPoint {
            mount: "/".into(),
            device: "x".into(),
            fs_type: "ext4".into(),
        };
        let fs = Prober::default().measure_all(Path::new("/"), &[m]);
        assert_eq!(fs.len(), 1);
        assert!(fs[0].total_bytes.unwrap() > 0);
        let missing = MountPoint {
            mount: "/no/such/mount".into(),
            device: "y".into(),
            fs_type: "ext4".into(),
        };
        assert!(Prober::default().measure_all(Path::new("/"), &[missing]).is_empty());
    }
}
