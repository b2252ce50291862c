//! The lifecycle of threshold alerts: the pure transition of one key given one measured value,
//! and the open alerts of one machine (per rule, per subject) it is applied to.
//!
//! inactive ─(beyond raise)→ pending ─(still beyond raise, for-duration passed)→ firing
//! ─(beyond clear)→ resolved. Pending ─(not beyond raise)→ cancelled. With a for-duration of 0,
//! inactive ─(beyond raise)→ firing. Between clear and raise a firing alert stays firing.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::event::{ActiveAlert, AlertEvent, AlertKey, AlertState, MachineRef};
use super::rules::Rule;

/// What one measured value does to one alert key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    /// Nothing open and nothing to open.
    Nothing,
    /// Open a new incident in this state (`pending`, or `firing` without a for-duration).
    Open(AlertState),
    /// The open incident stays as it is.
    Stay,
    /// The pending incident starts firing.
    Fire,
    /// The open incident ends (`resolved` from firing, `cancelled` from pending).
    Close(AlertState),
}

/// The transition for `value` sampled at `at`, given the open incident's state and opening time.
pub(crate) fn transition(
    rule: &Rule,
    open: Option<(AlertState, DateTime<Utc>)>,
    value: f64,
    at: DateTime<Utc>,
) -> Transition {
    match open {
        None if rule.raises(value) && rule.for_secs == 0 => Transition::Open(AlertState::Firing),
        None if rule.raises(value) => Transition::Open(AlertState::Pending),
        None => Transition::Nothing,
        Some((AlertState::Pending, since)) if rule.raises(value) => {
            if rule.for_duration_met(at - since) {
                Transition::Fire
            } else {
                Transition::Stay
            }
        }
        Some((AlertState::Pending, _)) => Transition::Close(AlertState::Cancelled),
        Some(_) if rule.clears(value) => Transition::Close(AlertState::Resolved),
        Some(_) => Transition::Stay,
    }
}

/// The open threshold alerts of one machine: rule id → one entry per subject (usually one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct OpenThresholds(HashMap<u64, Vec<ActiveAlert>>);

impl OpenThresholds {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &ActiveAlert> {
        self.0.values().flatten()
    }

    fn find(&self, rule_id: u64, subject: &str) -> Option<(AlertState, DateTime<Utc>)> {
        let list = self.0.get(&rule_id)?;
        list.iter()
            .find(|a| a.key.subject == subject)
            .map(|a| (a.state, a.since))
    }

    /// Applies one measured value of `rule` for `subject` on `machine`, pushing the event of any
    /// state change. Allocates only when an incident opens or changes state.
    pub fn evaluate(
        &mut self,
        rule: &Rule,
        machine: MachineRef<'_>,
        subject: &str,
        value: f64,
        at: DateTime<Utc>,
        out: &mut Vec<AlertEvent>,
    ) {
        let open = self.find(rule.id, subject);
        let step = transition(rule, open, value, at);
        if step == Transition::Nothing {
            return;
        }
        if let Transition::Open(state) = step {
            let key = AlertKey::threshold(rule.id, machine.id, subject);
            let mut a = ActiveAlert::open(key, machine, state, rule.severity, at);
            a.metric = Some(rule.metric);
            a.direction = Some(rule.direction);
            a.threshold = Some(rule.raise);
            a.value = Some(value);
            out.push(a.event(state, at, Some(value)));
            self.0.entry(rule.id).or_default().push(a);
            return;
        }
        let list = self.0.get_mut(&rule.id).expect("an open incident was found");
        let i = list.iter().position(|a| a.key.subject == subject).expect("found above");
        let a = &mut list[i];
        // Rules may be edited while an alert is open: report their current values.
        a.severity = rule.severity;
        a.threshold = Some(rule.raise);
        a.value = Some(value);
        match step {
            Transition::Fire => {
                a.state = AlertState::Firing;
                a.firing_since = Some(at);
                out.push(a.event(AlertState::Firing, at, Some(value)));
            }
            Transition::Close(state) => {
                out.push(a.event(state, at, Some(value)));
                list.swap_remove(i);
                if list.is_empty() {
                    self.0.remove(&rule.id);
                }
            }
            Transition::Nothing | Transition::Open(_) | Transition::Stay => {}
        }
    }

