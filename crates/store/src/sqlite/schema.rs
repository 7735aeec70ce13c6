//! The SQLite schema and the queries both the writer and the readers run.
//!
//! `kv` is the history: one row per change (a put, or a delete's
//! tombstone), in commit order (`id`), each pointing at the key's previous
//! row (`prev_id`) so a watch can hand out the previous value. `live` maps
//! every existing key to its newest row, which makes reads of the present
//! an index lookup. `meta` holds the current and compacted revisions.

use super::watch::Published;
use crate::error::{Error, Result};
use crate::types::{Event, EventKind, KeyValue, RangeRequest, RangeResponse, Revision, Revisions};
use bytes::Bytes;
use rusqlite::{params_from_iter, Connection, OptionalExtension, Row};

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
CREATE INDEX IF NOT EXISTS kv_key_id ON kv(key, id);
CREATE INDEX IF NOT EXISTS kv_rev ON kv(rev);
CREATE TABLE IF NOT EXISTS live (
    key TEXT PRIMARY KEY,
    id INTEGER NOT NULL,
    lease INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS live_lease ON live(lease) WHERE lease != 0;
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

/// Columns every row query selects, in the order [`kv_from_row`] reads them.
const KV_COLUMNS: &str = "k.id, k.rev, k.key, k.create_rev, k.version, k.lease";

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

fn kv_from_row(row: &Row<'_>, with_value: bool) -> rusqlite::Result<Stored> {
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

/// The newest row of a key that exists now.
pub(crate) fn current(conn: &Connection, key: &str) -> rusqlite::Result<Option<Stored>> {
    let sql = format!(
        "SELECT {KV_COLUMNS}, k.value FROM live l JOIN kv k ON k.id = l.id WHERE l.key = ?1"
    );
    conn.prepare_cached(&sql)?
        .query_row([key], |r| kv_from_row(r, true))
        .optional()
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

/// Keys of the live range, for deletes: `(key, row id, lease)`.
pub(crate) fn live_keys(
    conn: &Connection,
    key: &str,
    range_end: Option<&str>,
) -> rusqlite::Result<Vec<Stored>> {
    let (cond, params) = range_condition("l.key", key, range_end);
    let sql = format!(
        "SELECT {KV_COLUMNS}, k.value FROM live l JOIN kv k ON k.id = l.id WHERE {cond} ORDER BY l.key"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(params.iter()), |r| kv_from_row(r, true))?;
    rows.collect()
}

/// Serves a range read inside the caller's (read or write) transaction.
/// `revs` is the snapshot's revisions; checks the requested revision.
pub(crate) fn range(
    conn: &Connection,
    req: &RangeRequest,
    revs: Revisions,
) -> Result<RangeResponse, RangeError> {
    if req.revision > revs.current {
        return Err(RangeError::Future(revs.current));
    }
    if req.revision > 0 && req.revision < revs.compacted {
        return Err(RangeError::Compacted(revs.compacted));
    }
    let historic = req.revision > 0 && req.revision < revs.current;
    let (cond, mut params) = if historic {
        // Each key's newest row at or below the revision, unless a
        // tombstone: walks the (key, id) index in key order, so a page
        // costs its own size, not the range's.
        let (cond, params) = range_condition("k.key", &req.key, req.range_end.as_deref());
        (
            format!(
                "{cond} AND k.rev <= {rev} AND k.deleted = 0 AND NOT EXISTS (SELECT 1 FROM kv n WHERE n.key = k.key AND n.id > k.id AND n.rev <= {rev})",
                rev = req.revision
            ),
            params,
        )
    } else {
        let (cond, params) = range_condition("l.key", &req.key, req.range_end.as_deref());
        (cond, params)
    };
    let from = if historic {
        "kv k"
    } else {
        "live l JOIN kv k ON k.id = l.id"
    };
    let skip_count = req.skip_count && req.limit > 0 && !req.count_only;
    let count: i64 = if !skip_count && (req.count_only || req.limit > 0) {
        let sql = format!("SELECT count(*) FROM {from} WHERE {cond}");
        conn.prepare_cached(&sql)?
            .query_row(params_from_iter(params.iter()), |r| r.get(0))?
    } else {
        -1
    };
    let revision = if req.revision > 0 {
        req.revision
    } else {
        revs.current
    };
    if req.count_only {
        return Ok(RangeResponse {
            kvs: Vec::new(),
            count,
            more: false,
            revision,
        });
    }
    // Order by the column whose index the scan walks, so that a LIMIT
    // stops early instead of sorting the whole range.
    let order = if historic { "k.key" } else { "l.key" };
    let value_col = if req.keys_only { "NULL" } else { "k.value" };
    let mut sql =
        format!("SELECT {KV_COLUMNS}, {value_col} FROM {from} WHERE {cond} ORDER BY {order}");
    if req.limit > 0 {
        sql.push_str(" LIMIT ?");
        // One more than asked, to tell `more` without counting.
        let fetch = if skip_count { req.limit + 1 } else { req.limit };
        params.push(fetch.to_string());
    }
    let mut stmt = conn.prepare_cached(&sql)?;
    let with_value = !req.keys_only;
    let kvs = stmt
        .query_map(params_from_iter(params.iter()), |r| {
            kv_from_row(r, with_value).map(|s| s.kv)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut kvs = kvs;
    if skip_count {
        let more = kvs.len() as i64 > req.limit;
        kvs.truncate(req.limit as usize);
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
        }
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
