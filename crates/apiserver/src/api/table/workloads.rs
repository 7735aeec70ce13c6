//! Printers of pods and the controllers that run them: Pod, Deployment,
//! ReplicaSet, StatefulSet, DaemonSet, ControllerRevision, Job, CronJob
//! and PodDisruptionBudget.

use super::{
    age, format_label_selector, format_labels, human_duration, int_or_string, list, n, name,
    none_if_empty, object, s, seconds_between, selector_string, since, Col, AGE, NAME,
};
use serde_json::{json, Value};

/// The wide columns of a kind that runs a pod template.
pub(super) const CONTAINERS: Col = ("Containers", "string", 1);
pub(super) const IMAGES: Col = ("Images", "string", 1);
pub(super) const SELECTOR: Col = ("Selector", "string", 1);

/// `head` followed by the containers and images of the pod spec at
/// `spec_ptr` (`layoutContainerCells`), then `selector`.
pub(super) fn with_template(
    v: &Value,
    spec_ptr: &str,
    mut head: Vec<Value>,
    selector: String,
) -> Vec<Value> {
    let (names, images) = containers_images(v, spec_ptr);
    head.extend([json!(names), json!(images), json!(selector)]);
    head
}

/// Container names and images of the pod spec at `spec_ptr`, comma-joined.
pub(super) fn containers_images(v: &Value, spec_ptr: &str) -> (String, String) {
    let cs = list(v, &format!("{spec_ptr}/containers"));
    let names: Vec<&str> = cs.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<&str> = cs.iter().map(|c| s(c, "/image")).collect();
    (names.join(","), images.join(","))
}

pub(super) const POD: &[Col] = &[
    NAME,
    ("Ready", "string", 0),
    ("Status", "string", 0),
    ("Restarts", "string", 0),
    AGE,
    ("IP", "string", 1),
    ("Node", "string", 1),
    ("Nominated Node", "string", 1),
    ("Readiness Gates", "string", 1),
];

fn condition_true(p: &Value, ty: &str) -> bool {
    list(p, "/status/conditions")
        .iter()
        .any(|c| s(c, "/type") == ty && s(c, "/status") == "True")
}

/// What `printPod` counts while reading container statuses.
#[derive(Default)]
struct PodCounts {
    ready: usize,
    restarts: i64,
    /// The latest `lastState.terminated.finishedAt` of the counted containers.
    last_restart: Option<chrono::DateTime<chrono::FixedOffset>>,
}

impl PodCounts {
    fn restarted(&mut self, c: &Value) {
        self.restarts += n(c, "/restartCount");
        let finished = s(c, "/lastState/terminated/finishedAt");
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(finished) {
            if self.last_restart.is_none_or(|last| last < t) {
                self.last_restart = Some(t);
            }
        }
    }
}

/// The reason a terminated container (or init container, with "Init:")
/// gives the pod.
fn terminated_reason(c: &Value, prefix: &str) -> String {
    let reason = s(c, "/state/terminated/reason");
    if !reason.is_empty() {
        return format!("{prefix}{reason}");
    }
    let signal = n(c, "/state/terminated/signal");
    if signal != 0 {
        format!("{prefix}Signal:{signal}")
    } else {
        let code = n(c, "/state/terminated/exitCode");
        format!("{prefix}ExitCode:{code}")
    }
}

