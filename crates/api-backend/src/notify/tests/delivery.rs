//! The running notifier against real HTTP receivers on 127.0.0.1 (axum servers recording what
//! they are sent): what arrives, in which order, after outages, and what is counted.

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{TimeDelta, Utc};
use common::shutdown::{self, Trigger};
use tokio::net::TcpListener;

use super::support::{cpu_alert_of, event, id_changed, wait_until, Receiver};
use crate::alerts::{AlertState, Severity};
use crate::notify::config::parse_webhook_url;
use crate::notify::metrics::dropped;
use crate::notify::{Notifier, NotifierHandle, NotifyConfig, NotifyMetrics, Silence, Tuning};

const WITHIN: Duration = Duration::from_secs(5);

fn fast() -> Tuning {
    Tuning {
        backoff_initial: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        give_up_after: Duration::from_secs(60),
        shutdown_grace: Duration::from_millis(300),
    }
}

fn config(slack: Option<String>, generic: Option<String>) -> NotifyConfig {
    NotifyConfig {
        alert_webhook_url: slack.map(|u| parse_webhook_url(&u).unwrap()),
        alert_generic_webhook_url: generic.map(|u| parse_webhook_url(&u).unwrap()),
        alert_webhook_timeout: Duration::from_secs(2),
        ..NotifyConfig::default()
    }
}

struct Running {
    handle: NotifierHandle,
    metrics: NotifyMetrics,
    stop: Trigger,
}

fn spawn(config: &NotifyConfig, tuning: Tuning) -> Running {
    let (stop, shutdown) = shutdown::channel();
    let metrics = NotifyMetrics::default();
    let handle = Notifier::spawn_with(config, tuning, metrics.clone(), shutdown, common::ops::Readiness::new());
    Running { handle, metrics, stop }
}

/// A port nobody listens on (yet).
async fn free_port() -> std::net::SocketAddr {
    TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap()
}

