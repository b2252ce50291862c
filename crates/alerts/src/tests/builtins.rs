//! The built-in alerts, by example: stale hosts, container died / oom / unhealthy, re-created
//! containers, zero values.

use common::wire::EventKind as Ev;

use super::support::*;
use crate::{AlertKind::*, AlertState::*, Engine, EngineConfig, RuleSet, Severity};

fn observe(e: &mut Engine, r: &common::wire::Record) -> Vec<crate::AlertEvent> {
    e.observe(&RuleSet::default(), r, r.sampled_at)
}

#[test]
fn a_silent_host_goes_stale_at_a_tick_once_and_recovers_when_records_resume() {
    let mut e = Engine::new(EngineConfig::default());
    observe(&mut e, &record("h1", 0));
    observe(&mut e, &record("h2", 0));
    observe(&mut e, &record("h2", 2_000));
    assert!(e.tick(t(3_000)).is_empty(), "silent for 3 intervals of 1 s, not more");
    let ev = e.tick(t(3_001));
    assert_eq!(states(&ev), [(Stale, Firing)]);
    let stale = &ev[0];
    assert_eq!(
        (stale.key.machine_id.as_str(), stale.machine_name.as_str()),
        ("h1", "h1-name")
    );
    assert_eq!((stale.at, stale.since), (t(3_001), t(3_001)));
    assert_eq!((stale.threshold, stale.value), (Some(3.0), Some(3.001)));
    assert_eq!(stale.severity, Severity::Critical);
    assert_eq!(stale.compat_message_type(), Some("timeout"));
    assert!(e.tick(t(4_000)).is_empty(), "no second alert while stale");
    assert_eq!(e.active().len(), 1);

    observe(&mut e, &record("h1", 5_000));
    let ev = e.tick(t(5_001));
    let got: Vec<_> = ev.iter().map(|e| (e.key.machine_id.as_str(), e.state)).collect();
    assert_eq!(got, [("h1", Resolved), ("h2", Firing)]);
    assert_eq!(ev[0].alert_id, stale.alert_id);
    assert_eq!(ev[0].at, t(5_001));
}

#[test]
fn a_host_whose_records_arrive_too_late_stays_one_stale_incident() {
    let mut e = Engine::default();
    let mut events = Vec::new();
    for s in 0..10 {
        observe(&mut e, &record("h1", s * 1000));
        events.extend(e.tick(t(s * 1000 + 20_000)));
    }
    assert_eq!(states(&events), [(Stale, Firing)]);
}

#[test]
fn a_container_that_died_with_exit_code_3_alerts_with_the_code_until_it_runs_again() {
    let mut e = Engine::default();
    let mut r = record("h1", 1000);
    r.events.push(event(Ev::ContainerDied, "c1", "web", Some(3), 400));
    let mut dead = container("c1", "web");
    dead.state = "exited".into();
    r.containers.push(dead.clone());
    let ev = observe(&mut e, &r);
    assert_eq!(states(&ev), [(ContainerDied, Firing)]);
    let died = &ev[0];
    assert_eq!(died.exit_code, Some(3));
    assert_eq!(
        (died.at, died.host_id.as_deref(), died.machine_name.as_str()),
        (t(400), Some("h1"), "web")
    );
    assert_eq!(died.compat_message_type(), None);

    let mut r = record("h1", 2000);
    r.containers.push(dead);
    assert!(observe(&mut e, &r).is_empty(), "still exited");
    assert_eq!(e.active()[0].exit_code, Some(3));

    let mut r = record("h1", 3000);
    r.events.push(event(Ev::ContainerStarted, "c1", "web", None, 2500));
    let ev = observe(&mut e, &r);
    assert_eq!(states(&ev), [(ContainerDied, Resolved)]);
    assert_eq!((ev[0].alert_id.as_str(), ev[0].at), (died.alert_id.as_str(), t(2500)));
    assert!(e.active().is_empty());
}

#[test]
fn a_container_that_exited_with_code_0_raises_nothing() {
    let mut e = Engine::default();
    let mut r = record("h1", 1000);
    r.events.push(event(Ev::ContainerDied, "c1", "job", Some(0), 500));
    assert!(observe(&mut e, &r).is_empty());
    assert!(e.active().is_empty());
}

#[test]
fn an_oom_kill_alerts_and_a_running_sample_after_it_resolves() {
    let mut e = Engine::default();
    let mut r = record("h1", 1000);
    r.events.push(event(Ev::ContainerOom, "c1", "java", None, 900));
    r.events.push(event(Ev::ContainerDied, "c1", "java", Some(137), 901));
    let ev = observe(&mut e, &r);
    assert_eq!(states(&ev), [(ContainerOom, Firing), (ContainerDied, Firing)]);
    assert_eq!(ev[0].severity, Severity::Critical);

    // Within a record, events apply in time order around the sample: the running sample at 2 s
    // ends both, the kill at 2.5 s opens a new incident.
    let mut r = record("h1", 2000);
    r.events.push(event(Ev::ContainerOom, "c1", "java", None, 2500));
    r.containers.push(container("c1", "java"));
    let ev = observe(&mut e, &r);
    assert_eq!(
        states(&ev),
        [
            (ContainerDied, Resolved),
            (ContainerOom, Resolved),
            (ContainerOom, Firing)
        ]
    );
    assert_eq!(ev[2].since, t(2500));

    let mut r = record("h1", 3000);
    r.containers.push(container("c1", "java"));
    assert_eq!(states(&observe(&mut e, &r)), [(ContainerOom, Resolved)]);
}

