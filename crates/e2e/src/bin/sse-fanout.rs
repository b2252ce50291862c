//! `sse-fanout`: alert fan-out benchmark. Opens `--clients` concurrent streams on the backend's
//! `GET /api/v1/alerts/stream` (each waits for its `snapshot`), then ingests one record of a fresh
//! host whose CPU crosses a rule (`POST /api/v1/ingest`) and measures, per client, the time from
//! just before that POST to the receipt of the first `alert` event. Prints how many clients
//! connected and received it, p50/p99/max, and the backend's VmRSS/VmHWM (`--backend-pid`)
//! before the clients, with them connected, and after delivery. Bounded: every wait has a deadline.
//!
//!   sse-fanout --base http://127.0.0.1:18004 --clients 5000 --backend-pid 1234

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

struct Args {
    base: String,
    clients: usize,
    backend_pid: Option<u32>,
    cpu: f64,
}

fn parse_args() -> Args {
    let mut args = Args {
        base: "http://127.0.0.1:18004".to_owned(),
        clients: 5000,
        backend_pid: None,
        cpu: 99.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--base" => args.base = value,
            "--clients" => args.clients = value.parse().unwrap_or_else(|_| usage("bad --clients")),
            "--backend-pid" => args.backend_pid = Some(value.parse().unwrap_or_else(|_| usage("bad --backend-pid"))),
            "--cpu" => args.cpu = value.parse().unwrap_or_else(|_| usage("bad --cpu")),
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    args
}

fn usage(why: &str) -> ! {
    eprintln!("sse-fanout: {why}\nusage: sse-fanout [--base URL] [--clients N] [--backend-pid PID] [--cpu PERCENT]");
    std::process::exit(2)
}

/// `VmRSS` and `VmHWM` of `pid` in MB, as text.
fn rss(pid: Option<u32>) -> String {
    let Some(pid) = pid else { return "n/a".to_owned() };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or("?".to_owned(), |kb| format!("{:.1} MB", kb / 1024.0))
    };
    format!("VmRSS {} VmHWM {}", field("VmRSS:"), field("VmHWM:"))
}

/// What one client saw.
enum Outcome {
    NotConnected,
    Missed,
    Received(Duration),
}

/// One client: connect, wait for the snapshot (then signal `ready`), then wait for the first
/// `alert` event and answer its arrival time relative to the trigger instant.
async fn client(
    http: reqwest::Client,
    url: String,
    connect_gate: Arc<Semaphore>,
    ready: tokio::sync::mpsc::Sender<bool>,
    mut trigger: watch::Receiver<Option<Instant>>,
    deadline: Instant,
) -> Outcome {
    let permit = connect_gate.acquire_owned().await.expect("semaphore open");
    let response = tokio::time::timeout_at(deadline, http.get(&url).header("accept", "text/event-stream").send()).await;
    let mut response = match response {
        Ok(Ok(r)) if r.status().is_success() => r,
        _ => {
            let _ = ready.send(false).await;
            return Outcome::NotConnected;
        }
    };
    let mut buffer = String::new();
    // The snapshot first.
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if block.contains("event: snapshot") {
                break;
            }
            continue;
        }
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(bytes))) => buffer.push_str(&String::from_utf8_lossy(&bytes).replace("\r\n", "\n")),
            _ => {
                let _ = ready.send(false).await;
                return Outcome::NotConnected;
            }
        }
    }
    drop(permit);
    let _ = ready.send(true).await;
    // Then the first alert.
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if block.lines().any(|l| l == "event: alert") {
                let arrived = Instant::now();
                let t0 = tokio::time::timeout_at(deadline, trigger.wait_for(|t| t.is_some())).await;
                return match t0 {
                    Ok(Ok(t0)) => Outcome::Received(arrived.saturating_duration_since(t0.expect("some"))),
                    _ => Outcome::Missed,
                };
            }
        }
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(bytes))) => buffer.push_str(&String::from_utf8_lossy(&bytes).replace("\r\n", "\n")),
            _ => return Outcome::Missed,
        }
    }
}

fn quantile(v: &[f64], q: f64) -> f64 {
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let url = format!("{}/api/v1/alerts/stream", args.base);
    println!("backend before clients: {}", rss(args.backend_pid));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let connect_gate = Arc::new(Semaphore::new(200));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(args.clients);
    let (trigger_tx, trigger_rx) = watch::channel(None);
    // Connecting 5,000 streams plus the wait for delivery stays well inside this.
    let deadline = Instant::now() + Duration::from_secs(120);
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.clients)
        .map(|_| {
            tokio::spawn(client(
                http.clone(),
                url.clone(),
                Arc::clone(&connect_gate),
                ready_tx.clone(),
                trigger_rx.clone(),
                deadline,
            ))
        })
        .collect();
    drop(ready_tx);
    let mut connected = 0usize;
    for _ in 0..args.clients {
        match ready_rx.recv().await {
            Some(true) => connected += 1,
            Some(false) => {}
            None => break,
        }
    }
    println!(
        "connected {connected} of {} streams in {:.1} s",
        args.clients,
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("backend with clients connected: {}", rss(args.backend_pid));

    // The trigger: one record of a fresh host above the rule.
    let host = format!("fanout-{}", uuid::Uuid::new_v4().simple());
    let record = e2e::records::host_record_at(&host, chrono::Utc::now(), args.cpu);
    let body = serde_json::to_vec(&vec![record]).expect("json");
    let t0 = Instant::now();
    trigger_tx.send_replace(Some(t0));
    let answer = reqwest::Client::new()
        .post(format!("{}/api/v1/ingest", args.base))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("POST /api/v1/ingest");
    let post_s = t0.elapsed().as_secs_f64();
    println!("ingest answered {} in {post_s:.3} s", answer.status());

    let mut latencies = Vec::new();
    let (mut missed, mut not_connected) = (0usize, 0usize);
    for t in tasks {
        match t.await.expect("client task") {
            Outcome::Received(d) => latencies.push(d.as_secs_f64()),
            Outcome::Missed => missed += 1,
            Outcome::NotConnected => not_connected += 1,
        }
    }
    println!("backend after delivery: {}", rss(args.backend_pid));
    println!(
        "received {} of {} (missed {missed}, not connected {not_connected})",
        latencies.len(),
        args.clients
    );
    if latencies.is_empty() {
        std::process::exit(1);
    }
    latencies.sort_by(f64::total_cmp);
    println!("fanout_min_s {:.3}", latencies[0]);
    println!("fanout_p50_s {:.3}", quantile(&latencies, 0.50));
    println!("fanout_p99_s {:.3}", quantile(&latencies, 0.99));
    println!("fanout_max_s {:.3}", latencies[latencies.len() - 1]);
}
