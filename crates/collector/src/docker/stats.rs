//! Container figures from Docker's one-shot stats, with the docker CLI's formulas so numbers
//! match what operators see in `docker stats`.
//!
//! One-shot stats carry no `precpu_stats`, so the previous sample of each container is kept by
//! the caller ([`StatsCounters`]) and rates are taken between two of our own samples.

use std::time::Instant;

use bollard::models::ContainerStatsResponse;
use common::ContainerSample;

use crate::rates::{per_sec_opt, round2};

/// The cumulative counters of one stats sample, kept until the next tick.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsCounters {
    /// When the answer arrived (monotonic).
    pub at: Instant,
    /// When the engine read the counters (`read`), ns since the epoch, when it says.
    pub read_ns: Option<i64>,
    /// Container CPU time, ns.
    pub cpu_total: Option<u64>,
    /// Host CPU time over all cores, ns (Docker's `system_cpu_usage`).
    pub system_cpu: Option<u64>,
    /// `online_cpus`, else the length of `percpu_usage`; `None` when neither is reported.
    pub online_cpus: Option<u32>,
    pub net_rx: Option<u64>,
    pub net_tx: Option<u64>,
    pub blk_read: Option<u64>,
    pub blk_write: Option<u64>,
}

/// Extracts the counters of a stats answer received at `at`.
pub fn counters(s: &ContainerStatsResponse, at: Instant) -> StatsCounters {
    let cpu = s.cpu_stats.as_ref();
    let usage = cpu.and_then(|c| c.cpu_usage.as_ref());
    let online = cpu.and_then(|c| c.online_cpus).filter(|n| *n > 0).or_else(|| {
        usage
            .and_then(|u| u.percpu_usage.as_ref())
            .map(|p| p.len() as u32)
            .filter(|n| *n > 0)
    });
    let networks = s.networks.as_ref().filter(|n| !n.is_empty());
    let net_sum = |f: fn(&bollard::models::ContainerNetworkStats) -> Option<u64>| {
        networks.and_then(|n| n.values().map(f).sum::<Option<u64>>())
    };
    let blkio = s
        .blkio_stats
        .as_ref()
        .and_then(|b| b.io_service_bytes_recursive.as_ref());
    let blk_sum = |op: &str| {
        blkio.map(|entries| {
            entries
                .iter()
                .filter(|e| e.op.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(op)))
                .filter_map(|e| e.value)
                .sum::<u64>()
        })
    };
    StatsCounters {
        at,
        read_ns: s
            .read
            .as_deref()
            .and_then(|r| chrono::DateTime::parse_from_rfc3339(r).ok())
            .and_then(|t| t.timestamp_nanos_opt())
            .filter(|ns| *ns > 0),
        cpu_total: usage.and_then(|u| u.total_usage),
        system_cpu: cpu.and_then(|c| c.system_cpu_usage),
        online_cpus: online,
        net_rx: net_sum(|n| n.rx_bytes),
        net_tx: net_sum(|n| n.tx_bytes),
        blk_read: blk_sum("read"),
        blk_write: blk_sum("write"),
    }
}

/// CPU % between two samples (100 = one full core), with the docker CLI's formula:
/// Δcontainer / Δsystem × online CPUs × 100. `host_cores` is the fallback when the engine reports
/// no CPU count. `None` when a counter went backwards (the container restarted) or no time passed.
///
/// The formula assumes `system_cpu_usage` counts all CPU time, idle included, as Docker's does:
/// then Δsystem ≈ elapsed × CPUs. podman's compat API leaves idle time out, which inflates the
/// result on a host that is not fully busy (a one-core `yes` read as 187 %). When Δsystem is
/// more than 10 % off elapsed × CPUs, the same quantity is taken from the clock instead:
/// Δcontainer / Δelapsed × 100, elapsed between the engine's own `read` timestamps.
pub fn cpu_percent(prev: &StatsCounters, cur: &StatsCounters, host_cores: Option<u32>) -> Option<f64> {
    let d_container = cur.cpu_total?.checked_sub(prev.cpu_total?)? as f64;
    let cpus = cur.online_cpus.or(host_cores)? as f64;
    let elapsed_ns = match (prev.read_ns, cur.read_ns) {
        (Some(a), Some(b)) => (b - a) as f64,
        _ => cur.at.checked_duration_since(prev.at)?.as_nanos() as f64,
    };
    let d_system = cur
        .system_cpu
        .zip(prev.system_cpu)
        .and_then(|(c, p)| c.checked_sub(p))
        .filter(|d| *d > 0);
    if let Some(d_system) = d_system.map(|d| d as f64) {
        let consistent = elapsed_ns <= 0.0 || (0.9..=1.1).contains(&(d_system / (elapsed_ns * cpus)));
        if consistent {
            return Some(round2(d_container / d_system * cpus * 100.0));
        }
    }
    (elapsed_ns > 0.0).then(|| round2(d_container / elapsed_ns * 100.0))
}

