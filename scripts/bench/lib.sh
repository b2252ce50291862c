# Shared by the benchmark scripts (source it): the local services, release binaries, a fresh
# database and topic per run, starting the backend and consumer, the stored record count and
# the storage table sizes. Processes started with `bg` are stopped, and the run's databases
# dropped, on exit.
#
#   . scripts/bench/lib.sh            (from the repository root)

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/srmon/target}
SRMON_SERVICES_DIR=${SRMON_SERVICES_DIR:-$HOME/.cache/srmon/services}
MYSQL_PORT=${SRMON_MYSQL_PORT:-3306}
BIN="$CARGO_TARGET_DIR/release"
SQL=(mariadb -h 127.0.0.1 -P "$MYSQL_PORT" -u srmon -psrmon -N -B)
STAMP=$(date +%s)
WORK=$(mktemp -d)
BENCH_PIDS=()
BENCH_DBS=()
BENCH_TOPICS=()

bench_cleanup() {
    # a backgrounded shell function is a subshell: stop its children too
    for p in "${BENCH_PIDS[@]}"; do
        pkill -TERM -P "$p" 2>/dev/null || true
        kill "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    # the local broker keeps topics in memory: a benchmark's records would pile up run after run
    for t in "${BENCH_TOPICS[@]}"; do
        "$SRMON_TANSU" topic delete "$t" --broker "tcp://$SRMON_TEST_BOOTSTRAP" >/dev/null 2>&1 || true
    done
    if [ "${BENCH_KEEP_DB:-0}" != 1 ]; then
        for d in "${BENCH_DBS[@]}"; do "${SQL[@]}" -e "DROP DATABASE IF EXISTS $d" 2>/dev/null || true; done
    fi
    echo "logs: $WORK" >&2
}
trap bench_cleanup EXIT

# Starts the services and builds the release binaries.
bench_setup() {
    scripts/services.sh up >&2
    set -a
    # shellcheck disable=SC1091
    . "$SRMON_SERVICES_DIR/env"
    set +a
    cargo build --release -p api-backend -p consumer -p collector -p e2e --bins >&2
}

# Runs a command in the background, stopped on exit; its pid is in $!.
bg() {
    "$@" &
    BENCH_PIDS+=($!)
}

# new_db NAME: creates database NAME (dropped on exit).
new_db() {
    "${SQL[@]}" -e "CREATE DATABASE $1"
    BENCH_DBS+=("$1")
}

# new_topic NAME: creates topic NAME (3 partitions) and its dead-letter topic.
new_topic() {
    "$SRMON_TANSU" topic create "$1" --partitions 3 --broker "tcp://$SRMON_TEST_BOOTSTRAP" >&2
    "$SRMON_TANSU" topic create "$1.dlq" --partitions 1 --broker "tcp://$SRMON_TEST_BOOTSTRAP" >&2
    BENCH_TOPICS+=("$1" "$1.dlq")
}

# start_backend DB PORT [VAR=VALUE ...]: the backend on DB, listening on PORT, until ready.
start_backend() {
    local db=$1 port=$2
    shift 2
    bg env DATABASE_URL="$SRMON_TEST_MYSQL_URL/$db" API_LISTEN="127.0.0.1:$port" RUST_LOG=warn "$@" \
        "${BACKEND_BIN:-$BIN/api-backend}" >"$WORK/api-backend-$port.log" 2>&1
    BACKEND_PID=$!
    until curl -sf -o /dev/null "http://127.0.0.1:$port/health/ready"; do sleep 0.5; done
}

# start_consumer TOPIC API_PORT OPS_PORT [VAR=VALUE ...]
start_consumer() {
    local topic=$1 api=$2 port=$3
    shift 3
    bg env BOOTSTRAP_SERVER="$SRMON_TEST_BOOTSTRAP" KAFKA_TOPIC_NAME="$topic" KAFKA_CONSUMER_GROUP_ID="$topic-group-$api" \
        API_BASE_URL="http://127.0.0.1:$api" CONSUMER_LISTEN="127.0.0.1:$port" RUST_LOG=warn \
        KAFKA_SESSION_TIMEOUT_MS=6000 "$@" "$BIN/consumer" >"$WORK/consumer-$port.log" 2>&1
}

