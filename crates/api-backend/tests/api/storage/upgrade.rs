//! Upgrade: a database written by the pre-tier schema (one row per host and container sample,
//! the `ingested_records` set) is migrated and converted by the new backend; its samples still
//! read back, redelivered old records are still duplicates, the legacy tables go. And a database
//! of the first storage-tier schema (migration 0005 as first released: 10-minute chunks of one
//! unframed body, machine-major rollups) is migrated by 0006 and still answers.

use std::time::Duration;

use serde_json::json;
use sqlx::{Connection, Executor, MySqlConnection};

use crate::support::{host_record, test_config, ts, TestApp, TestDb};

/// Applies the migrations whose file names sort before `upto` to `db`, as an earlier release
/// did, with the inventory of one host (`old-host`, id 1) and its container (`web`, id 2);
/// returns a connection to it.
async fn migrated_before(db: &TestDb, upto: &str, expect: usize) -> MySqlConnection {
    let dir = std::env::temp_dir().join(format!("srmon-old-migrations-{}", db.name));
    std::fs::create_dir_all(&dir).unwrap();
    let source = common::manifest_dir!().join("../../migrations");
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.as_str() < upto {
            std::fs::copy(&path, dir.join(&name)).unwrap();
        }
    }
    let migrator = sqlx::migrate::Migrator::new(dir.as_path()).await.unwrap();
    assert_eq!(migrator.iter().count(), expect);
    let mut conn = MySqlConnection::connect(&db.url()).await.unwrap();
    migrator.run(&mut conn).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    conn.execute(
        "INSERT INTO machines (id, kind, ext_id, name, host_machine_id, image, state, interval_ms, first_seen, last_seen) VALUES \
         (1, 'host', 'old-host', 'old-host-name', NULL, NULL, NULL, 10000, '2026-11-30 08:00:00', '2026-11-30 08:04:50'), \
         (2, 'container', 'old-c', 'web', 1, 'nginx:1.27', 'running', NULL, '2026-11-30 08:00:00', '2026-11-30 08:04:50')",
    )
    .await
    .unwrap();
    conn
}

/// The migrations before the storage tiers (0001 to 0004), as the release before them did.
async fn old_schema(db: &TestDb) {
    let mut conn = migrated_before(db, "0005", 4).await;
    // what the previous release stored for 30 records of one host with one container
    for i in 0..30 {
        let at = format!("2026-11-30 08:{:02}:{:02}.250", i * 10 / 60, i * 10 % 60);
        sqlx::query(
            "INSERT INTO host_samples (machine_id, sampled_at, cpu_percent, cpu_cores, mem_total_bytes, mem_used_bytes, \
             net_rx_bytes_per_sec, details) VALUES (1, ?, ?, 4, 16000000000, ?, ?, ?)",
        )
        .bind(&at)
        .bind(12.4f32 + i as f32)
        .bind(8_000_000_000u64 + i as u64)
        .bind(1500.25f32)
        .bind(r#"{"per_core_percent":[10.5,20.25],"temperatures_c":{"cpu":47.5}}"#)
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO container_samples (machine_id, sampled_at, cpu_percent, mem_used_bytes, state, health, pids) \
             VALUES (2, ?, ?, 52428800, 'running', 'healthy', 7)",
        )
        .bind(&at)
        .bind(150.5f32)
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO ingested_records (record_id, machine_id, sampled_at, received_at) VALUES (?, 1, ?, ?)",
        )
        .bind(format!("old-{i}"))
        .bind(&at)
        .bind(&at)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let _ = conn.close().await;
}

