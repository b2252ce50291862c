//! Alerting storage (migration 0003): threshold rules, the alert event log, the engine's saved
//! state and silences, plus retention of old events.
//!
//! Events are written by one writer at a time (the alerting service's writer task), one row per
//! event in production order, so their ids are monotonic in commit order: the SSE event ids.

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::mysql::MySqlRow;
use sqlx::{MySql, MySqlConnection, QueryBuilder, Row};

use super::columns::{db_time, opt_text, text, utc};
use super::Store;
use crate::alerts::persist::StateChange;
use crate::alerts::{AlertEvent, AlertKind, AlertState, MachineKind, MachinePart, Rule};
use crate::error::{Error, Result};
use crate::notify::Silence;

/// Alert events per INSERT statement (9 columns each).
const EVENT_CHUNK: usize = 500;

/// A stored threshold rule: the rule (its `id` is the row id) and the compat key, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRule {
    pub rule: Rule,
    /// Set on the global rules the compat threshold-setting endpoints manage.
    pub compat_key: Option<String>,
}

/// One stored alert event and its id (the SSE event id).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: u64,
    pub event: AlertEvent,
}

/// Filters of the event history.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// `at` in `[from, to)`.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub machine_id: Option<String>,
    pub kinds: Vec<AlertKind>,
    pub states: Vec<AlertState>,
    /// Only events after this one in the answer's order (pagination, newest first).
    pub before_id: Option<u64>,
    pub limit: u32,
}

fn sqlx_err(e: sqlx::Error) -> Error {
    Error::from_sqlx(e)
}

fn decode_err(what: &str, e: serde_json::Error) -> Error {
    Error::Storage(sqlx::Error::Decode(format!("{what}: {e}").into()))
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("alert types serialise to JSON")
}

/// The engine state as saved.
#[derive(Debug, Clone)]
pub struct SavedState {
    pub header: String,
    pub parts: Vec<MachinePart>,
    pub last_event_id: u64,
}

/// Machine rows per statement: well under max_allowed_packet even with large parts.
const STATE_CHUNK: usize = 200;

async fn write_state(conn: &mut MySqlConnection, state: &StateChange, last_event_id: u64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO alert_engine_state (id, state, last_event_id, saved_at) VALUES (1, ?, ?, ?) \
         ON DUPLICATE KEY UPDATE state = VALUES(state), last_event_id = VALUES(last_event_id), \
         saved_at = VALUES(saved_at)",
    )
    .bind(&state.header)
    .bind(last_event_id)
    .bind(db_time(Utc::now()))
    .execute(&mut *conn)
    .await?;
    for chunk in state.upserts.chunks(STATE_CHUNK) {
        let mut q = QueryBuilder::<MySql>::new("INSERT INTO alert_engine_machines (kind, machine_id, state) ");
        q.push_values(chunk, |mut b, p| {
            b.push_bind(p.kind.as_str()).push_bind(&p.id).push_bind(&p.json);
        });
        q.push(" ON DUPLICATE KEY UPDATE state = VALUES(state)");
        q.build().persistent(false).execute(&mut *conn).await?;
    }
    for chunk in state.deletes.chunks(STATE_CHUNK) {
        let mut q = QueryBuilder::<MySql>::new("DELETE FROM alert_engine_machines WHERE (kind, machine_id) IN (");
        let mut list = q.separated(", ");
        for (kind, id) in chunk {
            list.push("(")
                .push_bind_unseparated(kind.as_str())
                .push_unseparated(", ")
                .push_bind_unseparated(id)
                .push_unseparated(")");
        }
        q.push(")");
        q.build().persistent(false).execute(&mut *conn).await?;
    }
    Ok(())
}

impl Store {
    // ----- rules -----

