//! Threshold rule bodies (POST /api/v1/thresholds/rules, PUT /api/v1/thresholds/{metric}):
//! any bytes give a rule or an error, never a panic; a rule that validates goes into a rule set
//! and survives its stored JSON form unchanged.
#![no_main]

use alerts::rules::{RuleBody, RuleInput};
use alerts::{Metric, Rule, RuleSet, Scope};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rules = Vec::new();
    if let Ok(input) = serde_json::from_slice::<RuleInput>(data) {
        rules.push(input.into_rule());
    }
    if let Ok(body) = serde_json::from_slice::<RuleBody>(data) {
        rules.push(body.into_rule(Metric::HostCpuPercent, Scope::AllHosts));
    }
    for (i, mut rule) in rules.into_iter().enumerate() {
        rule.id = i as u64 + 1;
        if rule.validate().is_err() {
            continue;
        }
        let stored = serde_json::to_string(&rule).expect("rules serialise");
        let back: Rule = serde_json::from_str(&stored).expect("a stored rule reads back");
        assert_eq!(back, rule, "the stored form changes nothing");
        RuleSet::new(vec![rule]).expect("a valid rule makes a rule set");
    }
});
