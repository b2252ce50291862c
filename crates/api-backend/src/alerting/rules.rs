//! Threshold rule changes through the native REST API. Every change is validated, stored, and
//! then the whole rule set is reloaded from storage and handed to the engine (`set_rules`),
//! whose events (alerts of removed or re-scoped rules ending) are stored like any others.
//!
//! - the global rule of a metric: scope `all_hosts` or `all_containers` by the metric's kind;
//! - a per-machine rule of a metric: scope `machine` (it applies in addition to the global one);
//! - any rule by id (any scope, container name globs included).
//!
//! Rules managed by the compat threshold-setting endpoints (`compat_key` set) may be tuned
//! (values, severity, for-duration, enabled) but not deleted or re-targeted: they are
//! recreated with default values at the next start.

use std::sync::Arc;

use chrono::Utc;

use super::Alerting;
pub use crate::alerts::rules::{global_scope, RuleBody, RuleInput};
use crate::alerts::{Metric, Rule, RuleSet, Scope};
use crate::error::{Error, Result};
use crate::store::{Store, StoredRule};

/// The stored rules as a rule set; a stored rule that does not validate (written by an older
/// version, edited by hand) is left out with a warning rather than stopping alerting.
pub async fn load(store: &Store) -> Result<RuleSet> {
    let mut rules = Vec::new();
    for stored in store.alert_rules().await? {
        match stored.rule.validate() {
            Ok(()) => rules.push(stored.rule),
            Err(e) => tracing::warn!(rule = stored.rule.id, error = %e, "ignoring an invalid stored rule"),
        }
    }
    RuleSet::new(rules).map_err(|e| Error::InvalidRule(e.to_string()))
}

fn valid(rule: Rule) -> Result<Rule> {
    rule.validate().map_err(|e| Error::InvalidRule(e.to_string()))?;
    Ok(rule)
}

/// Rules stored at most (compat-managed ones included): each is evaluated for every record.
pub const MAX_RULES: usize = 1000;

impl Alerting {
    /// Refuses a new rule once [`MAX_RULES`] are stored.
    async fn room_for_a_rule(&self) -> Result<()> {
        let stored = self.inner.store.alert_rules().await?.len();
        if stored >= MAX_RULES {
            return Err(Error::LimitReached {
                limit: "rules",
                message: format!(
                    "{stored} rules are stored, the most there may be ({MAX_RULES}): delete or change one"
                ),
            });
        }
        Ok(())
    }

    /// Every stored rule, by id.
    pub async fn rules(&self) -> Result<Vec<StoredRule>> {
        self.inner.store.alert_rules().await
    }

    /// Creates or replaces the (non-compat) rule of `metric` with exactly `scope`; `true` when
    /// it was created.
    pub async fn put_scoped_rule(&self, metric: Metric, scope: Scope, body: RuleBody) -> Result<(Rule, bool)> {
        let mut rule = valid(body.into_rule(metric, scope))?;
        let _change = self.inner.changes.lock().await;
        let existing = self.find_scoped(metric, &rule.scope).await?;
        let created = match existing {
            Some(id) => {
                rule.id = id;
                self.inner.store.update_alert_rule(&rule).await?;
                false
            }
            None => {
                self.room_for_a_rule().await?;
                rule = self.inner.store.insert_alert_rule(rule, None).await?;
                true
            }
        };
        self.reload_rules().await?;
        Ok((rule, created))
    }

    /// Deletes the (non-compat) rule of `metric` with exactly `scope`.
    pub async fn delete_scoped_rule(&self, metric: Metric, scope: Scope) -> Result<()> {
        let _change = self.inner.changes.lock().await;
        let Some(id) = self.find_scoped(metric, &scope).await? else {
            return Err(Error::NotFound(format!(
                "there is no {} rule for {metric}",
                describe(&scope)
            )));
        };
        self.inner.store.delete_alert_rule(id).await?;
        self.reload_rules().await
    }

    /// Stores a new rule.
    pub async fn create_rule(&self, input: RuleInput) -> Result<Rule> {
        let rule = valid(input.into_rule())?;
        let _change = self.inner.changes.lock().await;
        self.room_for_a_rule().await?;
        let rule = self.inner.store.insert_alert_rule(rule, None).await?;
        self.reload_rules().await?;
        Ok(rule)
    }

    /// Replaces rule `id`. A compat rule keeps its metric, direction and scope.
    pub async fn replace_rule(&self, id: u64, input: RuleInput) -> Result<Rule> {
        let mut rule = valid(input.into_rule())?;
        rule.id = id;
        let _change = self.inner.changes.lock().await;
        let old = self.stored(id).await?;
        if let Some(key) = &old.compat_key {
            if (old.rule.metric, old.rule.direction, &old.rule.scope) != (rule.metric, rule.direction, &rule.scope) {
                return Err(Error::Conflict(format!(
                    "rule {id} is managed by the compat threshold-setting endpoints ({key}): its metric, \
                     direction and scope cannot change"
                )));
            }
        }
        self.inner.store.update_alert_rule(&rule).await?;
        self.reload_rules().await?;
        Ok(rule)
    }

    /// Deletes rule `id` (not a compat rule: disable those instead).
    pub async fn delete_rule(&self, id: u64) -> Result<()> {
        let _change = self.inner.changes.lock().await;
        let old = self.stored(id).await?;
        if let Some(key) = &old.compat_key {
            return Err(Error::Conflict(format!(
                "rule {id} is managed by the compat threshold-setting endpoints ({key}) and cannot be \
                 deleted; disable it instead (enabled: false)"
            )));
        }
        self.inner.store.delete_alert_rule(id).await?;
        self.reload_rules().await
    }

    async fn stored(&self, id: u64) -> Result<StoredRule> {
        self.inner
            .store
            .alert_rules()
            .await?
            .into_iter()
            .find(|s| s.rule.id == id)
            .ok_or_else(|| Error::NotFound(format!("there is no rule {id}")))
    }

    async fn find_scoped(&self, metric: Metric, scope: &Scope) -> Result<Option<u64>> {
        Ok(self
            .inner
            .store
            .alert_rules()
            .await?
            .into_iter()
            .find(|s| s.compat_key.is_none() && s.rule.metric == metric && &s.rule.scope == scope)
            .map(|s| s.rule.id))
    }

    /// Reloads the rules from storage into the engine; call with `changes` held.
    pub(super) async fn reload_rules(&self) -> Result<()> {
        let rules = Arc::new(load(&self.inner.store).await?);
        let mut core = self.inner.core();
        core.rules = rules.clone();
        let events = core.engine.set_rules(&rules, Utc::now());
        self.inner.enqueue(&core, events);
        Ok(())
    }
}

fn describe(scope: &Scope) -> String {
    match scope {
        Scope::AllHosts | Scope::AllContainers => "global".to_owned(),
        Scope::Machine { id } => format!("machine {id:?}"),
        Scope::ContainerName { pattern } => format!("container name {pattern:?}"),
    }
}
