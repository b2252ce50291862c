//! Property tests: arbitrary valid rules against arbitrary sequences of samples (values around
//! the thresholds, timing gaps, out-of-order records, missing values), Docker events, ticks and
//! rule changes.

use common::wire::{EventKind, Record};
use proptest::prelude::*;

use super::support::*;
use crate::{
    AlertEvent, AlertState, Direction, Engine, EngineConfig, EngineState, MachineKind, Metric, Rule, RuleSet, Scope,
    Severity, SubjectKind, FOR_DURATION_SLACK,
};

/// Any valid rule (id 1) on any metric, with integer raise/clear values so that samples hit the
/// boundaries exactly, and a scope that covers host `h1` / container `c1` named `web`.
fn arb_rule() -> impl Strategy<Value = Rule> {
    (
        prop::sample::select(Metric::ALL.to_vec()),
        any::<bool>(),
        0u32..=100,
        0u32..=20,
        prop::sample::select(vec![0u32, 1, 2, 5]),
        prop::sample::select(vec![Severity::Info, Severity::Warning, Severity::Critical]),
        0usize..4,
    )
        .prop_map(|(metric, above, raise, band, for_secs, severity, pick)| {
            let (direction, raise, band) = (
                if above { Direction::Above } else { Direction::Below },
                f64::from(raise),
                f64::from(band),
            );
            let clear = if above { raise - band } else { raise + band };
            let scope = match (metric.machine_kind(), pick) {
                (MachineKind::Host, 0 | 1) => Scope::AllHosts,
                (MachineKind::Host, _) => Scope::Machine { id: "h1".into() },
                (MachineKind::Container, 0) => Scope::AllContainers,
                (MachineKind::Container, 1) => Scope::Machine { id: "c1".into() },
                (MachineKind::Container, 2) => Scope::ContainerName { pattern: "web".into() },
                (MachineKind::Container, _) => Scope::ContainerName { pattern: "w*b".into() },
            };
            Rule {
                id: 1,
                metric,
                direction,
                raise,
                clear,
                for_secs,
                severity,
                scope,
                enabled: true,
            }
        })
}

fn subject(metric: Metric) -> &'static str {
    match metric.subject_kind() {
        SubjectKind::Machine => "",
        SubjectKind::Mount => "/data",
        SubjectKind::Sensor => "cpu",
    }
}

/// A record of host h1 (with container c1 `web`) carrying one value of the rule's metric.
fn sample(rule: &Rule, ms: i64, value: Option<f64>) -> Record {
    let mut r = record("h1", ms);
    r.containers.push(container("c1", "web"));
    set(&mut r, rule.metric, subject(rule.metric), value);
    r
}

/// Gaps between samples: mostly forward (often in quarter seconds, so that sample times land
/// exactly on the for-duration), sometimes none (a record as old as the newest) or backwards.
fn arb_gap() -> impl Strategy<Value = i64> {
    prop_oneof![
        5 => (1i64..12).prop_map(|q| q * 250),
        3 => 1i64..3_000,
        1 => Just(0),
        1 => -2_000i64..0,
    ]
}

/// A value near the raise value (never negative: byte and count metrics are unsigned), or
/// not measured.
fn arb_value_near(raise: f64) -> impl Strategy<Value = Option<f64>> {
    prop_oneof![1 => Just(None), 6 => (-25i32..=25).prop_map(move |d| Some((raise + f64::from(d)).max(0.0)))]
}

fn rule_and_samples() -> impl Strategy<Value = (Rule, Vec<(i64, Option<f64>)>)> {
    arb_rule().prop_flat_map(|rule| {
        let steps = prop::collection::vec((arb_gap(), arb_value_near(rule.raise)), 1..60);
        (Just(rule), steps)
    })
}

/// The open incident of the one key under test: (alert id, state, opened at).
type Open = Option<(String, AlertState, i64)>;

