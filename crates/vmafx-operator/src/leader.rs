//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics and timings so
//! a mixed fleet behaves as operators expect: a 15 s lease, renewed every 2 s, given up when it
//! cannot be renewed for 10 s.
//!
//! Expiry is judged by when *this* process last saw the Lease change, never by comparing the
//! holder's timestamps with the local clock, so clock skew between replicas cannot cause two
//! leaders. Every write carries the observed `resourceVersion`, so two candidates racing for an
//! expired Lease cannot both win.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::Client;
use tokio_util::sync::CancellationToken;

/// Lease timings, client-go's defaults unless a test shortens them.
#[derive(Clone, Copy, Debug)]
pub struct Timings {
    /// How long a lease lasts without renewal.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up.
    pub renew_deadline: Duration,
    /// Time between attempts to acquire or renew.
    pub retry_period: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// Why leadership ended.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The lease could not be renewed within the renew deadline; another replica may lead now.
    #[error("failed to renew lease {namespace}/{name} within {deadline:?}: leadership lost")]
    Lost {
        /// Namespace of the Lease.
        namespace: String,
        /// Name of the Lease.
        name: String,
        /// The renew deadline that passed.
        deadline: Duration,
    },
}

/// One candidate for the leadership of one Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    namespace: String,
    name: String,
    identity: String,
    timings: Timings,
    observed: Option<Observed>,
}

/// The Lease as this process last saw it, and when it last saw it change.
struct Observed {
    holder: Option<String>,
    renew_time: Option<MicroTime>,
    resource_version: Option<String>,
    changed_at: Instant,
}

enum Attempt {
    /// This process holds the lease now.
    Held,
    /// Another live holder has it.
    Taken,
}

impl LeaderElector {
    /// A candidate for Lease `namespace/name` under `identity` (unique per process).
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        timings: Timings,
    ) -> Self {
        LeaderElector {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            identity: identity.to_owned(),
            timings,
            observed: None,
        }
    }

    /// The identity this candidate writes into the Lease.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Waits until this process holds the lease. Returns false if `shutdown` fired first.
    pub async fn acquire(&mut self, shutdown: &CancellationToken) -> bool {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(Attempt::Held) => return true,
                Ok(Attempt::Taken) => {}
                Err(error) => tracing::debug!("failed to acquire lease {}: {error}", self.name),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return false,
                _ = tokio::time::sleep(self.timings.retry_period) => {}
            }
        }
    }

    /// Renews the lease until `shutdown` fires (then releases it and returns `Ok`) or until it
    /// cannot be renewed within the renew deadline (then returns the loss).
    pub async fn hold(&mut self, shutdown: &CancellationToken) -> Result<(), LeaderError> {
        let mut last_renewed = Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    self.release().await;
                    return Ok(());
                }
                _ = tokio::time::sleep(self.timings.retry_period) => {}
            }
            match tokio::time::timeout(self.timings.renew_deadline, self.try_acquire_or_renew())
                .await
            {
                Ok(Ok(Attempt::Held)) => last_renewed = Instant::now(),
                Ok(Ok(Attempt::Taken)) => return Err(self.lost()),
                Ok(Err(error)) => tracing::warn!("failed to renew lease {}: {error}", self.name),
                Err(_) => tracing::warn!("failed to renew lease {}: timed out", self.name),
            }
            if last_renewed.elapsed() >= self.timings.renew_deadline {
                return Err(self.lost());
            }
        }
    }

    fn lost(&self) -> LeaderError {
        LeaderError::Lost {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            deadline: self.timings.renew_deadline,
        }
    }

    /// Gives the lease up so another replica can take over at once instead of after it expires.
    pub async fn release(&mut self) {
        let Ok(mut lease) = self.api.get(&self.name).await else {
            return;
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        if let Err(error) = self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            tracing::debug!("failed to release lease {}: {error}", self.name);
        }
    }

    async fn try_acquire_or_renew(&mut self) -> Result<Attempt, kube::Error> {
        let now = MicroTime(Timestamp::now());
        let lease_seconds = i32::try_from(self.timings.lease_duration.as_secs()).unwrap_or(15);
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    namespace: Some(self.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(lease_seconds),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(created) => {
                    self.observe(&created);
                    Ok(Attempt::Held)
                }
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::Taken),
                Err(error) => Err(error),
            };
        };
        self.observe(&lease);
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let held_by_me = holder.as_deref() == Some(self.identity.as_str());
        if !held_by_me && holder.is_some() {
            let lease_duration = spec
                .lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .map(Duration::from_secs)
                .unwrap_or(self.timings.lease_duration);
            let unchanged_for = self
                .observed
                .as_ref()
                .map(|o| o.changed_at.elapsed())
                .unwrap_or_default();
            if unchanged_for < lease_duration {
                return Ok(Attempt::Taken);
            }
        }
        if !held_by_me {
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.holder_identity = Some(self.identity.clone());
        spec.lease_duration_seconds = Some(lease_seconds);
        spec.renew_time = Some(now);
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(updated) => {
                self.observe(&updated);
                Ok(Attempt::Held)
            }
            // Someone else wrote first: re-read next time round.
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::Taken),
            Err(error) => Err(error),
        }
    }

    fn observe(&mut self, lease: &Lease) {
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.filter(|h| !h.is_empty());
        let renew_time = spec.renew_time;
        let resource_version = lease.metadata.resource_version.clone();
        let same = self.observed.as_ref().is_some_and(|o| {
            o.holder == holder
                && o.renew_time == renew_time
                && o.resource_version == resource_version
        });
        if !same {
            self.observed = Some(Observed {
                holder,
                renew_time,
                resource_version,
                changed_at: Instant::now(),
            });
        }
    }
}
