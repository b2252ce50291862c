-- The storage layout as measured in issue 6's benchmarks, from the one 0005 created (0005 stays
-- as it was first released, so databases that applied it still migrate).
--
-- `raw_recent` time-major: rows append as they arrive and go oldest first, so freed pages come
-- back whole; one host's rows are found through the unique (host_machine_id, sampled_at).
ALTER TABLE raw_recent
    DROP PRIMARY KEY,
    ADD PRIMARY KEY (sampled_at, host_machine_id),
    ADD UNIQUE KEY uq_raw_recent_host_time (host_machine_id, sampled_at);

-- Payloads are frames now (a 4-byte little-endian length, then the encoded samples), so that
-- frames concatenate: what 0005's backend stored (one body per row) becomes one frame.
UPDATE raw_recent SET payload = CONCAT(CHAR(LENGTH(payload) MOD 256, LENGTH(payload) DIV 256 MOD 256,
    LENGTH(payload) DIV 65536 MOD 256, LENGTH(payload) DIV 16777216 USING binary), payload);

-- Chunks are 20-minute windows built from frames: a window still filling gets one frame appended
-- per compaction (nothing stored is decoded again); once closed it is rewritten as one.
ALTER TABLE raw_chunks ADD COLUMN segments SMALLINT UNSIGNED NOT NULL DEFAULT 1 AFTER containers;
UPDATE raw_chunks SET payload = CONCAT(CHAR(LENGTH(payload) MOD 256, LENGTH(payload) DIV 256 MOD 256,
    LENGTH(payload) DIV 65536 MOD 256, LENGTH(payload) DIV 16777216 USING binary), payload);
-- 0005's chunks were 10-minute windows: the second half of a 20-minute window joins the first
-- as its second frame, or, alone, becomes its window's chunk (so every sample is found in the
-- chunk of its 20-minute window, as duplicate checks and compaction expect).
UPDATE raw_chunks a JOIN raw_chunks b
    ON b.host_machine_id = a.host_machine_id AND b.chunk_start = a.chunk_start + INTERVAL 10 MINUTE
    SET a.payload = CONCAT(a.payload, b.payload), a.samples = a.samples + b.samples,
        a.containers = a.containers + b.containers, a.last_at = GREATEST(a.last_at, b.last_at),
        a.segments = a.segments + b.segments
    WHERE MINUTE(a.chunk_start) MOD 20 = 0;
DELETE b FROM raw_chunks b JOIN raw_chunks a
    ON a.host_machine_id = b.host_machine_id AND a.chunk_start = b.chunk_start - INTERVAL 10 MINUTE
    WHERE MINUTE(b.chunk_start) MOD 20 = 10;
UPDATE raw_chunks SET chunk_start = chunk_start - INTERVAL 10 MINUTE WHERE MINUTE(chunk_start) MOD 20 = 10;

-- Rollups time-major (primary key bucket first): compaction writes each pass's buckets in key
-- order, so rows append and pages stay full (machine-major keys left them 40-60 % empty); one
-- machine's range is read through (machine_id, bucket). Container rows carry the host whose
-- records carried their samples, in the key. Minute counts fit a SMALLINT.
ALTER TABLE host_minutes
    DROP PRIMARY KEY,
    ADD PRIMARY KEY (bucket, machine_id),
    ADD KEY ix_host_minutes_machine (machine_id, bucket),
    MODIFY cpu_percent_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY load1_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY load5_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY load15_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY mem_used_bytes_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY mem_available_bytes_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY mem_percent_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY swap_used_bytes_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY disk_read_bytes_per_sec_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY disk_write_bytes_per_sec_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY net_rx_bytes_per_sec_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY net_tx_bytes_per_sec_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY temperature_c_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY fs_used_percent_n SMALLINT UNSIGNED NOT NULL DEFAULT 0;

ALTER TABLE host_hours
    DROP PRIMARY KEY,
    ADD PRIMARY KEY (bucket, machine_id),
    ADD KEY ix_host_hours_machine (machine_id, bucket);

ALTER TABLE container_minutes ADD COLUMN host_machine_id INT UNSIGNED NOT NULL DEFAULT 0 AFTER last_at;
UPDATE container_minutes c JOIN machines m ON m.id = c.machine_id
    SET c.host_machine_id = m.host_machine_id WHERE m.host_machine_id IS NOT NULL;
ALTER TABLE container_minutes
    ALTER COLUMN host_machine_id DROP DEFAULT,
    DROP PRIMARY KEY,
    ADD PRIMARY KEY (bucket, host_machine_id, machine_id),
    ADD KEY ix_container_minutes_machine (machine_id, bucket),
    MODIFY cpu_percent_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY mem_used_bytes_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY mem_percent_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY net_rx_bytes_per_sec_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY net_tx_bytes_per_sec_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY blk_read_bytes_per_sec_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY blk_write_bytes_per_sec_n SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    MODIFY pids_n SMALLINT UNSIGNED NOT NULL DEFAULT 0;

ALTER TABLE container_hours ADD COLUMN host_machine_id INT UNSIGNED NOT NULL DEFAULT 0 AFTER last_at;
UPDATE container_hours c JOIN machines m ON m.id = c.machine_id
    SET c.host_machine_id = m.host_machine_id WHERE m.host_machine_id IS NOT NULL;
ALTER TABLE container_hours
    ALTER COLUMN host_machine_id DROP DEFAULT,
    DROP PRIMARY KEY,
    ADD PRIMARY KEY (bucket, host_machine_id, machine_id),
    ADD KEY ix_container_hours_machine (machine_id, bucket);

-- Marks the storage task keeps across restarts. `raw_floor`: the start of the oldest day the
-- raw tier still holds after STORAGE_MAX_BYTES dropped days inside RETENTION_RAW. Ingest refuses
-- records older than it: their samples could no longer be recognised as already stored, and
-- storing them again would count them twice in the rollups.
CREATE TABLE storage_marks (
    name VARCHAR(32) NOT NULL PRIMARY KEY,
    at   DATETIME(3) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