    /// Every stored rule, by id.
    pub async fn alert_rules(&self) -> Result<Vec<StoredRule>> {
        let rows = sqlx::query("SELECT id, rule, compat_key FROM alert_rules ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(sqlx_err)?;
        rows.iter().map(stored_rule).collect()
    }

    /// Stores a new rule (its `id` is ignored) and returns it with the row id.
    pub async fn insert_alert_rule(&self, mut rule: Rule, compat_key: Option<&str>) -> Result<Rule> {
        let mut tx = self.pool.begin().await.map_err(sqlx_err)?;
        let now = db_time(Utc::now());
        rule.id = 0;
        let id = sqlx::query("INSERT INTO alert_rules (rule, compat_key, created_at, updated_at) VALUES (?, ?, ?, ?)")
            .bind(to_json(&rule))
            .bind(compat_key)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(sqlx_err)?
            .last_insert_id();
        rule.id = id;
        set_rule_json(&mut tx, &rule).await?;
        tx.commit().await.map_err(sqlx_err)?;
        Ok(rule)
    }

    /// Replaces the rule with `rule.id`; `false` when there is none.
    pub async fn update_alert_rule(&self, rule: &Rule) -> Result<bool> {
        let mut conn = self.pool.acquire().await.map_err(sqlx_err)?;
        set_rule_json(&mut conn, rule).await
    }

    /// Deletes a rule; `false` when there was none.
    pub async fn delete_alert_rule(&self, id: u64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM alert_rules WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(sqlx_err)?;
        Ok(done.rows_affected() > 0)
    }

    // ----- events and engine state -----

    /// In one transaction: inserts `events` in order and returns their ids. With
    /// `resume_after` (the newest id known stored, given after a failed write), the events
    /// already stored after it come first: a write whose commit succeeded but whose answer was
    /// lost (the connection died) stored a prefix of `events`, and those keep their ids instead
    /// of being stored twice.
    pub async fn write_alert_events(&self, events: &[AlertEvent], resume_after: Option<u64>) -> Result<Vec<u64>> {
        let mut tx = self.pool.begin().await.map_err(sqlx_err)?;
        let mut ids = Vec::with_capacity(events.len());
        if let Some(after) = resume_after {
            let stored: Vec<(u64, Vec<u8>, Vec<u8>)> =
                sqlx::query_as("SELECT id, alert_id, state FROM alert_events WHERE id > ? ORDER BY id LIMIT ?")
                    .bind(after)
                    .bind(events.len() as u64)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(sqlx_err)?;
            for ((id, alert_id, state), e) in stored.iter().zip(events) {
                if alert_id.as_slice() != e.alert_id.as_bytes() || state.as_slice() != e.state.as_str().as_bytes() {
                    return Err(Error::Storage(sqlx::Error::Protocol(format!(
                        "alert event {id} ({} {}) is not the queued event {} {} (another writer?)",
                        String::from_utf8_lossy(alert_id),
                        String::from_utf8_lossy(state),
                        e.alert_id,
                        e.state.as_str()
                    ))));
                }
                ids.push(*id);
            }
            if !ids.is_empty() {
                tracing::info!(
                    events = ids.len(),
                    "alert events of a write whose answer was lost were stored: kept, not written again"
                );
            }
        }
        let events = &events[ids.len()..];
        // One multi-row INSERT per chunk. The writer is the only one inserting events, so the
        // chunk's ids are consecutive from LAST_INSERT_ID(); they are read back to be sure.
        for chunk in events.chunks(EVENT_CHUNK) {
            let mut q = QueryBuilder::<MySql>::new(
                "INSERT INTO alert_events (alert_id, kind, rule_id, machine_id, machine_kind, state, severity, at, event) ",
            );
            q.push_values(chunk, |mut b, e| {
                b.push_bind(&e.alert_id)
                    .push_bind(e.key.kind.as_str())
                    .push_bind(e.key.rule_id)
                    .push_bind(&e.key.machine_id)
                    .push_bind(e.machine_kind.as_str())
                    .push_bind(e.state.as_str())
                    .push_bind(e.severity.as_str())
                    .push_bind(db_time(e.at))
                    .push_bind(to_json(e));
            });
            let first = q.build().execute(&mut *tx).await.map_err(sqlx_err)?.last_insert_id();
            let got: Vec<u64> = sqlx::query_scalar("SELECT id FROM alert_events WHERE id >= ? ORDER BY id LIMIT ?")
                .bind(first)
                .bind(chunk.len() as u64)
                .fetch_all(&mut *tx)
                .await
                .map_err(sqlx_err)?;
            if got.len() != chunk.len() || got.windows(2).any(|w| w[1] != w[0] + 1) {
                return Err(Error::Storage(sqlx::Error::Protocol(format!(
                    "alert event ids were not consecutive (another writer?): {} rows from id {first}",
                    chunk.len()
                ))));
            }
            ids.extend(got);
        }
        tx.commit().await.map_err(sqlx_err)?;
        Ok(ids)
    }

    /// In one transaction: applies a change of the saved engine state, recording the newest
    /// event id the state includes.
    pub async fn save_engine_state(&self, change: &StateChange, last_event_id: u64) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(sqlx_err)?;
        write_state(&mut tx, change, last_event_id).await.map_err(sqlx_err)?;
        tx.commit().await.map_err(sqlx_err)
    }

