//! Configuration helpers shared by the binaries: one-line start-up errors for missing or
//! malformed settings, durations like `1s`/`250ms`, and the `KAFKA_*` pass-through to librdkafka.

use std::time::Duration;

/// Stops the program at start with one clear line on stderr and a non-zero exit code.
pub fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2)
}

/// Parses the command line (and environment twins) like `T::parse()`, except that an invalid
/// setting stops the program with ONE line naming it (clap's own errors span several lines);
/// `--help` and `--version` behave as usual.
pub fn parse_args<T: clap::Parser>() -> T {
    T::try_parse().unwrap_or_else(|e| match e.kind() {
        clap::error::ErrorKind::DisplayHelp
        | clap::error::ErrorKind::DisplayVersion
        | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        _ => fail(one_line(&e.render().to_string())),
    })
}

/// The first non-empty line of a clap error, without its `error: ` prefix.
fn one_line(rendered: &str) -> String {
    let line = rendered
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid arguments");
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

/// Unwraps a required setting, or stops with a line naming its variable and flag.
pub fn required<T>(value: Option<T>, env_name: &str, flag: &str) -> T {
    value.unwrap_or_else(|| {
        fail(format!(
            "{env_name} is required (set the {env_name} environment variable or pass {flag})"
        ))
    })
}

/// Parses a duration: `1s`, `250ms`, `2m`, or a bare number of seconds (`1`, `0.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(Duration::from_secs_f64(secs));
        }
    }
    humantime::parse_duration(s).map_err(|e| format!("{s:?} is not a duration like 1s or 250ms ({e})"))
}

/// Parses a duration that must be positive (a tick, a timeout).
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err(format!("{s:?} must be greater than zero")),
        d => Ok(d),
    }
}

/// Environment variables that start with `KAFKA_` but are ours, not librdkafka's.
pub const OWN_KAFKA_VARIABLES: &[&str] = &["KAFKA_TOPIC_NAME", "KAFKA_CONSUMER_GROUP_ID", "KAFKA_DLQ_TOPIC_NAME"];

/// Turns `KAFKA_SECURITY_PROTOCOL=SSL` into (`security.protocol`, `SSL`) for every `KAFKA_*`
/// variable that is not one of [`OWN_KAFKA_VARIABLES`].
pub fn kafka_passthrough(vars: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(k, _)| k.starts_with("KAFKA_") && k.len() > 6 && !OWN_KAFKA_VARIABLES.contains(&k.as_str()))
        .map(|(k, v)| (k["KAFKA_".len()..].to_ascii_lowercase().replace('_', "."), v))
        .collect();
    out.sort();
    out
}

/// [`kafka_passthrough`] over this process's environment.
pub fn kafka_passthrough_from_env() -> Vec<(String, String)> {
    kafka_passthrough(std::env::vars())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_errors_fold_to_one_line() {
        let rendered = "error: invalid value 'x' for '--interval <COLLECT_INTERVAL>': bad\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(rendered),
            "invalid value 'x' for '--interval <COLLECT_INTERVAL>': bad"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("soon").is_err());
        assert!(parse_positive_duration("0s").is_err());
    }

    #[test]
    fn passthrough_maps_names_and_skips_ours() {
        let vars = [
            ("KAFKA_SECURITY_PROTOCOL", "SSL"),
            ("KAFKA_TOPIC_NAME", "t"),
            ("KAFKA_SASL_MECHANISMS", "PLAIN"),
            ("PATH", "/bin"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(
            kafka_passthrough(vars),
            vec![
                ("sasl.mechanisms".into(), "PLAIN".into()),
                ("security.protocol".into(), "SSL".into())
            ]
        );
    }
}
