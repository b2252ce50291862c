//! The background work on the storage tiers, one task (so chunks and rollups have one
//! writer): compaction every [`Settings::compact_every`], retention, partitions and the sealing
//! of quiet hosts' chunks every [`SWEEP_EVERY`], and while the pre-tier tables of an upgrade
//! remain, their conversion a step at a time. Its metrics are at
//! `/metrics` (`api_storage_*`).

use std::time::{Duration, Instant};

use chrono::Utc;
use common::shutdown::Shutdown;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::store::{Retention, Store};

/// Compaction and retention settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// STORAGE_COMPACT_AFTER: samples older than this are compacted.
    pub compact_after: Duration,
    pub retention: Retention,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            compact_after: Duration::from_secs(600),
            retention: Retention::default(),
        }
    }
}

impl Settings {
    /// How often compaction runs: a tenth of STORAGE_COMPACT_AFTER, from 1 s to 60 s (so a
    /// sample is compacted at most that much after it turned STORAGE_COMPACT_AFTER old).
    pub fn compact_every(&self) -> Duration {
        (self.compact_after / 10).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }
}

/// How often retention runs (and first, this long after start).
pub const SWEEP_EVERY: Duration = Duration::from_secs(600);
pub const SWEEP_FIRST: Duration = Duration::from_secs(5);
/// Hosts converted per legacy step, and the time one tick may spend on the conversion.
const LEGACY_HOSTS: usize = 20;
const LEGACY_BUDGET: Duration = Duration::from_secs(2);

/// `table` label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabel {
    pub table: String,
}

/// `task` label of a failed step.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabel {
    pub task: &'static str,
}

/// The storage task's metrics.
#[derive(Debug, Clone)]
pub struct StorageMetrics {
    /// `api_storage_compacted_records_total`: records moved into chunks.
    pub compacted: Counter,
    /// `api_storage_compaction_seconds`: one compaction pass.
    pub compaction_seconds: Histogram,
    /// `api_storage_dropped_partitions_total` (retention and the disk budget).
    pub dropped_partitions: Counter,
    /// `api_storage_over_budget_partitions_total`: dropped for STORAGE_MAX_BYTES.
    pub over_budget: Counter,
    /// `api_storage_deleted_rows_total`: rows deleted by retention outside whole partitions.
    pub deleted_rows: Counter,
    /// `api_storage_legacy_rows_total`: pre-tier rows converted.
    pub legacy_rows: Counter,
    /// `api_storage_bytes{table}`: data and indexes, from the table statistics.
    pub bytes: Family<TableLabel, Gauge>,
    /// `api_storage_errors_total{task}`
    pub errors: Family<TaskLabel, Counter>,
}

impl StorageMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = StorageMetrics {
            compacted: Counter::default(),
            compaction_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            dropped_partitions: Counter::default(),
            over_budget: Counter::default(),
            deleted_rows: Counter::default(),
            legacy_rows: Counter::default(),
            bytes: Family::default(),
            errors: Family::default(),
        };
        registry.register(
            "api_storage_compacted_records",
            "Records moved from the write-optimised table into compact chunks",
            m.compacted.clone(),
        );
        registry.register(
            "api_storage_compaction_seconds",
            "Time of one compaction pass",
            m.compaction_seconds.clone(),
        );
        registry.register(
            "api_storage_dropped_partitions",
            "Partitions dropped by retention or the disk budget",
            m.dropped_partitions.clone(),
        );
        registry.register(
            "api_storage_over_budget_partitions",
            "Partitions dropped to stay within STORAGE_MAX_BYTES",
            m.over_budget.clone(),
        );
        registry.register(
            "api_storage_deleted_rows",
            "Rows deleted by retention outside whole partitions",
            m.deleted_rows.clone(),
        );
        registry.register(
            "api_storage_legacy_rows",
            "Rows of the pre-tier sample tables converted after an upgrade",
            m.legacy_rows.clone(),
        );
        registry.register(
            "api_storage_bytes",
            "Data and index bytes of each storage table (table statistics)",
            m.bytes.clone(),
        );
        registry.register(
            "api_storage_errors",
            "Failed storage maintenance steps, by task (retried next time)",
            m.errors.clone(),
        );
        m
    }

    fn failed(&self, task: &'static str, e: &crate::Error) {
        self.errors.get_or_create(&TaskLabel { task }).inc();
        tracing::warn!(task, error = %e, "storage maintenance step failed; retrying later");
    }
}

/// Runs until `shutdown`: compaction, retention, legacy conversion.
pub async fn run(store: Store, settings: Settings, metrics: StorageMetrics, shutdown: Shutdown) {
    let mut legacy = store.has_legacy().await.unwrap_or(true);
    let mut next_sweep = tokio::time::Instant::now() + SWEEP_FIRST;
    let mut every = tokio::time::interval(settings.compact_every());
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            // the sweep's own time (the first comes SWEEP_FIRST after start, before a tick)
            () = tokio::time::sleep_until(next_sweep) => {}
            () = shutdown.wait() => return,
        }
        let started = Instant::now();
        let cutoff = Utc::now() - chrono::TimeDelta::from_std(settings.compact_after).unwrap_or_default();
        match store.compact(cutoff).await {
            Ok(pass) => {
                metrics.compacted.inc_by(pass.records);
                metrics.compaction_seconds.observe(started.elapsed().as_secs_f64());
                if pass.records > 0 {
                    tracing::debug!(?pass, took = ?started.elapsed(), "compacted");
                }
            }
            Err(e) => metrics.failed("compaction", &e),
        }
        if legacy {
            let until = Instant::now() + LEGACY_BUDGET;
            while Instant::now() < until && !shutdown.is_triggered() {
                match store.convert_legacy(LEGACY_HOSTS).await {
                    Ok(step) if step.done => {
                        legacy = false;
                        break;
                    }
                    Ok(step) => {
                        metrics.legacy_rows.inc_by(step.rows);
                    }
                    Err(e) => {
                        metrics.failed("legacy_conversion", &e);
                        break;
                    }
                }
            }
        }
        if tokio::time::Instant::now() >= next_sweep {
            next_sweep = tokio::time::Instant::now() + SWEEP_EVERY;
            sweep(&store, &settings.retention, &metrics).await;
            // windows of hosts that went quiet are sealed here (compaction seals the others)
            if let Err(e) = store.seal_stale(cutoff, 500).await {
                metrics.failed("seal", &e);
            }
        }
    }
}

/// One retention pass, and the size gauges.
pub async fn sweep(store: &Store, retention: &Retention, metrics: &StorageMetrics) {
    match store.sweep(retention, Utc::now()).await {
        Ok(swept) => {
            metrics.dropped_partitions.inc_by(swept.partitions_dropped.len() as u64);
            metrics.over_budget.inc_by(swept.over_budget.len() as u64);
            metrics.deleted_rows.inc_by(swept.rows_deleted);
            if !swept.partitions_dropped.is_empty() || swept.rows_deleted > 0 {
                tracing::info!(dropped = ?swept.partitions_dropped, deleted_rows = swept.rows_deleted, "retention applied");
            }
        }
        Err(e) => metrics.failed("retention", &e),
    }
    match store.storage_sizes().await {
        Ok(sizes) => {
            for (table, bytes) in sizes {
                metrics
                    .bytes
                    .get_or_create(&TableLabel { table })
                    .set(i64::try_from(bytes).unwrap_or(i64::MAX));
            }
        }
        Err(e) => metrics.failed("sizes", &e),
    }
}
