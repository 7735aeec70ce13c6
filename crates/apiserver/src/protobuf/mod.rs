//! Decoding of Kubernetes protobuf request bodies
//! (`application/vnd.kubernetes.protobuf`) into the JSON the rest of the
//! apiserver works on.
//!
//! kubectl's typed clients (`create deployment`, `create namespace`,
//! `auth can-i`, `drain`) and client-go based components send protobuf with
//! no fallback. A body is the magic `k8s\0` followed by a `runtime.Unknown`
//! envelope that names the apiVersion and kind and carries the object's
//! message. The message is decoded with field tables generated from
//! Kubernetes' .proto files (`generated.rs`, see
//! `scripts/gen-protobuf-schema`), so every built-in kind is covered
//! without hand-written types.
//!
//! Go encodes non-pointer fields even when they hold their zero value; a
//! decoded empty string is therefore dropped (as Go's JSON `omitempty` and
//! Kubernetes' defaulting of empty fields treat it), while numbers and
//! booleans are kept because pointer fields give them meaning (replicas: 0),
//! except for the common non-pointer fields in [`OMIT_ZERO`].

#[rustfmt::skip]
mod generated;
mod schema;

use generated::{KINDS, MESSAGES};
use schema::{Message, Special, Wire};
use serde_json::{Map, Number, Value};

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// Non-pointer Go fields tagged `omitempty` that typed clients send with
/// their zero value; dropped so stored objects read as Kubernetes' do.
/// (Pointer fields of the same names would make a zero meaningful; none of
/// these names is a pointer anywhere in the built-in kinds.)
const OMIT_ZERO: &[&str] = &[
    "generation",
    "healthCheckNodePort",
    "hostIPC",
    "hostNetwork",
    "hostPID",
    "hostPort",
    "minReadySeconds",
    "nodePort",
    "paused",
    "publishNotReadyAddresses",
    "stdin",
    "stdinOnce",
    "tty",
];

/// Go structs embedded with `json:",inline"`: JSON puts their fields in the
/// parent object, protobuf nests them as one field of the parent's message.
/// (message, field). Neither k8s-pb nor k8s-openapi marks them, so the
/// generated tables name the field as any other; found by the fields of the
/// generated tables that k8s-openapi's structs lack.
const INLINE: &[(&str, &str)] = &[
    ("api.core.v1.Probe", "handler"),
    ("api.core.v1.Volume", "volumeSource"),
    ("api.core.v1.PersistentVolumeSpec", "persistentVolumeSource"),
    ("api.core.v1.EphemeralContainer", "ephemeralContainerCommon"),
    ("api.core.v1.ConfigMapEnvSource", "localObjectReference"),
    ("api.core.v1.ConfigMapKeySelector", "localObjectReference"),
    ("api.core.v1.ConfigMapProjection", "localObjectReference"),
    ("api.core.v1.ConfigMapVolumeSource", "localObjectReference"),
    ("api.core.v1.SecretEnvSource", "localObjectReference"),
    ("api.core.v1.SecretKeySelector", "localObjectReference"),
    ("api.core.v1.SecretProjection", "localObjectReference"),
    ("api.networking.v1.IngressRule", "ingressRuleValue"),
    ("api.networking.v1beta1.IngressRule", "ingressRuleValue"),
    ("api.extensions.v1beta1.IngressRule", "ingressRuleValue"),
    (
        "api.admissionregistration.v1.NamedRuleWithOperations",
        "ruleWithOperations",
    ),
    (
        "api.admissionregistration.v1alpha1.NamedRuleWithOperations",
        "ruleWithOperations",
    ),
    (
        "api.admissionregistration.v1beta1.NamedRuleWithOperations",
        "ruleWithOperations",
    ),
    ("api.admissionregistration.v1.RuleWithOperations", "rule"),
    (
        "api.admissionregistration.v1beta1.RuleWithOperations",
        "rule",
    ),
    (
        "api.resource.v1alpha3.DeviceAllocationConfiguration",
        "deviceConfiguration",
    ),
    (
        "api.resource.v1alpha3.DeviceClaimConfiguration",
        "deviceConfiguration",
    ),
    (
        "api.resource.v1alpha3.DeviceClassConfiguration",
        "deviceConfiguration",
    ),
    (
        "api.resource.v1beta1.DeviceAllocationConfiguration",
        "deviceConfiguration",
    ),
    (
        "api.resource.v1beta1.DeviceClaimConfiguration",
        "deviceConfiguration",
    ),
    (
        "api.resource.v1beta1.DeviceClassConfiguration",
        "deviceConfiguration",
    ),
    (
        "api.resource.v1beta2.DeviceAllocationConfiguration",
        "deviceConfiguration",
    ),
    (
        "api.resource.v1beta2.DeviceClaimConfiguration",
        "deviceConfiguration",
    ),
    (
        "api.resource.v1beta2.DeviceClassConfiguration",
        "deviceConfiguration",
    ),
];

