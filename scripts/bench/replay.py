#!/usr/bin/env python3
"""Replays records captured from the real collector (`collector --print`, one JSON record per
line) into one or more backends' POST /api/v1/ingest, as REPLICAS hosts and COPIES back-to-back
copies in time: copy k is shifted back by k times the captured span, so the replay ends where
the capture did. Each replica gets its own host id, container ids and record ids; the values
are the captured ones. Used by scripts/bench-storage.sh real, so that one machine's records fill
tables large enough that InnoDB's allocation units (pages, extents, one segment per partition)
stop dominating the bytes per value."""

import argparse
import datetime as dt
import hashlib
import json
import sys
import urllib.request
import uuid


def parse_time(s):
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)


def fmt_time(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def post(url, batch):
    body = json.dumps(batch).encode()
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        reply = json.load(r)
    if reply.get("accepted", 0) + reply.get("duplicates", 0) != len(batch):
        sys.exit(f"{url}: not everything accepted: {json.dumps(reply)[:500]}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--records", required=True)
    p.add_argument("--replicas", type=int, default=50)
    p.add_argument("--copies", type=int, default=6)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--url", action="append", required=True, help="an ingest URL (repeatable)")
    args = p.parse_args()

    records = [json.loads(line) for line in open(args.records) if line.strip()]
    if not records:
        sys.exit("no records captured")
    times = [parse_time(r["sampled_at"]) for r in records]
    span = times[-1] - times[0] + dt.timedelta(milliseconds=records[-1].get("interval_ms", 1000))
    sent = 0
    batch = []
    # oldest copy first, each tick's records of every replica together: ingest in time order
    for k in reversed(range(args.copies)):
        shift = span * k
        for rec, at in zip(records, times):
            for rep in range(args.replicas):
                r = json.loads(json.dumps(rec))
                r["host_id"] = f"{rec['host_id']}-{rep:03d}"
                r["host_name"] = f"{rec['host_name']}-{rep:03d}"
                r["record_id"] = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{rec['record_id']}/{rep}/{k}"))
                r["sampled_at"] = fmt_time(at - shift)
                for c in r.get("containers") or []:
                    c["id"] = hashlib.sha256(f"{c['id']}/{rep}".encode()).hexdigest()
                for e in r.get("events") or []:
                    for key in ("container_id", "id"):
                        if key in e:
                            e[key] = hashlib.sha256(f"{e[key]}/{rep}".encode()).hexdigest()
                    if "at" in e:
                        e["at"] = fmt_time(parse_time(e["at"]) - shift)
                batch.append(r)
                if len(batch) >= args.batch:
                    for url in args.url:
                        post(url, batch)
                    sent += len(batch)
                    batch = []
    if batch:
        for url in args.url:
            post(url, batch)
        sent += len(batch)
    print(f"replayed {len(records)} captured records as {args.replicas} hosts x {args.copies} copies: {sent} records, span {span} per copy")


if __name__ == "__main__":
    main()
