//! Shared pieces of the monitoring pipeline: the Kafka wire format (v1) with its validation, the
//! original system's record format (`compat`),
//! configuration helpers (required settings, `KAFKA_*` pass-through, durations), and the small
//! operational HTTP surface (`/health/*`, `/metrics`) every binary serves and the server loop
//! with its connection limits, shutdown and
//! supervised background tasks, and the one retry backoff.

pub mod backoff;
pub mod compat;
#[cfg(feature = "runtime")]
pub mod config;
#[cfg(feature = "runtime")]
pub mod health;
#[cfg(feature = "runtime")]
pub mod ops;
#[cfg(feature = "runtime")]
pub mod server;
#[cfg(feature = "runtime")]
pub mod shutdown;
#[cfg(feature = "runtime")]
pub mod tasks;
pub mod timefmt;
pub mod validate;
pub mod wire;

pub use wire::{ContainerSample, Event, EventKind, Filesystem, HostSample, Interface, Record};

/// The calling package's directory, for tests' fixture files: the `CARGO_MANIFEST_DIR` cargo
/// sets when it runs a test, else the one the crate was compiled in. (A build directory shared
/// between checkouts reuses test binaries compiled in another checkout, whose compile-time path
/// may be gone.)
#[macro_export]
macro_rules! manifest_dir {
    () => {
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
            || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            std::path::PathBuf::from,
        )
    };
}
