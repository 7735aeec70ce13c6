//! events.k8s.io/v1 Events share storage with core/v1 Events, as in
//! Kubernetes: both APIs serve the same objects. Requests to
//! events.k8s.io are served as core Events, with bodies converted on the
//! way in and out (the two differ only in top-level field names).

use bytes::Bytes;
use serde_json::{Map, Value};

/// `(events.k8s.io/v1 field, core/v1 field)`.
const RENAMES: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn rename(map: &mut Map<String, Value>, to_core: bool) {
    for (new, old) in RENAMES {
        let (from, to) = if to_core { (new, old) } else { (old, new) };
        if let Some(v) = map.remove(*from) {
            map.insert((*to).to_owned(), v);
        }
    }
}

/// The field labels events.k8s.io/v1 selects on, with the core/v1 field
/// each reads (Kubernetes' `AddFieldLabelConversionsForEvent`).
const FIELD_LABELS: &[(&str, &str)] = &[
    ("reason", "reason"),
    ("regarding.kind", "involvedObject.kind"),
    ("regarding.namespace", "involvedObject.namespace"),
    ("regarding.name", "involvedObject.name"),
    ("regarding.uid", "involvedObject.uid"),
    ("regarding.apiVersion", "involvedObject.apiVersion"),
    (
        "regarding.resourceVersion",
        "involvedObject.resourceVersion",
    ),
    ("regarding.fieldPath", "involvedObject.fieldPath"),
    ("reportingController", "reportingComponent"),
    ("type", "type"),
    ("metadata.namespace", "metadata.namespace"),
    ("metadata.name", "metadata.name"),
];

/// An events.k8s.io/v1 field selector in core/v1's field names; a label
/// that API does not know is refused as Kubernetes refuses it.
pub fn field_selector_to_core(selector: &str) -> Result<String, String> {
    let mut terms = Vec::new();
    for term in selector.split(',').filter(|t| !t.is_empty()) {
        let at = term.find(['=', '!']).unwrap_or(term.len());
        let (label, rest) = term.split_at(at);
        let label = label.trim();
        let Some((_, core)) = FIELD_LABELS.iter().find(|(new, _)| *new == label) else {
            return Err(format!("field label not supported: {label}"));
        };
        terms.push(format!("{core}{rest}"));
    }
    Ok(terms.join(","))
}

/// An events.k8s.io/v1 Event (or a merge patch of one) as core/v1.
pub fn to_core(v: &mut Value) {
    if let Some(map) = v.as_object_mut() {
        rename(map, true);
        if map.get("apiVersion").and_then(Value::as_str) == Some("events.k8s.io/v1") {
            map.insert("apiVersion".into(), Value::String("v1".into()));
        }
        if map.get("reportingComponent").is_none() {
            if let Some(c) = map.get("source").and_then(|s| s.get("component")).cloned() {
                map.insert("reportingComponent".into(), c);
            }
        }
    }
}

/// A core/v1 Event as events.k8s.io/v1.
pub fn from_core(v: &mut Value) {
    if let Some(map) = v.as_object_mut() {
        rename(map, false);
        if map.get("apiVersion").and_then(Value::as_str) == Some("v1") {
            map.insert(
                "apiVersion".into(),
                Value::String("events.k8s.io/v1".into()),
            );
        }
    }
}

/// Renames the first segment of JSON patch paths (`/note` → `/message`).
pub fn json_patch_to_core(v: &mut Value) {
    let Some(ops) = v.as_array_mut() else { return };
    for op in ops {
        for field in ["path", "from"] {
            let Some(path) = op.get(field).and_then(Value::as_str) else {
                continue;
            };
            let mut segs = path.splitn(3, '/');
            let (_, first, rest) = (segs.next(), segs.next().unwrap_or(""), segs.next());
            if let Some((_, old)) = RENAMES.iter().find(|(new, _)| *new == first) {
                let renamed = match rest {
                    Some(r) => format!("/{old}/{r}"),
                    None => format!("/{old}"),
                };
                op[field] = Value::String(renamed);
            }
        }
    }
}

/// Converts a JSON response body (an Event, an EventList or a Status) from
/// core to events.k8s.io.
pub fn response_from_core(body: &[u8]) -> Bytes {
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
        return Bytes::copy_from_slice(body);
    };
    match v.get("kind").and_then(Value::as_str) {
        Some("Event") => from_core(&mut v),
        Some("EventList") => {
            v["apiVersion"] = Value::String("events.k8s.io/v1".into());
            if let Some(items) = v.get_mut("items").and_then(Value::as_array_mut) {
                items.iter_mut().for_each(from_core);
            }
        }
        _ => return Bytes::copy_from_slice(body),
    }
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

/// Converts one watch event line (`{"type":..,"object":..}\n`).
pub fn watch_line_from_core(line: &[u8]) -> Bytes {
    let Ok(mut v) = serde_json::from_slice::<Value>(line) else {
        return Bytes::copy_from_slice(line);
    };
    if let Some(obj) = v.get_mut("object") {
        // Bookmarks carry only metadata: their apiVersion changes too.
        from_core(obj);
    }
    let mut out = serde_json::to_vec(&v).unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_selectors_use_the_groups_own_names() {
        assert_eq!(
            field_selector_to_core("regarding.name=p,reportingController!=kubelet,type==Normal")
                .unwrap(),
            "involvedObject.name=p,reportingComponent!=kubelet,type==Normal"
        );
        assert_eq!(
            field_selector_to_core("involvedObject.name=p").unwrap_err(),
            "field label not supported: involvedObject.name"
        );
    }

    #[test]
    fn round_trips_between_versions() {
        let new = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
                         "regarding": {"kind": "Pod", "name": "p"}, "note": "hi", "reason": "Started",
                         "reportingController": "kubelet", "eventTime": "2026-01-01T00:00:00.000000Z"});
        let mut core = new.clone();
        to_core(&mut core);
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(core["involvedObject"]["name"], "p");
        assert_eq!(core["message"], "hi");
        assert_eq!(core["reportingComponent"], "kubelet");
        from_core(&mut core);
        assert_eq!(core, new);
        let mut patch = json!([{"op": "replace", "path": "/note", "value": "x"}, {"op": "add", "path": "/regarding/uid", "value": "u"}]);
        json_patch_to_core(&mut patch);
        assert_eq!(patch[0]["path"], "/message");
        assert_eq!(patch[1]["path"], "/involvedObject/uid");
    }
}
