//! Kafka helpers for tests: topics of their own, producing raw values, reading a topic back.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};

/// A unique topic name with a label.
pub fn unique_topic(label: &str) -> String {
    format!("e2e-{label}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// Creates `topic` with `partitions` and its dead-letter topic `<topic>.dlq`.
pub async fn create_topics(bootstrap: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let dlq = format!("{topic}.dlq");
    let topics = [
        NewTopic::new(topic, partitions, TopicReplication::Fixed(1)),
        NewTopic::new(&dlq, 1, TopicReplication::Fixed(1)),
    ];
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin.create_topics(&topics, &opts).await.expect("create topics");
    for r in results {
        if let Err((name, code)) = r {
            assert_eq!(
                code,
                rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists,
                "create topic {name}: {code:?}"
            );
        }
    }
}

/// Produces one raw value (acks=all) and waits for the acknowledgement.
pub async fn produce_raw(bootstrap: &str, topic: &str, key: &str, value: &[u8]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .create()
        .expect("producer");
    producer
        .send(FutureRecord::to(topic).key(key).payload(value), Duration::from_secs(10))
        .await
        .map_err(|(e, _)| e)
        .expect("produce");
}

/// A record read back from a topic: value and headers.
#[derive(Debug, Clone)]
pub struct ReadRecord {
    pub partition: i32,
    pub offset: i64,
    pub value: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl ReadRecord {
    /// The (host id, sample time in ms) of a v1 record's value.
    pub fn sample(&self) -> (String, i64) {
        let v: serde_json::Value = serde_json::from_slice(&self.value).expect("a JSON record");
        let at = common::timefmt::parse(v["sampled_at"].as_str().expect("sampled_at")).expect("an RFC 3339 time");
        (
            v["host_id"].as_str().expect("host_id").to_owned(),
            at.timestamp_millis(),
        )
    }

    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Reads `topic` from the beginning until `want` records arrived or `timeout` passed.
pub async fn read_topic(bootstrap: &str, topic: &str, want: usize, timeout: Duration) -> Vec<ReadRecord> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("e2e-reader-{}", uuid::Uuid::new_v4().simple()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .create()
        .expect("reader");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    while out.len() < want {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(Ok(m)) => {
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|x| {
                                (
                                    x.key.to_owned(),
                                    String::from_utf8_lossy(x.value.unwrap_or_default()).into_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(ReadRecord {
                    partition: m.partition(),
                    offset: m.offset(),
                    value: m.payload().unwrap_or_default().to_vec(),
                    headers,
                });
            }
            Ok(Err(e)) => eprintln!("reader: {e}"),
            Err(_) => break,
        }
    }
    out
}
