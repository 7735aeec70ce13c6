//! The scheduler's configuration file, after `KubeSchedulerConfiguration`
//! (`apiVersion: kubescheduler.config.k8s.io/v1`).
//!
//! Profiles name a `schedulerName`, enable and disable plugins per extension
//! point (or everywhere with `multiPoint`; `"*"` disables all defaults), set
//! score weights, give plugin args in `pluginConfig`, and may override
//! `percentageOfNodesToScore`. Unknown fields and unknown plugin names are
//! errors. cuttle adds one field to a profile, `cuttle`, with Borg's three
//! optimisations, each on by default:
//!
//! ```yaml
//! apiVersion: kubescheduler.config.k8s.io/v1
//! kind: KubeSchedulerConfiguration
//! profiles:
//! - schedulerName: default-scheduler
//!   plugins:
//!     score:
//!       disabled: [{name: NodeResourcesBalancedAllocation}]
//!       enabled: [{name: NodeResourcesFit, weight: 2}]
//!   pluginConfig:
//!   - name: NodeResourcesFit
//!     args:
//!       scoringStrategy:
//!         type: MostAllocated            # best fit; LeastAllocated = worst fit
//!         resources: [{name: cpu, weight: 1}, {name: memory, weight: 1}]
//!   cuttle:
//!     equivalenceClasses: true   # share filter results among one owner's identical pods
//!     scoreCache: true           # reuse node-local score parts while a node is unchanged
//!     relaxedRandomization: true # stop after percentageOfNodesToScore feasible nodes
//! ```

use serde::{Deserialize, Serialize};

/// The API version this file format is.
pub const API_VERSION: &str = "kubescheduler.config.k8s.io/v1";
/// The kind of this file format.
pub const KIND: &str = "KubeSchedulerConfiguration";
/// The scheduler name of the default profile.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// What is wrong with a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The YAML does not parse or has an unknown field.
    #[error("scheduler configuration: {0}")]
    Yaml(String),
    /// `apiVersion` or `kind` is not the one cuttle reads.
    #[error("scheduler configuration: apiVersion/kind must be {API_VERSION}/{KIND}, got {0}/{1}")]
    WrongKind(String, String),
    /// A plugin name no registry entry has.
    #[error(
        "scheduler configuration: profile {profile:?}: unknown plugin {name:?} (known: {known})"
    )]
    UnknownPlugin {
        /// The profile.
        profile: String,
        /// The name as written.
        name: String,
        /// The names cuttle knows.
        known: String,
    },
    /// A Kubernetes plugin cuttle does not implement, enabled explicitly.
    #[error("scheduler configuration: profile {profile:?}: plugin {name:?} is not implemented by cuttle; disable it or remove it")]
    Unsupported {
        /// The profile.
        profile: String,
        /// The plugin.
        name: String,
    },
    /// A plugin enabled at an extension point it does not implement.
    #[error(
        "scheduler configuration: profile {profile:?}: plugin {name:?} does not extend {point}"
    )]
    WrongExtensionPoint {
        /// The profile.
        profile: String,
        /// The plugin.
        name: String,
        /// The extension point.
        point: &'static str,
    },
    /// A plugin's args do not parse.
    #[error("scheduler configuration: profile {profile:?}: pluginConfig {name}: {error}")]
    BadArgs {
        /// The profile.
        profile: String,
        /// The plugin.
        name: String,
        /// Why.
        error: String,
    },
    /// Any other invalid value.
    #[error("scheduler configuration: {0}")]
    Invalid(String),
}

/// Borg's optimisations: cuttle's extension of a profile (`cuttle:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BorgSwitches {
    /// Pods of one owner with an identical spec share node-local filter results.
    #[serde(default = "yes")]
    pub equivalence_classes: bool,
    /// Node-local score parts are reused while the node and its pods are unchanged.
    #[serde(default = "yes")]
    pub score_cache: bool,
    /// Visit nodes from a rotating offset and stop after enough feasible ones.
    #[serde(default = "yes")]
    pub relaxed_randomization: bool,
}

