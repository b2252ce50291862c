//! Settings of alert notifications: where to send them (a Slack-style and a generic JSON
//! webhook, each optional), the cooldown between two notifications of one alert, the reminder
//! interval of alerts that keep firing, the queue bound and the request timeout. Flattened into
//! the backend's command line; every flag has an environment-variable twin.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use common::config::{parse_duration, parse_positive_duration};

/// An optional webhook URL taken as ONE value, so that an empty one (`ALERT_WEBHOOK_URL=` in an
/// `.env` or compose file) means "not set" instead of an invalid URL. It is an alias because
/// clap's derive would otherwise see `Option` and make the flag itself optional.
pub type MaybeWebhookUrl = Option<WebhookUrl>;

/// Alert-notification flags and their environment twins.
#[derive(clap::Args, Debug, Clone)]
pub struct NotifyConfig {
    /// Slack-style incoming webhook for alert notifications (none: not sent)
    #[arg(long, env = "ALERT_WEBHOOK_URL", hide_env_values = true, default_value = "", hide_default_value = true,
          value_parser = parse_optional_webhook_url)]
    pub alert_webhook_url: MaybeWebhookUrl,
    /// Generic JSON webhook for alert notifications: the alert event plus `notification` (none: not sent)
    #[arg(long, env = "ALERT_GENERIC_WEBHOOK_URL", hide_env_values = true, default_value = "",
          hide_default_value = true, value_parser = parse_optional_webhook_url)]
    pub alert_generic_webhook_url: MaybeWebhookUrl,
    /// Minimum seconds between two notifications of the same alert (a re-fire within it is held back)
    #[arg(long, env = "ALERT_COOLDOWN_SEC", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(0..=7 * 24 * 3600))]
    pub alert_cooldown_sec: u64,
    /// Remind of an alert still firing after this long without a notification (0: never)
    #[arg(long, env = "ALERT_REPEAT_INTERVAL", default_value = "4h", value_parser = parse_duration)]
    pub alert_repeat_interval: Duration,
    /// Alert events waiting for the notifier at most; beyond, they are dropped and counted
    #[arg(long, env = "ALERT_NOTIFY_QUEUE", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub alert_notify_queue: u32,
    /// Timeout of one webhook request
    #[arg(long, env = "ALERT_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = parse_positive_duration)]
    pub alert_webhook_timeout: Duration,
}

impl Default for NotifyConfig {
    /// No webhook (notifications off) and the documented defaults for everything else.
    fn default() -> Self {
        NotifyConfig {
            alert_webhook_url: None,
            alert_generic_webhook_url: None,
            alert_cooldown_sec: 300,
            alert_repeat_interval: Duration::from_secs(4 * 3600),
            alert_notify_queue: 10_000,
            alert_webhook_timeout: Duration::from_secs(10),
        }
    }
}

impl NotifyConfig {
    /// Whether at least one webhook is configured.
    pub fn enabled(&self) -> bool {
        self.alert_webhook_url.is_some() || self.alert_generic_webhook_url.is_some()
    }

    /// The cooldown as a duration.
    pub fn cooldown(&self) -> Duration {
        Duration::from_secs(self.alert_cooldown_sec)
    }

    /// The reminder interval, `None` when reminders are off (0).
    pub fn repeat_interval(&self) -> Option<Duration> {
        Some(self.alert_repeat_interval).filter(|d| !d.is_zero())
    }
}

/// An `http://` or `https://` URL with a host. Its `Debug` form hides the path and query,
/// which carry the secret of a Slack webhook.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(reqwest::Url);

impl WebhookUrl {
    /// The full URL (contains the webhook's secret: never log it).
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URL for requests.
    pub fn url(&self) -> &reqwest::Url {
        &self.0
    }

    /// `scheme://host:port/…`: safe for logs.
    pub fn redacted(&self) -> String {
        let host = self.0.host_str().unwrap_or("");
        match self.0.port() {
            Some(port) => format!("{}://{host}:{port}/…", self.0.scheme()),
            None => format!("{}://{host}/…", self.0.scheme()),
        }
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl FromStr for WebhookUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        parse_webhook_url(s)
    }
}

/// [`parse_webhook_url`], except that an empty or blank value is `None` (not set).
pub fn parse_optional_webhook_url(s: &str) -> Result<MaybeWebhookUrl, String> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        parse_webhook_url(s).map(Some)
    }
}

