//! `samples?step&metric&tier`: buckets from the tier that fits, the same shape on every tier,
//! each answer naming its tier; compacted and not yet compacted samples both counted once.

use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use super::{compacted_by_hand, everything};
use crate::support::{assert_error, host_record, ts, TestApp};

/// Two hours of a host at one sample per 10 s: CPU climbs 0.01 per sample, from 10.
async fn two_hours(t: &TestApp, start: DateTime<Utc>) {
    let records: Vec<Value> = (0..720)
        .map(|i| {
            let mut r = host_record(&format!("r{i}"), "h", &ts(start + TimeDelta::seconds(10 * i)));
            r["host"]["cpu_percent"] = json!(10.0 + i as f64 / 100.0);
            r
        })
        .collect();
    for chunk in records.chunks(200) {
        let reply = t.post("/api/v1/ingest", &Value::Array(chunk.to_vec())).await;
        assert_eq!(reply.json["accepted"], chunk.len(), "{}", reply.text);
    }
}

fn cpu(bucket: &Value) -> f64 {
    bucket["cpu_percent"].as_f64().unwrap()
}

#[tokio::test]
async fn buckets_come_from_the_tier_the_step_fits_and_say_so() {
    let t = compacted_by_hand().await;
    let start = common::timefmt::parse("2026-11-30T10:00:00Z").unwrap();
    two_hours(&t, start).await;
    // half of it compacted, so minute and hour rows exist for the first hour only
    t.app.store.compact(start + TimeDelta::hours(1)).await.unwrap();
    let range = format!(
        "from={}&to={}",
        ts(start),
        ts(start + TimeDelta::hours(2) - TimeDelta::seconds(1))
    );

    let hourly = t
        .get(&format!(
            "/api/v1/machines/h/samples?{range}&step=3600&metric=cpu_percent"
        ))
        .await;
    assert_eq!(hourly.status, StatusCode::OK, "{}", hourly.text);
    assert_eq!(hourly.json["tier"], "hour");
    assert_eq!(hourly.json["step"], 3600.0);
    let buckets = hourly.json["samples"].as_array().unwrap();
    assert_eq!(buckets.len(), 2, "{}", hourly.text);
    // the first hour from the hour rollup, the second from samples not yet compacted
    for (i, b) in buckets.iter().enumerate() {
        let first = 10.0 + (360 * i) as f64 / 100.0;
        assert_eq!(b["count"]["cpu_percent"], 360, "{b}");
        assert!((b["min"]["cpu_percent"].as_f64().unwrap() - first).abs() < 1e-4, "{b}");
        assert!(
            (b["max"]["cpu_percent"].as_f64().unwrap() - (first + 3.59)).abs() < 1e-4,
            "{b}"
        );
        assert!((cpu(b) - (first + 1.795)).abs() < 1e-3, "{b}");
        assert!(
            (b["last"]["cpu_percent"].as_f64().unwrap() - (first + 3.59)).abs() < 1e-4,
            "{b}"
        );
        assert_eq!(
            b.as_object().unwrap().len(),
            6,
            "sampled_at, the metric, min, max, last, count: {b}"
        );
    }

    // stats: the averages alone, or some statistics, or a clear refusal
    let lean = t
        .get(&format!(
            "/api/v1/machines/h/samples?{range}&step=3600&metric=cpu_percent&stats=none"
        ))
        .await;
    let b = &lean.json["samples"][0];
    assert_eq!(b.as_object().unwrap().len(), 2, "sampled_at and the average: {b}");
    assert!((cpu(b) - cpu(&buckets[0])).abs() < 1e-9, "{b}");
    let some = t
        .get(&format!(
            "/api/v1/machines/h/samples?{range}&step=3600&metric=cpu_percent&stats=max,count"
        ))
        .await;
    let b = &some.json["samples"][0];
    assert_eq!(
        (b["max"].clone(), b["count"].clone()),
        (buckets[0]["max"].clone(), buckets[0]["count"].clone())
    );
    assert!(b.get("min").is_none() && b.get("last").is_none(), "{b}");
    let bad = t
        .get(&format!("/api/v1/machines/h/samples?{range}&step=3600&stats=median"))
        .await;
    crate::support::assert_error(&bad, StatusCode::BAD_REQUEST, "invalid_parameter");
    assert!(bad.text.contains("median"), "{}", bad.text);

    let minutes = t.get(&format!("/api/v1/machines/h/samples?{range}&step=300")).await;
    assert_eq!(minutes.json["tier"], "minute", "{}", minutes.text);
    assert_eq!(minutes.json["samples"].as_array().unwrap().len(), 24);
    let b = &minutes.json["samples"][0];
    assert_eq!(b["count"]["cpu_percent"], 30);
    assert!(b["mem_used_bytes"].is_number(), "every metric without metric=: {b}");

    let raw = t.get(&format!("/api/v1/machines/h/samples?{range}&step=20")).await;
    assert_eq!(raw.json["tier"], "raw", "{}", raw.text);
    assert_eq!(raw.json["samples"].as_array().unwrap().len(), 360);
    assert_eq!(raw.json["samples"][0]["count"]["cpu_percent"], 2);

    // forced tiers give the same numbers
    let forced = t
        .get(&format!(
            "/api/v1/machines/h/samples?{range}&step=3600&tier=minute&metric=cpu_percent"
        ))
        .await;
    assert_eq!(forced.json["tier"], "minute");
    for (a, b) in forced.json["samples"].as_array().unwrap().iter().zip(buckets) {
        assert_eq!(a["count"], b["count"]);
        assert!((cpu(a) - cpu(b)).abs() < 1e-3, "{a} vs {b}");
    }
    let forced_raw = t
        .get(&format!(
            "/api/v1/machines/h/samples?{range}&step=3600&tier=raw&metric=cpu_percent"
        ))
        .await;
    assert_eq!(forced_raw.json["tier"], "raw");
    assert_eq!(forced_raw.json["samples"][1]["count"], buckets[1]["count"]);

    // no step: raw samples as before, paged
    let plain = t
        .get(&format!(
            "/api/v1/machines/h/samples?{range}&limit=5&metric=cpu_percent"
        ))
        .await;
    assert_eq!(plain.json["tier"], "raw");
    assert_eq!(
        plain.json["samples"][0],
        json!({"sampled_at": ts(start), "cpu_percent": 10.0})
    );
    assert!(plain.json["next_from"].is_string());
}

