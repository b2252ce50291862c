#!/usr/bin/env bash
# Run the whole pipeline on this machine, against the real local services:
#
#   collector (:8001) --Kafka (tansu)--> consumer (:8000) --HTTP--> api-backend (:8004) --> MariaDB
#
# Starts the services (scripts/services.sh up), builds the three binaries (debug), starts a
# demo container `srmon-demo` so containers show up, starts the binaries in the background
# and waits until each answers /health/live. Ctrl-C or SIGTERM stops the binaries
# (collector, consumer, then api-backend: SIGTERM, then wait), removes the demo container
# and stops the services this script started (already running ones are left alone;
# SRMON_KEEP_SERVICES=1 keeps them all).
#
# Logs: $SRMON_SERVICES_DIR/run/<binary>.log (default ~/.cache/srmon/services/run/).
# Settings of CONTRACT §1 not set here (API_READ_TOKEN, COLLECT_INTERVAL, TZ, ...) are
# taken from your environment.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/srmon/target}"
export SRMON_CACHE="${SRMON_CACHE:-$HOME/.cache/srmon}"
export SRMON_SERVICES_DIR="${SRMON_SERVICES_DIR:-$SRMON_CACHE/services}"
SRMON_MYSQL_PORT="${SRMON_MYSQL_PORT:-3306}"
RUN_DIR="$SRMON_SERVICES_DIR/run"
DEMO=srmon-demo
STOP_GRACE=${SRMON_STOP_GRACE:-40}

log() { printf '[run-local] %s\n' "$*" >&2; }

if ! command -v cargo >/dev/null; then
    if [[ -x $HOME/.cargo/bin/cargo ]]; then export PATH="$HOME/.cargo/bin:$PATH"; else
        log "cargo not found: install Rust with rustup first"
        exit 1
    fi
fi

declare -A PIDS=()
ORDER=(collector consumer api-backend) # stop order: intake first, sink last
started_file=$(mktemp)
demo_started=0
cleaning=0

