//! Command line and environment (CONTRACT §1): every setting is a flag with an environment
//! twin, shown in `--help`. Malformed values stop the program with one line naming the setting
//! (exit 2); a missing BOOTSTRAP_SERVER is reported by `common::config::required`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, CommandFactory, Parser, Subcommand};
use common::config::parse_positive_duration;

/// Samples this host and its Docker containers on a fixed tick and produces one JSON record per
/// tick to Kafka (key = host id).
#[derive(Debug, Parser)]
#[command(name = "collector", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Where records go; shared by the collector and `simulate`.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Kafka bootstrap servers, comma separated (required unless --print).
    #[arg(long, env = "BOOTSTRAP_SERVER", global = true)]
    pub bootstrap_server: Option<String>,
    /// Topic the records are produced to.
    #[arg(long, env = "KAFKA_TOPIC_NAME", default_value = "server-metrics", global = true)]
    pub topic: String,
    /// Address of the ops HTTP server (/health/live, /health/ready, /metrics).
    #[arg(long, env = "COLLECTOR_LISTEN", default_value = "0.0.0.0:8001", global = true)]
    pub listen: SocketAddr,
    /// Records the producer holds locally while Kafka is slow or away; beyond it run mode drops
    /// (and counts) new records and simulate waits.
    #[arg(long, env = "PRODUCER_QUEUE_MAX_RECORDS", default_value_t = 100_000,
          value_parser = clap::value_parser!(u32).range(1..=10_000_000), global = true)]
    pub queue_max_records: u32,
    /// Debugging: write each record as one JSON line to stdout instead of producing to Kafka.
    #[arg(long, env = "COLLECTOR_PRINT", value_parser = BoolishValueParser::new(), default_value = "false",
          num_args = 0, default_missing_value = "true", global = true)]
    pub print: bool,
}

/// Settings of the collector itself (the default command).
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Docker API endpoint: unix:///path.sock or tcp://host:port; empty or `none` disables
    /// container sampling.
    #[arg(long, env = "DOCKER_HOST", default_value = "unix:///var/run/docker.sock")]
    pub docker_host: String,
    /// Host id on the wire and Kafka key [default: HOST_ROOTFS/etc/machine-id, else /etc/machine-id].
    #[arg(long, env = "HOST_ID")]
    pub host_id: Option<String>,
    /// Host name on the wire [default: the hostname; HOST_ROOTFS/etc/hostname when HOST_ROOTFS is not /].
    #[arg(long, env = "HOST_NAME")]
    pub host_name: Option<String>,
    /// Sampling period (e.g. 1s, 500ms).
    #[arg(long, env = "COLLECT_INTERVAL", default_value = "1s", value_parser = parse_positive_duration)]
    pub collect_interval: Duration,
    /// Where the host's procfs is mounted.
    #[arg(long, env = "PROC_ROOT", default_value = "/proc")]
    pub proc_root: PathBuf,
    /// Where the host's sysfs is mounted.
    #[arg(long, env = "SYS_ROOT", default_value = "/sys")]
    pub sys_root: PathBuf,
    /// Where the host's root filesystem is mounted (prefix of mount points for disk usage).
    #[arg(long, env = "HOST_ROOTFS", default_value = "/")]
    pub host_rootfs: PathBuf,
    /// Longest wait for one Docker API call (capped by the tick's own budget).
    #[arg(long, env = "DOCKER_TIMEOUT", default_value = "2s", value_parser = parse_positive_duration)]
    pub docker_timeout: Duration,
    /// Docker stats/inspect calls in flight at once.
    #[arg(long, env = "DOCKER_CONCURRENCY", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub docker_concurrency: u16,
}

/// Subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Produce realistic synthetic records for N hosts with M containers each through the same
    /// producer path (topic, key, format), for benchmarks and load tests.
    Simulate(SimulateArgs),
}

/// `collector simulate` settings.
#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// Number of simulated hosts.
    #[arg(long, env = "SIMULATE_HOSTS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub hosts: u32,
    /// Containers per simulated host.
    #[arg(long, env = "SIMULATE_CONTAINERS", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub containers: u32,
    /// Tick period: one record per host per tick (e.g. 1s, 10ms).
    #[arg(long, env = "SIMULATE_INTERVAL", default_value = "1s", value_parser = parse_positive_duration)]
    pub interval: Duration,
    /// Stop after this many records in total (then flush and exit); runs until stopped otherwise.
    #[arg(long, env = "SIMULATE_RECORDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub records: Option<u64>,
    /// Seed of the random walks (same seed, same values) [default: random].
    #[arg(long, env = "SIMULATE_SEED")]
    pub seed: Option<u64>,
    /// Host ids are `<prefix>-0001`, `<prefix>-0002`, ...
    #[arg(long, env = "SIMULATE_HOST_PREFIX", default_value = "sim-host")]
    pub host_prefix: String,
    /// Backfill: stamp samples from this time on (RFC 3339, or `-2h` for two hours ago), one
    /// interval apart, produced as fast as the broker takes them, up to now (`--start=-2h`)
    /// [default: live].
    #[arg(long, env = "SIMULATE_START", value_parser = parse_start)]
    pub start: Option<chrono::DateTime<chrono::Utc>>,
}

/// `--start`: an RFC 3339 time, or `-<duration>` before now.
pub fn parse_start(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Some(ago) = s.strip_prefix('-') {
        let d = common::config::parse_duration(ago)?;
        return Ok(chrono::Utc::now() - chrono::TimeDelta::from_std(d).map_err(|e| e.to_string())?);
    }
    common::timefmt::parse(s).map_err(|_| format!("{s:?} is not an RFC 3339 time or -<duration> (e.g. -2h)"))
}

