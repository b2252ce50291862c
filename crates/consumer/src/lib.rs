//! The consumer: a Kafka consumer group with manual commits that forwards records in batches to
//! the api-backend over HTTP, commits an offset only once the backend answered for every record
//! up to it, and sends records the backend judged invalid (or that are not JSON) to a dead-letter
//! topic with the reason in a header.

pub mod app;
pub mod batch;
pub mod config;
pub mod dlq;
pub mod error;
pub mod forwarder;
pub mod metrics;
pub mod source;
