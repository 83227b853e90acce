//! Runs one kube-runtime controller with what every reconciler shares: a watch that feeds the
//! work-queue depth metric, reconcile counts and latency, a uniform retry policy, and graceful
//! shutdown.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, Lookup};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::context::Context;
use crate::metrics::ReconcileResult;

/// How long a failed reconcile waits before it is retried.
pub const ERROR_RETRY: Duration = Duration::from_secs(5);

/// What a reconciled resource is: a statically typed Kubernetes object a reflector can store.
pub trait Reconciled:
    Resource<DynamicType = ()>
    + Lookup<DynamicType = ()>
    + Clone
    + DeserializeOwned
    + Debug
    + Send
    + Sync
    + 'static
{
}

impl Reconciled for crate::crd::VmafxJob {}
impl Reconciled for crate::crd::VmafxNode {}
impl Reconciled for crate::crd::VmafxModelTraining {}

/// A controller for `K` whose watch events count towards `workqueue_depth{controller=name}`.
///
/// Add `.owns(…)` or `.watches(…)` before handing it to [`run`].
pub fn watched<K: Reconciled>(
    api: Api<K>,
    ctx: &Arc<Context>,
    name: &'static str,
) -> Controller<K> {
    let (reader, writer) = reflector::store();
    let metrics = ctx.metrics.clone();
    metrics.register_controller(name);
    let trigger = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .inspect_ok(move |obj: &K| metrics.enqueued(name, object_key(obj)));
    Controller::for_stream(trigger, reader)
}

/// Runs `controller` until `shutdown` fires, calling `reconcile` for each object.
///
/// A reconcile error is logged and retried after [`ERROR_RETRY`]; its message is what the
/// reconciler's error type displays, which should read "failed to …".
pub async fn run<K, F, Fut, E>(
    name: &'static str,
    controller: Controller<K>,
    ctx: Arc<Context>,
    reconcile: F,
    shutdown: CancellationToken,
) where
    K: Reconciled,
    F: Fn(Arc<K>, Arc<Context>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    let reconcile = Arc::new(reconcile);
    let instrumented = move |obj: Arc<K>, ctx: Arc<Context>| {
        let reconcile = reconcile.clone();
        async move {
            let key = object_key(obj.as_ref());
            ctx.metrics.dequeued(name, &key);
            let started = Instant::now();
            let outcome = reconcile(obj, ctx.clone()).await;
            let result = match &outcome {
                Ok(action) if *action == Action::await_change() => ReconcileResult::Success,
                Ok(_) => ReconcileResult::RequeueAfter,
                Err(_) => ReconcileResult::Error,
            };
            ctx.metrics.reconciled(name, result, started.elapsed());
            outcome
        }
    };
    let error_policy = move |obj: Arc<K>, error: &E, _ctx: Arc<Context>| {
        tracing::warn!(controller = name, object = %object_key(obj.as_ref()), "{error}");
        Action::requeue(ERROR_RETRY)
    };
    tracing::info!(controller = name, "controller started");
    controller
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(instrumented, error_policy, ctx)
        .for_each(|outcome| async move {
            if let Err(error) = outcome {
                tracing::debug!(controller = name, "{error}");
            }
        })
        .await;
    tracing::info!(controller = name, "controller stopped");
}

/// `namespace/name` of an object, the key controller-runtime logs and queues by.
pub fn object_key<K: Resource>(obj: &K) -> String {
    match ResourceExt::namespace(obj) {
        Some(ns) => format!("{ns}/{}", obj.name_any()),
        None => obj.name_any(),
    }
}

/// A failed server-side apply of an object a reconciler owns.
#[derive(Debug)]
pub struct ApplyFailure {
    /// The object's kind.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The API server's answer.
    pub source: kube::Error,
}

/// Server-side applies `object` in `ns` as the operator's field manager, taking over fields
/// another manager set (the operator owns what it builds).
pub async fn apply_owned<K>(ctx: &Context, ns: &str, object: &K) -> Result<(), ApplyFailure>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::Serialize
        + DeserializeOwned
        + Debug,
{
    let name = object.meta().name.clone().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), ns);
    let params = kube::api::PatchParams::apply(crate::context::MANAGER).force();
    api.patch(&name, &params, &kube::api::Patch::Apply(object))
        .await
        .map(|_| ())
        .map_err(|source| ApplyFailure {
            kind: K::kind(&()).into_owned(),
            name,
            source,
        })
}

/// Server-side applies `status` to `object`'s status subresource as the operator's field
/// manager, guarded by `resource_version`: the write fails (409) when the object the decision was
/// made from is stale, so two reconciles never both record (and announce) the same change.
/// Returns the object's new resourceVersion.
pub async fn apply_status<K, S>(
    ctx: &Context,
    object: &K,
    resource_version: Option<String>,
    status: &S,
) -> Result<Option<String>, kube::Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::Serialize
        + DeserializeOwned
        + Debug,
    S: serde::Serialize,
{
    let name = ResourceExt::name_any(object);
    let api: Api<K> = Api::namespaced(
        ctx.client.clone(),
        &ResourceExt::namespace(object).unwrap_or_default(),
    );
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": { "name": name, "resourceVersion": resource_version },
        "status": status,
    });
    api.patch_status(
        &name,
        &kube::api::PatchParams::apply(crate::context::MANAGER).force(),
        &kube::api::Patch::Apply(&patch),
    )
    .await
    .map(|updated| ResourceExt::resource_version(&updated))
}
