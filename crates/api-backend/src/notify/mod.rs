//! Alert notifications: turns the alert engine's events into webhook messages, at most one
//! `firing` and one `resolved` per incident, with a cooldown against flapping, silences,
//! reminders for alerts that keep firing, and delivery that survives a receiver being down.
//!
//! - [`config`]: `ALERT_WEBHOOK_URL`, `ALERT_GENERIC_WEBHOOK_URL`, `ALERT_COOLDOWN_SEC`,
//!   `ALERT_REPEAT_INTERVAL`, `ALERT_NOTIFY_QUEUE`, `ALERT_WEBHOOK_TIMEOUT`.
//! - [`silence`]: silences and their matching; [`policy`]: pure rules deciding which events
//!   notify (no I/O, no clock); both in the `alerts` crate.
//! - [`payload`]: the Slack-style and the generic JSON bodies.
//! - [`delivery`]: ordered delivery with retries to one webhook.
//! - [`sender`]: the running [`Notifier`] and its non-blocking [`NotifierHandle`].
//! - [`metrics`]: the `api_notifications_*` counters and gauge.
//!
//! Wiring: `let notifier = Notifier::spawn(&config.notify, NotifyMetrics::register(&mut
//! registry), shutdown.clone());` then `notifier.publish(&event)` for every event the engine
//! emits, `notifier.tick(now, engine.active())` periodically, and `notifier.set_silences(..)`
//! whenever they change.

pub mod config;
pub mod delivery;
pub mod metrics;
pub mod payload;
pub mod sender;

/// The pure parts, in the alert engine's crate.
pub use alerts::{policy, silence};

#[cfg(test)]
mod tests;

pub use config::{NotifyConfig, WebhookUrl};
pub use delivery::{Tuning, GIVE_UP_AFTER};
pub use metrics::NotifyMetrics;
pub use policy::{Decision, Notification, NotificationKind, Policy, Suppression};
pub use sender::{Notifier, NotifierHandle};
pub use silence::{Silence, SilenceError};
