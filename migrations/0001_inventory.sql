-- Inventory and idempotency set.
--
-- Every sample row refers to a machine by a small integer id from `machines` instead of a
-- 64-character string. Identifiers compare byte for byte (utf8mb4_bin): `Web` and `web` are two
-- containers, `R1` and `r1` two records.

CREATE TABLE machines (
    id               INT UNSIGNED NOT NULL AUTO_INCREMENT,
    kind             ENUM('host', 'container') NOT NULL,
    -- host_id of a host, Docker id of a container
    ext_id           VARCHAR(128) NOT NULL,
    name             VARCHAR(255) NOT NULL DEFAULT '',
    -- containers: the host they run on
    host_machine_id  INT UNSIGNED NULL,
    image            VARCHAR(255) NULL,
    state            VARCHAR(32) NULL,
    health           VARCHAR(32) NULL,
    restart_count    INT UNSIGNED NULL,
    -- hosts: interval_ms of the latest record (decides when a host counts as stale)
    interval_ms      INT UNSIGNED NULL,
    first_seen       DATETIME(3) NOT NULL,
    last_seen        DATETIME(3) NOT NULL,
    removed_at       DATETIME(3) NULL,
    -- containers: the container this one replaced (same host, same name, earlier first_seen)
    predecessor_id   INT UNSIGNED NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_machines_kind_ext (kind, ext_id),
    KEY ix_machines_host_name (host_machine_id, name),
    KEY ix_machines_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One row per stored record: a record_id found here is a duplicate and changes nothing.
CREATE TABLE ingested_records (
    record_id        VARCHAR(128) NOT NULL,
    machine_id       INT UNSIGNED NOT NULL,
    sampled_at       DATETIME(3) NOT NULL,
    received_at      DATETIME(3) NOT NULL,
    PRIMARY KEY (record_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
