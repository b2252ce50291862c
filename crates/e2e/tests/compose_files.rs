//! The deployment files users run: every compose file renders under the real
//! docker-compose (`config`, no engine needed) with `.env.example`, and names the expected
//! services, images and host mounts; each Dockerfile builds its own package; `.env.example`
//! documents every CONTRACT §1 variable and every variable the compose files use.
//!
//! Needs `SRMON_DOCKER_COMPOSE` (the docker-compose binary), which `scripts/services.sh up`
//! writes to its env file; run through `scripts/test.sh`.

use std::collections::BTreeSet;
use std::process::Command;

use e2e::services::workspace_root;

/// The CONTRACT §1 variables `.env.example` must document.
const CONTRACT_VARIABLES: &[&str] = &[
    "BOOTSTRAP_SERVER",
    "KAFKA_TOPIC_NAME",
    "KAFKA_CONSUMER_GROUP_ID",
    "API_BASE_URL",
    "DATABASE_URL",
    "CORS_ALLOWED_ORIGINS",
    "DOCKER_HOST",
    "HOST_ID",
    "HOST_NAME",
    "COLLECT_INTERVAL",
    "TZ",
    "API_INGEST_TOKEN",
    "API_ADMIN_TOKEN",
    "API_READ_TOKEN",
    "ALERT_WEBHOOK_URL",
    "ALERT_COOLDOWN_SEC",
    "RETENTION_RAW",
    "RETENTION_MINUTE",
    "RETENTION_HOUR",
    "STORAGE_MAX_BYTES",
    "STORAGE_COMPACT_AFTER",
];

const COMPOSE_FILES: &[&str] = &[
    "docker-compose.collector.yml",
    "docker-compose.consumer.yml",
    "docker-compose.backend.yml",
    "docker-compose.yml",
];

