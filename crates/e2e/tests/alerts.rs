//! Alerting end to end on real services: one alert per incident on the native and compat SSE
//! streams and in the history; exactly the missed events after a reconnect with Last-Event-ID,
//! also across a backend restart; stale hosts; containers that die with an exit code.

use std::time::{Duration, Instant};

use chrono::Utc;
use e2e::docker::Engine;
use e2e::records::host_record_at;
use e2e::sse::{SseClient, SseEvent};
use e2e::{free_port, wait_until, Proc, Stack};
use reqwest::Method;
use serde_json::{json, Value};

fn alerts_of<'a>(events: &'a [SseEvent], machine: &str) -> Vec<&'a SseEvent> {
    events
        .iter()
        .filter(|e| e.event.as_deref() == Some("alert") && e.json()["machine_id"] == machine)
        .collect()
}

/// The events of one threshold rule.
fn of_rule<'a>(events: &[&'a SseEvent], rule_id: &Value) -> Vec<&'a SseEvent> {
    events
        .iter()
        .copied()
        .filter(|e| &e.json()["rule_id"] == rule_id)
        .collect()
}

/// Raises the original system's default CPU threshold (85, enforced from the first start) out
/// of the way through its own endpoint, so only the test's rule speaks about CPU.
async fn quiet_compat_cpu_rule(stack: &Stack, base: &str) {
    let mut setting = stack.get_json(&format!("{base}/api/metrics/threshold-setting")).await;
    setting["cpuPercent"] = json!("100000");
    let url = format!("{base}/api/metrics/threshold-setting");
    let (status, body) = stack.send_json(Method::POST, &url, &setting).await;
    assert_eq!((status, &body["message"]), (200, &json!("ok")), "{body}");
}