fn yes() -> bool {
    true
}

impl Default for BorgSwitches {
    fn default() -> Self {
        BorgSwitches {
            equivalence_classes: true,
            score_cache: true,
            relaxed_randomization: true,
        }
    }
}

/// A plugin named in `enabled` or `disabled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PluginRef {
    /// Plugin name, or `"*"` in `disabled`.
    pub name: String,
    /// Score weight (score and multiPoint only; 0 or absent: the plugin's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

impl PluginRef {
    /// A reference by name.
    pub fn named(name: &str) -> Self {
        PluginRef {
            name: name.into(),
            weight: None,
        }
    }
}

/// Plugins enabled and disabled at one extension point.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PluginSet {
    /// Added after the defaults (or replacing a default's weight).
    #[serde(default)]
    pub enabled: Vec<PluginRef>,
    /// Removed from the defaults.
    #[serde(default)]
    pub disabled: Vec<PluginRef>,
}

/// `plugins:` of a profile, per extension point.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Plugins {
    /// Every extension point the plugin implements.
    #[serde(default)]
    pub multi_point: PluginSet,
    #[serde(default)]
    pub pre_enqueue: PluginSet,
    #[serde(default)]
    pub queue_sort: PluginSet,
    #[serde(default)]
    pub pre_filter: PluginSet,
    #[serde(default)]
    pub filter: PluginSet,
    #[serde(default)]
    pub post_filter: PluginSet,
    #[serde(default)]
    pub pre_score: PluginSet,
    #[serde(default)]
    pub score: PluginSet,
    #[serde(default)]
    pub reserve: PluginSet,
    #[serde(default)]
    pub permit: PluginSet,
    #[serde(default)]
    pub pre_bind: PluginSet,
    #[serde(default)]
    pub bind: PluginSet,
    #[serde(default)]
    pub post_bind: PluginSet,
}

/// Args for one plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PluginConfig {
    /// The plugin's name.
    pub name: String,
    /// Its args (the plugin's `...Args` type, without apiVersion/kind).
    #[serde(default)]
    pub args: serde_json::Value,
}

/// One scheduling profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Profile {
    /// Pods with this `spec.schedulerName` use the profile.
    #[serde(default)]
    pub scheduler_name: Option<String>,
    /// Overrides the top-level `percentageOfNodesToScore`.
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<i32>,
    /// Plugins per extension point.
    #[serde(default)]
    pub plugins: Plugins,
    /// Plugin args.
    #[serde(default)]
    pub plugin_config: Vec<PluginConfig>,
    /// cuttle's extension: Borg's optimisations.
    #[serde(default)]
    pub cuttle: BorgSwitches,
}

/// `leaderElection`, as kube-scheduler reads it; absent fields take
/// Kubernetes' defaults (on, a Lease `kube-system/kube-scheduler` held
/// 15 s, renewed within 10 s, tried every 2 s).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LeaderElectionConfig {
    /// Whether to elect a leader before scheduling (default true).
    #[serde(default)]
    pub leader_elect: Option<bool>,
    /// How long a lease holds without renewal (Go duration, default 15s).
    #[serde(default)]
    pub lease_duration: Option<String>,
    /// How long the leader keeps trying to renew before it gives up (10s).
    #[serde(default)]
    pub renew_deadline: Option<String>,
    /// The wait between tries (2s).
    #[serde(default)]
    pub retry_period: Option<String>,
    /// Only `leases` is supported.
    #[serde(default)]
    pub resource_lock: Option<String>,
    /// The Lease's name (default kube-scheduler).
    #[serde(default)]
    pub resource_name: Option<String>,
    /// The Lease's namespace (default kube-system).
    #[serde(default)]
    pub resource_namespace: Option<String>,
}

/// Leader election settings with the defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderElection {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// How long a lease holds without renewal.
    pub lease_duration: std::time::Duration,
    /// How long the leader keeps trying to renew.
    pub renew_deadline: std::time::Duration,
    /// The wait between tries.
    pub retry_period: std::time::Duration,
}

