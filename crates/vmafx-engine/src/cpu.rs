//! The SIMD level a scorer runs its kernels at: what this CPU offers, what the user asked for,
//! and the one decision between them, made once per scorer and passed down as a value.
//!
//! Every SIMD kernel in the engine has a scalar twin that gives bit-identical results; the
//! level only decides which twin runs. A kernel family without a twin at some level runs the
//! best lower one (an AVX-512 scorer uses AVX2 where no AVX-512 kernel exists).

use std::fmt;
use std::str::FromStr;

use crate::EngineError;

/// Environment variable that, when set to anything but `0` or an empty string, forces every
/// kernel onto its scalar twin. Read by the binaries, never by the engine.
pub const FORCE_SCALAR_ENV: &str = "VMAFX_FORCE_SCALAR";

/// Environment variable naming the highest level to use: `scalar`, `avx2` or `avx512`. Read by
/// the binaries, never by the engine.
pub const SIMD_ENV: &str = "VMAFX_SIMD";

/// libvmaf's `--cpumask` bits (flags to turn off), from its `x86/cpu.h`.
const CPUMASK_AVX2: u32 = 1 << 3;
const CPUMASK_AVX512: u32 = 1 << 4;
const CPUMASK_AVX512ICL: u32 = 1 << 5;

/// An instruction-set level the kernels may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimdLevel {
    /// Portable Rust only.
    Scalar,
    /// x86-64 AVX2 (integer and float ops; no FMA, which would change results).
    Avx2,
    /// x86-64 AVX-512 F, CD, BW, DQ and VL, the set libvmaf's AVX-512 kernels need, with AVX2.
    Avx512,
}

impl SimdLevel {
    /// Every level, lowest first.
    pub const ALL: [SimdLevel; 3] = [SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512];

    /// A short lower-case name for logs, device strings and benchmark output.
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Scalar => "scalar",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
        }
    }

    /// The best level this CPU supports.
    pub fn detect() -> SimdLevel {
        SimdLevel::ALL
            .into_iter()
            .rev()
            .find(|level| level.is_supported())
            .unwrap_or(SimdLevel::Scalar)
    }

    /// Whether this CPU can run kernels of this level.
    pub fn is_supported(self) -> bool {
        match self {
            SimdLevel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512cd")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512vl")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The levels below and at `self` that this CPU lacks; twin tests name them in their
    /// `SKIPPED:` line.
    pub fn unsupported() -> Vec<SimdLevel> {
        SimdLevel::ALL
            .into_iter()
            .filter(|level| !level.is_supported())
            .collect()
    }

    /// The level libvmaf's `--cpumask` leaves: bit 3 turns off AVX2 (and so every SIMD kernel
    /// vmafx has), bits 4 and 5 turn off AVX-512. `48` means "AVX2 at most".
    pub fn capped_by_cpumask(self, mask: u32) -> SimdLevel {
        if mask & CPUMASK_AVX2 != 0 {
            SimdLevel::Scalar
        } else if mask & (CPUMASK_AVX512 | CPUMASK_AVX512ICL) != 0 {
            self.min(SimdLevel::Avx2)
        } else {
            self
        }
    }

    /// Checks that this CPU can run `self`: asking for a level it lacks is an error, not a
    /// silent fallback, so that a benchmark or a forced test path never measures something else.
    pub fn require(self) -> Result<SimdLevel, EngineError> {
        if self.is_supported() {
            Ok(self)
        } else {
            Err(EngineError::UnsupportedSimd(self.name()))
        }
    }
}

impl fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SimdLevel {
    type Err = EngineError;

    fn from_str(text: &str) -> Result<SimdLevel, EngineError> {
        SimdLevel::ALL
            .into_iter()
            .find(|level| level.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| EngineError::InvalidOption {
                owner: SIMD_ENV.to_string(),
                key: "level".to_string(),
                value: text.to_string(),
                reason: "expected scalar, avx2 or avx512".to_string(),
            })
    }
}

/// What the user asked for, from the binaries' flags and environment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimdRequest {
    /// `VMAFX_SIMD`: the level to use (must be supported).
    pub level: Option<SimdLevel>,
    /// `VMAFX_FORCE_SCALAR` set to something other than empty or `0`.
    pub force_scalar: bool,
    /// libvmaf's `--cpumask`.
    pub cpumask: Option<u32>,
}

impl SimdRequest {
    /// Whether a `VMAFX_FORCE_SCALAR` value asks for scalar kernels.
    pub fn force_scalar_value(value: Option<&str>) -> bool {
        value.is_some_and(|v| !v.is_empty() && v != "0")
    }

    /// The level a scorer should run at: the asked level (checked against the CPU) or the best
    /// detected one, then capped by `--cpumask` and `VMAFX_FORCE_SCALAR`.
    pub fn resolve(self) -> Result<SimdLevel, EngineError> {
        let level = match self.level {
            Some(level) => level.require()?,
            None => SimdLevel::detect(),
        };
        let level = level.capped_by_cpumask(self.cpumask.unwrap_or(0));
        Ok(if self.force_scalar {
            SimdLevel::Scalar
        } else {
            level
        })
    }
}

