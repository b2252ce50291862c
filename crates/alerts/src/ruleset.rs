//! A validated set of rules, indexed so that evaluating one machine visits only the enabled
//! rules that can apply to it: per kind (`all_hosts`, `all_containers`), per machine id, per
//! exact container name, and the (few) container name globs.
//!
//! Build one with [`RuleSet::new`] whenever the stored rules change and hand it to
//! [`Engine::set_rules`](super::Engine::set_rules) and [`Engine::observe`](super::Engine::observe).

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::metric::MachineKind;
use super::rules::{Rule, RuleError};
use super::scope::Scope;

/// Why a list of rules cannot become a [`RuleSet`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleSetError {
    #[error("rule {id}: {error}")]
    Invalid {
        id: u64,
        #[source]
        error: RuleError,
    },
    #[error("rule id {0} is used more than once")]
    DuplicateId(u64),
}

/// Validated rules plus the indexes the engine evaluates through. Disabled rules are kept (so
/// [`RuleSet::get`] finds them) but never indexed.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    by_id: HashMap<u64, usize>,
    all_hosts: Vec<usize>,
    all_containers: Vec<usize>,
    by_host_id: HashMap<String, Vec<usize>>,
    by_container_id: HashMap<String, Vec<usize>>,
    by_container_name: HashMap<String, Vec<usize>>,
    container_globs: Vec<usize>,
    fingerprint: u64,
}

impl RuleSet {
    /// Validates every rule and indexes the enabled ones. Fails on the first invalid rule or a
    /// repeated id.
    pub fn new(rules: Vec<Rule>) -> Result<RuleSet, RuleSetError> {
        let mut set = RuleSet {
            rules: Vec::new(),
            by_id: HashMap::new(),
            all_hosts: Vec::new(),
            all_containers: Vec::new(),
            by_host_id: HashMap::new(),
            by_container_id: HashMap::new(),
            by_container_name: HashMap::new(),
            container_globs: Vec::new(),
            fingerprint: fingerprint(&rules),
        };
        for (i, rule) in rules.iter().enumerate() {
            rule.validate()
                .map_err(|error| RuleSetError::Invalid { id: rule.id, error })?;
            if set.by_id.insert(rule.id, i).is_some() {
                return Err(RuleSetError::DuplicateId(rule.id));
            }
            if !rule.enabled {
                continue;
            }
            let kind = rule.metric.machine_kind();
            match (&rule.scope, kind) {
                (Scope::AllHosts, _) => set.all_hosts.push(i),
                (Scope::AllContainers, _) => set.all_containers.push(i),
                (Scope::Machine { id }, MachineKind::Host) => set.by_host_id.entry(id.clone()).or_default().push(i),
                (Scope::Machine { id }, MachineKind::Container) => {
                    set.by_container_id.entry(id.clone()).or_default().push(i)
                }
                (scope @ Scope::ContainerName { .. }, _) if scope.is_glob() => set.container_globs.push(i),
                (Scope::ContainerName { pattern }, _) => {
                    set.by_container_name.entry(pattern.clone()).or_default().push(i)
                }
            }
        }
        set.rules = rules;
        Ok(set)
    }

    /// Every rule, enabled or not, in the order given.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule with this id, enabled or not.
    pub fn get(&self, id: u64) -> Option<&Rule> {
        self.by_id.get(&id).map(|&i| &self.rules[i])
    }

    /// A digest of the rules' content: equal rule lists give equal fingerprints, in every process.
    /// The engine re-checks its open alerts against the rules whenever it changes.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The enabled rules that apply to this host, without duplicates.
    pub(crate) fn for_host<'a>(&'a self, host_id: &str) -> impl Iterator<Item = &'a Rule> + 'a {
        let own = self.by_host_id.get(host_id).map(Vec::as_slice).unwrap_or_default();
        self.all_hosts.iter().chain(own).map(|&i| &self.rules[i])
    }

    /// The enabled rules that apply to this container, without duplicates.
    pub(crate) fn for_container<'a>(&'a self, id: &str, name: &'a str) -> impl Iterator<Item = &'a Rule> + 'a {
        let own = self.by_container_id.get(id).map(Vec::as_slice).unwrap_or_default();
        let named = self.by_container_name.get(name).map(Vec::as_slice).unwrap_or_default();
        let globbed = self
            .container_globs
            .iter()
            .filter(move |&&i| match &self.rules[i].scope {
                Scope::ContainerName { pattern } => super::scope::glob_match(pattern, name),
                _ => false,
            });
        self.all_containers
            .iter()
            .chain(own)
            .chain(named)
            .chain(globbed)
            .map(|&i| &self.rules[i])
    }
}

