//! Field ownership: `metadata.managedFields` and server-side apply.
//!
//! Every write records which fields its manager set (`FieldsV1`: nested
//! `f:<field>`, `k:<merge key>` for list items, `v:<value>` for set
//! members). An apply merges the applied configuration, refuses (409) to
//! change a field another manager owns with a different value unless
//! forced, and removes fields its manager applied before but no longer
//! applies, when nobody else owns them.

use crate::patch::{list_merge, strategic_merge, ListMerge};
use crate::status::{ApiError, Cause};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// `f:name`
    Field(String),
    /// `k:{"name":"c"}`: a list item by its merge key (JSON, keys sorted).
    Key(String),
    /// `v:"x"`: a member of a set-like list of scalars.
    Value(String),
}

impl Step {
    fn encode(&self) -> String {
        match self {
            Step::Field(f) => format!("f:{f}"),
            Step::Key(k) => format!("k:{k}"),
            Step::Value(v) => format!("v:{v}"),
        }
    }

    fn decode(s: &str) -> Option<Step> {
        let (prefix, rest) = s.split_at_checked(2)?;
        match prefix {
            "f:" => Some(Step::Field(rest.to_owned())),
            "k:" => Some(Step::Key(rest.to_owned())),
            "v:" => Some(Step::Value(rest.to_owned())),
            _ => None,
        }
    }
}

pub type Path = Vec<Step>;
/// The leaf fields a manager owns.
pub type FieldSet = BTreeSet<Path>;

/// Metadata fields that identify the object or belong to the server.
pub(crate) const UNTRACKED_META: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// Adds the leaf fields `v` sets, under `path`, to `out`; `names` holds the
/// enclosing field names, which decide how a list merges.
pub(crate) fn collect(
    kind: &str,
    names: &mut Vec<String>,
    v: &Value,
    path: &mut Path,
    out: &mut FieldSet,
) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                if path.is_empty() && matches!(k.as_str(), "apiVersion" | "kind" | "status") {
                    continue;
                }
                if path.len() == 1
                    && path[0] == Step::Field("metadata".into())
                    && UNTRACKED_META.contains(&k.as_str())
                {
                    continue;
                }
                path.push(Step::Field(k.clone()));
                names.push(k.clone());
                match child {
                    Value::Array(items) => collect_list(kind, names, k, items, path, out),
                    _ => collect(kind, names, child, path, out),
                }
                names.pop();
                path.pop();
            }
        }
        _ => {
            if !path.is_empty() {
                out.insert(path.clone());
            }
        }
    }
}

fn collect_list(
    kind: &str,
    names: &mut Vec<String>,
    field: &str,
    items: &[Value],
    path: &mut Path,
    out: &mut FieldSet,
) {
    let parents = &names[..names.len().saturating_sub(1)];
    match list_merge(kind, parents, field) {
        ListMerge::ByKey(key) => {
            for item in items {
                let Some(id) = item.get(key) else { continue };
                path.push(Step::Key(json!({ key: id }).to_string()));
                out.insert(path.clone());
                collect(kind, names, item, path, out);
                path.pop();
            }
        }
        ListMerge::Set => {
            for item in items {
                path.push(Step::Value(item.to_string()));
                out.insert(path.clone());
                path.pop();
            }
        }
        // Atomic lists are owned whole.
        ListMerge::Replace => {
            out.insert(path.clone());
        }
    }
}

/// The fields an object (an applied configuration) sets.
pub fn fields_of(kind: &str, obj: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    collect(kind, &mut Vec::new(), obj, &mut Vec::new(), &mut out);
    out
}

/// One `managedFields` entry. Built by moving `fields` in: `json!` would
/// copy an interpolated Value by serializing it, which cost more than
/// computing the fields.
fn managed_fields_entry(
    manager: &str,
    operation: &str,
    api_version: &str,
    time: String,
    subresource: &str,
    fields: Value,
) -> Value {
    let mut e = Map::new();
    e.insert("manager".into(), Value::String(manager.to_owned()));
    e.insert("operation".into(), Value::String(operation.to_owned()));
    e.insert("apiVersion".into(), Value::String(api_version.to_owned()));
    e.insert("time".into(), Value::String(time));
    e.insert("fieldsType".into(), Value::String("FieldsV1".into()));
    e.insert("fieldsV1".into(), fields);
    if !subresource.is_empty() {
        e.insert("subresource".into(), Value::String(subresource.to_owned()));
    }
    Value::Object(e)
}

