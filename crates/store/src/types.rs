//! The store's data model, shared by both backends: keys with their
//! revisions, range reads, transactions, watch events and leases.

use bytes::Bytes;
use futures::stream::BoxStream;

/// A point in the store's history. Every write advances it by one.
pub type Revision = i64;

/// A lease's identifier. `0` is never a lease.
pub type LeaseId = i64;

/// One key with its value and metadata, as etcd's `mvccpb.KeyValue`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    /// Empty for keys-only reads and for delete events.
    pub value: Bytes,
    /// Revision of the write that created the key (since its last delete).
    pub create_revision: Revision,
    /// Revision of the last write to the key.
    pub mod_revision: Revision,
    /// Number of writes since the key was created (1 after creation).
    pub version: i64,
    /// The lease the key is attached to, `0` for none.
    pub lease: LeaseId,
}

/// The store's current revision and the revision history was compacted to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revisions {
    pub current: Revision,
    pub compacted: Revision,
}

/// A read of one key or a half-open key range `[key, range_end)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeRequest {
    pub key: String,
    /// `None` reads the single key `key`.
    pub range_end: Option<String>,
    /// At most this many keys (0: no limit); `more` says whether any were left.
    pub limit: i64,
    /// Read as of this revision (0: the current one).
    pub revision: Revision,
    /// Leave values out.
    pub keys_only: bool,
    /// Only count the keys.
    pub count_only: bool,
    /// Leave out counting the whole range when `limit` is set: `count` is
    /// then only a lower bound (the keys returned, plus one if `more`).
    /// Saves a pass over a large range per page. etcd counts regardless.
    pub skip_count: bool,
}

impl RangeRequest {
    /// Reads the single key `key`.
    pub fn key(key: impl Into<String>) -> Self {
        RangeRequest {
            key: key.into(),
            ..Default::default()
        }
    }

    /// Reads every key that starts with `prefix`.
    pub fn prefix(prefix: impl Into<String>) -> Self {
        let key = prefix.into();
        let range_end = Some(prefix_end(&key));
        RangeRequest {
            key,
            range_end,
            ..Default::default()
        }
    }

    /// Reads the keys in `[start, end)`.
    pub fn between(start: impl Into<String>, end: impl Into<String>) -> Self {
        RangeRequest {
            key: start.into(),
            range_end: Some(end.into()),
            ..Default::default()
        }
    }

    pub fn with_limit(mut self, limit: i64) -> Self {
        self.limit = limit;
        self
    }

    pub fn at_revision(mut self, revision: Revision) -> Self {
        self.revision = revision;
        self
    }

    pub fn keys_only(mut self) -> Self {
        self.keys_only = true;
        self
    }

    pub fn count_only(mut self) -> Self {
        self.count_only = true;
        self
    }

    pub fn without_count(mut self) -> Self {
        self.skip_count = true;
        self
    }
}

/// The end of the range holding every key that starts with `prefix`: the
/// prefix with its last character incremented. The empty string means
/// "no end" (every key from `prefix` on), as `"\0"` does in etcd.
pub fn prefix_end(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(last as u32 + 1) {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    String::new()
}

/// The answer to a [`RangeRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeResponse {
    /// Keys in order; empty for `count_only`.
    pub kvs: Vec<KeyValue>,
    /// How many keys the whole range holds (ignoring `limit`).
    pub count: i64,
    /// Whether `limit` left keys out.
    pub more: bool,
    /// The revision the read was served at (the store's current revision for
    /// reads of the present).
    pub revision: Revision,
}

/// What a compare looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompareTarget {
    /// The key's mod revision; `0` for a key that does not exist.
    ModRevision(Revision),
    /// The key's create revision; `0` for a key that does not exist.
    CreateRevision(Revision),
    /// The key's version; `0` for a key that does not exist.
    Version(i64),
    /// The key's value (a missing key never compares true).
    Value(Vec<u8>),
    /// The key's lease; `0` for none or a missing key.
    Lease(LeaseId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Equal,
    NotEqual,
    Less,
    Greater,
}

impl CompareOp {
    pub fn holds<T: Ord + ?Sized>(self, actual: &T, expected: &T) -> bool {
        match self {
            CompareOp::Equal => actual == expected,
            CompareOp::NotEqual => actual != expected,
            CompareOp::Less => actual < expected,
            CompareOp::Greater => actual > expected,
        }
    }
}

/// One guard of a transaction: `key`'s target `op` the given value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compare {
    pub key: String,
    pub op: CompareOp,
    pub target: CompareTarget,
}

impl Compare {
    pub fn mod_revision(key: impl Into<String>, op: CompareOp, rev: Revision) -> Self {
        Compare {
            key: key.into(),
            op,
            target: CompareTarget::ModRevision(rev),
        }
    }