/// Nesting deeper than this is refused (the JSON path allows 100 levels of
/// brackets; a message level is about two of them).
const MAX_DEPTH: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    #[error("the protobuf body does not start with the Kubernetes magic number")]
    NoMagic,
    #[error("the protobuf body is truncated or malformed: {0}")]
    Malformed(&'static str),
    #[error("the protobuf body nests deeper than {MAX_DEPTH} messages")]
    TooDeep,
    #[error("no protobuf encoding is known for kind {kind:?} in {api_version:?}")]
    UnknownKind { api_version: String, kind: String },
    #[error("protobuf content encoding {0:?} is not supported")]
    ContentEncoding(String),
    #[error("field {field}: {reason}")]
    Field { field: &'static str, reason: String },
}

/// Decodes a whole protobuf request body into a JSON object with
/// `apiVersion` and `kind` set.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let rest = body.strip_prefix(MAGIC).ok_or(ProtobufError::NoMagic)?;
    let envelope = Envelope::parse(rest)?;
    if !envelope.content_encoding.is_empty() {
        return Err(ProtobufError::ContentEncoding(envelope.content_encoding));
    }
    let message = find_kind(&envelope.api_version, &envelope.kind).ok_or_else(|| {
        ProtobufError::UnknownKind {
            api_version: envelope.api_version.clone(),
            kind: envelope.kind.clone(),
        }
    })?;
    let mut value = decode_message(envelope.raw, message, 0)?;
    if let Value::Object(map) = &mut value {
        // apiVersion and kind first, as Kubernetes writes them.
        let mut out = Map::with_capacity(map.len() + 2);
        out.insert("apiVersion".into(), Value::String(envelope.api_version));
        out.insert("kind".into(), Value::String(envelope.kind));
        out.append(map);
        value = Value::Object(out);
    }
    Ok(value)
}

/// The message for a kind: the group version's own, or one of the meta/v1
/// kinds every group version registers (DeleteOptions, ...).
fn find_kind(api_version: &str, kind: &str) -> Option<&'static Message> {
    if let Ok(i) = KINDS.binary_search_by(|(v, k, _)| (*v, *k).cmp(&(api_version, kind))) {
        return Some(&MESSAGES[KINDS[i].2 as usize]);
    }
    let name = format!("apimachinery.pkg.apis.meta.v1.{kind}");
    MESSAGES
        .binary_search_by(|m| m.name.cmp(name.as_str()))
        .ok()
        .map(|i| &MESSAGES[i])
}

/// `runtime.Unknown`: typeMeta (1), raw (2), contentEncoding (3),
/// contentType (4).
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
}

impl<'a> Envelope<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, ProtobufError> {
        let mut env = Envelope {
            api_version: String::new(),
            kind: String::new(),
            raw: &[],
            content_encoding: String::new(),
        };
        let mut reader = Reader::new(bytes);
        while let Some((tag, value)) = reader.next_field()? {
            match (tag, value) {
                (1, Raw::Len(type_meta)) => {
                    let mut inner = Reader::new(type_meta);
                    while let Some((tag, value)) = inner.next_field()? {
                        match (tag, value) {
                            (1, Raw::Len(b)) => env.api_version = utf8(b, "apiVersion")?,
                            (2, Raw::Len(b)) => env.kind = utf8(b, "kind")?,
                            _ => {}
                        }
                    }
                }
                (2, Raw::Len(raw)) => env.raw = raw,
                (3, Raw::Len(b)) => env.content_encoding = utf8(b, "contentEncoding")?,
                _ => {}
            }
        }
        Ok(env)
    }
}

fn utf8(bytes: &[u8], field: &'static str) -> Result<String, ProtobufError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| ProtobufError::Field {
        field,
        reason: "not valid UTF-8".into(),
    })
}

