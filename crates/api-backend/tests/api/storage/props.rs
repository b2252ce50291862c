//! Property: any sequence of records (duplicates, out of order, late into chunks already
//! written, a second record for a time already stored, NULLs, counter resets) reads back from
//! the raw tier as what was first stored for each time, at the stated precision, and the minute
//! and hour rollups equal a recomputation from those samples.

use std::collections::BTreeMap;

use api_backend::rollup::{CONTAINER_METRICS, HOST_METRICS};
use chrono::{DateTime, TimeDelta, Utc};
use common::wire::HostSample;
use proptest::prelude::*;
use serde_json::{json, Value};
use sqlx::Row as _;

use super::everything;
use crate::support::{ts, TestApp};

/// One record to send: its time offset (s), which containers it lists, its values.
#[derive(Debug, Clone)]
struct Rec {
    offset: i64,
    containers: Vec<usize>,
    cpu: Option<u32>,
    mem: Option<u64>,
    rx: Option<u32>,
    temp: Option<i32>,
    cores: Vec<u32>,
    ccpu: Vec<Option<u32>>,
    pids: Vec<Option<u16>>,
}

/// How the records are delivered.
#[derive(Debug, Clone)]
struct Plan {
    records: Vec<Rec>,
    /// A permutation of the deliveries (record index, copy: 0 original, 1 repeat, 2 a different
    /// record for the same time), cut into batches; after some batches everything is compacted.
    deliveries: Vec<(usize, u8)>,
    cuts: Vec<usize>,
    compact_after: Vec<bool>,
}

fn rec() -> impl Strategy<Value = Rec> {
    (
        1i64..120,
        prop::collection::vec(0usize..3, 0..3),
        prop::option::weighted(0.8, 0u32..10_000),
        prop::option::weighted(0.8, 0u64..64 << 30),
        prop::option::weighted(0.7, 0u32..2_000_000),
        prop::option::of(-200i32..1200),
        prop::collection::vec(0u32..10_000, 0..3),
        prop::collection::vec(prop::option::weighted(0.8, 0u32..40_000), 3),
        prop::collection::vec(prop::option::of(1u16..500), 3),
    )
        .prop_map(|(offset, mut containers, cpu, mem, rx, temp, cores, ccpu, pids)| {
            containers.sort_unstable();
            containers.dedup();
            Rec {
                offset,
                containers,
                cpu,
                mem,
                rx,
                temp,
                cores,
                ccpu,
                pids,
            }
        })
}

fn plan() -> impl Strategy<Value = Plan> {
    prop::collection::vec((rec(), 0u8..10), 3..30)
        .prop_flat_map(|recs| {
            let mut deliveries: Vec<(usize, u8)> = Vec::new();
            for (i, (_, extra)) in recs.iter().enumerate() {
                deliveries.push((i, 0));
                match extra {
                    0 | 1 => deliveries.push((i, 1)),
                    2 => deliveries.push((i, 2)),
                    _ => {}
                }
            }
            let n = deliveries.len();
            let records: Vec<Rec> = recs.into_iter().map(|(r, _)| r).collect();
            (
                Just(records),
                Just(deliveries).prop_shuffle(),
                prop::collection::vec(1usize..n.max(2), 0..4),
                prop::collection::vec(any::<bool>(), 5),
            )
        })
        .prop_map(|(records, deliveries, mut cuts, compact_after)| {
            cuts.sort_unstable();
            cuts.dedup();
            Plan {
                records,
                deliveries,
                cuts,
                compact_after,
            }
        })
}

/// The base time: odd seconds, so records cross minute, hour and chunk boundaries.
fn base() -> DateTime<Utc> {
    common::timefmt::parse("2026-11-30T09:57:13Z").unwrap()
}

/// Record times: increasing by each record's offset.
fn times(p: &Plan) -> Vec<DateTime<Utc>> {
    let mut t = base();
    p.records
        .iter()
        .map(|r| {
            t += TimeDelta::seconds(r.offset);
            t
        })
        .collect()
}

