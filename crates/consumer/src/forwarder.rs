//! Forwards a batch to `POST /api/v1/ingest` and gets an answer for every record.
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

/// One attempt's outcome.
enum Attempt {
    Answered(IngestResponse),
    /// The backend refused the content (400/413) with this reason.
    Refused(String),
    /// Transient: try again later.
    Retry(String),
}

/// HTTP client for the ingest endpoint with the retry policy.
pub struct Forwarder {
    client: reqwest::Client,
    url: String,
    token: Option<String>,
    retry_initial: Duration,
    retry_max: Duration,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
}

impl Forwarder {
    pub fn new(
        url: String,
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
        let mut abort_at: Option<Instant> = None;
        while let Some((start, end)) = pending.pop() {
            let mut backoff = Backoff::new(self.retry_initial, self.retry_max);
            loop {
                match self.attempt(&payloads[start..end]).await {
                    Attempt::Answered(resp) => {
                        self.readiness.set("backend", true, "last ingest answered");
                        answer.accepted += resp.accepted;
                        answer.duplicates += resp.duplicates;
                        answer
                            .rejected
                            .extend(resp.rejected.into_iter().map(|r| (start + r.index, r.error)));
                        break;
                    }
                    Attempt::Refused(reason) if end - start > 1 => {
                        tracing::info!(records = end - start, %reason, "backend refused the batch; splitting it");
                        let mid = start + (end - start) / 2;
                        pending.push((mid, end));
                        pending.push((start, mid));
                        break;
                    }
                    Attempt::Refused(reason) => {
                        answer.rejected.push((start, reason));
                        break;
                    }
                    Attempt::Retry(reason) => {
                        self.metrics.forward_retries.inc();
                        self.readiness.set("backend", false, reason.clone());
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
        answer.rejected.sort_by_key(|(i, _)| *i);
        Ok(answer)
    }

    async fn attempt(&self, payloads: &[&[u8]]) -> Attempt {
        let mut req = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(json_array(payloads.iter().copied()));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let started = std::time::Instant::now();
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(format!("request to {} failed: {e}", self.url)),
        };
        self.metrics.request_seconds.observe(started.elapsed().as_secs_f64());
        let status = resp.status();
        let body = resp.bytes().await.unwrap_or_default();
        let detail = || String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        match status.as_u16() {
            200 => match serde_json::from_slice::<IngestResponse>(&body) {
                Ok(r) if r.rejected.iter().all(|x| x.index < payloads.len()) => Attempt::Answered(r),
                _ => Attempt::Retry(format!("unexpected ingest answer: {}", detail())),
            },
            400 | 413 => Attempt::Refused(format!("backend answered {status}: {}", detail())),
            _ => Attempt::Retry(format!("backend answered {status}: {}", detail())),
        }
    }
}
