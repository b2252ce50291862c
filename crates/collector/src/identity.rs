//! Who this host is on the wire: `host_id` (the Kafka key) and `host_name`.
//!
//! Defaults: the id is the machine id (`HOST_ROOTFS/etc/machine-id`, falling back to
//! `/etc/machine-id`), stable across reboots and renames; the name is the hostname (the host's
//! `/etc/hostname` when its root is mounted in, i.e. HOST_ROOTFS is not `/`).

use std::path::{Path, PathBuf};

use common::validate::{MAX_ID_LEN, MAX_NAME_LEN};

use crate::error::{Error, Result};

/// The host id: `HOST_ID` when set, else the machine id.
pub fn host_id(explicit: Option<&str>, rootfs: &Path) -> Result<String> {
    let id = match explicit.map(str::trim).filter(|s| !s.is_empty()) {
        Some(id) => id.to_string(),
        None => [rootfs.join("etc/machine-id"), "/etc/machine-id".into()]
            .iter()
            .find_map(|p| read_first_line(p))
            .ok_or_else(|| {
                Error::Config(format!(
                    "HOST_ID is not set and no machine id was found in {} or /etc/machine-id (set HOST_ID or pass --host-id)",
                    rootfs.join("etc/machine-id").display()
                ))
            })?,
    };
    if id.len() > MAX_ID_LEN || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::Config(format!(
            "HOST_ID {id:?} must be 1..={MAX_ID_LEN} characters without spaces"
        )));
    }
    Ok(id)
}

/// The host name: `HOST_NAME` when set, else the hostname.
pub fn host_name(explicit: Option<&str>, rootfs: &Path) -> Result<String> {
    let name = match explicit.map(str::trim).filter(|s| !s.is_empty()) {
        Some(n) => n.to_string(),
        None => {
            let mut candidates: Vec<PathBuf> = vec!["/proc/sys/kernel/hostname".into(), "/etc/hostname".into()];
            if rootfs != Path::new("/") {
                candidates.insert(0, rootfs.join("etc/hostname"));
            }
            candidates.iter().find_map(|p| read_first_line(p)).unwrap_or_default()
        }
    };
    if name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(Error::Config(format!(
            "HOST_NAME must be at most {MAX_NAME_LEN} bytes without control characters"
        )));
    }
    Ok(name)
}

fn read_first_line(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempTree;

    #[test]
    fn explicit_values_win() {
        assert_eq!(host_id(Some(" web-01 "), Path::new("/nonexistent")).unwrap(), "web-01");
        assert_eq!(host_name(Some("Web 01"), Path::new("/nonexistent")).unwrap(), "Web 01");
    }

    #[test]
    fn reads_the_mounted_hosts_identity() {
        let root = TempTree::new();
        root.write("etc/machine-id", "0123456789abcdef0123456789abcdef\n");
        root.write("etc/hostname", "rack7-node3\n");
        assert_eq!(host_id(None, root.path()).unwrap(), "0123456789abcdef0123456789abcdef");
        assert_eq!(host_name(None, root.path()).unwrap(), "rack7-node3");
    }

    #[test]
    fn rejects_ids_that_readers_would_refuse() {
        assert!(host_id(Some("has space"), Path::new("/")).is_err());
        assert!(host_id(Some(&"x".repeat(200)), Path::new("/")).is_err());
    }
}
