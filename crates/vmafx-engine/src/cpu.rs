//! Runtime choice of SIMD kernels: which instruction sets this CPU offers, and whether the user
//! asked for the scalar path (`VMAFX_FORCE_SCALAR`, set by `--cpumask`).
//!
//! Every SIMD kernel in the engine has a scalar twin that gives bit-identical results; this module
//! only decides which twin runs.

use std::sync::OnceLock;

/// Environment variable that, when set to anything but `0` or an empty string, forces every
/// kernel onto its scalar twin.
pub const FORCE_SCALAR_ENV: &str = "VMAFX_FORCE_SCALAR";

/// The instruction-set level the kernels may use, chosen once per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdLevel {
    /// Portable Rust only.
    Scalar,
    /// x86-64 AVX2 (with FMA-free integer and float ops only).
    Avx2,
}

impl SimdLevel {
    /// A short lower-case name for logs and benchmark output.
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Scalar => "scalar",
            SimdLevel::Avx2 => "avx2",
        }
    }
}

/// The level every kernel dispatches on: the best this CPU supports, unless scalar is forced.
pub fn simd_level() -> SimdLevel {
    static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        if scalar_forced() {
            SimdLevel::Scalar
        } else {
            detected_level()
        }
    })
}

/// The best level this CPU supports, ignoring `VMAFX_FORCE_SCALAR`; twin tests use it to know
/// which SIMD paths they can exercise.
pub fn detected_level() -> SimdLevel {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            return SimdLevel::Avx2;
        }
    }
    SimdLevel::Scalar
}

fn scalar_forced() -> bool {
    std::env::var_os(FORCE_SCALAR_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}
