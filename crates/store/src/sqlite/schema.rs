//! The SQLite schema and the queries both the writer and the readers run.
//!
//! `kv` is the history: one row per change (a put, or a delete's
//! tombstone), in commit order (`id`), each pointing at the key's previous
//! row (`prev_id`) so a watch can hand out the previous value. Which row
//! holds a key's value at a revision is the in-memory [`KeyIndex`]'s to
//! say; `kv` is only appended to and read by id. `meta` holds the current
//! and compacted revisions.

use super::index::{KeyIndex, KeyRange, Row};
use super::watch::Published;
use crate::error::{Error, Result};
use crate::types::{Event, EventKind, KeyValue, RangeRequest, RangeResponse, Revision, Revisions};
use bytes::Bytes;
use rusqlite::{params_from_iter, Connection};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv (
    id INTEGER PRIMARY KEY,
    rev INTEGER NOT NULL,
    key TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    create_rev INTEGER NOT NULL,
    version INTEGER NOT NULL,
    lease INTEGER NOT NULL,
    value BLOB NOT NULL,
    prev_id INTEGER
);
CREATE INDEX IF NOT EXISTS kv_rev ON kv(rev);
-- Kept by earlier versions, now in memory (see index.rs).
DROP INDEX IF EXISTS kv_key_id;
DROP TABLE IF EXISTS live;
CREATE TABLE IF NOT EXISTS lease (
    id INTEGER PRIMARY KEY,
    ttl INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (name, value) VALUES ('rev', 1), ('compacted', 0), ('lease_seq', 0);
";

/// Wraps a rusqlite error with the database path.
pub(crate) fn sql_err(path: &str) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |source| Error::Sqlite {
        path: path.to_owned(),
        source,
    }
}

/// Opens a connection with the pragmas every connection needs: WAL, and
/// `synchronous=FULL` so that a commit is on disk before it is acknowledged.
pub(crate) fn open_connection(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // 2 MiB of page cache per connection (17 of them at most): the OS page
    // cache holds the rest, and the apiserver keeps objects in memory anyway.
    conn.pragma_update(None, "cache_size", -2_000)?;
    // Without the planner's stability guarantee SQLite re-prepares the
    // key lookups on every new binding (measured: half the CPU of gets).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(conn)
}

/// Copies what it can of the WAL into the database file without waiting
/// for anyone (PASSIVE); returns how many frames the WAL holds.
pub(crate) fn checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("PRAGMA wal_checkpoint(PASSIVE)")?
        .query_row([], |r| r.get(1))
}

pub(crate) fn read_meta(conn: &Connection, name: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT value FROM meta WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
}

pub(crate) fn write_meta(conn: &Connection, name: &str, value: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE meta SET value = ?2 WHERE name = ?1",
        rusqlite::params![name, value],
    )?;
    Ok(())
}

pub(crate) fn read_revisions(conn: &Connection) -> rusqlite::Result<Revisions> {
    Ok(Revisions {
        current: read_meta(conn, "rev")?,
        compacted: read_meta(conn, "compacted")?,
    })
}

/// A row of `kv` as read: its id and the key-value it holds.
pub(crate) struct Stored {
    pub id: i64,
    pub kv: KeyValue,
}

fn kv_from_row(row: &rusqlite::Row<'_>, with_value: bool) -> rusqlite::Result<Stored> {
    let value: Bytes = if with_value {
        Bytes::from(row.get::<_, Vec<u8>>(6)?)
    } else {
        Bytes::new()
    };
    Ok(Stored {
        id: row.get(0)?,
        kv: KeyValue {
            mod_revision: row.get(1)?,
            key: row.get(2)?,
            create_revision: row.get(3)?,
            version: row.get(4)?,
            lease: row.get(5)?,
            value,
        },
    })
}

/// Reads row `id` of `kv`, with its value or without.
fn row_by_id(conn: &Connection, id: i64, with_value: bool) -> rusqlite::Result<Stored> {
    let sql = if with_value {
        "SELECT k.id, k.rev, k.key, k.create_rev, k.version, k.lease, k.value FROM kv k WHERE k.id = ?1"
    } else {
        "SELECT k.id, k.rev, k.key, k.create_rev, k.version, k.lease, NULL FROM kv k WHERE k.id = ?1"
    };
    conn.prepare_cached(sql)?
        .query_row([id], |r| kv_from_row(r, with_value))
}

