//! Silence changes through the REST API: validated, stored, and the silences not yet ended
//! handed to the notifier after every change (and at start).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::Alerting;
use crate::alerts::AlertKind;
use crate::error::{Error, Result};
use crate::notify::Silence;

/// Longest comment kept (the column's size).
const MAX_COMMENT: usize = 1000;
/// Longest machine id (the column's size).
const MAX_MACHINE_ID: usize = 128;

/// Body of `POST /api/v1/silences`; `starts_at` defaults to now.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SilenceInput {
    #[serde(default)]
    pub machine_id: Option<String>,
    #[serde(default)]
    pub rule_id: Option<u64>,
    #[serde(default)]
    pub kind: Option<AlertKind>,
    #[serde(default, with = "common::timefmt::millis_opt")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(with = "common::timefmt::millis")]
    pub ends_at: DateTime<Utc>,
    #[serde(default)]
    pub comment: String,
}

impl SilenceInput {
    /// The silence (id 0 until stored), checked.
    pub fn into_silence(self, now: DateTime<Utc>) -> Result<Silence> {
        if self.comment.chars().count() > MAX_COMMENT {
            return Err(Error::InvalidRule(format!(
                "the comment is longer than {MAX_COMMENT} characters"
            )));
        }
        if self
            .machine_id
            .as_deref()
            .is_some_and(|m| m.is_empty() || m.len() > MAX_MACHINE_ID)
        {
            return Err(Error::InvalidRule(format!(
                "machine_id must have 1 to {MAX_MACHINE_ID} characters"
            )));
        }
        let silence = Silence {
            id: 0,
            machine_id: self.machine_id,
            rule_id: self.rule_id,
            kind: self.kind,
            starts_at: self.starts_at.unwrap_or(now),
            ends_at: self.ends_at,
            comment: self.comment,
        };
        silence.validate().map_err(|e| Error::InvalidRule(e.to_string()))?;
        Ok(silence)
    }
}

impl Alerting {
    /// Every stored silence, ended ones included, by id.
    pub async fn silences(&self) -> Result<Vec<Silence>> {
        self.inner.store.silences().await
    }

    /// Stores a silence and applies it to notifications.
    pub async fn create_silence(&self, input: SilenceInput) -> Result<Silence> {
        let silence = input.into_silence(Utc::now())?;
        let _change = self.inner.changes.lock().await;
        let stored = self.inner.store.insert_silence(&silence).await?;
        self.refresh_silences().await?;
        Ok(stored)
    }

    /// Deletes a silence.
    pub async fn delete_silence(&self, id: u64) -> Result<()> {
        let _change = self.inner.changes.lock().await;
        if !self.inner.store.delete_silence(id).await? {
            return Err(Error::NotFound(format!("there is no silence {id}")));
        }
        self.refresh_silences().await
    }

    /// Hands the silences not yet ended to the notifier.
    pub(super) async fn refresh_silences(&self) -> Result<()> {
        let now = Utc::now();
        let current = self
            .inner
            .store
            .silences()
            .await?
            .into_iter()
            .filter(|s| s.ends_at > now)
            .collect();
        self.inner.notifier.set_silences(current);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> Result<Silence> {
        let now = common::timefmt::parse("2026-01-01T10:00:00Z").unwrap();
        serde_json::from_str::<SilenceInput>(json).unwrap().into_silence(now)
    }

    #[test]
    fn starts_now_by_default_and_is_validated() {
        let s = input(r#"{"machine_id": "h1", "ends_at": "2026-01-01T12:00:00Z"}"#).unwrap();
        assert_eq!(common::timefmt::format(&s.starts_at), "2026-01-01T10:00:00.000Z");
        let err = input(r#"{"ends_at": "2026-01-01T12:00:00Z"}"#).unwrap_err();
        assert!(err.to_string().starts_with("a silence must name at least one"), "{err}");
        let err = input(r#"{"kind": "stale", "ends_at": "2026-01-01T09:00:00Z"}"#).unwrap_err();
        assert_eq!(err.to_string(), "a silence must end after it starts");
        assert!(input(r#"{"machine_id": "", "ends_at": "2026-01-01T12:00:00Z"}"#).is_err());
    }
}
