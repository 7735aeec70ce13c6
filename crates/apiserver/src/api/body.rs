//! Request bodies in and responses out: content types, size limits, and
//! the JSON/YAML decoding every write shares.

use crate::status::ApiError;
use bytes::Bytes;
use http::{header, HeaderMap, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use serde_json::Value;
use std::convert::Infallible;

/// The body type of every response.
pub type Body = BoxBody<Bytes, Infallible>;

/// The largest request body accepted (Kubernetes' limit is 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;
/// The deepest JSON nesting accepted; deeper bodies are refused with 400
/// before they can exhaust the stack.
pub const MAX_DEPTH: usize = 100;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// A JSON response with a status code.
pub fn json_response(code: StatusCode, body: Bytes) -> Response<Body> {
    json_typed(code, body, "application/json")
}

pub fn json_typed(code: StatusCode, body: Bytes, content_type: &str) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, content_type)
        .body(full(body))
        .unwrap_or_else(|_| Response::new(full(Bytes::new())))
}

pub fn value_response(code: StatusCode, value: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    json_response(code, Bytes::from(bytes))
}

/// The `Status` response of an error.
pub fn error_response(err: &ApiError) -> Response<Body> {
    let code = StatusCode::from_u16(err.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = value_response(code, &err.to_status());
    if matches!(err, ApiError::Unauthorized) {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Basic realm=\"kubernetes-master\""),
        );
    }
    resp
}

/// The most of an oversized body read (and dropped) so that the client can
/// read the 413 answer; beyond it the connection is simply closed.
const MAX_DRAIN: usize = 64 * 1024 * 1024;

/// Reads a request body, refusing more than [`MAX_BODY`] bytes. An
/// oversized body is drained, not buffered, so the client sees the 413.
pub async fn read_limited(
    mut body: hyper::body::Incoming,
    headers: &HeaderMap,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut buf = bytes::BytesMut::new();
    let mut seen = 0usize;
    let too_large = |size| ApiError::TooLarge {
        size,
        limit: MAX_BODY,
    };
    let over = declared.is_some_and(|d| d > MAX_BODY);
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen > MAX_DRAIN {
                return Err(too_large(seen));
            }
            if !over && seen <= MAX_BODY {
                buf.extend_from_slice(&data);
            }
        }
    }
    if over || seen > MAX_BODY {
        return Err(too_large(declared.unwrap_or(seen).max(seen)));
    }
    Ok(buf.freeze())
}

/// The media type of a request body, without parameters.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| Offer::parse(v).media)
        .unwrap_or_default()
}

/// One media type a client offers in `Accept` (or sends in
/// `Content-Type`): the type, lowercase, and the parameters Kubernetes
/// negotiates renderings with (`as`, `g`, `v`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Offer<'a> {
    pub media: String,
    pub as_: &'a str,
    pub group: &'a str,
    pub version: &'a str,
}

impl<'a> Offer<'a> {
    fn parse(text: &'a str) -> Offer<'a> {
        let mut parts = text.split(';').map(str::trim);
        let mut offer = Offer {
            media: parts.next().unwrap_or_default().to_ascii_lowercase(),
            ..Offer::default()
        };
        for p in parts {
            match p.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
                Some(("as", v)) => offer.as_ = v,
                Some(("g", v)) => offer.group = v,
                Some(("v", v)) => offer.version = v,
                _ => {}
            }
        }
        offer
    }

    /// Whether the offer takes JSON.
    pub fn is_json(&self) -> bool {
        matches!(
            self.media.as_str(),
            "application/json" | "application/*" | "*/*"
        )
    }
}

/// The offers of the request's `Accept` headers, in the client's order of
/// preference.
pub fn accept_offers(headers: &HeaderMap) -> Vec<Offer<'_>> {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(Offer::parse)
        .collect()
}

/// Checks that JSON does not nest deeper than [`MAX_DEPTH`], by scanning
/// brackets outside strings (cheap, and safe against stack exhaustion).
fn check_depth(bytes: &[u8]) -> Result<(), ApiError> {
    let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_str {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ApiError::bad_request(format!(
                        "the request body nests deeper than {MAX_DEPTH} levels"
                    )));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Decodes a JSON or YAML request body into a JSON value.
pub fn decode(bytes: &[u8], media: &str) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    match media {
        "" | "application/json" | "*/*" => decode_json(bytes),
        "application/yaml" | "application/x-yaml" | "text/yaml" => decode_yaml(bytes),
        "application/vnd.kubernetes.protobuf" => crate::protobuf::decode(bytes)
            .map_err(|e| ApiError::bad_request(format!("protobuf request body: {e}"))),
        other => Err(ApiError::UnsupportedMediaType {
            accepted: format!(
                "application/json, application/yaml, application/vnd.kubernetes.protobuf (got {other})"
            ),
        }),
    }
}

pub fn decode_json(bytes: &[u8]) -> Result<Value, ApiError> {
    check_depth(bytes)?;
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })
}

pub fn decode_yaml(bytes: &[u8]) -> Result<Value, ApiError> {
    // YAML is a superset of JSON: a JSON body sent as YAML is common.
    if bytes.trim_ascii_start().starts_with(b"{") {
        return decode_json(bytes);
    }
    check_depth(bytes)?;
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("the YAML body is not UTF-8"))?;
    serde_saphyr::from_str::<Value>(text)
        .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))
}

/// Whether the client asked for a Table (`kubectl get`).
pub fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("as=Table"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_deep_nesting() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(decode_json(deep.as_bytes()).unwrap_err().code(), 400);
        let ok = "[".repeat(10) + &"]".repeat(10);
        assert!(decode_json(ok.as_bytes()).is_ok());
        // Brackets inside strings do not count.
        let s = format!("{{\"a\": \"{}\"}}", "[".repeat(500));
        assert!(decode_json(s.as_bytes()).is_ok());
    }

    #[test]
    fn decodes_yaml_and_json() {
        let v = decode(
            b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n",
            "application/yaml",
        )
        .unwrap();
        assert_eq!(v["metadata"]["name"], "x");
        assert_eq!(decode(b"{\"a\":1}", "application/yaml").unwrap()["a"], 1);
        assert_eq!(decode(b"{bad", "application/json").unwrap_err().code(), 400);
        assert_eq!(
            decode(b"x", "application/vnd.kubernetes.protobuf")
                .unwrap_err()
                .code(),
            400
        );
        assert_eq!(decode(b"x", "application/cbor").unwrap_err().code(), 415);
        assert_eq!(decode(b"  ", "application/json").unwrap_err().code(), 400);
    }
}
