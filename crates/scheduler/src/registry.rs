//! The one registry of plugins, and the profiles built from it.
//!
//! [`REGISTRY`] lists every plugin cuttle has: its name, the extension points
//! it implements, its default score weight, whether it is on by default, and
//! how to build it from its args. [`build_profiles`] turns a
//! [`KubeSchedulerConfiguration`] into [`SchedulingProfile`]s the way
//! kube-scheduler merges defaults with `enabled`/`disabled`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::config::{BorgSwitches, ConfigError, KubeSchedulerConfiguration, PluginSet, Profile};
use crate::framework::{
    ClusterEvent, FilterPlugin, Plugin, PostFilterPlugin, PreFilterPlugin, PreScorePlugin,
    ScorePlugin,
};
use crate::plugins::{
    balanced_allocation, default_preemption, inter_pod_affinity, node_affinity, node_name,
    node_ports, node_resources_fit, node_unschedulable, pod_topology_spread, recent_failures,
    taint_toleration,
};

/// An extension point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Point {
    /// Gate before a pod enters the active queue.
    PreEnqueue,
    /// Order of the active queue.
    QueueSort,
    /// Once per cycle before the filters.
    PreFilter,
    /// Per node.
    Filter,
    /// When no node fits.
    PostFilter,
    /// Once per cycle before the scores.
    PreScore,
    /// Per feasible node.
    Score,
    /// Reserve (no in-tree plugin in cuttle).
    Reserve,
    /// Permit (no in-tree plugin in cuttle).
    Permit,
    /// PreBind (no in-tree plugin in cuttle).
    PreBind,
    /// Bind (performed by the API layer).
    Bind,
    /// PostBind (no in-tree plugin in cuttle).
    PostBind,
}

impl Point {
    fn config_name(self) -> &'static str {
        match self {
            Point::PreEnqueue => "preEnqueue",
            Point::QueueSort => "queueSort",
            Point::PreFilter => "preFilter",
            Point::Filter => "filter",
            Point::PostFilter => "postFilter",
            Point::PreScore => "preScore",
            Point::Score => "score",
            Point::Reserve => "reserve",
            Point::Permit => "permit",
            Point::PreBind => "preBind",
            Point::Bind => "bind",
            Point::PostBind => "postBind",
        }
    }

    const ALL: [Point; 12] = [
        Point::PreEnqueue,
        Point::QueueSort,
        Point::PreFilter,
        Point::Filter,
        Point::PostFilter,
        Point::PreScore,
        Point::Score,
        Point::Reserve,
        Point::Permit,
        Point::PreBind,
        Point::Bind,
        Point::PostBind,
    ];
}

/// The instances a plugin contributes to each extension point.
#[derive(Default)]
pub struct Handles {
    pre_filter: Option<Arc<dyn PreFilterPlugin>>,
    filter: Option<Arc<dyn FilterPlugin>>,
    post_filter: Option<Arc<dyn PostFilterPlugin>>,
    pre_score: Option<Arc<dyn PreScorePlugin>>,
    score: Option<Arc<dyn ScorePlugin>>,
    events: &'static [ClusterEvent],
}

type Factory = fn(Option<&serde_json::Value>) -> Result<Handles, String>;

/// One registered plugin.
pub struct Entry {
    /// Name as the configuration spells it.
    pub name: &'static str,
    /// Extension points it implements.
    pub points: &'static [Point],
    /// Default score weight (Kubernetes' defaults).
    pub weight: i64,
    /// On in the default profile.
    pub default_on: bool,
    factory: Factory,
}

fn args<T: DeserializeOwned + Default>(v: Option<&serde_json::Value>) -> Result<T, String> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(T::default()),
        Some(v) => {
            let mut v = v.clone();
            if let Some(m) = v.as_object_mut() {
                // Kubernetes args may carry their own apiVersion/kind.
                m.remove("apiVersion");
                m.remove("kind");
            }
            serde_json::from_value(v).map_err(|e| e.to_string())
        }
    }
}

fn no_args(v: Option<&serde_json::Value>) -> Result<(), String> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(()),
        Some(serde_json::Value::Object(m))
            if m.keys().all(|k| k == "apiVersion" || k == "kind") =>
        {
            Ok(())
        }
        Some(_) => Err("this plugin takes no args".into()),
    }
}