# stored DB: records stored (write-optimised rows plus compacted samples; the pre-tier
# `ingested_records` for a database of the previous release).
stored() {
    if [ "$("${SQL[@]}" "$1" -e "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$1' AND table_name = 'raw_recent'")" = 1 ]; then
        "${SQL[@]}" "$1" -e "SELECT (SELECT COUNT(*) FROM raw_recent) + (SELECT COALESCE(SUM(samples), 0) FROM raw_chunks)"
    else
        "${SQL[@]}" "$1" -e "SELECT COUNT(*) FROM ingested_records"
    fi
}

# wait_stored DB N [SECONDS]: until N records are stored (fails after SECONDS, default 1800).
wait_stored() {
    local deadline=$((SECONDS + ${3:-1800}))
    while [ "$(stored "$1")" -lt "$2" ]; do
        [ "$SECONDS" -lt "$deadline" ] || { echo "only $(stored "$1") of $2 records stored in time" >&2; return 1; }
        sleep 1
    done
}

# sizes DB TABLE...: after ANALYZE TABLE, "table bytes" lines (data + indexes) of the tables
# that exist.
sizes() {
    local db=$1
    shift
    local list
    list=$(printf "'%s'," "$@")
    local present
    present=$("${SQL[@]}" -e "SELECT table_name FROM information_schema.tables WHERE table_schema = '$db' AND table_name IN (${list%,})")
    for t in $present; do "${SQL[@]}" "$db" -e "ANALYZE TABLE $t" >/dev/null; done
    "${SQL[@]}" -e "SELECT table_name, data_length + index_length FROM information_schema.tables WHERE table_schema = '$db' AND table_name IN (${list%,}) ORDER BY table_name"
}

# metric URL NAME: the sum of a metric's samples in a /metrics text.
metric() {
    curl -s "$1" | awk -v m="$2" '$1 == m || index($1, m "{") == 1 {s += $2} END {printf "%.0f", s}'
}

# secs 90s|10m|2h: seconds.
secs() {
    local n=${1%[smh]}
    case $1 in
        *h) echo $((n * 3600)) ;;
        *m) echo $((n * 60)) ;;
        *) echo "$n" ;;
    esac
}

# quantile URL HISTOGRAM Q: the Q-quantile (0..1) of a Prometheus histogram at URL, in ms,
# interpolated within its bucket (as histogram_quantile does), and its mean.
quantile() {
    curl -s "$1" | awk -v m="$2" -v q="$3" '
        index($1, m "_bucket{") == 1 { match($1, /le="[^"]*"/); le = substr($1, RSTART + 4, RLENGTH - 5); n++; b[n] = (le == "+Inf" ? 1e300 : le + 0); c[n] = $2 }
        $1 == m "_sum" { sum = $2 } $1 == m "_count" { count = $2 }
        END {
            if (!count) { printf "no samples"; exit }
            want = q * count; lo = 0; prev = 0
            for (i = 1; i <= n; i++) { if (c[i] >= want) { hi = b[i]; if (hi > 1e299) hi = lo; v = lo + (hi - lo) * (want - prev) / (c[i] - prev + 1e-12); break } lo = b[i]; prev = c[i] }
            printf "p%d %.0f ms, mean %.0f ms", q * 100, v * 1000, sum / count * 1000
        }'
}

# timed NAME URL...: one request per URL (cycled to QUERIES), prints p50 / p99 / max. With
# TIMED_ENCODING set (gzip, zstd), each request asks for that content encoding.
timed() {
    local name=$1
    shift
    local urls=("$@") out="$WORK/times-${name//[^A-Za-z0-9]/_}.txt"
    local QUERIES=${QUERIES:-200}
    local ask=()
    [ -z "${TIMED_ENCODING:-}" ] || ask=(-H "accept-encoding: $TIMED_ENCODING")
    : >"$out"
    for i in $(seq 0 $((QUERIES - 1))); do
        local url=${urls[$((i % ${#urls[@]}))]}
        curl -s "${ask[@]}" -o "$WORK/last.json" -w '%{http_code} %{time_total}\n' "$url" >>"$out"
    done
    awk -v name="$name" '$1 != 200 {bad++} {t[NR] = $2} END {
        n = asort(t)
        printf "  %-34s p50 %6.1f ms   p99 %6.1f ms   max %6.1f ms   (%d queries, %d not 200)\n", name, t[int(n * 0.5 + 0.5)] * 1000, t[int(n * 0.99 + 0.5)] * 1000, t[n] * 1000, n, bad
    }' "$out"
}
