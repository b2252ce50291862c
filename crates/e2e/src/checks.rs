//! The end-of-test checks the delivery and fault tests share:
//!
//! - [`exactly_once`]: the samples stored are exactly the records produced to the topic;
//! - [`incidents`]: every incident in the store has at most one `firing` and at most one end
//!   (`resolved` after its firing, or `cancelled`), nothing after its end, and the incidents
//!   the store leaves open are exactly the backend's open alerts (none lost, doubled or left
//!   firing forever);
//! - [`replay_equals_store`]: the SSE alert stream replayed from the start gives the stored
//!   events, in id order, none missing or extra.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use crate::kafka::read_topic;
use crate::sse::SseClient;
use crate::{wait_until, Stack};

/// Every record produced to the stack's topic (`records` of them) is stored exactly once.
pub async fn exactly_once(stack: &Stack, records: i64) {
    let produced = read_topic(
        &stack.services.bootstrap,
        &stack.topic,
        records as usize,
        Duration::from_secs(120),
    )
    .await;
    let produced_samples: HashSet<(String, i64)> = produced.iter().map(|r| r.sample()).collect();
    assert_eq!(produced.len() as i64, records, "records in the topic");
    assert_eq!(produced_samples.len() as i64, records, "distinct samples produced");
    let stored = crate::stored::samples(&stack.db.pool).await;
    assert_eq!(stored.len() as i64, records, "one stored sample per record");
    let distinct: HashSet<(String, i64)> = stored.into_iter().collect();
    assert!(distinct == produced_samples, "stored samples differ from produced ones");
}

/// The stored events as (id, alert id, state), in id order.
async fn stored_events(stack: &Stack) -> Vec<(u64, String, String)> {
    sqlx::query_as(
        "SELECT CAST(id AS UNSIGNED), CONVERT(alert_id USING utf8mb4), CONVERT(state USING utf8mb4) FROM alert_events ORDER BY id",
    )
    .fetch_all(&stack.db.pool)
    .await
    .unwrap_or_else(|e| panic!("read alert_events: {e}"))
}

/// Checks the incidents of the store against themselves and against the open alerts of the
/// backend on `api`; returns how many incidents fired (callers assert there were some).
pub async fn incidents(stack: &Stack, api: u16) -> usize {
    // the backend keeps evaluating (stale hosts): compare until a quiet moment agrees
    wait_until(Duration::from_secs(60), "open incidents to match the open alerts", || async {
        let events = stored_events(stack).await;
        let mut by_incident: BTreeMap<&str, Vec<(u64, &str)>> = BTreeMap::new();
        for (id, alert, state) in &events {
            by_incident.entry(alert).or_default().push((*id, state));
        }
        let mut open = BTreeSet::new();
        let mut fired = 0;
        for (alert, seq) in &by_incident {
            let states: Vec<&str> = seq.iter().map(|(_, s)| *s).collect();
            let count = |s: &str| states.iter().filter(|x| **x == s).count();
            assert!(count("firing") <= 1, "incident {alert} fired more than once: {seq:?}");
            assert!(
                count("resolved") + count("cancelled") <= 1,
                "incident {alert} ended more than once: {seq:?}"
            );
            if let Some(end) = states.iter().position(|s| *s == "resolved" || *s == "cancelled") {
                assert_eq!(end, states.len() - 1, "incident {alert} has events after its end: {seq:?}");
            }
            if let Some(resolved) = states.iter().position(|s| *s == "resolved") {
                let firing = states.iter().position(|s| *s == "firing");
                assert!(firing.is_some_and(|f| f < resolved), "incident {alert} resolved without firing: {seq:?}");
            }
            fired += count("firing");
            if matches!(states.last(), Some(&"pending" | &"firing")) {
                open.insert(alert.to_string());
            }
        }
        let active = stack
            .try_get_json(&format!("http://127.0.0.1:{api}/api/v1/alerts/active"))
            .await?;
        let active: BTreeSet<String> = active["alerts"]
            .as_array()?
            .iter()
            .filter_map(|a| a["alert_id"].as_str().map(str::to_owned))
            .collect();
        if open == active {
            Some(fired)
        } else {
            let stranded: Vec<_> = open.difference(&active).take(5).collect();
            let unstored: Vec<_> = active.difference(&open).take(5).collect();
            eprintln!(
                "open in the store but not in the engine: {} (e.g. {stranded:?}); open in the engine, not stored: {} (e.g. {unstored:?})",
                open.difference(&active).count(),
                active.difference(&open).count()
            );
            None
        }
    })
    .await
}

/// The alert stream replayed from its start (`Last-Event-ID: 0`) gives every stored event, in
/// id order, with its state and incident.
pub async fn replay_equals_store(stack: &Stack, api: u16) {
    let stored = stored_events(stack).await;
    let Some(last) = stored.last().map(|(id, _, _)| *id) else {
        return;
    };
    let mut client = SseClient::connect(&format!("http://127.0.0.1:{api}/api/v1/alerts/stream"), Some("0")).await;
    let mut replayed = Vec::new();
    while replayed
        .last()
        .is_none_or(|(id, _, _): &(u64, String, String)| *id < last)
    {
        let ev = client
            .next(Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("the replay stopped after {} of {} events", replayed.len(), stored.len()));
        if ev.event.as_deref() != Some("alert") {
            continue;
        }
        let id: u64 = ev.id.as_deref().expect("an event id").parse().unwrap();
        let data = ev.json();
        replayed.push((
            id,
            data["alert_id"].as_str().unwrap_or_default().to_owned(),
            data["state"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    replayed.retain(|(id, _, _)| *id <= last);
    assert_eq!(replayed.len(), stored.len(), "replayed events");
    assert!(replayed == stored, "the replay differs from the stored events");
}