impl LeaderElectionConfig {
    /// The settings, or `None` when leader election is off.
    pub fn resolve(
        cfg: Option<&LeaderElectionConfig>,
    ) -> Result<Option<LeaderElection>, ConfigError> {
        let default = LeaderElectionConfig::default();
        let c = cfg.unwrap_or(&default);
        if c.leader_elect == Some(false) {
            return Ok(None);
        }
        if let Some(lock) = c.resource_lock.as_deref().filter(|l| *l != "leases") {
            return Err(ConfigError::Invalid(format!(
                "leaderElection.resourceLock {lock:?} is not supported; use \"leases\""
            )));
        }
        let duration = |field: &str, text: Option<&str>, default: u64| match text {
            None => Ok(std::time::Duration::from_secs(default)),
            Some(t) => parse_go_duration(t).ok_or_else(|| {
                ConfigError::Invalid(format!("leaderElection.{field}: {t:?} is not a duration"))
            }),
        };
        let le = LeaderElection {
            namespace: c
                .resource_namespace
                .clone()
                .unwrap_or_else(|| "kube-system".into()),
            name: c
                .resource_name
                .clone()
                .unwrap_or_else(|| "kube-scheduler".into()),
            lease_duration: duration("leaseDuration", c.lease_duration.as_deref(), 15)?,
            renew_deadline: duration("renewDeadline", c.renew_deadline.as_deref(), 10)?,
            retry_period: duration("retryPeriod", c.retry_period.as_deref(), 2)?,
        };
        // client-go's own rules.
        if le.retry_period.is_zero()
            || le.lease_duration <= le.renew_deadline
            || le.renew_deadline.as_secs_f64() <= 1.2 * le.retry_period.as_secs_f64()
        {
            return Err(ConfigError::Invalid(
                "leaderElection: retryPeriod must be positive, leaseDuration greater than renewDeadline, and renewDeadline greater than 1.2 × retryPeriod".into(),
            ));
        }
        Ok(Some(le))
    }
}

