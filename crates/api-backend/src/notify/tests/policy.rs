//! The notification policy, rule by rule, plus properties over random incident sequences.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;

use super::support::{container_alert, cpu_alert, event, id_changed, t};
use crate::alerts::{AlertKind, AlertState};
use crate::notify::policy::{Decision, NotificationKind, Policy, Suppression, ENDED_GRACE};
use crate::notify::Silence;

const COOLDOWN: Duration = Duration::from_secs(300);
const REPEAT: Duration = Duration::from_secs(4 * 3600);

fn policy() -> Policy {
    Policy::new(COOLDOWN, Some(REPEAT))
}

/// The kind and alert id of a notification, or the suppression, or `None` for a skip.
fn summary(d: &Decision) -> Option<Result<(NotificationKind, String), Suppression>> {
    match d {
        Decision::Notify(n) => Some(Ok((n.kind, n.event.alert_id.clone()))),
        Decision::Suppress(reason) => Some(Err(*reason)),
        Decision::Skip => None,
    }
}

fn notified(kind: NotificationKind, alert_id: &str) -> Option<Result<(NotificationKind, String), Suppression>> {
    Some(Ok((kind, alert_id.to_owned())))
}

fn silence_of(machine: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Silence {
    Silence {
        id: 1,
        machine_id: Some(machine.into()),
        rule_id: None,
        kind: None,
        starts_at: from,
        ends_at: to,
        comment: "maintenance".into(),
    }
}

#[test]
fn one_firing_and_one_resolved_per_incident_never_pending_or_cancelled() {
    let mut p = policy();
    let a = cpu_alert(t(0));
    let id = a.alert_id.clone();
    assert_eq!(p.on_event(&event(&a, AlertState::Pending, t(0)), t(0)), Decision::Skip);
    let d = p.on_event(&event(&a, AlertState::Firing, t(60)), t(60));
    assert_eq!(summary(&d), notified(NotificationKind::Firing, &id));
    let Decision::Notify(n) = d else { unreachable!() };
    assert_eq!(
        n.event,
        event(&a, AlertState::Firing, t(60)),
        "the event is passed on as it is"
    );
    // the same firing again (a replayed event) is not a second notification
    assert_eq!(p.on_event(&event(&a, AlertState::Firing, t(61)), t(61)), Decision::Skip);
    let d = p.on_event(&event(&a, AlertState::Resolved, t(120)), t(120));
    assert_eq!(summary(&d), notified(NotificationKind::Resolved, &id));
    assert_eq!(
        p.on_event(&event(&a, AlertState::Resolved, t(121)), t(121)),
        Decision::Skip
    );

    let b = cpu_alert(t(1000));
    assert_eq!(
        p.on_event(&event(&b, AlertState::Pending, t(1000)), t(1000)),
        Decision::Skip
    );
    assert_eq!(
        p.on_event(&event(&b, AlertState::Cancelled, t(1010)), t(1010)),
        Decision::Skip
    );
}

#[test]
fn cooldown_holds_back_a_flapping_refire_and_its_resolved_but_never_delays_a_resolved() {
    let mut p = policy();
    let first = cpu_alert(t(0));
    assert_eq!(
        summary(&p.on_event(&event(&first, AlertState::Firing, t(0)), t(0))),
        notified(NotificationKind::Firing, &first.alert_id)
    );
    // resolved 10 s later, well within the cooldown: sent at once
    assert_eq!(
        summary(&p.on_event(&event(&first, AlertState::Resolved, t(10)), t(10))),
        notified(NotificationKind::Resolved, &first.alert_id)
    );
    // fires again 20 s after the first firing notification: held back, and so is its resolved
    let second = cpu_alert(t(20));
    assert_eq!(
        p.on_event(&event(&second, AlertState::Firing, t(20)), t(20)),
        Decision::Suppress(Suppression::Cooldown)
    );
    assert_eq!(
        p.on_event(&event(&second, AlertState::Resolved, t(30)), t(30)),
        Decision::Suppress(Suppression::Cooldown)
    );
    // exactly one cooldown after the first firing notification: notified again
    let third = cpu_alert(t(300));
    assert_eq!(
        summary(&p.on_event(&event(&third, AlertState::Firing, t(300)), t(300))),
        notified(NotificationKind::Firing, &third.alert_id)
    );
}

#[test]
fn the_cooldown_is_per_key() {
    let mut p = policy();
    let cpu = cpu_alert(t(0));
    let died = container_alert(AlertKind::ContainerDied, t(0));
    for a in [&cpu, &died] {
        let d = p.on_event(&event(a, AlertState::Firing, t(0)), t(0));
        assert_eq!(summary(&d), notified(NotificationKind::Firing, &a.alert_id));
    }
}

#[test]
fn a_held_back_refire_that_keeps_firing_is_announced_when_the_cooldown_ends() {
    let mut p = policy();
    let first = cpu_alert(t(0));
    p.on_event(&event(&first, AlertState::Firing, t(0)), t(0));
    p.on_event(&event(&first, AlertState::Resolved, t(10)), t(10));
    let second = cpu_alert(t(20));
    assert_eq!(
        p.on_event(&event(&second, AlertState::Firing, t(20)), t(20)),
        Decision::Suppress(Suppression::Cooldown)
    );
    // still within the cooldown: nothing, and the hold is not counted twice
    assert_eq!(p.tick(t(299), std::slice::from_ref(&second)), vec![]);
    let ds = p.tick(t(300), std::slice::from_ref(&second));
    assert_eq!(ds.len(), 1);
    let Decision::Notify(n) = &ds[0] else { panic!("{ds:?}") };
    assert_eq!(
        (n.kind, n.event.alert_id.as_str()),
        (NotificationKind::Firing, second.alert_id.as_str())
    );
    assert_eq!(
        (n.event.state, n.event.at),
        (AlertState::Firing, t(20)),
        "dated when it started firing"
    );
    assert_eq!(p.tick(t(310), std::slice::from_ref(&second)), vec![], "announced once");
    // its resolved now goes out
    assert_eq!(
        summary(&p.on_event(&event(&second, AlertState::Resolved, t(400)), t(400))),
        notified(NotificationKind::Resolved, &second.alert_id)
    );
}

#[test]
fn silenced_alerts_notify_nothing_until_the_silence_ends() {
    let mut p = policy();
    p.set_silences(vec![silence_of("h1", t(0), t(1000))]);
    let a = cpu_alert(t(10));
    assert_eq!(
        p.on_event(&event(&a, AlertState::Firing, t(10)), t(10)),
        Decision::Suppress(Suppression::Silenced)
    );
    assert_eq!(p.tick(t(500), std::slice::from_ref(&a)), vec![]);
    // the silence ended and the alert is still firing: announced now
    let ds = p.tick(t(1000), std::slice::from_ref(&a));
    assert_eq!(
        ds.iter().map(summary).collect::<Vec<_>>(),
        vec![notified(NotificationKind::Firing, &a.alert_id)]
    );

    // a silenced incident that ends within the silence: neither firing nor resolved
    let mut p = policy();
    p.set_silences(vec![silence_of("h1", t(0), t(1000))]);
    assert_eq!(
        p.on_event(&event(&a, AlertState::Firing, t(10)), t(10)),
        Decision::Suppress(Suppression::Silenced)
    );
    assert_eq!(
        p.on_event(&event(&a, AlertState::Resolved, t(20)), t(20)),
        Decision::Suppress(Suppression::Silenced)
    );
}

#[test]
fn a_host_silence_covers_its_containers_and_a_silence_set_later_mutes_the_resolved() {
    let mut p = policy();
    p.set_silences(vec![silence_of("h1", t(0), t(1000))]);
    let died = container_alert(AlertKind::ContainerDied, t(5));
    assert_eq!(
        p.on_event(&event(&died, AlertState::Firing, t(5)), t(5)),
        Decision::Suppress(Suppression::Silenced)
    );
    // another host's silence does not matter
    let mut p = policy();
    p.set_silences(vec![silence_of("h2", t(0), t(1000))]);
    let a = cpu_alert(t(5));
    assert!(matches!(
        p.on_event(&event(&a, AlertState::Firing, t(5)), t(5)),
        Decision::Notify(_)
    ));
    // silenced after its firing was sent: the resolved is muted too
    p.set_silences(vec![silence_of("h1", t(6), t(1000))]);
    assert_eq!(
        p.on_event(&event(&a, AlertState::Resolved, t(7)), t(7)),
        Decision::Suppress(Suppression::Silenced)
    );
}

#[test]
fn info_notices_notify_under_silences_and_cooldown() {
    let mut p = policy();
    let ev = id_changed(t(0));
    let d = p.on_event(&ev, t(0));
    assert_eq!(summary(&d), notified(NotificationKind::Info, &ev.alert_id));
    let again = id_changed(t(5));
    assert_eq!(p.on_event(&again, t(5)), Decision::Suppress(Suppression::Cooldown));
    let mut p = policy();
    p.set_silences(vec![silence_of("h1", t(0), t(10))]);
    assert_eq!(p.on_event(&ev, t(0)), Decision::Suppress(Suppression::Silenced));
}

#[test]
fn reminders_every_repeat_interval_while_firing() {
    let mut p = policy();
    let mut a = cpu_alert(t(0));
    p.on_event(&event(&a, AlertState::Firing, t(0)), t(0));
    let repeat = REPEAT.as_secs() as i64;
    assert_eq!(p.tick(t(repeat - 1), std::slice::from_ref(&a)), vec![]);
    a.value = Some(97.0);
    let ds = p.tick(t(repeat), std::slice::from_ref(&a));
    assert_eq!(ds.len(), 1, "{ds:?}");
    let Decision::Notify(n) = &ds[0] else { panic!("{ds:?}") };
    assert_eq!(n.kind, NotificationKind::Reminder);
    assert_eq!(n.event.alert_id, a.alert_id);
    assert_eq!(n.event.value, Some(97.0), "the latest value");
    assert_eq!((n.event.at, n.event.since), (t(repeat), t(0)));
    assert_eq!(p.tick(t(repeat + 60), std::slice::from_ref(&a)), vec![]);
    let ds = p.tick(t(2 * repeat), std::slice::from_ref(&a));
    assert_eq!(
        ds.iter().map(summary).collect::<Vec<_>>(),
        vec![notified(NotificationKind::Reminder, &a.alert_id)]
    );
    // a pending alert gets no reminder
    let mut pending = cpu_alert(t(0));
    pending.state = AlertState::Pending;
    assert_eq!(policy().tick(t(3 * repeat), &[pending]), vec![]);
}

#[test]
fn reminders_can_be_turned_off_and_are_muted_by_silences() {
    let a = cpu_alert(t(0));
    let mut off = Policy::new(COOLDOWN, None);
    off.on_event(&event(&a, AlertState::Firing, t(0)), t(0));
    assert_eq!(off.tick(t(100 * 3600), std::slice::from_ref(&a)), vec![]);

    let mut p = policy();
    p.on_event(&event(&a, AlertState::Firing, t(0)), t(0));
    p.set_silences(vec![silence_of("h1", t(1), t(100 * 3600))]);
    let repeat = REPEAT.as_secs() as i64;
    assert_eq!(
        p.tick(t(repeat), std::slice::from_ref(&a)),
        vec![Decision::Suppress(Suppression::Silenced)]
    );
    assert_eq!(
        p.tick(t(repeat + 1), std::slice::from_ref(&a)),
        vec![],
        "counted once per interval"
    );
}

#[test]
fn a_firing_alert_the_policy_never_heard_of_is_announced_once() {
    // after a restart, or when its event was dropped or is still on its way
    let mut p = policy();
    let a = cpu_alert(t(0));
    let ds = p.tick(t(30), std::slice::from_ref(&a));
    assert_eq!(
        ds.iter().map(summary).collect::<Vec<_>>(),
        vec![notified(NotificationKind::Firing, &a.alert_id)]
    );
    assert_eq!(p.on_event(&event(&a, AlertState::Firing, t(0)), t(31)), Decision::Skip);
    assert_eq!(
        summary(&p.on_event(&event(&a, AlertState::Resolved, t(40)), t(40))),
        notified(NotificationKind::Resolved, &a.alert_id)
    );
}

#[test]
fn an_older_snapshot_does_not_bring_back_an_ended_incident() {
    let mut p = policy();
    let a = cpu_alert(t(0));
    p.on_event(&event(&a, AlertState::Firing, t(0)), t(0));
    p.on_event(&event(&a, AlertState::Resolved, t(10)), t(10));
    // the periodic task listed the open alerts just before the resolve
    assert_eq!(p.tick(t(400), std::slice::from_ref(&a)), vec![]);
    // nor does a snapshot with an older incident than the open one
    let newer = cpu_alert(t(500));
    assert!(matches!(
        p.on_event(&event(&newer, AlertState::Firing, t(500)), t(500)),
        Decision::Notify(_)
    ));
    let older = cpu_alert(t(450));
    assert_eq!(p.tick(t(501), &[older]), vec![]);
}

#[test]
fn state_is_dropped_once_incidents_ended_and_the_cooldown_passed() {
    let mut p = policy();
    for i in 0..50 {
        let mut a = cpu_alert(t(0));
        a.key.machine_id = format!("h{i}");
        a.alert_id = crate::alerts::incident_id(&a.key, a.since);
        p.on_event(&event(&a, AlertState::Firing, t(0)), t(0));
        p.on_event(&event(&a, AlertState::Resolved, t(5)), t(5));
    }
    // an incident whose resolved event was lost
    let lost = container_alert(AlertKind::ContainerOom, t(0));
    p.on_event(&event(&lost, AlertState::Firing, t(0)), t(0));
    assert_eq!(p.tracked(), 51);
    p.tick(t(60), &[]);
    assert_eq!(p.tracked(), 51, "within the cooldown and grace everything is kept");
    let later = t(5) + ENDED_GRACE.max(TimeDelta::from_std(COOLDOWN).unwrap());
    p.tick(later, &[]);
    assert_eq!(p.tracked(), 0);
    // a key with an open incident the ticks still list is kept
    let mut p = policy();
    let a = cpu_alert(t(0));
    p.on_event(&event(&a, AlertState::Firing, t(0)), t(0));
    p.tick(t(24 * 3600), std::slice::from_ref(&a));
    assert_eq!(p.tracked(), 1);
}

/// One random incident: which key, gap before it, how long it fires, whether it skips pending.
#[derive(Debug, Clone)]
struct Step {
    key: usize,
    gap: i64,
    duration: i64,
    pending_first: bool,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (0usize..3, 0i64..400, 1i64..400, any::<bool>()).prop_map(|(key, gap, duration, pending_first)| Step {
            key,
            gap,
            duration,
            pending_first,
        }),
        1..40,
    )
}

