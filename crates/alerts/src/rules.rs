//! Threshold rules: which metric to watch, in which direction, the raise and clear values
//! (hysteresis), how long a breach must last, how bad it is, and where it applies.
//!
//! JSON (also the REST body, less the id: [`RuleInput`], and [`RuleBody`] for the
//! per-metric endpoints; every name is stable):
//! ```json
//! {"id": 7, "metric": "host.cpu_percent", "direction": "above", "raise": 85.0, "clear": 75.0,
//!  "for_secs": 60, "severity": "warning", "scope": {"kind": "all_hosts"}, "enabled": true}
//! ```

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use super::metric::{MachineKind, Metric};
use super::scope::Scope;

/// How much shorter than the for-duration a breach may look on sample times and still count:
/// half of the default 1 s tick, so timestamps jittering around the tick never cost a tick.
pub const FOR_DURATION_SLACK: TimeDelta = TimeDelta::milliseconds(500);

/// Whether a rule watches for values above or below its raise value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Above,
    Below,
}

impl Direction {
    /// `above` or `below`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Above => "above",
            Direction::Below => "below",
        }
    }

    /// Whether `value` is strictly beyond `limit` in this direction.
    pub fn beyond(self, value: f64, limit: f64) -> bool {
        match self {
            Direction::Above => value > limit,
            Direction::Below => value < limit,
        }
    }
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    /// `info`, `warning` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One threshold rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rule {
    /// Chosen by storage; identifies the rule's alerts across edits.
    pub id: u64,
    pub metric: Metric,
    pub direction: Direction,
    /// A value strictly beyond this (in `direction`) breaches the rule.
    pub raise: f64,
    /// A firing alert resolves once a value is strictly beyond this the other way (`above`:
    /// value < clear; `below`: value > clear). Values between clear and raise keep it as it is.
    pub clear: f64,
    /// How long (sample time) a breach must last before the alert fires; 0 fires at once.
    #[serde(default)]
    pub for_secs: u32,
    pub severity: Severity,
    pub scope: Scope,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// Why a rule (or a scope) is not acceptable; the message is a sentence for the API caller.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    #[error("the {field} value must be a finite number, not {value}")]
    NotFinite { field: &'static str, value: f64 },
    #[error(
        "the clear value {clear} is above the raise value {raise}: a rule on values above a limit \
         must clear at or below it"
    )]
    ClearAboveRaise { raise: f64, clear: f64 },
    #[error(
        "the clear value {clear} is below the raise value {raise}: a rule on values below a limit \
         must clear at or above it"
    )]
    ClearBelowRaise { raise: f64, clear: f64 },
    #[error("the scope {scope} cannot apply to {metric}, which is measured on {kind}s")]
    ScopeMismatch {
        scope: &'static str,
        metric: Metric,
        kind: MachineKind,
    },
    #[error("the scope {scope} needs a non-empty {what}")]
    EmptyScope { scope: &'static str, what: &'static str },
    #[error("the scope's {what} must be at most {max} bytes")]
    ScopeTooLong { what: &'static str, max: usize },
    #[error("unknown scope kind {0:?}; known: all_hosts, all_containers, machine, container_name")]
    UnknownScope(String),
}

impl Rule {
    /// Checks the rule: finite values, a clear value on the right side of the raise value, and a
    /// scope that fits the metric's kind of machine. The first problem found is returned.
    pub fn validate(&self) -> Result<(), RuleError> {
        for (field, value) in [("raise", self.raise), ("clear", self.clear)] {
            if !value.is_finite() {
                return Err(RuleError::NotFinite { field, value });
            }
        }
        let (raise, clear) = (self.raise, self.clear);
        match self.direction {
            Direction::Above if clear > raise => return Err(RuleError::ClearAboveRaise { raise, clear }),
            Direction::Below if clear < raise => return Err(RuleError::ClearBelowRaise { raise, clear }),
            _ => {}
        }
        let kind = self.metric.machine_kind();
        if !self.scope.applies_to(kind) {
            return Err(RuleError::ScopeMismatch {
                scope: self.scope.kind(),
                metric: self.metric,
                kind,
            });
        }
        self.scope.check_not_empty()
    }

    /// [`Rule::for_secs`] as a duration.
    pub fn for_duration(&self) -> TimeDelta {
        TimeDelta::seconds(i64::from(self.for_secs))
    }

