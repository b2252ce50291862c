//! Threshold rules, by example: hysteresis, for-duration, per-mount and per-sensor alerts,
//! scopes, missing values, out-of-order records, rule changes, snapshots.

use chrono::TimeDelta;
use common::wire::EventKind;

use super::support::*;
use crate::{
    AlertKind::*, AlertState::*, Direction::*, Engine, EngineConfig, EngineState, MachineKind, MachinePart, Metric,
    Rule, RuleSet, Scope, Severity,
};

fn cpu_rule(for_secs: u32) -> Rule {
    rule(1, Metric::HostCpuPercent, Above, 85.0, 75.0, for_secs)
}

/// Feeds (ms, cpu) samples of host h1; returns the (state, at ms, value) of every event.
fn run(
    engine: &mut Engine,
    rules: &RuleSet,
    samples: &[(i64, Option<f64>)],
) -> Vec<(crate::AlertState, i64, Option<f64>)> {
    let mut out = Vec::new();
    for &(ms, v) in samples {
        let mut r = record("h1", ms);
        set(&mut r, Metric::HostCpuPercent, "", v);
        for e in engine.observe(rules, &r, t(ms)) {
            out.push((e.state, (e.at - t(0)).num_milliseconds(), e.value));
        }
    }
    out
}

#[test]
fn a_breach_goes_pending_then_firing_after_the_for_duration_then_resolves_below_clear() {
    let rules = rules(vec![cpu_rule(30)]);
    let mut e = Engine::default();
    let got = run(
        &mut e,
        &rules,
        &[
            (0, Some(50.0)),
            (10_000, Some(90.0)),
            (20_000, Some(95.0)),
            (39_499, Some(91.0)), // 29.5 s: short of the for-duration even with the slack
            (40_000, Some(92.0)),
            (50_000, Some(80.0)),
            (60_000, Some(75.0)),
            (70_000, Some(74.9)),
        ],
    );
    assert_eq!(
        got,
        [
            (Pending, 10_000, Some(90.0)),
            (Firing, 40_000, Some(92.0)),
            (Resolved, 70_000, Some(74.9))
        ]
    );
    assert!(e.active().is_empty());
}

#[test]
fn a_pending_alert_that_returns_before_the_for_duration_is_cancelled_and_a_new_one_starts_over() {
    let rules = rules(vec![cpu_rule(30)]);
    let mut e = Engine::default();
    let mut r = record("h1", 0);
    set(&mut r, Metric::HostCpuPercent, "", Some(90.0));
    let first = e.observe(&rules, &r, t(0));
    let got = run(
        &mut e,
        &rules,
        &[(20_000, Some(85.0)), (25_000, Some(99.0)), (50_000, Some(99.0))],
    );
    assert_eq!(got, [(Cancelled, 20_000, Some(85.0)), (Pending, 25_000, Some(99.0))]);
    let active = e.active();
    assert_eq!(active.len(), 1);
    assert_ne!(active[0].alert_id, first[0].alert_id, "a new incident");
    assert_eq!(active[0].since, t(25_000));
}

#[test]
fn oscillating_between_clear_and_raise_fires_once_and_a_zero_for_duration_fires_at_once() {
    let rules = rules(vec![cpu_rule(0)]);
    let mut e = Engine::default();
    let samples: Vec<_> = (0..20)
        .map(|i| (i * 1000, Some(if i % 2 == 0 { 90.0 } else { 76.0 })))
        .collect();
    assert_eq!(run(&mut e, &rules, &samples), [(Firing, 0, Some(90.0))]);
    let a = &e.active()[0];
    assert_eq!((a.state, a.value, a.firing_since), (Firing, Some(76.0), Some(t(0))));
}

#[test]
fn missing_values_never_fire_resolve_or_cancel() {
    let rules = rules(vec![cpu_rule(5)]);
    let mut e = Engine::default();
    let got = run(
        &mut e,
        &rules,
        &[
            (0, Some(90.0)),
            (3_000, None),
            (9_000, None),
            (10_000, Some(90.0)),
            (11_000, None),
            (60_000, None),
        ],
    );
    assert_eq!(got, [(Pending, 0, Some(90.0)), (Firing, 10_000, Some(90.0))]);
    assert_eq!(e.active()[0].state, Firing);
}

