//! Command-line flags with environment twins (CONTRACT §1) and their validation.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use common::config::{parse_duration, parse_positive_duration, required};

/// Reads the metrics topic in a consumer group and forwards records to the api-backend.
#[derive(Debug, Clone, Parser)]
#[command(name = "consumer", version, about)]
pub struct Args {
    /// Kafka bootstrap servers, comma list (required).
    #[arg(long, env = "BOOTSTRAP_SERVER")]
    pub bootstrap_server: Option<String>,
    /// Metrics topic.
    #[arg(long, env = "KAFKA_TOPIC_NAME", default_value = "server-metrics")]
    pub topic: String,
    /// Consumer group id.
    #[arg(long, env = "KAFKA_CONSUMER_GROUP_ID", default_value = "metrics-consumer")]
    pub group_id: String,
    /// Dead-letter topic (default: `<topic>.dlq`).
    #[arg(long, env = "KAFKA_DLQ_TOPIC_NAME")]
    pub dlq_topic: Option<String>,
    /// Backend base URL, e.g. http://api-backend:8004 (required).
    #[arg(long, env = "API_BASE_URL")]
    pub api_base_url: Option<String>,
    /// Bearer token sent on ingest requests.
    #[arg(long, env = "API_INGEST_TOKEN", hide_env_values = true)]
    pub ingest_token: Option<String>,
    /// Address of /health/* and /metrics.
    #[arg(long, env = "CONSUMER_LISTEN", default_value = "0.0.0.0:8000")]
    pub listen: SocketAddr,
    /// Most records in one ingest request.
    #[arg(long, env = "BATCH_MAX_RECORDS", default_value_t = 1000)]
    pub batch_max_records: usize,
    /// Most payload bytes in one ingest request.
    #[arg(long, env = "BATCH_MAX_BYTES", default_value_t = 4 << 20)]
    pub batch_max_bytes: usize,
    /// Longest wait to fill a batch after its first record.
    #[arg(long, env = "BATCH_MAX_WAIT", default_value = "200ms", value_parser = parse_duration)]
    pub batch_max_wait: Duration,
    /// A batch goes once no record arrived for this long (so a quiet stream is not held for
    /// BATCH_MAX_WAIT; 0: only BATCH_MAX_WAIT and the size limits close a batch).
    #[arg(long, env = "BATCH_IDLE", default_value = "5ms", value_parser = parse_duration)]
    pub batch_idle: Duration,
    /// Batches forwarded at the same time (offsets are still committed in order).
    #[arg(long, env = "MAX_IN_FLIGHT_BATCHES", default_value_t = 2)]
    pub max_in_flight: usize,
    /// Timeout of one ingest request.
    #[arg(long, env = "INGEST_TIMEOUT", default_value = "30s", value_parser = parse_positive_duration)]
    pub ingest_timeout: Duration,
    /// First retry delay; doubles up to --retry-max, with jitter.
    #[arg(long, env = "RETRY_INITIAL", default_value = "200ms", value_parser = parse_positive_duration)]
    pub retry_initial: Duration,
    /// Longest retry delay.
    #[arg(long, env = "RETRY_MAX", default_value = "30s", value_parser = parse_positive_duration)]
    pub retry_max: Duration,
    /// On SIGTERM, how long the batch in flight may still be retried before exiting uncommitted.
    #[arg(long, env = "SHUTDOWN_GRACE", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// The format of the topic's records: `v1` (srmon collectors), `original` (the original
    /// Java collectors' camelCase records, forwarded to the backend's `POST /api/metrics`) or
    /// `auto` (each record by its keys: `hostId` without `schema` is original), for a topic
    /// both kinds write to during a migration.
    #[arg(long, env = "RECORD_FORMAT", value_enum, default_value_t = RecordFormat::V1)]
    pub record_format: RecordFormat,
}

/// What the topic's records are (RECORD_FORMAT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordFormat {
    V1,
    Original,
    Auto,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub bootstrap_server: String,
    pub topic: String,
    pub group_id: String,
    pub dlq_topic: String,
    pub ingest_url: String,
    /// The backend's `POST /api/metrics`, for records in the original format.
    pub compat_url: String,
    pub record_format: RecordFormat,
    pub ingest_token: Option<String>,
    pub listen: SocketAddr,
    pub batch: BatchLimits,
    pub max_in_flight: usize,
    pub ingest_timeout: Duration,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub shutdown_grace: Duration,
    /// `KAFKA_*` settings passed through to librdkafka (applied last).
    pub kafka_overrides: Vec<(String, String)>,
}

/// When a batch is full.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_records: usize,
    pub max_bytes: usize,
    pub max_wait: Duration,
    /// Zero: no idle limit.
    pub idle: Duration,
}

impl Config {
    /// Parses flags and environment; stops the program with one line on a bad setting.
    pub fn from_args() -> Self {
        Self::from_parsed(common::config::parse_args::<Args>()).unwrap_or_else(|e| common::config::fail(e))
    }

    /// Validates parsed arguments.
    pub fn from_parsed(args: Args) -> Result<Self, String> {
        let bootstrap_server = required(args.bootstrap_server, "BOOTSTRAP_SERVER", "--bootstrap-server");
        let base = required(args.api_base_url, "API_BASE_URL", "--api-base-url");
        let base = base.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!("API_BASE_URL: {base:?} must start with http:// or https://"));
        }
        if args.batch_max_records == 0 || args.batch_max_bytes == 0 {
            return Err("BATCH_MAX_RECORDS and BATCH_MAX_BYTES must be greater than zero".into());
        }
        if args.max_in_flight == 0 {
            return Err("MAX_IN_FLIGHT_BATCHES must be at least 1".into());
        }
        if args.topic.is_empty() {
            return Err("KAFKA_TOPIC_NAME must not be empty".into());
        }
        let dlq_topic = args.dlq_topic.unwrap_or_else(|| format!("{}.dlq", args.topic));
        Ok(Config {
            bootstrap_server,
            dlq_topic,
            ingest_url: format!("{base}/api/v1/ingest"),
            compat_url: format!("{base}/api/metrics"),
            record_format: args.record_format,
            ingest_token: args.ingest_token.filter(|t| !t.is_empty()),
            topic: args.topic,
            group_id: args.group_id,
            listen: args.listen,
            batch: BatchLimits {
                max_records: args.batch_max_records,
                max_bytes: args.batch_max_bytes,
                max_wait: args.batch_max_wait,
                idle: args.batch_idle,
            },
            max_in_flight: args.max_in_flight,
            ingest_timeout: args.ingest_timeout,
            retry_initial: args.retry_initial,
            retry_max: args.retry_max.max(args.retry_initial),
            shutdown_grace: args.shutdown_grace,
            kafka_overrides: common::config::kafka_passthrough_from_env(),
        })
    }
}