/// Builds the key index from `kv` (at open).
pub(crate) fn load_index(conn: &Connection) -> rusqlite::Result<KeyIndex> {
    let mut index = KeyIndex::default();
    let mut stmt = conn.prepare("SELECT id, rev, key, deleted, lease FROM kv ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let key: String = r.get(2)?;
        index.push(
            &key,
            Row {
                id: r.get(0)?,
                rev: r.get(1)?,
                deleted: r.get(3)?,
                lease: r.get(4)?,
            },
        );
    }
    Ok(index)
}

/// The newest row of a key that exists now.
pub(crate) fn current(
    conn: &Connection,
    index: &RwLock<KeyIndex>,
    key: &str,
) -> rusqlite::Result<Option<Stored>> {
    let row = read(index).current(key);
    row.map(|r| row_by_id(conn, r.id, true)).transpose()
}

/// The live keys of a range, with their values, for deletes.
pub(crate) fn live_keys(
    conn: &Connection,
    index: &RwLock<KeyIndex>,
    key: &str,
    range_end: Option<&str>,
) -> rusqlite::Result<Vec<Stored>> {
    let range = KeyRange {
        key,
        end: range_end,
    };
    let rows = read(index).visible(&range, Revision::MAX, usize::MAX);
    rows.iter().map(|r| row_by_id(conn, r.id, true)).collect()
}

/// The index, read; a writer that panicked left it as consistent as
/// between two of its steps.
pub(crate) fn read(index: &RwLock<KeyIndex>) -> RwLockReadGuard<'_, KeyIndex> {
    index.read().unwrap_or_else(|e| e.into_inner())
}

/// The index, for a change.
pub(crate) fn write(index: &RwLock<KeyIndex>) -> RwLockWriteGuard<'_, KeyIndex> {
    index.write().unwrap_or_else(|e| e.into_inner())
}

/// Serves a range read inside the caller's (read or write) transaction.
/// `revs` is the snapshot's revisions; checks the requested revision.
pub(crate) fn range(
    conn: &Connection,
    index: &RwLock<KeyIndex>,
    req: &RangeRequest,
    revs: Revisions,
) -> Result<RangeResponse, RangeError> {
    if req.revision > revs.current {
        return Err(RangeError::Future(revs.current));
    }
    let revision = if req.revision > 0 {
        req.revision
    } else {
        revs.current
    };
    let range = KeyRange {
        key: &req.key,
        end: req.range_end.as_deref(),
    };
    let skip_count = req.skip_count && req.limit > 0 && !req.count_only;
    let limit = if req.limit > 0 {
        usize::try_from(req.limit).unwrap_or(usize::MAX)
    } else {
        usize::MAX
    };
    let (rows, count) = {
        let index = read(index);
        // Compaction may have taken from the index rows that this snapshot,
        // older than it, still reads: the caller takes a newer snapshot.
        let compacted = revs.compacted.max(index.compacted());
        if revision < index.compacted() && req.revision == 0 {
            return Err(RangeError::Stale(index.compacted()));
        }
        if req.revision > 0 && req.revision < compacted {
            return Err(RangeError::Compacted(compacted));
        }
        let count = if !skip_count && (req.count_only || req.limit > 0) {
            index.count(&range, revision) as i64
        } else {
            -1
        };
        let fetch = match (req.count_only, skip_count) {
            (true, _) => 0,
            // One more than asked, to tell `more` without counting.
            (false, true) => limit.saturating_add(1),
            (false, false) => limit,
        };
        (index.visible(&range, revision, fetch), count)
    };
    if req.count_only {
        return Ok(RangeResponse {
            kvs: Vec::new(),
            count,
            more: false,
            revision,
        });
    }
    let with_value = !req.keys_only;
    let mut kvs = rows
        .iter()
        .map(|r| row_by_id(conn, r.id, with_value).map(|s| s.kv))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if skip_count {
        let more = kvs.len() > limit;
        kvs.truncate(limit);
        return Ok(RangeResponse {
            count: kvs.len() as i64 + i64::from(more),
            more,
            kvs,
            revision,
        });
    }
    let count = if count < 0 { kvs.len() as i64 } else { count };
    Ok(RangeResponse {
        more: (kvs.len() as i64) < count,
        count,
        kvs,
        revision,
    })
}

