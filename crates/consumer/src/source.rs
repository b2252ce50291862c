//! The Kafka side of the consumer: group membership with manual commits, batch assembly under
//! count/bytes/time limits, synchronous commits of answered offsets, and lag measurement.

use std::sync::Arc;
use std::time::Duration;

use common::ops::Readiness;
use common::shutdown::Shutdown;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::batch::{Batch, Message};
use crate::config::{BatchLimits, Config};
use crate::metrics::Metrics;

/// Logs rebalances and keeps readiness and the assignment gauge current; wakes the group
/// watcher when the connection to the brokers fails (a broker restarting).
pub struct GroupContext {
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
    broker_trouble: Arc<Notify>,
    /// Partitions held, as the last rebalance left them (librdkafka's own `assignment()` asks
    /// its group thread and waits without a bound: it hung with a broker restarting).
    assigned: std::sync::atomic::AtomicUsize,
}

impl ClientContext for GroupContext {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::error!("librdkafka: {error}: {reason}");
        if matches!(
            error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::AllBrokersDown | RDKafkaErrorCode::BrokerTransportFailure)
        ) {
            self.broker_trouble.notify_one();
        }
    }
}

impl GroupContext {
    /// Notified when the connection to the brokers fails.
    pub fn broker_trouble(&self) -> Arc<Notify> {
        self.broker_trouble.clone()
    }

    /// Partitions this member holds.
    pub fn assigned(&self) -> usize {
        self.assigned.load(std::sync::atomic::Ordering::Acquire)
    }
}

impl ConsumerContext for GroupContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        // the eager protocol: an assignment replaces the whole set, a revocation empties it
        let assigned = match rebalance {
            Rebalance::Assign(tpl) => tpl.count(),
            Rebalance::Revoke(_) => 0,
            Rebalance::Error(_) => self.assigned(),
        };
        self.assigned.store(assigned, std::sync::atomic::Ordering::Release);
        match rebalance {
            Rebalance::Assign(tpl) => {
                let parts: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
                tracing::info!(partitions = ?parts, "partitions assigned");
                self.readiness.set(
                    "kafka",
                    true,
                    format!("member of the group, {} partition(s) assigned", parts.len()),
                );
            }
            Rebalance::Revoke(tpl) => tracing::info!(partitions = tpl.count(), "partitions revoked"),
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance error"),
        }
        self.metrics.assigned_partitions.set(assigned as i64);
    }
}

pub type GroupConsumer = StreamConsumer<GroupContext>;

/// Creates the consumer and subscribes it to the topic.
pub fn create(config: &Config, readiness: Arc<Readiness>, metrics: Arc<Metrics>) -> KafkaResult<GroupConsumer> {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", &config.bootstrap_server)
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("queued.max.messages.kbytes", "16384")
        // How long the broker may hold a fetch that finds nothing new. On Kafka a fetch returns
        // as soon as a record arrives, so this is only the idle poll interval (40 requests a
        // second per broker); tansu 0.6 holds every fetch for it (half of it above 500 ms), so
        // librdkafka's 500 ms default put 250 ms into every sample's path to its alert.
        .set("fetch.wait.max.ms", "25")
        .set("client.id", "metrics-consumer");
    for (k, v) in &config.kafka_overrides {
        cc.set(k, v);
    }
    readiness.set("kafka", false, "joining the consumer group");
    let context = GroupContext {
        readiness,
        metrics,
        broker_trouble: Arc::new(Notify::new()),
        assigned: Default::default(),
    };
    let consumer: GroupConsumer = cc.create_with_context(context)?;
    consumer.subscribe(&[config.topic.as_str()])?;
    Ok(consumer)
}

