#!/usr/bin/env bash
# Ingest benchmark: records/s and samples/s stored end to end (collector simulate -> broker ->
# consumer -> api-backend -> MariaDB), zero loss checked, next to the raw MariaDB insert rate of
# the same number of narrow one-row-per-sample rows (the previous layout's shape) measured in
# the same run (scripts/bench/raw_insert.py). Bytes per stored value: scripts/bench-storage.sh.
#
#   scripts/bench-ingest.sh                                   # 20,000 records, 200 hosts x 10 containers
#   BENCH_RECORDS=100000 BENCH_HOSTS=2000 scripts/bench-ingest.sh   # 2,000 hosts x 10 containers
#
# The rate is timed from two ticks' worth of stored records (the fleet's machines created) to
# the last; the raw baseline before and after it, on the same server.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh
RECORDS=${BENCH_RECORDS:-20000}
HOSTS=${BENCH_HOSTS:-200}
CONTAINERS=${BENCH_CONTAINERS:-10}

bench_setup
DB=bench_ingest_$STAMP
TOPIC=bench-ingest-$STAMP
new_db "$DB"
new_topic "$TOPIC"
# The raw baseline: the same count of narrow rows, details JSON as long as the records' lists,
# measured before the pipeline runs and again after it; the ratio is to the mean of the two.
details_len=$("$BIN/collector" simulate --print --hosts 1 --containers "$CONTAINERS" --records 1 --seed 1 2>/dev/null | python3 -c '
import json, sys
h = json.loads(sys.stdin.readline())["host"]
d = {k: h[k] for k in ("per_core_percent", "interfaces", "filesystems", "temperatures_c") if k in h}
print(len(json.dumps(d, separators=(",", ":"))))')
raw_once() {
    python3 scripts/bench/raw_insert.py --db "$DB" --port "$MYSQL_PORT" --host-rows "$RECORDS" \
        --container-rows "$((RECORDS * CONTAINERS))" --hosts "$HOSTS" --details-len "$details_len" | awk '/raw_rows_per_sec/ {print $2}'
}
raw_before=$(raw_once)
echo "raw insert before the pipeline: $raw_before rows/s" >&2

start_backend "$DB" 18004
start_consumer "$TOPIC" 18004 18000

echo "producing $RECORDS records ($HOSTS hosts x $CONTAINERS containers)" >&2
# Production producer settings (librdkafka batching). The tests' one-record-per-batch workaround
# for tansu's mid-batch fetch bug matters only when a consumer resumes from a committed offset,
# which this run never does; the zero-loss check at the end would show it otherwise.
bg env BOOTSTRAP_SERVER="$SRMON_TEST_BOOTSTRAP" KAFKA_TOPIC_NAME="$TOPIC" COLLECTOR_LISTEN=127.0.0.1:18001 RUST_LOG=warn \
    "$BIN/collector" simulate --hosts "$HOSTS" --containers "$CONTAINERS" --interval 10ms --records "$RECORDS" --seed 1 \
    >"$WORK/simulate.log" 2>&1

# Time from two ticks' worth of stored records (every host and container has been seen and
# created: that one-time cost grows with the fleet, not with the records) to the last record.
until [ "$(stored "$DB")" -ge $((2 * HOSTS)) ]; do sleep 0.1; done
t0=$(date +%s.%N)
n0=$(stored "$DB")
while [ "$(stored "$DB")" -lt "$RECORDS" ]; do sleep 0.2; done
t1=$(date +%s.%N)
n1=$(stored "$DB")
sleep 2
final=$(stored "$DB")
containers=$("${SQL[@]}" "$DB" -e "SELECT (SELECT COALESCE(SUM(containers), 0) FROM raw_recent) + (SELECT COALESCE(SUM(containers), 0) FROM raw_chunks)")

# Where a batch's time goes: backend transaction vs the consumer's request and whole batch.
mean() { curl -s "$1" | awk -v m="$2" '$1 == m"_sum" {s=$2} $1 == m"_count" {c=$2} END {if (c) printf "%.1f ms over %d", s / c * 1000, c}'; }
timing="backend batch $(mean http://127.0.0.1:18004/metrics api_ingest_batch_seconds); consumer request $(mean http://127.0.0.1:18000/metrics consumer_ingest_request_seconds); consumer batch $(mean http://127.0.0.1:18000/metrics consumer_batch_seconds); records per batch $(curl -s http://127.0.0.1:18000/metrics | awk '$1 == "consumer_batch_records_sum" {s=$2} $1 == "consumer_batch_records_count" {c=$2} END {if (c) printf "%.0f", s / c}')"

raw_after=$(raw_once)
raw_rate=$(awk -v a="$raw_before" -v b="$raw_after" 'BEGIN {printf "%.0f", (a + b) / 2}')

awk -v r="$((n1 - n0))" -v t0="$t0" -v t1="$t1" -v c="$CONTAINERS" -v raw="$raw_rate" -v rb="$raw_before" -v ra="$raw_after" -v final="$final" -v want="$RECORDS" \
    -v cr="$containers" -v timing="$timing" 'BEGIN {
    s = t1 - t0; rec = r / s; samples = rec * (1 + c)
    printf "\nstored records:        %d of %d produced (%s)\n", final, want, (final == want && cr == want * c ? "zero loss, no duplicates" : "MISMATCH")
    printf "end-to-end records/s:  %.0f\n", rec
    printf "end-to-end samples/s:  %.0f   (host + container samples)\n", samples
    printf "raw insert rows/s:     %.0f   (one row per sample, 1,000-row INSERTs, one client; %.0f before the pipeline, %.0f after)\n", raw, rb, ra
    printf "ratio to raw:          %.2f\n", samples / raw
    printf "mean timings:          %s\n", timing
}'
