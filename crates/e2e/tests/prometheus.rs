//! The server room in a real Prometheus: the pipeline runs with a busy container and
//! `API_READ_TOKEN` set; Debian's Prometheus, started on loopback with the shipped
//! `docker/prometheus/` files (targets and scrape interval pointed at this test), scrapes
//! `/metrics/machines` and the three binaries, and a PromQL query returns the container's CPU.
//! `promtool` accepts the shipped configuration, rules and the exposition; every metric name
//! the shipped Grafana dashboard uses exists in the expositions.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use e2e::services::{program, promtool_check, workspace_root};
use e2e::{free_port, wait_until, Proc, Stack};
use serde_json::Value;

const READ_TOKEN: &str = "rd-prometheus-test";

/// Runs promtool with `args`; panics with its output when it refuses.
fn promtool(args: &[&str]) {
    let out = std::process::Command::new(program("promtool"))
        .args(args)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool {} failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The shipped configuration in `dir`, its targets replaced by this test's ports.
fn configure(dir: &Path, api: u16, consumer: u16, collector: u16) {
    let shipped = workspace_root().join("docker/prometheus");
    let config = std::fs::read_to_string(shipped.join("prometheus.yml")).unwrap();
    let mut local = config.replace("scrape_interval: 5s", "scrape_interval: 1s");
    for (from, to) in [
        ("api-backend:8004", api),
        ("consumer:8000", consumer),
        ("host.docker.internal:8001", collector),
    ] {
        assert!(local.contains(from), "prometheus.yml has no target {from}");
        local = local.replace(from, &format!("127.0.0.1:{to}"));
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("prometheus.yml"), local).unwrap();
    std::fs::copy(shipped.join("alerts.yml"), dir.join("alerts.yml")).unwrap();
    std::fs::write(dir.join("read-token"), READ_TOKEN).unwrap();
}

/// The result vector of an instant PromQL query; `None` while Prometheus cannot answer.
async fn promql(http: &reqwest::Client, url: &str, query: &str) -> Option<Vec<Value>> {
    let v: Value = http
        .get(reqwest::Url::parse_with_params(url, [("query", query)]).ok()?)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    v["data"]["result"].as_array().cloned()
}

/// Metric names of an exposition: of its sample lines and its families (`# TYPE`: a family
/// may have no samples yet, e.g. temperatures on a machine without sensors).
fn names(exposition: &str) -> BTreeSet<String> {
    let samples = exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next());
    let families = exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next());
    samples.chain(families).map(str::to_owned).collect()
}

/// The identifiers in `text` that look like our metric names.
fn metric_names_in(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| {
            ["srmon_", "api_", "consumer_", "collector_"]
                .iter()
                .any(|p| w.starts_with(p))
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_server_room_with_the_shipped_files() {
    let stack = Stack::new("prometheus", 1).await;
    let pipeline = stack
        .busy_pipeline("e2e-prom", &[("API_READ_TOKEN", READ_TOKEN.to_owned())])
        .await;
    let (api, cport, colport, pport) = (
        pipeline.api,
        pipeline.consumer_port,
        pipeline.collector_port,
        free_port(),
    );
    let name = &pipeline.container_name;

    let dir = stack.log_dir.join("prometheus");
    configure(&dir, api, cport, colport);
    promtool(&["check", "config", dir.join("prometheus.yml").to_str().unwrap()]);
    let rules = workspace_root().join("docker/prometheus/alerts.yml");
    promtool(&["check", "rules", rules.to_str().unwrap()]);
    let prometheus = program("prometheus");
    let _prometheus = Proc::spawn(
        "prometheus",
        prometheus.to_str().unwrap(),
        &[
            &format!("--config.file={}", dir.join("prometheus.yml").display()),
            &format!("--storage.tsdb.path={}", dir.join("data").display()),
            &format!("--web.listen-address=127.0.0.1:{pport}"),
        ],
        &[],
        &stack.log_dir,
    );

    // the container's CPU through PromQL, scraped from /metrics/machines with the token
    let query = format!("srmon_container_cpu_percent{{container=\"{name}\",host=\"e2e-prom\"}}");
    let url = format!("http://127.0.0.1:{pport}/api/v1/query");
    let http = reqwest::Client::new();
    let cpu = wait_until(
        Duration::from_secs(60),
        "Prometheus to have the container's CPU",
        || async {
            let value = promql(&http, &url, &query).await?.first()?["value"][1]
                .as_str()?
                .parse::<f64>()
                .ok()?;
            (value > 0.0).then_some(value)
        },
    )
    .await;
    assert!(cpu > 10.0, "a container burning a core at {cpu} %");
    // every shipped job is scraped (the token works; the binaries' targets are right)
    let up = wait_until(Duration::from_secs(30), "every job up", || async {
        let jobs: BTreeSet<String> = promql(&http, &url, "up")
            .await?
            .iter()
            .filter(|r| r["value"][1] == "1")
            .filter_map(|r| r["metric"]["job"].as_str().map(str::to_owned))
            .collect();
        (jobs.len() == 4).then_some(jobs)
    })
    .await;
    assert!(up.contains("srmon-machines"), "{up:?}");

    // the exposition passes promtool; the dashboard names only metrics that exist
    let machines = http
        .get(format!("http://127.0.0.1:{api}/metrics/machines"))
        .bearer_auth(READ_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    promtool_check("/metrics/machines", &machines);
    let mut exposed = names(&machines);
    // the storage sizes come with the first storage sweep (5 s after start)
    let backend = wait_until(Duration::from_secs(30), "the first storage sweep's sizes", || async {
        let text = stack.metrics_text(api).await;
        text.contains("api_storage_bytes{").then_some(text)
    })
    .await;
    exposed.extend(names(&backend));
    for port in [cport, colport] {
        exposed.extend(names(&stack.metrics_text(port).await));
    }
    let dashboard = std::fs::read_to_string(workspace_root().join("docker/grafana/dashboards/srmon.json")).unwrap();
    let _: Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    let used = metric_names_in(&dashboard);
    assert!(used.len() > 30, "{used:?}");
    let missing: Vec<&String> = used.iter().filter(|n| !exposed.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "the dashboard uses metrics nobody exposes: {missing:?}"
    );
    stack.db.drop_db().await;
}
