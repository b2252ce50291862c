//! The alert engine: a deterministic state machine from (rules, state, record or tick, now) to
//! (events, new state). No I/O, no clock: the caller passes `now`, stores the events, and
//! persists [`Engine::snapshot`] when it wants restarts to neither re-fire nor forget alerts.
//!
//! Per record (records of one host in order; an older or equally old record of a host changes
//! nothing at all): its Docker events dated up to the sample time, in record order; then each
//! container sample (re-creation, health, the container's threshold rules); then the Docker
//! events dated after the sample time; then the host's threshold rules; then the zero-value
//! check. Events come out in that order, rules in [`RuleSet`] order. A value that was not
//! measured changes nothing.
//!
//! Cost per record: one hash lookup per host and per container, the rules that apply (see
//! [`RuleSet`]), and allocation only for events.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use common::wire::Record;

use super::builtin::{self, EngineConfig};
use super::event::{ActiveAlert, AlertEvent, MachineRef};
use super::extract;
use super::metric::{MachineKind, Metric};
use super::rules::Rule;
use super::ruleset::RuleSet;
use super::state::{ContainerState, EngineState, HostState};

/// The alert engine. Every change takes `&mut self`: share it behind the caller's lock.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    config: EngineConfig,
    state: EngineState,
}

impl Engine {
    /// An engine that knows nothing yet.
    pub fn new(config: EngineConfig) -> Self {
        Engine {
            config,
            state: EngineState::default(),
        }
    }

    /// An engine that continues from a [`snapshot`](Engine::snapshot): the same open alerts,
    /// the same incidents, the same next events as the engine the snapshot was taken from.
    pub fn restore(config: EngineConfig, state: EngineState) -> Self {
        Engine { config, state }
    }

