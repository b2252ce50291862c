//! Delivery: `collector simulate` produces 20,000 records across 200 hosts; the consumer is
//! SIGKILLed at a random point and started again; the backend is stopped for 10 s mid-stream and
//! started again, and compacts everything older than 5 s meanwhile. Every produced record is
//! stored exactly once.

use std::time::Duration;

use e2e::{free_port, wait_until, Proc, Stack};
use rand::Rng;

const RECORDS: i64 = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_is_stored_exactly_once_through_crashes_and_outages() {
    let stack = Stack::new("delivery", 3).await;
    let (api, cport, simport) = (free_port(), free_port(), free_port());
    // records move from raw_recent into chunks while the crashes happen
    let backend_env = [("STORAGE_COMPACT_AFTER", "5s".to_owned())];
    let mut backend = stack.start_backend_with(api, &backend_env).await;
    let mut consumer = stack.start_consumer(api, cport, &[]).await;
    let stored = || e2e::stored::count(&stack.db.pool);

    let mut sim = Proc::spawn(
        "simulate",
        "collector",
        &[
            "simulate",
            "--hosts",
            "200",
            "--containers",
            "1",
            "--interval",
            "50ms",
            "--records",
            &RECORDS.to_string(),
            "--seed",
            "7",
        ],
        &stack.collector_env(simport),
        &stack.log_dir,
    );

    // SIGKILL the consumer at a random point and start it again.
    let kill_at = rand::rng().random_range(1_000..6_000);
    wait_until(Duration::from_secs(120), "records to start arriving", || async {
        (stored().await >= kill_at).then_some(())
    })
    .await;
    consumer.kill();
    eprintln!("consumer SIGKILLed after {} stored records", stored().await);
    let mut restarted_consumer = stack.start_consumer(api, cport, &[]).await;

    // Stop the backend for 10 s mid-stream, then start it again.
    let stop_at = (stored().await + 2_000).min(RECORDS - 3_000);
    wait_until(
        Duration::from_secs(180),
        "more records before the backend outage",
        || async { (stored().await >= stop_at).then_some(()) },
    )
    .await;
    assert!(
        backend.terminate(Duration::from_secs(30)).success(),
        "backend exits 0 on SIGTERM"
    );
    eprintln!("backend stopped after {} stored records", stored().await);
    tokio::time::sleep(Duration::from_secs(10)).await;
    backend = stack.start_backend_with(api, &backend_env).await;

    assert!(
        sim.wait_exit(Duration::from_secs(300)).success(),
        "simulate finishes and exits 0"
    );
    wait_until(Duration::from_secs(300), "all records to be stored", || async {
        (stored().await >= RECORDS).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await; // anything extra would show now

    // wait for every record to be compacted, so both forms are checked
    wait_until(Duration::from_secs(120), "everything to be compacted", || async {
        (stack.db.count("SELECT COUNT(*) FROM raw_recent").await == 0).then_some(())
    })
    .await;
    // Exactly once: the samples read back from the topic are exactly the stored ones.
    e2e::checks::exactly_once(&stack, RECORDS).await;
    assert_eq!(
        stack
            .db
            .count("SELECT CAST(COALESCE(SUM(containers), 0) AS SIGNED) FROM raw_chunks")
            .await,
        RECORDS,
        "one container sample per record (1 container per host)"
    );
    for table in ["host_minutes", "host_hours"] {
        let counted = stack
            .db
            .count(&format!(
                "SELECT CAST(COALESCE(SUM(cpu_percent_n), 0) AS SIGNED) FROM {table}"
            ))
            .await;
        assert_eq!(counted, RECORDS, "{table} counts every record's CPU value once");
    }
    assert_eq!(
        stack
            .db
            .count("SELECT COUNT(*) FROM machines WHERE kind = 'host'")
            .await,
        200,
        "200 hosts"
    );

    let metrics = stack.metrics_text(cport).await;
    assert!(metrics.contains("consumer_commits_total"), "{metrics}");
    // SIGTERM: the consumer finishes what is in flight, commits, leaves the group, exits 0.
    assert!(
        restarted_consumer.terminate(Duration::from_secs(40)).success(),
        "consumer exits 0 on SIGTERM"
    );
    assert!(restarted_consumer.log_text().contains("leaving the consumer group"));
    drop(backend);
    stack.db.drop_db().await;
}
