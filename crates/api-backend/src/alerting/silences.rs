//! Silence changes through the REST API: validated, stored, and the silences not yet ended
//! handed to the notifier after every change (and at start).

use chrono::Utc;

use super::Alerting;
use crate::alerts::silence::SilenceInput;
use crate::error::{Error, Result};
use crate::notify::Silence;

/// Silences not yet ended at most: every notification is matched against each.
pub const MAX_SILENCES: usize = 1000;

impl Alerting {
    /// Every stored silence, ended ones included, by id.
    pub async fn silences(&self) -> Result<Vec<Silence>> {
        self.inner.store.silences().await
    }

    /// Stores a silence and applies it to notifications.
    pub async fn create_silence(&self, input: SilenceInput) -> Result<Silence> {
        let silence = input
            .into_silence(Utc::now())
            .map_err(|e| Error::InvalidRule(e.to_string()))?;
        let _change = self.inner.changes.lock().await;
        let current = self.unended_silences().await?.len();
        if current >= MAX_SILENCES {
            return Err(Error::LimitReached {
                limit: "silences",
                message: format!(
                    "{current} silences have not ended, the most there may be ({MAX_SILENCES}): delete one or wait for one to end"
                ),
            });
        }
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

    /// The stored silences that have not ended.
    async fn unended_silences(&self) -> Result<Vec<Silence>> {
        let now = Utc::now();
        let mut silences = self.inner.store.silences().await?;
        silences.retain(|s| s.ends_at > now);
        Ok(silences)
    }

    /// Hands the silences not yet ended to the notifier.
    pub(super) async fn refresh_silences(&self) -> Result<()> {
        let current = self.unended_silences().await?;
        self.inner.notifier.set_silences(current);
        Ok(())
    }
}
