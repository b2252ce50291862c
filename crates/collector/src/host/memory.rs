//! Memory and swap from `/proc/meminfo`: used = total − available (what `free` calls used).

use std::io::Read;

use procfs_core::{FromRead, Meminfo};

use crate::rates::round2;

/// Memory figures of one reading, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Memory {
    pub total: u64,
    pub available: u64,
    pub used: u64,
    pub percent: Option<f64>,
    pub swap_total: u64,
    pub swap_used: u64,
}

/// Parses `/proc/meminfo` with procfs-core (values come out in bytes).
pub fn parse(r: impl Read) -> Result<Memory, String> {
    let m = Meminfo::from_read(r).map_err(|e| e.to_string())?;
    Ok(derive(&m))
}

/// Derives the record's memory fields. Kernels before 3.14 have no `MemAvailable`; there,
/// free + buffers + cached is the usual estimate.
pub fn derive(m: &Meminfo) -> Memory {
    let available = m
        .mem_available
        .unwrap_or(m.mem_free + m.buffers + m.cached)
        .min(m.mem_total);
    let used = m.mem_total - available;
    let percent = (m.mem_total > 0).then(|| round2(used as f64 / m.mem_total as f64 * 100.0));
    Memory {
        total: m.mem_total,
        available,
        used,
        percent,
        swap_total: m.swap_total,
        swap_used: m.swap_total.saturating_sub(m.swap_free),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn used_is_total_minus_available() {
        let m = parse(include_str!("../../tests/fixtures/proc/meminfo").as_bytes()).unwrap();
        assert_eq!(m.total, 16_000_000 * 1024);
        assert_eq!(m.available, 12_000_000 * 1024);
        assert_eq!(m.used, 4_000_000 * 1024);
        assert_eq!(m.percent, Some(25.0));
        assert_eq!(m.swap_total, 2_000_000 * 1024);
        assert_eq!(m.swap_used, 500_000 * 1024);
    }
}
