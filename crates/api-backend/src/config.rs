//! Settings of the api-backend: every one a CLI flag with an environment-variable twin.
//! A missing or malformed setting stops the program at start with one line naming it.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use clap::Parser;
use common::config::parse_positive_duration;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::notify::NotifyConfig;

/// Command line and environment of `api-backend`.
#[derive(Debug, Parser)]
#[command(
    name = "api-backend",
    version,
    about = "Stores monitoring records in MySQL and serves the HTTP API"
)]
pub struct Cli {
    /// MySQL URL `mysql://user:pass@host:port/db` (or give the DATABASE_USERNAME/... parts instead)
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// MySQL user, when DATABASE_URL is not set
    #[arg(long, env = "DATABASE_USERNAME")]
    pub database_username: Option<String>,
    /// MySQL password, when DATABASE_URL is not set
    #[arg(long, env = "DATABASE_PASSWORD", hide_env_values = true)]
    pub database_password: Option<String>,
    /// MySQL host, when DATABASE_URL is not set
    #[arg(long, env = "DATABASE_HOST", default_value = "127.0.0.1")]
    pub database_host: String,
    /// MySQL port, when DATABASE_URL is not set
    #[arg(long, env = "DATABASE_PORT", default_value_t = 3306)]
    pub database_port: u16,
    /// MySQL database name, when DATABASE_URL is not set
    #[arg(long, env = "DATABASE_NAME")]
    pub database_name: Option<String>,
    /// Connections in the MySQL pool
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_pool_size: u32,
    /// How long to keep retrying the first MySQL connection at start
    #[arg(long, env = "DATABASE_CONNECT_TIMEOUT", default_value = "60s", value_parser = parse_positive_duration)]
    pub database_connect_timeout: Duration,
    /// How long a request waits for a pooled connection before answering 503
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT", default_value = "5s", value_parser = parse_positive_duration)]
    pub database_acquire_timeout: Duration,
    /// Address the HTTP API listens on
    #[arg(long = "listen", env = "API_LISTEN", default_value = "0.0.0.0:8004")]
    pub listen: SocketAddr,
    /// Comma list of origins allowed by CORS, or `*` (none: same-origin only)
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub cors_allowed_origins: Vec<String>,
    /// Bearer token required on the ingest endpoints (none: open)
    #[arg(long, env = "API_INGEST_TOKEN", hide_env_values = true)]
    pub api_ingest_token: Option<String>,
    /// Token required on reads: `Authorization: Bearer`, `?token=` or cookie `token` (none: open)
    #[arg(long, env = "API_READ_TOKEN", hide_env_values = true)]
    pub api_read_token: Option<String>,
    /// Bearer token required on writes (thresholds, silences); also accepted on reads
    #[arg(long, env = "API_ADMIN_TOKEN", hide_env_values = true)]
    pub api_admin_token: Option<String>,
    /// Largest accepted ingest body in bytes (413 beyond)
    #[arg(long, env = "INGEST_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1..=1 << 32))]
    pub ingest_max_body_bytes: u64,
    /// Largest lead of a record's sample time over this backend's clock; a record stamped
    /// further ahead is refused with the reason (its host's clock is wrong)
    #[arg(long, env = "MAX_CLOCK_SKEW", default_value = "5m", value_parser = parse_positive_duration)]
    pub max_clock_skew: Duration,
    /// Live streams (SSE) open at once at most; beyond, 429
    #[arg(long, env = "STREAMS_MAX", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub streams_max: u32,
    /// Live streams one client address may hold open at once; beyond, 429
    #[arg(long, env = "STREAMS_MAX_PER_CLIENT", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub streams_max_per_client: u32,
    /// Days alert events (the alert history) are kept
    #[arg(long, env = "ALERT_RETENTION_DAYS", default_value_t = 90,
          value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub alert_retention_days: u32,
    /// How long raw (per-sample) data is kept
    #[arg(long, env = "RETENTION_RAW", default_value = "7d", value_parser = parse_positive_duration)]
    pub retention_raw: Duration,
    /// How long per-minute rollups are kept
    #[arg(long, env = "RETENTION_MINUTE", default_value = "90d", value_parser = parse_positive_duration)]
    pub retention_minute: Duration,
    /// How long per-hour rollups are kept
    #[arg(long, env = "RETENTION_HOUR", default_value = "2y", value_parser = parse_positive_duration)]
    pub retention_hour: Duration,
    /// Disk budget for the sample and rollup tables (bytes, or with K/M/G/T: `200G`); beyond
    /// it the oldest raw data goes first (none: no budget)
    #[arg(long, env = "STORAGE_MAX_BYTES", value_parser = parse_bytes)]
    pub storage_max_bytes: Option<u64>,
    /// Samples older than this are in the compact form (the newer ones wait in a
    /// write-optimised table)
    #[arg(long, env = "STORAGE_COMPACT_AFTER", default_value = "10m", value_parser = parse_positive_duration)]
    pub storage_compact_after: Duration,
    #[command(flatten)]
    pub notify: NotifyConfig,
}

