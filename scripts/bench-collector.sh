#!/usr/bin/env bash
# Collector cost benchmark: the release collector at a 1 s tick with N running containers
# (default 20), producing to the local broker, side by side in the same run with Debian's
# prometheus-node-exporter scraped every second. Prints CPU seconds per minute and peak RSS.
#
#   scripts/bench-collector.sh            # 60 s, 20 containers
#   BENCH_SECONDS=120 BENCH_CONTAINERS=20 scripts/bench-collector.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${BENCH_SECONDS:-60}
CONTAINERS=${BENCH_CONTAINERS:-20}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/srmon/target}
SRMON_SERVICES_DIR=${SRMON_SERVICES_DIR:-$HOME/.cache/srmon/services}

scripts/services.sh up >&2
set -a; . "$SRMON_SERVICES_DIR/env"; set +a
command -v prometheus-node-exporter >/dev/null || {
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-node-exporter >&2
}
cargo build --release -p collector >&2
BIN="$CARGO_TARGET_DIR/release/collector"
SOCK=${SRMON_TEST_DOCKER_HOST#unix://}
# shellcheck source=scripts/bench/containers.sh
. scripts/bench/containers.sh
WORK=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    bench_containers_remove "$CONTAINERS"
    rm -rf "$WORK"
}
trap cleanup EXIT

bench_containers_start "$CONTAINERS"

prometheus-node-exporter --web.listen-address=127.0.0.1:19100 >"$WORK/node.log" 2>&1 &
pids+=($!); NODE_PID=$!
( while sleep 1; do curl -s -o /dev/null http://127.0.0.1:19100/metrics || true; done ) &
pids+=($!)
BOOTSTRAP_SERVER=$SRMON_TEST_BOOTSTRAP DOCKER_HOST=$SRMON_TEST_DOCKER_HOST COLLECT_INTERVAL=1s \
    COLLECTOR_LISTEN=127.0.0.1:18001 KAFKA_TOPIC_NAME=server-metrics RUST_LOG=warn \
    "$BIN" >"$WORK/collector.log" 2>&1 &
pids+=($!); COL_PID=$!

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
sleep 5 # warm-up: first tick, connections, container inspection
c0=$(ticks "$COL_PID"); n0=$(ticks "$NODE_PID")
echo "measuring for ${SECONDS_TO_RUN}s" >&2
sleep "$SECONDS_TO_RUN"
c1=$(ticks "$COL_PID"); n1=$(ticks "$NODE_PID")
hz=$(getconf CLK_TCK)
containers_seen=$(curl -s http://127.0.0.1:18001/metrics | awk '/^collector_containers / {print $2}')
ticks_total=$(curl -s http://127.0.0.1:18001/metrics | awk '/^collector_ticks_total / {print $2}')
skipped=$(curl -s http://127.0.0.1:18001/metrics | awk '/^collector_ticks_skipped_total / {print $2}')
printf '\n%-28s %22s %14s\n' "process" "CPU s per minute" "peak RSS MB"
awk -v t=$((c1 - c0)) -v hz="$hz" -v s="$SECONDS_TO_RUN" -v r="$(hwm_kb "$COL_PID")" \
    'BEGIN { printf "%-28s %22.2f %14.1f\n", "collector (+containers)", t / hz * 60 / s, r / 1024 }'
awk -v t=$((n1 - n0)) -v hz="$hz" -v s="$SECONDS_TO_RUN" -v r="$(hwm_kb "$NODE_PID")" \
    'BEGIN { printf "%-28s %22.2f %14.1f\n", "node_exporter (1 s scrape)", t / hz * 60 / s, r / 1024 }'
echo "collector: containers seen $containers_seen, ticks $ticks_total, skipped $skipped, interval 1s, ${SECONDS_TO_RUN}s measured"
