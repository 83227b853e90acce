//! Reconciler for the job custom resource (being written).

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::context::Context;

/// Runs the reconciler until `shutdown` fires.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let _ = ctx;
    shutdown.cancelled().await;
}
