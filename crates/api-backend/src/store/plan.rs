//! What one batch of new records does to the inventory: per machine the earliest and latest
//! sample time and the descriptive fields of its latest sample, the containers only seen in
//! events, and the removals. Pure.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use common::wire::{EventKind, Record};

/// A host as the batch describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostFacts<'a> {
    pub name: &'a str,
    pub interval_ms: u64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// A container as its latest sample in the batch describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerFacts<'a> {
    pub host: &'a str,
    pub name: &'a str,
    pub image: &'a str,
    pub state: &'a str,
    pub health: Option<&'a str>,
    pub restart_count: Option<u64>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// A container the batch only mentions in an event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventOnly<'a> {
    pub host: &'a str,
    pub name: &'a str,
    pub at: DateTime<Utc>,
}

/// The inventory changes of a batch, keyed by external id (sorted: rows are locked in one order).
#[derive(Debug, Default)]
pub struct Plan<'a> {
    pub hosts: BTreeMap<&'a str, HostFacts<'a>>,
    pub containers: BTreeMap<&'a str, ContainerFacts<'a>>,
    pub event_only: BTreeMap<&'a str, EventOnly<'a>>,
    /// Container id → earliest `container_removed` time.
    pub removals: BTreeMap<&'a str, DateTime<Utc>>,
}

impl<'a> Plan<'a> {
    /// Folds the records in; on equal times the later record wins.
    pub fn build(records: &[&'a Record]) -> Self {
        let mut plan = Plan::default();
        for r in records {
            let t = r.sampled_at;
            let host = plan.hosts.entry(&r.host_id).or_insert(HostFacts {
                name: &r.host_name,
                interval_ms: r.interval_ms,
                first_seen: t,
                last_seen: t,
            });
            host.first_seen = host.first_seen.min(t);
            if t >= host.last_seen {
                host.name = &r.host_name;
                host.interval_ms = r.interval_ms;
                host.last_seen = t;
            }
            for c in &r.containers {
                let latest = ContainerFacts {
                    host: &r.host_id,
                    name: &c.name,
                    image: &c.image,
                    state: &c.state,
                    health: c.health.as_deref(),
                    restart_count: c.restart_count,
                    first_seen: t,
                    last_seen: t,
                };
                plan.containers
                    .entry(&c.id)
                    .and_modify(|known| {
                        let first_seen = known.first_seen.min(t);
                        if t >= known.last_seen {
                            *known = ContainerFacts {
                                first_seen,
                                ..latest.clone()
                            };
                        } else {
                            known.first_seen = first_seen;
                        }
                    })
                    .or_insert(latest);
            }
            for e in &r.events {
                plan.event_only.entry(&e.container_id).or_insert(EventOnly {
                    host: &r.host_id,
                    name: &e.name,
                    at: e.at,
                });
                if e.kind == EventKind::ContainerRemoved {
                    plan.removals
                        .entry(&e.container_id)
                        .and_modify(|at| *at = (*at).min(e.at))
                        .or_insert(e.at);
                }
            }
        }
        let sampled = &plan.containers;
        plan.event_only.retain(|id, _| !sampled.contains_key(id));
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::wire::{ContainerSample, Event, HostSample};

    fn record(id: &str, at: &str, name: &str, containers: Vec<ContainerSample>, events: Vec<Event>) -> Record {
        Record {
            schema: 1,
            record_id: id.into(),
            host_id: "h1".into(),
            host_name: name.into(),
            sampled_at: common::timefmt::parse(at).unwrap(),
            interval_ms: 1000,
            host: HostSample::default(),
            containers,
            events,
        }
    }

    fn container(state: &str) -> ContainerSample {
        ContainerSample {
            id: "c1".into(),
            name: "web".into(),
            state: state.into(),
            ..Default::default()
        }
    }

    #[test]
    fn latest_sample_wins_even_when_records_arrive_out_of_order() {
        let newer = record(
            "r2",
            "2026-01-01T00:00:02Z",
            "new-name",
            vec![container("exited")],
            vec![],
        );
        let older = record(
            "r1",
            "2026-01-01T00:00:01Z",
            "old-name",
            vec![container("running")],
            vec![],
        );
        let plan = Plan::build(&[&newer, &older]);
        let h = &plan.hosts["h1"];
        assert_eq!(h.name, "new-name");
        assert_eq!(common::timefmt::format(&h.first_seen), "2026-01-01T00:00:01.000Z");
        assert_eq!(common::timefmt::format(&h.last_seen), "2026-01-01T00:00:02.000Z");
        let c = &plan.containers["c1"];
        assert_eq!(c.state, "exited");
        assert_eq!(common::timefmt::format(&c.first_seen), "2026-01-01T00:00:01.000Z");
    }

    #[test]
    fn event_only_containers_and_removals() {
        let at = common::timefmt::parse("2026-01-01T00:00:00.500Z").unwrap();
        let ev = |kind, id: &str| Event {
            kind,
            container_id: id.into(),
            name: "old".into(),
            exit_code: None,
            at,
        };
        let r = record(
            "r1",
            "2026-01-01T00:00:01Z",
            "h",
            vec![container("running")],
            vec![
                ev(EventKind::ContainerDied, "c0"),
                ev(EventKind::ContainerRemoved, "c0"),
                ev(EventKind::ContainerStarted, "c1"),
            ],
        );
        let plan = Plan::build(&[&r]);
        assert_eq!(
            plan.event_only.keys().copied().collect::<Vec<_>>(),
            vec!["c0"],
            "c1 has a sample"
        );
        assert_eq!(plan.removals.get("c0"), Some(&at));
    }
}