/// A Go duration as `time.ParseDuration` reads it (`15s`, `1m30s`,
/// `500ms`, `1.5h`, `+1h`, `0`), but never negative. Used by the scheduler's
/// config and by flags that take one (`--event-ttl`).
pub fn parse_go_duration(text: &str) -> Option<std::time::Duration> {
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest == "0" {
        return Some(std::time::Duration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            // Go takes both the micro sign and the Greek mu.
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * seconds;
        rest = &rest[unit_len..];
    }
    // Go's durations end at about 292 years.
    if total > 9.2e9 {
        return None;
    }
    std::time::Duration::try_from_secs_f64(total).ok()
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeSchedulerConfiguration {
    /// Must be `kubescheduler.config.k8s.io/v1`.
    pub api_version: String,
    /// Must be `KubeSchedulerConfiguration`.
    pub kind: String,
    /// Accepted for compatibility; cuttle's core is single-threaded per cycle.
    #[serde(default)]
    pub parallelism: Option<i32>,
    /// Leader election among schedulers of one name (`cuttle scheduler`).
    #[serde(default)]
    pub leader_election: Option<LeaderElectionConfig>,
    /// API client settings (used by the component that runs the scheduler).
    #[serde(default)]
    pub client_connection: Option<serde_json::Value>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub enable_profiling: Option<bool>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub enable_contention_profiling: Option<bool>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub delay_cache_until_active: Option<bool>,
    /// Percentage of nodes to find feasible before scoring (0 or absent: adaptive).
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<i32>,
    /// Initial backoff of a pod that failed to schedule (default 1).
    #[serde(default)]
    pub pod_initial_backoff_seconds: Option<i64>,
    /// Maximum backoff (default 10).
    #[serde(default)]
    pub pod_max_backoff_seconds: Option<i64>,
    /// Profiles (default: one `default-scheduler` profile).
    #[serde(default)]
    pub profiles: Vec<Profile>,
    /// Scheduler extenders: not supported, must be empty.
    #[serde(default)]
    pub extenders: Vec<serde_json::Value>,
}

impl Default for KubeSchedulerConfiguration {
    fn default() -> Self {
        KubeSchedulerConfiguration {
            api_version: API_VERSION.into(),
            kind: KIND.into(),
            parallelism: None,
            leader_election: None,
            client_connection: None,
            enable_profiling: None,
            enable_contention_profiling: None,
            delay_cache_until_active: None,
            percentage_of_nodes_to_score: None,
            pod_initial_backoff_seconds: None,
            pod_max_backoff_seconds: None,
            profiles: Vec::new(),
            extenders: Vec::new(),
        }
    }
}

impl KubeSchedulerConfiguration {
    /// Parses and validates a YAML (or JSON) configuration.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let cfg: KubeSchedulerConfiguration =
            serde_saphyr::from_str(text).map_err(|e| ConfigError::Yaml(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks what serde cannot: kind, ranges, unsupported features. Plugin names and
    /// args are checked when the profiles are built ([`crate::registry::build_profiles`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.api_version != API_VERSION || self.kind != KIND {
            return Err(ConfigError::WrongKind(
                self.api_version.clone(),
                self.kind.clone(),
            ));
        }
        if !self.extenders.is_empty() {
            return Err(ConfigError::Invalid("extenders are not supported".into()));
        }
        let pct_ok = |p: Option<i32>| p.is_none_or(|p| (0..=100).contains(&p));
        if !pct_ok(self.percentage_of_nodes_to_score)
            || !self
                .profiles
                .iter()
                .all(|p| pct_ok(p.percentage_of_nodes_to_score))
        {
            return Err(ConfigError::Invalid(
                "percentageOfNodesToScore must be between 0 and 100".into(),
            ));
        }
        let (initial, max) = (self.initial_backoff_seconds(), self.max_backoff_seconds());
        if initial <= 0 || max < initial {
            return Err(ConfigError::Invalid(format!(
                "podInitialBackoffSeconds ({initial}) must be positive and at most podMaxBackoffSeconds ({max})"
            )));
        }
        let mut names = std::collections::BTreeSet::new();
        for p in &self.profiles {
            if !names.insert(p.name()) {
                return Err(ConfigError::Invalid(format!(
                    "duplicate profile for schedulerName {:?}",
                    p.name()
                )));
            }
        }
        Ok(())
    }

    /// `podInitialBackoffSeconds` with its default.
    pub fn initial_backoff_seconds(&self) -> i64 {
        self.pod_initial_backoff_seconds.unwrap_or(1)
    }

    /// `podMaxBackoffSeconds` with its default.
    pub fn max_backoff_seconds(&self) -> i64 {
        self.pod_max_backoff_seconds.unwrap_or(10)
    }

    /// The profiles, or one default profile when none is given.
    pub fn effective_profiles(&self) -> Vec<Profile> {
        if self.profiles.is_empty() {
            vec![Profile::default()]
        } else {
            self.profiles.clone()
        }
    }
}

impl Profile {
    /// `schedulerName` with its default.
    pub fn name(&self) -> &str {
        self.scheduler_name
            .as_deref()
            .unwrap_or(DEFAULT_SCHEDULER_NAME)
    }

    /// The args given for a plugin, if any.
    pub fn args_of(&self, plugin: &str) -> Option<&serde_json::Value> {
        self.plugin_config
            .iter()
            .find(|c| c.name == plugin)
            .map(|c| &c.args)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn leader_election_defaults_durations_and_errors() {
        let le = LeaderElectionConfig::resolve(None).unwrap().unwrap();
        assert_eq!(
            (le.namespace.as_str(), le.name.as_str()),
            ("kube-system", "kube-scheduler")
        );
        assert_eq!(le.lease_duration, std::time::Duration::from_secs(15));
        let off = LeaderElectionConfig {
            leader_elect: Some(false),
            ..Default::default()
        };
        assert_eq!(LeaderElectionConfig::resolve(Some(&off)).unwrap(), None);
        let bad = LeaderElectionConfig {
            resource_lock: Some("endpoints".into()),
            ..Default::default()
        };
        assert!(LeaderElectionConfig::resolve(Some(&bad)).is_err());
        let inverted = LeaderElectionConfig {
            renew_deadline: Some("20s".into()),
            ..Default::default()
        };
        assert!(LeaderElectionConfig::resolve(Some(&inverted)).is_err());
        assert_eq!(
            parse_go_duration("1m30s"),
            Some(std::time::Duration::from_secs(90))
        );
        assert_eq!(
            parse_go_duration("500ms"),
            Some(std::time::Duration::from_millis(500))
        );
        assert_eq!(
            parse_go_duration("1.5h"),
            Some(std::time::Duration::from_secs(5400))
        );
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("5 s"), None);
        let yaml = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nleaderElection: {leaderElect: true, leaseDurations: 3s}\n";
        assert!(KubeSchedulerConfiguration::from_yaml(yaml).is_err());
    }

    use super::*;

    #[test]
    fn parses_a_full_profile() {
        let cfg = KubeSchedulerConfiguration::from_yaml(
            r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 30
podMaxBackoffSeconds: 20
leaderElection: {leaderElect: false}
profiles:
- schedulerName: batch
  plugins:
    score:
      enabled: [{name: NodeResourcesFit, weight: 5}]
      disabled: [{name: "*"}]
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: RequestedToCapacityRatio
        resources: [{name: cpu, weight: 2}]
        requestedToCapacityRatio:
          shape: [{utilization: 0, score: 0}, {utilization: 100, score: 10}]
  cuttle: {equivalenceClasses: false}
"#,
        )
        .unwrap();
        assert_eq!(cfg.percentage_of_nodes_to_score, Some(30));
        assert_eq!(cfg.max_backoff_seconds(), 20);
        let p = &cfg.profiles[0];
        assert_eq!(p.name(), "batch");
        assert_eq!(p.plugins.score.enabled[0].weight, Some(5));
        assert!(!p.cuttle.equivalence_classes);
        assert!(p.cuttle.score_cache, "unset switches stay on");
        assert!(p.args_of("NodeResourcesFit").is_some());
    }

    #[test]
    fn the_documented_examples_build() {
        let readme = include_str!("../README.md");
        let start = readme.find("```yaml\n").expect("README has a yaml block") + 8;
        let end = start + readme[start..].find("```").expect("closed block");
        let cfg = KubeSchedulerConfiguration::from_yaml(&readme[start..end]).unwrap();
        let profiles = crate::registry::build_profiles(&cfg).unwrap();
        assert_eq!(profiles[0].score.len(), 2);
        let module_doc: String = include_str!("config.rs")
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .map(|l| l.trim_start_matches("//!").strip_prefix(' ').unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let start = module_doc.find("```yaml\n").unwrap() + 8;
        let end = start + module_doc[start..].find("```").unwrap();
        let cfg = KubeSchedulerConfiguration::from_yaml(&module_doc[start..end]).unwrap();
        assert!(crate::registry::build_profiles(&cfg).is_ok());
    }

    #[test]
    fn unknown_fields_are_errors() {
        let err = KubeSchedulerConfiguration::from_yaml(
            "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: x\n  plugns: {}\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("plugns"), "{err}");
        let err = KubeSchedulerConfiguration::from_yaml(
            "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- cuttle: {scoreCaching: true}\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("scoreCaching"), "{err}");
    }

    #[test]
    fn rejects_wrong_kind_and_bad_values() {
        let wrong =
            KubeSchedulerConfiguration::from_yaml("apiVersion: v1\nkind: Pod\n").unwrap_err();
        assert!(matches!(wrong, ConfigError::WrongKind(..)));
        let bad = KubeSchedulerConfiguration::from_yaml(
            "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\npercentageOfNodesToScore: 101\n",
        )
        .unwrap_err();
        assert!(bad.to_string().contains("between 0 and 100"), "{bad}");
        let dup = KubeSchedulerConfiguration::from_yaml(
            "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles: [{}, {schedulerName: default-scheduler}]\n",
        )
        .unwrap_err();
        assert!(dup.to_string().contains("duplicate"), "{dup}");
    }
}