/// Encodes a field set as `FieldsV1`.
pub fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut node = &mut root;
        for step in path {
            let entry = node.entry(step.encode()).or_insert_with(|| json!({}));
            node = entry.as_object_mut().expect("field nodes are objects");
        }
        if !path.is_empty() && matches!(path.last(), Some(Step::Key(_))) {
            node.entry(".").or_insert_with(|| json!({}));
        }
    }
    Value::Object(root)
}

/// Decodes `FieldsV1` into the set of leaf paths (item markers `.` count
/// as their item).
pub fn from_fields_v1(v: &Value) -> FieldSet {
    fn walk(node: &Map<String, Value>, path: &mut Path, out: &mut FieldSet) {
        if node.is_empty() {
            if !path.is_empty() {
                out.insert(path.clone());
            }
            return;
        }
        for (k, child) in node {
            if k == "." {
                out.insert(path.clone());
                continue;
            }
            let Some(step) = Step::decode(k) else {
                continue;
            };
            path.push(step);
            walk(child.as_object().unwrap_or(&Map::new()), path, out);
            path.pop();
        }
    }
    let mut out = FieldSet::new();
    if let Some(m) = v.as_object() {
        walk(m, &mut Vec::new(), &mut out);
    }
    out
}

/// The value at a path, if present.
fn value_at<'a>(obj: &'a Value, path: &[Step]) -> Option<&'a Value> {
    let mut cur = obj;
    for step in path {
        cur = match step {
            Step::Field(f) => cur.get(f)?,
            Step::Key(k) => {
                let key: Map<String, Value> = serde_json::from_str(k).ok()?;
                cur.as_array()?
                    .iter()
                    .find(|item| key.iter().all(|(kk, kv)| item.get(kk) == Some(kv)))?
            }
            Step::Value(v) => {
                let want: Value = serde_json::from_str(v).ok()?;
                cur.as_array()?.iter().find(|item| **item == want)?
            }
        };
    }
    Some(cur)
}

