//! Broker faults through the whole pipeline, on a broker of the test's own behind a proxy
//! ([`e2e::broker::OwnBroker`]): a collector cut off from it queues what its bound holds,
//! counts what it drops, and delivers the rest once the broker is reachable again; and after a
//! broker that restarts empty (the test broker's storage is memory: no durable storage of tansu
//! 0.6.0 survived a restart here) the consumer follows the fresh broker. Each ends with the
//! store checked against what was produced and the alert checks ([`e2e::checks`]).

use std::time::Duration;

use e2e::broker::OwnBroker;
use e2e::{checks, free_port, metric_value as value, wait_until, Proc, Stack};

/// One at a time: each runs the whole pipeline on two cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The outage: 30 s in the test command; `SRMON_BROKER_OUTAGE_SECS=300` for the five-minute run
/// (docs/benchmarks.md).
fn outage() -> Duration {
    Duration::from_secs(
        std::env::var("SRMON_BROKER_OUTAGE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(30),
    )
}

/// A collector in its real mode (this machine's /proc and the Docker-API engine) at 100 ms
/// ticks with room for `queue` records.
fn collector(stack: &Stack, port: u16, queue: u32) -> Proc {
    let mut env = stack.collector_env(port);
    env.push(("HOST_ID", format!("{}-host", stack.topic)));
    env.push(("HOST_NAME", "cut-off".to_owned()));
    env.push(("COLLECT_INTERVAL", "100ms".to_owned()));
    env.push(("PRODUCER_QUEUE_MAX_RECORDS", queue.to_string()));
    Proc::spawn("collector", "collector", &[], &env, &stack.log_dir)
}

/// Stops the collector gracefully (it waits for its queue to be delivered) and returns how
/// many records it produced: checked against its counters just before.
async fn stop_collector(stack: &Stack, collector: &mut Proc, port: u16) -> (f64, f64) {
    let m = stack.metrics_text(port).await;
    let (ticks, produced, dropped) = (
        value(&m, "collector_tick_duration_seconds_count"),
        value(&m, "collector_records_produced_total"),
        value(&m, "collector_records_dropped_total"),
    );
    // every record a tick made was queued or counted as dropped (one tick may be under way)
    assert!(
        (0.0..=1.0).contains(&(ticks - produced - dropped)),
        "ticks {ticks}, produced {produced}, dropped {dropped}:\n{m}"
    );
    assert!(
        collector.terminate(Duration::from_secs(60)).success(),
        "the collector exits 0 after delivering its queue"
    );
    (produced, dropped)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_cut_off_from_the_broker_queues_within_its_bound_counts_the_rest_and_delivers_it() {
    let _one = ONE_AT_A_TIME.lock().await;
    const QUEUE: u32 = 100;
    let dir = e2e::scratch("brokercut");
    let broker = OwnBroker::start(&dir).await;
    let stack = Stack::new_on("faultcut", 1, broker.services()).await;
    let (api, cport, colport) = (free_port(), free_port(), free_port());
    let backend = stack.start_backend(api).await;
    let _consumer = stack.start_consumer(api, cport, &[]).await;
    let mut collector = collector(&stack, colport, QUEUE);
    let stored = || e2e::stored::count(&stack.db.pool);
    wait_until(Duration::from_secs(60), "records before the cut", || async {
        (stored().await >= 20).then_some(())
    })
    .await;
    broker.proxy.down();
    let outage = outage();
    eprintln!("broker unreachable for {outage:?}");
    tokio::time::sleep(outage).await;
    let m = stack.metrics_text(colport).await;
    let (depth, dropped) = (
        value(&m, "collector_producer_queue_depth"),
        value(&m, "collector_records_dropped_total"),
    );
    eprintln!("after the outage: {depth} records queued, {dropped} dropped");
    assert_eq!(
        depth,
        f64::from(QUEUE),
        "the queue holds its bound while the broker is away"
    );
    assert!(dropped > 0.0, "what did not fit is counted");
    broker.proxy.up();
    wait_until(Duration::from_secs(120), "the queue to drain", || async {
        let m = stack.metrics_text(colport).await;
        (value(&m, "collector_producer_queue_depth") < 5.0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (produced, dropped) = stop_collector(&stack, &mut collector, colport).await;
    eprintln!("{produced} records produced, {dropped} dropped (counted)");
    // everything produced arrived, once (a tick or two may have come between the read and the
    // stop); reading for more than that shows the topic holds no more
    let records = e2e::kafka::read_topic(
        &stack.services.bootstrap,
        &stack.topic,
        produced as usize + 4,
        Duration::from_secs(20),
    )
    .await
    .len() as i64;
    assert!(
        (produced as i64..=produced as i64 + 3).contains(&records),
        "{records} records in the topic for {produced} produced"
    );
    wait_until(Duration::from_secs(120), "every record to be stored", || async {
        (stored().await >= records).then_some(())
    })
    .await;
    checks::exactly_once(&stack, records).await;
    checks::incidents(&stack, api).await;
    checks::replay_equals_store(&stack, api).await;
    drop(backend);
    stack.db.drop_db().await;
}

/// `collector simulate`: 20 hosts named `prefix-…`, a record every 100 ms each, `records` in all.
fn simulate(stack: &Stack, port: u16, records: i64, prefix: &str, seed: u64) -> Proc {
    stack.simulate(port, records, 20, seed, &[("SIMULATE_HOST_PREFIX", prefix.to_owned())])
}

/// The (host, sample time) of every record in the stack's topic.
async fn topic_samples(stack: &Stack, want: usize) -> Vec<(String, i64)> {
    e2e::kafka::read_topic(&stack.services.bootstrap, &stack.topic, want, Duration::from_secs(60))
        .await
        .iter()
        .map(|r| r.sample())
        .collect()
}

/// A broker that restarts empty: the consumer, whose group and offsets are gone with it,
/// rejoins the fresh broker and reads the remade topic from its start; records produced to it
/// are stored once, beside the ones stored before. The consumer may not survive it: librdkafka
/// 2.12.1 (rdkafka-sys 4.10) segfaults in its metadata cache (`rd_kafka_metadata_cache_find`
/// from `rd_kafka_metadata_update_op`, core dumps show) in about half of the runs here, when
/// the fresh broker's topic comes back. The test then does what the process supervisor does in
/// production (compose's `restart: unless-stopped`): starts it again, and says so. (A collector's producer that was sending
/// during the restart does not get through to this broker: its idempotent producer id is one
/// the fresh tansu never issued, and tansu answers UNKNOWN_PRODUCER_ID for good where Apache
/// Kafka accepts the producer again. So the second collector here starts after the restart.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_broker_restarts_empty_the_consumer_follows_the_fresh_broker() {
    let _one = ONE_AT_A_TIME.lock().await;
    const RECORDS: i64 = 4_000;
    let dir = e2e::scratch("brokerrestart");
    let mut broker = OwnBroker::start(&dir).await;
    let stack = Stack::new_on("faultrestart", 1, broker.services()).await;
    let (api, cport, simport) = (free_port(), free_port(), free_port());
    let backend = stack.start_backend(api).await;
    let consumer_env = [("RUST_LOG", "info,consumer::source=debug".to_owned())];
    let mut consumer = stack.start_consumer(api, cport, &consumer_env).await;
    let stored = || e2e::stored::count(&stack.db.pool);
    let mut before = simulate(&stack, simport, RECORDS, "before", 3);
    assert!(
        before.wait_exit(Duration::from_secs(300)).success(),
        "the first collector delivers everything"
    );
    let before_samples = topic_samples(&stack, RECORDS as usize).await;
    wait_until(Duration::from_secs(120), "the first records to be stored", || async {
        (stored().await >= RECORDS).then_some(())
    })
    .await;
    broker.kill();
    eprintln!("broker SIGKILLed after {} stored records", stored().await);
    tokio::time::sleep(Duration::from_secs(5)).await;
    // a fresh, empty broker on the same address, its topics made again (as provisioning would)
    broker.start_fresh().await;
    e2e::kafka::create_topics(&stack.services.bootstrap, &stack.topic, 1).await;
    eprintln!("fresh broker up");
    let mut after = simulate(&stack, simport, RECORDS, "after", 4);
    assert!(
        after.wait_exit(Duration::from_secs(300)).success(),
        "the second collector delivers everything"
    );
    let after_samples = topic_samples(&stack, RECORDS as usize).await;
    assert_eq!(
        after_samples.len() as i64,
        RECORDS,
        "the fresh broker holds the second collector's records"
    );
    let mut expected: std::collections::HashSet<(String, i64)> = before_samples.into_iter().collect();
    expected.extend(after_samples);
    assert_eq!(expected.len() as i64, 2 * RECORDS, "distinct records produced");
    let mut crashes = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    while stored().await < 2 * RECORDS {
        assert!(
            std::time::Instant::now() < deadline,
            "the fresh broker's records were not stored within 240 s ({} of {})",
            stored().await,
            2 * RECORDS
        );
        if let Some(status) = consumer.exited() {
            eprintln!("the consumer died ({status}): started again, as its supervisor would");
            crashes.push(status);
            assert!(crashes.len() <= 3, "the consumer keeps dying: {crashes:?}");
            consumer = stack.start_consumer(api, cport, &consumer_env).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let stored_samples = e2e::stored::samples(&stack.db.pool).await;
    assert_eq!(stored_samples.len() as i64, 2 * RECORDS, "one stored sample per record");
    let stored_set: std::collections::HashSet<(String, i64)> = stored_samples.into_iter().collect();
    assert!(stored_set == expected, "stored samples differ from produced ones");
    let metrics = stack.metrics_text(cport).await;
    eprintln!(
        "consumer: {} partitions read again from their start, {} rejoins, {} restarts after a crash",
        value(&metrics, "consumer_offset_resets_total"),
        value(&metrics, "consumer_rejoins_total"),
        crashes.len()
    );
    checks::incidents(&stack, api).await;
    checks::replay_equals_store(&stack, api).await;
    drop(backend);
    stack.db.drop_db().await;
}
