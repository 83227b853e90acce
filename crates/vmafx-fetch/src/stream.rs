//! A `Read` adaptor whose errors name the URI being read.

use std::io::{self, Read};
use std::sync::Arc;

use crate::error::one_line;
use crate::runtime::RuntimeGuard;

/// Wraps a backend reader: error messages gain "failed to read {uri}", and the runtime the
/// reader needs is kept alive as long as the reader.
pub(crate) struct UriReader<R> {
    // Declared before `_runtime` so it is dropped first, while the runtime still runs.
    inner: R,
    uri: String,
    _runtime: Option<Arc<RuntimeGuard>>,
}

impl<R: Read> UriReader<R> {
    pub(crate) fn new(inner: R, uri: String, runtime: Option<Arc<RuntimeGuard>>) -> Self {
        UriReader {
            inner,
            uri,
            _runtime: runtime,
        }
    }
}

impl<R: Read> Read for UriReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("failed to read {}: {}", self.uri, one_line(&e.to_string())),
            )
        })
    }
}