    /// Ends every open alert `keep` refuses (firing → `resolved`, pending → `cancelled`) at `at`
    /// (never before the alert opened), without a value. Events come in key order.
    pub fn close_unless(
        &mut self,
        mut keep: impl FnMut(&ActiveAlert) -> bool,
        at: DateTime<Utc>,
        out: &mut Vec<AlertEvent>,
    ) {
        let mut closed = Vec::new();
        self.0.retain(|_, list| {
            list.retain(|a| {
                let k = keep(a);
                if !k {
                    closed.push(a.event(closing_state(a.state), at.max(a.since), None));
                }
                k
            });
            !list.is_empty()
        });
        closed.sort_by(|a, b| a.key.cmp(&b.key));
        out.extend(closed);
    }
}

impl OpenThresholds {
    /// Sets the open alert of its rule and subject (from a stored event), or with `None`
    /// removes the one of `rule_id` and `subject`.
    pub fn put(&mut self, rule_id: u64, subject: &str, alert: Option<ActiveAlert>) {
        let list = self.0.entry(rule_id).or_default();
        list.retain(|a| a.key.subject != subject);
        list.extend(alert);
        if list.is_empty() {
            self.0.remove(&rule_id);
        }
    }
}

/// How an open alert ends when its cause goes away: firing → resolved, pending → cancelled.
pub(crate) fn closing_state(open: AlertState) -> AlertState {
    if open == AlertState::Pending {
        AlertState::Cancelled
    } else {
        AlertState::Resolved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Direction, Metric, Scope, Severity};

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn rule(direction: Direction, raise: f64, clear: f64, for_secs: u32) -> Rule {
        Rule {
            id: 1,
            metric: Metric::HostCpuPercent,
            direction,
            raise,
            clear,
            for_secs,
            severity: Severity::Warning,
            scope: Scope::AllHosts,
            enabled: true,
        }
    }

    #[test]
    fn pending_fires_once_the_for_duration_has_passed_on_sample_time() {
        let r = rule(Direction::Above, 85.0, 75.0, 30);
        use AlertState::*;
        assert_eq!(transition(&r, None, 90.0, t(0)), Transition::Open(Pending));
        assert_eq!(transition(&r, Some((Pending, t(0))), 90.0, t(29)), Transition::Stay);
        assert_eq!(transition(&r, Some((Pending, t(0))), 90.0, t(30)), Transition::Fire);
        let jittered = t(30) - chrono::TimeDelta::milliseconds(1);
        assert_eq!(
            transition(&r, Some((Pending, t(0))), 90.0, jittered),
            Transition::Fire,
            "ticks 1 ms early still count"
        );
        assert_eq!(
            transition(&r, Some((Pending, t(0))), 80.0, t(10)),
            Transition::Close(Cancelled)
        );
        assert_eq!(transition(&r, Some((Firing, t(0))), 80.0, t(40)), Transition::Stay);
        assert_eq!(transition(&r, Some((Firing, t(0))), 75.0, t(40)), Transition::Stay);
        assert_eq!(
            transition(&r, Some((Firing, t(0))), 74.0, t(40)),
            Transition::Close(Resolved)
        );
        assert_eq!(transition(&r, None, 85.0, t(0)), Transition::Nothing);
    }

    #[test]
    fn below_rules_mirror_above_rules_and_zero_for_fires_at_once() {
        let r = rule(Direction::Below, 5.0, 10.0, 0);
        use AlertState::*;
        assert_eq!(transition(&r, None, 4.0, t(0)), Transition::Open(Firing));
        assert_eq!(transition(&r, None, 5.0, t(0)), Transition::Nothing);
        assert_eq!(transition(&r, Some((Firing, t(0))), 10.0, t(1)), Transition::Stay);
        assert_eq!(
            transition(&r, Some((Firing, t(0))), 10.5, t(1)),
            Transition::Close(Resolved)
        );
    }
}