/// The JSON of record `i` (copy 2: another record for the same time, other values).
fn record_json(host: &str, i: usize, copy: u8, r: &Rec, at: DateTime<Utc>) -> Value {
    let other = copy == 2;
    let pct = |v: Option<u32>| v.map(|v| f64::from(if other { (v + 1) % 10_000 } else { v }) / 100.0);
    let mut h = json!({});
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            h[k] = v;
        }
    };
    put("cpu_percent", json!(pct(r.cpu)));
    put("mem_total_bytes", json!(r.mem.map(|_| 64u64 << 30)));
    put("mem_used_bytes", json!(r.mem));
    put("mem_available_bytes", json!(r.mem.map(|m| (64u64 << 30) - m)));
    put("net_rx_bytes_per_sec", json!(r.rx.map(f64::from)));
    if !r.cores.is_empty() {
        put(
            "per_core_percent",
            json!(r.cores.iter().map(|c| f64::from(*c) / 100.0).collect::<Vec<_>>()),
        );
    }
    if let Some(t) = r.temp {
        put("temperatures_c", json!({"cpu": f64::from(t) / 10.0}));
    }
    let containers: Vec<Value> = r
        .containers
        .iter()
        .map(|c| {
            let mut v =
                json!({"id": format!("{host}-c{c}"), "name": format!("app{c}"), "image": "app:1", "state": "running"});
            if let Some(cpu) = pct(r.ccpu[*c]) {
                v["cpu_percent"] = json!(cpu);
            }
            if let Some(p) = r.pids[*c] {
                v["pids"] = json!(p);
            }
            v
        })
        .collect();
    json!({"schema": 1, "record_id": format!("{host}-r{i}-{}", if other { "b" } else { "a" }),
           "host_id": host, "host_name": host, "sampled_at": ts(at), "interval_ms": 1000,
           "host": h, "containers": containers})
}

/// Per metric: (min, max, sum, n) and the value in the bucket's latest sample.
type Expected = BTreeMap<(String, DateTime<Utc>), (Vec<Option<(f64, f64, f64, u32)>>, Vec<Option<f64>>, DateTime<Utc>)>;

/// Recomputes the rollups of `samples` (time, values per metric) for buckets of `width`.
fn recompute(key: &str, samples: &[(DateTime<Utc>, Vec<Option<f64>>)], width: TimeDelta, into: &mut Expected) {
    for (at, values) in samples {
        let ms = at.timestamp_millis();
        let w = width.num_milliseconds();
        let start = DateTime::from_timestamp_millis(ms - ms.rem_euclid(w)).unwrap();
        let e = into
            .entry((key.to_owned(), start))
            .or_insert_with(|| (vec![None; values.len()], vec![None; values.len()], *at));
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = v {
                let s = e.0[i].get_or_insert((*v, *v, 0.0, 0));
                s.0 = s.0.min(*v);
                s.1 = s.1.max(*v);
                s.2 += v;
                s.3 += 1;
            }
        }
        if *at >= e.2 {
            e.2 = *at;
            e.1.clone_from(values);
        }
    }
}

fn close(a: Option<f32>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => (f64::from(a) - b).abs() <= 1e-5 * b.abs().max(1.0),
        _ => false,
    }
}

/// Compares a rollup table's rows of `machine` (named `key`) with the recomputation.
async fn check_rollups(t: &TestApp, table: &str, names: &[&str], machine: &str, key: &str, expect: &Expected) {
    let rows = sqlx::query(&format!(
        "SELECT r.* FROM {table} r JOIN machines m ON m.id = r.machine_id WHERE m.ext_id = ? ORDER BY bucket"
    ))
    .bind(machine)
    .fetch_all(t.app.store.pool())
    .await
    .unwrap();
    let want: Vec<_> = expect.iter().filter(|((k, _), _)| k == key).collect();
    assert_eq!(rows.len(), want.len(), "{table} rows of {machine}");
    for (row, ((_, start), (stats, last, last_at))) in rows.iter().zip(want) {
        let bucket: chrono::NaiveDateTime = row.try_get("bucket").unwrap();
        assert_eq!(bucket.and_utc(), *start, "{table} bucket");
        let got_last_at: chrono::NaiveDateTime = row.try_get("last_at").unwrap();
        assert_eq!(got_last_at.and_utc(), *last_at, "{table} last_at at {start}");
        for (i, m) in names.iter().enumerate() {
            let n: u32 = row.try_get(format!("{m}_n").as_str()).unwrap();
            let get = |c: &str| row.try_get::<Option<f32>, _>(format!("{m}_{c}").as_str()).unwrap();
            match stats[i] {
                None => assert_eq!(n, 0, "{table} {m} n at {start}"),
                Some((min, max, sum, count)) => {
                    assert_eq!(n, count, "{table} {m} n at {start}");
                    assert!(close(get("min"), Some(min)), "{table} {m} min at {start}");
                    assert!(close(get("max"), Some(max)), "{table} {m} max at {start}");
                    assert!(
                        close(get("avg"), Some(sum / f64::from(count))),
                        "{table} {m} avg at {start}"
                    );
                }
            }
            assert!(
                close(get("last"), last[i]),
                "{table} {m} last at {start}: {:?} vs {:?}",
                get("last"),
                last[i]
            );
        }
    }
}