fn open_of(engine: &Engine) -> Open {
    let active = engine.active();
    assert!(active.len() <= 1, "one key, one open alert at most: {active:?}");
    active
        .first()
        .map(|a| (a.alert_id.clone(), a.state, (a.since - t(0)).num_milliseconds()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// One rule, one key: every transition the engine makes (or must make) on each sample.
    #[test]
    fn threshold_lifecycle_follows_the_rule((rule, steps) in rule_and_samples()) {
        let rules = RuleSet::new(vec![rule.clone()]).unwrap();
        let mut engine = Engine::default();
        let mut life = Lifecycle::default();
        // The for-duration as the engine counts it: sample-time jitter is forgiven up to the slack.
        let for_ms = i64::from(rule.for_secs) * 1000 - FOR_DURATION_SLACK.num_milliseconds();
        let (mut now, mut newest): (i64, Option<i64>) = (0, None);
        // Measured values of accepted samples since the open incident opened.
        let mut since_open: Vec<(i64, f64)> = Vec::new();
        for (gap, value) in steps {
            now += gap;
            let accepted = newest.is_none_or(|n| now > n);
            if accepted {
                newest = Some(now);
            }
            let before = open_of(&engine);
            let events = engine.observe(&rules, &sample(&rule, now, value), t(now));
            life.check(&events).map_err(TestCaseError::fail)?;
            life.check_active(&engine).map_err(TestCaseError::fail)?;
            let after = open_of(&engine);
            prop_assert!(events.len() <= 1, "one key, one change per sample: {events:?}");
            let Some(v) = value.filter(|_| accepted) else {
                prop_assert!(events.is_empty(), "a missing value or an older record changed something: {events:?}");
                prop_assert_eq!(before, after);
                continue;
            };
            if before.is_none() && after.is_some() {
                since_open.clear();
            }
            since_open.push((now, v));
            for e in &events {
                prop_assert_eq!(e.value, Some(v));
                prop_assert_eq!(e.at, t(now));
                prop_assert_eq!(e.severity, rule.severity);
                prop_assert_eq!((e.metric, e.threshold), (Some(rule.metric), Some(rule.raise)));
                prop_assert_eq!(e.key.subject.as_str(), subject(rule.metric));
                if e.state == AlertState::Firing {
                    // Fires only after the value stayed beyond raise for the for-duration.
                    let since = (e.since - t(0)).num_milliseconds();
                    prop_assert!(now - since >= for_ms, "fired after {} ms < {for_ms}", now - since);
                    prop_assert!(since_open.iter().all(|&(_, v)| rule.raises(v)), "{since_open:?}");
                    prop_assert_eq!(since_open.first().map(|s| s.0), Some(since));
                }
            }
            let same = |a: &Open| a.as_ref().map(|o| o.0.clone()) == before.as_ref().map(|o| o.0.clone());
            match (&before, rule.raises(v), rule.clears(v)) {
                (None, true, _) => {
                    let want = if rule.for_secs == 0 { AlertState::Firing } else { AlertState::Pending };
                    prop_assert_eq!(after.as_ref().map(|a| (a.1, a.2)), Some((want, now)));
                }
                (None, false, _) => prop_assert_eq!(&after, &None),
                (Some((_, AlertState::Pending, since)), true, _) => {
                    let want = if now - since >= for_ms { AlertState::Firing } else { AlertState::Pending };
                    let state = after.as_ref().map(|a| a.1);
                    prop_assert!(same(&after) && state == Some(want), "{before:?} → {after:?}");
                }
                (Some((_, AlertState::Pending, _)), false, _) => prop_assert_eq!(&after, &None),
                (Some((_, AlertState::Firing, _)), _, true) => prop_assert_eq!(&after, &None),
                (Some((_, AlertState::Firing, _)), _, false) => {
                    prop_assert!(same(&after) && after.as_ref().map(|a| a.1) == Some(AlertState::Firing));
                }
                (Some(other), _, _) => prop_assert!(false, "open alert in state {other:?}"),
            }
        }
    }

    /// After firing, a value that goes back and forth across the raise value but never beyond
    /// the clear value (missing values and long gaps included) fires exactly once.
    #[test]
    fn oscillating_between_clear_and_raise_fires_exactly_once(
        rule in arb_rule(),
        wiggle in prop::collection::vec(
            (1i64..5_000, prop_oneof![Just(None), (0u32..=1_000).prop_map(Some)]),
            0..60,
        ),
    ) {
        let rules = RuleSet::new(vec![rule.clone()]).unwrap();
        let mut engine = Engine::default();
        let mut events: Vec<AlertEvent> = Vec::new();
        let beyond = |d: f64| match rule.direction {
            Direction::Above => rule.raise + d,
            Direction::Below => rule.raise - d,
        };
        let mut now = 0;
        // Beyond raise for the whole for-duration: it fires.
        for _ in 0..=rule.for_secs {
            let r = sample(&rule, now, Some(beyond(1.0).max(0.0)));
            events.extend(engine.observe(&rules, &r, t(now)));
            now += 1000;
        }
        for (gap, pick) in wiggle {
            now += gap;
            // Anywhere from the clear value (inclusive) to 10 beyond the raise value.
            let value = pick.map(|p| {
                let span = (rule.raise - rule.clear).abs() + 10.0;
                let toward_raise = span * f64::from(p) / 1000.0;
                match rule.direction {
                    Direction::Above => rule.clear + toward_raise,
                    Direction::Below => rule.clear - toward_raise,
                }
            });
            let value = value.filter(|v| *v >= 0.0 && !rule.clears(*v));
            events.extend(engine.observe(&rules, &sample(&rule, now, value), t(now)));
        }
        let count = |s: AlertState| events.iter().filter(|e| e.state == s).count();
        if beyond(1.0) < 0.0 {
            // A `below 0` rule cannot be breached by an unsigned value: nothing at all.
            prop_assert!(events.is_empty());
            return Ok(());
        }
        prop_assert_eq!(count(AlertState::Firing), 1, "{:?}", events);
        prop_assert_eq!(count(AlertState::Pending), usize::from(rule.for_secs > 0));
        prop_assert_eq!(count(AlertState::Resolved) + count(AlertState::Cancelled), 0);
        prop_assert_eq!(engine.active().len(), 1);
    }
}

// ---- whole-engine scenarios: several hosts, containers, Docker events, ticks, rule changes ----

#[derive(Debug, Clone)]
struct ContainerPick {
    name: usize,
    generation: u8,
    running: bool,
    health: Option<&'static str>,
}

#[derive(Debug, Clone)]
struct EventPick {
    kind: EventKind,
    name: usize,
    generation: u8,
    exit_code: i64,
}

#[derive(Debug, Clone)]
enum Step {
    Record {
        host: usize,
        /// Moves the engine's clock; the record is sampled `late_ms` before it.
        advance_ms: i64,
        late_ms: i64,
        values: [Option<f64>; 4],
        all_zero: bool,
        containers: Vec<ContainerPick>,
        events: Vec<EventPick>,
    },
    Tick {
        advance_ms: i64,
    },
    /// Per rule: 0 keep as first given, 1 disable, 2 delete, 3 raise moved by 5 (still valid).
    SetRules(Vec<u8>),
}

const HOSTS: [&str; 2] = ["h1", "h2"];
const NAMES: [&str; 3] = ["web", "db", "wab"];

fn arb_step(rules: usize) -> impl Strategy<Value = Step> {
    let value = prop_oneof![1 => Just(None), 4 => (0u32..=120).prop_map(|v| Some(f64::from(v)))];
    let container =
        (0..NAMES.len(), 0u8..2, prop::bool::weighted(0.8), 0usize..4).prop_map(|(name, generation, running, h)| {
            ContainerPick {
                name,
                generation,
                running,
                health: [None, Some("healthy"), Some("unhealthy"), Some("starting")][h],
            }
        });
    let kinds = vec![
        EventKind::ContainerStarted,
        EventKind::ContainerDied,
        EventKind::ContainerOom,
        EventKind::ContainerUnhealthy,
        EventKind::ContainerHealthy,
        EventKind::ContainerRemoved,
    ];
    let event = (prop::sample::select(kinds), 0..NAMES.len(), 0u8..2, 0i64..3).prop_map(
        |(kind, name, generation, exit_code)| EventPick {
            kind,
            name,
            generation,
            exit_code,
        },
    );
    // Times move in steps of 10 ms so that event times of different records never coincide.
    let record = (
        0..HOSTS.len(),
        (0i64..400).prop_map(|x| x * 10),
        prop_oneof![6 => Just(0i64), 1 => (1i64..200).prop_map(|x| x * 10)],
        [value.clone(), value.clone(), value.clone(), value],
        prop::bool::weighted(0.15),
        prop::collection::vec(container, 0..3),
        prop::collection::vec(event, 0..3),
    )
        .prop_map(
            |(host, advance_ms, late_ms, values, all_zero, containers, events)| Step::Record {
                host,
                advance_ms,
                late_ms,
                values,
                all_zero,
                containers,
                events,
            },
        );
    prop_oneof![
        12 => record,
        2 => (0i64..2_000).prop_map(|x| Step::Tick { advance_ms: x * 10 }),
        1 => prop::collection::vec(0u8..4, rules).prop_map(Step::SetRules),
    ]
}

fn scenario() -> impl Strategy<Value = (Vec<Rule>, Vec<Step>, prop::sample::Index)> {
    prop::collection::vec(arb_rule(), 1..6).prop_flat_map(|mut rules| {
        for (i, r) in rules.iter_mut().enumerate() {
            r.id = i as u64 + 1;
        }
        let n = rules.len();
        (
            Just(rules),
            prop::collection::vec(arb_step(n), 1..50),
            any::<prop::sample::Index>(),
        )
    })
}

fn container_id(host: usize, name: usize, generation: u8) -> String {
    format!("{}-{}-{generation}", HOSTS[host], NAMES[name])
}

fn build_record(
    host: usize,
    ms: i64,
    values: &[Option<f64>; 4],
    all_zero: bool,
    containers: &[ContainerPick],
    events: &[EventPick],
) -> Record {
    let mut r = record(HOSTS[host], ms);
    let mut seen = Vec::new();
    for c in containers {
        if seen.contains(&c.name) {
            continue; // one container per name in a sample
        }
        seen.push(c.name);
        let mut s = container(&container_id(host, c.name, c.generation), NAMES[c.name]);
        s.state = if c.running { "running" } else { "exited" }.into();
        s.health = c.health.map(str::to_owned);
        r.containers.push(s);
    }
    for (i, &metric) in Metric::ALL.iter().enumerate() {
        set(&mut r, metric, subject(metric), values[i % 4]);
        if metric.subject_kind() == SubjectKind::Mount {
            set(&mut r, metric, "/", values[(i + 1) % 4]);
        }
    }
    if all_zero {
        r.host.cpu_percent = Some(0.0);
        r.host.mem_used_bytes = Some(0);
        r.host.disk_read_bytes_per_sec = Some(0.0);
        r.host.disk_write_bytes_per_sec = Some(0.0);
    }
    for (i, e) in events.iter().enumerate() {
        r.events.push(event(
            e.kind,
            &container_id(host, e.name, e.generation),
            NAMES[e.name],
            (e.kind == EventKind::ContainerDied).then_some(e.exit_code),
            ms + i as i64 * 3 - 4,
        ));
    }
    r
}

fn rule_set(base: &[Rule], changes: &[u8]) -> RuleSet {
    let rules = base
        .iter()
        .zip(changes)
        .filter(|(_, &c)| c != 2)
        .map(|(r, &c)| match c {
            1 => Rule {
                enabled: false,
                ..r.clone()
            },
            3 => Rule {
                raise: match r.direction {
                    Direction::Above => r.raise + 5.0,
                    Direction::Below => r.raise - 5.0,
                },
                ..r.clone()
            },
            _ => r.clone(),
        })
        .collect();
    RuleSet::new(rules).unwrap()
}

/// Runs `steps` on `engine`, from the clock and rules given; returns every step's events.
fn drive(
    engine: &mut Engine,
    base: &[Rule],
    steps: &[Step],
    clock: &mut i64,
    rules: &mut RuleSet,
    life: Option<&mut Lifecycle>,
) -> Result<Vec<Vec<AlertEvent>>, TestCaseError> {
    let mut all = Vec::new();
    let mut life = life;
    for step in steps {
        let events = match step {
            Step::Record {
                host,
                advance_ms,
                late_ms,
                values,
                all_zero,
                containers,
                events,
            } => {
                *clock += advance_ms;
                let r = build_record(*host, *clock - late_ms, values, *all_zero, containers, events);
                engine.observe(rules, &r, t(*clock))
            }
            Step::Tick { advance_ms } => {
                *clock += advance_ms;
                engine.tick(t(*clock))
            }
            Step::SetRules(changes) => {
                *rules = rule_set(base, changes);
                engine.set_rules(rules, t(*clock))
            }
        };
        if let Some(life) = life.as_deref_mut() {
            life.check(&events).map_err(TestCaseError::fail)?;
            life.check_active(engine).map_err(TestCaseError::fail)?;
        }
        all.push(events);
    }
    Ok(all)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever happens: one open alert per key, `resolved` only after `firing` and `cancelled`
    /// only after `pending` of the same incident, and the active list is exactly what the events
    /// left open. A snapshot taken anywhere, saved in parts and restored, continues with the same
    /// events, the same active alerts and the same state as the uninterrupted run.
    #[test]
    fn any_scenario_keeps_the_lifecycle_and_survives_a_restart((base, steps, split) in scenario()) {
        let initial = RuleSet::new(base.clone()).unwrap();
        let mut whole = Engine::new(EngineConfig::default());
        let (mut clock, mut rules) = (0, initial.clone());
        let mut life = Lifecycle::default();
        let uninterrupted = drive(&mut whole, &base, &steps, &mut clock, &mut rules, Some(&mut life))?;

        let k = split.index(steps.len() + 1);
        let mut first = Engine::new(EngineConfig::default());
        let (mut clock, mut rules) = (0, initial);
        let mut events = drive(&mut first, &base, &steps[..k], &mut clock, &mut rules, None)?;
        // Saved as the state saver writes it: a header and one JSON document per machine.
        let (header, parts) = crate::persist::SavedParts::all_parts(&first.snapshot());
        drop(first);
        let (state, skipped) = EngineState::from_parts(&header, parts).unwrap();
        prop_assert_eq!(skipped, 0);
        let mut second = Engine::restore(EngineConfig::default(), state);
        events.extend(drive(&mut second, &base, &steps[k..], &mut clock, &mut rules, None)?);

        prop_assert_eq!(&events, &uninterrupted);
        prop_assert_eq!(second.active(), whole.active());
        prop_assert_eq!(second.snapshot(), whole.snapshot());
    }
}

#[test]
fn scenarios_do_produce_every_kind_of_event() {
    // Guards the generators above: a scenario test that never fires anything would prove nothing.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let (base, steps, _) = scenario().new_tree(&mut runner).unwrap().current();
        let mut engine = Engine::default();
        let (mut clock, mut rules) = (0, RuleSet::new(base.clone()).unwrap());
        for events in drive(&mut engine, &base, &steps, &mut clock, &mut rules, None).unwrap() {
            seen.extend(events.iter().map(|e| (e.key.kind, e.state)));
        }
    }
    use crate::AlertKind::*;
    use AlertState::*;
    for want in [
        (Threshold, Pending),
        (Threshold, Firing),
        (Threshold, Resolved),
        (Threshold, Cancelled),
        (Stale, Firing),
        (Stale, Resolved),
        (ContainerDied, Firing),
        (ContainerDied, Resolved),
        (ContainerOom, Firing),
        (ContainerUnhealthy, Resolved),
        (ContainerIdChanged, Info),
        (ZeroValue, Firing),
        (ZeroValue, Resolved),
    ] {
        assert!(seen.contains(&want), "no {want:?} in 200 scenarios: {seen:?}");
    }
}