    /// Whether a breach seen on samples `elapsed` apart has lasted the for-duration. Sample
    /// times jitter by some milliseconds around the collector's tick, so three 1 s ticks can be
    /// 2.999 s apart: the breach counts once it is within [`FOR_DURATION_SLACK`] of the duration.
    pub fn for_duration_met(&self, elapsed: TimeDelta) -> bool {
        elapsed + FOR_DURATION_SLACK >= self.for_duration()
    }

    /// Whether `value` breaches the rule (strictly beyond the raise value).
    pub fn raises(&self, value: f64) -> bool {
        self.direction.beyond(value, self.raise)
    }

    /// Whether `value` ends a firing alert (strictly back beyond the clear value).
    pub fn clears(&self, value: f64) -> bool {
        match self.direction {
            Direction::Above => value < self.clear,
            Direction::Below => value > self.clear,
        }
    }
}

/// Body of `PUT /api/v1/thresholds/{metric}` and `.../machines/{machine_id}`: a rule without
/// metric and scope. `clear` defaults to `raise` (no hysteresis).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    #[serde(default = "above")]
    pub direction: Direction,
    pub raise: f64,
    #[serde(default)]
    pub clear: Option<f64>,
    #[serde(default)]
    pub for_secs: u32,
    #[serde(default = "warning")]
    pub severity: Severity,
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// Body of `POST /api/v1/thresholds/rules` and `PUT /api/v1/thresholds/rules/{id}`: a whole
/// rule without its id.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub metric: Metric,
    pub scope: Scope,
    #[serde(default = "above")]
    pub direction: Direction,
    pub raise: f64,
    #[serde(default)]
    pub clear: Option<f64>,
    #[serde(default)]
    pub for_secs: u32,
    #[serde(default = "warning")]
    pub severity: Severity,
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl RuleInput {
    /// The rule (id 0 until stored).
    pub fn into_rule(self) -> Rule {
        let body = RuleBody {
            direction: self.direction,
            raise: self.raise,
            clear: self.clear,
            for_secs: self.for_secs,
            severity: self.severity,
            enabled: self.enabled,
        };
        body.into_rule(self.metric, self.scope)
    }
}

fn above() -> Direction {
    Direction::Above
}

fn warning() -> Severity {
    Severity::Warning
}

fn yes() -> bool {
    true
}

impl RuleBody {
    /// The rule these settings make for `metric` over `scope` (id 0 until stored).
    pub fn into_rule(self, metric: Metric, scope: Scope) -> Rule {
        Rule {
            id: 0,
            metric,
            direction: self.direction,
            raise: self.raise,
            clear: self.clear.unwrap_or(self.raise),
            for_secs: self.for_secs,
            severity: self.severity,
            scope,
            enabled: self.enabled,
        }
    }
}

