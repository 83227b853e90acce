//! A node's settings.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use vmafx_engine::cpu::SimdLevel;

/// The compute backends this build scores with: the CPU only (the GPU backends the job
/// contract names are not built yet).
pub const SERVED_BACKENDS: [vmafx_contract::Backend; 1] = [vmafx_contract::Backend::Cpu];

/// Reads a backend and checks that this build serves it; the one-line error names `field`
/// (`--backend`, `VMAFX_BACKEND`, `--backends`), whether the name is unknown or not served.
pub fn served_backend(
    field: &str,
    text: &str,
) -> Result<vmafx_contract::Backend, vmafx_contract::FieldError> {
    let backend = vmafx_contract::Backend::parse_field(field, text.trim())?;
    if SERVED_BACKENDS.contains(&backend) {
        return Ok(backend);
    }
    let served: Vec<&str> = SERVED_BACKENDS.iter().map(|b| b.as_str()).collect();
    Err(vmafx_contract::FieldError::new(
        field,
        format!(
            "this build of vmafx cannot score with {backend}: it serves {} only",
            served.join(", ")
        ),
    ))
}

/// Everything a node needs to run.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The controller's gRPC endpoint, e.g. `http://127.0.0.1:9090` or `https://host:9090`.
    pub controller: String,
    /// CA certificate (PEM) of the controller's TLS certificate; `None` uses the system's.
    pub ca_cert: Option<PathBuf>,
    /// The node's token, sent with every call.
    pub token: Option<vmafx_api::client::Token>,
    /// A file holding the token (first line), reread when it changes; wins over `token`.
    pub token_file: Option<PathBuf>,
    /// Name it registers under (re-registering with the same name keeps the node id).
    pub name: String,
    /// Jobs it runs at once.
    pub capacity: u32,
    /// nvidia, amd, intel or cpu.
    pub vendor: String,
    /// Backends it offers (cpu always works).
    pub backends: Vec<String>,
    /// Device description shown in the registry.
    pub device: String,
    /// Where `/healthz` and `/ready` are served; `None` serves nothing.
    pub http_addr: Option<SocketAddr>,
    /// Where inputs that must be downloaded are kept while a job runs.
    pub scratch_dir: PathBuf,
    /// Heartbeat period (the controller's node timeout is 60 s).
    pub heartbeat_interval: Duration,
    /// How long an idle node waits before asking for work again.
    pub poll_interval: Duration,
    /// How often a running job reports progress (and renews its lease).
    pub progress_interval: Duration,
    /// Scoring threads per job (0: the machine's cores divided among the slots).
    pub threads_per_job: usize,
    /// Input access: rclone binary and config, object-store credentials.
    pub fetch: vmafx_fetch::FetchConfig,
    /// SIMD level of every job's kernels (named in `device`; keep the two in step).
    pub simd: SimdLevel,
}

impl NodeConfig {
    /// A configuration with the defaults, talking to `controller`.
    pub fn new(controller: impl Into<String>) -> Self {
        NodeConfig {
            controller: controller.into(),
            ca_cert: None,
            token: None,
            token_file: None,
            name: default_name(),
            capacity: 1,
            vendor: "cpu".into(),
            backends: vec!["cpu".into()],
            device: cpu_description(SimdLevel::detect()),
            http_addr: None,
            scratch_dir: std::env::temp_dir().join("vmafx-node"),
            heartbeat_interval: Duration::from_secs(10),
            poll_interval: Duration::from_millis(500),
            progress_interval: Duration::from_secs(1),
            threads_per_job: 0,
            fetch: vmafx_fetch::FetchConfig::default(),
            simd: SimdLevel::detect(),
        }
    }

    /// Scoring threads each job gets.
    pub fn job_threads(&self) -> usize {
        if self.threads_per_job > 0 {
            return self.threads_per_job;
        }
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        (cores / self.capacity.max(1) as usize).max(1)
    }
}

/// The host name, or a fixed fallback.
fn default_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        // Registered names are lower case, as Kubernetes names are.
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "vmafx-node".into())
}

/// The CPU model, core count and the SIMD level jobs run at, as the registry shows it.
pub fn cpu_description(simd: SimdLevel) -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{model} ({cores} threads, {simd})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_cpu_backend_is_served_and_others_are_named() {
        assert_eq!(
            served_backend("--backend", "cpu"),
            Ok(vmafx_contract::Backend::Cpu)
        );
        assert_eq!(
            served_backend("--backend", ""),
            Ok(vmafx_contract::Backend::Cpu)
        );
        for gpu in ["cuda", "hip", "sycl", "vulkan"] {
            let err = served_backend("VMAFX_BACKEND", gpu)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("VMAFX_BACKEND: ") && err.contains(gpu) && err.contains("cpu"),
                "{err}"
            );
        }
        let err = served_backend("--backend", "opencl")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown backend"), "{err}");
    }
}
