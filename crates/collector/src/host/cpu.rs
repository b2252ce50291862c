//! CPU busy percentages, whole machine and per core, from two readings of `/proc/stat`.

use std::io::Read;

use procfs_core::{CpuTime, ExplicitSystemInfo, FromReadSI, KernelStats};

use crate::rates::round2;

/// Raw tick counters of one CPU line (`cpu` or `cpuN`). Guest time is already part of user time
/// and is not added again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTicks {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
}

/// One reading of `/proc/stat`: the machine line and one entry per online core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuCounters {
    pub total: CpuTicks,
    pub cores: Vec<CpuTicks>,
}

impl From<&CpuTime> for CpuTicks {
    fn from(t: &CpuTime) -> Self {
        CpuTicks {
            user: t.user,
            nice: t.nice,
            system: t.system,
            idle: t.idle,
            iowait: t.iowait.unwrap_or(0),
            irq: t.irq.unwrap_or(0),
            softirq: t.softirq.unwrap_or(0),
            steal: t.steal.unwrap_or(0),
        }
    }
}

/// Parses `/proc/stat` with procfs-core.
pub fn parse(r: impl Read) -> Result<CpuCounters, String> {
    // Only raw tick counts are used, so the tick rate and the rest do not matter here.
    let si = ExplicitSystemInfo {
        boot_time_secs: 0,
        ticks_per_second: 100,
        page_size: 4096,
        is_little_endian: true,
    };
    let stats = KernelStats::from_read(r, &si).map_err(|e| e.to_string())?;
    Ok(CpuCounters {
        total: (&stats.total).into(),
        cores: stats.cpu_time.iter().map(CpuTicks::from).collect(),
    })
}

/// Busy share of the time between two readings of one CPU line, 0..=100.
///
/// `None` when a counter went backwards or no tick elapsed. iowait alone may legitimately
/// decrease on tickless kernels (proc(5)), so its delta saturates at 0 instead.
pub fn busy_percent(prev: &CpuTicks, cur: &CpuTicks) -> Option<f64> {
    let d = |p: u64, c: u64| c.checked_sub(p);
    let busy = d(prev.user, cur.user)?
        + d(prev.nice, cur.nice)?
        + d(prev.system, cur.system)?
        + d(prev.irq, cur.irq)?
        + d(prev.softirq, cur.softirq)?
        + d(prev.steal, cur.steal)?;
    let idle = d(prev.idle, cur.idle)? + cur.iowait.saturating_sub(prev.iowait);
    let total = busy + idle;
    (total > 0).then(|| round2((busy as f64 / total as f64 * 100.0).clamp(0.0, 100.0)))
}

/// Whole-machine and per-core busy percentages. Per-core values are left out when the set of
/// online cores changed between the readings (CPU hot-plug), since lines would not match up.
pub fn percentages(prev: &CpuCounters, cur: &CpuCounters) -> (Option<f64>, Vec<f64>) {
    let total = busy_percent(&prev.total, &cur.total);
    let per_core = if prev.cores.len() == cur.cores.len() {
        prev.cores
            .iter()
            .zip(&cur.cores)
            .map(|(p, c)| busy_percent(p, c))
            .collect::<Option<Vec<f64>>>()
    } else {
        None
    };
    (total, per_core.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT_1: &str = include_str!("../../tests/fixtures/proc/stat.1");
    const STAT_2: &str = include_str!("../../tests/fixtures/proc/stat.2");

    #[test]
    fn parses_machine_and_cores() {
        let c = parse(STAT_1.as_bytes()).unwrap();
        assert_eq!(c.cores.len(), 2);
        assert_eq!(c.total.user, 10_000);
        assert_eq!(c.total.iowait, 100);
        assert_eq!(c.cores[1].idle, 40_000);
    }

    #[test]
    fn busy_percent_from_deltas() {
        let (a, b) = (parse(STAT_1.as_bytes()).unwrap(), parse(STAT_2.as_bytes()).unwrap());
        let (total, cores) = percentages(&a, &b);
        // Machine: busy +150 (user 100, system 50), idle +50 → 75 %.
        assert_eq!(total, Some(75.0));
        // cpu0 was fully busy (100 user ticks), cpu1 had 50 system, 50 idle.
        assert_eq!(cores, vec![100.0, 50.0]);
    }

    #[test]
    fn counter_reset_gives_no_percentage() {
        let (a, b) = (parse(STAT_1.as_bytes()).unwrap(), parse(STAT_2.as_bytes()).unwrap());
        let (total, cores) = percentages(&b, &a);
        assert_eq!(total, None);
        assert!(cores.is_empty());
    }

    #[test]
    fn decreasing_iowait_is_tolerated() {
        let prev = CpuTicks {
            user: 100,
            idle: 100,
            iowait: 50,
            ..Default::default()
        };
        let cur = CpuTicks {
            user: 150,
            idle: 150,
            iowait: 40,
            ..Default::default()
        };
        assert_eq!(busy_percent(&prev, &cur), Some(50.0));
    }

    #[test]
    fn no_elapsed_ticks_gives_no_percentage() {
        let t = CpuTicks {
            user: 1,
            ..Default::default()
        };
        assert_eq!(busy_percent(&t, &t), None);
    }

    #[test]
    fn hotplug_drops_per_core_but_keeps_total() {
        let a = parse(STAT_1.as_bytes()).unwrap();
        let mut b = parse(STAT_2.as_bytes()).unwrap();
        b.cores.pop();
        let (total, cores) = percentages(&a, &b);
        assert!(total.is_some());
        assert!(cores.is_empty());
    }
}
