//! `alert-latency`: measures alert latency on the live stream. Connects to the backend's
//! `GET /api/v1/alerts/stream`, and for every `alert` event whose state is `firing` (optionally
//! only of one rule) computes arrival time − `at` (the sample time that raised it). Stops after
//! `--count` incidents or `--timeout-secs`, then prints the count, p50, p99 and max.
//!
//!   alert-latency --url http://127.0.0.1:18004/api/v1/alerts/stream --rule-id 9 --count 500

use std::time::Duration;

use chrono::{DateTime, Utc};

struct Args {
    url: String,
    rule_id: Option<u64>,
    count: usize,
    timeout: Duration,
}

fn parse_args() -> Args {
    let mut args = Args {
        url: "http://127.0.0.1:18004/api/v1/alerts/stream".to_owned(),
        rule_id: None,
        count: 500,
        timeout: Duration::from_secs(120),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--url" => args.url = value,
            "--rule-id" => args.rule_id = Some(value.parse().unwrap_or_else(|_| usage("bad --rule-id"))),
            "--count" => args.count = value.parse().unwrap_or_else(|_| usage("bad --count")),
            "--timeout-secs" => {
                args.timeout = Duration::from_secs(value.parse().unwrap_or_else(|_| usage("bad --timeout-secs")))
            }
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    args
}

fn usage(why: &str) -> ! {
    eprintln!("alert-latency: {why}\nusage: alert-latency [--url U] [--rule-id N] [--count N] [--timeout-secs S]");
    std::process::exit(2)
}

/// The `q` quantile (nearest rank) of sorted `v`.
fn quantile(v: &[f64], q: f64) -> f64 {
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = parse_args();
    let deadline = tokio::time::Instant::now() + args.timeout;
    let mut sse = e2e::sse::SseClient::connect(&args.url, None).await;
    let (mut latencies, mut other_events) = (Vec::<f64>::new(), 0usize);
    // Every alert event seen, by kind and state (what else the engine was emitting meanwhile).
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    while latencies.len() < args.count {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(event) = sse.next(left).await else { break };
        let arrived = Utc::now();
        if event.event.as_deref() != Some("alert") {
            continue;
        }
        let v = event.json();
        *seen
            .entry(format!(
                "{}:{}",
                v["kind"].as_str().unwrap_or("?"),
                v["state"].as_str().unwrap_or("?")
            ))
            .or_default() += 1;
        let firing = v["state"] == "firing";
        let of_rule = args.rule_id.is_none_or(|id| v["rule_id"].as_u64() == Some(id));
        if !(firing && of_rule) {
            other_events += 1;
            continue;
        }
        let at: DateTime<Utc> = v["at"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("alert without a valid \"at\": {}", event.data));
        latencies.push((arrived - at).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6);
    }
    if latencies.is_empty() {
        println!("firing_incidents 0 (other alert events {other_events})");
        std::process::exit(1);
    }
    latencies.sort_by(f64::total_cmp);
    println!("firing_incidents {}", latencies.len());
    println!("other_alert_events {other_events}");
    let breakdown: Vec<String> = seen.iter().map(|(k, n)| format!("{k}={n}")).collect();
    println!("alert_events_by_kind_state {}", breakdown.join(" "));
    println!("latency_min_s {:.3}", latencies[0]);
    println!("latency_p50_s {:.3}", quantile(&latencies, 0.50));
    println!("latency_p99_s {:.3}", quantile(&latencies, 0.99));
    println!("latency_max_s {:.3}", latencies[latencies.len() - 1]);
}
