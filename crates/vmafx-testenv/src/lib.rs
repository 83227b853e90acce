//! Test helper: a real Kubernetes control plane per test binary.
//!
//! [`TestEnv`] gives integration tests a real `kube-apiserver` backed by a real `etcd`, both
//! started on 127.0.0.1 by `test/k8s/testenv.sh up` (built beforehand by
//! `test/k8s/testenv.sh build`). There is no kubelet, scheduler or controller-manager: objects
//! are stored, validated, admitted, authorized and watched exactly as in a cluster, but nothing
//! acts on them (pods never run unless kwok marks them).
//!
//! When `VMAFX_TEST_KUBECONFIG` is set, no control plane is started: the helper uses the cluster
//! that kubeconfig points at (kind, k3d, a real cluster), and never tears it down.
//!
//! ```no_run
//! # async fn demo() -> Result<(), vmafx_testenv::Error> {
//! use k8s_openapi::api::core::v1::Namespace;
//! use kube::api::{Api, PostParams};
//!
//! // One control plane for the whole test binary, stopped when the binary exits.
//! let env = vmafx_testenv::TestEnv::shared()?;
//! let client = env.client().await?;
//! let ns = Namespace {
//!     metadata: kube::api::ObjectMeta {
//!         name: Some(vmafx_testenv::unique_name("demo")),
//!         ..Default::default()
//!     },
//!     ..Default::default()
//! };
//! Api::<Namespace>::all(client).create(&PostParams::default(), &ns).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Environment variables:
//! - `VMAFX_TEST_KUBECONFIG`: use this kubeconfig's cluster instead of starting one.
//! - `VMAFX_TESTENV_SCRIPT`: path of `testenv.sh` (default: the copy in this repository).
//! - `VMAFX_TESTENV_KEEP`: when set to `1`, leave a started control plane running after the test
//!   (its state directory is printed) for debugging; stop it with `testenv.sh down DIR`.

#![warn(missing_docs)]

pub mod pki;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// Environment variable naming an existing cluster's kubeconfig to test against.
pub const KUBECONFIG_ENV: &str = "VMAFX_TEST_KUBECONFIG";
/// Environment variable overriding the path of `testenv.sh`.
pub const SCRIPT_ENV: &str = "VMAFX_TESTENV_SCRIPT";
/// Environment variable that, when `1`, keeps a started control plane running after the tests.
pub const KEEP_ENV: &str = "VMAFX_TESTENV_KEEP";

