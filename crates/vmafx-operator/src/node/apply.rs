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

/// Writes the node's status, guarded by the resourceVersion it was decided from, so a health flip
/// (and its event) is decided from what the API server really holds.
pub(super) async fn write_status(
    ctx: &Context,
    node: &VmafxNode,
    status: &VmafxNodeStatus,
) -> Result<(), NodeError> {
    runner::apply_status(ctx, node, node.resource_version(), status)
        .await
        .map(|_| ())
        .map_err(|source| NodeError::Status {
            name: runner::object_key(node),
            source,
        })
}
