//! Objects the server itself keeps in the store at startup (the built-in
//! namespaces, system PriorityClasses, default RBAC objects, the client CA
//! ConfigMap): created when missing, amended in place when not.

use super::meta;
use cuttle_store::{Error as StoreError, Store};
use serde_json::{json, Value};

/// Creates `obj` at `key` unless something is stored there, stamped with a
/// uid and creation time as a create through the API is. True when it
/// created it.
pub async fn create_missing(store: &dyn Store, key: &str, obj: &Value) -> Result<bool, StoreError> {
    let mut obj = obj.clone();
    let m = meta::meta_mut(&mut obj);
    m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    m.insert("creationTimestamp".into(), json!(meta::now()));
    let bytes = serde_json::to_vec(&obj).unwrap_or_default();
    match store.create(key, bytes, None).await {
        Ok(_) => Ok(true),
        Err(StoreError::AlreadyExists { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Lets `amend` change the object stored at `key` and writes it back when
/// it changed and nobody wrote it in between (theirs then stands: the next
/// start looks again). Nothing stored, or no JSON object, is left alone.
pub async fn amend(
    store: &dyn Store,
    key: &str,
    amend: impl FnOnce(&mut Value),
) -> Result<(), StoreError> {
    let (Some(kv), _) = store.get(key).await? else {
        return Ok(());
    };
    let Ok(mut obj) = serde_json::from_slice::<Value>(&kv.value) else {
        return Ok(());
    };
    if !obj.is_object() {
        return Ok(());
    }
    let before = obj.clone();
    amend(&mut obj);
    if obj == before {
        return Ok(());
    }
    let bytes = serde_json::to_vec(&obj).unwrap_or_default();
    match store.update(key, bytes, kv.mod_revision, None).await {
        Ok(_) | Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Sets `value` at `path` in `obj`, making the objects on the way. Where a
/// step holds something other than an object or null (data written to the
/// store by hand), `obj` is left as it is: indexing would panic.
pub fn set_at(obj: &mut Value, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = obj;
    for step in parents {
        let Some(map) = object_at(at) else {
            return;
        };
        at = map.entry(*step).or_insert(Value::Null);
    }
    if let Some(map) = object_at(at) {
        map.insert((*last).to_owned(), value);
    }
}

/// The object `value` is, made one when it is null.
fn object_at(value: &mut Value) -> Option<&mut serde_json::Map<String, Value>> {
    if value.is_null() {
        *value = json!({});
    }
    value.as_object_mut()
}

/// The stored object at `key`, for tests.
#[cfg(test)]
pub async fn read(store: &dyn Store, key: &str) -> (Value, cuttle_store::Revision) {
    let kv = store.get(key).await.unwrap().0.unwrap();
    (serde_json::from_slice(&kv.value).unwrap(), kv.mod_revision)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_at_makes_the_objects_on_the_way_and_leaves_odd_data_alone() {
        let mut obj = json!({"metadata": {"name": "x"}});
        set_at(&mut obj, &["metadata", "labels", "a"], json!("b"));
        assert_eq!(
            obj,
            json!({"metadata": {"name": "x", "labels": {"a": "b"}}})
        );
        let mut null = Value::Null;
        set_at(&mut null, &["data", "k"], json!(1));
        assert_eq!(null, json!({"data": {"k": 1}}));
        let mut odd = json!({"metadata": {"labels": "not an object"}});
        let before = odd.clone();
        set_at(&mut odd, &["metadata", "labels", "a"], json!("b"));
        assert_eq!(odd, before);
        set_at(&mut odd, &[], json!("b"));
        assert_eq!(odd, before);
    }
}
