//! The tokio runtime that drives OpenDAL's async I/O underneath the blocking API.

use tokio::runtime::{Handle, Runtime};

use crate::error::FetchError;

/// Owns the fetcher's runtime. Streams keep it alive through an `Arc`, so a reader handed to
/// another thread stays usable after the `Fetcher` is gone.
pub(crate) struct RuntimeGuard {
    runtime: Option<Runtime>,
    handle: Handle,
}

impl RuntimeGuard {
    pub(crate) fn start() -> Result<RuntimeGuard, FetchError> {
        // Two workers are plenty: they only poll sockets, the caller's thread does the copying.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("vmafx-fetch-io")
            .enable_all()
            .build()
            .map_err(FetchError::Runtime)?;
        let handle = runtime.handle().clone();
        Ok(RuntimeGuard {
            runtime: Some(runtime),
            handle,
        })
    }

    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for RuntimeGuard {
    fn drop(&mut self) {
        // A plain drop panics when the last owner is an async task of the caller's runtime;
        // shutting down in the background is allowed everywhere.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