    /// Up to `limit` stored events with an id above `after`, oldest first (an event that does
    /// not parse is skipped with a warning).
    pub async fn alert_events_after(&self, after: u64, limit: u32) -> Result<Vec<(u64, AlertEvent)>> {
        let rows = sqlx::query("SELECT id, event FROM alert_events WHERE id > ? ORDER BY id LIMIT ?")
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(sqlx_err)?;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: u64 = row.try_get("id").map_err(sqlx_err)?;
            match serde_json::from_str(&text(row, "event").map_err(sqlx_err)?) {
                Ok(ev) => events.push((id, ev)),
                Err(e) => tracing::warn!(id, error = %e, "skipping a stored alert event that does not parse"),
            }
        }
        Ok(events)
    }

    /// The saved engine state, if one was saved: its header (JSON; parsed by the caller so that
    /// an unreadable one can be skipped), its machine parts, and the newest event id it includes.
    pub async fn load_engine_state(&self) -> Result<Option<SavedState>> {
        let row = sqlx::query("SELECT state, last_event_id FROM alert_engine_state WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(sqlx_err)?;
        let Some(row) = row else { return Ok(None) };
        let header = text(&row, "state").map_err(sqlx_err)?;
        let last_event_id: u64 = row.try_get("last_event_id").map_err(sqlx_err)?;
        let rows = sqlx::query("SELECT kind, machine_id, state FROM alert_engine_machines")
            .fetch_all(&self.pool)
            .await
            .map_err(sqlx_err)?;
        let mut parts = Vec::with_capacity(rows.len());
        for row in &rows {
            let kind = match text(row, "kind").map_err(sqlx_err)?.as_str() {
                "host" => MachineKind::Host,
                "container" => MachineKind::Container,
                other => {
                    tracing::warn!(kind = other, "skipping a saved alert engine row of an unknown kind");
                    continue;
                }
            };
            parts.push(MachinePart {
                kind,
                id: text(row, "machine_id").map_err(sqlx_err)?,
                json: text(row, "state").map_err(sqlx_err)?,
            });
        }
        Ok(Some(SavedState {
            header,
            parts,
            last_event_id,
        }))
    }

    /// The newest event id stored (0 when there is none).
    pub async fn last_alert_event_id(&self) -> Result<u64> {
        let id: Option<u64> = sqlx::query_scalar("SELECT CAST(MAX(id) AS UNSIGNED) FROM alert_events")
            .fetch_one(&self.pool)
            .await
            .map_err(sqlx_err)?;
        Ok(id.unwrap_or(0))
    }

    /// Events matching `f`, newest first (by time, then id), at most `f.limit`. The order is
    /// that of the `at` index (and of `(machine_id, at)`), read backwards from `to`: a page
    /// costs its own rows, however many events the range holds.
    pub async fn alert_events(&self, f: &EventFilter) -> Result<Vec<StoredEvent>> {
        // where the previous page ended
        let after: Option<(NaiveDateTime, u64)> = match f.before_id {
            None => None,
            Some(id) => sqlx::query_scalar::<_, NaiveDateTime>("SELECT at FROM alert_events WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(sqlx_err)?
                .map(|at| (at, id)),
        };
        if f.before_id.is_some() && after.is_none() {
            return Ok(Vec::new()); // that event is gone (retention): nothing older is left either
        }
        let mut q = sqlx::QueryBuilder::<sqlx::MySql>::new("SELECT id, event FROM alert_events WHERE 1 = 1");
        if let Some(from) = f.from {
            q.push(" AND at >= ").push_bind(db_time(from));
        }
        if let Some(to) = f.to {
            q.push(" AND at < ").push_bind(db_time(to));
        }
        if let Some(m) = &f.machine_id {
            q.push(" AND machine_id = ").push_bind(m.clone());
        }
        if !f.kinds.is_empty() {
            q.push(" AND kind IN (");
            let mut list = q.separated(", ");
            for k in &f.kinds {
                list.push_bind(k.as_str());
            }
            q.push(")");
        }
        if !f.states.is_empty() {
            q.push(" AND state IN (");
            let mut list = q.separated(", ");
            for s in &f.states {
                list.push_bind(s.as_str());
            }
            q.push(")");
        }
        if let Some((at, id)) = after {
            q.push(" AND (at < ")
                .push_bind(at)
                .push(" OR (at = ")
                .push_bind(at)
                .push(" AND id < ")
                .push_bind(id)
                .push("))");
        }
        q.push(" ORDER BY at DESC, id DESC LIMIT ")
            .push_bind(i64::from(f.limit));
        let rows = q.build().fetch_all(&self.pool).await.map_err(sqlx_err)?;
        rows.iter().map(stored_event).collect()
    }

    /// Names of hosts by external id (for the compat history's `hostName`).
    pub async fn host_names(&self, ids: &[String]) -> Result<Vec<(String, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "SELECT ext_id, name FROM machines WHERE kind = 'host' AND ext_id IN (",
        );
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id.clone());
        }
        q.push(")");
        let rows = q.build().fetch_all(&self.pool).await.map_err(sqlx_err)?;
        rows.iter()
            .map(|r| Ok((text(r, "ext_id")?, text(r, "name")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(sqlx_err)
    }

    /// Deletes events dated before `cutoff`, `chunk` rows per statement (short locks); returns
    /// how many went.
    pub async fn delete_alert_events_before(&self, cutoff: DateTime<Utc>, chunk: u32) -> Result<u64> {
        let mut total = 0;
        loop {
            let done = sqlx::query("DELETE FROM alert_events WHERE at < ? ORDER BY id LIMIT ?")
                .bind(db_time(cutoff))
                .bind(i64::from(chunk))
                .execute(&self.pool)
                .await
                .map_err(sqlx_err)?;
            total += done.rows_affected();
            if done.rows_affected() < u64::from(chunk) {
                return Ok(total);
            }
        }
    }

    // ----- silences -----

    /// Every silence, by id.
    pub async fn silences(&self) -> Result<Vec<Silence>> {
        let rows =
            sqlx::query("SELECT id, machine_id, rule_id, kind, starts_at, ends_at, comment FROM silences ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .map_err(sqlx_err)?;
        rows.iter().map(silence).collect()
    }

    /// Stores a new silence (its `id` is ignored) and returns it with the row id.
    pub async fn insert_silence(&self, s: &Silence) -> Result<Silence> {
        let id = sqlx::query(
            "INSERT INTO silences (machine_id, rule_id, kind, starts_at, ends_at, comment, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&s.machine_id)
        .bind(s.rule_id)
        .bind(s.kind.map(AlertKind::as_str))
        .bind(db_time(s.starts_at))
        .bind(db_time(s.ends_at))
        .bind(&s.comment)
        .bind(db_time(Utc::now()))
        .execute(&self.pool)
        .await
        .map_err(sqlx_err)?
        .last_insert_id();
        Ok(Silence {
            id,
            starts_at: common::timefmt::truncate_millis(s.starts_at),
            ends_at: common::timefmt::truncate_millis(s.ends_at),
            ..s.clone()
        })
    }

    /// Deletes a silence; `false` when there was none.
    pub async fn delete_silence(&self, id: u64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM silences WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(sqlx_err)?;
        Ok(done.rows_affected() > 0)
    }
}

/// Writes `rule` as the JSON of its row; `false` when the row does not exist.
async fn set_rule_json(conn: &mut MySqlConnection, rule: &Rule) -> Result<bool> {
    let done = sqlx::query("UPDATE alert_rules SET rule = ?, updated_at = ? WHERE id = ?")
        .bind(to_json(rule))
        .bind(db_time(Utc::now()))
        .bind(rule.id)
        .execute(&mut *conn)
        .await
        .map_err(sqlx_err)?;
    // sqlx connects with CLIENT_FOUND_ROWS: matched rows count, changed or not
    Ok(done.rows_affected() > 0)
}

fn stored_rule(r: &MySqlRow) -> Result<StoredRule> {
    let id: u64 = r.try_get("id").map_err(sqlx_err)?;
    let json = text(r, "rule").map_err(sqlx_err)?;
    let mut rule: Rule = serde_json::from_str(&json).map_err(|e| decode_err("alert_rules.rule", e))?;
    rule.id = id;
    Ok(StoredRule {
        rule,
        compat_key: opt_text(r, "compat_key").map_err(sqlx_err)?,
    })
}

fn stored_event(r: &MySqlRow) -> Result<StoredEvent> {
    let id: u64 = r.try_get("id").map_err(sqlx_err)?;
    let json = text(r, "event").map_err(sqlx_err)?;
    let event = serde_json::from_str(&json).map_err(|e| decode_err("alert_events.event", e))?;
    Ok(StoredEvent { id, event })
}

fn silence(r: &MySqlRow) -> Result<Silence> {
    let kind = opt_text(r, "kind").map_err(sqlx_err)?;
    let kind = match kind {
        Some(k) => {
            Some(serde_json::from_value(serde_json::Value::String(k)).map_err(|e| decode_err("silences.kind", e))?)
        }
        None => None,
    };
    Ok(Silence {
        id: r.try_get("id").map_err(sqlx_err)?,
        machine_id: opt_text(r, "machine_id").map_err(sqlx_err)?,
        rule_id: r.try_get("rule_id").map_err(sqlx_err)?,
        kind,
        starts_at: utc(r.try_get("starts_at").map_err(sqlx_err)?),
        ends_at: utc(r.try_get("ends_at").map_err(sqlx_err)?),
        comment: text(r, "comment").map_err(sqlx_err)?,
    })
}