#[test]
fn an_older_record_changes_nothing() {
    let rules = rules(vec![cpu_rule(0)]);
    let mut e = Engine::default();
    let got = run(
        &mut e,
        &rules,
        &[
            (10_000, Some(90.0)),
            (5_000, Some(10.0)),
            (10_000, Some(10.0)),
            (11_000, Some(91.0)),
        ],
    );
    assert_eq!(got, [(Firing, 10_000, Some(90.0))]);
}

#[test]
fn below_rules_fire_under_the_raise_value_and_map_to_threshold_deceeded() {
    let rules = rules(vec![rule(2, Metric::HostTemperatureC, Below, 5.0, 8.0, 0)]);
    let mut e = Engine::default();
    let mut r = record("h1", 0);
    set(&mut r, Metric::HostTemperatureC, "cpu", Some(4.0));
    set(&mut r, Metric::HostTemperatureC, "nvme", Some(30.0));
    let ev = e.observe(&rules, &r, t(0));
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].key.subject, "cpu");
    assert_eq!(ev[0].compat_message_type(), Some("thresholdDeceeded"));
    let mut r = record("h1", 1000);
    set(&mut r, Metric::HostTemperatureC, "cpu", Some(8.5));
    assert_eq!(states(&e.observe(&rules, &r, t(1000))), [(Threshold, Resolved)]);
}

#[test]
fn filesystems_alert_per_mount() {
    let rules = rules(vec![rule(3, Metric::HostFilesystemUsedPercent, Above, 90.0, 85.0, 0)]);
    let mut e = Engine::default();
    let sample = |ms, root, data| {
        let mut r = record("h1", ms);
        set(&mut r, Metric::HostFilesystemUsedPercent, "/", Some(root));
        set(&mut r, Metric::HostFilesystemUsedPercent, "/data", Some(data));
        r
    };
    let ev = e.observe(&rules, &sample(0, 50.0, 95.0), t(0));
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].key.subject.as_str(), ev[0].state), ("/data", Firing));
    assert_eq!(ev[0].metric, Some(Metric::HostFilesystemUsedPercent));
    assert_eq!((ev[0].threshold, ev[0].value), (Some(90.0), Some(95.0)));
    let ev = e.observe(&rules, &sample(1000, 97.0, 96.0), t(1000));
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].key.subject.as_str(), ev[0].state), ("/", Firing));
    let mut subjects: Vec<_> = e.active().into_iter().map(|a| a.key.subject).collect();
    subjects.sort();
    assert_eq!(subjects, ["/", "/data"]);
    let ev = e.observe(&rules, &sample(2000, 97.0, 10.0), t(2000));
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].key.subject.as_str(), ev[0].state), ("/data", Resolved));
    assert_eq!(e.active().len(), 1);
}

#[test]
fn load_per_core_divides_load_by_cores() {
    let rules = rules(vec![rule(4, Metric::HostLoadPerCore, Above, 2.0, 1.0, 0)]);
    let mut e = Engine::default();
    let mut r = record("h1", 0);
    r.host.load1 = Some(12.0);
    r.host.cpu_cores = Some(8);
    assert!(e.observe(&rules, &r, t(0)).is_empty(), "1.5 per core");
    let mut r = record("h1", 1000);
    r.host.load1 = Some(17.0);
    r.host.cpu_cores = Some(8);
    let ev = e.observe(&rules, &r, t(1000));
    assert_eq!(ev[0].value, Some(17.0 / 8.0));
}