fn states(events: &[&SseEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.json()["state"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Collects native `alert` events until `done` holds or `timeout` passes.
async fn collect_until(
    client: &mut SseClient,
    timeout: Duration,
    mut done: impl FnMut(&[SseEvent]) -> bool,
) -> Vec<SseEvent> {
    let deadline = Instant::now() + timeout;
    let mut all = Vec::new();
    while !done(&all) {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.next(left).await {
            Some(e) => all.push(e),
            None => break,
        }
    }
    all
}

/// These tests assert latencies (3 s + two ticks, 3 intervals + 2 s): they run one at a time so
/// they do not load the 2-core machine for each other.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Starts a collector (1 s tick; with or without Docker) under a host id of the test's own and
/// waits until the backend has `samples` samples of it. Returns the host id, the collector's
/// environment (to start it again) and the process.
async fn start_collector(
    stack: &Stack,
    port: u16,
    base: &str,
    docker: bool,
    samples: usize,
) -> (String, Vec<(&'static str, String)>, Proc) {
    let host_id = format!("{}-host", stack.topic);
    let mut env = stack.collector_env(port);
    env.push(("HOST_ID", host_id.clone()));
    if !docker {
        env.retain(|(k, _)| *k != "DOCKER_HOST");
        env.push(("DOCKER_HOST", "none".into()));
    }
    let collector = Proc::spawn("collector", "collector", &[], &env, &stack.log_dir);
    wait_until(Duration::from_secs(15), "the host to report", || async {
        let v = stack
            .try_get_json(&format!("{base}/api/v1/machines/{host_id}/samples"))
            .await?;
        (v["samples"].as_array()?.len() >= samples).then_some(())
    })
    .await;
    (host_id, env, collector)
}

fn today() -> String {
    Utc::now().format("%Y-%m-%d").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_container_raises_one_alert_and_one_resolution() {
    let _one = ONE_AT_A_TIME.lock().await;
    let stack = Stack::new("alertcpu", 1).await;
    let engine = Engine::connect(&stack.services.docker_host, &stack.services.image);
    let (api, cport, colport) = (free_port(), free_port(), free_port());
    let _backend = stack.start_backend(api).await;
    let _consumer = stack.start_consumer(api, cport, &[]).await;
    let base = format!("http://127.0.0.1:{api}");
    let name = format!("{}-burn", stack.topic);

    let rule = json!({"metric": "container.cpu_percent", "direction": "above", "raise": 50, "clear": 30,
                      "for_secs": 3, "severity": "warning", "scope": {"kind": "container_name", "pattern": name}});
    let (status, body) = stack
        .send_json(Method::POST, &format!("{base}/api/v1/thresholds/rules"), &rule)
        .await;
    assert!(status == 200 || status == 201, "create rule: {status} {body}");
    let rule_id = body["id"].clone();
    assert!(rule_id.is_u64(), "the created rule has an id: {body}");
    quiet_compat_cpu_rule(&stack, &base).await;

    let mut native = SseClient::connect(&format!("{base}/api/v1/alerts/stream"), None).await;
    let snapshot = native
        .next(Duration::from_secs(5))
        .await
        .expect("a snapshot on connect");
    assert_eq!(snapshot.event.as_deref(), Some("snapshot"), "{snapshot:?}");
    let mut compat = SseClient::connect(&format!("{base}/api/metrics/threshold-alert"), None).await;

    let (_host_id, _env, _collector) = start_collector(&stack, colport, &base, true, 1).await;

    let burn = engine.run(&name, "yes > /dev/null").await;
    let cid = burn.id.clone();
    let started = engine.started_at(&cid).await;
    let events = collect_until(&mut native, Duration::from_secs(20), |all| {
        states(&of_rule(&alerts_of(all, &cid), &rule_id)).contains(&"firing".to_owned())
    })
    .await;
    let fired = of_rule(&alerts_of(&events, &cid), &rule_id);
    assert_eq!(
        states(&fired).iter().filter(|s| *s == "firing").count(),
        1,
        "one firing: {fired:?}"
    );
    let firing = fired.iter().find(|e| e.json()["state"] == "firing").unwrap().json();
    let at = common::timefmt::parse(firing["at"].as_str().unwrap()).unwrap();
    // 3 s for-duration + two 1 s ticks (the first sample of a new container has no rate yet).
    if at - started > chrono::TimeDelta::milliseconds(5_300) {
        let samples = stack.get_json(&format!("{base}/api/v1/machines/{cid}/samples")).await;
        let seen: Vec<String> = samples["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| format!("{} cpu={}", s["sampled_at"], s["cpu_percent"]))
            .collect();
        panic!("fired at {at}, started {started}; container samples: {seen:#?}");
    }

    drop(burn); // force-removes it: the container stops
    let events = collect_until(&mut native, Duration::from_secs(15), |all| {
        states(&of_rule(&alerts_of(all, &cid), &rule_id)).contains(&"resolved".to_owned())
    })
    .await;
    let more = events
        .iter()
        .chain(native.collect_for(Duration::from_secs(3)).await.iter())
        .cloned()
        .collect::<Vec<_>>();
    let after = of_rule(&alerts_of(&more, &cid), &rule_id);
    assert_eq!(
        states(&after),
        ["resolved"],
        "exactly one resolution, nothing else: {after:?}"
    );

    // the original's keep-alive (`event: ping`, `data: keepalive`) may come between them
    let compat_events: Vec<SseEvent> = compat
        .collect_for(Duration::from_secs(1))
        .await
        .into_iter()
        .filter(|e| e.event.as_deref() != Some("ping"))
        .collect();
    let exceeded: Vec<Value> = compat_events
        .iter()
        .map(SseEvent::json)
        .filter(|v| v["machineId"] == cid.as_str())
        .collect();
    assert_eq!(exceeded.len(), 1, "{compat_events:?}");
    assert_eq!(exceeded[0]["messageType"], "thresholdExceeded");
    assert!(
        compat_events.iter().all(|e| e.event.is_none()),
        "compat events are unnamed"
    );
    assert_eq!(exceeded[0]["metricName"], "cpu", "the original's name of the metric");
    assert!(
        exceeded[0]["threshold"].is_string() && exceeded[0]["value"].is_string(),
        "{}",
        exceeded[0]
    );

    let day = today();
    let history = stack
        .get_json(&format!("{base}/api/v1/alerts?from={day}&to={day}&machine={cid}"))
        .await;
    let listed: Vec<&str> = history["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["state"].as_str())
        .collect();
    assert!(listed.contains(&"firing") && listed.contains(&"resolved"), "{history}");
    let (status, compat_history) = stack
        .send_json(
            Method::POST,
            &format!("{base}/api/metrics/threshold-history"),
            &json!({"date": day}),
        )
        .await;
    assert_eq!(status, 200, "{compat_history}");
    assert!(
        compat_history
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["targetId"] == cid.as_str()),
        "{compat_history}"
    );
    stack.db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_client_gets_exactly_the_missed_events_across_a_restart() {
    let _one = ONE_AT_A_TIME.lock().await;
    let stack = Stack::new("alertreplay", 1).await;
    let api = free_port();
    let mut backend = stack.start_backend(api).await;
    let base = format!("http://127.0.0.1:{api}");
    let rule =
        json!({"direction": "above", "raise": 80, "clear": 70, "for_secs": 0, "severity": "critical", "enabled": true});
    let (status, body) = stack
        .send_json(
            Method::PUT,
            &format!("{base}/api/v1/thresholds/host.cpu_percent"),
            &rule,
        )
        .await;
    assert!(status == 200 || status == 201, "{status} {body}");
    let rule_id = body["id"].clone();
    quiet_compat_cpu_rule(&stack, &base).await;

    // A 60 s interval: the host cannot go stale while the test runs, so every event after the
    // one the client saw comes from the rule.
    let host = format!("{}-h", stack.topic);
    let t0 = Utc::now() - chrono::TimeDelta::seconds(30);
    let at = |s: i64| t0 + chrono::TimeDelta::seconds(s);
    let record = |s: i64, cpu: f64| {
        let mut r = host_record_at(&host, at(s), cpu);
        r.interval_ms = 60_000;
        r
    };
    let mut client = SseClient::connect(&format!("{base}/api/v1/alerts/stream"), None).await;
    assert_eq!(
        client.next(Duration::from_secs(5)).await.unwrap().event.as_deref(),
        Some("snapshot")
    );
    stack.ingest(api, &[record(0, 90.0)]).await;
    let first = client.next(Duration::from_secs(10)).await.expect("the firing event");
    assert_eq!(first.json()["state"], "firing");
    let seen = first.id.clone().expect("an event id");
    drop(client);

    // Missed while disconnected: a resolution, a new firing, then a restart and a resolution.
    stack.ingest(api, &[record(1, 10.0)]).await;
    stack.ingest(api, &[record(2, 95.0)]).await;
    assert!(backend.terminate(Duration::from_secs(30)).success());
    backend = stack.start_backend(api).await;
    stack.ingest(api, &[record(3, 5.0)]).await;

    let mut client = SseClient::connect(&format!("{base}/api/v1/alerts/stream"), Some(&seen)).await;
    let missed = client.collect_for(Duration::from_secs(3)).await;
    let alerts: Vec<&SseEvent> = missed.iter().filter(|e| e.event.as_deref() == Some("alert")).collect();
    assert_eq!(states(&alerts), ["resolved", "firing", "resolved"], "{missed:?}");
    assert!(alerts.iter().all(|e| e.json()["rule_id"] == rule_id), "{missed:?}");
    let ids: Vec<u64> = alerts
        .iter()
        .map(|e| e.id.as_deref().unwrap().parse().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]) && ids[0] > seen.parse::<u64>().unwrap(),
        "{ids:?}"
    );
    drop(backend);
    stack.db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_collector_raises_one_stale_alert_and_its_return_resolves_it() {
    let _one = ONE_AT_A_TIME.lock().await;
    let stack = Stack::new("alertstale", 1).await;
    let (api, cport, colport) = (free_port(), free_port(), free_port());
    let _backend = stack.start_backend(api).await;
    let _consumer = stack.start_consumer(api, cport, &[]).await;
    let base = format!("http://127.0.0.1:{api}");
    let (host_id, env, mut collector) = start_collector(&stack, colport, &base, false, 2).await;
    let mut client = SseClient::connect(&format!("{base}/api/v1/alerts/stream"), None).await;
    client.next(Duration::from_secs(5)).await.expect("snapshot");

    assert!(collector.terminate(Duration::from_secs(20)).success());
    let stopped = Instant::now();
    let events = collect_until(&mut client, Duration::from_secs(15), |all| {
        !alerts_of(all, &host_id).is_empty()
    })
    .await;
    let stale = alerts_of(&events, &host_id);
    assert_eq!(states(&stale), ["firing"], "{events:?}");
    assert_eq!(stale[0].json()["kind"], "stale");
    // 3 intervals of 1 s + 2 s
    assert!(
        stopped.elapsed() <= Duration::from_secs(5) + Duration::from_millis(500),
        "took {:?}",
        stopped.elapsed()
    );

    let _again = Proc::spawn("collector", "collector", &[], &env, &stack.log_dir);
    let events = collect_until(&mut client, Duration::from_secs(15), |all| {
        !alerts_of(all, &host_id).is_empty()
    })
    .await;
    assert_eq!(states(&alerts_of(&events, &host_id)), ["resolved"], "{events:?}");
    stack.db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_exiting_with_code_3_raises_one_died_alert_with_the_code() {
    let _one = ONE_AT_A_TIME.lock().await;
    let stack = Stack::new("alertdied", 1).await;
    let engine = Engine::connect(&stack.services.docker_host, &stack.services.image);
    let (api, cport, colport) = (free_port(), free_port(), free_port());
    let _backend = stack.start_backend(api).await;
    let _consumer = stack.start_consumer(api, cport, &[]).await;
    let base = format!("http://127.0.0.1:{api}");
    let (_host_id, _env, _collector) = start_collector(&stack, colport, &base, true, 1).await;
    let mut client = SseClient::connect(&format!("{base}/api/v1/alerts/stream"), None).await;
    client.next(Duration::from_secs(5)).await.expect("snapshot");

    let dying = engine.run(&format!("{}-dies", stack.topic), "sleep 2; exit 3").await;
    let cid = dying.id.clone();
    let events = collect_until(&mut client, Duration::from_secs(20), |all| {
        !alerts_of(all, &cid).is_empty()
    })
    .await;
    let mut died = alerts_of(&events, &cid).into_iter().cloned().collect::<Vec<_>>();
    died.extend(
        client
            .collect_for(Duration::from_secs(3))
            .await
            .into_iter()
            .filter(|e| e.event.as_deref() == Some("alert") && e.json()["machine_id"] == cid.as_str()),
    );
    let died: Vec<Value> = died
        .iter()
        .map(SseEvent::json)
        .filter(|v| v["kind"] == "container_died")
        .collect();
    assert_eq!(died.len(), 1, "{died:?}");
    assert_eq!(died[0]["state"], "firing");
    assert_eq!(died[0]["exit_code"], 3);
    stack.db.drop_db().await;
}