/// `STORAGE_MAX_BYTES`: a whole number of bytes, optionally with a binary suffix (K, M, G, T;
/// `200G` is 200 GiB).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let shift = match unit
        .trim()
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("{s:?} is not a size like 500000000, 500M or 200G")),
    };
    let n: f64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 500000000, 500M or 200G"))?;
    let bytes = n * (1u64 << shift) as f64;
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("{s:?} must be at least one byte"));
    }
    Ok(bytes as u64)
}

/// Which cross-origin requests browsers may make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// No CORS headers at all: same-origin only.
    SameOrigin,
    /// `*`: any origin (credentials are then not allowed by browsers).
    AnyOrigin,
    /// Exactly these origins (`https://dash.example.com`).
    Origins(Vec<String>),
}

/// Optional tokens; `None` leaves that class of endpoints open.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Tokens {
    pub ingest: Option<String>,
    pub read: Option<String>,
    pub admin: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |t: &Option<String>| if t.is_some() { "set" } else { "unset" };
        f.debug_struct("Tokens")
            .field("ingest", &set(&self.ingest))
            .field("read", &set(&self.read))
            .field("admin", &set(&self.admin))
            .finish()
    }
}

/// The validated settings the library runs with.
#[derive(Clone)]
pub struct Config {
    /// `mysql://user:pass@host:port/db` (contains the password: never log it, see [`redact_url`]).
    pub database_url: String,
    pub pool_size: u32,
    pub connect_timeout: Duration,
    pub acquire_timeout: Duration,
    pub listen: SocketAddr,
    pub cors: Cors,
    pub tokens: Tokens,
    pub ingest_max_body_bytes: usize,
    /// MAX_CLOCK_SKEW.
    pub max_clock_skew: Duration,
    /// ALERT_RETENTION_DAYS.
    pub alert_retention_days: u32,
    /// STREAMS_MAX, STREAMS_MAX_PER_CLIENT.
    pub streams: crate::http::streams::limit::StreamSettings,
    /// Alert notifications (webhooks, cooldown, ...).
    pub notify: NotifyConfig,
    /// Storage tiers: compaction and retention.
    pub storage: crate::storage::Settings,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("listen", &self.listen)
            .field("cors", &self.cors)
            .field("tokens", &self.tokens)
            .field("ingest_max_body_bytes", &self.ingest_max_body_bytes)
            .field("max_clock_skew", &self.max_clock_skew)
            .field("alert_retention_days", &self.alert_retention_days)
            .field("streams", &self.streams)
            .field("notify", &self.notify)
            .field("storage", &self.storage)
            .finish()
    }
}

impl Config {
    /// Defaults for everything but the database (used by tests and embedders).
    pub fn new(database_url: impl Into<String>) -> Self {
        Config {
            database_url: database_url.into(),
            pool_size: 10,
            connect_timeout: Duration::from_secs(60),
            acquire_timeout: Duration::from_secs(5),
            listen: SocketAddr::from(([0, 0, 0, 0], 8004)),
            cors: Cors::SameOrigin,
            tokens: Tokens::default(),
            ingest_max_body_bytes: 16 * 1024 * 1024,
            max_clock_skew: Duration::from_secs(300),
            alert_retention_days: 90,
            streams: Default::default(),
            notify: NotifyConfig::default(),
            storage: crate::storage::Settings::default(),
        }
    }

