//! The `managedFields` a create records, written straight to JSON.
//!
//! Every create owns every field it set. Building that as a `Value` tree
//! (a map and a key string per field), serializing it and dropping it was
//! a tenth of the apiserver's CPU under create load; this walk writes the
//! same bytes into one buffer, which the write path splices into the
//! stored object.

use crate::apply::{collect, to_fields_v1, FieldSet, Step, UNTRACKED_META};
use crate::patch::{list_merge, ListMerge};
use serde_json::{Map, Value};

/// The serialized `managedFields` array of a create by `manager` at `time`:
/// one `Update` entry owning every field `obj` sets, as Kubernetes' field
/// manager records it. `None` when the object sets no tracked field.
pub fn managed_fields(
    kind: &str,
    api_version: &str,
    obj: &Value,
    manager: &str,
    time: &str,
) -> Option<Vec<u8>> {
    let m = obj.as_object()?;
    let mut fields = Vec::with_capacity(1024);
    if !write_object(kind, &mut Vec::new(), m, Level::Root, &mut fields) {
        return None;
    }
    // The entry's keys in the order a map of them serializes in.
    let mut out = Vec::with_capacity(fields.len() + 160);
    out.extend_from_slice(b"[{\"apiVersion\":");
    write_str(&mut out, api_version);
    out.extend_from_slice(b",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":");
    out.extend_from_slice(&fields);
    out.extend_from_slice(b",\"manager\":");
    write_str(&mut out, manager);
    out.extend_from_slice(b",\"operation\":\"Update\",\"time\":");
    write_str(&mut out, time);
    out.extend_from_slice(b"}]");
    Some(out)
}

/// Where an object sits: fields skipped at the root and in its metadata.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Metadata,
    Inner,
}

/// Writes `{"f:<field>":...}` for the fields of `m` and returns true, or
/// writes nothing and returns false when none is owned. `names` holds the
/// enclosing field names, which decide how a list merges.
fn write_object<'a>(
    kind: &str,
    names: &mut Vec<&'a str>,
    m: &'a Map<String, Value>,
    level: Level,
    out: &mut Vec<u8>,
) -> bool {
    let start = out.len();
    out.push(b'{');
    if !write_fields(kind, names, m, level, false, out) {
        out.truncate(start);
        return false;
    }
    out.push(b'}');
    true
}

/// Writes the `"f:<field>":...` entries of `m` into an open JSON object
/// (after a comma when it already has entries: `any`); true when it wrote
/// one.
fn write_fields<'a>(
    kind: &str,
    names: &mut Vec<&'a str>,
    m: &'a Map<String, Value>,
    level: Level,
    mut any: bool,
    out: &mut Vec<u8>,
) -> bool {
    let mut wrote = false;
    // Map keys come sorted, so `f:<key>` does too.
    for (k, child) in m {
        let skipped = match level {
            Level::Root => matches!(k.as_str(), "apiVersion" | "kind" | "status"),
            Level::Metadata => UNTRACKED_META.contains(&k.as_str()),
            Level::Inner => false,
        };
        if skipped {
            continue;
        }
        let entry = out.len();
        if any {
            out.push(b',');
        }
        out.extend_from_slice(b"\"f:");
        write_str_contents(out, k);
        out.extend_from_slice(b"\":");
        let written = match child {
            Value::Array(items) => write_list(kind, names, k, items, out),
            Value::Object(cm) if !cm.is_empty() => {
                let child_level = if level == Level::Root && k == "metadata" {
                    Level::Metadata
                } else {
                    Level::Inner
                };
                names.push(k);
                let written = write_object(kind, names, cm, child_level, out);
                names.pop();
                written
            }
            // A scalar or an empty object is a leaf.
            _ => {
                out.extend_from_slice(b"{}");
                true
            }
        };
        if written {
            any = true;
            wrote = true;
        } else {
            out.truncate(entry);
        }
    }
    wrote
}

/// Writes a list's fields: its items by merge key, its members, or `{}`
/// for an atomic list (owned whole). False, writing nothing, when no item
/// is owned.
fn write_list<'a>(
    kind: &str,
    names: &mut Vec<&'a str>,
    field: &'a str,
    items: &'a [Value],
    out: &mut Vec<u8>,
) -> bool {
    // Item keys are not in order: sort them (stably), as a map of them
    // would be.
    match list_merge(kind, names, field) {
        ListMerge::ByKey(key) => {
            let mut keyed: Vec<(String, &Value)> = items
                .iter()
                .filter_map(|item| {
                    let id = item.get(key)?;
                    let mut id_json = Map::new();
                    id_json.insert(key.to_owned(), id.clone());
                    Some((format!("k:{}", Value::Object(id_json)), item))
                })
                .collect();
            if keyed.is_empty() {
                return false;
            }
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            names.push(field);
            out.push(b'{');
            for (i, same_key) in keyed.chunk_by(|a, b| a.0 == b.0).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, &same_key[0].0);
                out.push(b':');
                match same_key {
                    [(_, item)] => {
                        out.extend_from_slice(b"{\".\":{}");
                        if let Some(im) = item.as_object() {
                            write_fields(kind, names, im, Level::Inner, true, out);
                        }
                        out.push(b'}');
                    }
                    // Items sharing a key (rare: Kubernetes accepts
                    // duplicate env names) own the union of their fields,
                    // which the field set works out.
                    _ => write_union(kind, names, same_key, out),
                }
            }
            out.push(b'}');
            names.pop();
            true
        }
        ListMerge::Set => {
            let mut members: Vec<String> = items.iter().map(|item| format!("v:{item}")).collect();
            if members.is_empty() {
                return false;
            }
            members.sort();
            members.dedup();
            out.push(b'{');
            for (i, member) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, member);
                out.extend_from_slice(b":{}");
            }
            out.push(b'}');
            true
        }
        ListMerge::Replace => {
            out.extend_from_slice(b"{}");
            true
        }
    }
}