fn read(rel: &str) -> String {
    let path = workspace_root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn docker_compose() -> String {
    match std::env::var("SRMON_DOCKER_COMPOSE") {
        Ok(path) if !path.is_empty() => path,
        _ => panic!(
            "SRMON_DOCKER_COMPOSE is not set: run the tests through scripts/test.sh (scripts/services.sh up \
             installs docker-compose and exports SRMON_DOCKER_COMPOSE in ~/.cache/srmon/services/env), \
             or set SRMON_DOCKER_COMPOSE=/usr/bin/docker-compose"
        ),
    }
}

/// Runs `docker-compose --env-file .env.example -f FILE ARGS...` from the workspace root
/// with a clean environment (so a variable exported in the caller's shell, which would win
/// over `.env.example`, cannot change the result) and returns its stdout.
fn compose(file: &str, args: &[&str]) -> String {
    let bin = docker_compose();
    let mut cmd = Command::new(&bin);
    cmd.current_dir(workspace_root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()))
        .env("HOME", std::env::temp_dir())
        .env("LANG", "C.UTF-8")
        .args(["--env-file", ".env.example", "-f", file])
        .args(args);
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    assert!(
        out.status.success(),
        "`{bin} --env-file .env.example -f {file} {}` failed ({}):\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn services(file: &str) -> BTreeSet<String> {
    compose(file, &["config", "--services"])
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn assert_contains(haystack: &str, needle: &str, what: &str) {
    assert!(
        haystack.contains(needle),
        "{what}: expected to find {needle:?} in:\n{haystack}"
    );
}

/// The collector must see the host: read-only host mounts, host network and pid namespaces.
fn assert_collector_sees_host(rendered: &str, file: &str) {
    for needle in [
        "/proc:/host/proc:ro",
        "/sys:/host/sys:ro",
        "/:/hostfs:ro",
        "/var/run/docker.sock:/var/run/docker.sock",
        "network_mode: host",
        "pid: host",
        "PROC_ROOT: /host/proc",
        "SYS_ROOT: /host/sys",
        "HOST_ROOTFS: /hostfs",
        "DOCKER_HOST: unix:///var/run/docker.sock",
        "COLLECT_INTERVAL: 1s",
    ] {
        assert_contains(rendered, needle, file);
    }
}

/// srmon's own services run hardened: read-only root filesystem (a tmpfs /tmp), every
/// capability dropped, no privilege gain; `services` of them in the rendered file.
fn assert_hardened(rendered: &str, file: &str, services: usize) {
    for needle in ["read_only: true", "no-new-privileges:true", "- ALL"] {
        assert!(
            rendered.matches(needle).count() >= services,
            "{file}: {needle:?} for each of its {services} srmon services:\n{rendered}"
        );
    }
}

#[test]
fn collector_compose_renders() {
    let file = "docker-compose.collector.yml";
    assert_eq!(services(file), set(&["collector", "docker-socket-proxy"]));
    let out = compose(file, &["config"]);
    assert_contains(&out, "image: srmon/collector:latest", file);
    assert_contains(&out, "dockerfile: docker/collector.Dockerfile", file);
    assert_contains(&out, "BOOTSTRAP_SERVER: kafka:9092", file);
    assert_contains(&out, "KAFKA_TOPIC_NAME: server-metrics", file);
    assert_collector_sees_host(&out, file);
    assert_hardened(&out, file, 1);
    // the read-only socket proxy, as an option
    assert_contains(&out, "- socket-proxy", file);
    assert_contains(&out, "/var/run/docker.sock:/var/run/docker.sock:ro", file);
    assert_contains(&out, "POST: '0'", file);
}

#[test]
fn consumer_compose_renders() {
    let file = "docker-compose.consumer.yml";
    assert_eq!(services(file), set(&["consumer"]));
    let out = compose(file, &["config"]);
    assert_contains(&out, "image: srmon/consumer:latest", file);
    assert_contains(&out, "dockerfile: docker/consumer.Dockerfile", file);
    assert_contains(&out, "BOOTSTRAP_SERVER: kafka:9092", file);
    assert_contains(&out, "API_BASE_URL: http://api-backend:8004", file);
    assert_contains(&out, "KAFKA_CONSUMER_GROUP_ID: metrics-consumer", file);
    assert_contains(&out, "published: 8000", file);
    // ingest wants a token by default (from .env.example here)
    assert_contains(&out, "API_INGEST_TOKEN: change-me-ingest", file);
    assert_hardened(&out, file, 1);
}

#[test]
fn backend_compose_renders() {
    let file = "docker-compose.backend.yml";
    assert_eq!(services(file), set(&["api-backend", "mysql"]));
    let out = compose(file, &["config"]);
    assert_contains(&out, "image: srmon/api-backend:latest", file);
    assert_contains(&out, "dockerfile: docker/api-backend.Dockerfile", file);
    assert_contains(&out, "image: mysql:8.4", file);
    assert_contains(&out, "condition: service_healthy", file);
    assert_contains(&out, "mysql-data:/var/lib/mysql", file);
    assert_contains(&out, "DATABASE_URL: mysql://srmon:change-me@mysql:3306/srmon", file);
    assert_contains(&out, "MYSQL_USER: srmon", file);
    assert_contains(&out, "MYSQL_PASSWORD: change-me", file);
    assert_contains(&out, "ALERT_COOLDOWN_SEC: '300'", file);
    assert_contains(&out, "published: 8004", file);
    assert_contains(&out, "healthcheck:", file);
    assert_contains(&out, "API_INGEST_TOKEN: change-me-ingest", file);
    assert_hardened(&out, file, 1);
}

#[test]
fn all_in_one_compose_renders() {
    let file = "docker-compose.yml";
    assert_eq!(
        services(file),
        set(&[
            "api-backend",
            "collector",
            "consumer",
            "grafana",
            "kafka",
            "kafka-init",
            "mysql",
            "prometheus",
            "tls-proxy"
        ])
    );
    let out = compose(file, &["config"]);
    // Prometheus and Grafana only with `--profile observability`, on the shipped files
    assert_eq!(
        out.matches("- observability").count(),
        2,
        "{file}: two services in the profile"
    );
    assert_contains(&out, "docker/prometheus:/etc/srmon-prometheus:ro", file);
    assert_contains(&out, "docker/grafana/provisioning:/etc/grafana/provisioning:ro", file);
    assert_contains(&out, "docker/grafana/dashboards:/var/lib/grafana/dashboards:ro", file);
    assert_contains(&out, "host.docker.internal:host-gateway", file);
    for image in [
        "image: apache/kafka:3.9.0",
        "image: mysql:8.4",
        "image: srmon/api-backend:latest",
        "image: srmon/consumer:latest",
        "image: srmon/collector:latest",
    ] {
        assert_contains(&out, image, file);
    }
    // Kafka advertises an address the compose network and the host-network collector can use.
    assert_contains(
        &out,
        "KAFKA_ADVERTISED_LISTENERS: PLAINTEXT://kafka:9092,EXTERNAL://127.0.0.1:9094",
        file,
    );
    assert_contains(&out, "KAFKA_PROCESS_ROLES: broker,controller", file);
    assert_contains(&out, "127.0.0.1:9094:9094", file);
    // docker-compose folds long lines when it renders: compare with whitespace squashed.
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_contains(&flat, "--topic server-metrics --partitions 3", file);
    assert_contains(&flat, "--topic server-metrics.dlq --partitions 1", file);
    assert_contains(&out, "BOOTSTRAP_SERVER: kafka:9092", file);
    assert_contains(&out, "BOOTSTRAP_SERVER: 127.0.0.1:9094", file);
    assert_contains(&out, "API_BASE_URL: http://api-backend:8004", file);
    assert_contains(&out, "DATABASE_URL: mysql://srmon:change-me@mysql:3306/srmon", file);
    assert_contains(&out, "condition: service_completed_successfully", file);
    assert_collector_sees_host(&out, file);
    assert_hardened(&out, file, 3);
    assert_contains(&out, "API_INGEST_TOKEN: change-me-ingest", file);
    // HTTPS in front, as an option
    assert_contains(&out, "- tls", file);
    assert_contains(&out, "docker/tls/Caddyfile:/etc/caddy/Caddyfile:ro", file);
}

#[test]
fn dockerfiles_build_their_own_package() {
    for (krate, port) in [("collector", 8001), ("consumer", 8000), ("api-backend", 8004)] {
        let rel = format!("docker/{krate}.Dockerfile");
        let text = read(&rel);
        assert_contains(&text, "FROM rust:1-bookworm AS builder", &rel);
        let build = format!("cargo build --release --locked -p {krate}");
        let after = text.find(&build).map(|i| &text[i + build.len()..]);
        assert!(
            after.is_some_and(|rest| rest.starts_with([' ', '\n', '\\'])),
            "{rel}: expected `{build}` (and no other package)"
        );
        assert_contains(&text, "FROM debian:bookworm-slim", &rel);
        assert_contains(&text, "ca-certificates", &rel);
        assert_contains(&text, &format!("ENTRYPOINT [\"/usr/local/bin/{krate}\"]"), &rel);
        assert_contains(&text, &format!("EXPOSE {port}"), &rel);
        // only the builder compiles; the runtime image gets one binary
        assert_eq!(text.matches("cargo build").count(), 1, "{rel}: one cargo build");
        for other in ["collector", "consumer", "api-backend"].iter().filter(|o| **o != krate) {
            assert!(!text.contains(&format!("-p {other}")), "{rel} builds {other}");
        }
    }
    for krate in ["consumer", "api-backend"] {
        let rel = format!("docker/{krate}.Dockerfile");
        assert_contains(&read(&rel), "USER 10001", &rel);
    }
    let collector = read("docker/collector.Dockerfile");
    for mount in [
        "/proc:/host/proc:ro",
        "/sys:/host/sys:ro",
        "/:/hostfs:ro",
        "/var/run/docker.sock",
        "--pid host",
        "--network host",
        "PROC_ROOT=/host/proc",
        "SYS_ROOT=/host/sys",
        "HOST_ROOTFS=/hostfs",
    ] {
        assert_contains(
            &collector,
            mount,
            "docker/collector.Dockerfile documents the host mounts",
        );
    }
    let ignore = read(".dockerignore");
    assert!(
        ignore.lines().any(|l| l.trim() == "target/" || l.trim() == "target"),
        ".dockerignore must exclude target/"
    );
    assert!(
        ignore.lines().any(|l| l.trim().starts_with(".git")),
        ".dockerignore must exclude .git"
    );
}

/// Names `.env.example` documents: `NAME=` lines, set or commented out (`# NAME=`).
fn env_example_names() -> BTreeSet<String> {
    read(".env.example")
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix('#').map(str::trim_start).unwrap_or(line);
            let (name, _) = line.split_once('=')?;
            (!name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .then(|| name.to_string())
        })
        .collect()
}

#[test]
fn env_example_documents_every_contract_variable() {
    let names = env_example_names();
    let missing: Vec<_> = CONTRACT_VARIABLES.iter().filter(|v| !names.contains(**v)).collect();
    assert!(missing.is_empty(), ".env.example lacks a NAME= line for {missing:?}");
    // Each documented name has a comment line just above its block.
    let text = read(".env.example");
    for v in CONTRACT_VARIABLES {
        let idx = text
            .lines()
            .position(|l| l.trim_start_matches(['#', ' ']).starts_with(&format!("{v}=")))
            .unwrap();
        let above = text.lines().take(idx).last().unwrap_or("");
        assert!(
            above.trim_start().starts_with('#'),
            ".env.example: {v} has no comment above it"
        );
    }
}

/// Every variable a compose file interpolates (`${NAME...}`) or passes through (`- NAME`)
/// is documented in `.env.example`.
#[test]
fn env_example_covers_every_compose_variable() {
    let names = env_example_names();
    for file in COMPOSE_FILES {
        let text = read(file);
        let mut used = BTreeSet::new();
        for (i, _) in text.match_indices("${") {
            let rest = &text[i + 2..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            used.insert(rest[..end].to_string());
        }
        for line in text.lines() {
            if let Some(item) = line.trim().strip_prefix("- ") {
                if !item.is_empty()
                    && item
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                {
                    used.insert(item.to_string());
                }
            }
        }
        let missing: Vec<_> = used.iter().filter(|v| !names.contains(*v)).collect();
        assert!(
            missing.is_empty(),
            "{file} uses {missing:?}, which .env.example does not document"
        );
    }
}

#[test]
fn scripts_parse_and_ci_runs_the_test_script() {
    for script in [
        "scripts/services.sh",
        "scripts/test.sh",
        "scripts/run-local.sh",
        ".ci/run",
    ] {
        let out = Command::new("bash")
            .arg("-n")
            .arg(workspace_root().join(script))
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "bash -n {script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let ci = read(".ci/run");
    assert_contains(&ci, "set -euo pipefail", ".ci/run");
    assert_contains(&ci, "scripts/test.sh", ".ci/run");
}

/// Without an ingest token the compose files refuse to start, naming the setting.
#[test]
fn compose_files_refuse_to_run_without_an_ingest_token() {
    let without: String = read(".env.example")
        .lines()
        .filter(|l| !l.starts_with("API_INGEST_TOKEN="))
        .map(|l| format!("{l}\n"))
        .collect();
    let env_file = std::env::temp_dir().join(format!("srmon-env-{}", std::process::id()));
    std::fs::write(&env_file, without).unwrap();
    for file in [
        "docker-compose.yml",
        "docker-compose.backend.yml",
        "docker-compose.consumer.yml",
    ] {
        let out = Command::new(docker_compose())
            .current_dir(workspace_root())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()))
            .env("HOME", std::env::temp_dir())
            .arg("--env-file")
            .arg(&env_file)
            .args(["-f", file, "config"])
            .output()
            .expect("run docker-compose");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{file} renders without API_INGEST_TOKEN");
        assert!(
            stderr.contains("API_INGEST_TOKEN"),
            "{file}: the error names the setting: {stderr}"
        );
    }
    let _ = std::fs::remove_file(env_file);
}