/// Plays the incidents (sequential per key, interleaved across keys) with a tick every 30 s and
/// returns every decision with the time it was made.
fn play(p: &mut Policy, steps: &[Step]) -> Vec<(DateTime<Utc>, Decision)> {
    let mut timeline = Vec::new(); // (time, alert, state)
    let mut next_free = [0i64; 3];
    let mut clock = 0;
    for s in steps {
        clock += s.gap;
        let start = clock.max(next_free[s.key]);
        let mut a = match s.key {
            0 => cpu_alert(t(start)),
            1 => container_alert(AlertKind::ContainerDied, t(start)),
            _ => container_alert(AlertKind::ContainerUnhealthy, t(start)),
        };
        if s.pending_first {
            timeline.push((start, a.clone(), AlertState::Pending));
        }
        a.firing_since = Some(t(start + 1));
        timeline.push((start + 1, a.clone(), AlertState::Firing));
        timeline.push((start + 1 + s.duration, a.clone(), AlertState::Resolved));
        next_free[s.key] = start + 2 + s.duration;
    }
    timeline.sort_by_key(|(at, _, _)| *at);
    let end = timeline.last().map_or(0, |(at, _, _)| *at);
    let mut out = Vec::new();
    let mut i = 0;
    let mut now = 0;
    while now <= end + 30 {
        while i < timeline.len() && timeline[i].0 <= now {
            let (at, a, state) = &timeline[i];
            out.push((t(*at), p.on_event(&event(a, *state, t(*at)), t(*at))));
            i += 1;
        }
        // the open firing alerts at `now`
        let open: Vec<_> = timeline
            .iter()
            .filter(|(at, _, st)| *st == AlertState::Firing && *at <= now)
            .filter(|(_, a, _)| {
                !timeline
                    .iter()
                    .any(|(at, b, st)| *st == AlertState::Resolved && b.alert_id == a.alert_id && *at <= now)
            })
            .map(|(_, a, _)| a.clone())
            .collect();
        for d in p.tick(t(now), &open) {
            out.push((t(now), d));
        }
        now += 30;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_incident_notifies_at_most_once_each_and_resolved_only_after_firing(steps in steps(), cooldown in 0u64..600) {
        let mut p = Policy::new(Duration::from_secs(cooldown), None);
        let decisions = play(&mut p, &steps);
        let mut seen: HashMap<String, Vec<NotificationKind>> = HashMap::new();
        let mut last_firing: HashMap<crate::alerts::AlertKey, DateTime<Utc>> = HashMap::new();
        for (now, d) in &decisions {
            if let Decision::Notify(n) = d {
                let kinds = seen.entry(n.event.alert_id.clone()).or_default();
                kinds.push(n.kind);
                if n.kind == NotificationKind::Firing {
                    if let Some(prev) = last_firing.insert(n.event.key.clone(), *now) {
                        prop_assert!(*now - prev >= TimeDelta::seconds(cooldown as i64),
                            "two firing notifications of {:?} within the cooldown", n.event.key);
                    }
                }
            }
        }
        for kinds in seen.values() {
            prop_assert!(
                kinds == &[NotificationKind::Firing] || kinds == &[NotificationKind::Firing, NotificationKind::Resolved],
                "{kinds:?}"
            );
        }
    }

    #[test]
    fn without_cooldown_every_incident_gets_exactly_a_firing_and_a_resolved(steps in steps()) {
        let mut p = Policy::new(Duration::ZERO, None);
        let decisions = play(&mut p, &steps);
        let mut per_incident: HashMap<String, Vec<NotificationKind>> = HashMap::new();
        for (_, d) in &decisions {
            match d {
                Decision::Notify(n) => per_incident.entry(n.event.alert_id.clone()).or_default().push(n.kind),
                Decision::Suppress(r) => prop_assert!(false, "suppressed ({r:?}) without cooldown or silence"),
                Decision::Skip => {}
            }
        }
        prop_assert_eq!(per_incident.len(), steps.len());
        for kinds in per_incident.values() {
            prop_assert_eq!(kinds, &vec![NotificationKind::Firing, NotificationKind::Resolved]);
        }
        let after = decisions.last().map_or(t(0), |(at, _)| *at) + ENDED_GRACE;
        p.tick(after, &[]);
        prop_assert_eq!(p.tracked(), 0, "no state left once everything ended");
    }
}
