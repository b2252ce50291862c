//! A missing or malformed required setting stops each binary at start with one line naming it
//! and a non-zero exit code (CONTRACT §1).

use std::process::Command;

fn run(bin: &str, args: &[&str], envs: &[(&str, &str)]) -> (i32, String) {
    let dir = e2e::services::bin_dir();
    let out = Command::new(dir.join(bin))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_one_line_naming(bin: &str, args: &[&str], envs: &[(&str, &str)], name: &str) {
    let (code, stderr) = run(bin, args, envs);
    assert_ne!(code, 0, "{bin} should fail without/with bad {name}; stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{bin}: expected one line on stderr, got: {stderr:?}");
    assert!(
        lines[0].contains(name),
        "{bin}: the line should name {name}: {:?}",
        lines[0]
    );
}

#[test]
fn collector_needs_bootstrap_server() {
    assert_one_line_naming("collector", &[], &[("DOCKER_HOST", "none")], "BOOTSTRAP_SERVER");
    assert_one_line_naming(
        "collector",
        &["simulate", "--hosts", "1", "--containers", "0", "--interval", "1s"],
        &[],
        "BOOTSTRAP_SERVER",
    );
}

#[test]
fn consumer_needs_bootstrap_server_and_backend_url() {
    assert_one_line_naming(
        "consumer",
        &[],
        &[("API_BASE_URL", "http://127.0.0.1:8004")],
        "BOOTSTRAP_SERVER",
    );
    assert_one_line_naming(
        "consumer",
        &[],
        &[("BOOTSTRAP_SERVER", "127.0.0.1:9092")],
        "API_BASE_URL",
    );
}

#[test]
fn api_backend_needs_database_url() {
    assert_one_line_naming("api-backend", &[], &[], "DATABASE_URL");
}

#[test]
fn malformed_settings_are_named_in_one_line() {
    assert_one_line_naming(
        "collector",
        &[],
        &[
            ("BOOTSTRAP_SERVER", "127.0.0.1:9092"),
            ("DOCKER_HOST", "none"),
            ("COLLECT_INTERVAL", "banana"),
        ],
        "COLLECT_INTERVAL",
    );
    assert_one_line_naming(
        "consumer",
        &[],
        &[
            ("BOOTSTRAP_SERVER", "127.0.0.1:9092"),
            ("API_BASE_URL", "http://x"),
            ("BATCH_MAX_WAIT", "soon"),
        ],
        "BATCH_MAX_WAIT",
    );
    assert_one_line_naming(
        "api-backend",
        &[],
        &[("DATABASE_URL", "postgres://nope")],
        "DATABASE_URL",
    );
}

#[test]
fn help_lists_every_setting_with_its_environment_twin() {
    let dir = e2e::services::bin_dir();
    for (bin, vars) in [
        (
            "collector",
            &[
                "BOOTSTRAP_SERVER",
                "KAFKA_TOPIC_NAME",
                "DOCKER_HOST",
                "HOST_ID",
                "HOST_NAME",
                "COLLECT_INTERVAL",
            ][..],
        ),
        (
            "consumer",
            &[
                "BOOTSTRAP_SERVER",
                "KAFKA_TOPIC_NAME",
                "KAFKA_CONSUMER_GROUP_ID",
                "API_BASE_URL",
                "API_INGEST_TOKEN",
            ][..],
        ),
        (
            "api-backend",
            &[
                "DATABASE_URL",
                "CORS_ALLOWED_ORIGINS",
                "API_INGEST_TOKEN",
                "API_READ_TOKEN",
                "API_ADMIN_TOKEN",
            ][..],
        ),
    ] {
        let out = Command::new(dir.join(bin)).arg("--help").env_clear().output().unwrap();
        assert!(out.status.success(), "{bin} --help");
        let help = String::from_utf8_lossy(&out.stdout);
        for v in vars {
            assert!(
                help.contains(&format!("env: {v}")) || help.contains(&format!("[env: {v}")),
                "{bin} --help lacks {v}:\n{help}"
            );
        }
    }
}