/// Memory `(used, limit, percent)`: used = usage − inactive_file (cgroup v1:
/// `total_inactive_file`, v2: `inactive_file`), as the docker CLI computes it.
pub fn memory(s: &ContainerStatsResponse) -> (Option<u64>, Option<u64>, Option<f64>) {
    let Some(m) = s.memory_stats.as_ref() else {
        return (None, None, None);
    };
    let Some(usage) = m.usage else {
        return (None, m.limit, None);
    };
    let stat = |k: &str| m.stats.as_ref().and_then(|s| s.get(k)).copied();
    let used = match (stat("total_inactive_file"), stat("inactive_file")) {
        (Some(v1), _) if v1 < usage => usage - v1,
        (_, Some(v2)) if v2 < usage => usage - v2,
        _ => usage,
    };
    let limit = m.limit.filter(|l| *l > 0);
    let percent = limit.map(|l| round2((used as f64 / l as f64 * 100.0).min(100.0)));
    (Some(used), limit, percent)
}

/// Fills a running container's measurements from its stats answer and the previous counters.
pub fn fill(
    sample: &mut ContainerSample,
    stats: &ContainerStatsResponse,
    cur: &StatsCounters,
    prev: Option<&StatsCounters>,
    host_cores: Option<u32>,
) {
    (sample.mem_used_bytes, sample.mem_limit_bytes, sample.mem_percent) = memory(stats);
    sample.pids = stats.pids_stats.as_ref().and_then(|p| p.current);
    let Some(prev) = prev else { return };
    let elapsed = cur.at.saturating_duration_since(prev.at);
    let rate = |p, c| per_sec_opt(p, c, elapsed).map(round2);
    sample.cpu_percent = cpu_percent(prev, cur, host_cores);
    sample.net_rx_bytes_per_sec = rate(prev.net_rx, cur.net_rx);
    sample.net_tx_bytes_per_sec = rate(prev.net_tx, cur.net_tx);
    sample.blk_read_bytes_per_sec = rate(prev.blk_read, cur.blk_read);
    sample.blk_write_bytes_per_sec = rate(prev.blk_write, cur.blk_write);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn load(name: &str) -> ContainerStatsResponse {
        let path = common::manifest_dir!().join("tests/fixtures/docker").join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// Two samples `gap` apart, filled into a sample like a tick would.
    fn two_ticks(a: &str, b: &str, gap: Duration, host_cores: Option<u32>) -> ContainerSample {
        let t0 = Instant::now();
        let (sa, sb) = (load(a), load(b));
        let (ca, cb) = (counters(&sa, t0), counters(&sb, t0 + gap));
        let mut sample = ContainerSample::default();
        fill(&mut sample, &sb, &cb, Some(&ca), host_cores);
        sample
    }

    #[test]
    fn cgroup_v1_like_docker_stats() {
        let s = two_ticks("stats_v1.1.json", "stats_v1.2.json", Duration::from_secs(1), None);
        // 1 s of one core out of 4 cores' 4 s, online CPUs from percpu_usage (4) → 100 %.
        assert_eq!(s.cpu_percent, Some(100.0));
        // usage 300 MiB − total_inactive_file 100 MiB (not v1's per-cgroup inactive_file 10 MiB).
        assert_eq!(s.mem_used_bytes, Some(200 * 1024 * 1024));
        assert_eq!(s.mem_limit_bytes, Some(1024 * 1024 * 1024));
        assert_eq!(s.mem_percent, Some(19.53));
        // Networks summed: eth0 +1000/+400, eth1 +500/+100 over 1 s.
        assert_eq!(s.net_rx_bytes_per_sec, Some(1_500.0));
        assert_eq!(s.net_tx_bytes_per_sec, Some(500.0));
        // Only the Read and Write rows count, not Sync/Async/Total.
        assert_eq!(s.blk_read_bytes_per_sec, Some(4_096.0));
        assert_eq!(s.blk_write_bytes_per_sec, Some(8_192.0));
        assert_eq!(s.pids, Some(12));
    }

    #[test]
    fn cgroup_v2_like_docker_stats() {
        let s = two_ticks("stats_v2.1.json", "stats_v2.2.json", Duration::from_millis(500), None);
        assert_eq!(s.cpu_percent, Some(250.0));
        // usage 200 MiB − inactive_file 70 MiB.
        assert_eq!(s.mem_used_bytes, Some(130 * 1024 * 1024));
        assert_eq!(s.mem_percent, Some(25.39));
        assert_eq!(s.net_rx_bytes_per_sec, Some(4_000.0));
        assert_eq!(s.net_tx_bytes_per_sec, Some(6_000.0));
        // Lower-case ops, summed over devices, per second over 0.5 s.
        assert_eq!(s.blk_read_bytes_per_sec, Some(2_000_000.0));
        assert_eq!(s.blk_write_bytes_per_sec, Some(1_000_000.0));
        assert_eq!(s.pids, Some(3));
    }

    #[test]
    fn a_system_counter_without_idle_time_falls_back_to_the_clock() {
        // podman: one core busy for 1.13 s, but the "system" counter grew by only 1.25 s on a
        // 2-CPU host (idle left out). The docker formula would say 180 %; the clock says 100 %.
        let t0 = Instant::now();
        let at = |read_ns: i64, cpu: u64, system: u64| StatsCounters {
            at: t0,
            read_ns: Some(read_ns),
            cpu_total: Some(cpu),
            system_cpu: Some(system),
            online_cpus: Some(2),
            net_rx: None,
            net_tx: None,
            blk_read: None,
            blk_write: None,
        };
        let prev = at(1_000_000_000, 2_042_937_940, 4_571_101_193_431);
        let cur = at(2_130_000_000, 3_171_266_613, 4_572_354_770_771);
        assert_eq!(cpu_percent(&prev, &cur, None), Some(99.85));
        // With Docker's counter (idle included: 2 × 1.13 s) the docker formula is used as is.
        let docker = StatsCounters {
            system_cpu: Some(4_571_101_193_431 + 2_260_000_000),
            ..cur.clone()
        };
        assert_eq!(cpu_percent(&prev, &docker, None), Some(99.85));
    }

    #[test]
    fn first_sample_has_levels_but_no_rates() {
        let stats = load("stats_v2.1.json");
        let mut s = ContainerSample::default();
        fill(&mut s, &stats, &counters(&stats, Instant::now()), None, Some(8));
        assert!(s.mem_used_bytes.is_some() && s.pids.is_some());
        assert_eq!(
            (s.cpu_percent, s.net_rx_bytes_per_sec, s.blk_read_bytes_per_sec),
            (None, None, None)
        );
    }

    #[test]
    fn restarted_container_gives_no_rates() {
        let s = two_ticks("stats_v2.2.json", "stats_v2.1.json", Duration::from_secs(1), None);
        assert_eq!(s.cpu_percent, None);
        assert_eq!(s.net_rx_bytes_per_sec, None);
        assert_eq!(s.blk_read_bytes_per_sec, None);
        assert!(s.mem_used_bytes.is_some());
    }

    #[test]
    fn online_cpus_falls_back_to_host_cores() {
        let t0 = Instant::now();
        let mut a = counters(&load("stats_v2.1.json"), t0);
        let mut b = counters(&load("stats_v2.2.json"), t0 + Duration::from_millis(500));
        a.online_cpus = None;
        b.online_cpus = None;
        // 1.25 s of CPU over 0.5 s on 8 cores (what the host says when the engine does not).
        assert_eq!(cpu_percent(&a, &b, Some(8)), Some(250.0));
        assert_eq!(cpu_percent(&a, &b, None), None);
    }

    #[test]
    fn podman_answers_are_understood() {
        // Captured from podman 4.3's Docker-compatible API (cgroup v1, no memory stats map).
        let stats = load("podman_stats.json");
        let c = counters(&stats, Instant::now());
        assert_eq!(c.online_cpus, Some(2));
        assert!(c.cpu_total.is_some() && c.system_cpu.is_some());
        assert_eq!(c.blk_read, Some(0)); // an empty list is a measured zero
        assert_eq!(c.net_rx, Some(0));
        let (used, limit, _) = memory(&stats);
        assert_eq!(used, Some(372_736));
        assert_eq!(limit, Some(25_276_502_016));
    }

    #[test]
    fn unmeasured_network_is_absent() {
        let mut stats = load("stats_v2.1.json");
        stats.networks = None;
        stats.blkio_stats = None;
        let c = counters(&stats, Instant::now());
        assert_eq!((c.net_rx, c.net_tx, c.blk_read), (None, None, None));
    }
}