    pub fn version(key: impl Into<String>, op: CompareOp, version: i64) -> Self {
        Compare {
            key: key.into(),
            op,
            target: CompareTarget::Version(version),
        }
    }

    pub fn value(key: impl Into<String>, op: CompareOp, value: impl Into<Vec<u8>>) -> Self {
        Compare {
            key: key.into(),
            op,
            target: CompareTarget::Value(value.into()),
        }
    }

    /// Evaluates the compare against a key's current state.
    pub fn holds(&self, kv: Option<&KeyValue>) -> bool {
        match (&self.target, kv) {
            (CompareTarget::Value(expected), Some(kv)) => {
                self.op.holds(kv.value.as_ref(), expected.as_slice())
            }
            (CompareTarget::Value(_), None) => false,
            (CompareTarget::ModRevision(r), kv) => {
                self.op.holds(&kv.map_or(0, |kv| kv.mod_revision), r)
            }
            (CompareTarget::CreateRevision(r), kv) => {
                self.op.holds(&kv.map_or(0, |kv| kv.create_revision), r)
            }
            (CompareTarget::Version(v), kv) => self.op.holds(&kv.map_or(0, |kv| kv.version), v),
            (CompareTarget::Lease(l), kv) => self.op.holds(&kv.map_or(0, |kv| kv.lease), l),
        }
    }
}

/// One operation of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOp {
    Put {
        key: String,
        value: Vec<u8>,
        lease: Option<LeaseId>,
    },
    /// Deletes `key`, or every key starting with it when `prefix` is set.
    Delete {
        key: String,
        prefix: bool,
    },
    Get(RangeRequest),
}

impl TxnOp {
    pub fn put(key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        TxnOp::Put {
            key: key.into(),
            value: value.into(),
            lease: None,
        }
    }

    pub fn put_with_lease(key: impl Into<String>, value: Vec<u8>, lease: Option<LeaseId>) -> Self {
        TxnOp::Put {
            key: key.into(),
            value,
            lease,
        }
    }

    pub fn delete(key: impl Into<String>) -> Self {
        TxnOp::Delete {
            key: key.into(),
            prefix: false,
        }
    }

    pub fn get(key: impl Into<String>) -> Self {
        TxnOp::Get(RangeRequest::key(key))
    }
}

/// A compare-then-act transaction, as etcd's `Txn`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Txn {
    pub compares: Vec<Compare>,
    pub success: Vec<TxnOp>,
    pub failure: Vec<TxnOp>,
}

/// The result of one [`TxnOp`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOpResponse {
    /// The previous value of the key, if it existed.
    Put {
        prev_kv: Option<KeyValue>,
    },
    Delete {
        deleted: i64,
        prev_kvs: Vec<KeyValue>,
    },
    Get(RangeResponse),
}

/// The answer to a [`Txn`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnResponse {
    /// Whether the compares held (and `success` ran).
    pub succeeded: bool,
    /// The store's revision after the transaction (its own if it wrote).
    pub revision: Revision,
    pub responses: Vec<TxnOpResponse>,
}

/// A watch of one key or a range.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchRequest {
    pub key: String,
    /// `None` watches the single key `key`.
    pub range_end: Option<String>,
    /// First revision to deliver (inclusive); `0` starts after the current one.
    pub start_revision: Revision,
    /// Include the previous value in update and delete events.
    pub prev_kv: bool,
}

impl WatchRequest {
    pub fn key(key: impl Into<String>) -> Self {
        WatchRequest {
            key: key.into(),
            prev_kv: true,
            ..Default::default()
        }
    }

    pub fn prefix(prefix: impl Into<String>) -> Self {
        let key = prefix.into();
        let range_end = Some(prefix_end(&key));
        WatchRequest {
            key,
            range_end,
            prev_kv: true,
            ..Default::default()
        }
    }

    pub fn from_revision(mut self, rev: Revision) -> Self {
        self.start_revision = rev;
        self
    }

    /// Whether `key` lies in the watched key or range.
    pub fn matches(&self, key: &str) -> bool {
        key_in_range(key, &self.key, self.range_end.as_deref())
    }
}

/// Whether `key` is `start` (no `end`) or lies in `[start, end)`; an empty
/// `end` means no upper bound.
pub fn key_in_range(key: &str, start: &str, end: Option<&str>) -> bool {
    match end {
        None => key == start,
        Some("") => key >= start,
        Some(end) => key >= start && key < end,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

/// One change, as etcd's `mvccpb.Event`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// The key after the change; for deletes only the key and the
    /// revision of the delete (`mod_revision`) are set.
    pub kv: KeyValue,
    /// The value before the change, when asked for and the key existed.
    pub prev_kv: Option<KeyValue>,
}

/// The events of a watch, in revision order. The stream ends with an
/// `Err` (such as [`crate::Error::Compacted`]) if the watch cannot go on.
pub type WatchStream = BoxStream<'static, crate::Result<Event>>;
