-- Marks the storage task keeps across restarts. `raw_floor`: the start of the oldest day the
-- raw tier still holds after STORAGE_MAX_BYTES dropped days inside RETENTION_RAW. Ingest refuses
-- records older than it: their samples could no longer be recognised as already stored, and
-- storing them again would count them twice in the rollups.
CREATE TABLE storage_marks (
    name VARCHAR(32) NOT NULL PRIMARY KEY,
    at   DATETIME(3) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