/// For twin tests: whether `level` can run here. When it cannot, prints the one `SKIPPED:` line
/// naming the `kernels` left unverified on this machine; under `CI=true` with
/// `VMAFX_REQUIRE_SIMD` naming the level (as on a machine known to have it), it fails instead.
#[doc(hidden)]
pub fn twin_level_available(level: SimdLevel, kernels: &str) -> bool {
    if level.is_supported() {
        return true;
    }
    let required = std::env::var("VMAFX_REQUIRE_SIMD").unwrap_or_default();
    if required
        .split(',')
        .any(|name| name.trim().eq_ignore_ascii_case(level.name()))
    {
        panic!("VMAFX_REQUIRE_SIMD names {level}, but this CPU lacks it: {kernels} not verified");
    }
    // Straight to the stream rather than through `println!`, which the test harness captures
    // and hides for a passing test: CI logs must show what was not verified.
    let line = format!("SKIPPED: {kernels} not verified: this CPU lacks {level}\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    false
}

/// Whose reciprocal estimate (`rcpss`/`rcpps`) this CPU computes. libvmaf's float ADM (the
/// float models and `float_adm`) divides with that estimate plus one Newton step, and the
/// vendors' estimates differ in their last bits, so libvmaf prints some float ADM values
/// differently on AMD and Intel CPUs (in the sixth decimal); vmafx uses the same instruction
/// and so matches libvmaf on the machine it runs on. Golden values are kept per table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RcpssTable {
    /// AMD's (measured on Zen 4; Zen 3 gives the same float ADM values).
    Amd,
    /// Intel's (measured on a Xeon, family 6 model 167).
    Intel,
}

/// [`rcpss_fingerprint`] of AMD's table.
const RCPSS_AMD: u64 = 0xf518_f3d5_89ae_6ccf;
/// [`rcpss_fingerprint`] of Intel's table.
const RCPSS_INTEL: u64 = 0xa284_1e8a_a5c2_84cf;

/// A hash of this CPU's `rcpss` estimate of every 7th mantissa of [1, 2); `None` off x86-64.
pub fn rcpss_fingerprint() -> Option<u64> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_cvtss_f32, _mm_rcp_ss, _mm_set_ss};
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for mantissa in (0u32..(1 << 23)).step_by(7) {
            let x = f32::from_bits(0x3f80_0000 | mantissa);
            // SAFETY: SSE is part of the x86-64 baseline.
            let estimate = unsafe { _mm_cvtss_f32(_mm_rcp_ss(_mm_set_ss(x))) };
            hash = (hash ^ u64::from(estimate.to_bits())).wrapping_mul(0x0100_0000_01b3);
        }
        Some(hash)
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

/// The known table this CPU's `rcpss` matches, if any.
pub fn rcpss_table() -> Option<RcpssTable> {
    match rcpss_fingerprint()? {
        RCPSS_AMD => Some(RcpssTable::Amd),
        RCPSS_INTEL => Some(RcpssTable::Intel),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order() {
        for level in SimdLevel::ALL {
            assert_eq!(level.name().parse::<SimdLevel>().unwrap(), level);
        }
        assert_eq!("AVX512".parse::<SimdLevel>().unwrap(), SimdLevel::Avx512);
        let err = "sse4".parse::<SimdLevel>().unwrap_err().to_string();
        assert!(err.contains("VMAFX_SIMD") && err.contains("sse4"), "{err}");
        assert!(SimdLevel::Scalar < SimdLevel::Avx2 && SimdLevel::Avx2 < SimdLevel::Avx512);
        assert!(SimdLevel::Scalar.is_supported());
        assert!(SimdLevel::detect().is_supported());
    }

    #[test]
    fn cpumask_follows_libvmaf_bits() {
        let top = SimdLevel::Avx512;
        assert_eq!(top.capped_by_cpumask(0), SimdLevel::Avx512);
        assert_eq!(top.capped_by_cpumask(48), SimdLevel::Avx2);
        assert_eq!(top.capped_by_cpumask(16), SimdLevel::Avx2);
        assert_eq!(top.capped_by_cpumask(8), SimdLevel::Scalar);
        assert_eq!(top.capped_by_cpumask(0xffff_ffff), SimdLevel::Scalar);
        // Bits below AVX2 are SSE levels vmafx has no kernels for.
        assert_eq!(top.capped_by_cpumask(7), SimdLevel::Avx512);
        assert_eq!(SimdLevel::Avx2.capped_by_cpumask(48), SimdLevel::Avx2);
    }

    #[test]
    fn requests_resolve_in_order() {
        let best = SimdLevel::detect();
        assert_eq!(SimdRequest::default().resolve().unwrap(), best);
        let scalar = SimdRequest {
            force_scalar: true,
            level: Some(best),
            ..Default::default()
        };
        assert_eq!(scalar.resolve().unwrap(), SimdLevel::Scalar);
        let capped = SimdRequest {
            cpumask: Some(48),
            ..Default::default()
        };
        assert_eq!(capped.resolve().unwrap(), best.min(SimdLevel::Avx2));
        for level in SimdLevel::unsupported() {
            let asked = SimdRequest {
                level: Some(level),
                ..Default::default()
            };
            let err = asked.resolve().unwrap_err().to_string();
            assert!(err.contains(level.name()), "{err}");
        }
        assert!(SimdRequest::force_scalar_value(Some("1")));
        assert!(!SimdRequest::force_scalar_value(Some("0")));
        assert!(!SimdRequest::force_scalar_value(Some("")));
        assert!(!SimdRequest::force_scalar_value(None));
    }
}
