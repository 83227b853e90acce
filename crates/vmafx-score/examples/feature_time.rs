//! Times one extractor (or the default model) on a clip pair at a chosen SIMD level, for kernel
//! work: a light build (no service crates) that reports the best of several runs.
//!
//! ```text
//! cargo run --release -p vmafx-score --example feature_time -- REF DIST [FEATURE|model] [LEVEL] [THREADS] [RUNS]
//! ```
//!
//! FEATURE is a `--feature` spec such as `vif` (default: `model`, the default VMAF model);
//! LEVEL is scalar, avx2 or avx512 (default: the best this CPU has). Prints the best wall time,
//! milliseconds per frame and, for a model, its pooled mean (to check levels agree).

use std::process::ExitCode;
use std::time::Instant;

use vmafx_engine::cpu::SimdLevel;
use vmafx_score::{score, FeatureSpec, ScoreRequest};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("feature_time: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [reference, distorted, rest @ ..] = args.as_slice() else {
        return Err("usage: feature_time REF DIST [FEATURE|model] [LEVEL] [THREADS] [RUNS]".into());
    };
    let what = rest.first().map_or("model", String::as_str);
    let level = match rest.get(1) {
        Some(name) => name
            .parse::<SimdLevel>()
            .map_err(|e| e.to_string())?
            .require()
            .map_err(|e| e.to_string())?,
        None => SimdLevel::detect(),
    };
    let threads: usize = rest
        .get(2)
        .map_or(Ok(1), |t| t.parse())
        .map_err(|e| format!("THREADS: {e}"))?;
    let runs: usize = rest
        .get(3)
        .map_or(Ok(3), |r| r.parse())
        .map_err(|e| format!("RUNS: {e}"))?;

    let mut request = ScoreRequest::new(reference, distorted);
    request.threads = threads;
    request.simd = level;
    if what != "model" {
        request.no_prediction = true;
        request.features = vec![FeatureSpec::parse(what).map_err(|e| e.to_string())?];
    }
    let mut best = f64::INFINITY;
    let mut frames = 0u64;
    let mut mean = None;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let outcome = score(&request, &mut |_| {}).map_err(|e| e.to_string())?;
        best = best.min(start.elapsed().as_secs_f64());
        frames = outcome.frame_count as u64;
        mean = outcome.pooled.first().map(|p| p.mean);
    }
    println!(
        "{what} {level} threads={threads}: best {best:.3} s, {:.2} ms/frame over {frames} frames{}",
        best * 1000.0 / frames.max(1) as f64,
        mean.map(|m| format!(", pooled mean {m:.6}"))
            .unwrap_or_default()
    );
    Ok(())
}
