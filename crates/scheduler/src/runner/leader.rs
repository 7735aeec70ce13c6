//! Leader election over a coordination.k8s.io Lease, as client-go's
//! `leaderelection` does it, so that several `cuttle scheduler` processes
//! of one name can run and only one schedules.
//!
//! A candidate takes the Lease when nobody holds it or when its holder's
//! record has not changed for `leaseDuration` by the candidate's own clock
//! (client-go's rule: the renew time written by another machine is never
//! compared with local time). Every write carries the resourceVersion it
//! read, so two candidates cannot both win. The leader renews every
//! `retryPeriod`; once it has failed to renew for `renewDeadline` it has
//! lost, and says so: kube-scheduler then exits, and so does `cuttle
//! scheduler`.

use crate::config::LeaderElection;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::Client;
use std::time::Duration;
use tokio::time::Instant;

/// What the candidate last saw of the Lease.
struct Observed {
    /// Holder and renew time: a change of either shows the holder alive.
    record: (Option<String>, Option<MicroTime>),
    /// When (by our clock) the record last changed.
    at: Instant,
}

/// One candidate for one Lease.
pub struct Elector {
    api: Api<Lease>,
    cfg: LeaderElection,
    identity: String,
    observed: Option<Observed>,
}

impl Elector {
    /// A candidate called `identity` (kube-scheduler uses `host_uuid`).
    pub fn new(client: Client, cfg: LeaderElection, identity: String) -> Self {
        Elector {
            api: Api::namespaced(client, &cfg.namespace),
            cfg,
            identity,
            observed: None,
        }
    }

    /// This candidate's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Returns once this candidate holds the Lease.
    pub async fn acquire(&mut self) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    tracing::info!(
                        "leader election: {} acquired lease {}/{}",
                        self.identity,
                        self.cfg.namespace,
                        self.cfg.name
                    );
                    return;
                }
                Ok(false) => {}
                Err(e) => tracing::warn!("leader election: {e}"),
            }
            tokio::time::sleep(self.cfg.retry_period).await;
        }
    }

    /// Renews the Lease every retry period; returns when leadership is
    /// lost (no renewal succeeded for the renew deadline).
    pub async fn keep(&mut self) {
        let mut last_renewal = Instant::now();
        loop {
            tokio::time::sleep(self.cfg.retry_period).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => last_renewal = Instant::now(),
                // A write conflict, or the Lease seen in another's hands:
                // as in client-go, only the renew deadline ends the lead
                // (no other candidate may take it before leaseDuration,
                // which is longer, has passed without a renewal).
                Ok(false) => tracing::warn!(
                    "leader election: lease {}/{} not renewed this round",
                    self.cfg.namespace,
                    self.cfg.name
                ),
                Err(e) => tracing::warn!("leader election: renewing: {e}"),
            }
            if last_renewal.elapsed() >= self.cfg.renew_deadline {
                tracing::error!(
                    "leader election: no renewal of {}/{} for {:?}",
                    self.cfg.namespace,
                    self.cfg.name,
                    self.cfg.renew_deadline
                );
                return;
            }
        }
    }

    /// Gives the Lease up on a clean shutdown (client-go's ReleaseOnCancel,
    /// which kube-scheduler sets), so that a standby takes over at once.
    /// Bounded by the renew deadline, so that a shutdown never hangs on an
    /// unreachable apiserver.
    pub async fn release(&mut self) {
        let deadline = self.cfg.renew_deadline;
        if tokio::time::timeout(deadline, self.give_up())
            .await
            .is_err()
        {
            tracing::warn!("leader election: releasing the lease timed out");
        }
    }

    /// Clears the holder while the Lease is still ours. A conflict means it
    /// changed since it was read (a renewal of ours that was still in
    /// flight when the lead was given up lands late): read it again.
    async fn give_up(&mut self) {
        loop {
            let Ok(Some(mut lease)) = self.api.get_opt(&self.cfg.name).await else {
                return;
            };
            let spec = lease.spec.get_or_insert_with(Default::default);
            if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
                return;
            }
            spec.holder_identity = None;
            spec.lease_duration_seconds = Some(1);
            spec.renew_time = Some(MicroTime(Timestamp::now()));
            match self
                .api
                .replace(&self.cfg.name, &PostParams::default(), &lease)
                .await
            {
                Ok(_) => return,
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    tokio::time::sleep(self.cfg.retry_period).await;
                }
                Err(e) => {
                    tracing::warn!("leader election: releasing the lease: {e}");
                    return;
                }
            }
        }
    }

    /// One round: take or renew the Lease if we may. `Ok(true)` when we
    /// hold it afterwards.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = MicroTime(Timestamp::now());
        let secs = i32::try_from(self.cfg.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let Some(mut lease) = self.api.get_opt(&self.cfg.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.cfg.name.clone()),
                    namespace: Some(self.cfg.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(secs),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.get_or_insert_with(Default::default);
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let record = (holder.clone(), spec.renew_time.clone());
        let changed = self.observed.as_ref().is_none_or(|o| o.record != record);
        if changed {
            self.observed = Some(Observed {
                record,
                at: Instant::now(),
            });
        }
        let ours = holder.as_deref() == Some(self.identity.as_str());
        let held_elsewhere = holder.is_some() && !ours;
        let expired = self.observed.as_ref().is_some_and(|o| {
            o.at.elapsed() >= held_for(spec.lease_duration_seconds, self.cfg.lease_duration)
        });
        if held_elsewhere && !expired {
            return Ok(false);
        }
        if !ours {
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.holder_identity = Some(self.identity.clone());
        spec.lease_duration_seconds = Some(secs);
        spec.renew_time = Some(now);
        // The resourceVersion read above makes this a compare-and-swap.
        match self
            .api
            .replace(&self.cfg.name, &PostParams::default(), &lease)
            .await
        {
            Ok(written) => {
                let spec = written.spec.unwrap_or_default();
                self.observed = Some(Observed {
                    record: (spec.holder_identity, spec.renew_time),
                    at: Instant::now(),
                });
                Ok(true)
            }
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// How long the holder's record must stay unchanged before it counts as
/// gone: the duration the Lease states, else ours.
fn held_for(stated: Option<i32>, ours: Duration) -> Duration {
    stated
        .and_then(|s| u64::try_from(s).ok())
        .filter(|s| *s > 0)
        .map_or(ours, Duration::from_secs)
}

/// kube-scheduler's identity: the host name and a random suffix.
pub fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "cuttle".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{host}_{:08x}{:08x}", std::process::id(), nanos)
}
