//! Harness for the end-to-end tests: finds the real binaries built by `cargo build --workspace
//! --bins`, reads where the real services are (`scripts/services.sh` writes them to an env
//! file), makes each test its own database, topic, consumer group and ports, starts and stops
//! the binaries as child processes, and polls for outcomes with deadlines.

pub mod broker;
pub mod checks;
pub mod disk;
pub mod docker;
pub mod kafka;
pub mod mysql;
pub mod procs;
pub mod proxy;
pub mod records;
pub mod services;
pub mod sse;
pub mod stored;
pub mod wait;

pub use procs::{free_port, metric_value, Pipeline, Proc, Stack};
pub use services::{scratch, Services, TestDb};
pub use wait::wait_until;
