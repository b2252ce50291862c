//! A minimal Server-Sent Events client for tests: reads a `text/event-stream` response chunk by
//! chunk and yields events (`event`, `id`, `data`); comments (heartbeats) are counted.

use std::time::Duration;

/// One SSE event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    /// `None` for unnamed events (the `message` type).
    pub event: Option<String>,
    pub id: Option<String>,
    pub data: String,
}

impl SseEvent {
    /// `data` as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("SSE data is not JSON ({e}): {}", self.data))
    }
}

/// A connected stream.
pub struct SseClient {
    response: reqwest::Response,
    buffer: String,
    pub comments: usize,
}

impl SseClient {
    /// GET `url` with `Accept: text/event-stream` (and `Last-Event-ID` when given); panics on a
    /// non-200 or a wrong content type.
    pub async fn connect(url: &str, last_event_id: Option<&str>) -> SseClient {
        let client = reqwest::Client::new();
        let mut req = client.get(url).header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let response = req.send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert_eq!(response.status().as_u16(), 200, "GET {url}");
        let ct = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        assert!(ct.starts_with("text/event-stream"), "GET {url}: content-type {ct}");
        SseClient {
            response,
            buffer: String::new(),
            comments: 0,
        }
    }

    /// The next event within `timeout`, or `None`.
    pub async fn next(&mut self, timeout: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(event) = self.take_event() {
                return Some(event);
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(bytes))) => self
                    .buffer
                    .push_str(&String::from_utf8_lossy(&bytes).replace("\r\n", "\n")),
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => return None,
            }
        }
    }

    /// Every event that arrives within `window`.
    pub async fn collect_for(&mut self, window: Duration) -> Vec<SseEvent> {
        let deadline = tokio::time::Instant::now() + window;
        let mut out = Vec::new();
        while let Some(e) = self
            .next(deadline.saturating_duration_since(tokio::time::Instant::now()))
            .await
        {
            out.push(e);
        }
        out
    }

    fn take_event(&mut self) -> Option<SseEvent> {
        loop {
            let end = self.buffer.find("\n\n")?;
            let block: String = self.buffer.drain(..end + 2).collect();
            let (mut event, mut id, mut data) = (None, None, Vec::new());
            let mut only_comments = true;
            for line in block.lines() {
                if line.starts_with(':') {
                    self.comments += 1;
                    continue;
                }
                let (field, value) = line
                    .split_once(':')
                    .map_or((line, ""), |(f, v)| (f, v.strip_prefix(' ').unwrap_or(v)));
                only_comments = false;
                match field {
                    "event" => event = Some(value.to_owned()),
                    "id" => id = Some(value.to_owned()),
                    "data" => data.push(value.to_owned()),
                    _ => {}
                }
            }
            if !only_comments && !data.is_empty() {
                return Some(SseEvent {
                    event,
                    id,
                    data: data.join("\n"),
                });
            }
        }
    }
}
