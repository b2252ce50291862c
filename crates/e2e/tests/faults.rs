//! Faults through the whole pipeline with alerting on (the default rules, which the simulated
//! fleet crosses often): after each, every record produced is stored exactly once, every
//! incident has one firing and at most one end with nothing after it, the incidents the store
//! leaves open are the backend's open alerts, and the SSE replay equals the stored events
//! ([`e2e::checks`]).

use std::time::Duration;

use e2e::{checks, free_port, wait_until, Proc, Stack};
use rand::{Rng, SeedableRng};

/// One fault test at a time: each runs a fleet and the whole pipeline, and two at once on two
/// cores starve each other (the MySQL test's hosts then look stale for real).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The simulated fleet: 100 hosts, one container each, a record every 100 ms per host.
fn simulate(stack: &Stack, port: u16, records: i64) -> Proc {
    simulate_hosts(stack, port, records, 100, 11)
}

/// `hosts` simulated hosts, one container each, a record every 100 ms per host.
fn simulate_hosts(stack: &Stack, port: u16, records: i64, hosts: u32, seed: u64) -> Proc {
    stack.simulate(port, records, hosts, seed, &[])
}

/// Waits for the simulation to end and every record to be stored, then runs every check.
async fn finish_and_check(stack: &Stack, sim: &mut Proc, api: u16, records: i64) {
    assert!(sim.wait_exit(Duration::from_secs(300)).success(), "simulate exits 0");
    let stored = || e2e::stored::count(&stack.db.pool);
    wait_until(Duration::from_secs(300), "all records to be stored", || async {
        (stored().await >= records).then_some(())
    })
    .await;
    checks::exactly_once(stack, records).await;
    let fired = checks::incidents(stack, api).await;
    assert!(fired > 0, "the simulated fleet fired no alert: the checks saw nothing");
    eprintln!("{fired} incidents fired");
    checks::replay_equals_store(stack, api).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_killed_mid_stream_loses_doubles_and_strands_no_incident() {
    let _one = ONE_AT_A_TIME.lock().await;
    const RECORDS: i64 = 15_000;
    let stack = Stack::new("faultbackend", 3).await;
    let (api, cport, simport) = (free_port(), free_port(), free_port());
    let mut backend = stack.start_backend(api).await;
    let _consumer = stack.start_consumer(api, cport, &[]).await;
    let mut sim = simulate(&stack, simport, RECORDS);
    let stored = || e2e::stored::count(&stack.db.pool);
    // two SIGKILLs at random points, while incidents are open and events are being written
    for round in 0..2 {
        let at = stored().await + rand::rng().random_range(1_500..3_500);
        wait_until(Duration::from_secs(180), "records before the kill", || async {
            (stored().await >= at).then_some(())
        })
        .await;
        let open = stack
            .get_json(&format!("http://127.0.0.1:{api}/api/v1/alerts/active"))
            .await["alerts"]
            .as_array()
            .map_or(0, Vec::len);
        backend.kill();
        eprintln!(
            "backend SIGKILLed (round {round}) after {} stored records, {open} alerts open",
            stored().await
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        backend = stack.start_backend(api).await;
    }
    finish_and_check(&stack, &mut sim, api, RECORDS).await;
    drop(backend);
    stack.db.drop_db().await;
}

/// Stale alerts of simulated hosts that fired before `before` (the probe host of a test reports once).
async fn stale_firings_before(stack: &Stack, before: chrono::DateTime<chrono::Utc>) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM alert_events WHERE kind = 'stale' AND state = 'firing' AND machine_id <> 'probe' AND at < ?")
        .bind(before.naive_utc())
        .fetch_one(&stack.db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_killed_mid_stream_gets_503s_then_everything_without_a_backend_restart() {
    let _one = ONE_AT_A_TIME.lock().await;
    const RECORDS: i64 = 30_000;
    let dir = e2e::scratch("mysql");
    let mut mysql = e2e::mysql::OwnMysql::start(&dir, &dir.join("logs")).await;
    let stack = Stack::new_on("faultmysql", 3, mysql.services()).await;
    let (api, cport, simport) = (free_port(), free_port(), free_port());
    let backend = stack.start_backend(api).await;
    let _consumer = stack.start_consumer(api, cport, &[]).await;
    let mut sim = simulate(&stack, simport, RECORDS);
    let stored = || e2e::stored::count(&stack.db.pool);
    wait_until(Duration::from_secs(180), "records before the crash", || async {
        (stored().await >= 4_000).then_some(())
    })
    .await;
    mysql.kill();
    let base = format!("http://127.0.0.1:{api}");
    stack
        .wait_status(&format!("{base}/health/ready"), 503, Duration::from_secs(20))
        .await;
    let record = e2e::records::host_record("probe");
    let (status, answer) = stack
        .send_json(
            reqwest::Method::POST,
            &format!("{base}/api/v1/ingest"),
            &serde_json::json!([record]),
        )
        .await;
    assert_eq!(status, 503, "ingest while MySQL is down: {answer}");
    // the engine answers from memory meanwhile
    let active = stack.get_json(&format!("{base}/api/v1/alerts/active")).await;
    eprintln!(
        "MySQL SIGKILLed; {} alerts open",
        active["alerts"].as_array().map_or(0, Vec::len)
    );
    tokio::time::sleep(Duration::from_secs(8)).await; // longer than any host's stale window
    mysql.restart().await;
    stack
        .wait_status(&format!("{base}/health/ready"), 200, Duration::from_secs(60))
        .await;
    eprintln!("MySQL back after the crash");
    assert!(sim.wait_exit(Duration::from_secs(300)).success(), "simulate exits 0");
    let sim_end = chrono::Utc::now();
    finish_and_check(&stack, &mut sim, api, RECORDS).await;
    // the hosts never stopped reporting: the outage held their records back, it did not
    // make them stale
    assert_eq!(
        stale_firings_before(&stack, sim_end - chrono::TimeDelta::seconds(1)).await,
        0
    );
    drop(backend);
    stack.db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_network_between_consumer_and_backend_loses_and_doubles_nothing() {
    let _one = ONE_AT_A_TIME.lock().await;
    const RECORDS: i64 = 20_000;
    let stack = Stack::new("faultflap", 3).await;
    let (api, cport, simport) = (free_port(), free_port(), free_port());
    let backend = stack.start_backend(api).await;
    let proxy = e2e::proxy::Proxy::start(([127, 0, 0, 1], api).into()).await;
    // the consumer reaches the backend only through the proxy
    let consumer_env = [("API_BASE_URL", format!("http://{}", proxy.addr))];
    let _consumer = stack.start_consumer(api, cport, &consumer_env).await;
    let mut sim = simulate(&stack, simport, RECORDS);
    let stored = || e2e::stored::count(&stack.db.pool);
    wait_until(Duration::from_secs(120), "records before the flapping", || async {
        (stored().await >= 1_000).then_some(())
    })
    .await;
    // down and up at random moments: connections cut mid-request, refused, restored
    let mut rng = rand::rngs::StdRng::seed_from_u64(rand::rng().random());
    for _ in 0..8 {
        proxy.down();
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..2_500))).await;
        proxy.up();
        tokio::time::sleep(Duration::from_millis(rng.random_range(200..1_500))).await;
    }
    let metrics = stack.metrics_text(cport).await;
    let retries = e2e::metric_value(&metrics, "consumer_forward_retries_total");
    assert!(retries > 0.0, "the flapping made the consumer retry: {metrics}");
    eprintln!("{retries} ingest requests retried through the flapping");
    finish_and_check(&stack, &mut sim, api, RECORDS).await;
    drop(backend);
    stack.db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_killed_with_the_default_group_settings_gets_its_partitions_back() {
    let _one = ONE_AT_A_TIME.lock().await;
    const RECORDS: i64 = 20_000;
    let stack = Stack::new("faultgroup", 3).await;
    let (api, cport, simport) = (free_port(), free_port(), free_port());
    let backend = stack.start_backend(api).await;
    // librdkafka's defaults (the harness otherwise shortens them for quick failovers)
    let defaults = [
        ("KAFKA_SESSION_TIMEOUT_MS", "45000".to_owned()),
        ("KAFKA_HEARTBEAT_INTERVAL_MS", "3000".to_owned()),
    ];
    let mut consumer = stack.start_consumer(api, cport, &defaults).await;
    let mut sim = simulate_hosts(&stack, simport, RECORDS, 50, 5);
    let stored = || e2e::stored::count(&stack.db.pool);
    wait_until(Duration::from_secs(120), "records before the kill", || async {
        (stored().await >= 2_000).then_some(())
    })
    .await;
    consumer.kill();
    let killed_at = stored().await;
    let started = std::time::Instant::now();
    let restarted = stack.start_consumer(api, cport, &defaults).await;
    // it holds no partition while the dead member's session lasts; then it must get them,
    // or say why (not ready, consumer_stalled) and rejoin until it does
    wait_until(Duration::from_secs(240), "records after the restart", || async {
        (stored().await > killed_at + 2_000).then_some(())
    })
    .await;
    let consuming = started.elapsed();
    let value = e2e::metric_value;
    let metrics = wait_until(Duration::from_secs(30), "the assignment gauge to show 3", || async {
        let m = stack.metrics_text(cport).await;
        (value(&m, "consumer_assigned_partitions") == 3.0).then_some(m)
    })
    .await;
    eprintln!(
        "consuming again {:.0}s after the kill (rejoins: {})",
        consuming.as_secs_f64(),
        value(&metrics, "consumer_rejoins_total")
    );
    assert!(sim.wait_exit(Duration::from_secs(300)).success(), "simulate exits 0");
    wait_until(Duration::from_secs(300), "all records to be stored", || async {
        (stored().await >= RECORDS).then_some(())
    })
    .await;
    checks::exactly_once(&stack, RECORDS).await;
    checks::incidents(&stack, api).await;
    checks::replay_equals_store(&stack, api).await;
    drop((backend, restarted));
    stack.db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_out_of_disk_space_acknowledges_nothing_unstored_and_resumes_once_space_is_freed() {
    let _one = ONE_AT_A_TIME.lock().await;
    const RECORDS: i64 = 15_000;
    let dir = e2e::scratch("diskfull");
    let disk = e2e::disk::SmallDisk::mount(&dir.join("disk"), 400);
    let mysql = e2e::mysql::OwnMysql::start(&disk.dir, &dir.join("logs")).await;
    let stack = Stack::new_on("faultdisk", 3, mysql.services()).await;
    let (api, cport, simport) = (free_port(), free_port(), free_port());
    let backend = stack.start_backend(api).await;
    let _consumer = stack.start_consumer(api, cport, &[]).await;
    let mut sim = simulate_hosts(&stack, simport, RECORDS, 50, 7);
    let stored = || e2e::stored::count(&stack.db.pool);
    wait_until(Duration::from_secs(180), "records before the disk fills", || async {
        (stored().await >= 3_000).then_some(())
    })
    .await;
    let filled = disk.fill();
    eprintln!(
        "disk filled ({} MB written), {} records stored",
        filled >> 20,
        stored().await
    );
    // the backend refuses what it cannot store (503, retried by the consumer), and says so
    let metrics = wait_until(Duration::from_secs(60), "ingest to refuse batches", || async {
        let m = stack.metrics_text(api).await;
        (e2e::metric_value(&m, "api_ingest_unavailable_total") > 0.0).then_some(m)
    })
    .await;
    // while the disk is full MariaDB may not give the test a connection either: then the
    // count is left out (what was acknowledged is checked once space is freed, below)
    let pool = &stack.db.pool;
    let full_at = e2e::stored::try_count(pool).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let during = e2e::stored::try_count(pool).await;
    eprintln!(
        "{} batches refused while full; stored when full {full_at:?}, 10 s later {during:?}",
        e2e::metric_value(&metrics, "api_ingest_unavailable_total"),
    );
    if let Ok(during) = during {
        assert!(during < RECORDS, "the disk stayed full while records were still coming");
    }
    disk.free();
    eprintln!("disk space freed");
    finish_and_check(&stack, &mut sim, api, RECORDS).await;
    drop(backend);
    stack.db.drop_db().await;
    drop(mysql);
}