/// Why a range read failed, before the database path is known.
pub(crate) enum RangeError {
    Sql(rusqlite::Error),
    Future(Revision),
    Compacted(Revision),
    /// The snapshot is older than the compaction (to this revision) the
    /// index has seen.
    Stale(Revision),
}

impl From<rusqlite::Error> for RangeError {
    fn from(e: rusqlite::Error) -> Self {
        RangeError::Sql(e)
    }
}

impl RangeError {
    pub(crate) fn into_error(self, path: &str, requested: Revision) -> Error {
        match self {
            RangeError::Sql(source) => Error::Sqlite {
                path: path.to_owned(),
                source,
            },
            RangeError::Future(current) => Error::FutureRevision { requested, current },
            RangeError::Compacted(compacted) => Error::Compacted {
                requested,
                compacted,
            },
            // Readers retry with a new snapshot; one that keeps losing the
            // race is told what it raced with.
            RangeError::Stale(compacted) => Error::Compacted {
                requested,
                compacted,
            },
        }
    }
}

/// The SQL condition and parameters selecting `column` in a request's range.
fn range_condition(column: &str, key: &str, range_end: Option<&str>) -> (String, Vec<String>) {
    match range_end {
        None => (format!("{column} = ?"), vec![key.to_owned()]),
        Some("") => (format!("{column} >= ?"), vec![key.to_owned()]),
        Some(end) => (
            format!("{column} >= ? AND {column} < ?"),
            vec![key.to_owned(), end.to_owned()],
        ),
    }
}

/// Changes in `[from_rev, to_rev]` after row `after_id`, in commit order, at
/// most `limit` of them, for watches catching up.
pub(crate) fn events(
    conn: &Connection,
    req: &crate::types::WatchRequest,
    after_id: i64,
    from_rev: Revision,
    to_rev: Revision,
    limit: usize,
) -> rusqlite::Result<Vec<Published>> {
    let prev_kv = req.prev_kv;
    let (cond, keys) = range_condition("k.key", &req.key, req.range_end.as_deref());
    let sql = format!(
        "SELECT k.id, k.rev, k.key, k.create_rev, k.version, k.lease, k.value, k.deleted,
                p.id, p.rev, p.key, p.create_rev, p.version, p.lease, p.value
         FROM kv k LEFT JOIN kv p ON p.id = k.prev_id
         WHERE k.rev >= ? AND k.rev <= ? AND k.id > ? AND {cond}
         ORDER BY k.id LIMIT ?"
    );
    let mut params: Vec<rusqlite::types::Value> =
        vec![from_rev.into(), to_rev.into(), after_id.into()];
    params.extend(keys.into_iter().map(rusqlite::types::Value::from));
    params.push((limit as i64).into());
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(params), |r| {
        let stored = kv_from_row(r, true)?;
        let deleted: bool = r.get(7)?;
        let prev = if prev_kv && r.get::<_, Option<i64>>(8)?.is_some() {
            Some(KeyValue {
                mod_revision: r.get(9)?,
                key: r.get(10)?,
                create_revision: r.get(11)?,
                version: r.get(12)?,
                lease: r.get(13)?,
                value: Bytes::from(r.get::<_, Vec<u8>>(14)?),
            })
        } else {
            None
        };
        Ok(Published {
            id: stored.id,
            event: event_from(stored.kv, deleted, prev),
        })
    })?;
    rows.collect()
}

/// Builds the event for a stored row: a tombstone becomes a delete event
/// whose key-value carries only the key and the delete's revision.
pub(crate) fn event_from(kv: KeyValue, deleted: bool, prev_kv: Option<KeyValue>) -> Event {
    if deleted {
        Event {
            kind: EventKind::Delete,
            kv: KeyValue {
                key: kv.key,
                value: Bytes::new(),
                create_revision: 0,
                mod_revision: kv.mod_revision,
                version: 0,
                lease: 0,
            },
            prev_kv,
        }
    } else {
        Event {
            kind: EventKind::Put,
            kv,
            prev_kv,
        }
    }
}