    /// Parses the command line and environment; stops the process with one line (exit 2) on error.
    pub fn from_env_and_args() -> Self {
        let cli = match Cli::try_parse() {
            Ok(cli) => cli,
            Err(e) if !e.use_stderr() => e.exit(), // --help, --version
            Err(e) => common::config::fail(first_line(&e.to_string())),
        };
        Config::from_cli(cli).unwrap_or_else(|e| common::config::fail(e))
    }

    /// Validates parsed arguments; the error is one line naming the setting.
    pub fn from_cli(cli: Cli) -> Result<Self, String> {
        let parts = DatabaseParts {
            username: non_empty(cli.database_username),
            password: non_empty(cli.database_password),
            host: cli.database_host,
            port: cli.database_port,
            name: non_empty(cli.database_name),
        };
        Ok(Config {
            database_url: database_url(non_empty(cli.database_url), &parts)?,
            pool_size: cli.database_pool_size,
            connect_timeout: cli.database_connect_timeout,
            acquire_timeout: cli.database_acquire_timeout,
            listen: cli.listen,
            cors: cors(&cli.cors_allowed_origins)?,
            tokens: Tokens {
                ingest: non_empty(cli.api_ingest_token),
                read: non_empty(cli.api_read_token),
                admin: non_empty(cli.api_admin_token),
            },
            ingest_max_body_bytes: usize::try_from(cli.ingest_max_body_bytes)
                .map_err(|_| "INGEST_MAX_BODY_BYTES is too large for this platform".to_owned())?,
            max_clock_skew: cli.max_clock_skew,
            alert_retention_days: cli.alert_retention_days,
            streams: crate::http::streams::limit::StreamSettings {
                max: cli.streams_max as usize,
                per_client: cli.streams_max_per_client as usize,
            },
            notify: cli.notify,
            storage: storage(
                cli.storage_compact_after,
                crate::store::Retention {
                    raw: cli.retention_raw,
                    minute: cli.retention_minute,
                    hour: cli.retention_hour,
                    max_bytes: cli.storage_max_bytes,
                },
            )?,
        })
    }
}

/// The pieces of a MySQL URL as the seed's `.env` had them.
#[derive(Debug, Clone, Default)]
pub struct DatabaseParts {
    pub username: Option<String>,
    pub password: Option<String>,
    pub host: String,
    pub port: u16,
    pub name: Option<String>,
}

/// Characters kept as-is in the user and password of a URL (RFC 3986 unreserved).
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `DATABASE_URL` when given, else one assembled from the parts (user and password URL-encoded).
pub fn database_url(url: Option<String>, parts: &DatabaseParts) -> Result<String, String> {
    let url = match url {
        Some(url) => url,
        None => {
            let (Some(user), Some(name)) = (&parts.username, &parts.name) else {
                let missing = match (&parts.username, &parts.name) {
                    (None, None) => "",
                    (None, Some(_)) => " (DATABASE_USERNAME is missing)",
                    _ => " (DATABASE_NAME is missing)",
                };
                return Err(format!(
                    "DATABASE_URL is required (mysql://user:pass@host:port/db), or DATABASE_USERNAME, \
                     DATABASE_PASSWORD, DATABASE_HOST, DATABASE_PORT and DATABASE_NAME{missing}"
                ));
            };
            let user = utf8_percent_encode(user, USERINFO);
            let auth = match &parts.password {
                Some(p) => format!("{user}:{}", utf8_percent_encode(p, USERINFO)),
                None => user.to_string(),
            };
            let host = if parts.host.contains(':') {
                format!("[{}]", parts.host)
            } else {
                parts.host.clone()
            };
            format!(
                "mysql://{auth}@{host}:{}/{}",
                parts.port,
                utf8_percent_encode(name, USERINFO)
            )
        }
    };
    let scheme_ok = url.starts_with("mysql://") || url.starts_with("mariadb://");
    if !scheme_ok || sqlx::mysql::MySqlConnectOptions::from_str(&url).is_err() {
        return Err(format!(
            "DATABASE_URL: {:?} is not a URL like mysql://user:pass@host:3306/db",
            redact_url(&url)
        ));
    }
    Ok(url)
}

