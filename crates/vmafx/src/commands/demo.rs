//! `vmafx demo`: makes a sample reference/distorted pair and scores it, so a fresh checkout
//! shows a real VMAF run with nothing else installed.

use std::process::ExitCode;

use anyhow::Context;
use vmafx_score::{FeatureSpec, ScoreRequest};

use crate::cli::DemoArgs;

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("vmafx-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let fixture = vmafx_fixtures::fixtures()
        .into_iter()
        .find(|f| f.name == "pan_420_8bit_blur")
        .context("the demo fixture is missing from vmafx-fixtures")?;
    let ref_path = dir.join("demo_ref.y4m");
    let dist_path = dir.join("demo_dist.y4m");
    fixture
        .write_pair(&ref_path, &dist_path)
        .with_context(|| format!("failed to write the sample pair into {}", dir.display()))?;
    let mut request = ScoreRequest::new(&ref_path, &dist_path);
    request.features.push(FeatureSpec::parse("psnr")?);
    request.threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let outcome = vmafx_score::score(&request, &mut |_| {})?;
    let vmaf = outcome.pooled.first().map(|p| p.mean).unwrap_or(f64::NAN);
    println!("reference  {}", ref_path.display());
    println!("distorted  {}", dist_path.display());
    println!(
        "scored     {} frames, {}x{} {} {}-bit",
        outcome.frame_count,
        outcome.info.width,
        outcome.info.height,
        outcome.info.format.short_name(),
        outcome.info.bit_depth
    );
    println!("VMAF       {vmaf:.6} (vmaf_v0.6.1, mean over frames)");
    if let Some(psnr) = outcome
        .collector
        .vector("psnr_y")
        .and_then(|v| vmafx_engine::pool::pool(&v.values, 0, outcome.frame_count - 1, 1))
    {
        println!("PSNR-Y     {:.6} dB", psnr.mean);
    }
    println!(
        "next: vmafx score -r {} -d {} --json -o out.json",
        ref_path.display(),
        dist_path.display()
    );
    Ok(ExitCode::SUCCESS)
}
