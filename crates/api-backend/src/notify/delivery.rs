//! Delivery to one webhook: notifications go out one at a time, in the order they were
//! queued. A connection error, a timeout, a 408, a 429 or a 5xx is retried with exponential
//! backoff and jitter (a 429's `Retry-After` is honoured) until delivered or until the
//! notification is [`Tuning::give_up_after`] old, so a receiver that is down for a while gets
//! everything when it returns. Any other status is permanent: counted as failed, logged, not
//! retried. On shutdown, what is queued gets [`Tuning::shutdown_grace`] to go out.

use std::sync::Arc;
use std::time::Duration;

use common::ops::Readiness;
use common::shutdown::Shutdown;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::config::WebhookUrl;
use super::metrics::{dropped, NotifyMetrics, TargetLabel};
use super::payload;
use super::policy::Notification;
use common::backoff::Backoff;

/// How long a notification is retried at most (measured from when it was queued).
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Retry and shutdown timings.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// The first retry delay (doubles per retry, with jitter).
    pub backoff_initial: Duration,
    /// The longest retry delay.
    pub backoff_max: Duration,
    /// A notification not delivered this long after it was queued is given up.
    pub give_up_after: Duration,
    /// After the shutdown signal, how long queued notifications may still take to go out.
    pub shutdown_grace: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            give_up_after: GIVE_UP_AFTER,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// The body format a webhook expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `ALERT_WEBHOOK_URL`
    Slack,
    /// `ALERT_GENERIC_WEBHOOK_URL`
    Generic,
}

impl Format {
    /// The `target` metric label.
    pub fn label(self) -> &'static str {
        match self {
            Format::Slack => "slack",
            Format::Generic => "generic",
        }
    }

    fn body(self, n: &Notification) -> Value {
        match self {
            Format::Slack => payload::slack_body(n, &chrono::Local),
            Format::Generic => payload::generic_body(n),
        }
    }
}

/// One configured webhook.
#[derive(Debug, Clone)]
pub struct Target {
    pub format: Format,
    pub url: WebhookUrl,
}

/// A notification waiting for one target.
#[derive(Debug)]
pub(crate) struct Queued {
    pub notification: Arc<Notification>,
    pub queued_at: Instant,
}

/// The outcome of one request.
enum Attempt {
    Delivered,
    /// Worth trying again; the receiver may have said when.
    Retry {
        why: String,
        after: Option<Duration>,
    },
    Refused(String),
}

/// Delivers `queue` to `target` until the queue closes (or the shutdown grace ends).
pub(crate) struct Worker {
    target: Target,
    client: reqwest::Client,
    tuning: Tuning,
    metrics: NotifyMetrics,
    shutdown: Shutdown,
    /// Set once the shutdown signal was seen: nothing is attempted past it.
    drain_until: Option<Instant>,
    /// Whether the receiver is failing, and whether a give-up was logged since it last
    /// delivered (each logged once per episode; the metrics count every one).
    failing: bool,
    gave_up_logged: bool,
    /// Where the receiver's state shows in `/health/detailed` (an optional dependency).
    readiness: Arc<Readiness>,
}

impl Worker {
    pub fn new(
        target: Target,
        client: reqwest::Client,
        tuning: Tuning,
        metrics: NotifyMetrics,
        shutdown: Shutdown,
        readiness: Arc<Readiness>,
    ) -> Self {
        let worker = Worker {
            target,
            client,
            tuning,
            metrics,
            shutdown,
            drain_until: None,
            failing: false,
            gave_up_logged: false,
            readiness,
        };
        worker.health(true, "no notification sent yet".into(), None);
        worker
    }

    /// Records the receiver's state (`webhook_slack` / `webhook_generic`): failing, it degrades
    /// the detailed health but not readiness.
    fn health(&self, ok: bool, detail: String, took: Option<Duration>) {
        let name = format!("webhook_{}", self.target.format.label());
        self.readiness.set_optional(&name, ok, detail, took);
    }

    fn label(&self) -> TargetLabel {
        TargetLabel {
            target: self.target.format.label(),
        }
    }

    pub async fn run(mut self, mut queue: mpsc::Receiver<Queued>) {
        loop {
            let next = tokio::select! {
                next = queue.recv() => next,
                () = self.shutdown.wait(), if self.drain_until.is_none() => {
                    self.start_draining();
                    continue;
                }
            };
            let Some(item) = next else { break };
            self.deliver(item).await;
            self.metrics.pending.get_or_create(&self.label()).dec();
        }
    }

    fn start_draining(&mut self) {
        self.drain_until = Some(Instant::now() + self.tuning.shutdown_grace);
    }