impl Default for RuleSet {
    /// No rules at all.
    fn default() -> Self {
        RuleSet::new(Vec::new()).expect("an empty rule list is valid")
    }
}

fn fingerprint(rules: &[Rule]) -> u64 {
    let json = serde_json::to_vec(rules).unwrap_or_default();
    let digest = Sha256::digest(&json);
    u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 digest has 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Direction, Metric, Severity};

    fn rule(id: u64, metric: Metric, scope: Scope) -> Rule {
        Rule {
            id,
            metric,
            direction: Direction::Above,
            raise: 10.0,
            clear: 5.0,
            for_secs: 0,
            severity: Severity::Info,
            scope,
            enabled: true,
        }
    }

    fn ids<'a>(it: impl Iterator<Item = &'a Rule>) -> Vec<u64> {
        it.map(|r| r.id).collect()
    }

    #[test]
    fn machines_see_exactly_the_rules_whose_scope_matches() {
        let c = Metric::ContainerCpuPercent;
        let set = RuleSet::new(vec![
            rule(1, Metric::HostCpuPercent, Scope::AllHosts),
            rule(2, Metric::HostCpuPercent, Scope::Machine { id: "h1".into() }),
            rule(3, c, Scope::AllContainers),
            rule(4, c, Scope::Machine { id: "c1".into() }),
            rule(5, c, Scope::ContainerName { pattern: "web".into() }),
            rule(6, c, Scope::ContainerName { pattern: "web*".into() }),
            rule(7, c, Scope::ContainerName { pattern: "*db".into() }),
            Rule {
                enabled: false,
                ..rule(8, Metric::HostCpuPercent, Scope::AllHosts)
            },
        ])
        .unwrap();
        assert_eq!(ids(set.for_host("h1")), [1, 2]);
        assert_eq!(ids(set.for_host("h2")), [1]);
        assert_eq!(ids(set.for_container("c1", "web")), [3, 4, 5, 6]);
        assert_eq!(ids(set.for_container("c2", "web-2")), [3, 6]);
        assert_eq!(ids(set.for_container("c3", "orders-db")), [3, 7]);
        assert!(set.get(8).is_some_and(|r| !r.enabled));
    }

    #[test]
    fn invalid_rules_and_repeated_ids_are_refused() {
        let bad = Rule {
            clear: 20.0,
            ..rule(3, Metric::HostCpuPercent, Scope::AllHosts)
        };
        let err = RuleSet::new(vec![bad]).unwrap_err();
        assert!(
            err.to_string().starts_with("rule 3: the clear value 20 is above"),
            "{err}"
        );
        let r = rule(4, Metric::HostCpuPercent, Scope::AllHosts);
        assert_eq!(
            RuleSet::new(vec![r.clone(), r]).unwrap_err(),
            RuleSetError::DuplicateId(4)
        );
    }

    #[test]
    fn fingerprint_follows_content() {
        let a = vec![rule(1, Metric::HostCpuPercent, Scope::AllHosts)];
        let mut b = a.clone();
        b[0].raise = 11.0;
        let fa = RuleSet::new(a.clone()).unwrap().fingerprint();
        assert_eq!(fa, RuleSet::new(a).unwrap().fingerprint());
        assert_ne!(fa, RuleSet::new(b).unwrap().fingerprint());
        assert_ne!(fa, RuleSet::new(vec![]).unwrap().fingerprint());
    }
}
