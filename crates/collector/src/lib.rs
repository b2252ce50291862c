//! The collector: samples the host (`/proc`, `/sys`, statvfs) and its Docker containers on a
//! fixed tick and produces one JSON record per tick (wire format v1, `common::Record`) to Kafka,
//! keyed by host id. `collector simulate` produces synthetic records through the same path.
//!
//! Layout: [`config`] (flags + env), [`host`] (procfs/sysfs sampling), [`docker`] (stats,
//! inspect, events), [`rates`], [`tick`] (the fixed tick and the record), [`producer`] and
//! [`sink`] (Kafka or stdout), [`simulate`], [`metrics`], [`identity`], and [`app`] (wiring).

pub mod app;
pub mod config;
pub mod docker;
pub mod error;
pub mod host;
pub mod identity;
pub mod metrics;
pub mod producer;
pub mod rates;
pub mod simulate;
pub mod sink;
pub mod tick;

#[cfg(test)]
mod testutil;

pub use error::{Error, Result};
