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

/// The members of a serialized JSON object, in order: each key's raw text
/// (between its quotes, escapes as written) and its value's raw text.
/// `None` when `json` is not one well-formed object at the top level; the
/// values themselves are only delimited, not checked.
pub fn members(json: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let mut i = skip_ws(json, 0);
    if json.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(json, i + 1);
    let mut out = Vec::new();
    if json.get(i) == Some(&b'}') {
        return (skip_ws(json, i + 1) == json.len()).then_some(out);
    }
    loop {
        if json.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(json, i)?;
        let key = &json[i + 1..key_end - 1];
        i = skip_ws(json, key_end);
        if json.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(json, i + 1);
        let end = value_end(json, start)?;
        out.push((key, &json[start..end]));
        i = skip_ws(json, end);
        match json.get(i) {
            Some(b',') => i = skip_ws(json, i + 1),
            Some(b'}') => return (skip_ws(json, i + 1) == json.len()).then_some(out),
            _ => return None,
        }
    }
}

/// The raw value of the member with raw key `key`.
pub fn member<'a>(members: &[(&[u8], &'a [u8])], key: &[u8]) -> Option<&'a [u8]> {
    members.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Writes the object of `members` with `changes` made: a `(key,
/// Some(value))` replaces the member in its place, or is added at the end
/// when there is none; a `(key, None)` leaves the member out.
pub fn rewrite<'a>(
    members: &[(&'a [u8], &'a [u8])],
    changes: &[(&'a [u8], Option<&'a [u8]>)],
) -> Vec<u8> {
    let change = |key: &[u8]| changes.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let kept = members.iter().filter_map(|&(k, v)| match change(k) {
        Some(new) => new.map(|new| (k, new)),
        None => Some((k, v)),
    });
    let added = changes
        .iter()
        .filter(|(k, _)| member(members, k).is_none())
        .filter_map(|&(k, v)| Some((k, v?)));
    write_object(kept.chain(added))
}

/// Writes an object of raw members (keys as [`members`] gives them).
pub fn write_object<'a>(members: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Vec<u8> {
    let mut out = vec![b'{'];
    for (n, (key, value)) in members.into_iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(key);
        out.extend_from_slice(b"\":");
        out.extend_from_slice(value);
    }
    out.push(b'}');
    out
}

fn skip_ws(json: &[u8], mut i: usize) -> usize {
    while json.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// The offset just past the string opening at `json[at]`.
fn string_end(json: &[u8], at: usize) -> Option<usize> {
    let mut scan = Scan::default();
    scan.open_string();
    for (i, &b) in json.iter().enumerate().skip(at + 1) {
        scan.in_string(b);
        if !scan.in_str {
            return Some(i + 1);
        }
    }
    None
}

/// The offset just past the value starting at `json[at]`.
fn value_end(json: &[u8], at: usize) -> Option<usize> {
    match json.get(at)? {
        b'"' => string_end(json, at),
        b'{' | b'[' => {
            let end = at + 1 + object_end(&json[at + 1..]);
            (end < json.len()).then_some(end + 1)
        }
        _ => {
            let len = json[at..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())
                .unwrap_or(json.len() - at);
            (len > 0).then_some(at + len)
        }
    }
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
    fn members_split_an_object_and_write_back() {
        let text = br#" { "a" : 1, "b\"c":{"x":[1,"]}"]}, "d":"s,}" , "e":[] ,"f":null} "#;
        let m = members(text).unwrap();
        let keys: Vec<&[u8]> = m.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, [&b"a"[..], br#"b\"c"#, b"d", b"e", b"f"]);
        assert_eq!(m[1].1, br#"{"x":[1,"]}"]}"#);
        assert_eq!(m[2].1, br#""s,}""#);
        let back: Value = serde_json::from_slice(&write_object(m)).unwrap();
        let orig: Value = serde_json::from_slice(text).unwrap();
        assert_eq!(back, orig);
        assert_eq!(members(b"{}").unwrap().len(), 0);
        let m = members(br#"{"a":1,"b":2,"c":3}"#).unwrap();
        assert_eq!(member(&m, b"b"), Some(&b"2"[..]));
        assert_eq!(member(&m, b"x"), None);
        let changed = rewrite(
            &m,
            &[
                (b"b", Some(b"[]")),
                (b"c", None),
                (b"d", Some(b"4")),
                (b"e", None),
            ],
        );
        assert_eq!(changed, br#"{"a":1,"b":[],"d":4}"#);
        for bad in [
            &b""[..],
            b"[]",
            b"{",
            b"{\"a\"}",
            b"{\"a\":1,}",
            b"{\"a\":1} x",
            b"{\"a\":\"x}",
        ] {
            assert!(members(bad).is_none(), "{}", String::from_utf8_lossy(bad));
        }
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
