//! The original system's threshold settings as rules: seven "over" values and seven "under"
//! values (`cpuPercent`, `memoryUsage`, `diskReadDelta`, `diskWriteDelta`, `networkRx`,
//! `networkTx`, `temperature`), each stored as global rules with a `compat_key`: over → an
//! `above` rule, under → a `below` rule, raise = clear = the value (the original had no
//! hysteresis). A value covers the host metric and, where one exists, the container metric:
//! keys `over.cpuPercent` (host) and `over.cpuPercent.container`.
//!
//! The rules exist from the first start on with the original defaults (which it enforced), so
//! what `GET /api/metrics/threshold-setting` shows is what is enforced; saved values survive
//! restarts.

use serde_json::Value;

use super::Alerting;
use crate::alerts::{Direction, Metric, Rule, Severity};
use crate::error::{Error, Result};
use crate::store::{Store, StoredRule};

use super::rules::global_scope;

/// Over (`threshold-setting`) or under (`under-threshold-setting`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Over,
    Under,
}

impl Side {
    /// The prefix of the compat keys.
    pub fn prefix(self) -> &'static str {
        match self {
            Side::Over => "over",
            Side::Under => "under",
        }
    }

    /// The direction of the rules.
    pub fn direction(self) -> Direction {
        match self {
            Side::Over => Direction::Above,
            Side::Under => Direction::Below,
        }
    }

    pub fn other(self) -> Side {
        match self {
            Side::Over => Side::Under,
            Side::Under => Side::Over,
        }
    }
}

/// One setting of the original system.
#[derive(Debug)]
pub struct Field {
    /// The JSON name (`cpuPercent`).
    pub name: &'static str,
    /// The metrics it sets, the host one first.
    pub metrics: &'static [Metric],
    pub over_default: f64,
    pub under_default: f64,
}

impl Field {
    pub fn default_for(&self, side: Side) -> f64 {
        match side {
            Side::Over => self.over_default,
            Side::Under => self.under_default,
        }
    }
}

/// The settings, in the original's order.
pub const FIELDS: [Field; 7] = [
    Field {
        name: "cpuPercent",
        metrics: &[Metric::HostCpuPercent, Metric::ContainerCpuPercent],
        over_default: 85.0,
        under_default: 0.0,
    },
    Field {
        name: "memoryUsage",
        metrics: &[Metric::HostMemUsedBytes, Metric::ContainerMemUsedBytes],
        over_default: 2.0e10,
        under_default: 0.0,
    },
    Field {
        name: "diskReadDelta",
        metrics: &[Metric::HostDiskReadBytesPerSec, Metric::ContainerBlkReadBytesPerSec],
        over_default: 4.0e7,
        under_default: 0.0,
    },
    Field {
        name: "diskWriteDelta",
        metrics: &[Metric::HostDiskWriteBytesPerSec, Metric::ContainerBlkWriteBytesPerSec],
        over_default: 4.0e7,
        under_default: 0.0,
    },
    Field {
        name: "networkRx",
        metrics: &[Metric::HostNetRxBytesPerSec, Metric::ContainerNetRxBytesPerSec],
        over_default: 300_000.0,
        under_default: 0.0,
    },
    Field {
        name: "networkTx",
        metrics: &[Metric::HostNetTxBytesPerSec, Metric::ContainerNetTxBytesPerSec],
        over_default: 300_000.0,
        under_default: 0.0,
    },
    Field {
        name: "temperature",
        metrics: &[Metric::HostTemperatureC],
        over_default: 50.0,
        under_default: 5.0,
    },
];

/// One value per field of [`FIELDS`], in that order.
pub type Values = [f64; 7];

/// The compat key of the rule of `field` on `side` for `metric`.
pub fn key(side: Side, field: &Field, metric: Metric) -> String {
    match metric.machine_kind() {
        crate::alerts::MachineKind::Host => format!("{}.{}", side.prefix(), field.name),
        crate::alerts::MachineKind::Container => format!("{}.{}.container", side.prefix(), field.name),
    }
}

/// A number in an error sentence: `85`, `20000000000`, `0.5`.
fn number_text(v: f64) -> String {
    format!("{v}")
}

/// The original's refusal of a value that is not a number.
pub const INVALID_NUMBER: &str = "Invalid number format in one or more fields.";

/// Reads the seven values of a POST body: numbers or numeric strings, every field present.
/// The error is a sentence for the caller.
pub fn parse_values(body: &Value) -> Result<Values, String> {
    let Some(object) = body.as_object() else {
        return Err(format!(
            "the body must be a JSON object with {}",
            FIELDS.map(|f| f.name).join(", ")
        ));
    };
    let mut values = [0.0; 7];
    for (value, field) in values.iter_mut().zip(&FIELDS) {
        let number = match object.get(field.name) {
            None | Some(Value::Null) => return Err(format!("{} is missing", field.name)),
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            Some(_) => None,
        };
        match number {
            Some(n) if n.is_finite() => *value = n,
            // the original's sentence, word for word
            _ => return Err(INVALID_NUMBER.to_owned()),
        }
    }
    Ok(values)
}

