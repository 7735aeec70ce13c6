//! Objects as `PartialObjectMetadata`: only their metadata, which clients
//! ask for with `Accept: application/json;as=PartialObjectMetadata[List];
//! g=meta.k8s.io;v=v1`. client-go's metadata informers (the garbage
//! collector's and the namespace controller's, among others) list and
//! watch every resource this way and fail on anything else.

use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Map, Value};

/// The `meta.k8s.io` version of PartialObjectMetadata the client asked
/// for, if the first JSON rendering its Accept header offers is one.
pub fn wanted(headers: &HeaderMap) -> Option<&'static str> {
    for offer in super::body::accept_offers(headers) {
        if !offer.is_json() {
            continue;
        }
        let partial = matches!(
            offer.as_,
            "PartialObjectMetadata" | "PartialObjectMetadataList"
        );
        if !partial {
            // Plain JSON, or another rendering (a Table) came first.
            return None;
        }
        match (offer.group, offer.version) {
            ("meta.k8s.io", "v1") => return Some("v1"),
            ("meta.k8s.io", "v1beta1") => return Some("v1beta1"),
            // A version not served: the next offer may be.
            _ => {}
        }
    }
    None
}

/// The Content-Type of a single object (or a watch) and of a list.
pub fn content_type(version: &str, list: bool) -> String {
    let kind = if list {
        "PartialObjectMetadataList"
    } else {
        "PartialObjectMetadata"
    };
    format!("application/json;as={kind};g=meta.k8s.io;v={version}")
}

/// The object's metadata as a PartialObjectMetadata.
pub fn object(version: &str, metadata: Value) -> Value {
    let mut m = Map::new();
    m.insert("kind".into(), Value::String("PartialObjectMetadata".into()));
    m.insert(
        "apiVersion".into(),
        Value::String(format!("meta.k8s.io/{version}")),
    );
    m.insert("metadata".into(), metadata);
    Value::Object(m)
}

/// [`object`] for serialized JSON. The metadata's bytes are copied as
/// they are, unparsed (a pod's managedFields are most of them); an object
/// without metadata gets `null`.
pub fn from_json(version: &str, json: &[u8]) -> Bytes {
    use crate::splice::{member, members, write_object};
    let listed = members(json);
    let metadata = listed
        .as_deref()
        .and_then(|m| member(m, b"metadata"))
        .unwrap_or(b"null");
    let api_version = format!("\"meta.k8s.io/{version}\"");
    Bytes::from(write_object([
        (&b"kind"[..], &b"\"PartialObjectMetadata\""[..]),
        (b"apiVersion", api_version.as_bytes()),
        (b"metadata", metadata),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn client_go_metadata_requests_are_recognised() {
        let list = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
        assert_eq!(wanted(&accept(list)), Some("v1"));
        let watch = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1";
        assert_eq!(wanted(&accept(watch)), Some("v1beta1"));
        assert_eq!(wanted(&accept("application/json")), None);
        let table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
        assert_eq!(wanted(&accept(table)), None);
        let odd = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v9,application/json";
        assert_eq!(wanted(&accept(odd)), None);
    }

    #[test]
    fn only_the_metadata_is_kept() {
        let pod = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","uid":"u"},"spec":{"containers":[]}}"#;
        let v: Value = serde_json::from_slice(&from_json("v1", pod)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": {"name": "p", "uid": "u"}})
        );
        // Without metadata, the metadata is null.
        let v: Value = serde_json::from_slice(&from_json("v1beta1", br#"{"kind":"X"}"#)).unwrap();
        assert_eq!(v["metadata"], Value::Null);
        assert_eq!(v["apiVersion"], "meta.k8s.io/v1beta1");
    }
}