#[test]
fn unhealthy_resolves_on_a_healthy_event_or_a_healthy_running_sample() {
    let mut e = Engine::default();
    let mut r = record("h1", 1000);
    r.events.push(event(Ev::ContainerUnhealthy, "c1", "api", None, 500));
    let mut sick = container("c1", "api");
    sick.health = Some("unhealthy".into());
    r.containers.push(sick.clone());
    assert_eq!(states(&observe(&mut e, &r)), [(ContainerUnhealthy, Firing)]);
    let mut r = record("h1", 2000);
    r.containers.push(sick.clone());
    assert!(
        observe(&mut e, &r).is_empty(),
        "running but unhealthy: still open, not raised again"
    );
    let mut r = record("h1", 3000);
    r.events.push(event(Ev::ContainerHealthy, "c1", "api", None, 2900));
    assert_eq!(states(&observe(&mut e, &r)), [(ContainerUnhealthy, Resolved)]);

    // Raised by a sample alone, ended by a sample alone.
    let mut r = record("h1", 4000);
    r.containers.push(sick);
    assert_eq!(states(&observe(&mut e, &r)), [(ContainerUnhealthy, Firing)]);
    let mut r = record("h1", 5000);
    let mut well = container("c1", "api");
    well.health = Some("healthy".into());
    r.containers.push(well);
    assert_eq!(states(&observe(&mut e, &r)), [(ContainerUnhealthy, Resolved)]);
}

#[test]
fn removing_a_container_ends_its_alerts() {
    let mut e = Engine::default();
    let mut r = record("h1", 1000);
    r.events.push(event(Ev::ContainerDied, "c1", "web", Some(1), 500));
    r.events.push(event(Ev::ContainerRemoved, "c1", "web", None, 600));
    let events = observe(&mut e, &r);
    assert_eq!(states(&events), [(ContainerDied, Firing), (ContainerDied, Resolved)]);
    // the resolved event says why: the container is gone, not running again
    assert_eq!(
        events.iter().map(|e| e.cause).collect::<Vec<_>>(),
        [None, Some(crate::Cause::ContainerRemoved)]
    );
    assert!(e.active().is_empty());
}

#[test]
fn a_container_recreated_under_its_name_gives_one_info_event() {
    let mut e = Engine::default();
    let sample = |ms, ids: &[(&str, &str)]| {
        let mut r = record("h1", ms);
        r.containers = ids.iter().map(|(id, name)| container(id, name)).collect();
        r
    };
    assert!(observe(&mut e, &sample(0, &[("c1", "web"), ("d1", "db")])).is_empty());
    assert!(observe(&mut e, &sample(1000, &[("c1", "web"), ("d1", "db")])).is_empty());
    assert!(
        observe(&mut e, &sample(2000, &[("d1", "db")])).is_empty(),
        "gone for a while"
    );
    let ev = observe(&mut e, &sample(3000, &[("c2", "web"), ("d1", "db")]));
    assert_eq!(states(&ev), [(ContainerIdChanged, Info)]);
    let changed = &ev[0];
    assert_eq!(changed.key.machine_id, "c2");
    assert_eq!(changed.previous_container_id.as_deref(), Some("c1"));
    assert_eq!(changed.compat_message_type(), Some("containerIdChanged"));
    assert_eq!(changed.severity, Severity::Info);
    assert!(observe(&mut e, &sample(4000, &[("c2", "web"), ("d1", "db")])).is_empty());
    assert!(e.active().is_empty(), "informational only");

    // The same name on another host is another container.
    let mut other = record("h2", 0);
    other.containers.push(container("c9", "web"));
    assert!(observe(&mut e, &other).is_empty());
}

#[test]
fn all_zero_values_alert_once_per_episode() {
    let mut e = Engine::default();
    let zeros = |ms, cpu: Option<f64>| {
        let mut r = record("h1", ms);
        r.host.cpu_percent = cpu;
        r.host.mem_used_bytes = Some(0);
        r.host.disk_read_bytes_per_sec = Some(0.0);
        r.host.disk_write_bytes_per_sec = Some(0.0);
        r
    };
    let mut events = Vec::new();
    for (ms, cpu) in [
        (0, None), // not all measured: nothing
        (1000, Some(0.0)),
        (2000, Some(0.0)),
        (3000, None), // missing: the episode goes on
        (4000, Some(0.0)),
        (5000, Some(3.0)),
        (6000, Some(3.0)),
        (7000, Some(0.0)),
    ] {
        events.extend(observe(&mut e, &zeros(ms, cpu)));
    }
    assert_eq!(
        states(&events),
        [(ZeroValue, Firing), (ZeroValue, Resolved), (ZeroValue, Firing)]
    );
    assert_eq!((events[0].at, events[1].at, events[2].at), (t(1000), t(5000), t(7000)));
    assert_eq!(events[0].compat_message_type(), Some("zerovalue"));
    assert_eq!(events[0].alert_id, events[1].alert_id);
    assert_ne!(events[0].alert_id, events[2].alert_id);

    // Memory falls back to mem_percent when bytes are not measured.
    let mut e = Engine::default();
    let mut r = zeros(0, Some(0.0));
    r.host.mem_used_bytes = None;
    r.host.mem_percent = Some(0.0);
    assert_eq!(states(&observe(&mut e, &r)), [(ZeroValue, Firing)]);
}
