//! The fixed tick: one record per COLLECT_INTERVAL, on a grid that does not drift.
//!
//! A tick whose sampling overruns the interval makes the ticker skip the missed slots (counted in
//! `collector_ticks_skipped_total`) instead of firing them back to back.

use std::time::Duration;

use chrono::Utc;
use common::shutdown::Shutdown;
use common::Record;
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::docker::events::Notice;
use crate::docker::DockerSampler;
use crate::host::{HostSampler, Roots};
use crate::metrics::Metrics;
use crate::producer::OnFull;
use crate::sink::Sink;

/// Share of the interval the Docker calls of one tick may use, leaving room to build and queue
/// the record before the next tick.
const DOCKER_BUDGET: f64 = 0.8;

/// A tokio interval with [`MissedTickBehavior::Skip`] that reports how many ticks it skipped.
pub struct Ticker {
    interval: Interval,
    period: Duration,
    last: Option<Instant>,
}

impl Ticker {
    pub fn new(period: Duration) -> Self {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        Ticker {
            interval,
            period,
            last: None,
        }
    }

    /// Waits for the next slot; returns its scheduled time and the number of slots skipped since
    /// the previous one. The first tick fires at once.
    pub async fn tick(&mut self) -> (Instant, u64) {
        let at = self.interval.tick().await;
        let skipped = self.last.map_or(0, |last| {
            let slots = (at - last).as_secs_f64() / self.period.as_secs_f64();
            (slots.round() as u64).saturating_sub(1)
        });
        self.last = Some(at);
        (at, skipped)
    }
}

/// Everything one collector loop needs.
pub struct Collector {
    pub host_id: String,
    pub host_name: String,
    pub interval: Duration,
    pub roots: Roots,
    pub docker: Option<DockerSampler>,
    pub notices: Option<mpsc::Receiver<Notice>>,
    pub sink: Sink,
    pub metrics: Metrics,
}