    /// Applies stored events the restored state does not include yet (those stored after the
    /// state's last save), in id order; see [`EngineState::apply`].
    pub fn catch_up<'a>(&mut self, events: impl IntoIterator<Item = &'a AlertEvent>) {
        for ev in events {
            self.state.apply(ev);
        }
    }

    /// Everything the engine knows, for persisting (serde).
    pub fn snapshot(&self) -> EngineState {
        self.state.clone()
    }

    /// The sample time of the newest record evaluated for `host`, if any.
    pub fn last_sampled(&self, host: &str) -> Option<DateTime<Utc>> {
        self.state.hosts.get(host).map(|h| h.last_sampled_at)
    }

    /// The longest stale window of the hosts it knows (at least the configured minimum): how
    /// long hosts need to show they still report.
    pub fn longest_stale_window(&self) -> chrono::TimeDelta {
        self.state
            .hosts
            .values()
            .map(|h| self.config.stale_after(h.interval_ms))
            .max()
            .unwrap_or(self.config.stale_min)
            .max(self.config.stale_min)
    }

    /// The settings it was made with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Adopts a new rule set: every open threshold alert whose rule was deleted, disabled, or
    /// changed its metric, direction or scope so that it no longer covers the machine ends now
    /// (firing → `resolved`, pending → `cancelled`, without a value). Alerts of rules whose values
    /// or severity changed stay open and are judged by the new values from the next sample on.
    /// [`Engine::observe`] does the same by itself when handed a rule set with another
    /// [fingerprint](RuleSet::fingerprint), so forgetting this call loses nothing.
    pub fn set_rules(&mut self, rules: &RuleSet, now: DateTime<Utc>) -> Vec<AlertEvent> {
        let mut out = Vec::new();
        self.reconcile(rules, now, &mut out);
        out
    }

    /// Evaluates one newly stored record against `rules`. `now` dates only the events of a rule
    /// change noticed here; everything else is dated by the record's sample and event times.
    pub fn observe(&mut self, rules: &RuleSet, record: &Record, now: DateTime<Utc>) -> Vec<AlertEvent> {
        let mut out = Vec::new();
        if self.state.rules_fingerprint != Some(rules.fingerprint()) {
            self.reconcile(rules, now, &mut out);
        }
        let EngineState { hosts, containers, .. } = &mut self.state;
        let at = record.sampled_at;
        let host = match hosts.get_mut(&record.host_id) {
            Some(host) if host.last_sampled_at >= at => return out,
            Some(host) => host,
            None => hosts
                .entry(record.host_id.clone())
                .or_insert_with(|| HostState::new(&record.host_name, at, record.interval_ms)),
        };
        host.last_sampled_at = at;
        host.interval_ms = record.interval_ms;
        if host.name != record.host_name {
            host.name.clone_from(&record.host_name);
        }

        // Chronologically: the Docker events up to the sample time, the samples, the later events.
        for ev in record.events.iter().filter(|ev| ev.at <= at) {
            builtin::container_event(containers, &record.host_id, ev, &mut out);
        }
        for c in &record.containers {
            let machine = MachineRef {
                kind: MachineKind::Container,
                id: &c.id,
                name: &c.name,
                host_id: Some(&record.host_id),
            };
            builtin::container_sample(host, containers, machine, c, at, &mut out);
            if c.state != "running" {
                end_resource_alerts(containers, &c.id, at, &mut out);
                continue;
            }
            for rule in rules.for_container(&c.id, &c.name) {
                if let Some(value) = extract::container_value(rule.metric, c) {
                    evaluate_container(containers, rule, machine, value, at, &mut out);
                }
            }
        }
        for ev in record.events.iter().filter(|ev| ev.at > at) {
            builtin::container_event(containers, &record.host_id, ev, &mut out);
        }

        let machine = MachineRef {
            kind: MachineKind::Host,
            id: &record.host_id,
            name: &record.host_name,
            host_id: None,
        };
        for rule in rules.for_host(&record.host_id) {
            extract::host_values(rule.metric, &record.host, |subject, value| {
                host.thresholds.evaluate(rule, machine, subject, value, at, &mut out)
            });
        }
        builtin::zero_value(host, machine, &record.host, at, &mut out);
        out
    }

    /// Opens `stale` alerts of silent hosts and resolves those of hosts whose records resumed;
    /// call it periodically (every second or so). Events come in host id order. After a restart,
    /// give hosts one stale window to report before the first call, or every host that was
    /// silent while the backend was down goes stale at once.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<AlertEvent> {
        let mut out = Vec::new();
        for (id, host) in &mut self.state.hosts {
            builtin::check_stale(&self.config, id, host, now, &mut out);
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// The open (pending and firing) alerts, oldest first.
    pub fn active(&self) -> Vec<ActiveAlert> {
        let hosts = self.state.hosts.values().flat_map(HostState::open);
        let containers = self.state.containers.values().flat_map(ContainerState::open);
        let mut all: Vec<ActiveAlert> = hosts.chain(containers).cloned().collect();
        all.sort_by(|a, b| (a.since, &a.key).cmp(&(b.since, &b.key)));
        all
    }

    fn reconcile(&mut self, rules: &RuleSet, now: DateTime<Utc>, out: &mut Vec<AlertEvent>) {
        let keep = |a: &ActiveAlert| {
            let Some(rule) = a.key.rule_id.and_then(|id| rules.get(id)) else {
                return false;
            };
            rule.enabled
                && a.metric == Some(rule.metric)
                && a.direction == Some(rule.direction)
                && rule.scope.matches(a.machine_kind, &a.key.machine_id, &a.machine_name)
        };
        let mut closed = Vec::new();
        for host in self.state.hosts.values_mut() {
            host.thresholds.close_unless(keep, now, &mut closed);
        }
        self.state.containers.retain(|_, c| {
            c.thresholds.close_unless(keep, now, &mut closed);
            !c.is_empty()
        });
        closed.sort_by(|a, b| a.key.cmp(&b.key));
        out.extend(closed);
        self.state.rules_fingerprint = Some(rules.fingerprint());
    }
}

/// A container that no longer runs uses no CPU, memory, network or disk: its threshold alerts
/// on those end (firing → resolved, pending → cancelled), dated by the sample. Restart-count
/// alerts stay: a crash-looping container is exactly when they matter.
fn end_resource_alerts(
    containers: &mut HashMap<String, ContainerState>,
    id: &str,
    at: DateTime<Utc>,
    out: &mut Vec<AlertEvent>,
) {
    if let Some(c) = containers.get_mut(id) {
        c.thresholds
            .close_unless(|a| a.metric == Some(Metric::ContainerRestartCount), at, out);
        if c.is_empty() {
            containers.remove(id);
        }
    }
}

/// Evaluates a container value; the container's state exists only while something is open.
fn evaluate_container(
    containers: &mut HashMap<String, ContainerState>,
    rule: &Rule,
    machine: MachineRef<'_>,
    value: f64,
    at: DateTime<Utc>,
    out: &mut Vec<AlertEvent>,
) {
    if let Some(c) = containers.get_mut(machine.id) {
        c.thresholds.evaluate(rule, machine, "", value, at, out);
        if c.is_empty() {
            containers.remove(machine.id);
        }
    } else if rule.raises(value) {
        let mut c = ContainerState::default();
        c.thresholds.evaluate(rule, machine, "", value, at, out);
        containers.insert(machine.id.to_owned(), c);
    }
}
