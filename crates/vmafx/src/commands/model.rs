//! `vmafx model pull|push`, and resolving `-m oci://…` models to cached files.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use vmafx_contract::{ModelSource, ModelSpec, OciReference};

use super::service::runtime;
use crate::cli::{ModelArgs, ModelCommand, ModelPullArgs, ModelPushArgs, RegistryArgs};
use vmafx_fetch::oci;

/// Replaces each `oci://…` model by the file it was pulled into (once per digest).
pub fn resolve_oci_models(
    models: Vec<ModelSpec>,
    registry: &RegistryArgs,
    cache: Option<&Path>,
) -> anyhow::Result<Vec<ModelSpec>> {
    if !models
        .iter()
        .any(|m| matches!(m.source, ModelSource::Oci(_)))
    {
        return Ok(models);
    }
    let cache = match cache {
        Some(dir) => dir.to_owned(),
        None => oci::default_cache_dir()
            .context("no model cache: set --model-cache, XDG_CACHE_HOME or HOME")?,
    };
    let options = registry.options();
    runtime()?.block_on(async {
        let mut out = Vec::with_capacity(models.len());
        for mut model in models {
            if let ModelSource::Oci(reference) = &model.source {
                let path = oci::cached_model(reference, &options, &cache)
                    .await
                    .with_context(|| format!("--model \"{reference}\""))?;
                model.source = ModelSource::Path(path);
            }
            out.push(model);
        }
        Ok(out)
    })
}

fn reference(text: &str) -> anyhow::Result<OciReference> {
    OciReference::parse(text).map_err(|e| anyhow::anyhow!("{text}: {e}"))
}

fn pull(args: ModelPullArgs) -> anyhow::Result<ExitCode> {
    let reference = reference(&args.reference)?;
    let pulled = runtime()?.block_on(oci::pull_model(&reference, &args.registry.options()))?;
    std::fs::write(&args.output, &pulled.json)
        .with_context(|| format!("failed to write {}", args.output.display()))?;
    // Refuse to leave behind something that is not a loadable model.
    let spec = ModelSpec {
        source: ModelSource::Path(args.output.clone()),
        ..ModelSpec::default()
    };
    if let Err(e) = vmafx_engine::model::Model::load(&spec) {
        let _ = std::fs::remove_file(&args.output);
        bail!("{reference}: the artifact is not a usable model: {e}");
    }
    println!("{}", pulled.digest);
    Ok(ExitCode::SUCCESS)
}

fn push(args: ModelPushArgs) -> anyhow::Result<ExitCode> {
    let reference = reference(&args.reference)?;
    let vmafx_contract::OciTarget::Tag(tag) = &reference.target else {
        bail!("{reference}: push to a tag (REPO:TAG), not a digest");
    };
    let json = std::fs::read(&args.file)
        .with_context(|| format!("failed to read {}", args.file.display()))?;
    // Only a model the engine loads is pushed.
    let spec = ModelSpec {
        source: ModelSource::Path(args.file.clone()),
        ..ModelSpec::default()
    };
    vmafx_engine::model::Model::load(&spec)
        .with_context(|| format!("{} is not a usable model", args.file.display()))?;
    let annotations = oci::ModelAnnotations {
        run: args.run.clone(),
        version: args.model_version.clone().unwrap_or_else(|| tag.clone()),
        samples: args.samples,
    };
    let digest = runtime()?.block_on(oci::push_model(
        &reference,
        &args.tags,
        &json,
        &annotations,
        &args.registry.options(),
    ))?;
    println!("{digest}");
    Ok(ExitCode::SUCCESS)
}

/// Runs `vmafx model …`.
pub fn run(args: ModelArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ModelCommand::Pull(a) => pull(a),
        ModelCommand::Push(a) => push(a),
    }
}
