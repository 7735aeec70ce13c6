//! The etcd backend: the [`Store`] trait over a real etcd v3 cluster through
//! the `etcd-client` crate. etcd already has the data model; this module
//! maps requests, responses and errors one to one, and checks keys and
//! values with the same limits as the embedded store before sending them.

use crate::error::{Error, Result};
use crate::limits::validate_range;
use crate::types::*;
use crate::Store;
use async_trait::async_trait;
use bytes::Bytes;
use etcd_client as ec;
use futures::StreamExt;
use std::time::Duration;

/// The largest gRPC message the client accepts: a range of many large values.
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// A handle on an etcd cluster. Cloning shares the connection.
#[derive(Clone)]
pub struct EtcdStore {
    client: ec::Client,
}

impl EtcdStore {
    /// Connects to the cluster at `endpoints` (`host:port` or
    /// `http://host:port`).
    pub async fn connect(endpoints: &[String]) -> Result<EtcdStore> {
        if endpoints.is_empty() {
            return Err(Error::InvalidRequest("no etcd endpoint given".into()));
        }
        let urls: Vec<String> = endpoints
            .iter()
            .map(|e| {
                if e.contains("://") {
                    e.clone()
                } else {
                    format!("http://{e}")
                }
            })
            .collect();
        let options = ec::ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5));
        let client = ec::Client::connect(urls, Some(options)).await?;
        Ok(EtcdStore { client })
    }

    fn kv(&self) -> ec::KvClient {
        self.client
            .kv_client()
            .max_decoding_message_size(MAX_MESSAGE)
    }
}

/// Maps etcd's gRPC errors to the store's typed ones where they have one.
fn map_err(err: ec::Error, requested: Revision) -> Error {
    if let ec::Error::GRpcStatus(status) = &err {
        let msg = status.message();
        if msg.contains("required revision has been compacted") {
            return Error::Compacted {
                requested,
                compacted: requested + 1,
            };
        }
        if msg.contains("required revision is a future revision") {
            return Error::FutureRevision {
                requested,
                current: requested - 1,
            };
        }
        if msg.contains("requested lease not found") {
            return Error::LeaseNotFound(0);
        }
        if msg.contains("duplicate key given in txn request") {
            return Error::InvalidRequest(msg.to_owned());
        }
    }
    Error::Etcd(err)
}

fn key_value(kv: &ec::KeyValue) -> Result<KeyValue> {
    let key = kv
        .key_str()
        .map_err(|_| Error::InvalidRequest("etcd returned a key that is not UTF-8".into()))?;
    Ok(KeyValue {
        key: key.to_owned(),
        value: Bytes::copy_from_slice(kv.value()),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
        version: kv.version(),
        lease: kv.lease(),
    })
}

fn header_revision(header: Option<&ec::ResponseHeader>) -> Revision {
    header.map_or(0, |h| h.revision())
}

fn get_options(req: &RangeRequest) -> ec::GetOptions {
    let mut opts = ec::GetOptions::new();
    match req.range_end.as_deref() {
        None => {}
        Some("") => opts = opts.with_from_key(),
        Some(end) => opts = opts.with_range(end),
    }
    if req.limit > 0 {
        opts = opts.with_limit(req.limit);
    }
    if req.revision > 0 {
        opts = opts.with_revision(req.revision);
    }
    if req.keys_only {
        opts = opts.with_keys_only();
    }
    if req.count_only {
        opts = opts.with_count_only();
    }
    opts
}

fn range_response(resp: &ec::GetResponse, req: &RangeRequest) -> Result<RangeResponse> {
    let kvs = resp
        .kvs()
        .iter()
        .map(key_value)
        .collect::<Result<Vec<_>>>()?;
    let revision = if req.revision > 0 {
        req.revision
    } else {
        header_revision(resp.header())
    };
    Ok(RangeResponse {
        kvs,
        count: resp.count(),
        more: resp.more(),
        revision,
    })
}

fn compare(c: &Compare) -> ec::Compare {
    let op = match c.op {
        CompareOp::Equal => ec::CompareOp::Equal,
        CompareOp::NotEqual => ec::CompareOp::NotEqual,
        CompareOp::Less => ec::CompareOp::Less,
        CompareOp::Greater => ec::CompareOp::Greater,
    };
    let key = c.key.as_bytes().to_vec();
    match &c.target {
        CompareTarget::ModRevision(r) => ec::Compare::mod_revision(key, op, *r),
        CompareTarget::CreateRevision(r) => ec::Compare::create_revision(key, op, *r),
        CompareTarget::Version(v) => ec::Compare::version(key, op, *v),
        CompareTarget::Value(v) => ec::Compare::value(key, op, v.clone()),
        CompareTarget::Lease(l) => ec::Compare::lease(key, op, *l),
    }
}

