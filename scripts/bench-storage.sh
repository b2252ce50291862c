#!/usr/bin/env bash
# Storage benchmark: bytes on disk per stored numeric value once compacted: data + indexes
# (information_schema after ANALYZE TABLE) of every sample, rollup and duplicate-set table,
# divided by the numeric values of the records stored (api_ingest_values_total), with the raw
# tier's and the rollups' shares apart. Beside it, in the same run and on the same kind of
# records: the write-optimised form's cost (STORAGE_COMPACT_AFTER=1h, nothing compacted) and the
# previous release's layout (one row per sample; built from BENCH_OLD_REV).
#
#   scripts/bench-storage.sh sim    # collector simulate --seed 1, 200 hosts x 10 containers,
#                                   # 2 simulated hours at 1 s (BENCH_SPAN); the comparison on
#                                   # 10 simulated minutes (BENCH_OLD_SPAN) of the same fleet
#   scripts/bench-storage.sh real   # the real collector of this machine with 20 busybox
#                                   # containers at 1 s for BENCH_DURATION (10m), its records
#                                   # captured (--print) and replayed (scripts/bench/replay.py)
#                                   # as BENCH_REPLICAS (50) hosts x BENCH_COPIES (6) copies back
#                                   # to back in time (6 x the capture per host), into the new layout and
#                                   # the previous release's; ports 181xx (BENCH_RECORDS_FILE:
#                                   # replay records captured before instead)
#
# sim goes through the real pipeline: collector -> tansu -> consumer -> api-backend; real posts
# the captured records to the backends' ingest API (the transport does not change what is
# stored). One host's hour alone fills tables so small that InnoDB's allocation units (16 KB
# pages, extents, a segment per partition) are most of their size, hence the replicas.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh
MODE=${1:-sim}
HOSTS=${BENCH_HOSTS:-200}
CONTAINERS=${BENCH_CONTAINERS:-10}
SPAN=${BENCH_SPAN:-2h}
OLD_SPAN=${BENCH_OLD_SPAN:-10m}
DURATION=${BENCH_DURATION:-10m}
REPLICAS=${BENCH_REPLICAS:-50}
COPIES=${BENCH_COPIES:-6}
REAL_CONTAINERS=${BENCH_REAL_CONTAINERS:-20}
OLD_REV=${BENCH_OLD_REV:-629a09e}
TABLES=(raw_recent raw_chunks host_minutes container_minutes host_hours container_hours ingested_records host_samples container_samples)

bench_setup

# The previous release's backend, built once from OLD_REV into its own target directory.
OLD_TARGET="$HOME/.cache/srmon/target-old-$OLD_REV"
OLD_BIN="$OLD_TARGET/release/api-backend"
if [ ! -x "$OLD_BIN" ]; then
    echo "building the previous release ($OLD_REV) for the old layout's figure" >&2
    src="$WORK/old-src"
    mkdir -p "$src"
    git archive "$OLD_REV" | tar -x -C "$src"
    (cd "$src" && CARGO_TARGET_DIR="$OLD_TARGET" cargo build --release -p api-backend >&2)
fi

# report DB VALUES LABEL: bytes per value of DB's tables, holding records of VALUES numeric
# values.
report() {
    local db=$1 values=$2 label=$3
    sizes "$db" "${TABLES[@]}" >"$WORK/sizes-$db.txt"
    local records
    records=$(stored "$db")
    echo "--- $label: $records records, $values numeric values (database $db)"
    awk -v v="$values" -v r="$records" '{b[$1] = $2; t += $2; printf "  %-20s %14d bytes  %7.3f bytes/value\n", $1, $2, $2 / v}
        END {
            raw = b["raw_recent"] + b["raw_chunks"]
            roll = b["host_minutes"] + b["container_minutes"] + b["host_hours"] + b["container_hours"]
            old = b["ingested_records"] + b["host_samples"] + b["container_samples"]
            if (raw > 0) printf "  raw tier:            %7.3f bytes/value\n", raw / v
            if (roll > 0) printf "  rollups:             %7.3f bytes/value (minute %.3f, hour %.3f)\n", roll / v, (b["host_minutes"] + b["container_minutes"]) / v, (b["host_hours"] + b["container_hours"]) / v
            if (old > 0) printf "  previous layout:     %7.3f bytes/value\n", old / v
            printf "  TOTAL:               %7.3f bytes/value, %.0f bytes/record\n", t / v, t / r
        }' "$WORK/sizes-$db.txt"
}

# wait_compacted DB: until raw_recent is empty; prints how long it took.
wait_compacted() {
    local t0=$SECONDS
    while [ "$("${SQL[@]}" "$1" -e "SELECT COUNT(*) FROM raw_recent")" -gt 0 ]; do
        [ $((SECONDS - t0)) -lt 600 ] || { echo "raw_recent of $1 not empty after 600 s" >&2; return 1; }
        sleep 1
    done
    echo "  everything compacted $((SECONDS - t0)) s after the last record was stored"
}

NEW=bench_new_$STAMP OPEN=bench_open_$STAMP OLD=bench_old_$STAMP
new_db "$NEW"
new_db "$OPEN"
new_db "$OLD"

