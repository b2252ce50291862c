//! The alert engine: pure and deterministic, in a crate of its own that depends on no I/O crate
//! (no runtime, network or database), so that stays true. Given threshold [`Rule`]s (as a [`RuleSet`]), its
//! own [`EngineState`], one newly stored [`Record`](common::wire::Record) or a clock tick, and
//! `now`, the [`Engine`] returns the [`AlertEvent`]s of every alert state change. It reads no
//! clock, does no I/O and touches no database: callers persist events and snapshots, wire it
//! into ingest, and stream the events.
//!
//! - [`metric`]: the watchable metrics and their stable names (`host.cpu_percent`, ...).
//! - [`rules`], [`scope`]: threshold rules (raise/clear hysteresis, for-duration, severity,
//!   scope) and their validation.
//! - [`ruleset`]: validated rules indexed by machine kind, id and name.
//! - [`extract`]: the values of a record per metric and subject (mount, sensor).
//! - [`threshold`]: the threshold lifecycle pending → firing → resolved (or cancelled).
//! - [`builtin`]: stale hosts, container died/oom/unhealthy, re-created containers, zero values.
//! - [`event`]: events, active alerts, alert keys and incident ids, the compat `messageType`s.
//! - [`state`]: what the engine remembers and persists.
//! - [`engine`]: the [`Engine`] tying them together.
//! - [`reorder`]: each host's records back in sample-time order before the engine sees them.
//! - [`persist`]: the persistence API: the changed machine parts a save writes.
//! - [`silence`], [`policy`]: silences and the notification policy (which events notify, the
//!   cooldown, reminders): the decisions of the notifier, without its delivery.

pub mod builtin;
pub mod engine;
pub mod event;
pub mod extract;
pub mod metric;
pub mod persist;
pub mod policy;
pub mod reorder;
pub mod rules;
pub mod ruleset;
pub mod scope;
pub mod silence;
pub mod state;
pub mod threshold;

#[cfg(test)]
mod tests;

pub use builtin::EngineConfig;
pub use engine::Engine;
pub use event::{incident_id, ActiveAlert, AlertEvent, AlertKey, AlertKind, AlertState, Cause};
pub use metric::{MachineKind, Metric, SubjectKind, UnknownMetric};
pub use reorder::Reorder;
pub use rules::{Direction, Rule, RuleError, Severity, FOR_DURATION_SLACK};
pub use ruleset::{RuleSet, RuleSetError};
pub use scope::{glob_match, Scope};
pub use state::{BadHeader, EngineState, MachinePart};