async fn run(p: Plan) {
    let t = TestApp::start().await;
    let host = "prop-host";
    let at = times(&p);
    // deliver, remembering the first record stored for each time
    let mut first: BTreeMap<DateTime<Utc>, Value> = BTreeMap::new();
    let mut batches: Vec<&[(usize, u8)]> = Vec::new();
    let mut start = 0;
    for cut in p.cuts.iter().chain(std::iter::once(&p.deliveries.len())) {
        if *cut > start {
            batches.push(&p.deliveries[start..*cut]);
            start = *cut;
        }
    }
    for (b, batch) in batches.iter().enumerate() {
        let body: Vec<Value> = batch
            .iter()
            .map(|(i, copy)| record_json(host, *i, *copy, &p.records[*i], at[*i]))
            .collect();
        let reply = t.post("/api/v1/ingest", &Value::Array(body.clone())).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json["rejected"], json!([]), "{}", reply.text);
        for r in body {
            let when = common::timefmt::parse(r["sampled_at"].as_str().unwrap()).unwrap();
            first.entry(when).or_insert(r);
        }
        if p.compact_after.get(b).copied().unwrap_or(false) {
            t.app.store.compact(everything()).await.unwrap();
        }
    }
    t.app.store.compact(everything()).await.unwrap();
    assert_eq!(t.stored().await.0, first.len() as u64, "one sample per time");
    assert_eq!(t.count("raw_recent").await, 0, "everything compacted");

    // raw tier: the host and each container, oldest first
    let range = format!(
        "from={}&to={}&limit=10000",
        ts(base()),
        ts(base() + TimeDelta::hours(2))
    );
    let reply = t.get(&format!("/api/v1/machines/{host}/samples?{range}")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let expect: Vec<Value> = first
        .iter()
        .map(|(when, r)| {
            let mut h = r["host"].clone();
            h["sampled_at"] = json!(ts(*when));
            h
        })
        .collect();
    assert_eq!(reply.json["samples"], Value::Array(expect), "host samples");
    for c in 0..3 {
        let id = format!("{host}-c{c}");
        let expect: Vec<Value> = first
            .iter()
            .filter_map(|(when, r)| {
                let mut v = r["containers"]
                    .as_array()?
                    .iter()
                    .find(|x| x["id"] == json!(id))?
                    .clone();
                let o = v.as_object_mut()?;
                for gone in ["id", "name", "image"] {
                    o.remove(gone);
                }
                o.insert("sampled_at".into(), json!(ts(*when)));
                Some(v)
            })
            .collect();
        let reply = t.get(&format!("/api/v1/machines/{id}/samples?{range}")).await;
        if expect.is_empty() {
            continue; // never listed: not a known machine
        }
        assert_eq!(reply.json["samples"], Value::Array(expect), "samples of {id}");
    }

    // rollups: recomputed from the samples that were stored
    for (width, host_table, container_table) in [
        (TimeDelta::minutes(1), "host_minutes", "container_minutes"),
        (TimeDelta::hours(1), "host_hours", "container_hours"),
    ] {
        let mut expect = Expected::new();
        let host_samples: Vec<(DateTime<Utc>, Vec<Option<f64>>)> = first
            .iter()
            .map(|(when, r)| {
                let h: HostSample = serde_json::from_value(r["host"].clone()).unwrap();
                (*when, HOST_METRICS.iter().map(|m| (m.get)(&h)).collect())
            })
            .collect();
        recompute(host, &host_samples, width, &mut expect);
        for c in 0..3 {
            let id = format!("{host}-c{c}");
            let samples: Vec<(DateTime<Utc>, Vec<Option<f64>>)> = first
                .iter()
                .filter_map(|(when, r)| {
                    let v = r["containers"].as_array()?.iter().find(|x| x["id"] == json!(id))?;
                    let c = codec::Container {
                        cpu_percent: v["cpu_percent"].as_f64(),
                        pids: v["pids"].as_u64(),
                        ..codec::Container::default()
                    };
                    Some((*when, CONTAINER_METRICS.iter().map(|m| (m.get)(&c)).collect()))
                })
                .collect();
            recompute(&id, &samples, width, &mut expect);
        }
        let host_names: Vec<&str> = HOST_METRICS.iter().map(|m| m.name).collect();
        check_rollups(&t, host_table, &host_names, host, host, &expect).await;
        let container_names: Vec<&str> = CONTAINER_METRICS.iter().map(|m| m.name).collect();
        for c in 0..3 {
            let id = format!("{host}-c{c}");
            check_rollups(&t, container_table, &container_names, &id, &id, &expect).await;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, max_shrink_iters: 20, ..ProptestConfig::default() })]

    #[test]
    fn the_raw_tier_and_rollups_hold_what_was_first_stored(p in plan()) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(run(p));
    }
}
