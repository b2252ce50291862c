#!/usr/bin/env bash
# Alerting benchmarks (issue 3), one at a time, each on a fresh database and topic:
#
#   scripts/bench-alerts.sh latency   # collector simulate (2,000 hosts x 10 containers, 1 s tick,
#                                     # production batching) → tansu → consumer → api-backend; a rule
#                                     # host.cpu_percent above 70 / clear 60, for 0 s; the
#                                     # alert-latency client takes (arrival − sample time) for every
#                                     # firing event; p50/p99/max + consumer lag / stored vs produced
#   scripts/bench-alerts.sh soak      # as latency, for BENCH_SOAK_MINUTES (30) in windows of
#                                     # BENCH_WINDOW_SECS (300): per window the alert latency
#                                     # p50/p99/max, backend and consumer RSS at its end, consumer
#                                     # lag mean/max, stored vs produced records/s
#   scripts/bench-alerts.sh fanout    # api-backend alone; 5,000 concurrent SSE clients on
#                                     # /api/v1/alerts/stream, one ingested record crossing a rule;
#                                     # trigger → receipt p50/p99/max, received count, backend RSS
#
# Env: BENCH_HOSTS, BENCH_CONTAINERS, BENCH_INCIDENTS (latency), BENCH_CLIENTS (fanout),
# BENCH_QUIET_DEFAULTS=1 (raise all 7 default over-rules, not only CPU's), BENCH_BACKEND_LOG (the
# backend's RUST_LOG, default warn; its log is kept in the printed logs directory).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-}
case "$MODE" in latency | soak | fanout) ;; *) echo "usage: $0 latency|soak|fanout" >&2; exit 2 ;; esac
HOSTS=${BENCH_HOSTS:-2000}
CONTAINERS=${BENCH_CONTAINERS:-10}
INCIDENTS=${BENCH_INCIDENTS:-500}
CLIENTS=${BENCH_CLIENTS:-5000}
API=http://127.0.0.1:18004
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh
bench_setup
DB="bench_alerts_$STAMP"
TOPIC="bench-alerts-$STAMP"
ulimit -n 20000
new_db "$DB"
start_backend "$DB" 18004 RUST_LOG="${BENCH_BACKEND_LOG:-warn}"
backend=$BACKEND_PID

# Move the original system's default over-rules out of the way: all 7 fields are sent back with
# CPU (default: above 85) raised to 1.0E15; with BENCH_QUIET_DEFAULTS=1 all 7 (disk, network and
# temperature defaults fire and clear all the time on the simulated random walks).
settings=$(curl -sf "$API/api/metrics/threshold-setting")
QUIET=${BENCH_QUIET_DEFAULTS:-0} python3 -c 'import json,os,sys
s = json.loads(sys.argv[1])
for k in (s if os.environ["QUIET"] == "1" else ["cpuPercent"]):
    s[k] = "1.0E15"
print(json.dumps(s))' "$settings" |
    curl -sf -o /dev/null -H 'content-type: application/json' --data-binary @- "$API/api/metrics/threshold-setting"
rule=$(curl -sf -H 'content-type: application/json' "$API/api/v1/thresholds/rules" --data-binary \
    '{"metric":"host.cpu_percent","direction":"above","raise":70,"clear":60,"for_secs":0,"severity":"warning","scope":{"kind":"all_hosts"}}')
RULE_ID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$rule")
echo "rule $RULE_ID: host.cpu_percent above 70 (clear 60), for 0 s" >&2

if [ "$MODE" = fanout ]; then
    echo "fan-out: $CLIENTS SSE clients, one crossing record" >&2
    timeout 300 "$BIN/sse-fanout" --base "$API" --clients "$CLIENTS" --backend-pid "$backend" --cpu 99
    exit 0
fi

new_topic "$TOPIC"
start_consumer "$TOPIC" 18004 18000 BATCH_MAX_RECORDS="${BENCH_BATCH_MAX_RECORDS:-1000}" \
    MAX_IN_FLIGHT_BATCHES="${BENCH_MAX_IN_FLIGHT:-2}"
CONSUMER_PID=${BENCH_PIDS[-1]}
# Production producer settings (librdkafka batching), as in bench-ingest.sh. Unbounded: stopped
# by the cleanup.
bg env BOOTSTRAP_SERVER="$SRMON_TEST_BOOTSTRAP" KAFKA_TOPIC_NAME="$TOPIC" COLLECTOR_LISTEN=127.0.0.1:18001 RUST_LOG=warn \
    "$BIN/collector" simulate --hosts "$HOSTS" --containers "$CONTAINERS" --interval 1s --seed 1 \
    >"$WORK/simulate.log" 2>&1