/// One field's raw value, by wire type.
enum Raw<'a> {
    Varint(u64),
    Fixed64(u64),
    /// No Kubernetes field uses it; skipped.
    Fixed32,
    Len(&'a [u8]),
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, ProtobufError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .bytes
                .get(self.pos)
                .ok_or(ProtobufError::Malformed("varint runs past the end"))?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ProtobufError::Malformed("varint longer than 10 bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtobufError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(ProtobufError::Malformed("field runs past the end"))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// The next (field number, value), or None at the end.
    fn next_field(&mut self) -> Result<Option<(u32, Raw<'a>)>, ProtobufError> {
        if self.pos >= self.bytes.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let tag = u32::try_from(key >> 3)
            .ok()
            .filter(|t| *t > 0)
            .ok_or(ProtobufError::Malformed("invalid field number"))?;
        let value = match key & 7 {
            0 => Raw::Varint(self.varint()?),
            1 => Raw::Fixed64(u64::from_le_bytes(
                self.take(8)?.try_into().expect("8 bytes"),
            )),
            2 => {
                let len = usize::try_from(self.varint()?)
                    .map_err(|_| ProtobufError::Malformed("length too large"))?;
                Raw::Len(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Raw::Fixed32
            }
            _ => return Err(ProtobufError::Malformed("unsupported wire type")),
        };
        Ok(Some((tag, value)))
    }
}

fn decode_message(bytes: &[u8], message: &Message, depth: usize) -> Result<Value, ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::TooDeep);
    }
    match message.special {
        Special::None => decode_object(bytes, message, depth),
        Special::Items => {
            let mut items = Vec::new();
            let mut reader = Reader::new(bytes);
            while let Some((tag, raw)) = reader.next_field()? {
                if let (1, Raw::Len(b)) = (tag, raw) {
                    items.push(Value::String(utf8(b, "items")?));
                }
            }
            Ok(Value::Array(items))
        }
        special => decode_special(bytes, special),
    }
}

fn decode_object(bytes: &[u8], message: &Message, depth: usize) -> Result<Value, ProtobufError> {
    let mut out = Map::new();
    let mut reader = Reader::new(bytes);
    while let Some((tag, raw)) = reader.next_field()? {
        // Unknown fields are skipped, as Go's decoder does.
        let Ok(i) = message.fields.binary_search_by_key(&tag, |f| f.tag) else {
            continue;
        };
        let field = &message.fields[i];
        match field.wire {
            Wire::MapString | Wire::MapBytes | Wire::MapMsg(_) => {
                let Raw::Len(entry) = raw else {
                    return Err(wrong_wire(field.json));
                };
                let (key, value) = decode_map_entry(entry, field.wire, field.json, depth)?;
                let map = out
                    .entry(field.json)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(map) = map {
                    map.insert(key, value);
                }
            }
            wire if field.repeated => {
                let array = out
                    .entry(field.json)
                    .or_insert_with(|| Value::Array(Vec::new()));
                let Value::Array(array) = array else { continue };
                match (wire, raw) {
                    // Packed repeated scalars.
                    (Wire::Bool | Wire::Int32 | Wire::Int64, Raw::Len(packed)) => {
                        let mut r = Reader::new(packed);
                        while r.pos < packed.len() {
                            array.push(scalar(wire, Raw::Varint(r.varint()?), field.json)?);
                        }
                    }
                    (Wire::Double, Raw::Len(packed)) => {
                        let mut r = Reader::new(packed);
                        while r.pos < packed.len() {
                            let b = r.take(8)?.try_into().expect("8 bytes");
                            array.push(scalar(
                                wire,
                                Raw::Fixed64(u64::from_le_bytes(b)),
                                field.json,
                            )?);
                        }
                    }
                    (wire, raw) => array.push(decode_value(wire, raw, field.json, depth)?),
                }
            }
            wire => {
                let value = decode_value(wire, raw, field.json, depth)?;
                if let Value::Object(inlined) = &value {
                    // The field name first: it is short and rarely matches.
                    if INLINE
                        .iter()
                        .any(|(m, f)| *f == field.json && *m == message.name)
                    {
                        out.extend(inlined.clone());
                        continue;
                    }
                }
                // A zero string is an unset Go field; a zero Time is null.
                let zero = value.as_i64() == Some(0) || value.as_bool() == Some(false);
                if value.is_null()
                    || value.as_str() == Some("")
                    || (zero && OMIT_ZERO.contains(&field.json))
                {
                    out.remove(field.json);
                } else {
                    out.insert(field.json.to_owned(), value);
                }
            }
        }
    }
    Ok(Value::Object(out))
}

fn decode_map_entry(
    entry: &[u8],
    wire: Wire,
    field: &'static str,
    depth: usize,
) -> Result<(String, Value), ProtobufError> {
    let value_wire = match wire {
        Wire::MapString => Wire::Str,
        Wire::MapBytes => Wire::Bytes,
        Wire::MapMsg(i) => Wire::Msg(i),
        _ => return Err(wrong_wire(field)),
    };
    let (mut key, mut value) = (String::new(), None);
    let mut reader = Reader::new(entry);
    while let Some((tag, raw)) = reader.next_field()? {
        match (tag, raw) {
            (1, Raw::Len(b)) => key = utf8(b, field)?,
            (2, raw) => value = Some(decode_value(value_wire, raw, field, depth)?),
            _ => {}
        }
    }
    // An absent value is the type's zero value.
    let value = match (value, value_wire) {
        (Some(v), _) => v,
        (None, Wire::Msg(i)) => decode_message(&[], &MESSAGES[i as usize], depth + 1)?,
        (None, _) => Value::String(String::new()),
    };
    Ok((key, value))
}

