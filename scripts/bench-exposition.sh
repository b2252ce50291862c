#!/usr/bin/env bash
# Scrape benchmark: api-backend's /metrics/machines with 2,000 hosts x 10 containers
# (BENCH_HOSTS, BENCH_CONTAINERS: 22,000 machines) fed live at 1 s by `collector simulate`
# through the pipeline, next to prometheus-node-exporter's /metrics of this one host, scraped
# in the same run the same way (BENCH_SCRAPES curl requests each, one after another, while the
# fleet is ingested): scrape time p50 / p99 / max, and the size and series of one scrape; both
# plain and gzip-compressed as Prometheus asks for them (Accept-Encoding: gzip).
#
#   scripts/bench-exposition.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh
HOSTS=${BENCH_HOSTS:-2000}
CONTAINERS=${BENCH_CONTAINERS:-10}
QUERIES=${BENCH_SCRAPES:-100}

bench_setup
command -v prometheus-node-exporter >/dev/null || {
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-node-exporter >&2
}
DB=bench_exposition_$STAMP
TOPIC=bench-exposition-$STAMP
new_db "$DB"
new_topic "$TOPIC"
start_backend "$DB" 18004
start_consumer "$TOPIC" 18004 18000
sim() {
    BOOTSTRAP_SERVER=$SRMON_TEST_BOOTSTRAP KAFKA_TOPIC_NAME=$TOPIC COLLECTOR_LISTEN=127.0.0.1:18001 RUST_LOG=warn \
        "$BIN/collector" simulate --containers "$CONTAINERS" --seed 1 "$@"
}
bg sim --hosts "$HOSTS" --interval 1s
bg prometheus-node-exporter --web.listen-address=127.0.0.1:19100
MACHINES=http://127.0.0.1:18004/metrics/machines
NODE=http://127.0.0.1:19100/metrics
# every host up in the exposition (their records arrive within their staleness window)
t0=$SECONDS
until [ "$(curl -s "$MACHINES" | grep -c '^srmon_host_up{.*} 1')" -ge "$HOSTS" ]; do
    [ $((SECONDS - t0)) -lt 300 ] || { echo "not all $HOSTS hosts up after 300 s" >&2; exit 1; }
    sleep 2
done
until curl -sf -o /dev/null "$NODE"; do sleep 0.5; done
echo "--- one scrape each while $HOSTS hosts x $CONTAINERS containers are ingested at 1 s"
for target in "machines $MACHINES" "node_exporter $NODE"; do
    name=${target%% *} url=${target#* }
    curl -s "$url" -o "$WORK/$name.txt"
    printf "  %-14s %9d bytes  %7d series  %5d families  srmon_host_up 1: %d\n" "$name" \
        "$(wc -c <"$WORK/$name.txt")" "$(grep -vc '^#' "$WORK/$name.txt")" "$(grep -c '^# TYPE' "$WORK/$name.txt")" \
        "$(grep -c '^srmon_host_up{.*} 1' "$WORK/$name.txt" || true)"
done
for target in "machines $MACHINES" "node_exporter $NODE"; do
    name=${target%% *} url=${target#* }
    printf "  %-14s %9d bytes as gzip (what Prometheus asks for)\n" "$name" "$(curl -s -H 'accept-encoding: gzip' "$url" | wc -c)"
done
echo "--- scrape time, $QUERIES scrapes each, one after another"
timed "/metrics/machines ($((HOSTS * (CONTAINERS + 1))) machines)" "$MACHINES"
timed "node_exporter (this host)" "$NODE"
TIMED_ENCODING=gzip timed "/metrics/machines, gzip" "$MACHINES"
TIMED_ENCODING=gzip timed "node_exporter, gzip" "$NODE"
echo "  backend while measuring: $(metric http://127.0.0.1:18004/metrics api_ingest_records_total) records offered in total; VmHWM $(awk '/VmHWM/ {print $2, $3}' "/proc/$BACKEND_PID/status")"
