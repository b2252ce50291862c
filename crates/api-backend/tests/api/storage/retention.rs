//! Retention: data older than each tier's window goes, from every tier, whole partitions and
//! single rows alike; the disk budget drops the oldest raw data first; ingest of current data
//! keeps its pace while a purge runs.

use std::time::{Duration, Instant};

use api_backend::store::Retention;
use chrono::{TimeDelta, Utc};
use serde_json::{json, Value};

use super::everything;
use crate::support::{host_record, ts, TestApp};

fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

/// `n` records of host `h` one `step` apart from `start`, each with one container.
fn records(h: &str, start: chrono::DateTime<Utc>, step: TimeDelta, n: i64) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let mut r = host_record(&format!("{h}-{i}"), h, &ts(start + step * i as i32));
            r["containers"] = json!([crate::support::container(&format!("{h}-c"), "app", "running")]);
            r
        })
        .collect()
}

async fn ingest(t: &TestApp, records: Vec<Value>) {
    for chunk in records.chunks(250) {
        let reply = t.post("/api/v1/ingest", &Value::Array(chunk.to_vec())).await;
        assert_eq!(reply.json["accepted"], chunk.len(), "{}", reply.text);
    }
}

async fn rows(t: &TestApp, table: &str) -> i64 {
    t.count(table).await
}

#[tokio::test]
async fn each_tier_loses_what_is_older_than_its_window() {
    let t = TestApp::start().await;
    let now = Utc::now();
    // three hours of samples, one a minute, ending now; all compacted
    ingest(&t, records("h", now - TimeDelta::hours(3), TimeDelta::minutes(1), 180)).await;
    t.app.store.compact(everything()).await.unwrap();
    assert_eq!(t.stored().await.0, 180);
    let retention = Retention {
        raw: hours(1),
        minute: hours(2),
        hour: hours(5),
        max_bytes: None,
    };
    let swept = t.app.store.sweep(&retention, now).await.unwrap();
    assert!(swept.rows_deleted > 0, "{swept:?}");
    // raw: the last hour (in whole 20-minute chunks), minutes: the last two hours, hours: all
    let (kept, _) = t.stored().await;
    assert!((60..=80).contains(&kept), "raw samples kept: {kept}");
    let minutes = rows(&t, "host_minutes").await;
    assert!((119..=121).contains(&minutes), "minute rows kept: {minutes}");
    assert!((3..=4).contains(&rows(&t, "host_hours").await));
    let reply = t
        .get(&format!(
            "/api/v1/machines/h/samples?from={}&limit=10000",
            ts(now - TimeDelta::hours(4))
        ))
        .await;
    let times: Vec<&str> = reply.json["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sampled_at"].as_str().unwrap())
        .collect();
    assert!(
        times.iter().all(|s| *s >= ts(now - TimeDelta::minutes(80)).as_str()),
        "{times:?}"
    );

    // three days later every tier's partitions of today are past their windows: dropped whole
    let later = now + TimeDelta::days(3);
    let swept = t
        .app
        .store
        .sweep(
            &Retention {
                hour: hours(24),
                ..retention
            },
            later,
        )
        .await
        .unwrap();
    assert!(
        swept.partitions_dropped.iter().any(|p| p.starts_with("raw_chunks.p")),
        "{swept:?}"
    );
    assert_eq!(t.stored().await.0, 0);
    assert_eq!(rows(&t, "host_minutes").await, 0);
    assert_eq!(rows(&t, "container_minutes").await, 0);
    assert_eq!(rows(&t, "host_hours").await, 0);
    assert_eq!(rows(&t, "container_hours").await, 0);
}

#[tokio::test]
async fn records_older_than_the_raw_window_are_refused() {
    let t = TestApp::start_with(|c| c.storage.retention.raw = hours(2)).await;
    let reply = t
        .post(
            "/api/v1/ingest",
            &json!([
                host_record("old", "h", &ts(Utc::now() - TimeDelta::hours(3))),
                host_record("new", "h", &ts(Utc::now()))
            ]),
        )
        .await;
    assert_eq!(reply.json["accepted"], 1, "{}", reply.text);
    assert_eq!(reply.json["rejected"][0]["index"], 0);
    assert!(reply.json["rejected"][0]["error"]
        .as_str()
        .unwrap()
        .contains("RETENTION_RAW"));
}