#[test]
fn container_rules_apply_by_glob_exact_name_and_id() {
    let glob = Rule {
        scope: Scope::ContainerName {
            pattern: "web-*".into(),
        },
        ..rule(1, Metric::ContainerCpuPercent, Above, 150.0, 100.0, 0)
    };
    let exact = Rule {
        scope: Scope::ContainerName { pattern: "db".into() },
        ..rule(2, Metric::ContainerMemPercent, Above, 90.0, 80.0, 0)
    };
    let by_id = Rule {
        scope: Scope::Machine { id: "c3".into() },
        ..rule(3, Metric::ContainerRestartCount, Above, 5.0, 5.0, 0)
    };
    let rules = rules(vec![glob, exact, by_id]);
    let mut e = Engine::default();
    let mut r = record("h1", 0);
    for (id, name) in [("c1", "web-1"), ("c2", "db"), ("c3", "cache"), ("c4", "webby")] {
        let mut c = container(id, name);
        c.cpu_percent = Some(200.0);
        c.mem_percent = Some(95.0);
        c.restart_count = Some(9);
        r.containers.push(c);
    }
    let ev = e.observe(&rules, &r, t(0));
    let got: Vec<_> = ev
        .iter()
        .map(|e| {
            (
                e.key.rule_id.unwrap(),
                e.key.machine_id.as_str(),
                e.machine_name.as_str(),
            )
        })
        .collect();
    assert_eq!(got, [(1, "c1", "web-1"), (2, "c2", "db"), (3, "c3", "cache")]);
    assert!(ev.iter().all(|e| e.host_id.as_deref() == Some("h1")));
    assert!(ev.iter().all(|e| e.machine_kind == crate::MachineKind::Container));
}

#[test]
fn disabling_or_deleting_a_rule_resolves_its_alerts_and_editing_values_keeps_them() {
    let cpu = cpu_rule(0);
    let pending_mem = rule(2, Metric::HostMemPercent, Above, 90.0, 80.0, 60);
    let set1 = rules(vec![cpu.clone(), pending_mem.clone()]);
    let mut e = Engine::default();
    let mut r = record("h1", 0);
    set(&mut r, Metric::HostCpuPercent, "", Some(99.0));
    set(&mut r, Metric::HostMemPercent, "", Some(99.0));
    assert_eq!(
        states(&e.observe(&set1, &r, t(0))),
        [(Threshold, Firing), (Threshold, Pending)]
    );

    // New values and severity: the incident stays open, judged by the new values.
    let edited = Rule {
        raise: 95.0,
        clear: 50.0,
        severity: Severity::Critical,
        ..cpu.clone()
    };
    let set2 = rules(vec![edited.clone(), pending_mem.clone()]);
    assert!(e.set_rules(&set2, t(500)).is_empty());
    let mut r = record("h1", 1000);
    set(&mut r, Metric::HostCpuPercent, "", Some(60.0));
    assert!(
        e.observe(&set2, &r, t(1000)).is_empty(),
        "60 is above the new clear value"
    );
    assert_eq!(e.active()[0].severity, Severity::Critical);

    // Disable cpu, delete mem: firing → resolved, pending → cancelled, dated now, no value.
    let set3 = rules(vec![Rule {
        enabled: false,
        ..edited
    }]);
    let ev = e.set_rules(&set3, t(2000));
    assert_eq!(states(&ev), [(Threshold, Resolved), (Threshold, Cancelled)]);
    assert_eq!(ev[0].key.rule_id, Some(1));
    assert!(ev.iter().all(|e| e.at == t(2000) && e.value.is_none()));
    assert!(e.active().is_empty());
}

#[test]
fn observe_notices_a_changed_rule_set_by_itself() {
    let set1 = rules(vec![cpu_rule(0)]);
    let mut e = Engine::default();
    e.observe(&set1, &host_value(Metric::HostCpuPercent, 0, 99.0), t(0));
    let moved = Rule {
        scope: Scope::Machine { id: "h2".into() },
        ..cpu_rule(0)
    };
    let set2 = rules(vec![moved]);
    let ev = e.observe(&set2, &host_value(Metric::HostCpuPercent, 1000, 99.0), t(1000));
    assert_eq!(states(&ev), [(Threshold, Resolved)], "h1 is no longer in scope");
    assert!(e.set_rules(&set2, t(1000)).is_empty(), "nothing left to reconcile");
}