stop_binary() {
    local name=$1 pid=${PIDS[$1]:-} i
    [[ -n $pid ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        log "stopping $name (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < STOP_GRACE * 4; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name did not stop within ${STOP_GRACE}s; SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    local rc=0
    wait "$pid" 2>/dev/null || rc=$?
    log "$name exited with status $rc"
    unset "PIDS[$name]"
}

cleanup() {
    local rc=$?
    ((cleaning)) && return $rc
    cleaning=1
    trap '' INT TERM
    local n
    for n in "${ORDER[@]}"; do stop_binary "$n"; done
    if ((demo_started)); then
        podman rm -f -t 0 "$DEMO" >/dev/null 2>&1 || true
        log "removed container $DEMO"
    fi
    if [[ -s $started_file ]]; then
        if [[ ${SRMON_KEEP_SERVICES:-0} == 1 ]]; then
            log "SRMON_KEEP_SERVICES=1: leaving the services running"
        else
            # shellcheck disable=SC2046
            bash scripts/services.sh down $(sort -u "$started_file") || true
        fi
    fi
    rm -f "$started_file"
    return $rc
}
trap cleanup EXIT
trap 'log "interrupted; shutting down"; exit 130' INT
trap 'log "terminated; shutting down"; exit 143' TERM

fail() {
    log "FAILED: $1"
    if [[ -n ${2:-} && -f $2 ]]; then
        log "log: $2 (last 30 lines)"
        tail -n 30 "$2" | sed 's/^/    | /' >&2
    fi
    exit 1
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ------------------------------------------------------------------ services + build
SRMON_STARTED_FILE="$started_file" bash scripts/services.sh up
# shellcheck disable=SC1091
. "$SRMON_SERVICES_DIR/env"
: "${SRMON_TEST_BOOTSTRAP:?services.sh did not report the broker}"
: "${SRMON_TEST_DOCKER_HOST:?services.sh did not report the Docker API}"

log "building the dashboard (scripts/build-web.sh)"
bash scripts/build-web.sh
log "building collector, consumer, api-backend (debug; CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
cargo build -p collector -p consumer -p api-backend --bins
BIN="$CARGO_TARGET_DIR/debug"

for p in 8004 8000 8001; do
    port_busy "$p" && fail "port $p is already in use (another run-local.sh, or an engineer's binary?)"
done

# ------------------------------------------------------------------ demo container
podman rm -f -t 0 "$DEMO" >/dev/null 2>&1 || true
podman run -d --name "$DEMO" --network none "$SRMON_TEST_IMAGE" sleep 3600 >/dev/null ||
    fail "podman run $DEMO failed"
demo_started=1
log "started container $DEMO (sleep 3600)"

# ------------------------------------------------------------------ binaries
mkdir -p "$RUN_DIR"

start() {
    # start NAME VAR=VALUE...: run $BIN/NAME in its own session (Ctrl-C reaches only this
    # script, which then stops the binaries in order).
    local name=$1 logfile="$RUN_DIR/$1.log"
    shift
    printf '\n===== %s: starting %s\n' "$(date -u +%FT%TZ)" "$name" >>"$logfile"
    env "$@" setsid "$BIN/$name" </dev/null >>"$logfile" 2>&1 &
    PIDS[$name]=$!
    log "$name started (pid $!), log $logfile"
}

wait_live() {
    local name=$1 port=$2 deadline=$((SECONDS + ${3:-90}))
    until curl -fsS --max-time 2 "http://127.0.0.1:$port/health/live" >/dev/null 2>&1; do
        kill -0 "${PIDS[$name]}" 2>/dev/null || fail "$name exited during start-up" "$RUN_DIR/$name.log"
        ((SECONDS < deadline)) || fail "$name did not answer /health/live on :$port" "$RUN_DIR/$name.log"
        sleep 0.5
    done
    log "$name is live on :$port"
}

start api-backend DATABASE_URL="mysql://srmon:srmon@127.0.0.1:$SRMON_MYSQL_PORT/srmon"
wait_live api-backend 8004
start consumer BOOTSTRAP_SERVER="$SRMON_TEST_BOOTSTRAP" API_BASE_URL=http://127.0.0.1:8004
wait_live consumer 8000
# One record per Kafka batch: tansu 0.6.0 returns nothing for a fetch that starts inside a
# stored batch, so a consumer resuming mid-batch would skip records (see docs/architecture.md).
start collector BOOTSTRAP_SERVER="$SRMON_TEST_BOOTSTRAP" DOCKER_HOST="$SRMON_TEST_DOCKER_HOST" KAFKA_BATCH_NUM_MESSAGES=1
wait_live collector 8001

cat >&2 <<EOF

  srmon is running locally. Look at:
    http://127.0.0.1:8004/                     the dashboard (fleet view)
    http://127.0.0.1:8004/api/v1/machines      hosts and containers known (srmon-demo among them)
    http://127.0.0.1:8004/metrics/machines     every machine in Prometheus text format
    http://127.0.0.1:8004/api/inventory/list   the same, in the original system's shape
    http://127.0.0.1:8004/metrics              api-backend metrics
    http://127.0.0.1:8000/metrics              consumer metrics
    http://127.0.0.1:8001/metrics              collector metrics
  Logs:
    $RUN_DIR/api-backend.log
    $RUN_DIR/consumer.log
    $RUN_DIR/collector.log
    $SRMON_SERVICES_DIR/logs/{mariadb,tansu,podman}.log
  Ctrl-C stops everything.

EOF

# open the dashboard where there is a desktop to open it on
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && command -v xdg-open >/dev/null; then
    xdg-open http://127.0.0.1:8004/ >/dev/null 2>&1 || true
fi

# ------------------------------------------------------------------ watch
while true; do
    for n in "${ORDER[@]}"; do
        if ! kill -0 "${PIDS[$n]}" 2>/dev/null; then
            fail "$n exited unexpectedly" "$RUN_DIR/$n.log"
        fi
    done
    sleep 1 &
    wait $! || true
done
