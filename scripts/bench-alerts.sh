#!/usr/bin/env bash
# Alerting benchmarks (issue 3), one at a time, each on a fresh database and topic:
#
#   scripts/bench-alerts.sh latency   # collector simulate (2,000 hosts x 10 containers, 1 s tick,
#                                     # production batching) → tansu → consumer → api-backend; a rule
#                                     # host.cpu_percent above 70 / clear 60, for 0 s; the
#                                     # alert-latency client takes (arrival − sample time) for every
#                                     # firing event; p50/p99/max + consumer lag / stored vs produced
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
case "$MODE" in latency | fanout) ;; *) echo "usage: $0 latency|fanout" >&2; exit 2 ;; esac
HOSTS=${BENCH_HOSTS:-2000}
CONTAINERS=${BENCH_CONTAINERS:-10}
INCIDENTS=${BENCH_INCIDENTS:-500}
CLIENTS=${BENCH_CLIENTS:-5000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/srmon/target}
SRMON_SERVICES_DIR=${SRMON_SERVICES_DIR:-$HOME/.cache/srmon/services}
PORT=${SRMON_MYSQL_PORT:-3306}
API=http://127.0.0.1:18004

scripts/services.sh up >&2
set -a; . "$SRMON_SERVICES_DIR/env"; set +a
cargo build --release -p api-backend -p consumer -p collector -p e2e >&2
BIN="$CARGO_TARGET_DIR/release"
STAMP=$(date +%s)
DB="bench_alerts_$STAMP"
TOPIC="bench-alerts-$STAMP"
SQL=(mariadb -h 127.0.0.1 -P "$PORT" -u srmon -psrmon -N -B)
WORK=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    "${SQL[@]}" -e "DROP DATABASE IF EXISTS $DB" 2>/dev/null || true
    echo "logs: $WORK" >&2
}
trap cleanup EXIT
ulimit -n 20000

"${SQL[@]}" -e "CREATE DATABASE $DB"
DATABASE_URL="$SRMON_TEST_MYSQL_URL/$DB" API_LISTEN=127.0.0.1:18004 RUST_LOG=${BENCH_BACKEND_LOG:-warn} \
    "$BIN/api-backend" >"$WORK/api-backend.log" 2>&1 &
backend=$!
pids+=("$backend")
for _ in $(seq 120); do curl -sf -o /dev/null "$API/health/ready" && break; sleep 0.5; done
curl -sf -o /dev/null "$API/health/ready" || { echo "api-backend not ready" >&2; exit 1; }

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

"$SRMON_TANSU" topic create "$TOPIC" --partitions 3 --broker "tcp://$SRMON_TEST_BOOTSTRAP" >&2
"$SRMON_TANSU" topic create "$TOPIC.dlq" --partitions 1 --broker "tcp://$SRMON_TEST_BOOTSTRAP" >&2
BOOTSTRAP_SERVER=$SRMON_TEST_BOOTSTRAP KAFKA_TOPIC_NAME=$TOPIC KAFKA_CONSUMER_GROUP_ID="$TOPIC-group" \
    API_BASE_URL=$API CONSUMER_LISTEN=127.0.0.1:18000 RUST_LOG=warn \
    KAFKA_SESSION_TIMEOUT_MS=6000 BATCH_MAX_RECORDS=${BENCH_BATCH_MAX_RECORDS:-1000} MAX_IN_FLIGHT_BATCHES=${BENCH_MAX_IN_FLIGHT:-2} "$BIN/consumer" >"$WORK/consumer.log" 2>&1 &
pids+=($!)
# Production producer settings (librdkafka batching), as in bench-ingest.sh. Unbounded: stopped
# by the cleanup.
BOOTSTRAP_SERVER=$SRMON_TEST_BOOTSTRAP KAFKA_TOPIC_NAME=$TOPIC COLLECTOR_LISTEN=127.0.0.1:18001 RUST_LOG=warn \
    "$BIN/collector" simulate --hosts "$HOSTS" --containers "$CONTAINERS" --interval 1s --seed 1 \
    >"$WORK/simulate.log" 2>&1 &
pids+=($!)

count() { "${SQL[@]}" "$DB" -e "SELECT COUNT(*) FROM ingested_records"; }
metric() { curl -s "$1" | awk -v m="$2" '$1 == m || index($1, m "{") == 1 {s += $2} END {printf "%.0f", s}'; }
lag() { metric http://127.0.0.1:18000/metrics consumer_lag_records; }
produced() { metric http://127.0.0.1:18001/metrics collector_records_produced_total; }

# Warm-up: until records are stored and 10 s more (group join, first backlog), bounded.
for _ in $(seq 120); do [ "$(count)" -gt 0 ] && break; sleep 0.5; done
[ "$(count)" -gt 0 ] || { echo "nothing stored after 60 s" >&2; exit 1; }
sleep 10
echo "warm: stored $(count), consumer lag $(lag)" >&2

# Sample the consumer lag every second while the client measures.
(for _ in $(seq 600); do echo "$(date +%s) $(lag)"; sleep 1; done) >"$WORK/lag.txt" &
sampler=$!
pids+=("$sampler")
p0=$(produced); s0=$(count); t0=$(date +%s.%N)
timeout 300 "$BIN/alert-latency" --url "$API/api/v1/alerts/stream" --rule-id "$RULE_ID" \
    --count "$INCIDENTS" --timeout-secs 240 | tee "$WORK/latency.txt"
t1=$(date +%s.%N); p1=$(produced); s1=$(count)
kill "$sampler" 2>/dev/null || true
awk -v p0="$p0" -v p1="$p1" -v s0="$s0" -v s1="$s1" -v t0="$t0" -v t1="$t1" 'BEGIN {
    d = t1 - t0
    printf "measured window:       %.1f s\n", d
    printf "produced records/s:    %.0f   (collector_records_produced_total)\n", (p1 - p0) / d
    printf "stored records/s:      %.0f   (ingested_records)\n", (s1 - s0) / d
    printf "stored at end:         %d of %d produced\n", s1, p1
}'
awk '{n++; s += $2; if ($2 > m) m = $2} END {if (n) printf "consumer lag (records): mean %.0f, max %d over %d samples\n", s / n, m, n}' "$WORK/lag.txt"
