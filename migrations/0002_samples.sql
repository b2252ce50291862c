-- Samples: narrow numeric rows keyed by (machine_id, sampled_at), the key of the common query
-- "one machine over a time range". The key already contains sampled_at, so the tables can later be
-- partitioned by day (RANGE COLUMNS(sampled_at)) and retention can drop whole partitions.
--
-- Rates and percentages are FLOAT (4 bytes, ~7 significant digits); byte counts are exact.
-- A NULL is a value that was not measured (never a fake 0).

CREATE TABLE host_samples (
    machine_id                INT UNSIGNED NOT NULL,
    sampled_at                DATETIME(3) NOT NULL,
    cpu_percent               FLOAT NULL,
    cpu_cores                 SMALLINT UNSIGNED NULL,
    load1                     FLOAT NULL,
    load5                     FLOAT NULL,
    load15                    FLOAT NULL,
    mem_total_bytes           BIGINT UNSIGNED NULL,
    mem_used_bytes            BIGINT UNSIGNED NULL,
    mem_available_bytes       BIGINT UNSIGNED NULL,
    mem_percent               FLOAT NULL,
    swap_total_bytes          BIGINT UNSIGNED NULL,
    swap_used_bytes           BIGINT UNSIGNED NULL,
    disk_read_bytes_per_sec   FLOAT NULL,
    disk_write_bytes_per_sec  FLOAT NULL,
    net_rx_bytes_per_sec      FLOAT NULL,
    net_tx_bytes_per_sec      FLOAT NULL,
    uptime_secs               INT UNSIGNED NULL,
    -- compact JSON of the list-valued fields: per_core_percent, interfaces, filesystems,
    -- temperatures_c (keys as on the wire; NULL when all are absent)
    details                   MEDIUMTEXT NULL,
    PRIMARY KEY (machine_id, sampled_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE container_samples (
    machine_id                INT UNSIGNED NOT NULL,
    sampled_at                DATETIME(3) NOT NULL,
    cpu_percent               FLOAT NULL,
    mem_used_bytes            BIGINT UNSIGNED NULL,
    mem_limit_bytes           BIGINT UNSIGNED NULL,
    mem_percent               FLOAT NULL,
    net_rx_bytes_per_sec      FLOAT NULL,
    net_tx_bytes_per_sec      FLOAT NULL,
    blk_read_bytes_per_sec    FLOAT NULL,
    blk_write_bytes_per_sec   FLOAT NULL,
    pids                      INT UNSIGNED NULL,
    -- Docker's state; a state outside this list is stored as 'other' (machines.state keeps the text)
    state                     ENUM('created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead', 'other') NOT NULL,
    health                    ENUM('starting', 'healthy', 'unhealthy', 'none') NULL,
    restart_count             INT UNSIGNED NULL,
    PRIMARY KEY (machine_id, sampled_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE container_events (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    machine_id        INT UNSIGNED NOT NULL,
    host_machine_id   INT UNSIGNED NOT NULL,
    kind              ENUM('container_started', 'container_died', 'container_oom', 'container_unhealthy',
                           'container_healthy', 'container_removed') NOT NULL,
    exit_code         INT NULL,
    at                DATETIME(3) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_container_events_machine (machine_id, at),
    KEY ix_container_events_host (host_machine_id, at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
