//! The node reconciler's I/O: server-side apply, the health probe, the registry read, the status
//! write and events.

#[allow(unused_imports)]
use super::*;

pub(super) async fn probe(ctx: &Context, url: &str) -> Result<(), String> {
    match ctx.http.get(url).send().await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!("GET {url} answered {}", response.status())),
        Err(error) => Err(format!("GET {url}: {error}")),
    }
}

pub(super) async fn read_registry(ctx: &Context, name: &str) -> Registry {
    match crate::job::follow::list_all_nodes(&mut ctx.jobs.clone()).await {
        Ok(nodes) => find_registration(&nodes, name),
        Err(status) => Registry::Unreachable(status.message().to_owned()),
    }
}

pub(super) async fn write_status(
    ctx: &Context,
    node: &VmafxNode,
    status: &VmafxNodeStatus,
) -> Result<(), NodeError> {
    let api: Api<VmafxNode> =
        Api::namespaced(ctx.client.clone(), &node.namespace().unwrap_or_default());
    // The resourceVersion makes the write fail if the cached object was stale, so a health flip
    // (and its event) is decided from what the API server really holds.
    let patch = serde_json::json!({
        "apiVersion": "vmafx.dev/v1",
        "kind": "VmafxNode",
        "metadata": { "name": node.name_any(), "resourceVersion": node.resource_version() },
        "status": status,
    });
    api.patch_status(
        &node.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map(|_| ())
    .map_err(|source| NodeError::Status {
        name: runner::object_key(node),
        source,
    })
}

pub(super) async fn publish(
    ctx: &Context,
    node: &VmafxNode,
    type_: EventType,
    reason: &str,
    note: String,
) {
    ctx.publish(node, type_ == EventType::Warning, reason, &note)
        .await;
}
