//! The consumer library's error type.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("shutdown requested before the batch was answered for; its offsets stay uncommitted")]
    Interrupted,
    #[error("{0}")]
    Config(String),
}

pub type Result<T> = std::result::Result<T, Error>;
