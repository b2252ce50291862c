//! A batch of Kafka messages on its way to the backend: which records are JSON (forwarded as one
//! JSON array, payloads copied verbatim), which of those are in the original Java collector's
//! format (forwarded to its endpoint), which are not JSON (dead-lettered), and which offsets
//! become committable once the backend has answered for all of them.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;

use crate::config::{BatchLimits, RecordFormat};

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

    /// Splits the messages by what they are, as `format` says.
    pub fn classify(&self, format: RecordFormat) -> Classified {
        let mut out = Classified {
            v1: Vec::with_capacity(self.messages.len()),
            ..Classified::default()
        };
        for (i, m) in self.messages.iter().enumerate() {
            match check_json(m.payload.as_deref()) {
                Ok(()) => match format {
                    RecordFormat::V1 => out.v1.push(i),
                    RecordFormat::Original => out.original.push(i),
                    RecordFormat::Auto if is_original(m.payload.as_deref().unwrap_or_default()) => out.original.push(i),
                    RecordFormat::Auto => out.v1.push(i),
                },
                Err(reason) => out.not_json.push((i, reason)),
            }
        }
        out
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

/// The messages of a batch by what they are (indices into it).
#[derive(Debug, Default, PartialEq)]
pub struct Classified {
    /// JSON, forwarded as v1 records (the backend judges them).
    pub v1: Vec<usize>,
    /// JSON in the original collector's format.
    pub original: Vec<usize>,
    /// Not JSON: (index, reason).
    pub not_json: Vec<(usize, String)>,
}

/// The keys that tell the two formats apart.
#[derive(serde::Deserialize)]
struct Keys {
    #[serde(rename = "hostId")]
    host_id: Option<IgnoredAny>,
    schema: Option<IgnoredAny>,
}

/// Is this JSON payload an original-format record: an object with `hostId` and no `schema`
/// (a v1 record has `schema` and `host_id`)?
pub fn is_original(payload: &[u8]) -> bool {
    serde_json::from_slice::<Keys>(payload).is_ok_and(|k| k.host_id.is_some() && k.schema.is_none())
}

/// Is this payload one JSON value? The reason names what is wrong.
pub fn check_json(payload: Option<&[u8]>) -> Result<(), String> {
    match payload {
        None | Some([]) => Err("empty value".into()),
        Some(p) => serde_json::from_slice::<IgnoredAny>(p)
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
        let c = b.classify(RecordFormat::V1);
        assert_eq!(c.v1, vec![0, 3]);
        assert!(c.original.is_empty());
        let bad = c.not_json;
        assert_eq!(bad.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![1, 2]);
        assert!(bad[0].1.contains("not valid JSON"));
        assert_eq!(bad[1].1, "empty value");
    }

    #[test]
    fn tells_original_records_from_v1_by_their_keys_when_asked() {
        let mut b = Batch::default();
        b.push(msg(0, 0, br#"{"schema":1,"record_id":"r","host_id":"h"}"#));
        b.push(msg(
            0,
            1,
            br#"{"type":"host","hostId":"h","timeStamp":"2026-03-01T10:00:00"}"#,
        ));
        b.push(msg(0, 2, b"[1,2]"));
        b.push(msg(0, 3, b"nope"));
        let c = b.classify(RecordFormat::Auto);
        assert_eq!((c.v1, c.original), (vec![0, 2], vec![1]));
        assert_eq!(c.not_json.len(), 1);
        let c = b.classify(RecordFormat::Original);
        assert_eq!((c.v1, c.original), (vec![], vec![0, 1, 2]));
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