/// (notification, alert_id) of generic bodies.
fn generic(got: &[super::support::Received]) -> Vec<(String, String)> {
    got.iter()
        .map(|r| {
            (
                r.body["notification"].as_str().unwrap().to_owned(),
                r.body["alert_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn one_firing_and_one_resolved_per_incident_to_each_webhook() {
    let rx = Receiver::start().await;
    let n = spawn(
        &config(Some(rx.url("/slack/T0/B0/x")), Some(rx.url("/generic"))),
        fast(),
    );
    let now = Utc::now();
    let a = cpu_alert_of("h1", "web-1", now);
    for state in [
        AlertState::Pending,
        AlertState::Firing,
        AlertState::Firing,
        AlertState::Resolved,
        AlertState::Resolved,
    ] {
        n.handle.publish(&event(&a, state, now));
    }
    let cancelled = cpu_alert_of("h2", "web-2", now);
    n.handle.publish(&event(&cancelled, AlertState::Pending, now));
    n.handle.publish(&event(&cancelled, AlertState::Cancelled, now));
    // a last notification: once it arrived, everything published before it has been decided
    let info = id_changed(now);
    n.handle.publish(&info);

    let got = rx.wait_for(6, WITHIN).await;
    let (slack, gen): (Vec<_>, Vec<_>) = got.into_iter().partition(|r| r.path.starts_with("/slack"));
    let texts: Vec<&str> = slack.iter().map(|r| r.body["text"].as_str().unwrap()).collect();
    assert_eq!(texts.len(), 3, "{texts:#?}");
    assert!(
        texts[0].starts_with("[warning] FIRING host.cpu_percent on host web-1: 93.5%"),
        "{}",
        texts[0]
    );
    assert!(
        texts[1].starts_with("[warning] RESOLVED host.cpu_percent on host web-1"),
        "{}",
        texts[1]
    );
    assert!(
        texts[2].starts_with("[info] INFO container_id_changed on container nginx (host h1)"),
        "{}",
        texts[2]
    );
    assert_eq!(
        generic(&gen),
        vec![
            ("firing".into(), a.alert_id.clone()),
            ("resolved".into(), a.alert_id.clone()),
            ("info".into(), info.alert_id.clone()),
        ]
    );
    assert_eq!(gen[0].body["state"], "firing");
    assert_eq!(gen[1].body["state"], "resolved");
    for target in ["slack", "generic"] {
        wait_until("the deliveries to be counted", WITHIN, || {
            n.metrics.count(&n.metrics.sent, target) == 3
        })
        .await;
        assert_eq!(n.metrics.count(&n.metrics.failed, target), 0, "{target}");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(rx.received().len(), 6, "nothing more arrives");
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_everything_in_order_once_it_is_back() {
    let addr = free_port().await;
    let url = format!("http://{addr}/hook");
    let n = spawn(&config(None, Some(url)), fast());
    let now = Utc::now();
    let mut published = Vec::new();
    for i in 0..5 {
        let a = cpu_alert_of(&format!("h{i}"), &format!("web-{i}"), now);
        n.handle.publish(&event(&a, AlertState::Firing, now));
        published.push(("firing".to_owned(), a.alert_id.clone()));
        if i % 2 == 0 {
            n.handle.publish(&event(&a, AlertState::Resolved, now));
            published.push(("resolved".to_owned(), a.alert_id.clone()));
        }
    }
    // nobody listens: connection refused, retried
    wait_until("retries while the receiver is down", WITHIN, || {
        n.metrics.count(&n.metrics.retries, "generic") >= 3
    })
    .await;
    assert_eq!(n.metrics.count(&n.metrics.sent, "generic"), 0);

    // it comes up, but answers 503 for a while: still retried
    let rx = Receiver::serve(TcpListener::bind(addr).await.unwrap(), StatusCode::SERVICE_UNAVAILABLE);
    wait_until("503 answers", WITHIN, || rx.hits() >= 3).await;
    assert!(rx.received().is_empty());

    rx.answer(StatusCode::OK);
    let got = rx.wait_for(published.len(), WITHIN).await;
    assert_eq!(generic(&got), published, "everything, in publication order");
    // the receiver records a request before its answer reaches the notifier
    wait_until("the deliveries to be counted", WITHIN, || {
        n.metrics.count(&n.metrics.sent, "generic") == published.len() as u64
    })
    .await;
    assert_eq!(n.metrics.count(&n.metrics.failed, "generic"), 0);
    let pending = n
        .metrics
        .pending
        .get_or_create(&crate::notify::metrics::TargetLabel { target: "generic" });
    assert_eq!(pending.get(), 0);
}

#[tokio::test]
async fn a_rate_limited_receiver_is_retried_and_a_refusing_one_is_not() {
    let rx = Receiver::start().await;
    let n = spawn(&config(Some(rx.url("/hook")), None), fast());
    let now = Utc::now();

    rx.answer(StatusCode::TOO_MANY_REQUESTS);
    let a = cpu_alert_of("h1", "web-1", now);
    n.handle.publish(&event(&a, AlertState::Firing, now));
    wait_until("429 answers", WITHIN, || rx.hits() >= 2).await;
    rx.answer(StatusCode::OK);
    rx.wait_for(1, WITHIN).await;

    // 404: the URL is wrong; retrying cannot help
    rx.answer(StatusCode::NOT_FOUND);
    let retries_before = n.metrics.count(&n.metrics.retries, "slack");
    let hits_before = rx.hits();
    let b = cpu_alert_of("h2", "web-2", now);
    n.handle.publish(&event(&b, AlertState::Firing, now));
    wait_until("the refusal to be counted", WITHIN, || {
        n.metrics.count(&n.metrics.failed, "slack") == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.hits(), hits_before + 1, "tried exactly once");
    assert_eq!(n.metrics.count(&n.metrics.retries, "slack"), retries_before);

    // the next notification is delivered normally
    rx.answer(StatusCode::OK);
    let c = cpu_alert_of("h3", "web-3", now);
    n.handle.publish(&event(&c, AlertState::Firing, now));
    let got = rx.wait_for(2, WITHIN).await;
    assert!(got[1].body["text"].as_str().unwrap().contains("web-3"), "{got:?}");
    wait_until("the deliveries to be counted", WITHIN, || {
        n.metrics.count(&n.metrics.sent, "slack") == 2
    })
    .await;
}

#[tokio::test]
async fn a_notification_undeliverable_past_the_retry_window_is_given_up_and_counted() {
    let addr = free_port().await;
    let tuning = Tuning {
        give_up_after: Duration::from_millis(300),
        ..fast()
    };
    let n = spawn(&config(None, Some(format!("http://{addr}/hook"))), tuning);
    let now = Utc::now();
    let old = cpu_alert_of("h1", "web-1", now);
    n.handle.publish(&event(&old, AlertState::Firing, now));
    wait_until("the give-up", WITHIN, || {
        n.metrics.count(&n.metrics.failed, "generic") == 1
    })
    .await;

    let rx = Receiver::serve(TcpListener::bind(addr).await.unwrap(), StatusCode::OK);
    let new = cpu_alert_of("h2", "web-2", now);
    n.handle.publish(&event(&new, AlertState::Firing, now));
    let got = rx.wait_for(1, WITHIN).await;
    assert_eq!(generic(&got), vec![("firing".to_owned(), new.alert_id.clone())]);
}

/// A current-thread runtime: the notifier cannot run while the loop publishes, so the queue
/// of 4 fills and every further event must be dropped at once, not waited for.
#[tokio::test(flavor = "current_thread")]
async fn publish_never_blocks_and_counts_what_a_full_queue_drops() {
    let rx = Receiver::start().await;
    let n = spawn(
        &NotifyConfig {
            alert_notify_queue: 4,
            ..config(None, Some(rx.url("/hook")))
        },
        fast(),
    );
    let now = Utc::now();
    let started = std::time::Instant::now();
    for i in 0..1000 {
        let a = cpu_alert_of(&format!("h{i}"), "web", now);
        n.handle.publish(&event(&a, AlertState::Firing, now));
    }
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!(n.metrics.dropped_count(dropped::QUEUE_FULL), 996);
    let got = rx.wait_for(4, WITHIN).await;
    let first: Vec<String> = (0..4)
        .map(|i| cpu_alert_of(&format!("h{i}"), "web", now).alert_id)
        .collect();
    assert_eq!(generic(&got).into_iter().map(|(_, id)| id).collect::<Vec<_>>(), first);
}

#[tokio::test]
async fn a_flapping_refire_within_the_cooldown_sends_nothing() {
    let rx = Receiver::start().await;
    let n = spawn(&config(None, Some(rx.url("/hook"))), fast()); // cooldown 300 s
    let t0 = Utc::now();
    let first = cpu_alert_of("h1", "web-1", t0);
    n.handle.publish(&event(&first, AlertState::Firing, t0));
    n.handle
        .publish(&event(&first, AlertState::Resolved, t0 + TimeDelta::seconds(5)));
    let again = cpu_alert_of("h1", "web-1", t0 + TimeDelta::seconds(10));
    n.handle
        .publish(&event(&again, AlertState::Firing, t0 + TimeDelta::seconds(10)));
    n.handle
        .publish(&event(&again, AlertState::Resolved, t0 + TimeDelta::seconds(15)));
    let other = cpu_alert_of("h2", "web-2", t0);
    n.handle.publish(&event(&other, AlertState::Firing, t0));

    let got = rx.wait_for(3, WITHIN).await;
    assert_eq!(
        generic(&got),
        vec![
            ("firing".to_owned(), first.alert_id.clone()),
            ("resolved".to_owned(), first.alert_id.clone()),
            ("firing".to_owned(), other.alert_id.clone()),
        ]
    );
    assert_eq!(n.metrics.suppressed_count("cooldown"), 2);
}

#[tokio::test]
async fn silenced_events_send_nothing() {
    let rx = Receiver::start().await;
    let n = spawn(&config(Some(rx.url("/hook")), None), fast());
    let now = Utc::now();
    n.handle.set_silences(vec![Silence {
        id: 1,
        machine_id: Some("h1".into()),
        rule_id: None,
        kind: None,
        starts_at: now - TimeDelta::minutes(1),
        ends_at: now + TimeDelta::hours(1),
        comment: "disk replacement".into(),
    }]);
    let muted = cpu_alert_of("h1", "web-1", now);
    n.handle.publish(&event(&muted, AlertState::Firing, now));
    n.handle.publish(&event(&muted, AlertState::Resolved, now));
    n.handle.publish(&id_changed(now)); // a container of h1
    let other = cpu_alert_of("h2", "web-2", now);
    n.handle.publish(&event(&other, AlertState::Firing, now));

    let got = rx.wait_for(1, WITHIN).await;
    assert_eq!(got.len(), 1);
    assert!(
        got[0].body["text"].as_str().unwrap().contains("on host web-2"),
        "{got:?}"
    );
    assert_eq!(n.metrics.suppressed_count("silenced"), 3);
}

#[tokio::test]
async fn ticks_send_reminders_for_alerts_still_firing() {
    let rx = Receiver::start().await;
    let n = spawn(&config(Some(rx.url("/slack")), Some(rx.url("/generic"))), fast());
    let now = Utc::now();
    let mut a = cpu_alert_of("h1", "web-1", now);
    a.severity = Severity::Critical;
    n.handle.publish(&event(&a, AlertState::Firing, now));
    rx.wait_for(2, WITHIN).await;
    // not yet due
    n.handle.tick(now + TimeDelta::hours(1), vec![a.clone()]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(rx.received().len(), 2);
    n.handle
        .tick(now + TimeDelta::hours(4) + TimeDelta::seconds(1), vec![a.clone()]);
    let got = rx.wait_for(4, WITHIN).await;
    let reminders: Vec<_> = got[2..].iter().collect();
    let slack = reminders.iter().find(|r| r.path == "/slack").unwrap();
    assert!(
        slack.body["text"]
            .as_str()
            .unwrap()
            .starts_with("[critical] STILL FIRING host.cpu_percent on host web-1"),
        "{slack:?}"
    );
    let gen = reminders.iter().find(|r| r.path == "/generic").unwrap();
    assert_eq!(gen.body["notification"], "reminder");
    assert_eq!(gen.body["alert_id"], a.alert_id.as_str());
}

#[tokio::test]
async fn shutdown_ends_within_the_grace_and_counts_what_was_not_delivered() {
    let addr = free_port().await;
    let n = spawn(&config(None, Some(format!("http://{addr}/hook"))), fast());
    let now = Utc::now();
    for i in 0..3 {
        let a = cpu_alert_of(&format!("h{i}"), "web", now);
        n.handle.publish(&event(&a, AlertState::Firing, now));
    }
    wait_until("a first retry", WITHIN, || {
        n.metrics.count(&n.metrics.retries, "generic") >= 1
    })
    .await;
    n.stop.fire();
    tokio::time::timeout(fast().shutdown_grace + Duration::from_secs(1), n.handle.stopped())
        .await
        .expect("stopped within the grace");
    assert_eq!(n.metrics.dropped_count(dropped::SHUTDOWN), 3);
    assert_eq!(n.metrics.count(&n.metrics.failed, "generic"), 0);
    // publishing afterwards is still harmless, and counted
    n.handle
        .publish(&event(&cpu_alert_of("h9", "web", now), AlertState::Firing, now));
    assert_eq!(n.metrics.dropped_count(dropped::SHUTDOWN), 4);
}

#[tokio::test]
async fn without_a_webhook_everything_is_a_no_op() {
    let n = spawn(&NotifyConfig::default(), fast());
    assert!(!n.handle.is_enabled());
    let now = Utc::now();
    n.handle
        .publish(&event(&cpu_alert_of("h1", "web-1", now), AlertState::Firing, now));
    n.handle.tick(now, vec![]);
    n.handle.stopped().await;
    assert_eq!(n.metrics.dropped_count(dropped::QUEUE_FULL), 0);
}

/// `https://` webhooks (Slack's are https-only) are reached over TLS: a receiver that speaks
/// plain HTTP on that port fails the handshake, which is retried like any connection error (a
/// receiver with a certificate problem may be fixed while notifications wait).
#[tokio::test]
async fn https_webhooks_are_attempted_over_tls() {
    let rx = Receiver::start().await;
    let n = spawn(&config(Some(format!("https://{}/hook", rx.addr)), None), fast());
    let now = Utc::now();
    n.handle
        .publish(&event(&cpu_alert_of("h1", "web-1", now), AlertState::Firing, now));
    wait_until("a retried TLS handshake", WITHIN, || {
        n.metrics.count(&n.metrics.retries, "slack") >= 1
    })
    .await;
    assert_eq!(rx.hits(), 0, "no plain HTTP request reached the receiver");
    assert_eq!(n.metrics.count(&n.metrics.sent, "slack"), 0);
}