/// Writes the fields of list items that share the merge key `k:<id>` (the
/// first of each pair), as the field set of them all encodes them.
fn write_union(kind: &str, names: &[&str], items: &[(String, &Value)], out: &mut Vec<u8>) {
    let key_path = vec![Step::Key(items[0].0["k:".len()..].to_owned())];
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut set = FieldSet::new();
    set.insert(key_path.clone());
    for (_, item) in items {
        collect(
            kind,
            &mut names.clone(),
            item,
            &mut key_path.clone(),
            &mut set,
        );
    }
    let encoded = to_fields_v1(&set);
    let body = encoded.as_object().and_then(|m| m.values().next());
    // Encoding a Value of objects cannot fail.
    let _ = serde_json::to_writer(&mut *out, &body.unwrap_or(&Value::Null));
}

/// Writes `s` as a JSON string, quoted.
fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    write_str_contents(out, s);
    out.push(b'"');
}

/// Writes `s` escaped as serde_json escapes it: quote, backslash and
/// control characters only.
fn write_str_contents(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut plain = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain..i]);
        out.extend_from_slice(escape);
        plain = i + 1;
    }
    out.extend_from_slice(&bytes[plain..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::fields_of;
    use serde_json::json;

    /// What the walk must give: the field set, built and encoded.
    fn expected(kind: &str, obj: &Value) -> Option<Vec<u8>> {
        let v = to_fields_v1(&fields_of(kind, obj));
        (!v.as_object().unwrap().is_empty()).then(|| serde_json::to_vec(&v).unwrap())
    }

    fn written(kind: &str, obj: &Value) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        write_object(
            kind,
            &mut Vec::new(),
            obj.as_object().unwrap(),
            Level::Root,
            &mut out,
        )
        .then_some(out)
    }

    #[test]
    fn the_walk_writes_what_the_field_set_encodes() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "d", "uid": "u",
                         "labels": {"a": "b", "app.kubernetes.io/name": "x", "q\"uote": "1",
                                    "back\\slash": "2", "ctl\u{1}\n\t": "3", "ü": "4"},
                         "finalizers": ["x", "y", "x"], "ownerReferences": [{"uid": "o", "name": "rs"}]},
            "spec": {
                "containers": [
                    {"name": "c", "image": "i", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                     "args": ["a", "b"], "resources": {}, "env": [{"name": "E", "value": "1"}]},
                    {"name": "d", "image": "j"},
                    {"name": "c", "image": "dup", "tty": true},
                    {"image": "no-name"}
                ],
                "tolerations": [{"key": "k", "operator": "Exists"}],
                "volumes": [{"name": "v", "emptyDir": {}}, {"name": "a\"b"}],
                "nodeSelector": {"zone": "a"},
                "securityContext": {},
                "initContainers": [],
                "terminationGracePeriodSeconds": 30
            },
            "status": {"phase": "Pending"}
        });
        let deploy = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "annotations": {"k": "v"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "x"}},
                     "template": {"metadata": {"labels": {"app": "x"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}]}}}
        });
        for (kind, obj) in [
            ("Pod", pod),
            ("Deployment", deploy),
            (
                "ConfigMap",
                json!({"metadata": {"name": "x"}, "data": {"k": "v"}}),
            ),
            ("ConfigMap", json!({"metadata": {"name": "only-name"}})),
            ("ConfigMap", json!({"metadata": {"name": "x"}, "data": {}})),
            (
                "Service",
                json!({"spec": {"ports": [{"port": 1}, {"port": 2, "name": "b"}]}}),
            ),
        ] {
            let got = written(kind, &obj);
            assert_eq!(
                got.as_deref().map(String::from_utf8_lossy),
                expected(kind, &obj).as_deref().map(String::from_utf8_lossy),
                "{kind}"
            );
        }
    }

    #[test]
    fn strings_escape_as_serde_json_escapes_them() {
        let all: String = (0u8..0x80)
            .map(char::from)
            .chain(['é', '€', '😀'])
            .collect();
        for s in [all.as_str(), "", "plain", "\"\\", "\u{7f}"] {
            let mut out = Vec::new();
            write_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn the_entry_is_one_update_by_the_manager() {
        let cm = json!({"metadata": {"name": "x"}, "data": {"k": "v"}});
        let bytes = managed_fields(
            "ConfigMap",
            "v1",
            &cm,
            "kubectl-create",
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
        let entries: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            entries,
            json!([{
                "apiVersion": "v1", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {"f:k": {}}},
                "manager": "kubectl-create", "operation": "Update",
                "time": "2026-01-01T00:00:00Z"
            }])
        );
        // The bytes are what serializing that value gives.
        assert_eq!(bytes, serde_json::to_vec(&entries).unwrap());
        let bare = json!({"metadata": {"name": "only-name"}});
        assert!(managed_fields("ConfigMap", "v1", &bare, "m", "t").is_none());
    }
}
