//! End to end on real services: the real collector (real /proc, podman's Docker-API socket) →
//! broker → consumer → backend → MariaDB. A busybox container burning one core shows up with
//! its CPU and memory; the host shows up; stopping the container is seen as `exited` with a
//! `container_died` event carrying its exit code; every binary's /metrics passes promtool.

use std::time::{Duration, Instant};

use e2e::docker::Engine;
use e2e::services::promtool_check;
use e2e::{free_port, wait_until, Proc, Stack};
use serde_json::Value;

fn f(v: &Value, field: &str) -> Option<f64> {
    v.get(field).and_then(Value::as_f64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collector_to_mysql_with_a_real_container() {
    let stack = Stack::new("pipeline", 3).await;
    let engine = Engine::connect(&stack.services.docker_host, &stack.services.image);
    let name = format!("{}-burn", stack.topic);
    let burn = engine.run(&name, "yes > /dev/null").await;
    let cid = burn.id.clone();

    let (api, cport, colport) = (free_port(), free_port(), free_port());
    let _backend = stack.start_backend(api).await;
    let _consumer = stack.start_consumer(api, cport, &[]).await;
    let host_id = format!("{}-host", stack.topic);
    let mut env = stack.collector_env(colport);
    env.push(("HOST_ID", host_id.clone()));
    env.push(("HOST_NAME", "e2e-box".into()));
    env.push(("COLLECT_INTERVAL", "1s".into()));
    let started = Instant::now();
    let mut collector = Proc::spawn("collector", "collector", &[], &env, &stack.log_dir);
    let base = format!("http://127.0.0.1:{api}");

    // Within 15 s: samples of the host and of the container, with plausible values.
    let deadline = Duration::from_secs(15);
    // The median of the last three CPU rates: one tick starved by a busy machine does not decide.
    let container_samples = wait_until(deadline, "three container samples with a CPU rate", || async {
        let v = stack
            .try_get_json(&format!("{base}/api/v1/machines/{cid}/samples"))
            .await?;
        let with_cpu: Vec<Value> = v["samples"]
            .as_array()?
            .iter()
            .filter(|s| f(s, "cpu_percent").is_some())
            .cloned()
            .collect();
        (with_cpu.len() >= 3).then(|| with_cpu[with_cpu.len() - 3..].to_vec())
    })
    .await;
    let mut cpus: Vec<f64> = container_samples.iter().map(|s| f(s, "cpu_percent").unwrap()).collect();
    cpus.sort_by(f64::total_cmp);
    let container_sample = container_samples.last().unwrap().clone();
    let host_sample = wait_until(
        deadline.saturating_sub(started.elapsed()).max(Duration::from_secs(1)),
        "a host sample with CPU",
        || async {
            let v = stack
                .try_get_json(&format!("{base}/api/v1/machines/{host_id}/samples"))
                .await?;
            v["samples"]
                .as_array()?
                .iter()
                .rev()
                .find(|s| f(s, "cpu_percent").is_some())
                .cloned()
        },
    )
    .await;
    assert!(
        started.elapsed() <= Duration::from_secs(16),
        "took {:?}",
        started.elapsed()
    );

    let cpu = cpus[1];
    assert!(
        (50.0..=110.0).contains(&cpu),
        "container burning one core should show 50..110 %, got {cpus:?}: {container_samples:?}"
    );
    assert!(
        (50.0..=110.0).contains(&cpu),
        "container burning one core should show 50..110 %, got {cpu}: {container_sample}"
    );
    for field in ["mem_used_bytes", "mem_limit_bytes", "mem_percent"] {
        assert!(
            f(&container_sample, field).is_some(),
            "container sample lacks {field}: {container_sample}"
        );
    }
    assert_eq!(container_sample["state"], "running", "{container_sample}");
    assert!(f(&host_sample, "cpu_percent").unwrap() > 0.0, "{host_sample}");
    for field in [
        "mem_total_bytes",
        "mem_used_bytes",
        "mem_available_bytes",
        "load1",
        "uptime_secs",
    ] {
        assert!(
            f(&host_sample, field).is_some(),
            "host sample lacks {field}: {host_sample}"
        );
    }

    // Inventory lists both, natively and in the compat shape.
    let machines = stack.get_json(&format!("{base}/api/v1/machines")).await;
    let list = machines["machines"].as_array().expect("machines is an array");
    let host = list
        .iter()
        .find(|m| m["id"] == host_id.as_str())
        .unwrap_or_else(|| panic!("host missing: {machines}"));
    assert_eq!(host["kind"], "host");
    assert_eq!(host["name"], "e2e-box");
    let ctr = list
        .iter()
        .find(|m| m["id"] == cid.as_str())
        .unwrap_or_else(|| panic!("container missing: {machines}"));
    assert_eq!(ctr["kind"], "container");
    assert_eq!(ctr["name"], name.as_str());
    assert_eq!(ctr["host_id"], host_id.as_str());
    let compat = stack.get_json(&format!("{base}/api/inventory/list")).await;
    assert!(
        compat["host"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["id"] == host_id.as_str()),
        "{compat}"
    );
    assert!(
        compat["container"]
            .as_array()
            .unwrap()
            .iter()
            // the original's shape: the host's name, Docker's leading slash
            .any(|c| c["id"] == cid.as_str() && c["host"] == "e2e-box" && c["name"] == format!("/{name}")),
        "{compat}"
    );

    // Stop the container: it shows as exited, with a container_died event carrying its exit code.
    engine.stop(&cid, 1).await;
    let exit_code = engine.exit_code(&cid).await.expect("exit code after stop");
    wait_until(
        Duration::from_secs(15),
        "the container to show state exited",
        || async {
            let v = stack.get_json(&format!("{base}/api/v1/machines")).await;
            v["machines"]
                .as_array()?
                .iter()
                .any(|m| m["id"] == cid.as_str() && m["state"] == "exited" && m["status"] == "stopped")
                .then_some(())
        },
    )
    .await;
    let died = wait_until(Duration::from_secs(15), "a container_died event", || async {
        let v = stack
            .try_get_json(&format!("{base}/api/v1/machines/{cid}/events"))
            .await?;
        v["events"]
            .as_array()?
            .iter()
            .find(|e| e["kind"] == "container_died")
            .cloned()
    })
    .await;
    assert_eq!(died["exit_code"].as_i64(), Some(exit_code), "{died}");

    // Every binary's /metrics passes promtool.
    for (what, port) in [("api-backend", api), ("consumer", cport), ("collector", colport)] {
        let text = stack.metrics_text(port).await;
        promtool_check(what, &text);
    }
    let consumer_metrics = stack.metrics_text(cport).await;
    assert!(
        consumer_metrics.contains("consumer_records_forwarded_total{result=\"accepted\"}"),
        "{consumer_metrics}"
    );

    drop(burn);
    assert!(
        collector.terminate(Duration::from_secs(20)).success(),
        "collector exits 0 on SIGTERM"
    );
    stack.db.drop_db().await;
}

/// Docker unreachable: the collector keeps sending host-only records, warns once, and its
/// readiness names the problem; it never crash-loops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_docker_the_collector_sends_host_only_records() {
    let stack = Stack::new("nodocker", 1).await;
    let (api, cport, colport) = (free_port(), free_port(), free_port());
    let _backend = stack.start_backend(api).await;
    let _consumer = stack.start_consumer(api, cport, &[]).await;
    let host_id = format!("{}-host", stack.topic);
    let mut env = stack.collector_env(colport);
    env.retain(|(k, _)| *k != "DOCKER_HOST");
    env.push(("DOCKER_HOST", "unix:///nonexistent/docker.sock".into()));
    env.push(("HOST_ID", host_id.clone()));
    let mut collector = Proc::spawn("collector", "collector", &[], &env, &stack.log_dir);
    let base = format!("http://127.0.0.1:{api}");

    let samples = wait_until(Duration::from_secs(15), "three host samples", || async {
        let v = stack
            .try_get_json(&format!("{base}/api/v1/machines/{host_id}/samples"))
            .await?;
        let n = v["samples"].as_array()?.len();
        (n >= 3).then_some(v)
    })
    .await;
    assert!(samples["samples"][2]["cpu_percent"].as_f64().is_some(), "{samples}");
    let ready = stack
        .http
        .get(format!("http://127.0.0.1:{colport}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["docker"]["ok"], false, "{body}");
    let machines = stack.get_json(&format!("{base}/api/v1/machines")).await;
    let containers = machines["machines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "container")
        .count();
    assert_eq!(containers, 0, "{machines}");
    let warnings = collector
        .log_text()
        .lines()
        .filter(|l| l.contains("WARN") && l.to_lowercase().contains("docker"))
        .count();
    assert_eq!(
        warnings,
        1,
        "one warning about Docker, not one per tick:\n{}",
        collector.log_text()
    );
    assert!(collector.is_running());
    assert!(collector.terminate(Duration::from_secs(20)).success());
    stack.db.drop_db().await;
}