#[test]
fn a_restored_snapshot_neither_refires_nor_forgets() {
    let rules = rules(vec![cpu_rule(10)]);
    let mut e = Engine::default();
    e.observe(&rules, &host_value(Metric::HostCpuPercent, 0, 99.0), t(0));
    let json = serde_json::to_string(&e.snapshot()).unwrap();
    let state: EngineState = serde_json::from_str(&json).unwrap();
    let mut back = Engine::restore(EngineConfig::default(), state);
    assert_eq!(back.active(), e.active());
    assert!(back
        .observe(&rules, &host_value(Metric::HostCpuPercent, 5000, 99.0), t(5000))
        .is_empty());
    let ev = back.observe(&rules, &host_value(Metric::HostCpuPercent, 10_000, 99.0), t(10_000));
    assert_eq!(states(&ev), [(Threshold, Firing)]);
    assert_eq!(ev[0].since, t(0), "the same incident continues");
}

#[test]
fn a_state_saved_in_one_piece_still_loads_and_a_broken_part_is_skipped() {
    let rules = rules(vec![cpu_rule(0)]);
    let mut e = Engine::default();
    e.observe(&rules, &host_value(Metric::HostCpuPercent, 0, 99.0), t(0));
    // The format before parts: the whole state in the header.
    let whole = serde_json::to_string(&e.snapshot()).unwrap();
    let (state, skipped) = EngineState::from_parts(&whole, []).unwrap();
    assert_eq!((state, skipped), (e.snapshot(), 0));

    let (header, mut parts) = crate::persist::SavedParts::all_parts(&e.snapshot());
    assert_eq!(parts.len(), 1, "one host: {parts:?}");
    assert!(!header.contains("h1"), "machines are not in the header: {header}");
    parts.push(MachinePart {
        kind: MachineKind::Container,
        id: "c9".into(),
        json: "{not json".into(),
    });
    let (state, skipped) = EngineState::from_parts(&header, parts).unwrap();
    assert_eq!((state, skipped), (e.snapshot(), 1));
    assert!(
        EngineState::from_parts("{not json", []).is_err(),
        "a header that does not parse"
    );
}

#[test]
fn a_removed_container_ends_its_threshold_alerts() {
    let rules = rules(vec![rule(1, Metric::ContainerCpuPercent, Above, 50.0, 40.0, 0)]);
    let mut e = Engine::default();
    let mut r = record("h1", 0);
    r.containers.push(container("c1", "web"));
    set(&mut r, Metric::ContainerCpuPercent, "", Some(80.0));
    assert_eq!(states(&e.observe(&rules, &r, t(0))), [(Threshold, Firing)]);
    let mut r = record("h1", 1000);
    r.events
        .push(event(EventKind::ContainerRemoved, "c1", "web", None, 900));
    let ev = e.observe(&rules, &r, t(1000));
    assert_eq!(states(&ev), [(Threshold, Resolved)]);
    assert_eq!(ev[0].at, t(900));
    assert!(e.active().is_empty());
    assert_eq!(e.snapshot().containers.len(), 0, "nothing kept of a removed container");
}

#[test]
fn a_stopped_container_ends_its_resource_alerts_but_not_its_restart_count_alert() {
    let rules = rules(vec![
        rule(1, Metric::ContainerCpuPercent, Above, 50.0, 30.0, 0),
        rule(2, Metric::ContainerRestartCount, Above, 2.0, 2.0, 0),
    ]);
    let mut e = Engine::default();
    let mut r = record("h1", 0);
    r.containers.push(container("c1", "web"));
    set(&mut r, Metric::ContainerCpuPercent, "", Some(95.0));
    set(&mut r, Metric::ContainerRestartCount, "", Some(5.0));
    assert_eq!(
        states(&e.observe(&rules, &r, t(0))),
        [(Threshold, Firing), (Threshold, Firing)]
    );
    // Stopped: no CPU value is measured any more, and yet the CPU alert must end.
    let mut r = record("h1", 1000);
    let mut stopped = container("c1", "web");
    stopped.state = "exited".to_owned();
    r.containers.push(stopped);
    let ev = e.observe(&rules, &r, t(1000));
    assert_eq!(states(&ev), [(Threshold, Resolved)]);
    assert_eq!(ev[0].key.rule_id, Some(1));
    assert_eq!(ev[0].at, t(1000));
    let open: Vec<_> = e.active().into_iter().map(|a| a.key.rule_id).collect();
    assert_eq!(open, [Some(2)], "the restart-count alert stays open");
}

