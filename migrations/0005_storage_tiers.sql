-- Storage tiers (issue 6): a compact raw tier, per-minute and per-hour rollups, retention.
--
-- Raw samples first land in `raw_recent`, one row per record (the host and its containers,
-- encoded by the `codec` crate), and are moved, once older than STORAGE_COMPACT_AFTER, into
-- `raw_chunks`: one row per host and 10-minute window, columnar and zstd-compressed. The move
-- happens in one transaction with the rollup rows it adds to, so a crash leaves the record in
-- exactly one place. `raw_recent.record_key` (16 bytes of SHA-256 of the record id) is the
-- duplicate set of records not yet compacted; a compacted record is recognised by its host and
-- sample time, as long as the raw tier keeps it.
--
-- Rollups are plain rows (Grafana's MySQL data source and ad-hoc SQL read them directly): per
-- machine and minute (or hour), per metric min / max / avg / last and the count `_n` of samples
-- that measured it; `last` is the value in the bucket's latest sample (`last_at`). FLOAT: about
-- 7 significant digits.
--
-- `raw_chunks` and the rollup tables are partitioned by day (hours: by month); the backend adds
-- partitions ahead of time and retention drops whole partitions. The legacy tables
-- `host_samples`, `container_samples` and `ingested_records` are converted into the new tiers
-- by the backend after the upgrade, and dropped once empty.

CREATE TABLE raw_recent (
    host_machine_id  INT UNSIGNED NOT NULL,
    sampled_at       DATETIME(3) NOT NULL,
    record_key       BINARY(16) NOT NULL,
    containers       SMALLINT UNSIGNED NOT NULL,
    payload          MEDIUMBLOB NOT NULL,
    PRIMARY KEY (host_machine_id, sampled_at),
    UNIQUE KEY uq_raw_recent_record (record_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE raw_chunks (
    host_machine_id  INT UNSIGNED NOT NULL,
    chunk_start      DATETIME NOT NULL,
    first_at         DATETIME(3) NOT NULL,
    last_at          DATETIME(3) NOT NULL,
    samples          INT UNSIGNED NOT NULL,
    containers       INT UNSIGNED NOT NULL,
    payload          LONGBLOB NOT NULL,
    PRIMARY KEY (host_machine_id, chunk_start)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  PARTITION BY RANGE COLUMNS (chunk_start) (PARTITION p_future VALUES LESS THAN (MAXVALUE));

-- Per host and minute.
CREATE TABLE host_minutes (
    machine_id  INT UNSIGNED NOT NULL,
    bucket      DATETIME NOT NULL,
    last_at     DATETIME(3) NOT NULL,
    cpu_percent_min FLOAT NULL, cpu_percent_max FLOAT NULL, cpu_percent_avg FLOAT NULL, cpu_percent_last FLOAT NULL, cpu_percent_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    load1_min FLOAT NULL, load1_max FLOAT NULL, load1_avg FLOAT NULL, load1_last FLOAT NULL, load1_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    load5_min FLOAT NULL, load5_max FLOAT NULL, load5_avg FLOAT NULL, load5_last FLOAT NULL, load5_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    load15_min FLOAT NULL, load15_max FLOAT NULL, load15_avg FLOAT NULL, load15_last FLOAT NULL, load15_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    mem_used_bytes_min FLOAT NULL, mem_used_bytes_max FLOAT NULL, mem_used_bytes_avg FLOAT NULL, mem_used_bytes_last FLOAT NULL, mem_used_bytes_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    mem_available_bytes_min FLOAT NULL, mem_available_bytes_max FLOAT NULL, mem_available_bytes_avg FLOAT NULL, mem_available_bytes_last FLOAT NULL, mem_available_bytes_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    mem_percent_min FLOAT NULL, mem_percent_max FLOAT NULL, mem_percent_avg FLOAT NULL, mem_percent_last FLOAT NULL, mem_percent_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    swap_used_bytes_min FLOAT NULL, swap_used_bytes_max FLOAT NULL, swap_used_bytes_avg FLOAT NULL, swap_used_bytes_last FLOAT NULL, swap_used_bytes_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    disk_read_bytes_per_sec_min FLOAT NULL, disk_read_bytes_per_sec_max FLOAT NULL, disk_read_bytes_per_sec_avg FLOAT NULL, disk_read_bytes_per_sec_last FLOAT NULL, disk_read_bytes_per_sec_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    disk_write_bytes_per_sec_min FLOAT NULL, disk_write_bytes_per_sec_max FLOAT NULL, disk_write_bytes_per_sec_avg FLOAT NULL, disk_write_bytes_per_sec_last FLOAT NULL, disk_write_bytes_per_sec_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    net_rx_bytes_per_sec_min FLOAT NULL, net_rx_bytes_per_sec_max FLOAT NULL, net_rx_bytes_per_sec_avg FLOAT NULL, net_rx_bytes_per_sec_last FLOAT NULL, net_rx_bytes_per_sec_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    net_tx_bytes_per_sec_min FLOAT NULL, net_tx_bytes_per_sec_max FLOAT NULL, net_tx_bytes_per_sec_avg FLOAT NULL, net_tx_bytes_per_sec_last FLOAT NULL, net_tx_bytes_per_sec_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    temperature_c_min FLOAT NULL, temperature_c_max FLOAT NULL, temperature_c_avg FLOAT NULL, temperature_c_last FLOAT NULL, temperature_c_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    fs_used_percent_min FLOAT NULL, fs_used_percent_max FLOAT NULL, fs_used_percent_avg FLOAT NULL, fs_used_percent_last FLOAT NULL, fs_used_percent_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (machine_id, bucket)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  PARTITION BY RANGE COLUMNS (bucket) (PARTITION p_future VALUES LESS THAN (MAXVALUE));

-- Per container and minute.
CREATE TABLE container_minutes (
    machine_id  INT UNSIGNED NOT NULL,
    bucket      DATETIME NOT NULL,
    last_at     DATETIME(3) NOT NULL,
    cpu_percent_min FLOAT NULL, cpu_percent_max FLOAT NULL, cpu_percent_avg FLOAT NULL, cpu_percent_last FLOAT NULL, cpu_percent_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    mem_used_bytes_min FLOAT NULL, mem_used_bytes_max FLOAT NULL, mem_used_bytes_avg FLOAT NULL, mem_used_bytes_last FLOAT NULL, mem_used_bytes_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    mem_percent_min FLOAT NULL, mem_percent_max FLOAT NULL, mem_percent_avg FLOAT NULL, mem_percent_last FLOAT NULL, mem_percent_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    net_rx_bytes_per_sec_min FLOAT NULL, net_rx_bytes_per_sec_max FLOAT NULL, net_rx_bytes_per_sec_avg FLOAT NULL, net_rx_bytes_per_sec_last FLOAT NULL, net_rx_bytes_per_sec_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    net_tx_bytes_per_sec_min FLOAT NULL, net_tx_bytes_per_sec_max FLOAT NULL, net_tx_bytes_per_sec_avg FLOAT NULL, net_tx_bytes_per_sec_last FLOAT NULL, net_tx_bytes_per_sec_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    blk_read_bytes_per_sec_min FLOAT NULL, blk_read_bytes_per_sec_max FLOAT NULL, blk_read_bytes_per_sec_avg FLOAT NULL, blk_read_bytes_per_sec_last FLOAT NULL, blk_read_bytes_per_sec_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    blk_write_bytes_per_sec_min FLOAT NULL, blk_write_bytes_per_sec_max FLOAT NULL, blk_write_bytes_per_sec_avg FLOAT NULL, blk_write_bytes_per_sec_last FLOAT NULL, blk_write_bytes_per_sec_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    pids_min FLOAT NULL, pids_max FLOAT NULL, pids_avg FLOAT NULL, pids_last FLOAT NULL, pids_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (machine_id, bucket)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  PARTITION BY RANGE COLUMNS (bucket) (PARTITION p_future VALUES LESS THAN (MAXVALUE));

-- Per host and hour.
CREATE TABLE host_hours (
    machine_id  INT UNSIGNED NOT NULL,
    bucket      DATETIME NOT NULL,
    last_at     DATETIME(3) NOT NULL,
    cpu_percent_min FLOAT NULL, cpu_percent_max FLOAT NULL, cpu_percent_avg FLOAT NULL, cpu_percent_last FLOAT NULL, cpu_percent_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    load1_min FLOAT NULL, load1_max FLOAT NULL, load1_avg FLOAT NULL, load1_last FLOAT NULL, load1_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    load5_min FLOAT NULL, load5_max FLOAT NULL, load5_avg FLOAT NULL, load5_last FLOAT NULL, load5_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    load15_min FLOAT NULL, load15_max FLOAT NULL, load15_avg FLOAT NULL, load15_last FLOAT NULL, load15_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    mem_used_bytes_min FLOAT NULL, mem_used_bytes_max FLOAT NULL, mem_used_bytes_avg FLOAT NULL, mem_used_bytes_last FLOAT NULL, mem_used_bytes_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    mem_available_bytes_min FLOAT NULL, mem_available_bytes_max FLOAT NULL, mem_available_bytes_avg FLOAT NULL, mem_available_bytes_last FLOAT NULL, mem_available_bytes_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    mem_percent_min FLOAT NULL, mem_percent_max FLOAT NULL, mem_percent_avg FLOAT NULL, mem_percent_last FLOAT NULL, mem_percent_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    swap_used_bytes_min FLOAT NULL, swap_used_bytes_max FLOAT NULL, swap_used_bytes_avg FLOAT NULL, swap_used_bytes_last FLOAT NULL, swap_used_bytes_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    disk_read_bytes_per_sec_min FLOAT NULL, disk_read_bytes_per_sec_max FLOAT NULL, disk_read_bytes_per_sec_avg FLOAT NULL, disk_read_bytes_per_sec_last FLOAT NULL, disk_read_bytes_per_sec_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    disk_write_bytes_per_sec_min FLOAT NULL, disk_write_bytes_per_sec_max FLOAT NULL, disk_write_bytes_per_sec_avg FLOAT NULL, disk_write_bytes_per_sec_last FLOAT NULL, disk_write_bytes_per_sec_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    net_rx_bytes_per_sec_min FLOAT NULL, net_rx_bytes_per_sec_max FLOAT NULL, net_rx_bytes_per_sec_avg FLOAT NULL, net_rx_bytes_per_sec_last FLOAT NULL, net_rx_bytes_per_sec_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    net_tx_bytes_per_sec_min FLOAT NULL, net_tx_bytes_per_sec_max FLOAT NULL, net_tx_bytes_per_sec_avg FLOAT NULL, net_tx_bytes_per_sec_last FLOAT NULL, net_tx_bytes_per_sec_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    temperature_c_min FLOAT NULL, temperature_c_max FLOAT NULL, temperature_c_avg FLOAT NULL, temperature_c_last FLOAT NULL, temperature_c_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    fs_used_percent_min FLOAT NULL, fs_used_percent_max FLOAT NULL, fs_used_percent_avg FLOAT NULL, fs_used_percent_last FLOAT NULL, fs_used_percent_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (machine_id, bucket)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  PARTITION BY RANGE COLUMNS (bucket) (PARTITION p_future VALUES LESS THAN (MAXVALUE));

-- Per container and hour.
CREATE TABLE container_hours (
    machine_id  INT UNSIGNED NOT NULL,
    bucket      DATETIME NOT NULL,
    last_at     DATETIME(3) NOT NULL,
    cpu_percent_min FLOAT NULL, cpu_percent_max FLOAT NULL, cpu_percent_avg FLOAT NULL, cpu_percent_last FLOAT NULL, cpu_percent_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    mem_used_bytes_min FLOAT NULL, mem_used_bytes_max FLOAT NULL, mem_used_bytes_avg FLOAT NULL, mem_used_bytes_last FLOAT NULL, mem_used_bytes_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    mem_percent_min FLOAT NULL, mem_percent_max FLOAT NULL, mem_percent_avg FLOAT NULL, mem_percent_last FLOAT NULL, mem_percent_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    net_rx_bytes_per_sec_min FLOAT NULL, net_rx_bytes_per_sec_max FLOAT NULL, net_rx_bytes_per_sec_avg FLOAT NULL, net_rx_bytes_per_sec_last FLOAT NULL, net_rx_bytes_per_sec_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    net_tx_bytes_per_sec_min FLOAT NULL, net_tx_bytes_per_sec_max FLOAT NULL, net_tx_bytes_per_sec_avg FLOAT NULL, net_tx_bytes_per_sec_last FLOAT NULL, net_tx_bytes_per_sec_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    blk_read_bytes_per_sec_min FLOAT NULL, blk_read_bytes_per_sec_max FLOAT NULL, blk_read_bytes_per_sec_avg FLOAT NULL, blk_read_bytes_per_sec_last FLOAT NULL, blk_read_bytes_per_sec_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    blk_write_bytes_per_sec_min FLOAT NULL, blk_write_bytes_per_sec_max FLOAT NULL, blk_write_bytes_per_sec_avg FLOAT NULL, blk_write_bytes_per_sec_last FLOAT NULL, blk_write_bytes_per_sec_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    pids_min FLOAT NULL, pids_max FLOAT NULL, pids_avg FLOAT NULL, pids_last FLOAT NULL, pids_n MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (machine_id, bucket)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
  PARTITION BY RANGE COLUMNS (bucket) (PARTITION p_future VALUES LESS THAN (MAXVALUE));

-- Retention of container events (kept as long as the minute tier) deletes by time.
ALTER TABLE container_events ADD KEY ix_container_events_at (at);