fn decode_value(
    wire: Wire,
    raw: Raw<'_>,
    field: &'static str,
    depth: usize,
) -> Result<Value, ProtobufError> {
    match (wire, raw) {
        (Wire::Str, Raw::Len(b)) => Ok(Value::String(utf8(b, field)?)),
        (Wire::Bytes, Raw::Len(b)) => {
            use base64::Engine;
            Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(b),
            ))
        }
        (Wire::Msg(i), Raw::Len(b)) => decode_message(b, &MESSAGES[i as usize], depth + 1),
        (wire, raw) => scalar(wire, raw, field),
    }
}

fn scalar(wire: Wire, raw: Raw<'_>, field: &'static str) -> Result<Value, ProtobufError> {
    match (wire, raw) {
        (Wire::Bool, Raw::Varint(v)) => Ok(Value::Bool(v != 0)),
        // Negative int32s are sign-extended to ten bytes on the wire.
        (Wire::Int32, Raw::Varint(v)) => Ok(Value::from(v as i64 as i32)),
        (Wire::Int64, Raw::Varint(v)) => Ok(Value::from(v as i64)),
        (Wire::Double, Raw::Fixed64(v)) => Ok(Number::from_f64(f64::from_bits(v))
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        _ => Err(wrong_wire(field)),
    }
}

fn wrong_wire(field: &'static str) -> ProtobufError {
    ProtobufError::Field {
        field,
        reason: "unexpected wire type".into(),
    }
}

/// The messages whose JSON form is a scalar or raw JSON.
fn decode_special(bytes: &[u8], special: Special) -> Result<Value, ProtobufError> {
    let mut ints = [0i64; 3];
    let mut text = String::new();
    let mut raw_bytes: &[u8] = &[];
    let mut reader = Reader::new(bytes);
    while let Some((tag, raw)) = reader.next_field()? {
        match (tag, raw) {
            (1..=3, Raw::Varint(v)) => ints[tag as usize - 1] = v as i64,
            (_, Raw::Len(b)) => {
                raw_bytes = b;
                text = String::from_utf8_lossy(b).into_owned();
            }
            _ => {}
        }
    }
    Ok(match special {
        Special::Time | Special::MicroTime => {
            let (seconds, nanos) = (ints[0], ints[1] as u32);
            if seconds == 0 && nanos == 0 {
                return Ok(Value::Null);
            }
            let Some(t) = chrono::DateTime::from_timestamp(seconds, nanos) else {
                return Err(ProtobufError::Field {
                    field: "time",
                    reason: format!("{seconds}s is out of range"),
                });
            };
            let format = if special == Special::Time {
                "%Y-%m-%dT%H:%M:%SZ"
            } else {
                "%Y-%m-%dT%H:%M:%S%.6fZ"
            };
            Value::String(t.format(format).to_string())
        }
        Special::Duration => Value::String(go_duration(ints[0])),
        Special::Quantity => Value::String(text),
        // type (1): 0 is an int, 1 a string; intVal (2); strVal (3).
        Special::IntOrString if ints[0] == 1 => Value::String(text),
        Special::IntOrString => Value::from(ints[1] as i32),
        Special::RawJson if raw_bytes.is_empty() => Value::Null,
        Special::RawJson if raw_bytes.starts_with(MAGIC) => decode(raw_bytes)?,
        Special::RawJson => {
            super::api::body::decode_json(raw_bytes).map_err(|e| ProtobufError::Field {
                field: "raw",
                reason: e.to_string(),
            })?
        }
        Special::None | Special::Items => unreachable!("handled by decode_message"),
    })
}

/// Formats nanoseconds as Go's `time.Duration.String()` does: "1h2m3.5s",
/// "150ms", "0s".
fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    if n < 1_000_000_000 {
        let (unit, div) = match n {
            0..1_000 => ("ns", 1),
            1_000..1_000_000 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        return format!("{sign}{}{unit}", fraction(n, div));
    }
    let (hours, rest) = (n / 3_600_000_000_000, n % 3_600_000_000_000);
    let (minutes, rest) = (rest / 60_000_000_000, rest % 60_000_000_000);
    let seconds = fraction(rest, 1_000_000_000);
    match (hours, minutes) {
        (0, 0) => format!("{sign}{seconds}s"),
        (0, m) => format!("{sign}{m}m{seconds}s"),
        (h, m) => format!("{sign}{h}h{m}m{seconds}s"),
    }
}

/// `n / div` with the remainder as decimals, trailing zeros removed.
fn fraction(n: u64, div: u64) -> String {
    let (whole, rest) = (n / div, n % div);
    if rest == 0 {
        return whole.to_string();
    }
    let digits = div.ilog10() as usize;
    let decimals = format!("{rest:0digits$}");
    format!("{whole}.{}", decimals.trim_end_matches('0'))
}

#[cfg(test)]
mod tests;
