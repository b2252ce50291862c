//! A batch of Kafka messages on its way to the backend: which records are JSON (forwarded as one
//! JSON array, payloads copied verbatim), which are not (dead-lettered), and which offsets become
//! committable once the backend has answered for all of them.

use std::collections::BTreeMap;

use crate::config::BatchLimits;

/// One consumed message, detached from the Kafka client.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
}

/// Messages collected until the batch limits are reached.
#[derive(Debug, Default)]
pub struct Batch {
    pub messages: Vec<Message>,
    bytes: usize,
}

impl Batch {
    pub fn push(&mut self, m: Message) {
        self.bytes += m.payload.as_ref().map_or(0, Vec::len);
        self.messages.push(m);
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Full by count or by bytes.
    pub fn is_full(&self, limits: &BatchLimits) -> bool {
        self.len() >= limits.max_records || self.bytes >= limits.max_bytes
    }

    /// Splits into indices of JSON payloads and (index, reason) of the ones that are not.
    pub fn classify(&self) -> (Vec<usize>, Vec<(usize, String)>) {
        let mut json = Vec::with_capacity(self.messages.len());
        let mut bad = Vec::new();
        for (i, m) in self.messages.iter().enumerate() {
            match check_json(m.payload.as_deref()) {
                Ok(()) => json.push(i),
                Err(reason) => bad.push((i, reason)),
            }
        }
        (json, bad)
    }

    /// Per partition, the offset to commit once every message of the batch was answered for.
    pub fn commit_offsets(&self) -> BTreeMap<i32, i64> {
        let mut next = BTreeMap::new();
        for m in &self.messages {
            let e = next.entry(m.partition).or_insert(m.offset + 1);
            *e = (*e).max(m.offset + 1);
        }
        next
    }
}

/// Is this payload one JSON value? The reason names what is wrong.
pub fn check_json(payload: Option<&[u8]>) -> Result<(), String> {
    match payload {
        None | Some([]) => Err("empty value".into()),
        Some(p) => serde_json::from_slice::<serde::de::IgnoredAny>(p)
            .map(|_| ())
            .map_err(|e| format!("value is not valid JSON: {e}")),
    }
}

/// `[p1,p2,...]` from JSON payloads, copied verbatim (no re-serialisation).
pub fn json_array<'a>(payloads: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut body = Vec::with_capacity(1024);
    body.push(b'[');
    for (i, p) in payloads.into_iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(p);
    }
    body.push(b']');
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn msg(partition: i32, offset: i64, payload: &[u8]) -> Message {
        Message {
            partition,
            offset,
            key: None,
            payload: Some(payload.to_vec()),
        }
    }

    #[test]
    fn classifies_json_and_not_json() {
        let mut b = Batch::default();
        b.push(msg(0, 1, br#"{"a":1}"#));
        b.push(msg(0, 2, b"not json"));
        b.push(Message {
            partition: 0,
            offset: 3,
            key: None,
            payload: None,
        });
        b.push(msg(0, 4, b"[1,2]"));
        let (json, bad) = b.classify();
        assert_eq!(json, vec![0, 3]);
        assert_eq!(bad.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![1, 2]);
        assert!(bad[0].1.contains("not valid JSON"));
        assert_eq!(bad[1].1, "empty value");
    }

    #[test]
    fn commits_one_past_the_highest_offset_per_partition() {
        let mut b = Batch::default();
        for (p, o) in [(0, 10), (1, 5), (0, 12), (0, 11), (1, 4)] {
            b.push(msg(p, o, b"{}"));
        }
        assert_eq!(b.commit_offsets(), BTreeMap::from([(0, 13), (1, 6)]));
    }

    #[test]
    fn full_by_count_or_bytes() {
        let limits = BatchLimits {
            max_records: 3,
            max_bytes: 10,
            max_wait: Duration::from_millis(1),
            idle: Duration::ZERO,
        };
        let mut b = Batch::default();
        b.push(msg(0, 0, b"{}"));
        assert!(!b.is_full(&limits));
        b.push(msg(0, 1, b"[1,2,3,4,5,6]"));
        assert!(b.is_full(&limits));
    }

    #[test]
    fn builds_a_json_array_verbatim() {
        let body = json_array([&b"{\"a\":1}"[..], b"2", b"\"x\""]);
        assert_eq!(body, b"[{\"a\":1},2,\"x\"]");
        let v: serde_json::Value = serde_json::from_slice(&json_array(std::iter::empty())).unwrap();
        assert_eq!(v, serde_json::json!([]));
    }
}
