#!/usr/bin/env bash
# Dashboard benchmark: the dashboard in headless Chromium (web/tests/bench.mjs, playwright-core
# and Debian's chromium as in the e2e tests) against api-backend with 2,000 hosts x 10
# containers (BENCH_HOSTS, BENCH_CONTAINERS) known and fed live at 1 s by `collector simulate`
# through tansu and the consumer; one host (sim-host-0001) also has 7 days of stored history
# (backfilled at 60 s first, through the same pipeline: one minute-tier row per machine and
# minute, as a 1 s host has). Measures:
#   - fleet view: first paint, first contentful paint, time to interactive (target < 1 s)
#   - main-thread busy time per second while the fleet view is live for BENCH_LIVE_SECONDS
#     (600; target < 20 %)
#   - JS heap used after a forced GC at 1 minute and at the end (target: growth <= 10 %)
#   - the machine page's 7 d range: click to drawn, BENCH_CLICKS (5) times (target < 300 ms)
# The definitions are printed with the figures. BENCH_QUIET_DEFAULTS=1 raises the original
# system's 7 default over-rules out of reach (the simulated random walks cross the disk, network
# and temperature defaults all the time, ~1,400 alert events a second at 2,000 hosts).
#
#   scripts/bench-dashboard.sh
#   BENCH_HOSTS=200 BENCH_LIVE_SECONDS=90 scripts/bench-dashboard.sh   # a quick check
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh
HOSTS=${BENCH_HOSTS:-2000}
CONTAINERS=${BENCH_CONTAINERS:-10}
LIVE=${BENCH_LIVE_SECONDS:-600}
CLICKS=${BENCH_CLICKS:-5}
API=http://127.0.0.1:18004
HISTORY_HOST=sim-host-0001

# the dashboard's assets (embedded by the backend's build in bench_setup) and playwright-core:
# built when missing or older than their sources
if [ ! -f web/dist/app.js ] || [ ! -d web/node_modules/playwright-core ] ||
    [ -n "$(find web/src web/package-lock.json web/build.mjs -newer web/dist/app.js -print -quit)" ]; then
    scripts/build-web.sh
fi
bench_setup
DB=bench_dashboard_$STAMP
TOPIC=bench-dashboard-$STAMP
new_db "$DB"
new_topic "$TOPIC"
# raw retention a day longer than the 7 days of history, so its oldest records are not refused
start_backend "$DB" 18004 RETENTION_RAW=8d
start_consumer "$TOPIC" 18004 18000
if [ "${BENCH_QUIET_DEFAULTS:-0}" = 1 ]; then
    curl -sf "$API/api/metrics/threshold-setting" |
        python3 -c 'import json,sys; s = json.load(sys.stdin); print(json.dumps({k: "1.0E15" for k in s}))' |
        curl -sf -o /dev/null -H 'content-type: application/json' --data-binary @- "$API/api/metrics/threshold-setting"
    echo "default over-rules raised out of reach" >&2
fi
sim() {
    BOOTSTRAP_SERVER=$SRMON_TEST_BOOTSTRAP KAFKA_TOPIC_NAME=$TOPIC COLLECTOR_LISTEN=127.0.0.1:${PORT:-18001} RUST_LOG=warn \
        "$BIN/collector" simulate --containers "$CONTAINERS" --seed 1 "$@"
}

# 7 days of history for the first host (same seed and index: the live fleet's sim-host-0001)
echo "backfill: $HISTORY_HOST x $CONTAINERS containers, 7 days at 60 s" >&2
t0=$SECONDS
PORT=18011 sim --hosts 1 --interval 60s --start=-7d >"$WORK/backfill.txt" 2>"$WORK/backfill.log"
want=$(awk '{for (i = 1; i <= NF; i++) if ($i == "produced") print $(i + 1)}' "$WORK/backfill.txt")
wait_stored "$DB" "$want" 1800
echo "  stored $want records in $((SECONDS - t0)) s" >&2
# compacted into chunks and rollups (as a live host's history would be), before the live load
until [ "$("${SQL[@]}" "$DB" -e "SELECT COUNT(*) FROM raw_recent WHERE sampled_at < NOW(3) - INTERVAL 11 MINUTE")" -eq 0 ]; do
    [ $((SECONDS - t0)) -lt 1800 ] || { echo "the backfill was not compacted in time" >&2; exit 1; }
    sleep 2
done
echo "  compacted after $((SECONDS - t0)) s: $("${SQL[@]}" "$DB" -e "SELECT COUNT(*) FROM host_minutes") host-minute rows" >&2

# the live fleet, until every host is up with its containers in the fleet answer
bg sim --hosts "$HOSTS" --interval 1s >"$WORK/simulate.log" 2>&1
fleet_count() {
    curl -s "$API/api/v1/fleet" | python3 -c 'import json,sys
f = json.load(sys.stdin)
print(sum(h["status"] == "up" for h in f["hosts"]), sum(len(h["containers"]) for h in f["hosts"]))'
}
t0=$SECONDS
until [ "$(fleet_count)" = "$HOSTS $((HOSTS * CONTAINERS))" ]; do
    [ $((SECONDS - t0)) -lt 300 ] || { echo "not all $HOSTS hosts up after 300 s: $(fleet_count)" >&2; exit 1; }
    sleep 2
done
echo "every host up after $((SECONDS - t0)) s" >&2
sleep 10

events() { "${SQL[@]}" "$DB" -e "SELECT COUNT(*) FROM alert_events"; }
e0=$(events) s0=$(stored "$DB") w0=$SECONDS
echo "--- dashboard with $HOSTS hosts x $CONTAINERS containers fed at 1 s ($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
(cd web && node tests/bench.mjs "$API/" "$HOSTS" "$CONTAINERS" "$LIVE" "$HISTORY_HOST" "$CLICKS")
w=$((SECONDS - w0))
echo "--- the pipeline meanwhile ($w s): $((($(stored "$DB") - s0) / w)) records stored/s, $((($(events) - e0) / w)) alert events/s, consumer lag $(metric http://127.0.0.1:18000/metrics consumer_lag_records), load average $(cut -d' ' -f1-3 /proc/loadavg)"
