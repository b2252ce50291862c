//! Shared pieces of the monitoring pipeline: the Kafka wire format (v1) with its validation,
//! configuration helpers (required settings, `KAFKA_*` pass-through, durations), and the small
//! operational HTTP surface (`/health/*`, `/metrics`) every binary serves.

pub mod config;
pub mod ops;
pub mod shutdown;
pub mod timefmt;
pub mod validate;
pub mod wire;

pub use wire::{ContainerSample, Event, EventKind, Filesystem, HostSample, Interface, Record};