/// Adds received records to `batch` until it is full, until `max_wait` after its first record,
/// or until no record came for `idle`. Cancel-safe: a record once received stays in `batch`, and
/// `deadline` (set by the first record) survives a cancelled call, so the caller can race this
/// against other work.
pub async fn fill(
    consumer: &GroupConsumer,
    batch: &mut Batch,
    deadline: &mut Option<Instant>,
    limits: &BatchLimits,
    metrics: &Metrics,
) {
    let mut last = Instant::now();
    while !batch.is_full(limits) {
        let until = deadline.map(|d| match limits.idle.is_zero() {
            true => d,
            false => d.min(last + limits.idle),
        });
        let received = match until {
            None => consumer.recv().await,
            Some(d) => match tokio::time::timeout_at(d, consumer.recv()).await {
                Ok(r) => r,
                Err(_) => return,
            },
        };
        match received {
            Ok(m) => {
                last = Instant::now();
                deadline.get_or_insert_with(|| last + limits.max_wait);
                batch.push(detach(&m));
                metrics.records_consumed.inc();
            }
            Err(e) => {
                tracing::warn!(error = %e, "kafka receive error");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

fn detach(m: &rdkafka::message::BorrowedMessage<'_>) -> Message {
    Message {
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(<[u8]>::to_vec),
        payload: m.payload().map(<[u8]>::to_vec),
    }
}

/// Commits `partition → next offset` synchronously.
pub fn commit(
    consumer: &GroupConsumer,
    topic: &str,
    offsets: &std::collections::BTreeMap<i32, i64>,
) -> KafkaResult<()> {
    let mut tpl = TopicPartitionList::with_capacity(offsets.len());
    for (&partition, &next) in offsets {
        tpl.add_partition_offset(topic, partition, Offset::Offset(next))?;
    }
    tokio::task::block_in_place(|| consumer.commit(&tpl, CommitMode::Sync))
}

/// How often the lag and the assignment are measured.
pub const GROUP_CHECK_EVERY: Duration = Duration::from_secs(10);
/// After the connection to the brokers failed, measurements come this often ...
pub const TROUBLE_CHECK_EVERY: Duration = Duration::from_secs(1);
/// ... this many times: a broker that comes back empty must be noticed before its new log
/// regrows to this member's position.
pub const TROUBLE_CHECKS: u32 = 120;
/// How long a member that holds no partition may see the group's committed offsets stand
/// still while the topic has records waiting before it says so and rejoins.
pub const STALL_AFTER: Duration = Duration::from_secs(30);

/// The topic as this member sees it at one measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupView {
    /// Partitions assigned to this member.
    pub assigned: usize,
    /// Records of every partition of the topic not yet consumed (this member's position where
    /// it holds the partition, the group's committed offset elsewhere).
    pub lag: i64,
    /// Sum of the group's committed offsets over the topic: it grows while someone consumes.
    pub committed: i64,
}

/// One partition's end at a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionEnd {
    pub partition: i32,
    /// The high watermark: the offset the next record will get.
    pub high: i64,
    /// This member's position, where it holds the partition and has one.
    pub position: Option<i64>,
    /// The group's committed offset as the broker reports it.
    pub committed: GroupOffset,
}

/// A group's committed offset for one partition, as far as the broker could tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupOffset {
    /// The broker did not answer for it.
    Unknown,
    /// Nothing committed.
    Nothing,
    At(i64),
}

/// Notices a partition log that went backwards: its end below an end seen before, the group's
/// committed offset gone or below one seen before, or this member's position beyond the end on
/// two measurements running without moving (a broker's reported end can trail the records it
/// already served, so one position beyond it means nothing). A broker that restarted without
/// its data (or lost records to an unclean leader change) does that, and a consumer that keeps
/// its position would skip the new log's records up to it, or wait for them forever: it must
/// read the partition from its start (the backend drops what it already stored).
#[derive(Debug, Default)]
pub struct LogEnds {
    highest: std::collections::HashMap<i32, i64>,
    committed: std::collections::HashMap<i32, i64>,
    /// The position last seen beyond the end, per partition.
    beyond: std::collections::HashMap<i32, i64>,
}

impl LogEnds {
    /// Takes a measurement; returns the held partitions whose log went backwards.
    pub fn rewound(&mut self, ends: &[PartitionEnd]) -> Vec<i32> {
        let mut out = Vec::new();
        for e in ends {
            let before = self.highest.insert(e.partition, e.high);
            let (committed_before, commit_now) = match e.committed {
                GroupOffset::At(c) => (self.committed.insert(e.partition, c), Some(c)),
                GroupOffset::Nothing => (self.committed.remove(&e.partition), None),
                GroupOffset::Unknown => (None, None), // nothing to compare: the reference stays
            };
            let beyond_before = self.beyond.remove(&e.partition);
            let Some(at) = e.position else { continue };
            let end_fell = before.is_some_and(|h| e.high < h);
            let commit_lost = committed_before.is_some_and(|c| commit_now.is_none_or(|now| now < c));
            let stuck_beyond = at > e.high && beyond_before == Some(at);
            if end_fell || commit_lost || stuck_beyond {
                out.push(e.partition);
            } else if at > e.high {
                self.beyond.insert(e.partition, at);
            }
        }
        out
    }
}

/// What to do after a measurement: the member is stalled when it holds no partition while the
/// topic has records waiting and nobody in the group committed for [`STALL_AFTER`].
#[derive(Debug, Default)]
pub struct StallCheck {
    since: Option<(Instant, i64)>,
    pub stalled: bool,
}

impl StallCheck {
    /// Takes a measurement at `now`; true when the member should rejoin (once per stall period).
    pub fn observe(&mut self, view: GroupView, now: Instant, stall_after: Duration) -> bool {
        if view.assigned > 0 || view.lag == 0 {
            self.since = None;
            self.stalled = false;
            return false;
        }
        match self.since {
            Some((_, committed)) if committed != view.committed => {
                self.since = Some((now, view.committed));
                self.stalled = false;
                false
            }
            Some((since, _)) if now.duration_since(since) >= stall_after => {
                self.stalled = true;
                self.since = Some((now, view.committed)); // next rejoin one period later
                true
            }
            Some(_) => false,
            None => {
                self.since = Some((now, view.committed));
                false
            }
        }
    }
}

/// Every `every`: sets the lag and assignment gauges from the whole topic; when this member
/// holds no partition while records wait and the group's offsets stand still (see
/// [`StallCheck`]), reports it (readiness `kafka` false with the reason, gauge
/// `consumer_stalled` 1, a warning) and rejoins the group (`consumer_rejoins_total`).
pub async fn watch_group(
    consumer: Arc<GroupConsumer>,
    topic: String,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    (every, stall_after): (Duration, Duration),
    shutdown: Shutdown,
) {
    let mut check = StallCheck::default();
    let mut log_ends = LogEnds::default();
    let trouble = consumer.context().broker_trouble();
    let mut quick = 0u32;
    loop {
        let wait = if quick > 0 {
            TROUBLE_CHECK_EVERY.min(every)
        } else {
            every
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => quick = quick.saturating_sub(1),
            _ = trouble.notified() => {
                quick = TROUBLE_CHECKS;
                continue;
            }
            _ = shutdown.wait() => return,
        }
        let (c, t) = (consumer.clone(), topic.clone());
        let (view, ends) = match tokio::task::spawn_blocking(move || view(&c, &t)).await {
            Ok(Ok(measured)) => measured,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "lag measurement failed");
                continue;
            }
            Err(_) => continue,
        };
        tracing::debug!(?view, ?ends, "group measured");
        for partition in log_ends.rewound(&ends) {
            let end = ends.iter().find(|e| e.partition == partition).copied();
            tracing::warn!(
                partition,
                high = end.map(|e| e.high),
                position = end.and_then(|e| e.position),
                "the partition's log went backwards (a broker restarted without its data?): reading it again from its start"
            );
            metrics.offset_resets.inc();
            let (c, t) = (consumer.clone(), topic.clone());
            let sought =
                tokio::task::spawn_blocking(move || c.seek(&t, partition, Offset::Beginning, Duration::from_secs(5)))
                    .await;
            if let Ok(Err(e)) = sought {
                tracing::warn!(error = %e, partition, "seeking to the partition's start failed; trying again later");
            }
        }
        let Some(view) = view else { continue };
        metrics.lag_records.set(view.lag);
        metrics.assigned_partitions.set(view.assigned as i64);
        let was_stalled = check.stalled;
        if check.observe(view, Instant::now(), stall_after) {
            let reason = format!(
                "no partition assigned while {} records wait and the group committed nothing for {}s; rejoining",
                view.lag,
                stall_after.as_secs()
            );
            tracing::warn!(lag = view.lag, "{reason}");
            readiness.set("kafka", false, reason);
            metrics.stalled.set(1);
            metrics.rejoins.inc();
            let (c, t) = (consumer.clone(), topic.clone());
            let rejoined = tokio::task::spawn_blocking(move || {
                c.unsubscribe();
                c.subscribe(&[t.as_str()])
            })
            .await;
            if let Ok(Err(e)) = rejoined {
                tracing::warn!(error = %e, "rejoining the group failed; trying again later");
            }
        } else if was_stalled && !check.stalled {
            metrics.stalled.set(0);
            if view.assigned == 0 {
                readiness.set(
                    "kafka",
                    true,
                    "member of the group; the other members hold the partitions",
                );
            }
        }
    }
}

