//! A small filesystem of one test's own (a size-limited tmpfs mounted by the test, which needs
//! root, as CI has), that the test can fill to the last byte and free again: the disk-full
//! fault for a MariaDB data directory placed on it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct SmallDisk {
    pub dir: PathBuf,
    filler: PathBuf,
}

impl SmallDisk {
    /// Mounts a tmpfs of `megabytes` on `dir` (created).
    pub fn mount(dir: &Path, megabytes: u32) -> SmallDisk {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mount a {megabytes} MB tmpfs on {} (the disk-full test needs root): {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk {
            dir: dir.to_owned(),
            filler: dir.join("filler"),
        }
    }

    /// Writes a file until the filesystem has no byte left; returns how many it took.
    pub fn fill(&self) -> u64 {
        let mut file = std::fs::File::create(&self.filler).expect("create the filler");
        let chunk = vec![0u8; 1 << 20];
        let mut written = 0u64;
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("fill {}: {e}", self.dir.display()),
            }
        }
        // the last partial page
        let _ = file.write_all(&[0u8; 4096]);
        written
    }

    /// Removes what [`SmallDisk::fill`] wrote.
    pub fn free(&self) {
        std::fs::remove_file(&self.filler).expect("remove the filler");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}