/// Checks new values of `side` against the current values of the other side: an over value
/// may not be below the matching under value.
pub fn check_order(side: Side, new: &Values, other: &Values) -> Result<(), String> {
    for ((field, &n), &o) in FIELDS.iter().zip(new).zip(other) {
        match side {
            Side::Over if n < o => {
                return Err(format!(
                    "{}: the threshold {} is below the under-threshold {}",
                    field.name,
                    number_text(n),
                    number_text(o)
                ))
            }
            Side::Under if n > o => {
                return Err(format!(
                    "{}: the under-threshold {} is above the threshold {}",
                    field.name,
                    number_text(n),
                    number_text(o)
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The current values of `side` among `rules` (the host rule of each field; the default when
/// it is missing).
pub fn values_of(rules: &[StoredRule], side: Side) -> Values {
    let mut values = [0.0; 7];
    for (value, field) in values.iter_mut().zip(&FIELDS) {
        let k = key(side, field, field.metrics[0]);
        *value = rules
            .iter()
            .find(|r| r.compat_key.as_deref() == Some(k.as_str()))
            .map_or(field.default_for(side), |r| r.rule.raise);
    }
    values
}

fn default_rule(side: Side, metric: Metric, value: f64) -> Rule {
    Rule {
        id: 0,
        metric,
        direction: side.direction(),
        raise: value,
        clear: value,
        for_secs: 0,
        severity: Severity::Warning,
        scope: global_scope(metric),
        enabled: true,
    }
}

/// Adds the compat rules that are missing, with their default values (at start).
pub async fn ensure_rules(store: &Store) -> Result<()> {
    let stored = store.alert_rules().await?;
    for side in [Side::Over, Side::Under] {
        for field in &FIELDS {
            for &metric in field.metrics {
                let k = key(side, field, metric);
                if stored.iter().any(|r| r.compat_key.as_deref() == Some(k.as_str())) {
                    continue;
                }
                let rule = default_rule(side, metric, field.default_for(side));
                match store.insert_alert_rule(rule, Some(&k)).await {
                    Ok(_) => {}
                    // another instance starting at the same time added it
                    Err(Error::Storage(sqlx::Error::Database(db))) if db.is_unique_violation() => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(())
}

impl Alerting {
    /// The values of `side` as enforced now.
    pub async fn compat_values(&self, side: Side) -> Result<Values> {
        Ok(values_of(&self.inner.store.alert_rules().await?, side))
    }

    /// Saves the values of `side` (after checking them against the other side) into the compat
    /// rules, keeping each rule's severity, for-duration and enabled flag.
    /// An unacceptable value is `Error::InvalidBody` with the sentence.
    pub async fn set_compat_values(&self, side: Side, new: Values) -> Result<()> {
        let _change = self.inner.changes.lock().await;
        let stored = self.inner.store.alert_rules().await?;
        check_order(side, &new, &values_of(&stored, side.other())).map_err(Error::InvalidBody)?;
        for (field, &value) in FIELDS.iter().zip(&new) {
            for &metric in field.metrics {
                let k = key(side, field, metric);
                match stored.iter().find(|r| r.compat_key.as_deref() == Some(k.as_str())) {
                    Some(existing) => {
                        let rule = Rule {
                            raise: value,
                            clear: value,
                            ..existing.rule.clone()
                        };
                        self.inner.store.update_alert_rule(&rule).await?;
                    }
                    None => {
                        self.inner
                            .store
                            .insert_alert_rule(default_rule(side, metric, value), Some(&k))
                            .await?;
                    }
                }
            }
        }
        self.reload_rules().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body() -> Value {
        json!({"cpuPercent": "90", "memoryUsage": 2.0e10, "diskReadDelta": "4.0E7", "diskWriteDelta": 1,
               "networkRx": " 300000 ", "networkTx": 0.5, "temperature": -3})
    }

    #[test]
    fn numbers_and_numeric_strings_are_read_in_field_order() {
        assert_eq!(
            parse_values(&body()).unwrap(),
            [90.0, 2.0e10, 4.0e7, 1.0, 300_000.0, 0.5, -3.0]
        );
    }

    #[test]
    fn a_missing_field_is_named_and_a_non_number_gets_the_originals_sentence() {
        let mut b = body();
        b.as_object_mut().unwrap().remove("networkTx");
        assert_eq!(parse_values(&b).unwrap_err(), "networkTx is missing");
        let mut b = body();
        b["cpuPercent"] = json!("lots");
        assert_eq!(parse_values(&b).unwrap_err(), INVALID_NUMBER);
        let mut b = body();
        b["temperature"] = json!("NaN");
        assert_eq!(parse_values(&b).unwrap_err(), INVALID_NUMBER);
        b["temperature"] = json!([1]);
        assert_eq!(parse_values(&b).unwrap_err(), INVALID_NUMBER);
        assert!(parse_values(&json!([1, 2]))
            .unwrap_err()
            .starts_with("the body must be"));
    }

    #[test]
    fn over_may_not_go_below_under_nor_under_above_over() {
        let over = [85.0, 2.0e10, 4.0e7, 4.0e7, 3.0e5, 3.0e5, 50.0];
        let under = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 5.0];
        assert_eq!(check_order(Side::Over, &over, &under), Ok(()));
        let mut low = over;
        low[6] = 4.0;
        assert_eq!(
            check_order(Side::Over, &low, &under).unwrap_err(),
            "temperature: the threshold 4 is below the under-threshold 5"
        );
        let mut high = under;
        high[0] = 90.0;
        assert_eq!(
            check_order(Side::Under, &high, &over).unwrap_err(),
            "cpuPercent: the under-threshold 90 is above the threshold 85"
        );
        // equal is fine
        assert_eq!(check_order(Side::Under, &over, &over), Ok(()));
    }

    #[test]
    fn keys_and_names() {
        let cpu = &FIELDS[0];
        assert_eq!(key(Side::Over, cpu, Metric::HostCpuPercent), "over.cpuPercent");
        assert_eq!(
            key(Side::Under, cpu, Metric::ContainerCpuPercent),
            "under.cpuPercent.container"
        );
    }
}