#[tokio::test]
async fn the_disk_budget_drops_the_oldest_raw_days_first() {
    let t = TestApp::start().await;
    let now = Utc::now();
    ingest(&t, records("h", now - TimeDelta::hours(1), TimeDelta::seconds(10), 300)).await;
    t.app.store.compact(everything()).await.unwrap();
    let retention = Retention {
        max_bytes: Some(1),
        ..Retention::default()
    };
    // two days on, today's partition is the oldest of each tier: over a 1-byte budget it goes
    // for the raw tier first
    let swept = t.app.store.sweep(&retention, now + TimeDelta::days(4)).await.unwrap();
    assert!(
        swept.over_budget.first().is_some_and(|p| p.starts_with("raw_chunks.")),
        "{swept:?}"
    );
    assert_eq!(t.stored().await.0, 0, "raw data went first");
    // a redelivered record of a dropped day is refused: its sample is gone, so it could not be
    // recognised, and the rollups already count it
    let minutes = t.count("host_minutes").await;
    let again = t
        .post(
            "/api/v1/ingest",
            &Value::Array(records("h", now - TimeDelta::hours(1), TimeDelta::seconds(10), 1)),
        )
        .await;
    assert_eq!(again.json["accepted"], 0, "{}", again.text);
    assert!(again.text.contains("STORAGE_MAX_BYTES"), "{}", again.text);
    t.app.store.compact(everything()).await.unwrap();
    assert_eq!(t.count("host_minutes").await, minutes);
    assert_eq!(t.stored().await.0, 0);
}

#[tokio::test]
async fn ingest_keeps_its_pace_while_a_purge_runs() {
    let t = TestApp::start().await;
    let now = Utc::now();
    // plenty to purge: 300,000 container-minute rows of old data, next to current data
    sqlx::query(
        "INSERT INTO container_minutes (machine_id, host_machine_id, bucket, last_at, cpu_percent_avg, cpu_percent_n) \
         SELECT 1000 + (seq DIV 1500), 999, DATE_SUB(?, INTERVAL (seq MOD 1500) MINUTE), DATE_SUB(?, INTERVAL (seq MOD 1500) MINUTE), 1.0, 1 \
         FROM seq_0_to_299999",
    )
    .bind(common::timefmt::truncate_millis(now - TimeDelta::hours(30)).naive_utc())
    .bind(common::timefmt::truncate_millis(now - TimeDelta::hours(30)).naive_utc())
    .execute(t.app.store.pool())
    .await
    .expect("MariaDB's seq engine fills the table");
    sqlx::query("INSERT INTO machines (id, kind, ext_id, name, first_seen, last_seen) SELECT 1000 + seq, 'container', CONCAT('old-', seq), 'old', NOW(), NOW() FROM seq_0_to_199")
        .execute(t.app.store.pool())
        .await
        .unwrap();
    assert_eq!(rows(&t, "container_minutes").await, 300_000);

    // ingest rate alone, then during the purge
    let timed = |tag: &'static str| {
        let t = &t;
        async move {
            let batch: Vec<Vec<Value>> = (0..20)
                .map(|b| {
                    records(
                        &format!("{tag}{b}"),
                        Utc::now() - TimeDelta::minutes(5),
                        TimeDelta::seconds(1),
                        100,
                    )
                })
                .collect();
            let started = Instant::now();
            for body in batch {
                ingest(t, body).await;
            }
            started.elapsed()
        }
    };
    let alone = timed("a").await;
    let retention = Retention {
        minute: hours(24),
        ..Retention::default()
    };
    let (swept, during) = tokio::join!(t.app.store.sweep(&retention, now), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        timed("b").await
    });
    let swept = swept.unwrap();
    eprintln!(
        "2,000 records: {alone:?} alone, {during:?} during a purge of {} rows",
        swept.rows_deleted
    );
    assert!(swept.rows_deleted >= 200_000, "{swept:?}");
    assert!(
        during < alone * 3,
        "ingest during the purge took {during:?}, alone {alone:?}"
    );
}
