//! Forwards a batch to `POST /api/v1/ingest` and gets an answer for every record; records in
//! the original Java collector's format go one by one to its `POST /api/metrics`, a few at once.
//!
//! Connection errors, timeouts and every status other than 200/400/413 (401/403 included: an
//! auth problem is not the records' fault) are retried with exponential backoff and jitter,
//! without a limit: the caller fetches nothing meanwhile, which is the backpressure. A 400 or 413
//! is the backend judging the content: the batch is split in halves until the one record it
//! refuses is found, and that record alone is reported rejected.

use std::sync::Arc;
use std::time::Duration;

use common::ops::Readiness;
use common::shutdown::Shutdown;
use serde::Deserialize;
use tokio::time::Instant;

use crate::batch::json_array;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use common::backoff::Backoff;

/// What the backend said about a forwarded batch; indices are positions in the forwarded slice.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Answer {
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: Vec<(usize, String)>,
}

#[derive(Debug, Deserialize)]
struct IngestResponse {
    accepted: u64,
    duplicates: u64,
    #[serde(default)]
    rejected: Vec<Rejection>,
}

#[derive(Debug, Deserialize)]
struct Rejection {
    index: usize,
    error: String,
}

/// `POST /api/metrics`'s answer (the fields the consumer needs).
#[derive(Debug, Deserialize)]
struct CompatResponse {
    duplicate: bool,
}

/// One attempt's outcome.
enum Attempt<T> {
    Answered(T),
    /// The backend refused the content (400/413) with this reason.
    Refused(String),
    /// Transient: try again later.
    Retry(String),
}

/// The outcome of [`Forwarder::until_answered`].
enum Outcome<T> {
    Answered(T),
    Refused(String),
}

/// Original-format records forwarded at once (each is a request of its own).
const ORIGINAL_IN_FLIGHT: usize = 16;

/// HTTP client for the ingest endpoint with the retry policy.
pub struct Forwarder {
    client: reqwest::Client,
    url: String,
    /// `POST /api/metrics`, for records in the original format.
    compat_url: String,
    token: Option<String>,
    retry_initial: Duration,
    retry_max: Duration,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
}

