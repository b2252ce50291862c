#!/usr/bin/env python3
"""Raw MariaDB insert rate for rows equivalent to what the pipeline stores.

Creates, in the given database, tables of the narrow one-row-per-sample shape (the previous
release's host_samples and container_samples, migrations/0002_samples.sql), generates the same
number of rows with 1,000-row multi-row INSERTs (the details column filled to --details-len
bytes), and times one `mariadb` client loading them. Prints `raw_rows_per_sec <n>` and
`raw_seconds <s>` on stdout.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time


def mariadb(args, db, sql=None, stdin=None):
    cmd = ["mariadb", "-h", args.host, "-P", str(args.port), "-u", args.user, f"-p{args.password}", "-N", "-B", db]
    if sql is not None:
        cmd += ["-e", sql]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, stdin=stdin).stdout


# The previous release's sample tables (migrations/0002_samples.sql).
SHAPES = {
    "host_samples": """CREATE TABLE {name} (
        machine_id INT UNSIGNED NOT NULL, sampled_at DATETIME(3) NOT NULL, cpu_percent FLOAT NULL,
        cpu_cores SMALLINT UNSIGNED NULL, load1 FLOAT NULL, load5 FLOAT NULL, load15 FLOAT NULL,
        mem_total_bytes BIGINT UNSIGNED NULL, mem_used_bytes BIGINT UNSIGNED NULL, mem_available_bytes BIGINT UNSIGNED NULL,
        mem_percent FLOAT NULL, swap_total_bytes BIGINT UNSIGNED NULL, swap_used_bytes BIGINT UNSIGNED NULL,
        disk_read_bytes_per_sec FLOAT NULL, disk_write_bytes_per_sec FLOAT NULL, net_rx_bytes_per_sec FLOAT NULL,
        net_tx_bytes_per_sec FLOAT NULL, uptime_secs INT UNSIGNED NULL, details MEDIUMTEXT NULL,
        PRIMARY KEY (machine_id, sampled_at)) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin""",
    "container_samples": """CREATE TABLE {name} (
        machine_id INT UNSIGNED NOT NULL, sampled_at DATETIME(3) NOT NULL, cpu_percent FLOAT NULL,
        mem_used_bytes BIGINT UNSIGNED NULL, mem_limit_bytes BIGINT UNSIGNED NULL, mem_percent FLOAT NULL,
        net_rx_bytes_per_sec FLOAT NULL, net_tx_bytes_per_sec FLOAT NULL, blk_read_bytes_per_sec FLOAT NULL,
        blk_write_bytes_per_sec FLOAT NULL, pids INT UNSIGNED NULL,
        state ENUM('created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead', 'other') NOT NULL,
        health ENUM('starting', 'healthy', 'unhealthy', 'none') NULL, restart_count INT UNSIGNED NULL,
        PRIMARY KEY (machine_id, sampled_at)) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin""",
}


def columns(args, table):
    out = mariadb(args, args.db, "SELECT column_name, data_type, column_type FROM information_schema.columns "
                  f"WHERE table_schema = DATABASE() AND table_name = 'raw_{table}' ORDER BY ordinal_position")
    return [line.split("\t") for line in out.strip().splitlines()]


def value(name, data_type, column_type, i, machines, details_len):
    if name == "machine_id":
        return str(i % machines + 1)
    if name == "sampled_at":
        t = 1_800_000_000 + i // machines
        return f"FROM_UNIXTIME({t})"
    if data_type in ("float", "double", "decimal"):
        return f"{random.random() * 100:.3f}"
    if data_type in ("tinyint", "smallint", "mediumint", "int", "bigint"):
        return str(random.randint(0, 60000) if "big" not in data_type else random.randint(0, 1 << 40))
    if data_type == "enum":
        return "'" + column_type.split("'")[1] + "'"
    if data_type in ("mediumtext", "text", "longtext", "varchar"):
        return "'" + ("x" * details_len) + "'"
    return "NULL"


def write_inserts(f, args, table, rows, machines, details_len):
    cols = columns(args, table)
    names = ", ".join(c[0] for c in cols)
    for start in range(0, rows, 1000):
        f.write(f"INSERT INTO raw_{table} ({names}) VALUES ")
        f.write(",".join("(" + ",".join(value(n, d, t, i, machines, details_len) for n, d, t in cols) + ")"
                         for i in range(start, min(rows, start + 1000))))
        f.write(";\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3306)
    p.add_argument("--user", default="srmon")
    p.add_argument("--password", default="srmon")
    p.add_argument("--host-rows", type=int, required=True)
    p.add_argument("--container-rows", type=int, required=True)
    p.add_argument("--hosts", type=int, required=True)
    p.add_argument("--details-len", type=int, default=500)
    args = p.parse_args()

    details_len = args.details_len
    for t in ("host_samples", "container_samples"):
        mariadb(args, args.db, f"DROP TABLE IF EXISTS raw_{t}; " + SHAPES[t].format(name=f"raw_{t}"))
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        write_inserts(f, args, "host_samples", args.host_rows, args.hosts, details_len)
        write_inserts(f, args, "container_samples", args.container_rows, args.hosts * max(1, args.container_rows // max(1, args.host_rows)), 0)
        path = f.name
    try:
        with open(path) as sql:
            started = time.monotonic()
            mariadb(args, args.db, stdin=sql)
            elapsed = time.monotonic() - started
    finally:
        os.unlink(path)
    rows = args.host_rows + args.container_rows
    print(f"raw_rows_per_sec {rows / elapsed:.0f}")
    print(f"raw_seconds {elapsed:.2f}")
    for t in ("host_samples", "container_samples"):
        mariadb(args, args.db, f"DROP TABLE raw_{t}")


if __name__ == "__main__":
    sys.exit(main())
