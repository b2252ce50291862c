//! The original system's alert SSE: unnamed events with its payload, one per alert that starts
//! firing, numbers as strings, local timestamps, metric fields only for threshold types.

use api_backend::alerts::{AlertKind, AlertState, Direction, Metric};
use api_backend::hub::HubSettings;
use chrono::Local;
use serde_json::json;

use super::{at, builtin_event, store_events, threshold_event, Served};

const STREAM: &str = "/api/metrics/threshold-alert";

#[tokio::test]
async fn threshold_firings_carry_the_original_fields_as_strings_without_an_event_name() {
    let s = Served::start(HubSettings::default()).await;
    let mut sse = s.sse(STREAM, None).await;
    let when = at("2026-03-01T10:00:00.250Z");
    // pending and resolved have no compat form: only the firing is sent
    s.app
        .hub
        .publish_alert(1, &threshold_event("h1", AlertState::Pending, 97.5, when));
    s.app
        .hub
        .publish_alert(2, &threshold_event("h1", AlertState::Firing, 97.5, when));
    s.app
        .hub
        .publish_alert(3, &threshold_event("h1", AlertState::Resolved, 50.0, when));
    let mut below = threshold_event("c1", AlertState::Firing, 2.0e10, when);
    below.direction = Some(Direction::Below);
    below.metric = Some(Metric::ContainerMemUsedBytes);
    below.machine_kind = api_backend::alerts::MachineKind::Container;
    below.threshold = Some(4.0e10);
    s.app.hub.publish_alert(4, &below);

    let first = sse.next_event().await.unwrap();
    assert_eq!(first.event, None, "unnamed events");
    assert_eq!(first.id.as_deref(), Some("2"));
    let local = when.with_timezone(&Local).format("%Y-%m-%dT%H:%M:%S").to_string();
    assert_eq!(
        first.json(),
        json!({"messageType": "thresholdExceeded", "machineId": "h1", "machineName": "h1-name",
               "metricName": "cpu", "threshold": "85.0", "value": "97.5", "timestamp": local})
    );
    // keys in the original's order
    let data = first.data.as_deref().unwrap_or_default();
    assert!(data.starts_with(r#"{"messageType":"thresholdExceeded","machineId":"h1","machineName":"h1-name","metricName":"cpu","threshold""#), "{data}");
    let second = sse.next_event().await.unwrap();
    assert_eq!(second.id.as_deref(), Some("4"));
    assert_eq!(second.json()["messageType"], "thresholdDeceeded");
    assert_eq!(second.json()["metricName"], "memory");
    assert_eq!(
        second.json()["machineName"],
        "/c1-name",
        "a container's name with Docker's slash"
    );
    assert_eq!(second.json()["threshold"], "4.0E10");
    assert_eq!(second.json()["value"], "2.0E10");
}

#[tokio::test]
async fn non_metric_types_leave_out_metric_threshold_and_value_and_replay_works() {
    let s = Served::start(HubSettings::default()).await;
    let when = at("2026-03-01T23:59:59Z");
    store_events(
        &s.app,
        &[
            (1, builtin_event(AlertKind::Stale, "h1", AlertState::Firing, when)),
            (
                2,
                builtin_event(AlertKind::ContainerDied, "h1", AlertState::Firing, when),
            ),
            (3, builtin_event(AlertKind::ZeroValue, "h2", AlertState::Firing, when)),
        ],
    )
    .await;
    let mut sse = s.sse(STREAM, Some("0")).await;
    let timeout = sse.next_event().await.unwrap();
    assert_eq!(timeout.id.as_deref(), Some("1"));
    let local = when.with_timezone(&Local).format("%Y-%m-%dT%H:%M:%S").to_string();
    assert_eq!(
        timeout.json(),
        json!({"messageType": "timeout", "machineId": "h1", "machineName": "h1-name", "timestamp": local})
    );
    // container_died has no compat form
    let zero = sse.next_event().await.unwrap();
    assert_eq!(zero.id.as_deref(), Some("3"));
    assert_eq!(
        zero.json(),
        json!({"messageType": "zerovalue", "machineId": "h2", "machineName": "h2-name", "timestamp": local})
    );
}

#[tokio::test]
async fn the_original_keep_alive_is_a_ping_event_and_native_only_metrics_are_left_out() {
    let s = Served::start(HubSettings {
        heartbeat: std::time::Duration::from_millis(200),
        ..HubSettings::default()
    })
    .await;
    let mut sse = s.sse(STREAM, None).await;
    let when = at("2026-03-01T10:00:00Z");
    // a native rule on a metric the original did not have: no compat event
    let mut native = threshold_event("h1", AlertState::Firing, 93.0, when);
    native.metric = Some(Metric::HostMemPercent);
    s.app.hub.publish_alert(1, &native);
    let ping = sse.next_event().await.unwrap();
    assert_eq!(
        (ping.event.as_deref(), ping.data.as_deref()),
        (Some("ping"), Some("keepalive")),
        "the original's keep-alive, and nothing for host.mem_percent"
    );
    s.app
        .hub
        .publish_alert(2, &threshold_event("h1", AlertState::Firing, 97.5, when));
    let next = loop {
        let e = sse.next_event().await.unwrap();
        if e.event.is_none() {
            break e;
        }
    };
    assert_eq!(next.id.as_deref(), Some("2"));
}