fn externally_run(v: Option<&serde_json::Value>) -> Result<Handles, String> {
    no_args(v)?;
    Ok(Handles::default())
}

use Point::*;

/// Every plugin cuttle knows, in the default order.
pub static REGISTRY: &[Entry] = &[
    Entry {
        name: "SchedulingGates",
        points: &[PreEnqueue],
        weight: 0,
        default_on: true,
        factory: externally_run,
    },
    Entry {
        name: "PrioritySort",
        points: &[QueueSort],
        weight: 0,
        default_on: true,
        factory: externally_run,
    },
    Entry {
        name: node_unschedulable::NAME,
        points: &[Filter],
        weight: 0,
        default_on: true,
        factory: |a| {
            no_args(a)?;
            let p = Arc::new(node_unschedulable::NodeUnschedulable);
            Ok(Handles {
                events: p.events(),
                filter: Some(p),
                ..Default::default()
            })
        },
    },
    Entry {
        name: node_name::NAME,
        points: &[Filter],
        weight: 0,
        default_on: true,
        factory: |a| {
            no_args(a)?;
            let p = Arc::new(node_name::NodeName);
            Ok(Handles {
                events: p.events(),
                filter: Some(p),
                ..Default::default()
            })
        },
    },
    Entry {
        name: taint_toleration::NAME,
        points: &[Filter, Score],
        weight: 3,
        default_on: true,
        factory: |a| {
            no_args(a)?;
            let p = Arc::new(taint_toleration::TaintToleration);
            Ok(Handles {
                events: p.events(),
                filter: Some(p.clone()),
                score: Some(p),
                ..Default::default()
            })
        },
    },
    Entry {
        name: node_affinity::NAME,
        points: &[Filter, PreScore, Score],
        weight: 2,
        default_on: true,
        factory: |a| {
            let p = Arc::new(node_affinity::NodeAffinity::new(args(a)?));
            Ok(Handles {
                events: p.events(),
                filter: Some(p.clone()),
                pre_score: Some(p.clone()),
                score: Some(p),
                ..Default::default()
            })
        },
    },
    Entry {
        name: node_ports::NAME,
        points: &[PreFilter, Filter],
        weight: 0,
        default_on: true,
        factory: |a| {
            no_args(a)?;
            let p = Arc::new(node_ports::NodePorts);
            Ok(Handles {
                events: p.events(),
                pre_filter: Some(p.clone()),
                filter: Some(p),
                ..Default::default()
            })
        },
    },
    Entry {
        name: node_resources_fit::NAME,
        points: &[Filter, Score],
        weight: 1,
        default_on: true,
        factory: |a| {
            let p = Arc::new(node_resources_fit::NodeResourcesFit::new(args(a)?));
            Ok(Handles {
                events: p.events(),
                filter: Some(p.clone()),
                score: Some(p),
                ..Default::default()
            })
        },
    },
    Entry {
        name: pod_topology_spread::NAME,
        points: &[PreFilter, Filter, PreScore, Score],
        weight: 2,
        default_on: true,
        factory: |a| {
            let p = Arc::new(pod_topology_spread::PodTopologySpread::new(args(a)?));
            Ok(Handles {
                events: p.events(),
                pre_filter: Some(p.clone()),
                filter: Some(p.clone()),
                pre_score: Some(p.clone()),
                score: Some(p),
                ..Default::default()
            })
        },
    },
    Entry {
        name: inter_pod_affinity::NAME,
        points: &[PreFilter, Filter, PreScore, Score],
        weight: 2,
        default_on: true,
        factory: |a| {
            let p = Arc::new(inter_pod_affinity::InterPodAffinity::new(args(a)?));
            Ok(Handles {
                events: p.events(),
                pre_filter: Some(p.clone()),
                filter: Some(p.clone()),
                pre_score: Some(p.clone()),
                score: Some(p),
                ..Default::default()
            })
        },
    },
    Entry {
        name: default_preemption::NAME,
        points: &[PostFilter],
        weight: 0,
        default_on: true,
        factory: |a| {
            let p = Arc::new(default_preemption::DefaultPreemption::new(args(a)?));
            Ok(Handles {
                post_filter: Some(p),
                ..Default::default()
            })
        },
    },
    Entry {
        name: balanced_allocation::NAME,
        points: &[Score],
        weight: 1,
        default_on: true,
        factory: |a| {
            let p = Arc::new(balanced_allocation::BalancedAllocation::new(args(a)?));
            Ok(Handles {
                events: p.events(),
                score: Some(p),
                ..Default::default()
            })
        },
    },
    Entry {
        name: recent_failures::NAME,
        points: &[PreScore, Score],
        weight: 1,
        default_on: true,
        factory: |a| {
            no_args(a)?;
            let p = Arc::new(recent_failures::RecentFailurePenalty);
            Ok(Handles {
                pre_score: Some(p.clone()),
                score: Some(p),
                ..Default::default()
            })
        },
    },
    Entry {
        name: "DefaultBinder",
        points: &[Bind],
        weight: 0,
        default_on: true,
        factory: externally_run,
    },
];

