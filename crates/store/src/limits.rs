//! Limits on what the store accepts, the same on both backends.

use crate::error::{Error, Result};
use crate::types::{key_in_range, prefix_end, Txn, TxnOp};
use std::collections::HashSet;

/// The largest value the store accepts: 1.5 MiB, etcd's default request
/// limit, which bounds a Kubernetes object's size.
pub const MAX_VALUE_BYTES: usize = 3 * 512 * 1024;

/// The longest key the store accepts.
pub const MAX_KEY_BYTES: usize = 4096;

/// Checks that a key is one the store accepts.
pub fn validate_key(key: &str) -> Result<()> {
    let reason = if key.is_empty() {
        "key must not be empty"
    } else if key.len() > MAX_KEY_BYTES {
        "key is longer than 4096 bytes"
    } else if key.contains('\0') {
        "key must not contain NUL"
    } else {
        return Ok(());
    };
    Err(Error::InvalidKey {
        key: key.chars().take(128).collect(),
        reason,
    })
}

/// Checks that a value is within [`MAX_VALUE_BYTES`].
pub fn validate_value(key: &str, value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(Error::ValueTooLarge {
            key: key.to_owned(),
            size: value.len(),
            limit: MAX_VALUE_BYTES,
        });
    }
    Ok(())
}

/// Checks a range read's key and numbers. Unlike written keys, a range's
/// start may hold NUL: `key + "\0"` is how a paginating client says "the
/// first key after `key`".
pub fn validate_range(req: &crate::types::RangeRequest) -> Result<()> {
    if req.key.is_empty() || req.key.len() > MAX_KEY_BYTES + 1 {
        return validate_key(&req.key);
    }
    if req.limit < 0 {
        return Err(Error::InvalidRequest(format!(
            "limit {} must not be negative",
            req.limit
        )));
    }
    if req.revision < 0 {
        return Err(Error::InvalidRequest(format!(
            "revision {} must not be negative",
            req.revision
        )));
    }
    Ok(())
}

/// Rejects transactions etcd rejects: bad keys, oversized values, and a key
/// written twice in one transaction.
pub fn validate_txn(txn: &Txn) -> Result<()> {
    for cmp in &txn.compares {
        validate_key(&cmp.key)?;
    }
    for ops in [&txn.success, &txn.failure] {
        let mut puts = HashSet::new();
        for op in ops.iter() {
            match op {
                TxnOp::Put { key, value, lease } => {
                    validate_key(key)?;
                    validate_value(key, value)?;
                    if lease.is_some_and(|l| l < 0) {
                        return Err(Error::LeaseNotFound(lease.unwrap_or_default()));
                    }
                    if !puts.insert(key.as_str()) {
                        return Err(Error::InvalidRequest(format!(
                            "duplicate key {key:?} in transaction"
                        )));
                    }
                }
                TxnOp::Delete { key, .. } => validate_key(key)?,
                TxnOp::Get(req) => validate_range(req)?,
            }
        }
        for op in ops.iter() {
            if let TxnOp::Delete { key, prefix } = op {
                let end = prefix.then(|| prefix_end(key));
                if puts.iter().any(|p| key_in_range(p, key, end.as_deref())) {
                    return Err(Error::InvalidRequest(format!(
                        "key {key:?} both written and deleted in transaction"
                    )));
                }
            }
        }
    }
    Ok(())
}
