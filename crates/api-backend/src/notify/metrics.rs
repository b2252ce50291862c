//! What the notifier measures about itself (names prefixed `api_`): notifications sent, failed
//! and retried per target, dropped per reason, held back per reason, waiting per target.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// `target`: `slack` or `generic` (never the URL: it carries a secret).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetLabel {
    pub target: &'static str,
}

/// `reason` of a drop or a suppression.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

/// Drop reasons.
pub mod dropped {
    /// The queue between `publish` and the notifier was full.
    pub const QUEUE_FULL: &str = "queue_full";
    /// A target's delivery backlog was full (its receiver has been failing for long).
    pub const BACKLOG_FULL: &str = "backlog_full";
    /// Not delivered when the process stopped (or published after it stopped).
    pub const SHUTDOWN: &str = "shutdown";
}

/// The notifier's metrics; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct NotifyMetrics {
    /// `api_notifications_sent_total{target}`: delivered (2xx).
    pub sent: Family<TargetLabel, Counter>,
    /// `api_notifications_failed_total{target}`: given up on: refused (4xx other than 408/429)
    /// or still failing after the retry window.
    pub failed: Family<TargetLabel, Counter>,
    /// `api_notifications_retries_total{target}`: attempts after a failed one.
    pub retries: Family<TargetLabel, Counter>,
    /// `api_notifications_dropped_total{reason=queue_full|backlog_full|shutdown}`
    pub dropped: Family<ReasonLabel, Counter>,
    /// `api_notifications_suppressed_total{reason=cooldown|silenced}`
    pub suppressed: Family<ReasonLabel, Counter>,
    /// `api_notifications_pending{target}`: queued for or being retried to the target.
    pub pending: Family<TargetLabel, Gauge>,
}

impl NotifyMetrics {
    /// Creates the metrics and registers them in `registry`, every known label value at 0.
    pub fn register(registry: &mut Registry) -> Self {
        let m = NotifyMetrics::default();
        for target in ["slack", "generic"] {
            let t = TargetLabel { target };
            let _ = m.sent.get_or_create(&t);
            let _ = m.failed.get_or_create(&t);
            let _ = m.retries.get_or_create(&t);
            let _ = m.pending.get_or_create(&t);
        }
        for reason in [dropped::QUEUE_FULL, dropped::BACKLOG_FULL, dropped::SHUTDOWN] {
            let _ = m.dropped.get_or_create(&ReasonLabel { reason });
        }
        for reason in ["cooldown", "silenced"] {
            let _ = m.suppressed.get_or_create(&ReasonLabel { reason });
        }
        registry.register(
            "api_notifications_sent",
            "Alert notifications delivered, by target",
            m.sent.clone(),
        );
        registry.register(
            "api_notifications_failed",
            "Alert notifications given up on (refused by the receiver, or failing past the retry window), by target",
            m.failed.clone(),
        );
        registry.register(
            "api_notifications_retries",
            "Alert notification attempts after a failed one, by target",
            m.retries.clone(),
        );
        registry.register(
            "api_notifications_dropped",
            "Alert notifications dropped before delivery, by reason",
            m.dropped.clone(),
        );
        registry.register(
            "api_notifications_suppressed",
            "Alert notifications held back by the cooldown or a silence",
            m.suppressed.clone(),
        );
        registry.register(
            "api_notifications_pending",
            "Alert notifications queued for or being retried to a target",
            m.pending.clone(),
        );
        m
    }

    pub(crate) fn drop_one(&self, reason: &'static str) {
        self.dropped.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// The count of a `dropped` reason.
    pub fn dropped_count(&self, reason: &'static str) -> u64 {
        self.dropped.get_or_create(&ReasonLabel { reason }).get()
    }

    /// The count of a `suppressed` reason.
    pub fn suppressed_count(&self, reason: &'static str) -> u64 {
        self.suppressed.get_or_create(&ReasonLabel { reason }).get()
    }

    /// A per-target counter's value, e.g. `m.count(&m.sent, "slack")`.
    pub fn count(&self, family: &Family<TargetLabel, Counter>, target: &'static str) -> u64 {
        family.get_or_create(&TargetLabel { target }).get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_and_zero_series() {
        let mut registry = Registry::default();
        let m = NotifyMetrics::register(&mut registry);
        m.sent.get_or_create(&TargetLabel { target: "slack" }).inc();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "api_notifications_sent_total{target=\"slack\"} 1",
            "api_notifications_sent_total{target=\"generic\"} 0",
            "api_notifications_failed_total{target=\"slack\"} 0",
            "api_notifications_retries_total{target=\"generic\"} 0",
            "api_notifications_dropped_total{reason=\"queue_full\"} 0",
            "api_notifications_dropped_total{reason=\"backlog_full\"} 0",
            "api_notifications_dropped_total{reason=\"shutdown\"} 0",
            "api_notifications_suppressed_total{reason=\"cooldown\"} 0",
            "api_notifications_suppressed_total{reason=\"silenced\"} 0",
            "api_notifications_pending{target=\"slack\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