/// Kubernetes plugins cuttle does not implement: accepted in `disabled`, an error in `enabled`.
pub const UNSUPPORTED: &[&str] = &[
    "VolumeRestrictions",
    "NodeVolumeLimits",
    "VolumeBinding",
    "VolumeZone",
    "ImageLocality",
    "DynamicResources",
    "EBSLimits",
    "GCEPDLimits",
    "AzureDiskLimits",
    "CinderLimits",
];

fn entry(name: &str) -> Option<&'static Entry> {
    REGISTRY.iter().find(|e| e.name == name)
}

/// A profile ready to schedule with: the plugins of each extension point, in order.
pub struct SchedulingProfile {
    /// Pods with this `schedulerName` use the profile.
    pub scheduler_name: String,
    /// PreFilter plugins.
    pub pre_filter: Vec<Arc<dyn PreFilterPlugin>>,
    /// Filter plugins.
    pub filter: Vec<Arc<dyn FilterPlugin>>,
    /// PostFilter plugins.
    pub post_filter: Vec<Arc<dyn PostFilterPlugin>>,
    /// PreScore plugins.
    pub pre_score: Vec<Arc<dyn PreScorePlugin>>,
    /// Score plugins with their weights.
    pub score: Vec<(Arc<dyn ScorePlugin>, i64)>,
    /// Names of the plugins at the points run outside the core (queue sort,
    /// pre-enqueue, bind).
    pub external: Vec<(Point, &'static str)>,
    /// `percentageOfNodesToScore` (`None`: adaptive).
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Borg's optimisations.
    pub borg: BorgSwitches,
    /// Events each enabled plugin wants to hear about (for the queue).
    pub events: HashMap<&'static str, &'static [ClusterEvent]>,
}

impl std::fmt::Debug for SchedulingProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |v: Vec<&'static str>| v.join(",");
        f.debug_struct("SchedulingProfile")
            .field("scheduler_name", &self.scheduler_name)
            .field(
                "filter",
                &names(self.filter.iter().map(|p| p.name()).collect()),
            )
            .field(
                "score",
                &self
                    .score
                    .iter()
                    .map(|(p, w)| format!("{}={w}", p.name()))
                    .collect::<Vec<_>>(),
            )
            .field("borg", &self.borg)
            .finish()
    }
}

impl SchedulingProfile {
    /// Whether the plugin is enabled at any extension point.
    pub fn has_plugin(&self, name: &str) -> bool {
        self.filter.iter().any(|p| p.name() == name)
            || self.score.iter().any(|(p, _)| p.name() == name)
            || self.pre_filter.iter().any(|p| p.name() == name)
            || self.pre_score.iter().any(|p| p.name() == name)
            || self.post_filter.iter().any(|p| p.name() == name)
            || self.external.iter().any(|(_, n)| *n == name)
    }
}

fn point_set(plugins: &crate::config::Plugins, p: Point) -> &PluginSet {
    match p {
        PreEnqueue => &plugins.pre_enqueue,
        QueueSort => &plugins.queue_sort,
        PreFilter => &plugins.pre_filter,
        Filter => &plugins.filter,
        PostFilter => &plugins.post_filter,
        PreScore => &plugins.pre_score,
        Score => &plugins.score,
        Reserve => &plugins.reserve,
        Permit => &plugins.permit,
        PreBind => &plugins.pre_bind,
        Bind => &plugins.bind,
        PostBind => &plugins.post_bind,
    }
}

