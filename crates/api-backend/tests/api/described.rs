//! The OpenAPI description checked against every answer the tests get: the operation of the
//! request's method and path (a path that has none answers the error body), the answer of its
//! status (a success must be listed; an error may fall to `default`), and a JSON body valid
//! against that answer's schema (JSON Schema 2020-12, formats checked).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

struct Described {
    spec: Value,
    validators: Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

fn described() -> &'static Described {
    static SPEC: OnceLock<Described> = OnceLock::new();
    SPEC.get_or_init(|| Described {
        spec: serde_json::to_value(api_backend::http::openapi()).expect("the description is JSON"),
        validators: Mutex::new(HashMap::new()),
    })
}

/// The description's path template that `path` falls under: the one with the most literal
/// segments among those that match (`/api/v1/thresholds/rules` before `/api/v1/thresholds/{metric}`).
fn template<'a>(paths: &'a serde_json::Map<String, Value>, path: &str) -> Option<&'a str> {
    let segments: Vec<&str> = path.split('/').collect();
    paths
        .keys()
        .filter_map(|t| {
            let parts: Vec<&str> = t.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (p, s) in parts.iter().zip(&segments) {
                if p.starts_with('{') && p.ends_with('}') {
                    if s.is_empty() {
                        return None;
                    }
                } else if p == s {
                    literal += 1;
                } else {
                    return None;
                }
            }
            Some((literal, t.as_str()))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, t)| t)
}

/// The validator of `schema` (with the description's components beside it, for `$ref`).
fn validator(key: String, schema: &Value) -> std::sync::Arc<jsonschema::Validator> {
    let d = described();
    let mut cache = d.validators.lock().unwrap();
    cache
        .entry(key)
        .or_insert_with(|| {
            let mut root = schema.clone();
            root["components"] = d.spec["components"].clone();
            std::sync::Arc::new(
                jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .should_validate_formats(true)
                    .build(&root)
                    .unwrap_or_else(|e| panic!("a schema of the description does not compile: {e}\n{schema}")),
            )
        })
        .clone()
}

/// Panics when the answer is not what the description says.
pub fn check(method: &Method, path: &str, status: StatusCode, body: Option<&Value>) {
    if method == Method::OPTIONS {
        return; // a CORS preflight, answered by the layer in front of the routes
    }
    let d = described();
    let paths = d.spec["paths"].as_object().expect("paths");
    let op = template(paths, path).and_then(|t| paths[t].get(method.as_str().to_lowercase()).map(|op| (t, op)));
    let Some((template, op)) = op else {
        // no such operation: the router's 404 or 405, with the error body
        assert!(
            matches!(status, StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED),
            "{method} {path}: answered {status}, but the description has no such operation"
        );
        if let Some(body) = body {
            let schema = json!({"$ref": "#/components/schemas/ErrorBody"});
            assert_valid(
                validator("ErrorBody".into(), &schema),
                body,
                &format!("{method} {path} ({status})"),
            );
        }
        return;
    };
    let code = status.as_str().to_owned();
    let answer = match op["responses"].get(&code) {
        Some(answer) => answer,
        None => {
            assert!(
                !status.is_success() && !status.is_informational(),
                "{method} {template}: answered {status}, which the description does not list"
            );
            &op["responses"]["default"]
        }
    };
    let Some(body) = body else { return };
    let Some(schema) = answer["content"]["application/json"].get("schema") else {
        panic!("{method} {template}: answered JSON with {status}, the description gives no JSON schema")
    };
    let key = format!("{method} {template} {code}");
    assert_valid(validator(key.clone(), schema), body, &key);
}

fn assert_valid(validator: std::sync::Arc<jsonschema::Validator>, body: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(body)
        .take(5)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: the answer does not match its schema:\n  {}\nbody: {}",
        errors.join("\n  "),
        serde_json::to_string(body)
            .unwrap_or_default()
            .chars()
            .take(2000)
            .collect::<String>()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_described_answer_passes() {
        let machine = json!({"id": "h1", "kind": "host", "name": "web-1", "status": "up",
            "first_seen": "2026-03-01T00:00:00.000Z", "last_seen": "2026-03-01T00:00:01.000Z"});
        check(
            &Method::GET,
            "/api/v1/machines",
            StatusCode::OK,
            Some(&json!({"machines": [machine]})),
        );
        let error = json!({"error": "unknown_machine", "detail": "no machine h9"});
        check(
            &Method::GET,
            "/api/v1/machines/h9/samples",
            StatusCode::NOT_FOUND,
            Some(&error),
        );
        check(&Method::GET, "/nowhere/at/all", StatusCode::NOT_FOUND, Some(&error));
    }

    #[test]
    #[should_panic(expected = "does not match its schema")]
    fn a_body_off_its_schema_fails() {
        let machine = json!({"id": 7, "kind": "host", "name": "web-1"});
        check(
            &Method::GET,
            "/api/v1/machines",
            StatusCode::OK,
            Some(&json!({"machines": [machine]})),
        );
    }

    #[test]
    #[should_panic(expected = "does not list")]
    fn a_success_the_description_does_not_list_fails() {
        check(&Method::POST, "/api/v1/thresholds/rules", StatusCode::OK, None);
    }

    #[test]
    #[should_panic(expected = "no such operation")]
    fn an_answer_of_an_undescribed_route_fails() {
        check(&Method::PATCH, "/api/v1/machines", StatusCode::OK, None);
    }
}