/// Parses the process's arguments; `--help`/`--version` print and exit 0, anything malformed
/// prints one line and exits 2.
pub fn parse() -> Cli {
    parse_from(std::env::args_os())
}

/// [`parse`] over explicit arguments.
pub fn parse_from<I, T>(args: I) -> Cli
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    match try_parse_from(args) {
        Ok(cli) => cli,
        Err(Ok(e)) => e.exit(),
        Err(Err(line)) => common::config::fail(line),
    }
}

/// `Ok(cli)`, or `Err(Ok(e))` for help/version output, or `Err(Err(line))` for a one-line error.
pub fn try_parse_from<I, T>(args: I) -> Result<Cli, Result<clap::Error, String>>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    Cli::try_parse_from(args).map_err(|e| match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            Ok(e)
        }
        _ => Err(one_line(&e)),
    })
}

/// Clap's message on one line, naming the environment twin of the offending flag.
fn one_line(e: &clap::Error) -> String {
    let rendered = e.to_string();
    let first = rendered.lines().next().unwrap_or("invalid arguments").trim();
    let mut line = first.strip_prefix("error: ").unwrap_or(first).to_string();
    if let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) {
        let long = arg.split_whitespace().next().unwrap_or("").trim_start_matches('-');
        if let Some(env) = env_of(long) {
            line.push_str(&format!(" (flag --{long}, environment variable {env})"));
        }
    }
    line
}

/// The environment variable twin of a long flag, looked up in the command definition.
fn env_of(long: &str) -> Option<String> {
    let cmd = Cli::command();
    let mut args: Vec<_> = cmd.get_arguments().cloned().collect();
    for sub in cmd.get_subcommands() {
        args.extend(sub.get_arguments().cloned());
    }
    args.iter()
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, String> {
        try_parse_from(std::iter::once("collector").chain(args.iter().copied())).map_err(|e| match e {
            Ok(help) => help.to_string(),
            Err(line) => line,
        })
    }

    #[test]
    fn defaults() {
        let owned = [
            "KAFKA_TOPIC_NAME",
            "COLLECTOR_LISTEN",
            "PRODUCER_QUEUE_MAX_RECORDS",
            "COLLECT_INTERVAL",
            "DOCKER_TIMEOUT",
            "DOCKER_CONCURRENCY",
            "DOCKER_HOST",
            "COLLECTOR_PRINT",
        ];
        if let Some(set) = owned.iter().find(|v| std::env::var_os(v).is_some()) {
            eprintln!("skipping: {set} is set in this environment");
            return;
        }
        let cli = parse(&[]).unwrap();
        assert_eq!(cli.output.topic, "server-metrics");
        assert_eq!(cli.output.listen, "0.0.0.0:8001".parse().unwrap());
        assert_eq!(cli.output.queue_max_records, 100_000);
        assert_eq!(cli.run.collect_interval, Duration::from_secs(1));
        assert_eq!(cli.run.docker_timeout, Duration::from_secs(2));
        assert_eq!(cli.run.docker_concurrency, 8);
        assert_eq!(cli.run.docker_host, "unix:///var/run/docker.sock");
        assert!(!cli.output.print);
        assert!(cli.command.is_none());
    }

    #[test]
    fn simulate_shares_the_output_flags() {
        let cli = parse(&[
            "simulate",
            "--hosts",
            "3",
            "--containers",
            "2",
            "--interval",
            "10ms",
            "--records",
            "7",
            "--seed",
            "42",
            "--bootstrap-server",
            "k:9092",
            "--topic",
            "t",
        ])
        .unwrap();
        let Some(Command::Simulate(s)) = cli.command else {
            panic!("not simulate")
        };
        assert_eq!((s.hosts, s.containers, s.records, s.seed), (3, 2, Some(7), Some(42)));
        assert_eq!(s.interval, Duration::from_millis(10));
        assert_eq!(cli.output.bootstrap_server.as_deref(), Some("k:9092"));
        assert_eq!(cli.output.topic, "t");
    }

    #[test]
    fn malformed_values_give_one_line_naming_the_setting() {
        let line = parse(&["--collect-interval", "soon"]).unwrap_err();
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("COLLECT_INTERVAL") && line.contains("soon"), "{line}");
        let line = parse(&["simulate", "--interval", "0s"]).unwrap_err();
        assert!(
            line.contains("SIMULATE_INTERVAL") && line.contains("greater than zero"),
            "{line}"
        );
        let line = parse(&["--docker-concurrency", "0"]).unwrap_err();
        assert!(line.contains("DOCKER_CONCURRENCY"), "{line}");
        let line = parse(&["--listen", "nowhere"]).unwrap_err();
        assert!(line.contains("COLLECTOR_LISTEN"), "{line}");
    }

    #[test]
    fn help_lists_environment_twins() {
        let help = Cli::command().render_long_help().to_string();
        for env in [
            "BOOTSTRAP_SERVER",
            "KAFKA_TOPIC_NAME",
            "COLLECTOR_LISTEN",
            "PRODUCER_QUEUE_MAX_RECORDS",
            "DOCKER_HOST",
            "HOST_ID",
            "HOST_NAME",
            "COLLECT_INTERVAL",
            "PROC_ROOT",
            "SYS_ROOT",
            "HOST_ROOTFS",
            "DOCKER_TIMEOUT",
            "DOCKER_CONCURRENCY",
            "COLLECTOR_PRINT",
        ] {
            assert!(help.contains(env), "{env} missing from --help");
        }
    }
}