fn known(profile: &str, name: &str, enabling: bool) -> Result<Option<&'static Entry>, ConfigError> {
    if let Some(e) = entry(name) {
        return Ok(Some(e));
    }
    if UNSUPPORTED.contains(&name) {
        return if enabling {
            Err(ConfigError::Unsupported {
                profile: profile.into(),
                name: name.into(),
            })
        } else {
            Ok(None)
        };
    }
    if name == "*" && !enabling {
        return Ok(None);
    }
    Err(ConfigError::UnknownPlugin {
        profile: profile.into(),
        name: name.into(),
        known: REGISTRY
            .iter()
            .map(|e| e.name)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Resolves which plugins run at `point`, with weights, in order.
fn resolve(profile: &Profile, point: Point) -> Result<Vec<(&'static Entry, i64)>, ConfigError> {
    let pname = profile.name();
    let mut list: Vec<(&'static Entry, i64)> = REGISTRY
        .iter()
        .filter(|e| e.default_on && e.points.contains(&point))
        .map(|e| (e, e.weight))
        .collect();
    for set in [
        &profile.plugins.multi_point,
        point_set(&profile.plugins, point),
    ] {
        for d in &set.disabled {
            if d.name == "*" {
                list.clear();
            } else if let Some(e) = known(pname, &d.name, false)? {
                list.retain(|(x, _)| x.name != e.name);
            }
        }
    }
    let mut upsert = |e: &'static Entry, weight: Option<i32>| {
        let w = weight.filter(|w| *w > 0).map_or(e.weight.max(1), i64::from);
        match list.iter_mut().find(|(x, _)| x.name == e.name) {
            Some(slot) => slot.1 = w,
            None => list.push((e, w)),
        }
    };
    for r in &profile.plugins.multi_point.enabled {
        let Some(e) = known(pname, &r.name, true)? else {
            continue;
        };
        if e.points.contains(&point) {
            upsert(e, r.weight);
        }
    }
    for r in &point_set(&profile.plugins, point).enabled {
        let Some(e) = known(pname, &r.name, true)? else {
            continue;
        };
        if !e.points.contains(&point) {
            return Err(ConfigError::WrongExtensionPoint {
                profile: pname.into(),
                name: r.name.clone(),
                point: point.config_name(),
            });
        }
        upsert(e, r.weight);
    }
    Ok(list)
}

/// Builds one profile.
pub fn build_profile(
    profile: &Profile,
    global_percentage: Option<i32>,
) -> Result<SchedulingProfile, ConfigError> {
    let pname = profile.name().to_string();
    for pc in &profile.plugin_config {
        known(&pname, &pc.name, false)?;
    }
    let mut handles: HashMap<&'static str, Handles> = HashMap::new();
    let mut out = SchedulingProfile {
        scheduler_name: pname.clone(),
        pre_filter: Vec::new(),
        filter: Vec::new(),
        post_filter: Vec::new(),
        pre_score: Vec::new(),
        score: Vec::new(),
        external: Vec::new(),
        percentage_of_nodes_to_score: profile
            .percentage_of_nodes_to_score
            .or(global_percentage)
            .filter(|p| *p > 0)
            .map(|p| p.clamp(0, 100) as u32),
        borg: profile.cuttle,
        events: HashMap::new(),
    };
    let mut seen = BTreeSet::new();
    for point in Point::ALL {
        for (e, weight) in resolve(profile, point)? {
            if !handles.contains_key(e.name) {
                let h =
                    (e.factory)(profile.args_of(e.name)).map_err(|error| ConfigError::BadArgs {
                        profile: pname.clone(),
                        name: e.name.into(),
                        error,
                    })?;
                handles.insert(e.name, h);
            }
            let h = &handles[e.name];
            if seen.insert(e.name) {
                out.events.insert(e.name, h.events);
            }
            match point {
                PreFilter => out.pre_filter.extend(h.pre_filter.clone()),
                Filter => out.filter.extend(h.filter.clone()),
                PostFilter => out.post_filter.extend(h.post_filter.clone()),
                PreScore => out.pre_score.extend(h.pre_score.clone()),
                Score => out.score.extend(h.score.clone().map(|s| (s, weight))),
                other => out.external.push((other, e.name)),
            }
        }
    }
    Ok(out)
}

/// Builds every profile of a configuration.
pub fn build_profiles(
    cfg: &KubeSchedulerConfiguration,
) -> Result<Vec<SchedulingProfile>, ConfigError> {
    cfg.validate()?;
    cfg.effective_profiles()
        .iter()
        .map(|p| build_profile(p, cfg.percentage_of_nodes_to_score))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(yaml_profiles: &str) -> Result<Vec<SchedulingProfile>, ConfigError> {
        let text = format!("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n{yaml_profiles}");
        build_profiles(&KubeSchedulerConfiguration::from_yaml(&text)?)
    }

    fn scores(p: &SchedulingProfile) -> Vec<String> {
        p.score
            .iter()
            .map(|(s, w)| format!("{}={w}", s.name()))
            .collect()
    }

    #[test]
    fn default_profile_has_kubernetes_weights() {
        let p = &profile("").unwrap()[0];
        assert_eq!(p.scheduler_name, "default-scheduler");
        assert_eq!(
            scores(p),
            vec![
                "TaintToleration=3",
                "NodeAffinity=2",
                "NodeResourcesFit=1",
                "PodTopologySpread=2",
                "InterPodAffinity=2",
                "NodeResourcesBalancedAllocation=1",
                "RecentFailurePenalty=1"
            ]
        );
        let filters: Vec<_> = p.filter.iter().map(|f| f.name()).collect();
        assert_eq!(filters[0], "NodeUnschedulable");
        assert_eq!(filters.len(), 8);
        assert_eq!(p.post_filter.len(), 1);
        assert!(p.borg.equivalence_classes && p.borg.score_cache && p.borg.relaxed_randomization);
    }

    #[test]
    fn enable_disable_and_weights() {
        let p = &profile(
            "profiles:\n- plugins:\n    score:\n      disabled: [{name: \"*\"}]\n      enabled: [{name: NodeResourcesFit, weight: 4}]\n    multiPoint:\n      disabled: [{name: InterPodAffinity}, {name: VolumeBinding}]\n",
        )
        .unwrap()[0];
        assert_eq!(scores(p), vec!["NodeResourcesFit=4"]);
        assert!(!p.has_plugin("InterPodAffinity"));
        assert!(p.has_plugin("NodeAffinity"), "still a filter");
    }

    #[test]
    fn unknown_or_misplaced_plugins_are_clear_errors() {
        let unknown = profile(
            "profiles:\n- plugins:\n    filter:\n      enabled: [{name: NodeResourcesFitt}]\n",
        )
        .err()
        .unwrap();
        assert!(
            matches!(unknown, ConfigError::UnknownPlugin { .. }),
            "{unknown}"
        );
        assert!(unknown.to_string().contains("NodeResourcesFitt"));
        let wrong = profile("profiles:\n- plugins:\n    filter:\n      enabled: [{name: NodeResourcesBalancedAllocation}]\n").err().unwrap();
        assert!(
            matches!(wrong, ConfigError::WrongExtensionPoint { .. }),
            "{wrong}"
        );
        let unsupported =
            profile("profiles:\n- plugins:\n    filter:\n      enabled: [{name: VolumeBinding}]\n")
                .err()
                .unwrap();
        assert!(
            matches!(unsupported, ConfigError::Unsupported { .. }),
            "{unsupported}"
        );
        let bad_args = profile("profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args: {scoringStrategy: {type: Cheapest}}\n").err().unwrap();
        assert!(
            matches!(bad_args, ConfigError::BadArgs { .. }),
            "{bad_args}"
        );
        let unknown_arg = profile("profiles:\n- pluginConfig:\n  - name: InterPodAffinity\n    args: {hardPodAffinityWeigth: 3}\n").err().unwrap();
        assert!(
            unknown_arg.to_string().contains("hardPodAffinityWeigth"),
            "{unknown_arg}"
        );
        let unknown_cfg = profile("profiles:\n- pluginConfig:\n  - name: Nope\n    args: {}\n")
            .err()
            .unwrap();
        assert!(matches!(unknown_cfg, ConfigError::UnknownPlugin { .. }));
    }

    #[test]
    fn percentage_from_profile_or_global() {
        let ps = profile("percentageOfNodesToScore: 20\nprofiles:\n- schedulerName: a\n- schedulerName: b\n  percentageOfNodesToScore: 70\n").unwrap();
        assert_eq!(ps[0].percentage_of_nodes_to_score, Some(20));
        assert_eq!(ps[1].percentage_of_nodes_to_score, Some(70));
    }
}
