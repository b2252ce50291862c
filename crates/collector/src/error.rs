//! The library's one error type.

use std::path::PathBuf;

/// Everything that can go wrong inside the collector library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file under PROC_ROOT, SYS_ROOT or HOST_ROOTFS could not be read.
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// A file was read but its content did not parse.
    #[error("cannot parse {path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// A setting was accepted by the command line but cannot be used.
    #[error("{0}")]
    Config(String),
    /// A Docker API call failed.
    #[error("docker {call}: {source}")]
    Docker {
        call: &'static str,
        source: bollard::errors::Error,
    },
    /// A Docker API call answered with an error or something unexpected.
    #[error("docker {call}: {message}")]
    DockerApi { call: &'static str, message: String },
    /// A Docker API call did not answer within DOCKER_TIMEOUT (or the tick's budget).
    #[error("docker {call}: no answer within {after:?}")]
    DockerTimeout {
        call: &'static str,
        after: std::time::Duration,
    },
    /// Kafka refused a setting or an operation.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The ops HTTP server could not start.
    #[error("{0}")]
    Serve(std::io::Error),
    /// `simulate` finished but Kafka did not acknowledge every record.
    #[error("{0} records were not delivered to Kafka")]
    Undelivered(u64),
    /// A blocking task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Read {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parse(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Error::Parse {
            path: path.into(),
            message: message.to_string(),
        }
    }
}