/// Errors from starting, reaching or stopping a test environment.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `testenv.sh` is not where it was expected.
    #[error("testenv script not found at {0} (set VMAFX_TESTENV_SCRIPT)")]
    ScriptNotFound(PathBuf),
    /// The script or another process could not be run at all.
    #[error("could not run {what}: {source}")]
    Spawn {
        /// What was being run.
        what: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `testenv.sh up` failed; `stderr` holds the end of its output.
    #[error("`testenv.sh up` failed ({status}): {stderr}")]
    Up {
        /// The exit status, as text.
        status: String,
        /// The last lines the script wrote to stderr.
        stderr: String,
    },
    /// `testenv.sh down` failed; `stderr` holds the end of its output.
    #[error("`testenv.sh down` failed ({status}): {stderr}")]
    Down {
        /// The exit status, as text.
        status: String,
        /// The last lines the script wrote to stderr.
        stderr: String,
    },
    /// The shared environment of this test binary could not be started (first error, as text).
    #[error("shared test environment unavailable: {0}")]
    Shared(String),
    /// `testenv.sh up` succeeded but its last line was not an existing kubeconfig file.
    #[error("`testenv.sh up` printed no usable kubeconfig path (got {0:?})")]
    NoKubeconfig(String),
    /// A temporary state directory could not be created.
    #[error("could not create a state directory: {0}")]
    StateDir(#[source] std::io::Error),
    /// The kubeconfig could not be read or used.
    #[error("kubeconfig {path}: {source}")]
    Kubeconfig {
        /// Path of the kubeconfig.
        path: PathBuf,
        /// What was wrong with it.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// A Kubernetes API call failed.
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// A condition polled by [`eventually`] did not hold in time.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where the cluster of a [`TestEnv`] comes from.
#[derive(Debug)]
enum Origin {
    /// Started by this process with `testenv.sh up`; stopped on drop.
    Owned {
        script: PathBuf,
        state: Option<tempfile::TempDir>,
    },
    /// An existing cluster named by `VMAFX_TEST_KUBECONFIG`; left alone.
    External,
}

/// A Kubernetes API server to test against: either a control plane this process started, or an
/// existing cluster named by `VMAFX_TEST_KUBECONFIG`.
///
/// Dropping an owned environment stops etcd and kube-apiserver and removes their files. The
/// environment returned by [`TestEnv::shared`] lives in a static and is never dropped; it is
/// stopped by an `atexit` hook when the test binary exits. Should the process die without
/// running it (a signal, an abort), the watchdog that `testenv.sh up` leaves behind stops the
/// servers within about a second.
#[derive(Debug)]
pub struct TestEnv {
    kubeconfig: PathBuf,
    origin: Origin,
}

impl TestEnv {
    /// Starts a new control plane for the caller (or, when `VMAFX_TEST_KUBECONFIG` is set, uses
    /// that cluster). Blocks until the API server is ready, about 5–15 s on a warm cache.
    ///
    /// Requires `test/k8s/testenv.sh build` to have been run.
    pub fn start() -> Result<Self> {
        if let Some(path) = std::env::var_os(KUBECONFIG_ENV).filter(|p| !p.is_empty()) {
            return Ok(Self {
                kubeconfig: PathBuf::from(path),
                origin: Origin::External,
            });
        }
        Self::start_owned()
    }

    /// Always starts a new control plane, even when `VMAFX_TEST_KUBECONFIG` is set.
    pub fn start_owned() -> Result<Self> {
        let script = script_path()?;
        let state = tempfile::Builder::new()
            .prefix("vmafx-testenv-")
            .tempdir()
            .map_err(Error::StateDir)?;
        let output = Command::new("bash")
            .arg(&script)
            .arg("up")
            .arg(state.path())
            .env("VMAFX_TESTENV_OWNER_PID", std::process::id().to_string())
            .stdin(Stdio::null())
            .output()
            .map_err(|source| Error::Spawn {
                what: format!("{} up", script.display()),
                source,
            })?;
        if !output.status.success() {
            // Best effort: nothing may be left, but a half-started environment must not leak.
            let _ = run_down(&script, state.path());
            return Err(Error::Up {
                status: output.status.to_string(),
                stderr: tail(&String::from_utf8_lossy(&output.stderr), 15),
            });
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let last = stdout.lines().last().unwrap_or_default().trim().to_owned();
        let kubeconfig = PathBuf::from(&last);
        if last.is_empty() || !kubeconfig.is_file() {
            let _ = run_down(&script, state.path());
            return Err(Error::NoKubeconfig(last));
        }
        Ok(Self {
            kubeconfig,
            origin: Origin::Owned {
                script,
                state: Some(state),
            },
        })
    }

    /// The environment shared by every test in this test binary, started on first use.
    ///
    /// Tests in one binary run in parallel on separate tokio runtimes; they share the control
    /// plane but should each call [`TestEnv::client`] and work in their own namespace (see
    /// [`unique_name`]). A start-up failure is returned to every caller.
    pub fn shared() -> Result<&'static TestEnv> {
        SHARED
            .get_or_init(|| {
                let env = Self::start().map_err(|e| e.to_string())?;
                if !env.is_external() {
                    // Statics are never dropped: stop the control plane when the process exits.
                    // SAFETY: registers a plain `extern "C" fn()` with the C runtime.
                    unsafe { libc::atexit(stop_shared_at_exit) };
                }
                Ok(env)
            })
            .as_ref()
            .map_err(|e| Error::Shared(e.clone()))
    }

    /// Path of the admin kubeconfig (cluster-admin through the `system:masters` group when the
    /// control plane is ours).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// True when this environment is an existing cluster from `VMAFX_TEST_KUBECONFIG`.
    pub fn is_external(&self) -> bool {
        matches!(self.origin, Origin::External)
    }

    /// The state directory of a control plane started by this process (certificates, logs,
    /// etcd data); `None` for an external cluster.
    pub fn state_dir(&self) -> Option<&Path> {
        match &self.origin {
            Origin::Owned { state, .. } => state.as_ref().map(|s| s.path()),
            Origin::External => None,
        }
    }

    /// The client configuration for the admin kubeconfig (current context). Clone it and change
    /// `auth_info` to act as another user.
    pub async fn config(&self) -> Result<Config> {
        let err = |source| Error::Kubeconfig {
            path: self.kubeconfig.clone(),
            source,
        };
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig).map_err(err)?;
        Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(err)
    }

    /// A new admin client. Create it inside the tokio runtime that uses it: a client is bound to
    /// the runtime it was created on.
    pub async fn client(&self) -> Result<Client> {
        Ok(Client::try_from(self.config().await?)?)
    }
}

impl TestEnv {
    /// Stops an owned control plane (`testenv.sh down`), unless `VMAFX_TESTENV_KEEP=1`.
    fn stop(&self) {
        let Origin::Owned { script, state } = &self.origin else {
            return;
        };
        let Some(dir) = state.as_ref().map(|s| s.path()) else {
            return;
        };
        if !dir.exists() {
            return;
        }
        if std::env::var(KEEP_ENV).as_deref() == Ok("1") {
            eprintln!(
                "vmafx-testenv: kept control plane running; KUBECONFIG={} ; stop with: {} down {}",
                self.kubeconfig.display(),
                script.display(),
                dir.display()
            );
            return;
        }
        if let Err(e) = run_down(script, dir) {
            eprintln!("vmafx-testenv: teardown failed: {e}");
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        self.stop();
        if let Origin::Owned { state, .. } = &mut self.origin {
            if let Some(state) = state.take() {
                // `down` removed the directory, or KEEP asked to leave it: never delete it here.
                let _ = state.keep();
            }
        }
    }
}

static SHARED: OnceLock<std::result::Result<TestEnv, String>> = OnceLock::new();

/// Runs at process exit (after the test harness finished) to stop the shared environment; the
/// watchdog left by `testenv.sh up` covers exits that skip `atexit` (signals, aborts).
extern "C" fn stop_shared_at_exit() {
    if let Some(Ok(env)) = SHARED.get() {
        env.stop();
    }
}

/// Path of `testenv.sh`: `VMAFX_TESTENV_SCRIPT`, or `test/k8s/testenv.sh` in this repository.
pub fn script_path() -> Result<PathBuf> {
    let path = match std::env::var_os(SCRIPT_ENV).filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/k8s/testenv.sh"),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::ScriptNotFound(path))
    }
}

/// A name unique within this machine and run, `prefix-<suffix>`, valid as a namespace or object
/// name (lower-case, at most 63 characters when `prefix` is at most 40).
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{prefix}-{:x}{:06x}{n:x}",
        std::process::id() & 0xffff,
        nanos & 0xff_ffff
    )
}

/// Polls `probe` every 200 ms until it yields `Some`, or fails with [`Error::Timeout`] naming
/// `what` after `timeout`. Use it for effects that reach the API server asynchronously (a CRD
/// becoming Established, a webhook or an RBAC binding taking effect).
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout(timeout, what.to_owned()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn run_down(script: &Path, state: &Path) -> Result<()> {
    let output = Command::new("bash")
        .arg(script)
        .arg("down")
        .arg(state)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Spawn {
            what: format!("{} down", script.display()),
            source,
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::Down {
            status: output.status.to_string(),
            stderr: tail(&String::from_utf8_lossy(&output.stderr), 5),
        })
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_are_dns_labels() {
        let a = unique_name("smoke");
        let b = unique_name("smoke");
        assert_ne!(a, b);
        for n in [a, b] {
            assert!(n.len() <= 63, "{n}");
            assert!(n
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        }
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }

    #[test]
    fn script_is_found_in_repo() {
        assert!(script_path().unwrap().ends_with("test/k8s/testenv.sh"));
    }
}