/// Measures the topic: assignment, lag over every partition, the group's committed offsets,
/// and each partition's end. The group view is `None` when the group's offsets could not be
/// read (no coordinator: a broker restarting); the ends are still measured, they do not need
/// it.
fn view(c: &GroupConsumer, topic: &str) -> KafkaResult<(Option<GroupView>, Vec<PartitionEnd>)> {
    const TIMEOUT: Duration = Duration::from_secs(2);
    let position = c.position()?;
    let metadata = c.fetch_metadata(Some(topic), TIMEOUT)?;
    let mut all = TopicPartitionList::new();
    for p in metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions())
    {
        all.add_partition(topic, p.id());
    }
    let committed = match c.committed_offsets(all.clone(), TIMEOUT) {
        Ok(tpl) => Some(tpl),
        Err(e) => {
            tracing::debug!(error = %e, "the group's committed offsets could not be read");
            None
        }
    };
    let mut view = GroupView {
        assigned: c.context().assigned(),
        lag: 0,
        committed: 0,
    };
    let mut ends = Vec::new();
    for e in all.elements() {
        let partition = e.partition();
        let (low, high) = c.fetch_watermarks(topic, partition, TIMEOUT)?;
        let group_offset = match committed.as_ref().and_then(|t| t.find_partition(topic, partition)) {
            None => GroupOffset::Unknown,
            Some(p) if p.error().is_err() => GroupOffset::Unknown,
            Some(p) => match p.offset() {
                Offset::Offset(n) => GroupOffset::At(n),
                _ => GroupOffset::Nothing,
            },
        };
        // nothing committed yet: consumption starts at the earliest record
        let committed = match group_offset {
            GroupOffset::At(n) => n,
            _ => low,
        };
        view.committed += committed;
        let held = match position.find_partition(topic, partition).map(|p| p.offset()) {
            Some(Offset::Offset(n)) => Some(n),
            _ => None,
        };
        view.lag += (high - held.unwrap_or(committed)).max(0);
        ends.push(PartitionEnd {
            partition,
            high,
            position: held,
            committed: group_offset,
        });
    }
    Ok((committed.is_some().then_some(view), ends))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(assigned: usize, lag: i64, committed: i64) -> GroupView {
        GroupView {
            assigned,
            lag,
            committed,
        }
    }

    #[test]
    fn a_log_that_goes_backwards_is_read_again_from_its_start() {
        let end = |partition, high, position| PartitionEnd {
            partition,
            high,
            position,
            committed: GroupOffset::Unknown,
        };
        let mut ends = LogEnds::default();
        assert!(ends.rewound(&[end(0, 4000, Some(4000)), end(1, 10, None)]).is_empty());
        // growing logs, a member catching up: nothing
        assert!(ends.rewound(&[end(0, 4100, Some(4050)), end(1, 20, None)]).is_empty());
        // the broker came back empty: partition 0's end fell below what was seen
        assert_eq!(ends.rewound(&[end(0, 30, Some(4100)), end(1, 0, None)]), [0]);
        // once read again from the start, the new log is the reference
        assert!(ends.rewound(&[end(0, 60, Some(40))]).is_empty());
    }

    #[test]
    fn a_position_beyond_the_end_counts_only_while_it_stands_still() {
        let end = |high, position| PartitionEnd {
            partition: 2,
            high,
            position: Some(position),
            committed: GroupOffset::Unknown,
        };
        // a broker whose reported end trails what it served: the position moves on, no rewind
        let mut ends = LogEnds::default();
        assert!(ends.rewound(&[end(20424, 20491)]).is_empty());
        assert!(ends.rewound(&[end(33662, 33711)]).is_empty());
        assert!(ends.rewound(&[end(40000, 40100)]).is_empty());
        // a member waiting beyond the end of a fresh log (a new watcher: no end seen before)
        let mut fresh = LogEnds::default();
        assert!(fresh.rewound(&[end(5, 900)]).is_empty(), "once is not enough");
        assert_eq!(fresh.rewound(&[end(9, 900)]), [2], "still there, not moving");
    }

    #[test]
    fn a_group_whose_committed_offsets_vanish_reads_again_from_its_start() {
        use GroupOffset::{At, Nothing, Unknown};
        let end = |high, position, committed| PartitionEnd {
            partition: 0,
            high,
            position: Some(position),
            committed,
        };
        let mut ends = LogEnds::default();
        assert!(ends.rewound(&[end(4000, 3990, At(3900))]).is_empty());
        assert!(ends.rewound(&[end(4100, 4090, At(4000))]).is_empty(), "commits move on");
        // the broker could not say (no coordinator yet): no verdict, the reference stays
        assert!(ends.rewound(&[end(4150, 4095, Unknown)]).is_empty());
        // a fresh broker whose new log already regrew past the position: the end alone says
        // nothing, but the group's offsets are gone
        assert_eq!(ends.rewound(&[end(4200, 4100, Nothing)]), [0]);
        // from then on the fresh broker's commits are the reference
        assert!(ends.rewound(&[end(4300, 200, At(150))]).is_empty());
        assert!(ends.rewound(&[end(4400, 300, At(250))]).is_empty());
        // never committed at all: nothing to lose
        let mut fresh = LogEnds::default();
        assert!(fresh.rewound(&[end(10, 5, Nothing)]).is_empty());
        assert!(fresh.rewound(&[end(20, 15, Nothing)]).is_empty());
    }

    #[test]
    fn a_member_without_partitions_is_stalled_only_while_nobody_consumes_waiting_records() {
        let stall = Duration::from_secs(30);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut c = StallCheck::default();
        assert!(!c.observe(view(0, 100, 50), at(0), stall));
        assert!(!c.observe(view(0, 100, 50), at(20), stall));
        assert!(c.observe(view(0, 120, 50), at(30), stall), "30 s without a commit");
        assert!(c.stalled);
        assert!(!c.observe(view(0, 130, 50), at(40), stall), "one rejoin per period");
        assert!(c.observe(view(0, 140, 50), at(60), stall));
        // the others consume: committed offsets move, not stalled
        assert!(!c.observe(view(0, 10, 180), at(70), stall));
        assert!(!c.stalled);
        assert!(!c.observe(view(0, 10, 190), at(110), stall));
        // nothing waiting, or partitions held: never stalled
        let mut c = StallCheck::default();
        for s in [0, 40, 80] {
            assert!(!c.observe(view(0, 0, 5), at(s), stall));
            assert!(!c.observe(view(3, 500, 5), at(s + 1), stall));
        }
    }
}