if [ "$MODE" = sim ]; then
    TOPIC=bench-storage-$STAMP
    new_topic "$TOPIC"
    start_backend "$NEW" 18004 STORAGE_COMPACT_AFTER=1s
    start_consumer "$TOPIC" 18004 18000
    echo "simulating $HOSTS hosts x $CONTAINERS containers over the last $SPAN at 1 s" >&2
    t0=$SECONDS
    BOOTSTRAP_SERVER=$SRMON_TEST_BOOTSTRAP KAFKA_TOPIC_NAME=$TOPIC COLLECTOR_LISTEN=127.0.0.1:18001 RUST_LOG=warn \
        "$BIN/collector" simulate --hosts "$HOSTS" --containers "$CONTAINERS" --interval 1s --seed 1 --start=-"$SPAN" \
        >"$WORK/simulate.txt" 2>"$WORK/simulate.log"
    cat "$WORK/simulate.txt"
    produced=$(awk '{for (i = 1; i <= NF; i++) if ($i == "produced") print $(i + 1)}' "$WORK/simulate.txt")
    wait_stored "$NEW" "$produced"
    echo "  stored $produced records in $((SECONDS - t0)) s"
    wait_compacted "$NEW"
    report "$NEW" "$(metric http://127.0.0.1:18004/metrics api_ingest_values_total)" "compacted (STORAGE_COMPACT_AFTER=1s), $SPAN of $HOSTS x $CONTAINERS"

    # the comparison: $OLD_SPAN of the same fleet into the write-optimised form and the old layout
    TOPIC2=bench-storage-old-$STAMP
    new_topic "$TOPIC2"
    start_backend "$OPEN" 18014 STORAGE_COMPACT_AFTER=1h
    start_consumer "$TOPIC2" 18014 18010
    BACKEND_BIN=$OLD_BIN start_backend "$OLD" 18024
    start_consumer "$TOPIC2" 18024 18020
    BOOTSTRAP_SERVER=$SRMON_TEST_BOOTSTRAP KAFKA_TOPIC_NAME=$TOPIC2 COLLECTOR_LISTEN=127.0.0.1:18001 RUST_LOG=warn \
        "$BIN/collector" simulate --hosts "$HOSTS" --containers "$CONTAINERS" --interval 1s --seed 1 --start=-"$OLD_SPAN" \
        >"$WORK/simulate2.txt" 2>>"$WORK/simulate.log"
    cat "$WORK/simulate2.txt"
    produced2=$(awk '{for (i = 1; i <= NF; i++) if ($i == "produced") print $(i + 1)}' "$WORK/simulate2.txt")
    wait_stored "$OPEN" "$produced2"
    wait_stored "$OLD" "$produced2"
    values2=$(metric http://127.0.0.1:18014/metrics api_ingest_values_total)
    report "$OPEN" "$values2" "write-optimised form only (STORAGE_COMPACT_AFTER=1h), $OLD_SPAN of $HOSTS x $CONTAINERS"
    report "$OLD" "$values2" "previous release ($OLD_REV), $OLD_SPAN of $HOSTS x $CONTAINERS"
    exit 0
fi

[ "$MODE" = real ] || { echo "usage: $0 [sim|real]" >&2; exit 2; }
SOCK=${SRMON_TEST_DOCKER_HOST#unix://}
# shellcheck source=scripts/bench/containers.sh
. scripts/bench/containers.sh
trap 'bench_containers_remove "$REAL_CONTAINERS"; bench_cleanup' EXIT
if [ -n "${BENCH_RECORDS_FILE:-}" ]; then
    # records captured before the same way (collector --print with the containers above)
    cp "$BENCH_RECORDS_FILE" "$WORK/records.jsonl"
else
    bench_containers_start "$REAL_CONTAINERS"
    echo "capturing the real collector's records at 1 s for $DURATION" >&2
    DOCKER_HOST="$SRMON_TEST_DOCKER_HOST" COLLECT_INTERVAL=1s COLLECTOR_LISTEN=127.0.0.1:18101 HOST_ID="bench-real-$STAMP" \
        RUST_LOG=warn timeout --signal=TERM "$(secs "$DURATION")" "$BIN/collector" --print >"$WORK/records.jsonl" 2>"$WORK/collector.log" || true
fi
echo "  captured $(wc -l <"$WORK/records.jsonl") records" >&2
bench_containers_remove "$REAL_CONTAINERS"
start_backend "$NEW" 18104 STORAGE_COMPACT_AFTER=1s
BACKEND_BIN=$OLD_BIN start_backend "$OLD" 18124
python3 scripts/bench/replay.py --records "$WORK/records.jsonl" --replicas "$REPLICAS" --copies "$COPIES" \
    --url http://127.0.0.1:18104/api/v1/ingest --url http://127.0.0.1:18124/api/v1/ingest
wait_compacted "$NEW"
values=$(metric http://127.0.0.1:18104/metrics api_ingest_values_total)
report "$NEW" "$values" "real collector's records ($REAL_CONTAINERS containers, $DURATION at 1 s) as $REPLICAS hosts x $COPIES copies in time, compacted (STORAGE_COMPACT_AFTER=1s)"
report "$OLD" "$values" "previous release ($OLD_REV), same records"
