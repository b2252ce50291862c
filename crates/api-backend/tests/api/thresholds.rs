//! Threshold rules over REST: the native CRUD with its 400/404/409 answers and the admin token,
//! and the original system's threshold-setting endpoints (defaults, round trip, refusals).

use api_backend::config::Tokens;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};

use crate::support::{assert_error, Reply, TestApp};

/// The compat rules every database starts with: 7 over + 7 under settings, 6 of each with a
/// container twin.
pub const COMPAT_RULES: usize = 26;

pub async fn send_json(t: &TestApp, method: Method, uri: &str, token: Option<&str>, body: Option<Value>) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        Some(b) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(serde_json::to_vec(&b).unwrap())
        }
        None => Body::empty(),
    };
    t.send(req.body(body).unwrap()).await
}

async fn put(t: &TestApp, uri: &str, body: Value) -> Reply {
    send_json(t, Method::PUT, uri, None, Some(body)).await
}

async fn delete(t: &TestApp, uri: &str) -> Reply {
    send_json(t, Method::DELETE, uri, None, None).await
}

async fn rules(t: &TestApp) -> Vec<Value> {
    let reply = t.get("/api/v1/thresholds").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json["rules"].as_array().unwrap().clone()
}

#[tokio::test]
async fn global_and_machine_rules_are_created_replaced_and_deleted() {
    let t = TestApp::start().await;
    let initial = rules(&t).await;
    assert_eq!(initial.len(), COMPAT_RULES);
    assert!(initial.iter().all(|r| r["compat_key"].is_string()), "{initial:?}");

    let created = put(
        &t,
        "/api/v1/thresholds/host.mem_percent",
        json!({"raise": 80, "clear": 70}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.json["scope"], json!({"kind": "all_hosts"}));
    assert_eq!(created.json["direction"], "above");
    assert_eq!(created.json["severity"], "warning");
    let id = created.json["id"].as_u64().unwrap();
    let replaced = put(
        &t,
        "/api/v1/thresholds/host.mem_percent",
        json!({"raise": 90, "clear": 80, "for_secs": 60, "severity": "critical"}),
    )
    .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text);
    assert_eq!(replaced.json["id"], id, "the global rule is replaced, not added");
    let own: Vec<Value> = rules(&t)
        .await
        .into_iter()
        .filter(|r| r["compat_key"].is_null())
        .collect();
    assert_eq!(own.len(), 1);
    assert_eq!(
        (&own[0]["raise"], &own[0]["for_secs"], &own[0]["severity"]),
        (&json!(90.0), &json!(60), &json!("critical"))
    );

    let container = put(&t, "/api/v1/thresholds/container.cpu_percent", json!({"raise": 150})).await;
    assert_eq!(
        container.json["scope"],
        json!({"kind": "all_containers"}),
        "{}",
        container.text
    );
    let machine = put(
        &t,
        "/api/v1/thresholds/host.mem_percent/machines/h1",
        json!({"raise": 95, "clear": 90}),
    )
    .await;
    assert_eq!(machine.status, StatusCode::CREATED, "{}", machine.text);
    assert_eq!(machine.json["scope"], json!({"kind": "machine", "id": "h1"}));
    assert_ne!(machine.json["id"], id);

    assert_eq!(
        delete(&t, "/api/v1/thresholds/host.mem_percent/machines/h1")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &delete(&t, "/api/v1/thresholds/host.mem_percent/machines/h1").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(
        delete(&t, "/api/v1/thresholds/host.mem_percent").await.status,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &delete(&t, "/api/v1/thresholds/host.mem_percent").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(
        rules(&t).await.len(),
        COMPAT_RULES + 1,
        "only the container rule is left"
    );
}

#[tokio::test]
async fn rules_with_any_scope_by_id() {
    let t = TestApp::start().await;
    let rule = json!({"metric": "container.mem_percent", "scope": {"kind": "container_name", "pattern": "web-*"},
                      "raise": 90, "clear": 80, "for_secs": 30});
    let created = send_json(&t, Method::POST, "/api/v1/thresholds/rules", None, Some(rule.clone())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json["id"].as_u64().unwrap();
    assert_eq!(created.json["scope"]["pattern"], "web-*");
    let mut changed = rule;
    changed["raise"] = json!(95);
    let uri = format!("/api/v1/thresholds/rules/{id}");
    let replaced = put(&t, &uri, changed).await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text);
    assert_eq!(
        (replaced.json["id"].as_u64(), &replaced.json["raise"]),
        (Some(id), &json!(95.0))
    );
    assert_eq!(delete(&t, &uri).await.status, StatusCode::NO_CONTENT);
    assert_error(&delete(&t, &uri).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(
        &put(
            &t,
            "/api/v1/thresholds/rules/999999",
            json!({"metric": "host.cpu_percent", "scope": {"kind": "all_hosts"}, "raise": 1}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // compat rules can be tuned but not deleted or re-targeted
    let compat = rules(&t)
        .await
        .into_iter()
        .find(|r| r["compat_key"] == "over.cpuPercent")
        .unwrap();
    let uri = format!("/api/v1/thresholds/rules/{}", compat["id"]);
    assert_error(&delete(&t, &uri).await, StatusCode::CONFLICT, "conflict");
    let retarget = json!({"metric": "host.cpu_percent", "scope": {"kind": "machine", "id": "h1"}, "raise": 85});
    assert_error(&put(&t, &uri, retarget).await, StatusCode::CONFLICT, "conflict");
    let disable = json!({"metric": "host.cpu_percent", "scope": {"kind": "all_hosts"}, "raise": 85, "enabled": false});
    let reply = put(&t, &uri, disable).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["enabled"], false);
}

#[tokio::test]
async fn invalid_rules_are_400_with_the_reason() {
    let t = TestApp::start().await;
    let reply = put(
        &t,
        "/api/v1/thresholds/host.cpu_percent",
        json!({"raise": 90, "clear": 95}),
    )
    .await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_rule");
    assert_eq!(
        reply.json["detail"],
        "the clear value 95 is above the raise value 90: a rule on values above a limit must clear at or below it"
    );
    let below = put(
        &t,
        "/api/v1/thresholds/host.cpu_percent",
        json!({"direction": "below", "raise": 10, "clear": 5}),
    )
    .await;
    assert_error(&below, StatusCode::BAD_REQUEST, "invalid_rule");
    let mismatch = send_json(
        &t,
        Method::POST,
        "/api/v1/thresholds/rules",
        None,
        Some(json!({"metric": "container.cpu_percent", "scope": {"kind": "all_hosts"}, "raise": 1})),
    )
    .await;
    assert_error(&mismatch, StatusCode::BAD_REQUEST, "invalid_rule");
    assert!(mismatch.json["detail"]
        .as_str()
        .unwrap()
        .starts_with("the scope all_hosts cannot apply"));
    // scope strings no longer than the ids and names a record may carry
    let stored = t.count("alert_rules").await;
    for (scope, detail) in [
        (
            json!({"kind": "container_name", "pattern": "w".repeat(256)}),
            "the scope's name pattern must be at most 255 bytes",
        ),
        (
            json!({"kind": "machine", "id": "h".repeat(129)}),
            "the scope's machine id must be at most 128 bytes",
        ),
    ] {
        let metric = if scope["kind"] == "machine" {
            "host.cpu_percent"
        } else {
            "container.cpu_percent"
        };
        let long = send_json(
            &t,
            Method::POST,
            "/api/v1/thresholds/rules",
            None,
            Some(json!({"metric": metric, "scope": scope, "raise": 1})),
        )
        .await;
        assert_error(&long, StatusCode::BAD_REQUEST, "invalid_rule");
        assert_eq!(long.json["detail"], detail);
    }
    assert_eq!(t.count("alert_rules").await, stored, "nothing stored");
    let unknown = put(&t, "/api/v1/thresholds/host.cpu", json!({"raise": 1})).await;
    assert_error(&unknown, StatusCode::BAD_REQUEST, "invalid_parameter");
    assert!(unknown.json["detail"].as_str().unwrap().contains("host.cpu_percent"));
    for body in [
        json!({"clear": 1}),
        json!({"raise": "high"}),
        json!({"raise": 1, "colour": "red"}),
    ] {
        assert_error(
            &put(&t, "/api/v1/thresholds/host.cpu_percent", body).await,
            StatusCode::BAD_REQUEST,
            "invalid_body",
        );
    }
    assert_eq!(rules(&t).await.len(), COMPAT_RULES, "nothing was stored");
}

#[tokio::test]
async fn writes_need_the_admin_token_and_reads_the_read_token() {
    let t = TestApp::start_with(|c| {
        c.tokens = Tokens {
            ingest: Some("in-secret".into()),
            read: Some("rd-secret".into()),
            admin: Some("ad-secret".into()),
        }
    })
    .await;
    let body = json!({"raise": 90});
    for token in [None, Some("rd-secret"), Some("in-secret")] {
        let reply = send_json(
            &t,
            Method::PUT,
            "/api/v1/thresholds/host.cpu_percent",
            token,
            Some(body.clone()),
        )
        .await;
        assert_error(&reply, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let silence = json!({"kind": "stale", "ends_at": "2099-01-01T00:00:00Z"});
    let reply = send_json(
        &t,
        Method::POST,
        "/api/v1/silences",
        Some("rd-secret"),
        Some(silence.clone()),
    )
    .await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "unauthorized");
    let compat = send_json(
        &t,
        Method::POST,
        "/api/metrics/threshold-setting",
        Some("rd-secret"),
        Some(json!({})),
    )
    .await;
    assert_eq!(compat.status, StatusCode::UNAUTHORIZED, "{}", compat.text);

    let ok = send_json(
        &t,
        Method::PUT,
        "/api/v1/thresholds/host.cpu_percent",
        Some("ad-secret"),
        Some(body),
    )
    .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    let ok = send_json(&t, Method::POST, "/api/v1/silences", Some("ad-secret"), Some(silence)).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    for uri in [
        "/api/v1/thresholds",
        "/api/v1/alerts/active",
        "/api/v1/silences",
        "/api/metrics/threshold-setting",
    ] {
        assert_error(&t.get(uri).await, StatusCode::UNAUTHORIZED, "unauthorized");
        let reply = send_json(&t, Method::GET, uri, Some("rd-secret"), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text);
    }
}

fn over_defaults() -> Value {
    json!({"cpuPercent": "85.0", "memoryUsage": "2.0E10", "diskReadDelta": "4.0E7", "diskWriteDelta": "4.0E7",
           "networkRx": "300000.0", "networkTx": "300000.0", "temperature": "50.0"})
}

fn under_defaults() -> Value {
    json!({"cpuPercent": "0.0", "memoryUsage": "0.0", "diskReadDelta": "0.0", "diskWriteDelta": "0.0",
           "networkRx": "0.0", "networkTx": "0.0", "temperature": "5.0"})
}

#[tokio::test]
async fn compat_settings_have_the_original_defaults_and_round_trip() {
    let t = TestApp::start().await;
    assert_eq!(t.get("/api/metrics/threshold-setting").await.json, over_defaults());
    assert_eq!(
        t.get("/api/metrics/under-threshold-setting").await.json,
        under_defaults()
    );

    let saved = t
        .post(
            "/api/metrics/threshold-setting",
            &json!({"cpuPercent": "90", "memoryUsage": 3.0e10, "diskReadDelta": "5.0E7", "diskWriteDelta": 60000000,
                    "networkRx": 1000, "networkTx": "2000.5", "temperature": 70}),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert_eq!(saved.json, json!({"message": "ok"}));
    assert_eq!(
        t.get("/api/metrics/threshold-setting").await.json,
        json!({"cpuPercent": "90.0", "memoryUsage": "3.0E10", "diskReadDelta": "5.0E7", "diskWriteDelta": "6.0E7",
               "networkRx": "1000.0", "networkTx": "2000.5", "temperature": "70.0"})
    );
    let mut under = under_defaults();
    under["temperature"] = json!(10);
    let saved = t.post("/api/metrics/under-threshold-setting", &under).await;
    assert_eq!(saved.json, json!({"message": "ok"}), "{}", saved.text);
    assert_eq!(
        t.get("/api/metrics/under-threshold-setting").await.json["temperature"],
        "10.0"
    );

    // the values are the compat rules' values, host and container alike
    let rules = rules(&t).await;
    let raise = |key: &str| {
        rules
            .iter()
            .find(|r| r["compat_key"] == key)
            .map(|r| (r["raise"].clone(), r["clear"].clone(), r["direction"].clone()))
    };
    assert_eq!(
        raise("over.cpuPercent"),
        Some((json!(90.0), json!(90.0), json!("above")))
    );
    assert_eq!(
        raise("over.cpuPercent.container"),
        Some((json!(90.0), json!(90.0), json!("above")))
    );
    assert_eq!(
        raise("under.temperature"),
        Some((json!(10.0), json!(10.0), json!("below")))
    );
}

#[tokio::test]
async fn compat_settings_refuse_crossed_non_numeric_and_missing_values_with_a_sentence() {
    let t = TestApp::start().await;
    let refused = |reply: &Reply, starts: &str| {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
        let error = reply.json["error"].as_str().unwrap_or_default();
        assert!(error.starts_with(starts), "{error:?} should start with {starts:?}");
    };
    let mut over = over_defaults();
    over["temperature"] = json!("4");
    refused(
        &t.post("/api/metrics/threshold-setting", &over).await,
        "temperature: the threshold 4 is below the under-threshold 5",
    );
    let crossed = t.post("/api/metrics/threshold-setting", &over).await;
    assert_eq!(
        crossed.json["underThresholdValues"],
        under_defaults(),
        "{}",
        crossed.text
    );
    let mut under = under_defaults();
    under["cpuPercent"] = json!(99);
    let crossed = t.post("/api/metrics/under-threshold-setting", &under).await;
    refused(&crossed, "cpuPercent: the under-threshold 99 is above the threshold 85");
    // the original's body: the sentence and the other side's values, as strings
    assert_eq!(crossed.json["overThresholdValues"], over_defaults(), "{}", crossed.text);
    assert_eq!(crossed.json.as_object().unwrap().len(), 2, "{}", crossed.text);
    let mut bad = over_defaults();
    bad["networkRx"] = json!("fast");
    refused(
        &t.post("/api/metrics/threshold-setting", &bad).await,
        "Invalid number format in one or more fields.",
    );
    let mut missing = over_defaults();
    missing.as_object_mut().unwrap().remove("memoryUsage");
    refused(
        &t.post("/api/metrics/threshold-setting", &missing).await,
        "memoryUsage is missing",
    );
    refused(
        &t.post_raw("/api/metrics/under-threshold-setting", "{").await,
        "the body is not JSON",
    );

    assert_eq!(
        t.get("/api/metrics/threshold-setting").await.json,
        over_defaults(),
        "nothing changed"
    );
    assert_eq!(
        t.get("/api/metrics/under-threshold-setting").await.json,
        under_defaults()
    );
}

/// `api_limit_refusals_total{limit}` from the backend's /metrics.
async fn limit_refusals(t: &TestApp, limit: &str) -> f64 {
    let text = t.get("/metrics").await.text;
    let line = format!("api_limit_refusals_total{{limit=\"{limit}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(line.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn rules_and_silences_stop_at_their_limits_with_a_reason_and_a_count() {
    let t = TestApp::start().await;
    let rule = json!({"metric": "host.cpu_percent", "scope": {"kind": "machine", "id": "h1"}, "raise": 90});
    let created = send_json(&t, Method::POST, "/api/v1/thresholds/rules", None, Some(rule.clone())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let pool = t.app.store.pool();
    // copies of it up to the limit (1000), straight into the table
    while t.count("alert_rules").await < api_backend::alerting::rules::MAX_RULES as i64 {
        sqlx::query("INSERT INTO alert_rules (rule, compat_key, created_at, updated_at) SELECT rule, NULL, created_at, updated_at FROM alert_rules WHERE compat_key IS NULL LIMIT 200")
            .execute(pool)
            .await
            .unwrap();
    }
    let rules = t.count("alert_rules").await;
    let refused = send_json(&t, Method::POST, "/api/v1/thresholds/rules", None, Some(rule)).await;
    assert_error(&refused, StatusCode::CONFLICT, "limit_reached");
    assert!(
        refused.json["detail"].as_str().unwrap().contains("(1000)"),
        "{}",
        refused.text
    );
    assert_eq!(t.count("alert_rules").await, rules, "nothing stored");
    assert_eq!(limit_refusals(&t, "rules").await, 1.0);

    let silence = json!({"machine_id": "h1", "ends_at": "2099-01-01T00:00:00Z"});
    let created = t.post("/api/v1/silences", &silence).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    while t.count("silences").await < api_backend::alerting::silences::MAX_SILENCES as i64 {
        sqlx::query("INSERT INTO silences (machine_id, rule_id, kind, starts_at, ends_at, comment, created_at) SELECT machine_id, rule_id, kind, starts_at, ends_at, comment, created_at FROM silences LIMIT 200")
            .execute(pool)
            .await
            .unwrap();
    }
    let refused = t.post("/api/v1/silences", &silence).await;
    assert_error(&refused, StatusCode::CONFLICT, "limit_reached");
    assert_eq!(limit_refusals(&t, "silences").await, 1.0);
    // ended silences do not count
    sqlx::query("UPDATE silences SET ends_at = '2001-01-01 00:00:00' WHERE id <> (SELECT MAX(id) FROM (SELECT id FROM silences) s)")
        .execute(pool)
        .await
        .unwrap();
    let created = t.post("/api/v1/silences", &silence).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
}