#[tokio::test]
async fn everything_compacted_reads_back_the_same() {
    let t = compacted_by_hand().await;
    let start = common::timefmt::parse("2026-11-30T10:00:00Z").unwrap();
    two_hours(&t, start).await;
    let range = format!("from={}&to={}", ts(start), ts(start + TimeDelta::hours(2)));
    let before = t
        .get(&format!(
            "/api/v1/machines/h/samples?{range}&step=600&metric=cpu_percent"
        ))
        .await;
    let raw_before = t.get(&format!("/api/v1/machines/h/samples?{range}&limit=10000")).await;
    t.app.store.compact(everything()).await.unwrap();
    assert_eq!(t.count("raw_recent").await, 0);
    let after = t
        .get(&format!(
            "/api/v1/machines/h/samples?{range}&step=600&metric=cpu_percent"
        ))
        .await;
    let raw_after = t.get(&format!("/api/v1/machines/h/samples?{range}&limit=10000")).await;
    assert_eq!(raw_before.json["samples"], raw_after.json["samples"]);
    assert_eq!(raw_after.json["samples"].as_array().unwrap().len(), 720);
    let (b, a) = (
        before.json["samples"].as_array().unwrap(),
        after.json["samples"].as_array().unwrap(),
    );
    assert_eq!(b.len(), 12);
    assert_eq!(a.len(), 12);
    for (x, y) in b.iter().zip(a) {
        assert_eq!(x["count"], y["count"]);
        assert!((cpu(x) - cpu(y)).abs() < 1e-3, "{x} vs {y}");
    }
}

#[tokio::test]
async fn bad_tier_step_or_metric_is_a_400_naming_it() {
    let t = compacted_by_hand().await;
    assert_eq!(
        t.post("/api/v1/ingest", &json!([host_record("r", "h", &ts(Utc::now()))]))
            .await
            .status,
        200
    );
    for (query, word) in [
        ("tier=daily", "tier"),
        ("step=0", "step"),
        ("step=soon", "step"),
        ("metric=cpu_percent,warp_factor", "metric"),
        ("step=1&from=2026-01-01", "step"),
    ] {
        let reply = t.get(&format!("/api/v1/machines/h/samples?{query}")).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_parameter");
        assert!(
            reply.json["detail"].as_str().unwrap().starts_with(word),
            "{query}: {}",
            reply.text
        );
    }
}

#[tokio::test]
async fn frames_appended_to_a_filling_chunk_read_the_same_once_sealed() {
    let t = compacted_by_hand().await;
    let start = common::timefmt::parse("2026-11-30T10:00:00Z").unwrap();
    let at = |i: i64| ts(start + TimeDelta::seconds(i));
    let range = format!("from={}&to={}&limit=100", ts(start), ts(start + TimeDelta::minutes(20)));
    // three compactions into one window: one frame each
    for part in 0..3 {
        let records: Vec<Value> = (0..10)
            .map(|i| host_record(&format!("r{part}-{i}"), "h", &at(part * 100 + i)))
            .collect();
        assert_eq!(
            t.post("/api/v1/ingest", &Value::Array(records)).await.json["accepted"],
            10
        );
        t.app
            .store
            .compact(start + TimeDelta::seconds(part * 100 + 50))
            .await
            .unwrap();
    }
    let frames: i64 = sqlx::query_scalar("SELECT CAST(segments AS SIGNED) FROM raw_chunks")
        .fetch_one(t.app.store.pool())
        .await
        .unwrap();
    assert_eq!(frames, 3);
    let before = t.get(&format!("/api/v1/machines/h/samples?{range}")).await;
    assert_eq!(before.json["samples"].as_array().unwrap().len(), 30);
    // the host went quiet: the sweep seals its window
    assert_eq!(t.app.store.seal_stale(everything(), 100).await.unwrap(), 1);
    let frames: i64 = sqlx::query_scalar("SELECT CAST(segments AS SIGNED) FROM raw_chunks")
        .fetch_one(t.app.store.pool())
        .await
        .unwrap();
    assert_eq!(frames, 1);
    let after = t.get(&format!("/api/v1/machines/h/samples?{range}")).await;
    assert_eq!(before.json["samples"], after.json["samples"]);
}

