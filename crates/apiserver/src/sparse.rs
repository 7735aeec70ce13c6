//! Parsing only the fields a caller needs out of a JSON document.
//!
//! The watch cache reads each written object for its labels and its
//! selectable fields (a handful of values) but keeps the object itself as
//! bytes. Building a whole `serde_json::Value` for that allocates every
//! string and map of the object; this parser walks the same bytes and
//! builds values only along the requested paths, skipping the rest.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// The dotted paths to keep (`metadata.labels`, `spec.nodeName`), as a
/// tree. Build it once per resource and reuse it.
#[derive(Debug, Default, Clone)]
pub struct Paths {
    children: Vec<(String, Paths)>,
    /// Keep this whole subtree.
    whole: bool,
}

impl Paths {
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a str>) -> Paths {
        let mut root = Paths::default();
        for path in paths {
            let mut node = &mut root;
            for seg in path.split('.') {
                let i = match node.children.iter().position(|(k, _)| k == seg) {
                    Some(i) => i,
                    None => {
                        node.children.push((seg.to_owned(), Paths::default()));
                        node.children.len() - 1
                    }
                };
                node = &mut node.children[i].1;
            }
            node.whole = true;
        }
        root
    }

    /// Parses `json`, keeping only the requested paths: an object with
    /// those fields that are present.
    pub fn parse(&self, json: &[u8]) -> serde_json::Result<Value> {
        let mut de = serde_json::Deserializer::from_slice(json);
        let v = self.deserialize(&mut de)?;
        de.end()?;
        Ok(v)
    }
}

impl<'de> DeserializeSeed<'de> for &Paths {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.whole {
            return serde::Deserialize::deserialize(d);
        }
        d.deserialize_any(self)
    }
}

/// Matches an object key against the wanted children without allocating.
struct KeySeed<'a>(&'a Paths);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.0.children.iter().position(|(k, _)| k == key))
    }
}

impl<'de> Visitor<'de> for &Paths {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(wanted) = map.next_key_seed(KeySeed(self))? {
            match wanted {
                Some(i) => {
                    let (key, child) = &self.children[i];
                    let v = map.next_value_seed(child)?;
                    out.insert(key.clone(), v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }

    // A path that runs into a scalar or an array ends there: what it
    // wanted is absent.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Null)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_only_the_requested_paths() {
        let paths = Paths::new(["metadata.labels", "spec.nodeName", "status.phase", "source"]);
        let doc = json!({
            "metadata": {"name": "x", "labels": {"a": "b", "c": "d"}, "annotations": {"big": "y"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]},
            "status": "not an object",
            "source": {"component": "kubelet", "host": "n1"},
            "extra": [1, 2, {"k": "v"}]
        });
        let v = paths.parse(&serde_json::to_vec(&doc).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({
                "metadata": {"labels": {"a": "b", "c": "d"}},
                "spec": {"nodeName": "n1"},
                "status": null,
                "source": {"component": "kubelet", "host": "n1"}
            })
        );
    }

    #[test]
    fn refuses_what_is_not_json() {
        let paths = Paths::new(["metadata.labels"]);
        assert!(paths.parse(b"{\"metadata\":").is_err());
        assert!(paths.parse(b"{} trailing").is_err());
        // Escaped keys still match.
        let v = paths
            .parse(br#"{"meta\u0064ata":{"labels":{"k":"v"}}}"#)
            .unwrap();
        assert_eq!(v["metadata"]["labels"]["k"], "v");
    }
}