#[tokio::test]
async fn a_database_of_the_previous_schema_is_converted_and_still_answers() {
    let db = TestDb::create().await;
    old_schema(&db).await;
    let config = test_config(db.url(), |_| {});
    let t = TestApp::on(db, &config).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while t.app.store.has_legacy().await.unwrap() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the legacy tables are converted within a minute"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(t.stored().await, (30, 30));

    let reply = t
        .get("/api/v1/machines/old-host/samples?from=2026-11-30T08:00:00Z&to=2026-11-30T09:00:00Z&limit=100")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let samples = reply.json["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 30);
    assert_eq!(
        samples[1],
        json!({"sampled_at": "2026-11-30T08:00:10.250Z", "cpu_percent": 13.4, "cpu_cores": 4,
               "per_core_percent": [10.5, 20.25], "mem_total_bytes": 16_000_000_000u64,
               "mem_used_bytes": 8_000_000_001u64, "net_rx_bytes_per_sec": 1500.0,
               "temperatures_c": {"cpu": 47.5}})
    );
    let reply = t
        .get("/api/v1/machines/web/samples?from=2026-11-30T08:00:00Z&to=2026-11-30T09:00:00Z&limit=100")
        .await;
    let samples = reply.json["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 30, "{}", reply.text);
    assert_eq!(
        samples[29],
        json!({"sampled_at": "2026-11-30T08:04:50.250Z", "state": "running", "health": "healthy",
               "cpu_percent": 150.5, "mem_used_bytes": 52_428_800, "pids": 7})
    );
    // the rollups cover the converted samples
    let counted: i64 = sqlx::query_scalar("SELECT CAST(SUM(cpu_percent_n) AS SIGNED) FROM host_minutes")
        .fetch_one(t.app.store.pool())
        .await
        .unwrap();
    assert_eq!(counted, 30);

    // an old record redelivered changes nothing; a new one is stored
    let mut again = host_record("old-3", "old-host", "2026-11-30T08:00:30.250Z");
    again["host_name"] = json!("old-host-name");
    let reply = t
        .post(
            "/api/v1/ingest",
            &json!([again, host_record("new-1", "old-host", &ts(chrono::Utc::now()))]),
        )
        .await;
    assert_eq!(
        reply.json,
        json!({"accepted": 1, "duplicates": 1, "rejected": []}),
        "{}",
        reply.text
    );
    assert_eq!(t.stored().await.0, 31);
}

#[tokio::test]
async fn a_database_of_the_first_tier_schema_is_migrated_and_still_answers() {
    let db = TestDb::create().await;
    let mut conn = migrated_before(&db, "0006", 5).await;
    // what migration 0005's backend stored: two 10-minute chunks of one unframed body each
    // (08:00 to 08:20 at 10 s), a not yet compacted record, a container minute row without its
    // host
    let sample = |i: i64| codec::Sample {
        at: common::timefmt::parse("2026-11-30T08:10:00Z").unwrap() + chrono::TimeDelta::seconds(10 * i),
        host: common::wire::HostSample {
            cpu_percent: Some(10.0 + i as f64),
            ..Default::default()
        },
        containers: vec![codec::Container {
            machine: 2,
            state: "running".into(),
            cpu_percent: Some(5.0),
            ..Default::default()
        }],
    };
    for (start, first, last, samples) in [
        ("08:00:00", "08:00:00", "08:09:50", -60..0),
        ("08:10:00", "08:10:00", "08:19:50", 0..60),
    ] {
        let chunk: Vec<codec::Sample> = samples.map(sample).collect();
        sqlx::query(&format!(
            "INSERT INTO raw_chunks (host_machine_id, chunk_start, first_at, last_at, samples, containers, payload) \
             VALUES (1, '2026-11-30 {start}', '2026-11-30 {first}', '2026-11-30 {last}', 60, 60, ?)"
        ))
        .bind(codec::encode(&chunk, Some(3)))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO raw_recent (host_machine_id, sampled_at, record_key, containers, payload) \
         VALUES (1, '2026-11-30 08:25:00', UNHEX(REPEAT('ab', 16)), 1, ?)",
    )
    .bind(codec::encode(&[sample(90)], Some(1)))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.execute(
        "INSERT INTO container_minutes (machine_id, bucket, last_at, cpu_percent_min, cpu_percent_max, cpu_percent_avg, \
         cpu_percent_last, cpu_percent_n) VALUES (2, '2026-11-30 08:10:00', '2026-11-30 08:10:50', 5, 5, 5, 5, 6)",
    )
    .await
    .unwrap();
    let _ = conn.close().await;

    let config = test_config(db.url(), |_| {});
    let t = TestApp::on(db, &config).await;
    let read = || async {
        let reply = t
            .get("/api/v1/machines/old-host/samples?from=2026-11-30T08:00:00Z&to=2026-11-30T09:00:00Z&limit=500")
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json["samples"].as_array().unwrap().clone()
    };
    let samples = read().await;
    assert_eq!(samples.len(), 121, "the old chunks' 120 and the recent record");
    assert_eq!(samples[0]["cpu_percent"], -50.0);
    assert_eq!(samples[120]["cpu_percent"], 100.0);
    // the two halves of the 20-minute window are its chunk now, two frames
    let chunks: Vec<(chrono::NaiveDateTime, u32, u16)> =
        sqlx::query_as("SELECT chunk_start, samples, segments FROM raw_chunks")
            .fetch_all(t.app.store.pool())
            .await
            .unwrap();
    let start = common::timefmt::parse("2026-11-30T08:00:00Z").unwrap().naive_utc();
    assert_eq!(chunks, [(start, 120, 2)]);
    // so a redelivered old record is found in it
    let mut again = host_record("old-again", "old-host", "2026-11-30T08:15:00.000Z");
    again["host_name"] = json!("old-host-name");
    let reply = t.post("/api/v1/ingest", &json!([again])).await;
    assert_eq!(reply.json["duplicates"], 1, "{}", reply.text);
    let host: u32 = sqlx::query_scalar("SELECT host_machine_id FROM container_minutes WHERE machine_id = 2")
        .fetch_one(t.app.store.pool())
        .await
        .unwrap();
    assert_eq!(host, 1, "container rollups know their host");
    // the old record compacts into the new layout; everything still reads back
    t.app.store.compact(super::everything()).await.unwrap();
    assert_eq!(t.count("raw_recent").await, 0);
    assert_eq!(t.stored().await.0, 121);
    assert_eq!(read().await, samples);
}