/// The URL with its password replaced by `***`, for logs and error messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<unparsable URL>".to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rfind('@') {
        Some(at) => {
            let user = authority[..at].split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{}{path}", &authority[at + 1..])
        }
        None => url.to_owned(),
    }
}

/// `CORS_ALLOWED_ORIGINS` entries: `*` alone, or origins like `https://dash.example.com:8443`.
pub fn cors(entries: &[String]) -> Result<Cors, String> {
    let origins: Vec<String> = entries
        .iter()
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect();
    if origins.is_empty() {
        return Ok(Cors::SameOrigin);
    }
    if origins.iter().any(|o| o == "*") {
        return if origins.len() == 1 {
            Ok(Cors::AnyOrigin)
        } else {
            Err("CORS_ALLOWED_ORIGINS: `*` cannot be combined with other origins".to_owned())
        };
    }
    for o in &origins {
        let host = o.strip_prefix("https://").or_else(|| o.strip_prefix("http://"));
        let ok =
            host.is_some_and(|h| !h.is_empty() && !h.contains(['/', '?', '#']) && !h.contains(char::is_whitespace));
        if !ok || axum::http::HeaderValue::from_str(o).is_err() {
            return Err(format!(
                "CORS_ALLOWED_ORIGINS: {o:?} is not an origin like https://dash.example.com (scheme, host, optional port; no path)"
            ));
        }
    }
    Ok(Cors::Origins(origins))
}