impl Forwarder {
    pub fn new(
        (url, compat_url): (String, String),
        token: Option<String>,
        timeout: Duration,
        retry: (Duration, Duration),
        metrics: Arc<Metrics>,
        readiness: Arc<Readiness>,
    ) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .expect("HTTP client");
        readiness.set("backend", true, "no request yet");
        Self {
            client,
            url,
            compat_url,
            token,
            retry_initial: retry.0,
            retry_max: retry.1,
            metrics,
            readiness,
        }
    }

    /// Forwards `payloads` (each one JSON value) until the backend has answered for every one.
    /// Fails only when shutdown was requested and `grace` ran out while still retrying.
    pub async fn forward(&self, payloads: &[&[u8]], shutdown: &Shutdown, grace: Duration) -> Result<Answer> {
        let mut answer = Answer::default();
        let mut pending = vec![(0usize, payloads.len())];
        while let Some((start, end)) = pending.pop() {
            let slice = &payloads[start..end];
            match self.until_answered(|| self.attempt(slice), shutdown, grace).await? {
                Outcome::Answered(resp) => {
                    answer.accepted += resp.accepted;
                    answer.duplicates += resp.duplicates;
                    answer
                        .rejected
                        .extend(resp.rejected.into_iter().map(|r| (start + r.index, r.error)));
                }
                Outcome::Refused(reason) if end - start > 1 => {
                    tracing::info!(records = end - start, %reason, "backend refused the batch; splitting it");
                    let mid = start + (end - start) / 2;
                    pending.push((mid, end));
                    pending.push((start, mid));
                }
                Outcome::Refused(reason) => answer.rejected.push((start, reason)),
            }
        }
        answer.rejected.sort_by_key(|(i, _)| *i);
        Ok(answer)
    }

    /// Forwards records in the original collector's format, each to `POST /api/metrics`
    /// ([`ORIGINAL_IN_FLIGHT`] at once), until the backend has answered for every one.
    pub async fn forward_original(&self, payloads: &[&[u8]], shutdown: &Shutdown, grace: Duration) -> Result<Answer> {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        // the futures made first: a closure in the stream would not be Send for every lifetime
        let each: Vec<_> = payloads
            .iter()
            .enumerate()
            .map(|(i, p)| self.one_original(i, p, shutdown, grace))
            .collect();
        let outcomes: Vec<(usize, Outcome<CompatResponse>)> = stream::iter(each)
            .buffer_unordered(ORIGINAL_IN_FLIGHT)
            .try_collect()
            .await?;
        let mut answer = Answer::default();
        for (i, outcome) in outcomes {
            match outcome {
                Outcome::Answered(r) if r.duplicate => answer.duplicates += 1,
                Outcome::Answered(_) => answer.accepted += 1,
                Outcome::Refused(reason) => answer.rejected.push((i, reason)),
            }
        }
        answer.rejected.sort_by_key(|(i, _)| *i);
        Ok(answer)
    }

    /// One original-format record until answered, with its index.
    async fn one_original(
        &self,
        i: usize,
        payload: &[u8],
        shutdown: &Shutdown,
        grace: Duration,
    ) -> Result<(usize, Outcome<CompatResponse>)> {
        let outcome = self
            .until_answered(|| self.attempt_original(payload), shutdown, grace)
            .await?;
        Ok((i, outcome))
    }

    /// Tries `attempt` until it is answered or refused, retrying with backoff meanwhile; fails
    /// only when shutdown was requested and `grace` ran out while still retrying.
    async fn until_answered<T, F>(
        &self,
        attempt: impl Fn() -> F,
        shutdown: &Shutdown,
        grace: Duration,
    ) -> Result<Outcome<T>>
    where
        F: std::future::Future<Output = Attempt<T>>,
    {
        let mut backoff = Backoff::new(self.retry_initial, self.retry_max);
        let mut abort_at: Option<Instant> = None;
        loop {
            let started = std::time::Instant::now();
            let outcome = attempt().await;
            let took = started.elapsed();
            match outcome {
                Attempt::Answered(t) => {
                    self.readiness.measured("backend", true, "last ingest answered", took);
                    return Ok(Outcome::Answered(t));
                }
                Attempt::Refused(reason) => {
                    self.readiness.measured("backend", true, "last ingest answered", took);
                    return Ok(Outcome::Refused(reason));
                }
                Attempt::Retry(reason) => {
                    self.metrics.forward_retries.inc();
                    self.readiness.measured("backend", false, reason.clone(), took);
                    let delay = backoff.next_delay();
                    tracing::warn!(%reason, retry_in = ?delay, "ingest failed; will retry");
                    if shutdown.is_triggered() {
                        let deadline = *abort_at.get_or_insert_with(|| Instant::now() + grace);
                        if Instant::now() + delay > deadline {
                            return Err(Error::Interrupted);
                        }
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.wait(), if abort_at.is_none() => {}
                    }
                }
            }
        }
    }

    async fn attempt(&self, payloads: &[&[u8]]) -> Attempt<IngestResponse> {
        let body = json_array(payloads.iter().copied());
        self.post(&self.url, body, |r: &IngestResponse| {
            r.rejected.iter().all(|x| x.index < payloads.len())
        })
        .await
    }

    async fn attempt_original(&self, payload: &[u8]) -> Attempt<CompatResponse> {
        self.post(&self.compat_url, payload.to_vec(), |_| true).await
    }

    /// POSTs `body` (JSON) to `url`; a 200 answer must parse as `T` and pass `plausible`.
    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        body: Vec<u8>,
        plausible: impl Fn(&T) -> bool,
    ) -> Attempt<T> {
        let mut req = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let started = std::time::Instant::now();
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(format!("request to {url} failed: {e}")),
        };
        self.metrics.request_seconds.observe(started.elapsed().as_secs_f64());
        let status = resp.status();
        let body = resp.bytes().await.unwrap_or_default();
        let detail = || String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        match status.as_u16() {
            200 => match serde_json::from_slice::<T>(&body) {
                Ok(r) if plausible(&r) => Attempt::Answered(r),
                _ => Attempt::Retry(format!("unexpected ingest answer: {}", detail())),
            },
            400 | 413 => Attempt::Refused(format!("backend answered {status}: {}", detail())),
            _ => Attempt::Retry(format!("backend answered {status}: {}", detail())),
        }
    }
}