#[tokio::test]
async fn a_value_beyond_float_range_is_compacted_kept_exact_and_bounded_in_the_rollups() {
    let t = compacted_by_hand().await;
    let start = common::timefmt::parse("2026-11-30T10:00:00Z").unwrap();
    let records: Vec<Value> = (0..3)
        .map(|i| {
            let mut r = host_record(&format!("big{i}"), "h", &ts(start + TimeDelta::seconds(i)));
            r["host"]["load1"] = json!(1e300);
            r
        })
        .collect();
    let reply = t.post("/api/v1/ingest", &Value::Array(records)).await;
    assert_eq!(reply.json["accepted"], 3, "{}", reply.text);
    // MySQL refuses an infinite FLOAT: the compaction pass must still succeed
    t.app.store.compact(start + TimeDelta::hours(1)).await.unwrap();
    let range = format!("from={}&to={}", ts(start), ts(start + TimeDelta::minutes(1)));
    let raw = t.get(&format!("/api/v1/machines/h/samples?{range}")).await;
    assert_eq!(raw.json["samples"].as_array().unwrap().len(), 3, "{}", raw.text);
    assert_eq!(raw.json["samples"][0]["load1"], 1e300, "raw keeps the exact value");
    let minute = t
        .get(&format!(
            "/api/v1/machines/h/samples?{range}&step=60&tier=minute&metric=load1"
        ))
        .await;
    assert_eq!(minute.status, StatusCode::OK, "{}", minute.text);
    let b = &minute.json["samples"][0];
    assert_eq!(b["count"]["load1"], 3, "{b}");
    let max = b["max"]["load1"].as_f64().unwrap();
    assert!((max / f64::from(f32::MAX) - 1.0).abs() < 1e-6, "the largest FLOAT: {b}");
}

#[tokio::test]
async fn a_backlog_of_many_hosts_goes_in_shorter_steps_each_sample_once() {
    let t = compacted_by_hand().await;
    let start = common::timefmt::parse("2026-11-30T10:00:00Z").unwrap();
    // 250 hosts (more than one step holds an hour of, and than one group of a step decodes at
    // once) × 2 hours at 60 s
    let (hosts, per_host) = (250i64, 120i64);
    let total = hosts * per_host;
    let records: Vec<Value> = (0..hosts)
        .flat_map(|h| {
            (0..per_host).map(move |i| {
                let mut r = host_record(
                    &format!("r{h}-{i}"),
                    &format!("h{h}"),
                    &ts(start + TimeDelta::minutes(i)),
                );
                r["host"]["cpu_percent"] = json!(i as f64 / 2.0);
                r
            })
        })
        .collect();
    for chunk in records.chunks(500) {
        let reply = t.post("/api/v1/ingest", &Value::Array(chunk.to_vec())).await;
        assert_eq!(reply.json["accepted"], chunk.len(), "{}", reply.text);
    }
    let pass = t.app.store.compact(everything()).await.unwrap();
    assert_eq!(pass.records, total as u64);
    assert_eq!(pass.added, total as u64);
    assert_eq!(t.count("raw_recent").await, 0);
    assert_eq!(t.count("host_minutes").await, total);
    let stored: i64 = sqlx::query_scalar("SELECT CAST(SUM(samples) AS SIGNED) FROM raw_chunks")
        .fetch_one(t.app.store.pool())
        .await
        .unwrap();
    assert_eq!(stored, total);
    let range = format!("from={}&to={}", ts(start), ts(start + TimeDelta::hours(2)));
    for h in [0, 137, 249] {
        let hour = t
            .get(&format!(
                "/api/v1/machines/h{h}/samples?{range}&tier=hour&metric=cpu_percent"
            ))
            .await;
        let buckets = hour.json["samples"].as_array().unwrap();
        assert_eq!(buckets.len(), 2, "{}", hour.text);
        assert_eq!(buckets[0]["count"]["cpu_percent"], 60);
        assert!((cpu(&buckets[1]) - 44.75).abs() < 1e-3, "{}", buckets[1]);
    }
}