/// READY, STATUS and RESTARTS of a pod, as `printPod` computes them.
fn pod_state(p: &Value) -> (String, String, String) {
    let phase = s(p, "/status/phase");
    let mut reason = match s(p, "/status/reason") {
        "" => phase.to_owned(),
        r => r.to_owned(),
    };
    if list(p, "/status/conditions")
        .iter()
        .any(|c| s(c, "/type") == "PodScheduled" && s(c, "/reason") == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }
    let init_specs = list(p, "/spec/initContainers");
    let restartable = |name: &str| {
        init_specs
            .iter()
            .any(|c| s(c, "/name") == name && s(c, "/restartPolicy") == "Always")
    };
    let sidecars = init_specs
        .iter()
        .filter(|c| s(c, "/restartPolicy") == "Always")
        .count();
    let total = list(p, "/spec/containers").len() + sidecars;

    let mut all = PodCounts::default();
    let mut sidecar = PodCounts::default();
    let mut initializing = false;
    for (i, c) in list(p, "/status/initContainerStatuses").iter().enumerate() {
        all.restarted(c);
        let is_sidecar = restartable(s(c, "/name"));
        if is_sidecar {
            sidecar.restarted(c);
        }
        let terminated = c.pointer("/state/terminated").is_some();
        let waiting = s(c, "/state/waiting/reason");
        if terminated && n(c, "/state/terminated/exitCode") == 0 {
            continue;
        }
        if is_sidecar && c["started"] == json!(true) {
            if c["ready"] == json!(true) {
                all.ready += 1;
            }
            continue;
        }
        reason = if terminated {
            terminated_reason(c, "Init:")
        } else if !waiting.is_empty() && waiting != "PodInitializing" {
            format!("Init:{waiting}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }
    let mut counts = all;
    if !initializing || condition_true(p, "Initialized") {
        sidecar.ready = counts.ready;
        counts = sidecar;
        let mut has_running = false;
        for c in list(p, "/status/containerStatuses").iter().rev() {
            counts.restarted(c);
            let waiting = s(c, "/state/waiting/reason");
            if !waiting.is_empty() {
                reason = waiting.to_owned();
            } else if c.pointer("/state/terminated").is_some() {
                reason = terminated_reason(c, "");
            } else if c["ready"] == json!(true) && c.pointer("/state/running").is_some() {
                has_running = true;
                counts.ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(p, "Ready") {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }
    let deleting = p
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null());
    if deleting && s(p, "/status/reason") == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".into();
    }
    let restarts = match counts.last_restart {
        Some(t) if counts.restarts != 0 => {
            let ago = since(&t.to_rfc3339());
            format!("{} ({ago} ago)", counts.restarts)
        }
        _ => counts.restarts.to_string(),
    };
    (format!("{}/{total}", counts.ready), reason, restarts)
}

pub(super) fn pod_row(p: &Value) -> Vec<Value> {
    let (ready, status, restarts) = pod_state(p);
    let gates = list(p, "/spec/readinessGates");
    let readiness_gates = if gates.is_empty() {
        "<none>".to_owned()
    } else {
        let conds = list(p, "/status/conditions");
        let passed = gates
            .iter()
            .filter(|g| {
                conds
                    .iter()
                    .find(|c| s(c, "/type") == s(g, "/conditionType"))
                    .is_some_and(|c| s(c, "/status") == "True")
            })
            .count();
        format!("{passed}/{}", gates.len())
    };
    vec![
        name(p),
        json!(ready),
        json!(status),
        json!(restarts),
        age(p),
        json!(none_if_empty(s(p, "/status/podIPs/0/ip").to_owned())),
        json!(none_if_empty(s(p, "/spec/nodeName").to_owned())),
        json!(none_if_empty(s(p, "/status/nominatedNodeName").to_owned())),
        json!(readiness_gates),
    ]
}

pub(super) const DEPLOYMENT: &[Col] = &[
    NAME,
    ("Ready", "string", 0),
    ("Up-to-date", "string", 0),
    ("Available", "string", 0),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn deployment_row(v: &Value) -> Vec<Value> {
    let ready = format!(
        "{}/{}",
        n(v, "/status/readyReplicas"),
        n(v, "/spec/replicas")
    );
    let head = vec![
        name(v),
        json!(ready),
        json!(n(v, "/status/updatedReplicas")),
        json!(n(v, "/status/availableReplicas")),
        age(v),
    ];
    // Deployments print the bare selector: empty, not <none>.
    let selector = selector_string(v.pointer("/spec/selector"));
    with_template(v, "/spec/template/spec", head, selector)
}

pub(super) const REPLICA_SET: &[Col] = &[
    NAME,
    ("Desired", "integer", 0),
    ("Current", "integer", 0),
    ("Ready", "integer", 0),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn replica_set_row(v: &Value) -> Vec<Value> {
    let head = vec![
        name(v),
        json!(n(v, "/spec/replicas")),
        json!(n(v, "/status/replicas")),
        json!(n(v, "/status/readyReplicas")),
        age(v),
    ];
    let selector = format_label_selector(v.pointer("/spec/selector"));
    with_template(v, "/spec/template/spec", head, selector)
}

pub(super) const STATEFUL_SET: &[Col] = &[NAME, ("Ready", "string", 0), AGE, CONTAINERS, IMAGES];

pub(super) fn stateful_set_row(v: &Value) -> Vec<Value> {
    let ready = format!(
        "{}/{}",
        n(v, "/status/readyReplicas"),
        n(v, "/spec/replicas")
    );
    let (names, images) = containers_images(v, "/spec/template/spec");
    vec![name(v), json!(ready), age(v), json!(names), json!(images)]
}

pub(super) const DAEMON_SET: &[Col] = &[
    NAME,
    ("Desired", "integer", 0),
    ("Current", "integer", 0),
    ("Ready", "integer", 0),
    ("Up-to-date", "integer", 0),
    ("Available", "integer", 0),
    ("Node Selector", "string", 0),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn daemon_set_row(v: &Value) -> Vec<Value> {
    let head = vec![
        name(v),
        json!(n(v, "/status/desiredNumberScheduled")),
        json!(n(v, "/status/currentNumberScheduled")),
        json!(n(v, "/status/numberReady")),
        json!(n(v, "/status/updatedNumberScheduled")),
        json!(n(v, "/status/numberAvailable")),
        json!(format_labels(object(v, "/spec/template/spec/nodeSelector"))),
        age(v),
    ];
    let selector = format_label_selector(v.pointer("/spec/selector"));
    with_template(v, "/spec/template/spec", head, selector)
}

pub(super) const CONTROLLER_REVISION: &[Col] = &[
    NAME,
    ("Controller", "string", 0),
    ("Revision", "string", 0),
    AGE,
];

/// `kind.group/name` (lowercased kind and group) of the controlling owner.
pub(super) fn controller_revision_row(v: &Value) -> Vec<Value> {
    let controller = list(v, "/metadata/ownerReferences")
        .iter()
        .find(|o| o["controller"] == json!(true))
        .map_or_else(
            || "<none>".to_owned(),
            |o| {
                let api_version = s(o, "/apiVersion");
                let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
                let kind = s(o, "/kind");
                let group_kind = match (kind, group) {
                    ("", "") => return s(o, "/name").to_owned(),
                    (k, "") => k.to_owned(),
                    (k, g) => format!("{k}.{g}"),
                };
                format!("{}/{}", group_kind.to_lowercase(), s(o, "/name"))
            },
        );
    vec![name(v), json!(controller), json!(n(v, "/revision")), age(v)]
}

pub(super) const JOB: &[Col] = &[
    NAME,
    ("Status", "string", 0),
    ("Completions", "string", 0),
    ("Duration", "string", 0),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

/// Whether the job has a condition of type `ty` (the first such) with
/// status True.
fn job_condition(v: &Value, ty: &str) -> bool {
    list(v, "/status/conditions")
        .iter()
        .find(|c| s(c, "/type") == ty)
        .is_some_and(|c| s(c, "/status") == "True")
}

pub(super) fn job_row(v: &Value) -> Vec<Value> {
    let succeeded = n(v, "/status/succeeded");
    let completions = match v.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(want) => format!("{succeeded}/{want}"),
        None => match n(v, "/spec/parallelism") {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let start = s(v, "/status/startTime");
    let duration = match s(v, "/status/completionTime") {
        _ if start.is_empty() => String::new(),
        "" => since(start),
        done => seconds_between(start, done).map_or_else(String::new, human_duration),
    };
    let deleting = v
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|d| !d.is_null());
    let status = if job_condition(v, "Complete") {
        "Complete"
    } else if job_condition(v, "Failed") {
        "Failed"
    } else if deleting {
        "Terminating"
    } else if job_condition(v, "Suspended") {
        "Suspended"
    } else if job_condition(v, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let head = vec![
        name(v),
        json!(status),
        json!(completions),
        json!(duration),
        age(v),
    ];
    let selector = format_label_selector(v.pointer("/spec/selector"));
    with_template(v, "/spec/template/spec", head, selector)
}

pub(super) const CRON_JOB: &[Col] = &[
    NAME,
    ("Schedule", "string", 0),
    ("Timezone", "string", 0),
    ("Suspend", "boolean", 0),
    ("Active", "integer", 0),
    ("Last Schedule", "string", 0),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn cron_job_row(v: &Value) -> Vec<Value> {
    let last = match s(v, "/status/lastScheduleTime") {
        "" => "<none>".to_owned(),
        t => since(t),
    };
    // printBoolPtr: "True", "False" or "<unset>".
    let suspend = match v.pointer("/spec/suspend").and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let head = vec![
        name(v),
        json!(s(v, "/spec/schedule")),
        json!(v
            .pointer("/spec/timeZone")
            .and_then(Value::as_str)
            .unwrap_or("<none>")),
        json!(suspend),
        json!(list(v, "/status/active").len()),
        json!(last),
        age(v),
    ];
    let selector = format_label_selector(v.pointer("/spec/jobTemplate/spec/selector"));
    with_template(v, "/spec/jobTemplate/spec/template/spec", head, selector)
}

pub(super) const POD_DISRUPTION_BUDGET: &[Col] = &[
    NAME,
    ("Min Available", "string", 0),
    ("Max Unavailable", "string", 0),
    ("Allowed Disruptions", "integer", 0),
    AGE,
];

pub(super) fn pdb_row(v: &Value) -> Vec<Value> {
    let bound = |ptr: &str| {
        v.pointer(ptr)
            .filter(|x| !x.is_null())
            .map_or_else(|| "N/A".to_owned(), int_or_string)
    };
    vec![
        name(v),
        json!(bound("/spec/minAvailable")),
        json!(bound("/spec/maxUnavailable")),
        json!(n(v, "/status/disruptionsAllowed")),
        age(v),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::tests::{print, priorities};
    use serde_json::json;

    const META: &str =
        r#"{"name": "x", "namespace": "default", "creationTimestamp": "2020-01-01T00:00:00Z"}"#;

    fn obj(rest: serde_json::Value) -> serde_json::Value {
        let mut v = rest;
        v["metadata"] = serde_json::from_str(META).unwrap();
        v
    }

    fn template(containers: serde_json::Value) -> serde_json::Value {
        json!({"spec": {"containers": containers}})
    }

    #[test]
    fn pod_columns() {
        let pod = obj(json!({
            "spec": {"containers": [{"name": "c"}], "nodeName": "n1"},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}],
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [{"ready": true, "restartCount": 2, "state": {"running": {}},
                    "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2020-01-01T00:00:00Z"}}}]}}));
        let (names, cells) = print("", "Pod", pod);
        assert_eq!(
            names,
            [
                "Name",
                "Ready",
                "Status",
                "Restarts",
                "Age",
                "IP",
                "Node",
                "Nominated Node",
                "Readiness Gates"
            ]
        );
        assert_eq!(cells[1], "1/1");
        assert_eq!(cells[2], "Running");
        assert!(
            cells[3].as_str().unwrap().starts_with("2 ("),
            "{}",
            cells[3]
        );
        assert!(cells[3].as_str().unwrap().ends_with(" ago)"));
        assert_eq!(cells[5], "10.0.0.5");
        assert_eq!(cells[6], "n1");
        assert_eq!(cells[7], "<none>");
        assert_eq!(cells[8], "<none>");
        assert_eq!(priorities("", "Pod"), [0, 0, 0, 0, 0, 1, 1, 1, 1]);
    }

    #[test]
    fn pod_status_follows_init_containers_and_sidecars() {
        let pod = obj(json!({
            "spec": {"initContainers": [{"name": "init"}, {"name": "side", "restartPolicy": "Always"}],
                     "containers": [{"name": "c"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "init", "state": {"waiting": {"reason": "PodInitializing"}}}]}}));
        let (_, cells) = print("", "Pod", pod);
        assert_eq!(cells[1], "0/2");
        assert_eq!(cells[2], "Init:0/2");
        let crashed = obj(json!({
            "spec": {"containers": [{"name": "c"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "c", "restartCount": 0, "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}}));
        assert_eq!(print("", "Pod", crashed).1[2], "Signal:9");
    }

    #[test]
    fn deployment_and_replica_set_share_template_columns() {
        let spec = json!({"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "template": template(json!([{"name": "a", "image": "nginx"}, {"name": "b", "image": "busybox"}]))});
        let status = json!({"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2});
        let (names, cells) = print(
            "apps",
            "Deployment",
            obj(json!({"spec": spec, "status": status})),
        );
        assert_eq!(
            names,
            [
                "Name",
                "Ready",
                "Up-to-date",
                "Available",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            &cells[1..],
            &[
                json!("2/3"),
                json!(3),
                json!(2),
                cells[4].clone(),
                json!("a,b"),
                json!("nginx,busybox"),
                json!("app=web")
            ]
        );
        let (names, cells) = print(
            "apps",
            "ReplicaSet",
            obj(json!({"spec": spec, "status": status})),
        );
        assert_eq!(
            names,
            [
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(&cells[1..4], &[json!(3), json!(3), json!(2)]);
        assert_eq!(
            &cells[5..],
            &[json!("a,b"), json!("nginx,busybox"), json!("app=web")]
        );
        assert_eq!(priorities("apps", "ReplicaSet"), [0, 0, 0, 0, 0, 1, 1, 1]);
    }

    #[test]
    fn daemon_set_row() {
        let ds = obj(json!({
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                                           "containers": [{"name": "agent", "image": "agent:1"}]}}},
            "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1,
                       "updatedNumberScheduled": 2, "numberAvailable": 1}}));
        let (names, cells) = print("apps", "DaemonSet", ds);
        assert_eq!(
            names,
            [
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Up-to-date",
                "Available",
                "Node Selector",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            &cells[1..7],
            &[
                json!(2),
                json!(2),
                json!(1),
                json!(2),
                json!(1),
                json!("kubernetes.io/os=linux")
            ]
        );
        assert_eq!(
            &cells[8..],
            &[json!("agent"), json!("agent:1"), json!("app=agent")]
        );
        assert_eq!(
            priorities("apps", "DaemonSet"),
            [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]
        );
    }

    #[test]
    fn stateful_set_and_controller_revision_rows() {
        let sts = obj(
            json!({"spec": {"replicas": 2, "template": template(json!([{"name": "db", "image": "pg"}]))},
                             "status": {"readyReplicas": 1}}),
        );
        let (names, cells) = print("apps", "StatefulSet", sts);
        assert_eq!(names, ["Name", "Ready", "Age", "Containers", "Images"]);
        assert_eq!(cells[1], "1/2");
        let mut rev = obj(json!({"revision": 2}));
        rev["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "controller": true}]);
        let (names, cells) = print("apps", "ControllerRevision", rev);
        assert_eq!(names, ["Name", "Controller", "Revision", "Age"]);
        assert_eq!(&cells[1..3], &[json!("daemonset.apps/agent"), json!(2)]);
        let (_, cells) = print("apps", "ControllerRevision", obj(json!({"revision": 1})));
        assert_eq!(cells[1], "<none>");
    }

    #[test]
    fn job_row() {
        let job = obj(json!({
            "spec": {"completions": 3, "parallelism": 1, "selector": {"matchLabels": {"job": "x"}},
                     "template": template(json!([{"name": "pi", "image": "perl"}]))},
            "status": {"succeeded": 3, "startTime": "2020-01-01T00:00:00Z", "completionTime": "2020-01-01T00:00:42Z",
                       "conditions": [{"type": "Complete", "status": "True"}]}}));
        let (names, cells) = print("batch", "Job", job);
        assert_eq!(
            names,
            [
                "Name",
                "Status",
                "Completions",
                "Duration",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            &cells[1..4],
            &[json!("Complete"), json!("3/3"), json!("42s")]
        );
        assert_eq!(&cells[5..], &[json!("pi"), json!("perl"), json!("job=x")]);
        let parallel = obj(json!({"spec": {"parallelism": 4}, "status": {}}));
        let (_, cells) = print("batch", "Job", parallel);
        assert_eq!(
            &cells[1..4],
            &[json!("Running"), json!("0/1 of 4"), json!("")]
        );
        assert_eq!(cells[7], "<none>");
    }

    #[test]
    fn cron_job_row() {
        let cj = obj(json!({
            "spec": {"schedule": "*/5 * * * *", "suspend": false,
                     "jobTemplate": {"spec": {"template": template(json!([{"name": "hello", "image": "busybox"}]))}}},
            "status": {"active": [{"name": "x-1"}]}}));
        let (names, cells) = print("batch", "CronJob", cj);
        assert_eq!(
            names,
            [
                "Name",
                "Schedule",
                "Timezone",
                "Suspend",
                "Active",
                "Last Schedule",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            &cells[1..6],
            &[
                json!("*/5 * * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("<none>")
            ]
        );
        assert_eq!(
            &cells[7..],
            &[json!("hello"), json!("busybox"), json!("<none>")]
        );
        assert_eq!(
            priorities("batch", "CronJob"),
            [0, 0, 0, 0, 0, 0, 0, 1, 1, 1]
        );
    }

    #[test]
    fn pod_disruption_budget_row() {
        let pdb =
            obj(json!({"spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}}));
        let (names, cells) = print("policy", "PodDisruptionBudget", pdb);
        assert_eq!(
            names,
            [
                "Name",
                "Min Available",
                "Max Unavailable",
                "Allowed Disruptions",
                "Age"
            ]
        );
        assert_eq!(&cells[1..4], &[json!("50%"), json!("N/A"), json!(1)]);
        let pdb = obj(json!({"spec": {"maxUnavailable": 1}}));
        assert_eq!(
            print("policy", "PodDisruptionBudget", pdb).1[1..3],
            [json!("N/A"), json!("1")]
        );
    }
}