/// Removes the value at a path.
fn remove_at(obj: &mut Value, path: &[Step]) {
    let Some((last, parent_path)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for step in parent_path {
        let next = match step {
            Step::Field(f) => cur.get_mut(f),
            Step::Key(k) => {
                let key: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
                cur.as_array_mut().and_then(|a| {
                    a.iter_mut()
                        .find(|item| key.iter().all(|(kk, kv)| item.get(kk) == Some(kv)))
                })
            }
            Step::Value(_) => None,
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    match last {
        Step::Field(f) => {
            if let Some(m) = cur.as_object_mut() {
                m.remove(f);
            }
        }
        Step::Key(k) => {
            let key: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            if let Some(a) = cur.as_array_mut() {
                a.retain(|item| !key.iter().all(|(kk, kv)| item.get(kk) == Some(kv)));
            }
        }
        Step::Value(v) => {
            let want: Value = serde_json::from_str(v).unwrap_or(Value::Null);
            if let Some(a) = cur.as_array_mut() {
                a.retain(|item| *item != want);
            }
        }
    }
}

/// `.spec.containers[name="c"].image`, as Kubernetes prints paths.
pub fn path_string(path: &[Step]) -> String {
    let mut s = String::new();
    for step in path {
        match step {
            Step::Field(f) => {
                s.push('.');
                s.push_str(f);
            }
            Step::Key(k) => {
                let key: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
                let parts: Vec<String> = key.iter().map(|(kk, kv)| format!("{kk}={kv}")).collect();
                s.push_str(&format!("[{}]", parts.join(",")));
            }
            Step::Value(v) => s.push_str(&format!("[={v}]")),
        }
    }
    s
}

/// One `managedFields` entry.
#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: String,
    fields: FieldSet,
}

fn read_entries(obj: &Value) -> Vec<Entry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|e| Entry {
                    manager: e["manager"].as_str().unwrap_or("").to_owned(),
                    operation: e["operation"].as_str().unwrap_or("Update").to_owned(),
                    api_version: e["apiVersion"].as_str().unwrap_or("").to_owned(),
                    time: e["time"].as_str().unwrap_or("").to_owned(),
                    subresource: e["subresource"].as_str().unwrap_or("").to_owned(),
                    fields: from_fields_v1(&e["fieldsV1"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn write_entries(obj: &mut Value, entries: &[Entry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            managed_fields_entry(
                &e.manager,
                &e.operation,
                &e.api_version,
                e.time.clone(),
                &e.subresource,
                to_fields_v1(&e.fields),
            )
        })
        .collect();
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            m.remove("managedFields");
        } else {
            m.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// The time a managedFields entry records: seconds, UTC.
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Records a non-apply write by `manager`: the fields it changed become
/// its own (taken from other managers), in an `Update` entry. The entries
/// it starts from are those the write brought, when it brought any (a
/// client may rewrite ownership, as kubectl does when it moves a
/// client-side apply's fields to server-side apply; `[{}]` clears them),
/// else the live object's: a client that does not know the field keeps it.
pub fn record_update(
    kind: &str,
    api_version: &str,
    old: &Value,
    new: &mut Value,
    manager: &str,
    subresource: &str,
) {
    let brought = read_entries(new);
    let mut entries = if brought.is_empty() {
        read_entries(old)
    } else {
        brought
    };
    let changed: FieldSet = fields_of(kind, new)
        .into_iter()
        .filter(|p| value_at(old, p) != value_at(new, p))
        .collect();
    // Fields removed by this write are nobody's any more.
    for e in &mut entries {
        e.fields.retain(|p| value_at(new, p).is_some());
    }
    if !changed.is_empty() {
        for e in &mut entries {
            if e.manager != manager || e.operation != "Update" {
                e.fields.retain(|p| !changed.contains(p));
            }
        }
        match entries.iter_mut().find(|e| {
            e.manager == manager && e.operation == "Update" && e.subresource == subresource
        }) {
            Some(e) => {
                e.fields.extend(changed);
                e.time = now();
                e.api_version = api_version.to_owned();
            }
            None => entries.push(Entry {
                manager: manager.to_owned(),
                operation: "Update".into(),
                api_version: api_version.to_owned(),
                time: now(),
                subresource: subresource.to_owned(),
                fields: changed,
            }),
        }
    }
    write_entries(new, &entries);
}

/// Server-side apply of `applied` by `manager` onto `live` (`None` when
/// the object is new). Returns the merged object with its managedFields.
pub fn apply(
    kind: &str,
    api_version: &str,
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
) -> Result<Value, ApiError> {
    let mut entries = live.map(read_entries).unwrap_or_default();
    let new_set = fields_of(kind, applied);
    let empty = json!({});
    let base = live.unwrap_or(&empty);
    let mut conflicts: Vec<(String, Path)> = Vec::new();
    for e in &entries {
        if e.manager == manager && e.operation == "Apply" {
            continue;
        }
        for p in e.fields.intersection(&new_set) {
            if value_at(base, p) != value_at(applied, p)
                && value_at(applied, p).is_some_and(|v| !v.is_object())
            {
                conflicts.push((e.manager.clone(), p.clone()));
            }
        }
    }
    let force = force || only_client_side_apply_conflicts(kind, live, manager, &conflicts);
    if !conflicts.is_empty() && !force {
        let n = conflicts.len();
        let causes: Vec<Cause> = conflicts
            .iter()
            .map(|(m, p)| Cause {
                reason: "FieldManagerConflict",
                field: path_string(p),
                message: format!("conflict with {m:?} using {api_version}"),
            })
            .collect();
        let detail = if n == 1 {
            format!(
                "Apply failed with 1 conflict: {}: {}",
                causes[0].message, causes[0].field
            )
        } else {
            let lines: Vec<String> = causes
                .iter()
                .map(|c| format!("- {}: {}", c.message, c.field))
                .collect();
            format!("Apply failed with {n} conflicts:\n{}", lines.join("\n"))
        };
        return Err(ApiError::ApplyConflict {
            message: detail,
            causes,
        });
    }
    for (m, p) in &conflicts {
        for e in entries.iter_mut().filter(|e| &e.manager == m) {
            e.fields.remove(p);
        }
    }
    let previous: FieldSet = entries
        .iter()
        .filter(|e| e.manager == manager && e.operation == "Apply")
        .flat_map(|e| e.fields.iter().cloned())
        .collect();
    let mut merged = strategic_merge(kind, base, applied)?;
    for p in previous.difference(&new_set) {
        let owned_by_others = entries
            .iter()
            .any(|e| !(e.manager == manager && e.operation == "Apply") && e.fields.contains(p));
        if !owned_by_others {
            remove_at(&mut merged, p);
        }
    }
    let entry = Entry {
        manager: manager.to_owned(),
        operation: "Apply".into(),
        api_version: api_version.to_owned(),
        time: now(),
        subresource: String::new(),
        fields: new_set,
    };
    // The manager's entry keeps its place, so that an apply that changes
    // nothing differs from the stored object in its time alone (see
    // `only_managed_times_differ`), whichever managers follow it.
    let mine = |e: &Entry| e.manager == manager && e.operation == "Apply";
    match entries.iter().position(mine) {
        Some(at) => {
            entries[at] = entry;
            // A second entry of the manager's (stored twice) goes.
            let rest = entries.split_off(at + 1);
            entries.extend(rest.into_iter().filter(|e| !mine(e)));
        }
        None => entries.push(entry),
    }
    write_entries(&mut merged, &entries);
    if manager == KUBECTL && live.is_some_and(|l| last_applied(l).is_some()) {
        sync_last_applied(&mut merged, applied);
    }
    Ok(merged)
}

/// The manager kubectl applies as, which Kubernetes lets take over what
/// kubectl's client-side apply wrote.
const KUBECTL: &str = "kubectl";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// An object's client-side apply record, read.
fn last_applied(obj: &Value) -> Option<Value> {
    let text = obj
        .pointer("/metadata/annotations")?
        .get(LAST_APPLIED)?
        .as_str()?;
    serde_json::from_str(text).ok()
}

/// Kubernetes' `lastAppliedManager`: kubectl's server-side apply may take
/// fields over without force when each conflicting field is one its
/// client-side apply recorded and still holds that value, so moving from
/// `kubectl apply` to `kubectl apply --server-side` needs no force.
fn only_client_side_apply_conflicts(
    kind: &str,
    live: Option<&Value>,
    manager: &str,
    conflicts: &[(String, Path)],
) -> bool {
    if manager != KUBECTL || conflicts.is_empty() {
        return false;
    }
    let (Some(live), Some(recorded)) = (live, live.and_then(last_applied)) else {
        return false;
    };
    let allowed: FieldSet = fields_of(kind, &recorded)
        .into_iter()
        .filter(|p| value_at(&recorded, p) == value_at(live, p))
        .collect();
    conflicts.iter().all(|(_, p)| allowed.contains(p))
}

/// Kubernetes' `lastAppliedUpdater`: after kubectl's server-side apply the
/// client-side record says what was applied, so the two stay in step.
fn sync_last_applied(merged: &mut Value, applied: &Value) {
    let mut record = applied.clone();
    if let Some(a) = record
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        a.remove(LAST_APPLIED);
    }
    let Ok(text) = serde_json::to_string(&record) else {
        return;
    };
    if let Some(a) = merged
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        a.insert(LAST_APPLIED.into(), Value::String(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"app": "a"}},
               "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
    }

    #[test]
    fn fields_v1_round_trips() {
        let set = fields_of("Deployment", &deploy(1, "x"));
        let v = to_fields_v1(&set);
        assert!(
            v["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"]
                .get("f:image")
                .is_some()
        );
        assert!(v["f:metadata"]["f:labels"].get("f:app").is_some());
        assert!(v["f:metadata"].get("f:name").is_none());
        assert_eq!(from_fields_v1(&v), set);
    }

    #[test]
    fn apply_conflicts_and_force() {
        let created = apply(
            "Deployment",
            "apps/v1",
            None,
            &deploy(1, "x"),
            "alice",
            false,
        )
        .unwrap();
        // bob changes replicas with an ordinary update: he now owns it.
        let mut scaled = created.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update("Deployment", "apps/v1", &created, &mut scaled, "bob", "");
        // alice re-applies replicas=1: a conflict with bob.
        let err = apply(
            "Deployment",
            "apps/v1",
            Some(&scaled),
            &deploy(1, "x"),
            "alice",
            false,
        )
        .unwrap_err();
        assert_eq!(err.code(), 409);
        assert!(err.to_string().contains("conflict with \"bob\""), "{err}");
        assert!(err.to_string().contains(".spec.replicas"), "{err}");
        // Applying the same value as live is no conflict.
        apply(
            "Deployment",
            "apps/v1",
            Some(&scaled),
            &deploy(5, "x"),
            "alice",
            false,
        )
        .unwrap();
        // Forced, alice takes replicas back.
        let forced = apply(
            "Deployment",
            "apps/v1",
            Some(&scaled),
            &deploy(1, "x"),
            "alice",
            true,
        )
        .unwrap();
        assert_eq!(forced["spec"]["replicas"], 1);
    }

    #[test]
    fn apply_removes_fields_no_longer_applied() {
        let mut with_label = deploy(1, "x");
        with_label["metadata"]["labels"]["extra"] = json!("1");
        let live = apply("Deployment", "apps/v1", None, &with_label, "alice", false).unwrap();
        let next = apply(
            "Deployment",
            "apps/v1",
            Some(&live),
            &deploy(1, "x"),
            "alice",
            false,
        )
        .unwrap();
        assert!(next["metadata"]["labels"].get("extra").is_none(), "{next}");
        assert_eq!(next["metadata"]["labels"]["app"], "a");
        let managers: Vec<&str> = next["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["manager"].as_str().unwrap())
            .collect();
        assert_eq!(managers, ["alice"]);
    }
}