#[test]
fn stale_windows_follow_the_configured_multiplier() {
    let config = EngineConfig {
        stale_intervals: 5,
        stale_min: TimeDelta::zero(),
    };
    let mut e = Engine::new(config);
    let mut r = record("h1", 0);
    r.interval_ms = 5000;
    e.observe(&RuleSet::default(), &r, t(0));
    assert!(e.tick(t(25_000)).is_empty());
    assert_eq!(states(&e.tick(t(25_001))), [(Stale, Firing)]);
}

#[test]
fn a_state_saved_before_its_last_events_catches_up_with_them() {
    // the crash case: events stored, the state saved before them
    let rules = rules(vec![cpu_rule(0)]);
    let mut live = Engine::default();
    live.observe(&rules, &host_value(Metric::HostCpuPercent, 0, 10.0), t(0));
    let saved = live.snapshot();
    let mut died = record("h1", 1000);
    set(&mut died, Metric::HostCpuPercent, "", Some(95.0));
    died.events
        .push(event(EventKind::ContainerDied, "c1", "web", Some(1), 900));
    let stored = live.observe(&rules, &died, t(1000));
    assert_eq!(states(&stored), [(ContainerDied, Firing), (Threshold, Firing)]);

    let mut restarted = Engine::restore(EngineConfig::default(), saved.clone());
    restarted.catch_up(&stored);
    assert_eq!(restarted.active(), live.active(), "the same open incidents");
    // the record redelivered after the crash changes nothing, as after a later save
    assert!(restarted.observe(&rules, &died, t(1000)).is_empty());
    // the incident goes on: no second firing, and it resolves under its own id
    let next = restarted.observe(&rules, &host_value(Metric::HostCpuPercent, 2000, 95.0), t(2000));
    assert!(next.is_empty(), "{next:?}");
    let end = restarted.observe(&rules, &host_value(Metric::HostCpuPercent, 3000, 10.0), t(3000));
    assert_eq!(states(&end), [(Threshold, Resolved)]);
    assert_eq!(end[0].alert_id, stored[1].alert_id);

    // an end stored after the save closes the incident the saved state still holds open
    let mut restarted = Engine::restore(EngineConfig::default(), live.snapshot());
    let ended = live.observe(&rules, &host_value(Metric::HostCpuPercent, 3000, 10.0), t(3000));
    restarted.catch_up(&ended);
    assert_eq!(restarted.active(), live.active());
    assert_eq!(restarted.active().len(), 1, "the died alert stays open");
    // a host the saved state never saw: known from its events
    let mut fresh = Engine::restore(EngineConfig::default(), EngineState::default());
    fresh.catch_up(&stored);
    let ids = |a: Vec<crate::ActiveAlert>| a.into_iter().map(|a| a.alert_id).collect::<Vec<_>>();
    let mut want = ids(fresh.active());
    want.sort();
    let mut opened: Vec<String> = stored.iter().map(|e| e.alert_id.clone()).collect();
    opened.sort();
    assert_eq!(want, opened);
}

#[test]
fn catching_up_with_events_the_saved_state_already_holds_changes_nothing() {
    // a save records a lower bound of the events it holds: the catch-up may re-apply some
    let rules = rules(vec![cpu_rule(0)]);
    let mut live = Engine::default();
    let mut events = live.observe(&rules, &host_value(Metric::HostCpuPercent, 0, 95.0), t(0));
    events.extend(live.observe(&rules, &host_value(Metric::HostCpuPercent, 1000, 10.0), t(1000)));
    events.extend(live.observe(&rules, &host_value(Metric::HostCpuPercent, 2000, 96.0), t(2000)));
    assert_eq!(
        states(&events),
        [(Threshold, Firing), (Threshold, Resolved), (Threshold, Firing)]
    );
    let saved = live.snapshot();
    let mut restarted = Engine::restore(EngineConfig::default(), saved);
    restarted.catch_up(&events);
    assert_eq!(restarted.active(), live.active(), "the same open incident, once");
    let end = restarted.observe(&rules, &host_value(Metric::HostCpuPercent, 3000, 10.0), t(3000));
    assert_eq!(states(&end), [(Threshold, Resolved)]);
    assert_eq!(end[0].alert_id, events[2].alert_id, "the second incident ends, once");
}
