-- The alert engine's state per machine (crate::alerts::MachinePart): one row per host and per
-- container with open alerts, written only when it changed. `alert_engine_state` keeps the
-- header (version, rules fingerprint) and the newest event id the saved state includes; both
-- are written in the same transaction as the events. One JSON document for a whole fleet grew
-- past MySQL's max_allowed_packet (16 MB by default) at 2,000 hosts x 10 containers.
CREATE TABLE alert_engine_machines (
    kind        VARCHAR(16) NOT NULL,
    machine_id  VARCHAR(255) NOT NULL,
    state       MEDIUMTEXT NOT NULL,
    PRIMARY KEY (kind, machine_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