/// The storage settings, checked together.
fn storage(compact_after: Duration, retention: crate::store::Retention) -> Result<crate::storage::Settings, String> {
    if compact_after >= retention.raw {
        return Err(format!(
            "STORAGE_COMPACT_AFTER ({}) must be shorter than RETENTION_RAW ({})",
            humantime::format_duration(compact_after),
            humantime::format_duration(retention.raw)
        ));
    }
    Ok(crate::storage::Settings {
        compact_after,
        retention,
    })
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

fn first_line(s: &str) -> &str {
    let line = s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s);
    line.strip_prefix("error: ").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> DatabaseParts {
        DatabaseParts {
            username: Some("srmon".into()),
            password: Some("p@ss:w/rd %".into()),
            host: "db".into(),
            port: 3307,
            name: Some("metrics".into()),
        }
    }

    #[test]
    fn database_url_wins_over_parts() {
        let url = database_url(Some("mysql://u:p@h:1/d".into()), &parts()).unwrap();
        assert_eq!(url, "mysql://u:p@h:1/d");
    }

    #[test]
    fn parts_are_assembled_with_the_password_encoded() {
        let url = database_url(None, &parts()).unwrap();
        assert_eq!(url, "mysql://srmon:p%40ss%3Aw%2Frd%20%25@db:3307/metrics");
        // sqlx decodes it back to the original password
        let opts = sqlx::mysql::MySqlConnectOptions::from_str(&url).unwrap();
        assert_eq!(opts.get_host(), "db");
        assert_eq!(opts.get_port(), 3307);
        assert_eq!(opts.get_database(), Some("metrics"));
    }

    #[test]
    fn neither_url_nor_parts_names_database_url() {
        let err = database_url(
            None,
            &DatabaseParts {
                host: "h".into(),
                port: 3306,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(err.starts_with("DATABASE_URL is required"), "{err}");
        assert!(!err.contains('\n'));
        let err = database_url(None, &DatabaseParts { name: None, ..parts() }).unwrap_err();
        assert!(err.contains("DATABASE_NAME is missing"), "{err}");
    }

    #[test]
    fn malformed_url_is_refused_without_echoing_the_password() {
        let err = database_url(Some("postgres://u:secret@h/d".into()), &parts()).unwrap_err();
        assert!(err.starts_with("DATABASE_URL:"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("mysql://u:secret@h:3306/d"), "mysql://u:***@h:3306/d");
        assert_eq!(redact_url("mysql://h:3306/d"), "mysql://h:3306/d");
    }

    #[test]
    fn cors_origins() {
        assert_eq!(cors(&[]).unwrap(), Cors::SameOrigin);
        assert_eq!(cors(&[" ".into()]).unwrap(), Cors::SameOrigin);
        assert_eq!(cors(&["*".into()]).unwrap(), Cors::AnyOrigin);
        assert_eq!(
            cors(&["https://a.example".into(), " http://b:8080".into()]).unwrap(),
            Cors::Origins(vec!["https://a.example".into(), "http://b:8080".into()])
        );
        assert!(cors(&["https://a.example/".into()])
            .unwrap_err()
            .starts_with("CORS_ALLOWED_ORIGINS"));
        assert!(cors(&["a.example".into()]).is_err());
        assert!(cors(&["*".into(), "https://a.example".into()]).is_err());
    }

    #[test]
    fn cli_values_are_validated() {
        let cli = Cli::try_parse_from([
            "api-backend",
            "--database-url",
            "mysql://u:p@h:1/d",
            "--api-read-token",
            "",
        ])
        .unwrap();
        let config = Config::from_cli(cli).unwrap();
        assert_eq!(config.listen, "0.0.0.0:8004".parse().unwrap());
        assert_eq!(config.ingest_max_body_bytes, 16 * 1024 * 1024);
        assert_eq!(config.tokens.read, None, "an empty token means unset");
        let err = Cli::try_parse_from(["api-backend", "--database-pool-size", "0"]).unwrap_err();
        assert!(first_line(&err.to_string()).contains("DATABASE_POOL_SIZE"), "{err}");
        let err = Cli::try_parse_from(["api-backend", "--listen", "nowhere"]).unwrap_err();
        assert!(first_line(&err.to_string()).contains("listen"), "{err}");
    }

    #[test]
    fn storage_settings() {
        let cli = Cli::try_parse_from(["api-backend", "--database-url", "mysql://u:p@h:1/d"]).unwrap();
        let config = Config::from_cli(cli).unwrap();
        assert_eq!(config.storage, crate::storage::Settings::default());
        let cli = Cli::try_parse_from([
            "api-backend",
            "--database-url",
            "mysql://u:p@h:1/d",
            "--retention-raw",
            "1h",
            "--storage-max-bytes",
            "1.5G",
        ])
        .unwrap();
        let config = Config::from_cli(cli).unwrap();
        assert_eq!(config.storage.retention.raw, Duration::from_secs(3600));
        assert_eq!(config.storage.retention.max_bytes, Some(1_610_612_736));
        let cli = Cli::try_parse_from([
            "api-backend",
            "--database-url",
            "mysql://u:p@h:1/d",
            "--retention-raw",
            "5m",
        ])
        .unwrap();
        assert!(Config::from_cli(cli).unwrap_err().starts_with("STORAGE_COMPACT_AFTER"));
        assert_eq!(parse_bytes("200G"), Ok(200 << 30));
        assert_eq!(parse_bytes("500000000"), Ok(500_000_000));
        assert_eq!(parse_bytes("2 TiB"), Ok(2 << 40));
        for bad in ["", "G", "12X", "0", "-5"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
        let err = Cli::try_parse_from(["api-backend", "--retention-hour", "forever"]).unwrap_err();
        assert!(first_line(&err.to_string()).contains("retention-hour"), "{err}");
    }

    #[test]
    fn debug_output_hides_secrets() {
        let mut config = Config::new("mysql://u:secret@h:1/d");
        config.tokens.ingest = Some("tok3n".into());
        let shown = format!("{config:?}");
        assert!(!shown.contains("secret") && !shown.contains("tok3n"), "{shown}");
    }
}
