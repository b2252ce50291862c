//! Which alert events become notifications: pure (no I/O, no clock; `now` is an argument) and
//! deterministic.
//!
//! - `firing` notifies, unless a [`Silence`] matches or the **cooldown** holds it back: a new
//!   firing of a key within the cooldown of that key's previous firing notification is held back
//!   (flapping protection). A held-back incident that is still firing when the hold no longer
//!   applies (cooldown over, silence ended) is announced by the next [`Policy::tick`], so an
//!   alert that keeps firing is never hidden for good.
//! - `resolved` notifies only for an incident whose firing was notified (and is not silenced
//!   now); the cooldown never delays it.
//! - `info` (one-shot kinds such as `container_id_changed`) notifies, under silences and the
//!   cooldown like a firing.
//! - `pending` and `cancelled` never notify.
//! - [`Policy::tick`] with the open alerts sends a **reminder** for an incident still firing
//!   whose last notification is older than the repeat interval. An incident the policy has never
//!   heard of (opened before a restart, or its event was dropped) is judged like a new firing.
//!
//! Memory: one small entry per key with an open incident, plus entries kept for the cooldown
//! and, for [`ENDED_GRACE`], the last ended incident (so that an older snapshot of the open
//! alerts cannot bring it back). Idle entries are dropped by ticks and whenever the map doubles.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::silence::Silence;
use crate::{ActiveAlert, AlertEvent, AlertKey, AlertState};

/// How long the end of an incident is remembered, and how long an incident missing from the
/// open alerts of ticks is kept (its `resolved` may still be on its way).
pub const ENDED_GRACE: TimeDelta = TimeDelta::minutes(5);

/// What a notification tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationKind {
    Firing,
    Resolved,
    /// The incident is still firing (sent every repeat interval).
    Reminder,
    /// A one-shot notice.
    Info,
}

impl NotificationKind {
    /// `firing`, `resolved`, `reminder` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Firing => "firing",
            NotificationKind::Resolved => "resolved",
            NotificationKind::Reminder => "reminder",
            NotificationKind::Info => "info",
        }
    }
}

/// One notification to deliver.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub kind: NotificationKind,
    /// The event (for reminders and announcements on a tick: built from the open alert).
    pub event: AlertEvent,
}

/// Why a notification was held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suppression {
    Cooldown,
    Silenced,
}

impl Suppression {
    /// `cooldown` or `silenced` (the metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            Suppression::Cooldown => "cooldown",
            Suppression::Silenced => "silenced",
        }
    }
}

/// The policy's answer for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Notify(Box<Notification>),
    /// A notification was held back (count it).
    Suppress(Suppression),
    /// Nothing to notify or count: pending, cancelled, a repeat of what was already decided.
    Skip,
}

/// Whether an open incident was announced.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Announce {
    /// Just opened; [`Policy::announce`] decides next.
    Undecided,
    /// Notified; `last` is the latest firing or reminder notification.
    Done { last: DateTime<Utc> },
    /// Held back for this reason (counted once per reason).
    Held(Suppression),
}

#[derive(Debug, Clone)]
struct Incident {
    alert_id: String,
    since: DateTime<Utc>,
    announce: Announce,
    /// When an event or a tick last showed it open.
    seen: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
struct KeyState {
    /// The latest firing or info notification of the key: the cooldown runs from here.
    last_announced: Option<DateTime<Utc>>,
    open: Option<Incident>,
    /// The incident that ended last, and when.
    ended: Option<(String, DateTime<Utc>)>,
}

impl KeyState {
    fn idle(&self, now: DateTime<Utc>, cooldown: TimeDelta) -> bool {
        self.open.is_none()
            && self.last_announced.is_none_or(|t| now - t >= cooldown)
            && self.ended.as_ref().is_none_or(|(_, t)| now - *t >= ENDED_GRACE)
    }

