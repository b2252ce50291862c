//! Where a rule applies: every host, every container, one machine by id, or containers by name
//! (exact, or a glob pattern where `*` stands for any run of characters).
//!
//! JSON: `{"kind": "all_hosts"}`, `{"kind": "all_containers"}`, `{"kind": "machine", "id": "…"}`,
//! `{"kind": "container_name", "pattern": "web-*"}`. For two storage columns, [`Scope::kind`] and
//! [`Scope::value`] split it and [`Scope::from_parts`] joins it again.

use serde::{Deserialize, Serialize};

use super::metric::MachineKind;
use super::rules::RuleError;

/// The machines a rule watches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// Every host.
    AllHosts,
    /// Every container.
    AllContainers,
    /// One host or one container, by its id.
    Machine { id: String },
    /// Containers whose name equals the pattern, or matches it when it contains `*`.
    ContainerName { pattern: String },
}

impl Scope {
    /// The scope's kind: `all_hosts`, `all_containers`, `machine` or `container_name`.
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::AllHosts => "all_hosts",
            Scope::AllContainers => "all_containers",
            Scope::Machine { .. } => "machine",
            Scope::ContainerName { .. } => "container_name",
        }
    }

    /// The machine id or the name pattern; `None` for the `all_*` kinds.
    pub fn value(&self) -> Option<&str> {
        match self {
            Scope::AllHosts | Scope::AllContainers => None,
            Scope::Machine { id } => Some(id),
            Scope::ContainerName { pattern } => Some(pattern),
        }
    }

    /// Inverse of [`Scope::kind`] + [`Scope::value`].
    pub fn from_parts(kind: &str, value: Option<&str>) -> Result<Scope, RuleError> {
        let value = value.unwrap_or_default().to_owned();
        let scope = match kind {
            "all_hosts" => Scope::AllHosts,
            "all_containers" => Scope::AllContainers,
            "machine" => Scope::Machine { id: value },
            "container_name" => Scope::ContainerName { pattern: value },
            other => return Err(RuleError::UnknownScope(other.to_owned())),
        };
        scope.check_not_empty()?;
        Ok(scope)
    }

    /// Whether the scope can match machines of this kind at all (`machine` matches either).
    pub fn applies_to(&self, kind: MachineKind) -> bool {
        match self {
            Scope::AllHosts => kind == MachineKind::Host,
            Scope::AllContainers | Scope::ContainerName { .. } => kind == MachineKind::Container,
            Scope::Machine { .. } => true,
        }
    }

    /// Whether the scope matches one machine (`name` is only looked at for containers).
    pub fn matches(&self, kind: MachineKind, id: &str, name: &str) -> bool {
        self.applies_to(kind)
            && match self {
                Scope::AllHosts | Scope::AllContainers => true,
                Scope::Machine { id: want } => want == id,
                Scope::ContainerName { pattern } => glob_match(pattern, name),
            }
    }

    /// Whether this is a container name pattern with a `*` in it (else an exact name).
    pub fn is_glob(&self) -> bool {
        matches!(self, Scope::ContainerName { pattern } if pattern.contains('*'))
    }

    pub(crate) fn check_not_empty(&self) -> Result<(), RuleError> {
        match self {
            Scope::Machine { id } if id.is_empty() => Err(RuleError::EmptyScope {
                scope: "machine",
                what: "machine id",
            }),
            Scope::ContainerName { pattern } if pattern.is_empty() => Err(RuleError::EmptyScope {
                scope: "container_name",
                what: "name pattern",
            }),
            // as long as the ids and names records may carry, no longer
            Scope::Machine { id } if id.len() > common::validate::MAX_ID_LEN => Err(RuleError::ScopeTooLong {
                what: "machine id",
                max: common::validate::MAX_ID_LEN,
            }),
            Scope::ContainerName { pattern } if pattern.len() > common::validate::MAX_NAME_LEN => {
                Err(RuleError::ScopeTooLong {
                    what: "name pattern",
                    max: common::validate::MAX_NAME_LEN,
                })
            }
            _ => Ok(()),
        }
    }
}

/// Glob match where `*` matches any run of characters (also none) and every other character
/// matches itself, case-sensitively (Docker names are). No allocation; linear backtracking.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // Position of the last `*` seen, and the text position it is currently matched up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            // Let the last `*` swallow one more character and retry from there.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_a_shell_star() {
        for (pattern, name, want) in [
            ("web", "web", true),
            ("web", "web-1", false),
            ("web-*", "web-1", true),
            ("web-*", "web-", true),
            ("web-*", "web", false),
            ("*-db", "orders-db", true),
            ("*-db", "orders-db-replica", false),
            ("*db*", "orders-db-replica", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("a*b", "abab", true),
            ("*", "", true),
            ("*", "anything", true),
            ("**x", "yx", true),
            ("Web*", "web-1", false),
            ("", "", true),
            ("", "x", false),
        ] {
            assert_eq!(glob_match(pattern, name), want, "{pattern:?} vs {name:?}");
        }
    }

    #[test]
    fn scopes_match_their_machines_only() {
        let glob = Scope::ContainerName {
            pattern: "api-*".into(),
        };
        assert!(glob.matches(MachineKind::Container, "c1", "api-7"));
        assert!(!glob.matches(MachineKind::Container, "c1", "web-7"));
        assert!(!glob.matches(MachineKind::Host, "h1", "api-7"));
        let one = Scope::Machine { id: "abc".into() };
        assert!(one.matches(MachineKind::Host, "abc", ""));
        assert!(one.matches(MachineKind::Container, "abc", "x"));
        assert!(!one.matches(MachineKind::Container, "abd", "x"));
        assert!(Scope::AllHosts.matches(MachineKind::Host, "h", ""));
        assert!(!Scope::AllHosts.matches(MachineKind::Container, "c", "n"));
        assert!(Scope::AllContainers.matches(MachineKind::Container, "c", "n"));
    }

    #[test]
    fn json_and_column_forms_round_trip() {
        let s = Scope::ContainerName {
            pattern: "web-*".into(),
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({"kind": "container_name", "pattern": "web-*"})
        );
        assert_eq!(
            serde_json::to_value(Scope::AllHosts).unwrap(),
            serde_json::json!({"kind": "all_hosts"})
        );
        for s in [
            Scope::AllHosts,
            Scope::AllContainers,
            Scope::Machine { id: "h1".into() },
            s,
        ] {
            assert_eq!(Scope::from_parts(s.kind(), s.value()).unwrap(), s);
        }
        assert_eq!(
            Scope::from_parts("galaxy", None).unwrap_err().to_string(),
            "unknown scope kind \"galaxy\"; known: all_hosts, all_containers, machine, container_name"
        );
        assert!(Scope::from_parts("machine", None).is_err());
        assert!(Scope::from_parts("machine", Some("")).is_err());
    }
}