/// Accepts `http://` and `https://` URLs with a host, e.g. `https://hooks.slack.com/services/…`.
pub fn parse_webhook_url(s: &str) -> Result<WebhookUrl, String> {
    const LIKE: &str = "an http:// or https:// URL like https://hooks.slack.com/services/T000/B000/XXXX";
    let s = s.trim();
    let url = reqwest::Url::parse(s).map_err(|e| format!("not {LIKE} ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("the scheme {:?} is not supported: give {LIKE}", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("the URL has no host: give {LIKE}"));
    }
    Ok(WebhookUrl(url))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        notify: NotifyConfig,
    }

    fn parse(args: &[&str]) -> Result<NotifyConfig, clap::Error> {
        Cli::try_parse_from(std::iter::once("api-backend").chain(args.iter().copied())).map(|c| c.notify)
    }

    #[test]
    fn the_flags_are_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_turn_notifications_off_and_match_default_impl() {
        let c = parse(&[]).unwrap();
        assert!(!c.enabled());
        assert_eq!(c.cooldown(), Duration::from_secs(300));
        assert_eq!(c.repeat_interval(), Some(Duration::from_secs(4 * 3600)));
        assert_eq!(c.alert_notify_queue, 10_000);
        assert_eq!(c.alert_webhook_timeout, Duration::from_secs(10));
        let d = NotifyConfig::default();
        assert_eq!(
            (
                d.alert_cooldown_sec,
                d.alert_repeat_interval,
                d.alert_notify_queue,
                d.alert_webhook_timeout
            ),
            (
                c.alert_cooldown_sec,
                c.alert_repeat_interval,
                c.alert_notify_queue,
                c.alert_webhook_timeout
            )
        );
    }

    #[test]
    fn flags_are_parsed() {
        let c = parse(&[
            "--alert-webhook-url",
            "https://hooks.slack.com/services/T0/B0/secret",
            "--alert-generic-webhook-url",
            "http://127.0.0.1:9000/alerts",
            "--alert-cooldown-sec",
            "0",
            "--alert-repeat-interval",
            "0",
            "--alert-notify-queue",
            "5",
            "--alert-webhook-timeout",
            "250ms",
        ])
        .unwrap();
        assert!(c.enabled());
        assert_eq!(
            c.alert_webhook_url.as_ref().unwrap().as_str(),
            "https://hooks.slack.com/services/T0/B0/secret"
        );
        assert_eq!(
            c.alert_generic_webhook_url.as_ref().unwrap().as_str(),
            "http://127.0.0.1:9000/alerts"
        );
        assert_eq!(c.cooldown(), Duration::ZERO);
        assert_eq!(c.repeat_interval(), None, "0 turns reminders off");
        assert_eq!(c.alert_notify_queue, 5);
        assert_eq!(c.alert_webhook_timeout, Duration::from_millis(250));
    }

    #[test]
    fn an_empty_url_means_not_set() {
        // What `ALERT_WEBHOOK_URL=` in an .env file hands over.
        let c = parse(&["--alert-webhook-url", "", "--alert-generic-webhook-url", "  "]).unwrap();
        assert!(c.alert_webhook_url.is_none() && c.alert_generic_webhook_url.is_none());
        assert!(!c.enabled());
    }

    #[test]
    fn bad_values_are_refused_with_the_setting_named() {
        for (args, named) in [
            (["--alert-webhook-url", "hooks.slack.com/x"], "ALERT_WEBHOOK_URL"),
            (["--alert-webhook-url", "ftp://example.com/x"], "ALERT_WEBHOOK_URL"),
            (["--alert-generic-webhook-url", "http://"], "ALERT_GENERIC_WEBHOOK_URL"),
            (["--alert-repeat-interval", "often"], "ALERT_REPEAT_INTERVAL"),
            (["--alert-notify-queue", "0"], "ALERT_NOTIFY_QUEUE"),
            (["--alert-webhook-timeout", "0s"], "ALERT_WEBHOOK_TIMEOUT"),
            (["--alert-cooldown-sec", "soon"], "ALERT_COOLDOWN_SEC"),
        ] {
            let err = parse(&args).unwrap_err().to_string();
            let first = err.lines().next().unwrap();
            assert!(first.contains(named), "{args:?}: {first}");
        }
        let err = parse_webhook_url("ftp://example.com/x").unwrap_err();
        assert_eq!(
            err,
            "the scheme \"ftp\" is not supported: give an http:// or https:// URL like \
             https://hooks.slack.com/services/T000/B000/XXXX"
        );
    }

    #[test]
    fn debug_output_hides_the_webhook_secret() {
        let c = parse(&[
            "--alert-webhook-url",
            "https://hooks.slack.com:8443/services/T0/B0/s3cret?x=tok",
        ])
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret") && !shown.contains("tok"), "{shown}");
        assert!(shown.contains("https://hooks.slack.com:8443/…"), "{shown}");
    }
}
