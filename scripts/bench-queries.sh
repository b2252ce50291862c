#!/usr/bin/env bash
# Query benchmark: latency of what a dashboard asks for, while ingest runs.
#
#   scripts/bench-queries.sh samples   # GET /api/v1/machines/{id}/samples for one host and one
#       container over the last 15 minutes, 24 hours and 30 days (step = range / 1000, tier auto:
#       raw, minute, hour), BENCH_QUERIES (200) each, p50/p99; history: 20 hosts x 10 containers
#       backfilled over 31 days at 60 s and the last hour at 1 s (RETENTION_RAW=32d, so the
#       backfill is accepted), then 200 hosts x 10 containers ingested live at 1 s meanwhile
#   scripts/bench-queries.sh history   # GET /api/v1/alerts?from=&to= over BENCH_EVENTS
#       (10,000,000) stored alert events spread over 30 days: one day, one week, the last hour
#
# curl's time_total per request; the client runs on the same 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh
MODE=${1:-samples}
QUERIES=${BENCH_QUERIES:-200}
EVENTS=${BENCH_EVENTS:-10000000}
API=http://127.0.0.1:18004

bench_setup

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

if [ "$MODE" = history ]; then
    DB=bench_history_$STAMP
    new_db "$DB"
    start_backend "$DB" 18004
    # one real event as the template: a host over the original system's CPU default (85)
    now=$(date +%s)
    curl -sf -o /dev/null -H 'content-type: application/json' "$API/api/v1/ingest" --data-binary \
        "[{\"schema\":1,\"record_id\":\"t1\",\"host_id\":\"h\",\"host_name\":\"h\",\"sampled_at\":\"$(iso "$now")\",\"interval_ms\":1000,\"host\":{\"cpu_percent\":99}}]"
    until [ "$("${SQL[@]}" "$DB" -e "SELECT COUNT(*) FROM alert_events")" -gt 0 ]; do sleep 0.2; done
    start=$((now - 30 * 86400))
    echo "storing $EVENTS alert events over 30 days" >&2
    t0=$SECONDS
    for part in $(seq 0 9); do
        n=$((EVENTS / 10))
        "${SQL[@]}" "$DB" -e "INSERT INTO alert_events (alert_id, kind, rule_id, machine_id, machine_kind, state, severity, at, event)
            SELECT LPAD(HEX($part * $n + s.seq), 32, '0'), e.kind, e.rule_id, CONCAT('host-', (s.seq * 7919) MOD 2000), e.machine_kind,
                   ELT(1 + s.seq MOD 3, 'pending', 'firing', 'resolved'), e.severity,
                   FROM_UNIXTIME($start + ($part * $n + s.seq) * 30 * 86400 DIV $EVENTS), e.event
            FROM (SELECT * FROM alert_events ORDER BY id LIMIT 1) e JOIN seq_1_to_$n s"
    done
    echo "  stored in $((SECONDS - t0)) s: $("${SQL[@]}" "$DB" -e "SELECT COUNT(*) FROM alert_events") events" >&2
    "${SQL[@]}" "$DB" -e "ANALYZE TABLE alert_events" >/dev/null
    days=() weeks=()
    for i in $(seq 0 19); do
        d=$(date -u -d "@$((start + (i * 37 % 29 + 1) * 86400))" +%Y-%m-%d)
        days+=("$API/api/v1/alerts?from=$d&to=$d")
        w=$(date -u -d "@$((start + (i * 13 % 22 + 1) * 86400))" +%Y-%m-%d)
        e=$(date -u -d "@$((start + (i * 13 % 22 + 7) * 86400))" +%Y-%m-%d)
        weeks+=("$API/api/v1/alerts?from=$w&to=$e")
    done
    echo "--- alert history over $EVENTS events"
    timed "one day (100 newest)" "${days[@]}"
    timed "one week (100 newest)" "${weeks[@]}"
    timed "last hour" "$API/api/v1/alerts?from=$(iso $((now - 3600)))"
    timed "one day, one machine" "$API/api/v1/alerts?from=$(date -u -d "@$((start + 86400 * 10))" +%Y-%m-%d)&to=$(date -u -d "@$((start + 86400 * 10))" +%Y-%m-%d)&machine=host-42"
    timed "one day, page 2 (cursor)" "$API/api/v1/alerts?from=$(date -u -d "@$((start + 86400 * 10))" +%Y-%m-%d)&to=$(date -u -d "@$((start + 86400 * 10))" +%Y-%m-%d)&cursor=$((EVENTS / 3))"
    exit 0
