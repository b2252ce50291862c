//! The api-backend: stores the monitoring records the consumer forwards (wire format v1) in
//! MySQL and serves them over HTTP — the native `/api/v1`, the compat `/api` of the original
//! Java system, `/health/*` and `/metrics`.
//!
//! Layout: [`config`] (settings), [`store`] (MySQL: schema, write and read paths, storage tiers),
//! [`storage`] (the background work on the tiers: compaction, retention, legacy conversion),
//! [`rollup`] (pure bucket aggregation), [`ingest`] (the one ingest service: validate, alert,
//! store, publish), [`compat`] (the Java record format),
//! [`status`] and [`params`] (pure helpers of the queries), [`http`] (routes), [`app`] (wiring),
//! [`metrics`], [`error`]; [`latest`] (every host's newest record) and [`exposition`] (them in
//! Prometheus text format, `/metrics/machines`), [`fleet`] (the fleet at a glance); [`alerts`] (the pure alert engine: rules, lifecycle, built-in
//! alerts), [`notify`] (webhook notifications, cooldown, reminders, silences) and
//! [`alerting`] (the engine wired to ingest, storage, notifications and the live streams).

pub mod alerting;
/// The pure alert engine (its own crate): rules, lifecycle, built-ins, silences, policy.
pub use alerts;
pub mod app;
/// The original Java system's record format (in `common`).
pub use common::compat;
pub mod config;
pub mod error;
pub mod exposition;
pub mod fleet;
pub mod http;
pub mod hub;
pub mod ingest;
pub mod latest;
pub mod metrics;
pub mod notify;
pub mod params;
pub mod rollup;
pub mod status;
pub mod storage;
pub mod store;

pub use app::{build, run, App};
pub use config::Config;
pub use error::{Error, Result};