    fn is_ended(&self, alert_id: &str) -> bool {
        self.ended.as_ref().is_some_and(|(id, _)| id == alert_id)
    }
}

/// The notification policy of one notifier.
#[derive(Debug, Clone)]
pub struct Policy {
    cooldown: TimeDelta,
    repeat: Option<TimeDelta>,
    silences: Vec<Silence>,
    keys: HashMap<AlertKey, KeyState>,
    /// Idle entries are dropped when the map reaches this size.
    prune_at: usize,
}

const MIN_PRUNE_AT: usize = 1024;

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl Policy {
    /// A policy with this cooldown and reminder interval (`None`: no reminders).
    pub fn new(cooldown: Duration, repeat: Option<Duration>) -> Self {
        Policy {
            cooldown: delta(cooldown),
            repeat: repeat.filter(|d| !d.is_zero()).map(delta),
            silences: Vec::new(),
            keys: HashMap::new(),
            prune_at: MIN_PRUNE_AT,
        }
    }

    /// Replaces the silences.
    pub fn set_silences(&mut self, silences: Vec<Silence>) {
        self.silences = silences;
    }

    /// Keys the policy keeps state for (bounded: see the module notes).
    pub fn tracked(&self) -> usize {
        self.keys.len()
    }

    /// Decides about one event of the engine, seen at `now`.
    pub fn on_event(&mut self, event: &AlertEvent, now: DateTime<Utc>) -> Decision {
        if self.keys.len() >= self.prune_at {
            self.prune(now, None);
            self.prune_at = (self.keys.len() * 2).max(MIN_PRUNE_AT);
        }
        match event.state {
            AlertState::Pending | AlertState::Cancelled => Decision::Skip,
            AlertState::Firing => self.firing(event, now),
            AlertState::Resolved => self.resolved(event, now),
            AlertState::Info => self.info(event, now),
        }
    }

    fn silenced(&self, key: &AlertKey, host_id: Option<&str>, now: DateTime<Utc>) -> bool {
        self.silences.iter().any(|s| s.matches(key, host_id, now))
    }

    /// Why a firing or info notification of `key` must wait, if it must.
    fn hold(&self, key: &AlertKey, host_id: Option<&str>, now: DateTime<Utc>) -> Option<Suppression> {
        if self.silenced(key, host_id, now) {
            return Some(Suppression::Silenced);
        }
        let last = self.keys.get(key).and_then(|st| st.last_announced);
        last.is_some_and(|t| now - t < self.cooldown)
            .then_some(Suppression::Cooldown)
    }

    /// Announces the open incident of `key` as firing with `event`, or holds it back.
    fn announce(&mut self, event: AlertEvent, now: DateTime<Utc>) -> Decision {
        let hold = self.hold(&event.key, event.host_id.as_deref(), now);
        let st = self.keys.get_mut(&event.key).expect("announce follows an entry");
        let inc = st.open.as_mut().expect("announce follows an open incident");
        match hold {
            None => {
                inc.announce = Announce::Done { last: now };
                st.last_announced = Some(now);
                Decision::Notify(Box::new(Notification {
                    kind: NotificationKind::Firing,
                    event,
                }))
            }
            Some(reason) if inc.announce == Announce::Held(reason) => Decision::Skip,
            Some(reason) => {
                inc.announce = Announce::Held(reason);
                Decision::Suppress(reason)
            }
        }
    }

    fn firing(&mut self, event: &AlertEvent, now: DateTime<Utc>) -> Decision {
        let st = self.keys.entry(event.key.clone()).or_default();
        if st.is_ended(&event.alert_id) {
            return Decision::Skip;
        }
        match &mut st.open {
            Some(inc) if inc.alert_id == event.alert_id => {
                inc.seen = inc.seen.max(now);
                if matches!(inc.announce, Announce::Done { .. }) {
                    return Decision::Skip; // already announced (by a tick that saw it first)
                }
            }
            Some(inc) if inc.since > event.since => return Decision::Skip, // a newer one is open
            // A new incident; one still recorded for the key ended without us hearing of it.
            open => *open = Some(Incident::new(&event.alert_id, event.since, now)),
        }
        self.announce(event.clone(), now)
    }

    fn resolved(&mut self, event: &AlertEvent, now: DateTime<Utc>) -> Decision {
        let silenced = self.silenced(&event.key, event.host_id.as_deref(), now);
        let Some(st) = self.keys.get_mut(&event.key) else {
            return Decision::Skip;
        };
        let Some(inc) = st.open.take_if(|inc| inc.alert_id == event.alert_id) else {
            return Decision::Skip; // its firing was never seen: nothing was announced
        };
        st.ended = Some((inc.alert_id, now));
        match inc.announce {
            Announce::Held(reason) => Decision::Suppress(reason),
            Announce::Undecided => Decision::Skip,
            Announce::Done { .. } if silenced => Decision::Suppress(Suppression::Silenced),
            Announce::Done { .. } => Decision::Notify(Box::new(Notification {
                kind: NotificationKind::Resolved,
                event: event.clone(),
            })),
        }
    }

    fn info(&mut self, event: &AlertEvent, now: DateTime<Utc>) -> Decision {
        if let Some(reason) = self.hold(&event.key, event.host_id.as_deref(), now) {
            return Decision::Suppress(reason);
        }
        self.keys.entry(event.key.clone()).or_default().last_announced = Some(now);
        Decision::Notify(Box::new(Notification {
            kind: NotificationKind::Info,
            event: event.clone(),
        }))
    }

    /// Reminders for incidents still firing, announcements of held-back incidents whose hold
    /// ended, and of firing incidents the policy never heard of; then drops state no longer
    /// needed. `active` is the engine's list of open alerts, taken at about `now`.
    pub fn tick(&mut self, now: DateTime<Utc>, active: &[ActiveAlert]) -> Vec<Decision> {
        let mut out = Vec::new();
        let mut firing = HashSet::new();
        for a in active.iter().filter(|a| a.state == AlertState::Firing) {
            firing.insert(a.alert_id.as_str());
            let st = self.keys.entry(a.key.clone()).or_default();
            if st.is_ended(&a.alert_id) {
                continue; // the snapshot was taken before its resolved event arrived
            }
            match &mut st.open {
                Some(inc) if inc.alert_id == a.alert_id => inc.seen = inc.seen.max(now),
                Some(inc) if inc.since > a.since => continue, // an older snapshot
                open => *open = Some(Incident::new(&a.alert_id, a.since, now)),
            }
            let inc = st.open.as_mut().expect("set above");
            match inc.announce {
                Announce::Done { last } => {
                    if self.repeat.is_some_and(|repeat| now - last >= repeat) {
                        inc.announce = Announce::Done { last: now };
                        if self.silences.iter().any(|s| s.matches_alert(a, now)) {
                            out.push(Decision::Suppress(Suppression::Silenced));
                        } else {
                            out.push(Decision::Notify(Box::new(Notification {
                                kind: NotificationKind::Reminder,
                                event: event_of(a, now),
                            })));
                        }
                    }
                }
                Announce::Undecided | Announce::Held(_) => {
                    let at = a.firing_since.unwrap_or(a.since);
                    match self.announce(event_of(a, at), now) {
                        Decision::Skip => {}
                        d => out.push(d),
                    }
                }
            }
        }
        self.prune(now, Some(&firing));
        out
    }

    /// Drops idle entries and, when `firing` (the ids of the open firing alerts) is given,
    /// incidents not among them for longer than [`ENDED_GRACE`] (their end was missed).
    fn prune(&mut self, now: DateTime<Utc>, firing: Option<&HashSet<&str>>) {
        let cooldown = self.cooldown;
        self.keys.retain(|_, st| {
            if let (Some(firing), Some(inc)) = (firing, &st.open) {
                if !firing.contains(inc.alert_id.as_str()) && now - inc.seen >= ENDED_GRACE {
                    st.open = None;
                }
            }
            !st.idle(now, cooldown)
        });
    }
}

impl Incident {
    fn new(alert_id: &str, since: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        Incident {
            alert_id: alert_id.to_owned(),
            since,
            announce: Announce::Undecided,
            seen: now,
        }
    }
}

/// The firing event of an open alert, dated `at`, with its latest value.
fn event_of(a: &ActiveAlert, at: DateTime<Utc>) -> AlertEvent {
    a.event(AlertState::Firing, at, a.value)
}