fi

[ "$MODE" = samples ] || { echo "usage: $0 [samples|history]" >&2; exit 2; }
DB=bench_queries_$STAMP
TOPIC=bench-queries-$STAMP
new_db "$DB"
new_topic "$TOPIC"
start_backend "$DB" 18004 RETENTION_RAW=32d STORAGE_COMPACT_AFTER=1m
start_consumer "$TOPIC" 18004 18000
sim() {
    BOOTSTRAP_SERVER=$SRMON_TEST_BOOTSTRAP KAFKA_TOPIC_NAME=$TOPIC COLLECTOR_LISTEN=127.0.0.1:${PORT:-18001} RUST_LOG=warn \
        "$BIN/collector" simulate --containers 10 --seed 1 "$@"
}
now=$(date +%s)
ticks=$(((31 * 86400 - 3600) / 60))
echo "backfill: 20 hosts x 10 containers, 31 days at 60 s ($((ticks * 20)) records), the last hour at 1 s (72,000)" >&2
t0=$SECONDS
sim --hosts 20 --interval 60s --start "$(iso $((now - 31 * 86400)))" --records $((ticks * 20)) >"$WORK/sim1.txt" 2>"$WORK/sim1.log"
sim --hosts 20 --interval 1s --start "$(iso $((now - 3600)))" >"$WORK/sim2.txt" 2>"$WORK/sim2.log"
cat "$WORK/sim1.txt" "$WORK/sim2.txt"
want=$(cat "$WORK/sim1.txt" "$WORK/sim2.txt" | awk '{for (i = 1; i <= NF; i++) if ($i == "produced") s += $(i + 1)} END {print s}')
wait_stored "$DB" "$want" 3600
echo "  stored $want records in $((SECONDS - t0)) s" >&2
# live ingest meanwhile: the 20 backfilled hosts go on at 1 s (so the last 15 minutes have
# samples however long the backfill's compaction took), and 200 other hosts at 1 s
PORT=18011 bg sim --hosts 200 --interval 1s --host-prefix live
PORT=18012 bg sim --hosts 20 --interval 1s
until [ "$("${SQL[@]}" "$DB" -e "SELECT COUNT(*) FROM raw_recent WHERE sampled_at < NOW(3) - INTERVAL 90 SECOND")" -eq 0 ]; do sleep 2; done
sleep 20
HOST=sim-host-0007
CONTAINER=$(curl -s "$API/api/v1/machines" | python3 -c 'import json,sys; print(next(m["id"] for m in json.load(sys.stdin)["machines"] if m.get("host_id") == "sim-host-0007"))')
echo "--- samples of one machine while 200 hosts x 10 containers are ingested at 1 s"
for m in "$HOST" "$CONTAINER"; do
    for spec in "15 minutes:900" "24 hours:86400" "30 days:2592000"; do
        name=${spec%%:*} span=${spec##*:}
        step=$(awk -v s="$span" 'BEGIN {printf "%g", s / 1000}')
        now=$(date +%s)
        curl -s "$API/api/v1/machines/$m/samples?from=$(iso $((now - span)))&step=$step&metric=cpu_percent,mem_used_bytes" -o "$WORK/q.json"
        tier=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["tier"], len(d["samples"]), "points")' "$WORK/q.json")
        kind=host
        [ "$m" = "$HOST" ] || kind=container
        timed "$kind, $name ($tier)" "$API/api/v1/machines/$m/samples?from=$(iso $((now - span)))&step=$step&metric=cpu_percent,mem_used_bytes"
    done
done
echo "  stored while measuring: $(metric "$API/metrics" api_ingest_records_total) records offered in total; consumer lag $(metric http://127.0.0.1:18000/metrics consumer_lag_records)"
