//! Adding one field to the metadata of an already serialized object.
//!
//! Answers and cached objects are the stored bytes with a field or two
//! added (the resourceVersion, a create's managedFields): splicing them in
//! spares parsing and serializing the whole object again.

use memchr::memmem;

/// Inserts `"<key>":<value>` (`value` already JSON) at the start of the
/// top-level `metadata` object of serialized JSON that has no such key.
/// `None` when the bytes have no top-level metadata object or the key may
/// already be there.
pub fn into_metadata(json: &[u8], key: &str, value: &[u8]) -> Option<Vec<u8>> {
    let at = metadata_start(json)?;
    let quoted_key = format!("\"{key}\":");
    // The key's text anywhere after the metadata's start is rare (an
    // annotation could hold it): only then is the metadata's extent worked
    // out to tell whether the key is in it.
    if memmem::find(&json[at..], quoted_key.as_bytes()).is_some() {
        let end = at + object_end(&json[at..]);
        if memmem::find(&json[at..end], quoted_key.as_bytes()).is_some() {
            return None;
        }
    }
    Some(insert_at(json, at, &quoted_key, value))
}

/// [`into_metadata`] for a key the caller knows the metadata lacks (it
/// removed it before encoding), however the metadata's text reads.
pub fn prepend_to_metadata(json: &[u8], key: &str, value: &[u8]) -> Option<Vec<u8>> {
    let at = metadata_start(json)?;
    Some(insert_at(json, at, &format!("\"{key}\":"), value))
}

fn insert_at(json: &[u8], at: usize, quoted_key: &str, value: &[u8]) -> Vec<u8> {
    let empty = json.get(at) == Some(&b'}');
    let mut out = Vec::with_capacity(json.len() + quoted_key.len() + value.len() + 1);
    out.extend_from_slice(&json[..at]);
    out.extend_from_slice(quoted_key.as_bytes());
    out.extend_from_slice(value);
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(&json[at..]);
    out
}

/// The offset just inside the top-level `"metadata":{`.
fn metadata_start(json: &[u8]) -> Option<usize> {
    const KEY: &[u8] = b"\"metadata\":{";
    let mut scan = Scan::default();
    for (i, &b) in json.iter().enumerate() {
        if scan.in_string(b) {
            continue;
        }
        match b {
            b'"' => {
                if scan.depth == 1 && json[i..].starts_with(KEY) {
                    return Some(i + KEY.len());
                }
                scan.open_string();
            }
            b'{' | b'[' => scan.depth += 1,
            b'}' | b']' => scan.depth = scan.depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// The offset of the brace that closes an object whose contents start at
/// `inner[0]` (the length when it never closes).
fn object_end(inner: &[u8]) -> usize {
    let mut scan = Scan {
        depth: 1,
        ..Scan::default()
    };
    for (i, &b) in inner.iter().enumerate() {
        if scan.in_string(b) {
            continue;
        }
        match b {
            b'"' => scan.open_string(),
            b'{' | b'[' => scan.depth += 1,
            b'}' | b']' => {
                scan.depth -= 1;
                if scan.depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    inner.len()
}

/// Where a byte-by-byte walk over JSON is: nesting depth, and inside a
/// string or not.
#[derive(Default)]
struct Scan {
    depth: usize,
    in_str: bool,
    escaped: bool,
}

impl Scan {
    /// Consumes `b` if it is inside a string (its closing quote included).
    fn in_string(&mut self, b: u8) -> bool {
        if !self.in_str {
            return false;
        }
        match (self.escaped, b) {
            (true, _) => self.escaped = false,
            (false, b'\\') => self.escaped = true,
            (false, b'"') => self.in_str = false,
            _ => {}
        }
        true
    }

    fn open_string(&mut self) {
        self.in_str = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn spliced(obj: &Value, key: &str, value: &str) -> Option<Value> {
        let bytes = serde_json::to_vec(obj).unwrap();
        into_metadata(&bytes, key, value.as_bytes()).map(|b| serde_json::from_slice(&b).unwrap())
    }

    #[test]
    fn the_field_joins_the_top_level_metadata() {
        let obj = json!({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": "p", "labels": {"a": "b"}},
                         "spec": {"metadata": {"x": 1}}});
        let got = spliced(&obj, "managedFields", r#"[{"manager":"m"}]"#).unwrap();
        assert_eq!(got["metadata"]["managedFields"], json!([{"manager": "m"}]));
        assert_eq!(got["metadata"]["name"], "p");
        assert_eq!(got["spec"], obj["spec"]);
        let empty = json!({"metadata": {}});
        assert_eq!(
            spliced(&empty, "resourceVersion", "\"7\"").unwrap(),
            json!({"metadata": {"resourceVersion": "7"}})
        );
    }

    #[test]
    fn a_key_already_there_or_no_metadata_is_refused() {
        assert!(spliced(&json!({"kind": "X"}), "k", "1").is_none());
        let has = json!({"metadata": {"name": "x", "resourceVersion": "3"}});
        assert!(spliced(&has, "resourceVersion", "\"4\"").is_none());
        // Metadata nested deeper, or in a string, is not the object's.
        let nested = json!({"spec": {"metadata": {}}, "note": "\"metadata\":{"});
        assert!(spliced(&nested, "k", "1").is_none());
    }

    #[test]
    fn the_key_text_elsewhere_does_not_stop_the_splice() {
        // In an annotation's value and in the spec after the metadata.
        let obj = json!({
            "metadata": {"name": "x", "annotations": {"note": "\"resourceVersion\":\"1\""}},
            "spec": {"resourceVersion": "9"}
        });
        let got = spliced(&obj, "resourceVersion", "\"5\"").unwrap();
        assert_eq!(got["metadata"]["resourceVersion"], "5");
        assert_eq!(got["spec"]["resourceVersion"], "9");
        let in_annotations = json!({"metadata": {"annotations": {"resourceVersion": "1"}}});
        // Nested under metadata the key is not the metadata's own, but the
        // check is on the metadata's text: refused, and the caller falls
        // back to serializing the object.
        assert!(spliced(&in_annotations, "resourceVersion", "\"5\"").is_none());
        // Unless the caller knows the metadata lacks the key.
        let bytes = serde_json::to_vec(&in_annotations).unwrap();
        let got: Value = serde_json::from_slice(
            &prepend_to_metadata(&bytes, "resourceVersion", b"\"5\"").unwrap(),
        )
        .unwrap();
        assert_eq!(got["metadata"]["resourceVersion"], "5");
        assert_eq!(got["metadata"]["annotations"]["resourceVersion"], "1");
    }
}
