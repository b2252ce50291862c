//! A room migrating from the original system: its Java collectors' records (camelCase, local
//! `timeStamp`) and srmon collectors' v1 records on one topic, a consumer with
//! `RECORD_FORMAT=auto`, a backend in `TZ=Asia/Seoul`. Both kinds end up in the same storage,
//! the original ones at the right UTC instant (rendered back in Seoul time on the compat
//! surface), a counter reset stored as an absent rate without losing the rest of the record.

use std::time::Duration;

use chrono::{FixedOffset, SubsecRound, TimeDelta, Utc};
use e2e::{free_port, wait_until, Stack};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn original_and_v1_records_on_one_topic_end_up_in_the_same_storage() {
    let stack = Stack::new("migration", 1).await;
    let (api, cport) = (free_port(), free_port());
    let _backend = stack.start_backend_with(api, &[("TZ", "Asia/Seoul".to_owned())]).await;
    let _consumer = stack
        .start_consumer(api, cport, &[("RECORD_FORMAT", "auto".to_owned())])
        .await;

    // the original frontend lowers the CPU threshold: both records raise an alert
    let base = format!("http://127.0.0.1:{api}");
    let mut over = stack.get_json(&format!("{base}/api/metrics/threshold-setting")).await;
    over["cpuPercent"] = json!("10.0");
    let saved = stack
        .send_json(
            reqwest::Method::POST,
            &format!("{base}/api/metrics/threshold-setting"),
            &over,
        )
        .await;
    assert_eq!(saved.0, 200, "{:?}", saved.1);

    let at = Utc::now().trunc_subsecs(0) - TimeDelta::seconds(30);
    let seoul = FixedOffset::east_opt(9 * 3600).unwrap();
    let local = |t: chrono::DateTime<Utc>| t.with_timezone(&seoul).format("%Y-%m-%dT%H:%M:%S").to_string();
    // the Java collector writes its local time without a zone
    let original = json!({
        "type": "host", "hostId": "java-1", "name": "legacy-box", "timeStamp": local(at),
        "cpuUsagePercent": 12.5, "memoryUsedBytes": 6.442450944E9,
        "diskReadBytesDelta": 100.0, "diskWriteBytesDelta": -4096.0,
        "networkDelta": {"eth0_0": {"rxBytesDelta": 300.0, "txBytesDelta": 400.0}},
        "temperatures": {},
        "containers": {"abc123": {"name": "/redis", "cpuUsagePercent": 1.5, "memoryUsedBytes": 1048576.0,
                                  "diskReadBytesDelta": 0.0, "diskWriteBytesDelta": 10.0, "networkDelta": {}},
                       "dead00": {}}
    });
    let boot = &stack.services.bootstrap;
    e2e::kafka::produce_raw(boot, &stack.topic, "java-1", original.to_string().as_bytes()).await;
    let native = e2e::records::host_record_at("native-1", at, 33.0);
    e2e::kafka::produce_raw(boot, &stack.topic, "native-1", &serde_json::to_vec(&native).unwrap()).await;
    // a record of neither format is the backend's to refuse, and is dead-lettered
    e2e::kafka::produce_raw(boot, &stack.topic, "x", br#"{"hostId": "java-2"}"#).await;

    wait_until(Duration::from_secs(60), "both records stored", || async {
        (e2e::stored::count(&stack.db.pool).await >= 2).then_some(())
    })
    .await;
    wait_until(Duration::from_secs(30), "the bad record dead-lettered", || async {
        let m = stack.metrics_text(cport).await;
        (e2e::metric_value(&m, r#"consumer_records_forwarded_total{result="rejected"}"#) >= 1.0).then_some(())
    })
    .await;

    let day = at.date_naive();
    let range = format!("from={}&to={}", day.pred_opt().unwrap(), day.succ_opt().unwrap());
    let java = stack
        .get_json(&format!("{base}/api/v1/machines/java-1/samples?{range}"))
        .await;
    let s = &java["samples"][0];
    assert_eq!(
        s["sampled_at"],
        common::timefmt::format(&at),
        "a local Seoul timeStamp is stored at its UTC instant: {java}"
    );
    assert_eq!(s["cpu_percent"], 12.5);
    assert_eq!(s["disk_read_bytes_per_sec"], 100.0);
    assert!(
        s.get("disk_write_bytes_per_sec").is_none_or(|v| v.is_null()),
        "a counter reset is not a measurement: {s}"
    );
    assert_eq!(s["net_rx_bytes_per_sec"], 300.0);
    let stored_native = stack
        .get_json(&format!("{base}/api/v1/machines/native-1/samples?{range}"))
        .await;
    assert_eq!(stored_native["samples"][0]["cpu_percent"], 33.0);

    // the compat surface renders it back in Seoul time, containers by host name
    let inventory = stack.get_json(&format!("{base}/api/inventory/list")).await;
    let containers = inventory["container"].as_array().unwrap();
    let redis = containers.iter().find(|c| c["id"] == "abc123").unwrap();
    assert_eq!(redis["host"], "legacy-box");
    assert_eq!(redis["name"], "/redis");
    let machines = stack.get_json(&format!("{base}/api/v1/machines")).await;
    let dead = machines["machines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "dead00")
        .cloned();
    assert_eq!(
        dead.as_ref().map(|m| m["state"].clone()),
        Some(json!("exited")),
        "a container posted as {{}} is not running: {machines}"
    );

    // its alert, on the original's history, in Seoul time with the original metric name
    let history = wait_until(
        Duration::from_secs(30),
        "the alert of java-1 in the history",
        || async {
            let rows = stack
                .get_json(&format!("{base}/api/metrics/threshold-history-all"))
                .await;
            // (a timeout row of java-1 may come first: its sample is 30 s old)
            rows.as_array()?
                .iter()
                .find(|r| r["machineId"] == "java-1" && r["messageType"] == "thresholdExceeded")
                .cloned()
        },
    )
    .await;
    assert_eq!(history["timestamp"], local(at), "{history}");
    assert_eq!(history["metricName"], "cpu");
    assert_eq!(history["value"], 12.5);
    assert_eq!(history["threshold"], 10.0);
}
