//! Input access for the worker node: opens a video by URI (local file, S3, Google Cloud Storage,
//! Azure Blob Storage, HTTP(S), or any rclone remote), as a path, a stream, or a downloaded file;
//! and writes result files to the same kinds of location (http(s) excepted); pulls and pushes
//! models as OCI artifacts (`oci://`); pushes a batch run's metrics to a Prometheus Pushgateway.
//!
//! Object stores and HTTP go through Apache OpenDAL with per-request timeouts and bounded
//! retries; every other `scheme://` is an rclone remote read through the `rclone` binary. The API
//! is blocking, for use inside `spawn_blocking`.

mod config;
mod error;
mod fetcher;
mod guard;
mod location;
pub mod oci;
pub mod pushgateway;
mod rclone;
mod runtime;
mod store;
mod stream;
mod upload;

pub use config::{AzureConfig, FetchConfig, GcsConfig, Limits, RcloneConfig, S3Config};
pub use error::FetchError;
pub use fetcher::{Fetcher, Input};
pub use guard::check_model_file;
pub use location::{parse, Location};
pub use vmafx_contract::InputPolicy;

/// Result alias for this crate.
pub type Result<T, E = FetchError> = std::result::Result<T, E>;

/// The bytes of a small configuration file (a CA bundle, a password), refused when it is larger
/// than `max` bytes; the error is the problem, for the caller to prefix with the file's name. The
/// read itself stops after `max + 1` bytes, so a file that grows, or a device, cannot exhaust
/// memory.
pub(crate) fn limited_read(path: &std::path::Path, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > max {
        return Err(format!("more than the {max} bytes allowed"));
    }
    Ok(bytes)
}
