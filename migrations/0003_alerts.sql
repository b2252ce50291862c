-- Alerting: threshold rules, every alert state change (the SSE event log), the engine's saved
-- state, and silences.

-- Threshold rules. `rule` is the engine's rule as JSON (crate::alerts::Rule, its `id` equal to
-- this row's id). `compat_key` marks the global rules the original system's threshold-setting
-- endpoints manage (e.g. `over.cpuPercent`, `under.temperature`).
CREATE TABLE alert_rules (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    rule         TEXT NOT NULL,
    compat_key   VARCHAR(64) NULL,
    created_at   DATETIME(3) NOT NULL,
    updated_at   DATETIME(3) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_alert_rules_compat (compat_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Every alert state change, in commit order: `id` is the monotonic SSE event id (events are
-- written by one writer at a time, so ids commit in order). `event` is the AlertEvent as JSON.
CREATE TABLE alert_events (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    alert_id      CHAR(32) NOT NULL,
    kind          VARCHAR(32) NOT NULL,
    rule_id       BIGINT UNSIGNED NULL,
    machine_id    VARCHAR(128) NOT NULL,
    machine_kind  ENUM('host', 'container') NOT NULL,
    state         ENUM('pending', 'firing', 'resolved', 'cancelled', 'info') NOT NULL,
    severity      ENUM('info', 'warning', 'critical') NOT NULL,
    at            DATETIME(3) NOT NULL,
    event         TEXT NOT NULL,
    PRIMARY KEY (id),
    KEY ix_alert_events_at (at),
    KEY ix_alert_events_machine (machine_id, at),
    KEY ix_alert_events_alert (alert_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The engine's state (crate::alerts::EngineState as JSON), one row, saved in the same
-- transaction as the events it produced and periodically; `last_event_id` is the newest event
-- the state includes.
CREATE TABLE alert_engine_state (
    id             TINYINT UNSIGNED NOT NULL,
    state          MEDIUMTEXT NOT NULL,
    last_event_id  BIGINT UNSIGNED NOT NULL,
    saved_at       DATETIME(3) NOT NULL,
    PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Silences: notifications muted for a machine and/or rule (or alert kind) over a time window;
-- events are still recorded.
CREATE TABLE silences (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    machine_id   VARCHAR(128) NULL,
    rule_id      BIGINT UNSIGNED NULL,
    kind         VARCHAR(32) NULL,
    starts_at    DATETIME(3) NOT NULL,
    ends_at      DATETIME(3) NOT NULL,
    comment      VARCHAR(1000) NOT NULL DEFAULT '',
    created_at   DATETIME(3) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_silences_ends (ends_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