impl Collector {
    /// Ticks until shutdown. Flushing the sink is the caller's job.
    pub async fn run(mut self, shutdown: Shutdown) {
        let mut ticker = Ticker::new(self.interval);
        let mut host = Some(HostSampler::new(self.roots.clone()));
        let mut host_cores = std::thread::available_parallelism().ok().map(|n| n.get() as u32);
        let mut last_invalid_warning: Option<std::time::Instant> = None;
        loop {
            let (at, skipped) = tokio::select! {
                biased;
                _ = shutdown.wait() => break,
                t = ticker.tick() => t,
            };
            if skipped > 0 {
                self.metrics.ticks_skipped.inc_by(skipped);
                tracing::debug!(skipped, "the previous tick overran the interval; skipped ticks");
            }
            let started = std::time::Instant::now();
            let record = self.tick(at, &mut host, &mut host_cores).await;
            if let Err(e) = common::validate::validate(&record, Utc::now()) {
                // A bug or a very odd host: send it anyway (the consumer dead-letters it), but say so.
                if last_invalid_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(600)) {
                    tracing::warn!(error = %e, "this host's record does not validate (logged every 10 min at most)");
                    last_invalid_warning = Some(std::time::Instant::now());
                }
            }
            self.sink.send(&record, OnFull::Drop, &shutdown).await;
            self.metrics.ticks.inc();
            self.metrics.tick_duration.observe(started.elapsed().as_secs_f64());
            self.metrics
                .last_tick_timestamp
                .set(Utc::now().timestamp_millis() as f64 / 1000.0);
        }
    }

    /// Samples the host and its containers for the tick scheduled at `at`.
    async fn tick(&mut self, at: Instant, host: &mut Option<HostSampler>, host_cores: &mut Option<u32>) -> Record {
        let sampled_at = common::timefmt::truncate_millis(Utc::now());
        let mut events = Vec::new();
        if let Some(rx) = self.notices.as_mut() {
            while let Ok(notice) = rx.try_recv() {
                if let Some(d) = self.docker.as_mut() {
                    d.apply(&notice);
                }
                events.extend(notice.event);
            }
        }
        let deadline = at + self.interval.mul_f64(DOCKER_BUDGET);
        let mut sampler = host.take().unwrap_or_else(|| HostSampler::new(self.roots.clone()));
        let host_task = tokio::task::spawn_blocking(move || {
            let sample = sampler.sample();
            (sampler, sample)
        });
        let cores = *host_cores;
        let containers = async {
            match self.docker.as_mut() {
                Some(d) => d.sample(cores, deadline).await,
                None => Vec::new(),
            }
        };
        let (host_result, containers) = tokio::join!(host_task, containers);
        if let Some(d) = self.docker.as_mut() {
            events.extend(d.take_events());
        }
        let host_sample = match host_result {
            Ok((sampler, sample)) => {
                *host = Some(sampler);
                sample
            }
            Err(e) => {
                tracing::error!(error = %e, "host sampling failed; starting afresh next tick");
                Default::default()
            }
        };
        if host_sample.cpu_cores.is_some() {
            *host_cores = host_sample.cpu_cores;
        }
        Record {
            schema: common::wire::SCHEMA_VERSION,
            record_id: Record::new_id(),
            host_id: self.host_id.clone(),
            host_name: self.host_name.clone(),
            sampled_at,
            interval_ms: self.interval.as_millis().max(1) as u64,
            host: host_sample,
            containers,
            events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ticks_on_a_fixed_grid_and_counts_skips() {
        let period = Duration::from_secs(1);
        let mut t = Ticker::new(period);
        let (t0, s0) = t.tick().await;
        assert_eq!(s0, 0);
        let (t1, s1) = t.tick().await;
        assert_eq!((t1 - t0, s1), (period, 0));
        // This tick's work overruns by 2.5 intervals (until t0 + 3.5 s): the slot due at t0 + 2 s
        // fires once, late; the one at t0 + 3 s is skipped, not replayed; the grid is kept.
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        let (t2, s2) = t.tick().await;
        assert_eq!((t2 - t0, s2), (Duration::from_secs(2), 0));
        let (t3, s3) = t.tick().await;
        assert_eq!((t3 - t0, s3), (Duration::from_secs(4), 1));
        assert_eq!(tokio::time::Instant::now() - t0, Duration::from_secs(4));
        let (t4, s4) = t.tick().await;
        assert_eq!((t4 - t3, s4), (period, 0));
    }

    fn collector(notices: Option<mpsc::Receiver<Notice>>) -> Collector {
        let (metrics, _) = Metrics::new();
        Collector {
            host_id: "h1".into(),
            host_name: "box".into(),
            interval: Duration::from_millis(1000),
            roots: Roots::default(),
            docker: None,
            notices,
            sink: Sink::Memory(metrics.clone(), Default::default()),
            metrics,
        }
    }

    #[tokio::test]
    async fn first_record_has_no_rates_the_next_one_has() {
        let mut c = collector(None);
        let (mut host, mut cores) = (None, None);
        let r1 = c.tick(Instant::now(), &mut host, &mut cores).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let r2 = c.tick(Instant::now(), &mut host, &mut cores).await;
        let now = Utc::now();
        common::validate::validate(&r1, now).unwrap();
        common::validate::validate(&r2, now).unwrap();
        assert!(r1.host.mem_total_bytes.is_some() && r1.host.cpu_cores.is_some());
        assert_eq!((r1.host.cpu_percent, r1.host.net_rx_bytes_per_sec), (None, None));
        assert!(r2.host.cpu_percent.is_some());
        assert_ne!(r1.record_id, r2.record_id);
        assert_eq!((r1.host_id.as_str(), r1.interval_ms), ("h1", 1000));
        assert_eq!(r1.sampled_at.timestamp_subsec_nanos() % 1_000_000, 0);
        assert!(r1.containers.is_empty());
    }

    #[tokio::test]
    async fn docker_events_go_into_the_next_record_once() {
        let (tx, rx) = mpsc::channel(8);
        let mut c = collector(Some(rx));
        let event = common::Event {
            kind: common::EventKind::ContainerDied,
            container_id: "c1".into(),
            name: "web".into(),
            exit_code: Some(1),
            at: common::timefmt::truncate_millis(Utc::now()),
        };
        let notice = Notice {
            health_unknown_at: None,
            container_id: "c1".into(),
            event: Some(event.clone()),
            reinspect: true,
            removed: false,
        };
        tx.send(notice).await.unwrap();
        let (mut host, mut cores) = (None, None);
        let r1 = c.tick(Instant::now(), &mut host, &mut cores).await;
        let r2 = c.tick(Instant::now(), &mut host, &mut cores).await;
        assert_eq!(r1.events, vec![event]);
        assert!(r2.events.is_empty());
    }
}