/// The scope of a metric's global rule.
pub fn global_scope(metric: Metric) -> Scope {
    match metric.machine_kind() {
        crate::MachineKind::Host => Scope::AllHosts,
        crate::MachineKind::Container => Scope::AllContainers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> Rule {
        Rule {
            id: 1,
            metric: Metric::HostCpuPercent,
            direction: Direction::Above,
            raise: 85.0,
            clear: 75.0,
            for_secs: 0,
            severity: Severity::Warning,
            scope: Scope::AllHosts,
            enabled: true,
        }
    }

    #[test]
    fn a_sound_rule_validates_including_clear_equal_to_raise() {
        assert_eq!(rule().validate(), Ok(()));
        let same = Rule { clear: 85.0, ..rule() };
        assert_eq!(same.validate(), Ok(()));
        let below = Rule {
            direction: Direction::Below,
            raise: 5.0,
            clear: 10.0,
            ..rule()
        };
        assert_eq!(below.validate(), Ok(()));
    }

    #[test]
    fn clear_on_the_wrong_side_is_refused_with_a_sentence() {
        let err = Rule { clear: 90.0, ..rule() }.validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "the clear value 90 is above the raise value 85: a rule on values above a limit must clear at or below it"
        );
        let err = Rule {
            direction: Direction::Below,
            raise: 10.0,
            clear: 5.0,
            ..rule()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the clear value 5 is below the raise value 10: a rule on values below a limit must clear at or above it"
        );
    }

    #[test]
    fn non_finite_values_and_misfit_scopes_are_refused() {
        let err = Rule {
            raise: f64::NAN,
            ..rule()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.to_string(), "the raise value must be a finite number, not NaN");
        let err = Rule {
            scope: Scope::AllContainers,
            ..rule()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the scope all_containers cannot apply to host.cpu_percent, which is measured on hosts"
        );
        let err = Rule {
            metric: Metric::ContainerCpuPercent,
            scope: Scope::AllHosts,
            ..rule()
        }
        .validate()
        .unwrap_err();
        assert!(matches!(err, RuleError::ScopeMismatch { .. }), "{err}");
        let err = Rule {
            scope: Scope::Machine { id: String::new() },
            ..rule()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.to_string(), "the scope machine needs a non-empty machine id");
        let err = Rule {
            metric: Metric::ContainerMemPercent,
            scope: Scope::ContainerName { pattern: String::new() },
            ..rule()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the scope container_name needs a non-empty name pattern"
        );
    }

    #[test]
    fn raise_and_clear_are_strict_and_the_band_between_holds() {
        let r = rule();
        assert!(r.raises(85.1) && !r.raises(85.0));
        assert!(r.clears(74.9) && !r.clears(75.0));
        let b = Rule {
            direction: Direction::Below,
            raise: 5.0,
            clear: 10.0,
            ..rule()
        };
        assert!(b.raises(4.9) && !b.raises(5.0));
        assert!(b.clears(10.1) && !b.clears(10.0));
    }

    #[test]
    fn json_names_are_stable_snake_case() {
        let json = serde_json::to_value(Rule { for_secs: 60, ..rule() }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"id": 1, "metric": "host.cpu_percent", "direction": "above", "raise": 85.0,
                "clear": 75.0, "for_secs": 60, "severity": "warning", "scope": {"kind": "all_hosts"}, "enabled": true})
        );
        let minimal: Rule = serde_json::from_value(serde_json::json!({"id": 2, "metric": "container.mem_percent",
            "direction": "below", "raise": 1, "clear": 2, "severity": "critical",
            "scope": {"kind": "container_name", "pattern": "db-*"}}))
        .unwrap();
        assert_eq!(minimal.for_secs, 0);
        assert!(minimal.enabled);
        assert_eq!(minimal.severity, Severity::Critical);
    }

    #[test]
    fn a_body_defaults_to_an_enabled_warning_above_without_hysteresis() {
        let body: RuleBody = serde_json::from_str(r#"{"raise": 90}"#).unwrap();
        let rule = body.into_rule(Metric::HostCpuPercent, Scope::AllHosts);
        assert_eq!(
            (
                rule.direction,
                rule.raise,
                rule.clear,
                rule.for_secs,
                rule.severity,
                rule.enabled
            ),
            (Direction::Above, 90.0, 90.0, 0, Severity::Warning, true)
        );
        assert!(serde_json::from_str::<RuleBody>(r#"{"raise": 1, "colour": "red"}"#).is_err());
    }

    #[test]
    fn an_input_carries_metric_and_scope() {
        let input: RuleInput = serde_json::from_str(
            r#"{"metric": "container.cpu_percent", "scope": {"kind": "container_name", "pattern": "web-*"},
                "direction": "above", "raise": 80, "clear": 70, "for_secs": 30, "severity": "critical"}"#,
        )
        .unwrap();
        let rule = input.into_rule();
        assert_eq!(
            rule.scope,
            Scope::ContainerName {
                pattern: "web-*".into()
            }
        );
        assert_eq!(
            (rule.clear, rule.for_secs, rule.severity),
            (70.0, 30, Severity::Critical)
        );
        assert_eq!(global_scope(Metric::ContainerMemUsedBytes), Scope::AllContainers);
        assert_eq!(global_scope(Metric::HostTemperatureC), Scope::AllHosts);
    }

    /// Found by the `rule_json` fuzz target: without serde_json's exact float parsing a stored
    /// rule's clear value read back as a neighbouring number.
    #[test]
    fn a_stored_rule_reads_back_exactly() {
        let input: RuleInput = serde_json::from_str(
            r#"{"metric": "host.cpu_percent", "scope": {"kind": "all_hosts"}, "direction": "below", "raise": 45, "clear": 2.2222222222222625e24}"#,
        )
        .unwrap();
        let rule = input.into_rule();
        let back: Rule = serde_json::from_str(&serde_json::to_string(&rule).unwrap()).unwrap();
        assert_eq!(back, rule);
    }
}
