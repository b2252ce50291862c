//! schemathesis (PyPI; `scripts/services.sh up` installs it and exports `SRMON_SCHEMATHESIS`)
//! against the OpenAPI description a running backend serves, with tokens off and on: requests
//! generated from the description, valid and not, get no 5xx, and every answer's status, content
//! type, headers and body match what the description says. Bounded (`SRMON_SCHEMATHESIS_EXAMPLES`
//! examples per operation, 5 by default; fixed seed; 1.5 s per request, which the live streams
//! reach after their headers) so it fits the test command.
//! `/ws/metrics` and `/api/v1/metrics/ws` are left out: a WebSocket upgrade is not something it can drive (the WebSocket
//! has its own tests).

use std::process::Command;

use e2e::{free_port, Stack};

const TOKEN: &str = "schemathesis-token";

fn schemathesis() -> String {
    std::env::var("SRMON_SCHEMATHESIS").unwrap_or_else(|_| {
        panic!(
            "SRMON_SCHEMATHESIS is not set: run through scripts/test.sh (scripts/services.sh up installs schemathesis)"
        )
    })
}

/// The checks that gate: no 5xx, and every answer as described. `SRMON_SCHEMATHESIS_CHECKS`
/// (e.g. `all`) runs others too, such as whether schema-valid requests are accepted.
fn checks() -> String {
    std::env::var("SRMON_SCHEMATHESIS_CHECKS").unwrap_or_else(|_| {
        "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance".into()
    })
}

/// Runs schemathesis against the backend on `api`, with `headers`; panics with its report when
/// it finds anything.
fn run(api: u16, headers: &[String], label: &str) {
    let examples = std::env::var("SRMON_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "5".into());
    let mut cmd = Command::new(schemathesis());
    cmd.arg("run")
        .arg(format!("http://127.0.0.1:{api}/api/v1/openapi.json"))
        .args(["--max-examples", &examples, "--seed", "20261203", "--workers", "2"])
        // the live streams never end by themselves: their status and headers come at once,
        // then each would hold a worker until this timeout
        .args(["--request-timeout", "1.5"])
        .args(["--checks", &checks()])
        .args(["--exclude-path", "/ws/metrics", "--exclude-path", "/api/v1/metrics/ws"])
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_HOOKS", "");
    for h in headers {
        cmd.args(["--header", h]);
    }
    let out = cmd.output().expect("run schemathesis");
    let report = String::from_utf8_lossy(&out.stdout);
    let summary: Vec<&str> = report.lines().skip_while(|l| !l.contains("SUMMARY")).collect();
    eprintln!("schemathesis ({label}):\n{}", summary.join("\n"));
    assert!(
        out.status.success(),
        "schemathesis found problems ({label}):\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_as_described_without_tokens() {
    let stack = Stack::new("schemaopen", 1).await;
    let api = free_port();
    let backend = stack.start_backend(api).await;
    stack.ingest(api, &[e2e::records::host_record("schema-host")]).await;
    tokio::task::spawn_blocking(move || run(api, &[], "tokens off"))
        .await
        .unwrap();
    drop(backend);
    stack.db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_as_described_with_tokens() {
    let stack = Stack::new("schemaauth", 1).await;
    let api = free_port();
    let tokens = ["API_INGEST_TOKEN", "API_ADMIN_TOKEN", "API_READ_TOKEN"].map(|k| (k, TOKEN.to_owned()));
    let backend = stack.start_backend_with(api, &tokens).await;
    // with the token: every operation; without: every one answers as described (401s included)
    let with = vec![format!("Authorization: Bearer {TOKEN}")];
    tokio::task::spawn_blocking(move || {
        run(api, &with, "tokens on");
        run(api, &[], "tokens on, none sent");
    })
    .await
    .unwrap();
    drop(backend);
    stack.db.drop_db().await;
}
