//! The dashboard in a real headless Chromium (Debian's, driven by playwright-core from
//! `web/tests/browser.mjs`) against the real pipeline: the fleet view lists the host's busy
//! container with a CPU figure and shows the live connection; the host's machine page charts it
//! live from raw samples and a day from the minute tier; the alerts view shows the
//! container's alert firing without a reload and, after a backend restart under the open page,
//! an alert raised before the page was back (`Last-Event-ID`); a rule added and edited in the
//! rules view (admin token asked for, validation shown) is enforced, and a silence made there is
//! listed and expired; with API_READ_TOKEN set the page
//! asks for the token, refuses a wrong one, and keeps the right one only in an HttpOnly cookie;
//! the API description page shows the generated description's operations.
//! The screenshots are kept under `target/debug/e2e-artifacts/`.

use std::time::Duration;

use e2e::services::{bin_dir, program, workspace_root};
use e2e::{wait_until, Stack};

/// Where a screenshot is kept (`target/debug/e2e-artifacts/NAME`).
fn artifact(name: &str) -> std::path::PathBuf {
    let dir = bin_dir().join("e2e-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The page was drawn and saved (a blank page is a few KB).
fn assert_screenshot(shot: &std::path::Path) {
    let size = std::fs::metadata(shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "screenshot {}: {size} bytes", shot.display());
}

/// Runs a check of `web/tests/browser.mjs`; panics with its output when it fails.
fn browser(check: &str, url: &str, machine: &str, screenshot: &std::path::Path) -> String {
    let out = std::process::Command::new(program("node"))
        .current_dir(workspace_root().join("web"))
        .args(["tests/browser.mjs", check, url, machine, screenshot.to_str().unwrap()])
        .output()
        .expect("run node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "browser check {check} failed:\n{text}");
    assert_screenshot(screenshot);
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_view_lists_a_busy_container_and_the_machine_page_charts_its_host() {
    let stack = Stack::new("dashboard", 1).await;
    let pipeline = stack.busy_pipeline("e2e-dash", &[]).await;
    let (api, burn, name) = (pipeline.api, &pipeline.container, &pipeline.container_name);
    let base = format!("http://127.0.0.1:{api}");
    // the pipeline delivers the container's CPU first (the page is checked against it next)
    wait_until(
        Duration::from_secs(30),
        "the container's CPU in /api/v1/fleet",
        || async {
            let fleet = stack.try_get_json(&format!("{base}/api/v1/fleet")).await?;
            let found = fleet["hosts"]
                .as_array()?
                .iter()
                .flat_map(|h| h["containers"].as_array().into_iter().flatten())
                .any(|c| c["id"] == burn.id.as_str() && c["values"]["cpu_percent"].as_f64().is_some());
            found.then_some(())
        },
    )
    .await;

    // a low limit, so the busy container's row gets an alert mark however loaded the machine is
    let rule = serde_json::json!({"metric": "container.cpu_percent", "direction": "above", "raise": 5, "clear": 2,
        "for_secs": 0, "severity": "critical", "scope": {"kind": "container_name", "pattern": name}});
    let (status, body) = stack
        .send_json(reqwest::Method::POST, &format!("{base}/api/v1/thresholds/rules"), &rule)
        .await;
    assert!(status == 200 || status == 201, "create rule: {status} {body}");

    let shot = artifact("fleet.png");
    let seen = browser("fleet", &format!("{base}/"), &burn.id, &shot);
    let marked = seen
        .lines()
        .find_map(|l| l.strip_prefix("marked: ")?.strip_suffix(" firing")?.parse::<u32>().ok());
    assert!(marked.is_some_and(|n| n >= 1), "the container's row is marked:\n{seen}");
    assert!(seen.contains(name.as_str()), "the row names the container:\n{seen}");
    assert!(seen.contains("status: up"), "{seen}");
    let cpu: f64 = seen
        .lines()
        .find_map(|l| l.strip_prefix("cpu: ")?.trim_end_matches(" %").parse().ok())
        .unwrap_or_else(|| panic!("no CPU figure:\n{seen}"));
    assert!(cpu > 10.0, "a container burning a core shows {cpu} %");

    // the host's page: live raw samples, then a day from the minute tier
    let shot = artifact("machine.png");
    let seen = browser("machine", &format!("{base}/"), &pipeline.host_id, &shot);
    for step in [
        "15m: raw tier",
        "15m: live",
        "24h: minute tier",
        "custom refused: from must be before to",
        "custom: raw tier",
    ] {
        assert!(seen.contains(step), "{step}:\n{seen}");
    }
    drop(pipeline);
    stack.db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_read_token_the_page_asks_for_it_and_refuses_a_wrong_one() {
    let stack = Stack::new("dashboard-login", 1).await;
    let api = e2e::free_port();
    let _backend = stack
        .start_backend_with(
            api,
            &[
                ("API_READ_TOKEN", "rd-dashboard".to_owned()),
                ("API_ADMIN_TOKEN", "ad-dashboard".to_owned()),
            ],
        )
        .await;
    let shot = artifact("login.png");
    let seen = browser("login", &format!("http://127.0.0.1:{api}/"), "rd-dashboard", &shot);
    for step in [
        "login: asked",
        "wrong token: Refused",
        "right token: fleet live",
        "token: only in the HttpOnly cookie",
    ] {
        assert!(seen.contains(step), "{step}:\n{seen}");
    }
    // the API description page needs no token (it holds no data)
    let shot = artifact("docs.png");
    let seen = browser("docs", &format!("http://127.0.0.1:{api}/"), "/api/v1/docs", &shot);
    assert!(seen.contains("title: srmon api-backend"), "{seen}");
    let operations: usize = seen
        .lines()
        .find_map(|l| l.strip_prefix("operations: ")?.parse().ok())
        .unwrap_or_else(|| panic!("no operations:\n{seen}"));
    assert!(operations >= 39, "{operations} operations shown:\n{seen}");
    stack.db.drop_db().await;
}

/// Reads `node`'s output lines until one is `want`; panics with what came instead.
async fn expect_line(lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>, want: &str) {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(90), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let hit = line == want;
            seen.push(line);
            if hit {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(found, Ok(true)),
        "the page never said {want:?}; it said {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_appears_live_and_one_raised_during_a_backend_restart_is_not_missed() {
    use tokio::io::AsyncBufReadExt;
    let stack = Stack::new("dashboard-alerts", 1).await;
    let mut pipeline = stack.busy_pipeline("e2e-dash-alerts", &[]).await;
    let base = format!("http://127.0.0.1:{}", pipeline.api);
    // a low limit, so the busy container fires however loaded the machine is
    let rule = serde_json::json!({"metric": "container.cpu_percent", "direction": "above", "raise": 5, "clear": 2,
        "for_secs": 0, "severity": "critical", "scope": {"kind": "container_name", "pattern": pipeline.container_name}});
    let (status, body) = stack
        .send_json(reqwest::Method::POST, &format!("{base}/api/v1/thresholds/rules"), &rule)
        .await;
    assert!(status == 200 || status == 201, "create rule: {status} {body}");

    let shot = artifact("alerts.png");
    let mut node = tokio::process::Command::new(program("node"))
        .current_dir(workspace_root().join("web"))
        .args([
            "tests/browser.mjs",
            "alerts",
            &format!("{base}/#/alerts"),
            &pipeline.container_name,
            shot.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run node");
    let mut lines = tokio::io::BufReader::new(node.stdout.take().unwrap()).lines();
    expect_line(&mut lines, "fired").await;

    // the backend restarts under the open page; an alert is raised before the page is back
    pipeline.backend.terminate(Duration::from_secs(30));
    pipeline.backend = stack.start_backend(pipeline.api).await;
    let now = common::timefmt::format(&chrono::Utc::now());
    let record = serde_json::json!([{"schema": 1, "record_id": "meanwhile-1", "host_id": "e2e-meanwhile",
        "host_name": "e2e-meanwhile", "sampled_at": now, "interval_ms": 1000, "host": {"cpu_percent": 99.0}}]);
    let (status, body) = stack
        .send_json(reqwest::Method::POST, &format!("{base}/api/v1/ingest"), &record)
        .await;
    assert_eq!(status, 200, "ingest: {body}");
    expect_line(&mut lines, "meanwhile").await;

    let out = node.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "browser check alerts failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_screenshot(&shot);
    stack.db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_changed_in_the_rules_view_is_enforced() {
    let stack = Stack::new("dashboard-rules", 1).await;
    let api = e2e::free_port();
    let _backend = stack
        .start_backend_with(api, &[("API_ADMIN_TOKEN", "ad-rules".to_owned())])
        .await;
    let base = format!("http://127.0.0.1:{api}");
    let shot = artifact("rules.png");
    let seen = browser("rules", &format!("{base}/#/rules"), "ad-rules", &shot);
    assert!(seen.contains("admin token: asked"), "{seen}");
    assert!(
        seen.contains("validation at clear: the clear value 200 is above the raise value 30"),
        "{seen}"
    );
    assert!(seen.contains("saved"), "{seen}");
    // the silence made in the view was the API's, and expiring it there removed it
    let silenced = seen.lines().find(|l| l.starts_with("silenced: ")).unwrap_or_default();
    assert!(
        silenced.contains("e2e-rule-host") && silenced.contains("active") && silenced.contains("maintenance"),
        "{seen}"
    );
    assert!(seen.contains("silence expired"), "{seen}");
    let id: u64 = seen
        .lines()
        .find_map(|l| l.strip_prefix("silence id: ")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no silence id:\n{seen}"));
    let silences = stack
        .try_get_json(&format!("{base}/api/v1/silences"))
        .await
        .expect("silences");
    let ids: Vec<u64> = silences["silences"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|s| s["id"].as_u64())
        .collect();
    assert!(!ids.contains(&id), "silence {id} still listed: {silences}");
    // 27 % is over the edited limit (25) and under the one first saved (30) and the default (85)
    let now = common::timefmt::format(&chrono::Utc::now());
    let record = serde_json::json!([{"schema": 1, "record_id": "rule-1", "host_id": "e2e-rule-host",
        "host_name": "e2e-rule-host", "sampled_at": now, "interval_ms": 1000, "host": {"cpu_percent": 27.0}}]);
    let (status, body) = stack
        .send_json(reqwest::Method::POST, &format!("{base}/api/v1/ingest"), &record)
        .await;
    assert_eq!(status, 200, "ingest: {body}");
    let active = wait_until(Duration::from_secs(10), "the alert of the edited rule", || async {
        let v = stack.try_get_json(&format!("{base}/api/v1/alerts/active")).await?;
        v["alerts"]
            .as_array()?
            .iter()
            .find(|a| a["machine_id"] == "e2e-rule-host" && a["state"] == "firing")
            .cloned()
    })
    .await;
    assert_eq!(active["threshold"], 25.0, "{active}");
    stack.db.drop_db().await;
}