count() { stored "$DB"; }
lag() { metric http://127.0.0.1:18000/metrics consumer_lag_records; }
produced() { metric http://127.0.0.1:18001/metrics collector_records_produced_total; }

# Warm-up: until records are stored and 10 s more (group join, first backlog), bounded.
for _ in $(seq 120); do [ "$(count)" -gt 0 ] && break; sleep 0.5; done
[ "$(count)" -gt 0 ] || { echo "nothing stored after 60 s" >&2; exit 1; }
sleep 10
echo "warm: stored $(count), consumer lag $(lag)" >&2

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

if [ "$MODE" = soak ]; then
    MINUTES=${BENCH_SOAK_MINUTES:-30}
    WINDOW=${BENCH_WINDOW_SECS:-300}
    consumer_pid=$CONSUMER_PID
    echo "soak: $HOSTS hosts x $CONTAINERS containers for $MINUTES min, windows of $WINDOW s" >&2
    printf '%-6s %8s %8s %8s %9s %14s %14s %14s %16s\n' window incidents p50 p99 max "backend RSS" "consumer RSS" "lag mean/max" "produced/stored"
    windows=$(( MINUTES * 60 / WINDOW ))
    for w in $(seq "$windows"); do
        lag_loop() { while :; do echo "$(date +%s) $(lag)"; sleep 5; done; }
        bg lag_loop >"$WORK/lag-$w.txt"
        sampler=$!
        p0=$(produced); s0=$(count); t0=$(date +%s.%N)
        timeout $((WINDOW + 30)) "$BIN/alert-latency" --url "$API/api/v1/alerts/stream" --rule-id "$RULE_ID" \
            --count 1000000 --timeout-secs "$WINDOW" >"$WORK/latency-$w.txt" 2>&1 || true
        t1=$(date +%s.%N); p1=$(produced); s1=$(count)
        kill "$sampler" 2>/dev/null || true
        read -r n p50 p99 mx < <(awk '/^firing_incidents/ {n=$2} /^latency_p50_s/ {a=$2} /^latency_p99_s/ {b=$2} /^latency_max_s/ {c=$2} END {print n+0, (a == "" ? "-" : a), (b == "" ? "-" : b), (c == "" ? "-" : c)}' "$WORK/latency-$w.txt")
        lagstat=$(awk '{n++; s += $2; if ($2 > m) m = $2} END {if (n) printf "%.0f/%d", s / n, m}' "$WORK/lag-$w.txt")
        rates=$(awk -v p0="$p0" -v p1="$p1" -v s0="$s0" -v s1="$s1" -v t0="$t0" -v t1="$t1" 'BEGIN {d = t1 - t0; printf "%.0f/%.0f", (p1 - p0) / d, (s1 - s0) / d}')
        printf '%-6s %8s %8s %8s %9s %11.1f MB %11.1f MB %14s %16s\n' "$w" "$n" "$p50" "$p99" "$mx" \
            "$(awk -v k="$(rss_kb "$backend")" 'BEGIN {print k / 1024}')" \
            "$(awk -v k="$(rss_kb "$consumer_pid")" 'BEGIN {print k / 1024}')" "$lagstat" "$rates"
        cat "$WORK/latency-$w.txt" >&2
    done
    exit 0
fi

# Sample the consumer lag every second while the client measures.
lag_loop() { for _ in $(seq 600); do echo "$(date +%s) $(lag)"; sleep 1; done; }
bg lag_loop >"$WORK/lag.txt"
sampler=$!
p0=$(produced); s0=$(count); t0=$(date +%s.%N)
timeout 300 "$BIN/alert-latency" --url "$API/api/v1/alerts/stream" --rule-id "$RULE_ID" \
    --count "$INCIDENTS" --timeout-secs 240 | tee "$WORK/latency.txt"
t1=$(date +%s.%N); p1=$(produced); s1=$(count)
kill "$sampler" 2>/dev/null || true
awk -v p0="$p0" -v p1="$p1" -v s0="$s0" -v s1="$s1" -v t0="$t0" -v t1="$t1" 'BEGIN {
    d = t1 - t0
    printf "measured window:       %.1f s\n", d
    printf "produced records/s:    %.0f   (collector_records_produced_total)\n", (p1 - p0) / d
    printf "stored records/s:      %.0f   (raw_recent rows + compacted samples)\n", (s1 - s0) / d
    printf "stored at end:         %d of %d produced\n", s1, p1
}'
awk '{n++; s += $2; if ($2 > m) m = $2} END {if (n) printf "consumer lag (records): mean %.0f, max %d over %d samples\n", s / n, m, n}' "$WORK/lag.txt"
echo "where the time goes (whole run, from the binaries' histograms):"
echo "  sample time -> arrival at the backend (producer linger, broker, consumer fetch and batch, HTTP): $(quantile "$API/metrics" api_ingest_record_delay_seconds 0.5)"
echo "  consumer: a batch from its first record to its answer:           $(quantile http://127.0.0.1:18000/metrics consumer_batch_seconds 0.5)"
echo "  consumer: the ingest request:                                    $(quantile http://127.0.0.1:18000/metrics consumer_ingest_request_seconds 0.5)"
echo "  backend: alert events waiting for the event writer:              $(quantile "$API/metrics" api_alert_queue_wait_seconds 0.5)"
echo "  backend: one event write transaction:                            $(quantile "$API/metrics" api_alert_write_seconds 0.5)"
echo "  event time -> publication to the streams:                        $(quantile "$API/metrics" api_alert_event_delay_seconds 0.5)"
