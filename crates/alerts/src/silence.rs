//! Silences: an operator's "do not notify me about this until then" (maintenance, a known
//! problem). A silence matches alerts by machine, rule and kind during `[starts_at, ends_at)`;
//! a matching alert still exists and is recorded, it only produces no notification.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ActiveAlert, AlertEvent, AlertKey, AlertKind};

/// One silence. Every matcher that is set must match; a `machine_id` also matches the
/// containers of that host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Silence {
    pub id: u64,
    /// A host id (its containers included) or a container id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<String>,
    /// A threshold rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<AlertKind>,
    #[serde(with = "common::timefmt::millis")]
    pub starts_at: DateTime<Utc>,
    /// The first instant no longer silenced.
    #[serde(with = "common::timefmt::millis")]
    pub ends_at: DateTime<Utc>,
    /// Why (who, which ticket).
    #[serde(default)]
    pub comment: String,
}

/// Why a silence is not acceptable; the message is a sentence for the API caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    #[error("a silence must end after it starts")]
    EndsBeforeStart,
    #[error("a silence must name at least one of machine_id, rule_id and kind (it would silence every alert)")]
    MatchesEverything,
    #[error("a silence with a rule_id can only match threshold alerts, not kind {0}")]
    RuleWithBuiltinKind(&'static str),
    #[error("the comment is longer than {0} characters")]
    CommentTooLong(usize),
    #[error("machine_id must have 1 to {0} characters")]
    BadMachineId(usize),
}

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
    pub fn into_silence(self, now: DateTime<Utc>) -> Result<Silence, SilenceError> {
        if self.comment.chars().count() > MAX_COMMENT {
            return Err(SilenceError::CommentTooLong(MAX_COMMENT));
        }
        if self
            .machine_id
            .as_deref()
            .is_some_and(|m| m.is_empty() || m.len() > MAX_MACHINE_ID)
        {
            return Err(SilenceError::BadMachineId(MAX_MACHINE_ID));
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
        silence.validate()?;
        Ok(silence)
    }
}

impl Silence {
    /// Checks what storage and the API should refuse.
    pub fn validate(&self) -> Result<(), SilenceError> {
        if self.ends_at <= self.starts_at {
            return Err(SilenceError::EndsBeforeStart);
        }
        if self.machine_id.is_none() && self.rule_id.is_none() && self.kind.is_none() {
            return Err(SilenceError::MatchesEverything);
        }
        match self.kind {
            Some(kind) if self.rule_id.is_some() && kind != AlertKind::Threshold => {
                Err(SilenceError::RuleWithBuiltinKind(kind.as_str()))
            }
            _ => Ok(()),
        }
    }

    /// Whether the silence is in force at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.starts_at <= now && now < self.ends_at
    }

    /// Whether the alert `key` (of a container on `host_id`, if any) is silenced at `now`.
    pub fn matches(&self, key: &AlertKey, host_id: Option<&str>, now: DateTime<Utc>) -> bool {
        self.is_active(now)
            && self
                .machine_id
                .as_deref()
                .is_none_or(|m| key.machine_id == m || host_id == Some(m))
            && self.rule_id.is_none_or(|r| key.rule_id == Some(r))
            && self.kind.is_none_or(|k| key.kind == k)
    }

    /// [`Silence::matches`] for an event.
    pub fn matches_event(&self, event: &AlertEvent, now: DateTime<Utc>) -> bool {
        self.matches(&event.key, event.host_id.as_deref(), now)
    }

    /// [`Silence::matches`] for an open alert.
    pub fn matches_alert(&self, alert: &ActiveAlert, now: DateTime<Utc>) -> bool {
        self.matches(&alert.key, alert.host_id.as_deref(), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        common::timefmt::parse(s).unwrap()
    }

    fn silence() -> Silence {
        Silence {
            id: 1,
            machine_id: None,
            rule_id: None,
            kind: None,
            starts_at: t("2026-01-01T10:00:00Z"),
            ends_at: t("2026-01-01T12:00:00Z"),
            comment: "disk swap".into(),
        }
    }

    #[test]
    fn in_force_from_start_until_just_before_the_end() {
        let s = Silence {
            machine_id: Some("h1".into()),
            ..silence()
        };
        let key = AlertKey::builtin(AlertKind::Stale, "h1");
        assert!(!s.matches(&key, None, t("2026-01-01T09:59:59.999Z")));
        assert!(s.matches(&key, None, t("2026-01-01T10:00:00Z")));
        assert!(s.matches(&key, None, t("2026-01-01T11:59:59.999Z")));
        assert!(!s.matches(&key, None, t("2026-01-01T12:00:00Z")));
    }

    #[test]
    fn every_set_matcher_must_match() {
        let now = t("2026-01-01T11:00:00Z");
        let s = Silence {
            machine_id: Some("h1".into()),
            rule_id: Some(7),
            ..silence()
        };
        assert!(s.matches(&AlertKey::threshold(7, "h1", "/"), None, now));
        assert!(!s.matches(&AlertKey::threshold(8, "h1", "/"), None, now), "other rule");
        assert!(
            !s.matches(&AlertKey::threshold(7, "h2", "/"), None, now),
            "other machine"
        );
        assert!(
            !s.matches(&AlertKey::builtin(AlertKind::Stale, "h1"), None, now),
            "no rule"
        );
        let by_kind = Silence {
            kind: Some(AlertKind::ContainerDied),
            ..silence()
        };
        assert!(by_kind.matches(&AlertKey::builtin(AlertKind::ContainerDied, "c9"), Some("h5"), now));
        assert!(!by_kind.matches(&AlertKey::builtin(AlertKind::ContainerOom, "c9"), Some("h5"), now));
    }

    #[test]
    fn a_host_silence_covers_its_containers_only() {
        let now = t("2026-01-01T11:00:00Z");
        let s = Silence {
            machine_id: Some("h1".into()),
            ..silence()
        };
        let died = AlertKey::builtin(AlertKind::ContainerDied, "c1");
        assert!(s.matches(&died, Some("h1"), now));
        assert!(!s.matches(&died, Some("h2"), now));
        // a container silence does not silence its host
        let c = Silence {
            machine_id: Some("c1".into()),
            ..silence()
        };
        assert!(!c.matches(&AlertKey::builtin(AlertKind::Stale, "h1"), None, now));
    }

    #[test]
    fn validation() {
        assert_eq!(silence().validate(), Err(SilenceError::MatchesEverything));
        let s = Silence {
            kind: Some(AlertKind::Stale),
            ..silence()
        };
        assert_eq!(s.validate(), Ok(()));
        let backwards = Silence {
            ends_at: s.starts_at,
            ..s.clone()
        };
        assert_eq!(backwards.validate(), Err(SilenceError::EndsBeforeStart));
        let mixed = Silence { rule_id: Some(3), ..s };
        assert_eq!(mixed.validate(), Err(SilenceError::RuleWithBuiltinKind("stale")));
    }

    #[test]
    fn json_round_trip() {
        let s = Silence {
            machine_id: Some("h1".into()),
            kind: Some(AlertKind::Threshold),
            ..silence()
        };
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["kind"], "threshold");
        assert_eq!(json["starts_at"], "2026-01-01T10:00:00.000Z");
        assert!(json.get("rule_id").is_none());
        assert_eq!(serde_json::from_value::<Silence>(json).unwrap(), s);
    }

    fn input(json: &str) -> Result<Silence, SilenceError> {
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
