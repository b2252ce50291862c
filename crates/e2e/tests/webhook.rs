//! Notifications end to end: the real api-backend sends one firing and one resolved notification
//! per incident to a Slack-style webhook; while the receiver is down the notifications wait and
//! are retried, arrive in order once it is up, and ingest is not slowed meanwhile.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use e2e::records::host_record_at;
use e2e::{free_port, wait_until, Stack};
use reqwest::Method;
use serde_json::{json, Value};

/// A webhook receiver on 127.0.0.1:`port` that records every body it gets.
async fn receiver(port: u16) -> Arc<Mutex<Vec<Value>>> {
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |Json(body): Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the receiver");
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_firing_and_one_resolved_notification_arrive_after_the_receiver_comes_back() {
    let stack = Stack::new("webhook", 1).await;
    let (api, hook) = (free_port(), free_port());
    let url = format!("http://127.0.0.1:{hook}/hook");
    let _backend = stack.start_backend_with(api, &[("ALERT_WEBHOOK_URL", url)]).await;
    let base = format!("http://127.0.0.1:{api}");

    // Only the test's rule speaks about CPU (the original's default of 85 is raised away).
    let mut setting = stack.get_json(&format!("{base}/api/metrics/threshold-setting")).await;
    setting["cpuPercent"] = json!("100000");
    let (status, _) = stack
        .send_json(Method::POST, &format!("{base}/api/metrics/threshold-setting"), &setting)
        .await;
    assert_eq!(status, 200);
    let rule = json!({"direction": "above", "raise": 80, "clear": 70, "for_secs": 0, "severity": "critical"});
    let (status, body) = stack
        .send_json(
            Method::PUT,
            &format!("{base}/api/v1/thresholds/host.cpu_percent"),
            &rule,
        )
        .await;
    assert!(status == 200 || status == 201, "{status} {body}");

    // The receiver is down: one incident opens and closes; ingest answers at once all the same.
    let host = format!("{}-h", stack.topic);
    let t0 = Utc::now() - chrono::TimeDelta::seconds(10);
    for (s, cpu) in [(0, 95.0), (1, 10.0)] {
        let mut r = host_record_at(&host, t0 + chrono::TimeDelta::seconds(s), cpu);
        r.interval_ms = 60_000; // not stale while the test runs
        let started = Instant::now();
        stack.ingest(api, &[r]).await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "ingest took {:?} while the webhook is down",
            started.elapsed()
        );
    }
    let day = Utc::now().format("%Y-%m-%d").to_string();
    wait_until(
        Duration::from_secs(10),
        "firing and resolved to be recorded",
        || async {
            let history = stack
                .try_get_json(&format!("{base}/api/v1/alerts?from={day}&to={day}"))
                .await?;
            (history["alerts"].as_array()?.len() == 2).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await; // the first delivery attempts fail meanwhile
                                                      // the receiver's failure degrades the detailed health but not readiness
    let detailed = stack.get_json(&format!("{base}/health/detailed")).await;
    assert_eq!(detailed["status"], "degraded", "{detailed}");
    assert_eq!(detailed["checks"]["webhook_slack"]["status"], "down", "{detailed}");
    assert!(detailed["checks"]["webhook_slack"]["error"].is_string(), "{detailed}");
    stack
        .wait_status(&format!("{base}/health/ready"), 200, Duration::from_secs(1))
        .await;

    let got = receiver(hook).await;
    let texts = wait_until(Duration::from_secs(45), "both notifications", || async {
        let g = got.lock().unwrap().clone();
        (g.len() >= 2).then_some(g)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = got.lock().unwrap().clone();
    assert_eq!(all.len(), 2, "exactly one firing and one resolved: {all:?}");
    let text = |v: &Value| v["text"].as_str().unwrap_or_default().to_owned();
    assert!(
        text(&texts[0]).contains("FIRING") && text(&texts[0]).contains(&host),
        "{}",
        texts[0]
    );
    assert!(
        text(&texts[1]).contains("RESOLVED") && text(&texts[1]).contains(&host),
        "{}",
        texts[1]
    );
    let metrics = stack.metrics_text(api).await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("api_notifications_retries_total") && !l.ends_with(" 0")),
        "retried: {metrics}"
    );
    let detailed = stack.get_json(&format!("{base}/health/detailed")).await;
    assert_eq!(detailed["status"], "healthy", "delivering again: {detailed}");
    assert!(
        detailed["checks"]["webhook_slack"]["response_time_ms"].is_number(),
        "{detailed}"
    );
    stack.db.drop_db().await;
}