fn txn_op(op: &TxnOp) -> ec::TxnOp {
    match op {
        TxnOp::Put { key, value, lease } => {
            let mut opts = ec::PutOptions::new().with_prev_key();
            if let Some(lease) = lease {
                opts = opts.with_lease(*lease);
            }
            ec::TxnOp::put(key.as_bytes(), value.clone(), Some(opts))
        }
        TxnOp::Delete { key, prefix } => {
            let mut opts = ec::DeleteOptions::new().with_prev_key();
            if *prefix {
                opts = opts.with_prefix();
            }
            ec::TxnOp::delete(key.as_bytes(), Some(opts))
        }
        TxnOp::Get(req) => ec::TxnOp::get(req.key.as_bytes(), Some(get_options(req))),
    }
}

fn txn_op_response(resp: ec::TxnOpResponse, ops: &[TxnOp]) -> Result<TxnOpResponse> {
    Ok(match resp {
        ec::TxnOpResponse::Put(p) => TxnOpResponse::Put {
            prev_kv: p.prev_key().map(key_value).transpose()?,
        },
        ec::TxnOpResponse::Delete(d) => TxnOpResponse::Delete {
            deleted: d.deleted(),
            prev_kvs: d.prev_kvs().iter().map(key_value).collect::<Result<_>>()?,
        },
        ec::TxnOpResponse::Get(g) => {
            let req = ops
                .iter()
                .find_map(|op| match op {
                    TxnOp::Get(r) => Some(r.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            TxnOpResponse::Get(range_response(&g, &req)?)
        }
        ec::TxnOpResponse::Txn(_) => {
            return Err(Error::InvalidRequest(
                "nested transactions are not supported".into(),
            ))
        }
    })
}

fn event(e: &ec::Event) -> Result<Event> {
    let kind = match e.event_type() {
        ec::EventType::Put => EventKind::Put,
        ec::EventType::Delete => EventKind::Delete,
    };
    let kv = e
        .kv()
        .map(key_value)
        .transpose()?
        .ok_or_else(|| Error::InvalidRequest("etcd sent an event without a key".into()))?;
    Ok(Event {
        kind,
        kv,
        prev_kv: e.prev_kv().map(key_value).transpose()?,
    })
}

#[async_trait]
impl Store for EtcdStore {
    async fn range(&self, req: RangeRequest) -> Result<RangeResponse> {
        validate_range(&req)?;
        let resp = self
            .kv()
            .get(req.key.as_bytes(), Some(get_options(&req)))
            .await;
        match resp {
            Ok(resp) => range_response(&resp, &req),
            Err(e) => Err(self.with_compacted(map_err(e, req.revision)).await),
        }
    }

    async fn txn(&self, txn: Txn) -> Result<TxnResponse> {
        crate::limits::validate_txn(&txn)?;
        let request = ec::Txn::new()
            .when(txn.compares.iter().map(compare).collect::<Vec<_>>())
            .and_then(txn.success.iter().map(txn_op).collect::<Vec<_>>())
            .or_else(txn.failure.iter().map(txn_op).collect::<Vec<_>>());
        let resp = match self.kv().txn(request).await {
            Ok(resp) => resp,
            Err(e) => {
                return Err(match map_err(e, 0) {
                    Error::LeaseNotFound(_) => Error::LeaseNotFound(first_lease(&txn)),
                    other => self.with_compacted(other).await,
                })
            }
        };
        let succeeded = resp.succeeded();
        let ops = if succeeded {
            &txn.success
        } else {
            &txn.failure
        };
        let responses = resp
            .op_responses()
            .into_iter()
            .zip(ops.iter())
            .map(|(r, op)| txn_op_response(r, std::slice::from_ref(op)))
            .collect::<Result<Vec<_>>>()?;
        let revision = header_revision(resp.header());
        Ok(TxnResponse {
            succeeded,
            revision,
            responses,
        })
    }

    async fn watch(&self, req: WatchRequest) -> Result<WatchStream> {
        crate::limits::validate_key(&req.key)?;
        if req.start_revision < 0 {
            return Err(Error::InvalidRequest(format!(
                "start revision {} must not be negative",
                req.start_revision
            )));
        }
        let mut opts = ec::WatchOptions::new();
        match req.range_end.as_deref() {
            None => {}
            Some("") => opts = opts.with_from_key(),
            Some(end) => opts = opts.with_range(end),
        }
        // "From now" is made explicit: etcd-client returns before etcd has
        // created the watch, so writes right after this call could be missed.
        let start = if req.start_revision > 0 {
            req.start_revision
        } else {
            self.current_revision().await? + 1
        };
        opts = opts.with_start_revision(start);
        if req.prev_kv {
            opts = opts.with_prev_key();
        }
        let stream = self
            .client
            .watch_client()
            .max_decoding_message_size(MAX_MESSAGE)
            .watch(req.key.as_bytes(), Some(opts))
            .await?;
        let requested = req.start_revision;
        // The request half must live as long as the stream, or etcd ends it.
        let events = futures::stream::unfold(Some(stream), move |state| async move {
            let mut stream = state?;
            loop {
                match stream.message().await {
                    Ok(Some(resp)) => {
                        if resp.compact_revision() > 0 {
                            let err = Error::Compacted {
                                requested,
                                compacted: resp.compact_revision(),
                            };
                            return Some((vec![Err(err)], None));
                        }
                        if resp.canceled() {
                            let err = Error::InvalidRequest(format!(
                                "etcd canceled the watch: {}",
                                resp.cancel_reason()
                            ));
                            return Some((vec![Err(err)], None));
                        }
                        let batch: Vec<Result<Event>> = resp.events().iter().map(event).collect();
                        if !batch.is_empty() {
                            return Some((batch, Some(stream)));
                        }
                    }
                    Ok(None) => return None,
                    Err(e) => return Some((vec![Err(Error::Etcd(e))], None)),
                }
            }
        })
        .flat_map(futures::stream::iter);
        Ok(Box::pin(events))
    }

    async fn lease_grant(&self, ttl_seconds: i64) -> Result<LeaseId> {
        if ttl_seconds < 1 {
            return Err(Error::InvalidTtl(ttl_seconds));
        }
        let resp = self
            .client
            .lease_client()
            .grant(ttl_seconds, None)
            .await
            .map_err(|e| map_err(e, 0))?;
        Ok(resp.id())
    }

    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<i64> {
        let (mut keeper, mut responses) = self
            .client
            .lease_client()
            .keep_alive(lease)
            .await
            .map_err(|e| lease_err(e, lease))?;
        keeper.keep_alive().await.map_err(|e| lease_err(e, lease))?;
        match responses.message().await.map_err(|e| lease_err(e, lease))? {
            Some(resp) if resp.ttl() > 0 => Ok(resp.ttl()),
            _ => Err(Error::LeaseNotFound(lease)),
        }
    }

    async fn lease_revoke(&self, lease: LeaseId) -> Result<()> {
        self.client
            .lease_client()
            .revoke(lease)
            .await
            .map_err(|e| lease_err(e, lease))?;
        Ok(())
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let current = self.revisions().await?;
        if revision > current.current {
            return Err(Error::FutureRevision {
                requested: revision,
                current: current.current,
            });
        }
        if revision <= current.compacted {
            return Err(Error::Compacted {
                requested: revision,
                compacted: current.compacted,
            });
        }
        self.kv()
            .compact(revision, Some(ec::CompactionOptions::new().with_physical()))
            .await
            .map_err(|e| map_err(e, revision))?;
        Ok(())
    }

    async fn revisions(&self) -> Result<Revisions> {
        let current = self.current_revision().await?;
        Ok(Revisions {
            current,
            compacted: self.compacted_revision(current).await?,
        })
    }
}

impl EtcdStore {
    /// etcd has no call that reports its compacted revision, but refuses a
    /// read below it: find it by bisection over reads of a missing key
    /// (about log2(current) tiny reads).
    async fn compacted_revision(&self, current: Revision) -> Result<Revision> {
        let readable = |rev: Revision| async move {
            let opts = ec::GetOptions::new().with_count_only().with_revision(rev);
            match self.kv().get("\0", Some(opts)).await {
                Ok(_) => Ok(true),
                Err(e) => match map_err(e, rev) {
                    Error::Compacted { .. } => Ok(false),
                    other => Err(other),
                },
            }
        };
        if current <= 1 || readable(1).await? {
            return Ok(0);
        }
        // Invariant: `lo` is compacted away, `hi` is readable.
        let (mut lo, mut hi) = (1, current);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if readable(mid).await? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    }

    /// Fills in the real compacted revision of a compaction error.
    async fn with_compacted(&self, err: Error) -> Error {
        match err {
            Error::Compacted { requested, .. } => {
                let current = match self.current_revision().await {
                    Ok(c) => c,
                    Err(e) => return e,
                };
                match self.compacted_revision(current).await {
                    Ok(compacted) => Error::Compacted {
                        requested,
                        compacted,
                    },
                    Err(e) => e,
                }
            }
            Error::FutureRevision { requested, .. } => match self.current_revision().await {
                Ok(current) => Error::FutureRevision { requested, current },
                Err(e) => e,
            },
            other => other,
        }
    }

    async fn current_revision(&self) -> Result<Revision> {
        let resp = self
            .kv()
            .get("\0", Some(ec::GetOptions::new().with_count_only()))
            .await
            .map_err(|e| map_err(e, 0))?;
        Ok(header_revision(resp.header()))
    }
}

fn lease_err(err: ec::Error, lease: LeaseId) -> Error {
    if let ec::Error::LeaseKeepAliveError(msg) = &err {
        if msg.contains("not found") {
            return Error::LeaseNotFound(lease);
        }
    }
    match map_err(err, 0) {
        Error::LeaseNotFound(_) => Error::LeaseNotFound(lease),
        other => other,
    }
}

/// The lease a transaction's puts name, for a lease-not-found error.
fn first_lease(txn: &Txn) -> LeaseId {
    txn.success
        .iter()
        .chain(txn.failure.iter())
        .find_map(|op| match op {
            TxnOp::Put { lease, .. } => *lease,
            _ => None,
        })
        .unwrap_or(0)
}