    /// Tries until delivered, refused, too old, or out of shutdown grace.
    async fn deliver(&mut self, item: Queued) {
        let body = self.target.format.body(&item.notification);
        let give_up_at = item.queued_at + self.tuning.give_up_after;
        let mut backoff = Backoff::new(self.tuning.backoff_initial, self.tuning.backoff_max);
        let (client, url) = (self.client.clone(), self.target.url.clone());
        let mut attempts = 0u32;
        loop {
            if Instant::now() >= self.deadline(give_up_at) {
                return self.give_up(attempts);
            }
            if attempts > 0 {
                self.metrics.retries.get_or_create(&self.label()).inc();
            }
            attempts += 1;
            let started = Instant::now();
            let request = attempt(&client, &url, &body, self.tuning.backoff_max);
            tokio::pin!(request);
            let attempt = loop {
                let deadline = self.deadline(give_up_at);
                tokio::select! {
                    answered = tokio::time::timeout_at(deadline, &mut request) => break answered.unwrap_or(Attempt::Retry {
                        why: "no answer before the deadline".into(),
                        after: None,
                    }),
                    () = self.shutdown.wait(), if self.drain_until.is_none() => self.start_draining(),
                }
            };
            let took = Some(started.elapsed());
            match &attempt {
                Attempt::Delivered => self.health(true, "delivered".into(), took),
                Attempt::Refused(why) => self.health(false, format!("refused: {why}"), took),
                Attempt::Retry { why, .. } => self.health(false, why.clone(), took),
            }
            match attempt {
                Attempt::Delivered => {
                    self.metrics.sent.get_or_create(&self.label()).inc();
                    self.gave_up_logged = false;
                    if std::mem::take(&mut self.failing) {
                        tracing::info!(
                            target_kind = self.target.format.label(),
                            url = ?self.target.url,
                            "webhook delivers again"
                        );
                    }
                    return;
                }
                Attempt::Refused(why) => {
                    self.metrics.failed.get_or_create(&self.label()).inc();
                    tracing::warn!(
                        target_kind = self.target.format.label(),
                        url = ?self.target.url,
                        reason = %why,
                        alert_id = %item.notification.event.alert_id,
                        "webhook refused an alert notification; not retrying it"
                    );
                    return;
                }
                Attempt::Retry { why, after } => {
                    if !std::mem::replace(&mut self.failing, true) {
                        tracing::warn!(
                            target_kind = self.target.format.label(),
                            url = ?self.target.url,
                            reason = %why,
                            "webhook unavailable; retrying alert notifications with backoff"
                        );
                    }
                    let delay = backoff.next_delay().max(after.unwrap_or_default());
                    // past the deadline, the check at the top gives up
                    let wake = (Instant::now() + delay).min(self.deadline(give_up_at));
                    tokio::select! {
                        () = tokio::time::sleep_until(wake) => {}
                        // then one more attempt at once, within the grace
                        () = self.shutdown.wait(), if self.drain_until.is_none() => self.start_draining(),
                    }
                }
            }
        }
    }

    /// When trying must stop: the give-up time, or the end of the shutdown grace.
    fn deadline(&self, give_up_at: Instant) -> Instant {
        self.drain_until.map_or(give_up_at, |d| d.min(give_up_at))
    }

    fn give_up(&mut self, attempts: u32) {
        if self.drain_until.is_some_and(|d| Instant::now() >= d) {
            self.metrics.drop_one(dropped::SHUTDOWN);
        } else {
            self.metrics.failed.get_or_create(&self.label()).inc();
            if !std::mem::replace(&mut self.gave_up_logged, true) {
                tracing::warn!(
                    target_kind = self.target.format.label(),
                    url = ?self.target.url,
                    attempts,
                    after = ?self.tuning.give_up_after,
                    "gave up an alert notification that could not be delivered in time; further ones \
                     are counted in api_notifications_failed_total until the webhook delivers again"
                );
            }
        }
    }
}

/// One POST of `body` to `url`.
async fn attempt(client: &reqwest::Client, url: &WebhookUrl, body: &Value, max_wait: Duration) -> Attempt {
    match client.post(url.url().clone()).json(body).send().await {
        Ok(response) => {
            let status = response.status();
            if status.is_success() {
                Attempt::Delivered
            } else if status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::REQUEST_TIMEOUT
                || status.is_server_error()
            {
                Attempt::Retry {
                    why: format!("HTTP {status}"),
                    after: retry_after(&response).map(|d| d.min(max_wait)),
                }
            } else {
                Attempt::Refused(format!("HTTP {status}"))
            }
        }
        Err(e) if e.is_builder() => Attempt::Refused(error_chain(&e)),
        Err(e) => Attempt::Retry {
            why: error_chain(&e),
            after: None,
        },
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by webhook services).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let v = response.headers().get(reqwest::header::RETRY_AFTER)?;
    v.to_str().ok()?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The error and its causes on one line (reqwest's own message omits the cause).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}
