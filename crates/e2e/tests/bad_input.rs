//! Bad input: a Kafka value that is not JSON and a record that breaks the schema end in the
//! dead-letter topic with a reason, the pipeline goes on, and nothing stored changes for them.
//! A malformed ingest body gets 400 with the JSON error shape.

use std::time::Duration;

use e2e::kafka::{produce_raw, read_topic};
use e2e::records::host_record;
use e2e::{free_port, wait_until, Stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_records_go_to_the_dead_letter_topic_and_the_rest_flows() {
    let stack = Stack::new("badinput", 1).await;
    let (api, cport) = (free_port(), free_port());
    let _backend = stack.start_backend(api).await;
    let _consumer = stack.start_consumer(api, cport, &[]).await;
    let base = format!("http://127.0.0.1:{api}");
    let bs = &stack.services.bootstrap;

    let bad_host = format!("{}-bad", stack.topic);
    let good_host = format!("{}-good", stack.topic);
    produce_raw(bs, &stack.topic, &bad_host, b"this is not json {").await;
    let mut invalid = serde_json::to_value(host_record(&bad_host)).unwrap();
    invalid["host"]["cpu_percent"] = serde_json::json!(250.0);
    produce_raw(bs, &stack.topic, &bad_host, invalid.to_string().as_bytes()).await;
    let good = host_record(&good_host);
    produce_raw(bs, &stack.topic, &good_host, &good.to_json()).await;

    // The good record after them is stored: the pipeline went on.
    wait_until(Duration::from_secs(60), "the good record to be stored", || async {
        let v = stack.get_json(&format!("{base}/api/v1/machines")).await;
        v["machines"]
            .as_array()?
            .iter()
            .any(|m| m["id"] == good_host.as_str())
            .then_some(())
    })
    .await;

    // Both bad ones are in <topic>.dlq with a reason.
    let dlq = read_topic(bs, &format!("{}.dlq", stack.topic), 2, Duration::from_secs(30)).await;
    assert_eq!(dlq.len(), 2, "dead-letter topic: {dlq:?}");
    let reasons: Vec<&str> = dlq
        .iter()
        .map(|r| r.header("dlq.reason").expect("dlq.reason header"))
        .collect();
    assert!(reasons.iter().any(|r| r.contains("not valid JSON")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("cpu_percent")), "{reasons:?}");
    assert!(
        dlq.iter().any(|r| r.value == b"this is not json {"),
        "the original value is kept"
    );

    // Nothing stored for the bad host; exactly one sample for the good one.
    let machines = stack.get_json(&format!("{base}/api/v1/machines")).await;
    assert!(
        !machines["machines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == bad_host.as_str()),
        "{machines}"
    );
    let samples = stack
        .get_json(&format!("{base}/api/v1/machines/{good_host}/samples?from=2000-01-01"))
        .await;
    assert_eq!(samples["samples"].as_array().unwrap().len(), 1, "{samples}");

    // Malformed ingest bodies: 400 with {"error","detail"}.
    for body in ["{not json", r#"{"records": []}"#] {
        let r = stack
            .http
            .post(format!("{base}/api/v1/ingest"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "body {body:?}");
        let v: serde_json::Value = r.json().await.expect("JSON error body");
        assert!(v["error"].is_string() && v["detail"].is_string(), "{v}");
    }
    stack.db.drop_db().await;
}
