//! VMAF models: loading libvmaf JSON models, built-in versions, and per-frame prediction.
//!
//! A [`ModelSpec`] (parsed from the tool's `--model` argument) names a model; [`Model::load`]
//! reads it and works out which feature extractors, with which options, must run
//! ([`Model::feature_requests`]) and under which collector names their values will appear
//! ([`Model::inputs`]). [`Model::predict`] then turns one frame's feature values into the
//! scores libvmaf would write for that frame, bit for bit.
//!
//! Model collections (bootstrap models such as `vmaf_b_v0.6.3.json`) load by path like any
//! other model. For a collection named `vmaf` libvmaf writes, per frame: `vmaf` (member `"0"`,
//! the main model), `vmaf_0001` ... `vmaf_NNNN` (the other members, transformed and clipped),
//! then `vmaf_bagging`, `vmaf_stddev`, `vmaf_ci_p95_lo` and `vmaf_ci_p95_hi`.

mod file;
mod json;
mod score;
mod spec;
pub mod svm;

#[cfg(test)]
mod float_golden;
#[cfg(test)]
mod golden;

pub use spec::{parse_model, ModelOverride, ModelSource, ModelSpec};

use crate::collector::FeatureCollector;
use crate::feature::ExtractorInfo;
use crate::options::OptionValues;
use crate::EngineError;

use file::{FileContents, FileModel, LoadFlags, ModelKind};
use score::{clip, Normalization, Transform};
use svm::SvmModel;

/// The built-in model versions, usable as `version=...`: the contract's list, which
/// [`built_in`] must match (a test asserts it).
pub const BUILT_IN_VERSIONS: [&str; 17] = vmafx_contract::model::BUILT_IN_MODELS;

/// The JSON text of a built-in model version, as libvmaf ships it (for tools that read the
/// document itself, such as the trainer).
pub fn built_in_json(version: &str) -> Option<&'static str> {
    built_in(version)
}

fn built_in(version: &str) -> Option<&'static str> {
    Some(match version {
        "vmaf_v0.6.1" => include_str!("../../models/vmaf_v0.6.1.json"),
        "vmaf_v0.6.1neg" => include_str!("../../models/vmaf_v0.6.1neg.json"),
        "vmaf_4k_v0.6.1" => include_str!("../../models/vmaf_4k_v0.6.1.json"),
        "vmaf_4k_v0.6.1neg" => include_str!("../../models/vmaf_4k_v0.6.1neg.json"),
        "vmaf_b_v0.6.3" => include_str!("../../models/vmaf_b_v0.6.3.json"),
        "vmaf_float_v0.6.1" => include_str!("../../models/vmaf_float_v0.6.1.json"),
        "vmaf_float_v0.6.1neg" => include_str!("../../models/vmaf_float_v0.6.1neg.json"),
        "vmaf_float_4k_v0.6.1" => include_str!("../../models/vmaf_float_4k_v0.6.1.json"),
        "vmaf_float_b_v0.6.3" => include_str!("../../models/vmaf_float_b_v0.6.3.json"),
        "vmaf_v1.0.16_3d0h" => include_str!("../../models/vmaf_v1.0.16_3d0h.json"),
        "vmaf_v1.0.16_3d0h_2160" => include_str!("../../models/vmaf_v1.0.16_3d0h_2160.json"),
        "vmaf_v1.0.16_5d0h" => include_str!("../../models/vmaf_v1.0.16_5d0h.json"),
        "vmaf_v1.0.16_1d5h_2160" => include_str!("../../models/vmaf_v1.0.16_1d5h_2160.json"),
        "vmaf_v1.0.16_hfr_3d0h" => include_str!("../../models/vmaf_v1.0.16_hfr_3d0h.json"),
        "vmaf_v1.0.16_hfr_3d0h_2160" => {
            include_str!("../../models/vmaf_v1.0.16_hfr_3d0h_2160.json")
        }
        "vmaf_v1.0.16_hfr_5d0h" => include_str!("../../models/vmaf_v1.0.16_hfr_5d0h.json"),
        "vmaf_v1.0.16_hfr_1d5h_2160" => {
            include_str!("../../models/vmaf_v1.0.16_hfr_1d5h_2160.json")
        }
        _ => return None,
    })
}

/// A feature extractor instance a model needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureRequest {
    /// Extractor name, e.g. `vif`.
    pub extractor: &'static str,
    /// Options as `key=value` text, ready for [`OptionValues::parse`] with the extractor's
    /// option table: the model file's `feature_opts_dicts` entry with overrides merged in.
    pub options: Vec<(String, String)>,
    /// libvmaf's identity for this instance: the extractor name with its non-default feature
    /// parameters appended (`vif`, `vif_egl_1`). libvmaf runs one instance per identity, the
    /// first one registered, however many models or features ask for it.
    pub instance: String,
}

/// One input feature of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInput {
    /// The feature as the model file names it, e.g. `VMAF_integer_feature_vif_scale0_score`.
    pub feature: String,
    /// The feature collector name its values are read from, e.g. `integer_vif_scale0_egl_1`.
    pub collector_name: String,
}

/// A model input resolved for prediction.
#[derive(Debug, Clone)]
struct Input {
    collector_name: String,
    slope: f64,
    intercept: f64,
}

/// Where `chroma_correction_parameter` reads and writes.
#[derive(Debug, Clone, Copy)]
struct ChromaCorrection {
    parameter: f64,
    /// The luma feature (the one whose name contains `adm3`).
    guiding: usize,
    /// The chroma feature (name contains `speed_chroma`), replaced when it is exactly zero.
    guided: usize,
}

/// One SVM with its scaling, transform and clip; a collection has several.
#[derive(Debug, Clone)]
struct Submodel {
    name: String,
    normalization: Normalization,
    inputs: Vec<Input>,
    clip: Option<(f64, f64)>,
    transform: Option<Transform>,
    chroma: Option<ChromaCorrection>,
    svm: SvmModel,
}

/// A loaded VMAF model or model collection.
#[derive(Debug, Clone)]
pub struct Model {
    name: String,
    main: Submodel,
    /// Collection members `"1"`, `"2"`, ...; empty for a plain model.
    members: Vec<Submodel>,
    requests: Vec<FeatureRequest>,
    inputs: Vec<ModelInput>,
}

type Lookup<'a> = &'a dyn Fn(&str) -> Option<&'static ExtractorInfo>;

impl Model {
    /// Loads the model `spec` names: a built-in version, or a libvmaf JSON model or model
    /// collection file. Fails when the file cannot be read or understood, when no known
    /// extractor provides one of its features, or when an option or override is refused.
    pub fn load(spec: &ModelSpec) -> Result<Model, EngineError> {
        Self::load_with(spec, &crate::feature::find_provider)
    }

    fn load_with(spec: &ModelSpec, lookup: Lookup<'_>) -> Result<Model, EngineError> {
        match &spec.source {
            ModelSource::BuiltIn(version) => {
                let text = built_in(version).ok_or_else(|| EngineError::Model {
                    source_name: version.clone(),
                    reason: format!(
                        "no such built-in model (built-in: {})",
                        BUILT_IN_VERSIONS.join(", ")
                    ),
                })?;
                Self::from_json(text, spec, lookup)
            }
            ModelSource::Path(path) => {
                let text = file::read_model_file(path).map_err(|reason| EngineError::Model {
                    source_name: path.display().to_string(),
                    reason,
                })?;
                Self::from_json(&text, spec, lookup)
            }
            // The engine does no networking: callers pull the artifact and load its file.
            ModelSource::Oci(reference) => Err(EngineError::Model {
                source_name: reference.to_string(),
                reason: "an oci:// model must be pulled first (vmafx model pull), then loaded \
                         by path"
                    .into(),
            }),
        }
    }

    fn from_json(text: &str, spec: &ModelSpec, lookup: Lookup<'_>) -> Result<Model, EngineError> {
        let label = spec.source.to_string();
        let fail = |reason: String| EngineError::Model {
            source_name: label.clone(),
            reason,
        };
        let flags = LoadFlags {
            disable_clip: spec.disable_clip,
            enable_transform: spec.enable_transform,
        };
        let base = spec.score_name().to_string();
        let mut files: Vec<(String, FileModel)> = match file::read(text, flags).map_err(fail)? {
            FileContents::Single(model) => vec![(base.clone(), model)],
            FileContents::Collection(main, members) => {
                let kind = members[0].kind;
                if !matches!(
                    kind,
                    Some(ModelKind::Bootstrap | ModelKind::ResidueBootstrap)
                ) {
                    return Err(fail(
                        "collection members must have model_type BOOTSTRAP_LIBSVMNUSVR or \
                         RESIDUEBOOTSTRAP_LIBSVMNUSVR"
                            .into(),
                    ));
                }
                if members.iter().any(|m| m.kind != kind) {
                    return Err(fail("collection members mix model types".into()));
                }
                let mut files = vec![(base.clone(), main)];
                for (i, member) in members.into_iter().enumerate() {
                    files.push((format!("{base}_{:04}", i + 1), member));
                }
                files
            }
        };

        // Which extractor computes each feature.
        let providers: Vec<Vec<&'static ExtractorInfo>> = files
            .iter()
            .map(|(_, model)| {
                model
                    .features
                    .iter()
                    .map(|f| {
                        lookup(&f.name).ok_or_else(|| {
                            fail(format!("no feature extractor provides \"{}\"", f.name))
                        })
                    })
                    .collect()
            })
            .collect::<Result<_, _>>()?;

        // Overrides land on every feature of the named extractor, in every member.
        for o in &spec.overrides {
            // libvmaf reads numeric option values as C floats: `1.0` and `1` are one option
            // value, and that text is what derived feature names carry.
            let normalized = spec::normalize_number(&o.value);
            let mut used = false;
            for ((_, model), infos) in files.iter_mut().zip(&providers) {
                for (feature, info) in model.features.iter_mut().zip(infos) {
                    if info.name == o.extractor {
                        set_option(&mut feature.options, &o.option, &normalized);
                        used = true;
                    }
                }
            }
            if !used {
                return Err(EngineError::InvalidOption {
                    owner: "--model".into(),
                    key: format!("{}.{}", o.extractor, o.option),
                    value: o.value.clone(),
                    reason: format!(
                        "model {label} has no feature computed by \"{}\"",
                        o.extractor
                    ),
                });
            }
        }

        let mut requests: Vec<FeatureRequest> = Vec::new();
        let mut inputs: Vec<ModelInput> = Vec::new();
        let mut submodels = Vec::with_capacity(files.len());
        for ((name, model), infos) in files.into_iter().zip(&providers) {
            let mut resolved = Vec::with_capacity(model.features.len());
            for (feature, info) in model.features.iter().zip(infos) {
                let values = OptionValues::parse(info.name, info.options, &feature.options)
                    .map_err(|e| fail(e.to_string()))?;
                let collector_name = values.feature_name(&feature.name);
                let instance = values.feature_name(info.name);
                if !requests.iter().any(|r| r.instance == instance) {
                    requests.push(FeatureRequest {
                        extractor: info.name,
                        options: feature.options.clone(),
                        instance,
                    });
                }
                if !inputs.iter().any(|i| i.collector_name == collector_name) {
                    inputs.push(ModelInput {
                        feature: feature.name.clone(),
                        collector_name: collector_name.clone(),
                    });
                }
                resolved.push(Input {
                    collector_name,
                    slope: feature.slope,
                    intercept: feature.intercept,
                });
            }
            let chroma = match model.chroma_correction {
                None => None,
                Some(parameter) => Some(chroma_correction(&model, parameter).map_err(fail)?),
            };
            submodels.push(Submodel {
                name,
                normalization: model.normalization,
                inputs: resolved,
                clip: model.clip,
                transform: model.transform,
                chroma,
                svm: model.svm,
            });
        }

        let main = submodels.remove(0);
        Ok(Model {
            name: base,
            main,
            members: submodels,
            requests,
            inputs,
        })
    }

    /// The name the model's score is written under (`vmaf` unless the spec said `name=`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is a model collection, whose predictions include per-member scores and
    /// bootstrap statistics.
    pub fn is_collection(&self) -> bool {
        !self.members.is_empty()
    }

    /// The extractor instances the model needs, in the order libvmaf registers them, without
    /// duplicates (see [`FeatureRequest::instance`]).
    pub fn feature_requests(&self) -> &[FeatureRequest] {
        &self.requests
    }

    /// The model's input features with the collector names their values are read from, in
    /// model order, without duplicates.
    pub fn inputs(&self) -> &[ModelInput] {
        &self.inputs
    }

    /// Predicts frame `index` from the values in `collector`, returning the values libvmaf
    /// appends to its feature collector for this model, in its order.
    ///
    /// A plain model yields one pair, `(name, score)`. A collection yields the main model's
    /// score first, then each member's score (`name_0001`, ...) and `name_bagging`,
    /// `name_stddev`, `name_ci_p95_lo`, `name_ci_p95_hi`. libvmaf's tool writes the first
    /// value of every model for all frames before any collection extras, so in its output the
    /// extra columns come after the scores of all models.
    pub fn predict(
        &self,
        collector: &FeatureCollector,
        index: u32,
    ) -> Result<Vec<(String, f64)>, EngineError> {
        let main = self.main.predict(collector, index, true)?;
        if self.members.is_empty() {
            return Ok(vec![(self.name.clone(), main)]);
        }
        let mut out = Vec::with_capacity(self.members.len() + 5);
        out.push((self.name.clone(), main));
        let mut raw = Vec::with_capacity(self.members.len());
        for member in &self.members {
            // The statistics use untransformed, unclipped scores; the written per-member
            // score is the finished one.
            raw.push(member.predict(collector, index, false)?);
            out.push((member.name.clone(), member.predict(collector, index, true)?));
        }
        let stats = bootstrap(&mut raw, &self.members[0]);
        for (suffix, value) in [
            ("_bagging", stats.bagging),
            ("_stddev", stats.stddev),
            ("_ci_p95_lo", stats.ci_low),
            ("_ci_p95_hi", stats.ci_high),
        ] {
            out.push((format!("{}{suffix}", self.name), value));
        }
        Ok(out)
    }
}

/// Sets `key` in a libvmaf-style option dictionary: replaced in place if present, else added
/// at the end.
fn set_option(options: &mut Vec<(String, String)>, key: &str, value: &str) {
    match options.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value.to_string(),
        None => options.push((key.to_string(), value.to_string())),
    }
}

fn chroma_correction(model: &FileModel, parameter: f64) -> Result<ChromaCorrection, String> {
    if parameter == 0.0 {
        // libvmaf silently produces no score at all for such a model.
        return Err("chroma_correction_parameter 0 leaves the model without a score".into());
    }
    let find = |needle: &str| -> Result<usize, String> {
        let mut hits = model
            .features
            .iter()
            .enumerate()
            .filter(|(_, f)| f.name.contains(needle))
            .map(|(i, _)| i);
        match (hits.next(), hits.next()) {
            (Some(i), None) => Ok(i),
            _ => Err(format!(
                "chroma_correction_parameter needs exactly one feature containing \"{needle}\""
            )),
        }
    };
    Ok(ChromaCorrection {
        parameter,
        guiding: find("adm3")?,
        guided: find("speed_chroma")?,
    })
}

impl Submodel {
    /// One prediction; `finish` applies the transform and clip (the bootstrap statistics are
    /// taken without them).
    fn predict(
        &self,
        collector: &FeatureCollector,
        index: u32,
        finish: bool,
    ) -> Result<f64, EngineError> {
        let norm = self.normalization;
        let mut x = Vec::with_capacity(self.inputs.len());
        for input in &self.inputs {
            let value = collector.get(&input.collector_name, index).ok_or_else(|| {
                EngineError::MissingFeature {
                    feature: input.collector_name.clone(),
                    index,
                }
            })?;
            x.push(norm.feature(input.slope, input.intercept, value));
        }
        if let Some(c) = self.chroma {
            self.correct_chroma(c, &mut x);
        }
        let mut y = norm.prediction(self.svm.predict(&x));
        if finish {
            y = self.finish(y);
        }
        Ok(y)
    }

    fn finish(&self, y: f64) -> f64 {
        let y = match &self.transform {
            Some(t) => t.apply(y),
            None => y,
        };
        clip(self.clip, y)
    }

    /// A chroma feature of exactly zero is replaced by `c − c·luma`, luma being the
    /// denormalised guiding feature, renormalised with the chroma feature's own scaling.
    fn correct_chroma(&self, c: ChromaCorrection, x: &mut [f64]) {
        let norm = self.normalization;
        let guided = &self.inputs[c.guided];
        if norm.feature_inverse(guided.slope, guided.intercept, x[c.guided]) != 0.0 {
            return;
        }
        let guiding = &self.inputs[c.guiding];
        let luma = norm.feature_inverse(guiding.slope, guiding.intercept, x[c.guiding]);
        let corrected = (-c.parameter * luma) + c.parameter;
        x[c.guided] = norm.feature(guided.slope, guided.intercept, corrected);
    }
}

/// A collection's per-frame summary.
struct Bootstrap {
    bagging: f64,
    stddev: f64,
    ci_low: f64,
    ci_high: f64,
}

/// Mean, spread and 95% interval of the members' raw scores, then put through the first
/// member's transform and clip; the spread is scaled by the transform's local slope.
fn bootstrap(raw: &mut [f64], first: &Submodel) -> Bootstrap {
    const DELTA: f64 = 0.01;
    let n = raw.len() as f64;
    let mut sum = 0.0;
    for &s in raw.iter() {
        sum += s;
    }
    let mean = sum / n;
    let mut squares = 0.0;
    for &s in raw.iter() {
        let d = s - mean;
        squares += d * d;
    }
    let stddev = (squares / n).sqrt();
    raw.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let ci_low = percentile(raw, 2.5);
    let ci_high = percentile(raw, 97.5);
    let above = first.finish(mean + DELTA);
    let below = first.finish(mean - DELTA);
    let slope = (above - below) / (2.0 * DELTA);
    Bootstrap {
        bagging: first.finish(mean),
        stddev: stddev * slope,
        ci_low: first.finish(ci_low),
        ci_high: first.finish(ci_high),
    }
}

/// Linear-interpolated percentile of sorted values, as libvmaf computes it.
fn percentile(sorted: &[f64], percent: f64) -> f64 {
    let position = percent * (sorted.len() - 1) as f64 / 100.0;
    let low = position.floor();
    let high = position.ceil();
    let (l, h) = (low as usize, high as usize);
    if l == h {
        sorted[l]
    } else {
        sorted[l] * (high - position) + sorted[h] * (position - low)
    }
}

#[cfg(test)]
mod tests {
    use super::golden::{load, test_lookup};
    use super::*;

    #[test]
    fn the_contract_lists_exactly_the_embedded_models() {
        for version in vmafx_contract::model::BUILT_IN_MODELS {
            assert!(built_in(version).is_some(), "{version} is not embedded");
        }
        let models = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/models")).unwrap();
        let embedded = models
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".json"))
                    .map(str::to_owned)
            })
            .filter(|n| built_in(n).is_some())
            .count();
        assert_eq!(embedded, vmafx_contract::model::BUILT_IN_MODELS.len());
    }

    /// A request as (extractor, options, instance), for comparisons.
    type RequestView<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);

    fn requests(model: &Model) -> Vec<RequestView<'_>> {
        model
            .feature_requests()
            .iter()
            .map(|r| {
                let opts = r
                    .options
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                (r.extractor, opts, r.instance.as_str())
            })
            .collect()
    }

    fn collector_names(model: &Model) -> Vec<&str> {
        model
            .inputs()
            .iter()
            .map(|i| i.collector_name.as_str())
            .collect()
    }

    #[test]
    fn default_model_needs_adm_motion_vif_at_defaults() {
        let model = load("version=vmaf_v0.6.1");
        assert_eq!(model.name(), "vmaf");
        assert!(!model.is_collection());
        assert_eq!(
            requests(&model),
            [
                ("adm", vec![], "adm"),
                ("motion", vec![], "motion"),
                ("vif", vec![], "vif")
            ]
        );
        assert_eq!(
            collector_names(&model),
            [
                "VMAF_integer_feature_adm2_score",
                "VMAF_integer_feature_motion2_score",
                "VMAF_integer_feature_vif_scale0_score",
                "VMAF_integer_feature_vif_scale1_score",
                "VMAF_integer_feature_vif_scale2_score",
                "VMAF_integer_feature_vif_scale3_score",
            ]
        );
        assert_eq!(model.inputs()[0].feature, "VMAF_integer_feature_adm2_score");
    }

    #[test]
    fn neg_models_ask_for_gain_limited_features() {
        for version in ["vmaf_v0.6.1neg", "vmaf_4k_v0.6.1neg"] {
            let model = load(&format!("version={version}:name=neg"));
            assert_eq!(model.name(), "neg");
            // The JSON says 1.0; libvmaf's dictionary holds "1", hence the `_egl_1` names.
            assert_eq!(
                requests(&model),
                [
                    ("adm", vec![("adm_enhn_gain_limit", "1")], "adm_egl_1"),
                    ("motion", vec![], "motion"),
                    ("vif", vec![("vif_enhn_gain_limit", "1")], "vif_egl_1"),
                ]
            );
            assert_eq!(
                collector_names(&model),
                [
                    "integer_adm2_egl_1",
                    "VMAF_integer_feature_motion2_score",
                    "integer_vif_scale0_egl_1",
                    "integer_vif_scale1_egl_1",
                    "integer_vif_scale2_egl_1",
                    "integer_vif_scale3_egl_1",
                ]
            );
        }
    }

    #[test]
    fn overrides_change_options_and_names() {
        let model =
            load("version=vmaf_v0.6.1neg:vif.vif_enhn_gain_limit=1.50:adm.adm_enhn_gain_limit=100");
        assert_eq!(
            requests(&model),
            [
                ("adm", vec![("adm_enhn_gain_limit", "100")], "adm"),
                ("motion", vec![], "motion"),
                ("vif", vec![("vif_enhn_gain_limit", "1.5")], "vif_egl_1.5"),
            ]
        );
        assert_eq!(
            collector_names(&model)[0],
            "VMAF_integer_feature_adm2_score"
        );
        assert_eq!(collector_names(&model)[2], "integer_vif_scale0_egl_1.5");

        let model = load("version=vmaf_v0.6.1:motion.motion_force_zero=true");
        assert_eq!(
            requests(&model)[1],
            (
                "motion",
                vec![("motion_force_zero", "true")],
                "motion_force_0"
            )
        );
        assert_eq!(collector_names(&model)[1], "integer_motion2_force_0");
    }

    #[test]
    fn bad_overrides_name_the_key() {
        let cases = [
            (
                "version=vmaf_v0.6.1:psnr.enable_chroma=true",
                "psnr.enable_chroma",
            ),
            ("version=vmaf_v0.6.1:vif.nope=1", "nope"),
            (
                "version=vmaf_v0.6.1:vif.vif_enhn_gain_limit=0.5",
                "vif_enhn_gain_limit",
            ),
        ];
        for (arg, needle) in cases {
            let spec = parse_model(arg).unwrap();
            let err = Model::load_with(&spec, &test_lookup)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{arg}: {err}");
        }
    }

    #[test]
    fn load_errors_name_the_source_and_problem() {
        let err = Model::load(&parse_model("version=vmaf_v9").unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("vmaf_v9") && err.contains("vmaf_4k_v0.6.1neg"),
            "{err}"
        );

        let missing = "/nonexistent/dir/model.json";
        let err = Model::load(&parse_model(&format!("path={missing}")).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains(missing), "{err}");

        let dir = std::env::temp_dir().join(format!("vmafx-model-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let broken = dir.join("broken.json");
        std::fs::write(&broken, "{\"model_dict\": {\"norm_type\": \"none\"}}").unwrap();
        let spec = parse_model(&format!("path={}", broken.display())).unwrap();
        let err = Model::load_with(&spec, &test_lookup)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("broken.json") && err.contains("feature_names"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).ok();

        // A feature no extractor provides (a float-feature model, say).
        let spec = ModelSpec::default();
        let err = Model::load_with(&spec, &|_: &str| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("VMAF_integer_feature_adm2_score"), "{err}");
    }

    #[test]
    fn missing_features_are_reported_by_collector_name() {
        let model = load("version=vmaf_v0.6.1neg");
        let mut c = FeatureCollector::new();
        c.append("integer_adm2_egl_1", 3, 0.9).unwrap();
        match model.predict(&c, 3) {
            Err(EngineError::MissingFeature { feature, index }) => {
                assert_eq!(
                    (feature.as_str(), index),
                    ("VMAF_integer_feature_motion2_score", 3)
                );
            }
            other => panic!("expected a missing feature, got {other:?}"),
        }
    }

    #[test]
    fn collection_outputs_follow_the_model_name() {
        let member = built_in("vmaf_v0.6.1")
            .unwrap_or_default()
            .replace("\"LIBSVMNUSVR\"", "\"BOOTSTRAP_LIBSVMNUSVR\"");
        let text = format!("{{\"0\": {member}, \"1\": {member}, \"2\": {member}}}");
        let spec = parse_model("path=c.json:name=foo").unwrap();
        let model = Model::from_json(&text, &spec, &test_lookup).unwrap();
        assert!(model.is_collection());
        assert_eq!(requests(&model).len(), 3);
        let mut c = FeatureCollector::new();
        for input in model.inputs() {
            c.append(&input.collector_name, 0, 0.5).unwrap();
        }
        let names: Vec<String> = model
            .predict(&c, 0)
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            [
                "foo",
                "foo_0001",
                "foo_0002",
                "foo_bagging",
                "foo_stddev",
                "foo_ci_p95_lo",
                "foo_ci_p95_hi"
            ]
        );

        // Members must all be bootstrap models.
        let plain = built_in("vmaf_v0.6.1").unwrap_or_default();
        let text = format!("{{\"0\": {plain}, \"1\": {plain}}}");
        let err = Model::from_json(&text, &spec, &test_lookup)
            .unwrap_err()
            .to_string();
        assert!(err.contains("BOOTSTRAP"), "{err}");
    }

    #[test]
    fn real_extractors_resolve_like_the_test_registry() {
        for arg in [
            "version=vmaf_v0.6.1",
            "version=vmaf_v0.6.1neg",
            "version=vmaf_4k_v0.6.1",
            "version=vmaf_4k_v0.6.1neg:vif.vif_enhn_gain_limit=1.5",
            "version=vmaf_b_v0.6.3",
            "version=vmaf_b_v0.6.3:name=b:adm.adm_enhn_gain_limit=1.2",
        ] {
            let real = Model::load(&parse_model(arg).unwrap()).unwrap();
            let test = load(arg);
            assert_eq!(real.inputs(), test.inputs(), "{arg}");
            assert_eq!(real.feature_requests(), test.feature_requests(), "{arg}");
        }
    }

    #[test]
    fn bootstrap_model_is_built_in() {
        // What a controller does with a job's `models`: load a built-in to validate it.
        let model = Model::load(&parse_model("version=vmaf_b_v0.6.3").unwrap()).unwrap();
        assert_eq!(model.name(), "vmaf");
        assert!(model.is_collection());
        assert_eq!(model.members.len(), 20);
        // Every member reads the features vmaf_v0.6.1 reads, from the same extractors.
        let plain = Model::load(&parse_model("version=vmaf_v0.6.1").unwrap()).unwrap();
        assert_eq!(model.inputs(), plain.inputs());
        assert_eq!(model.feature_requests(), plain.feature_requests());
    }

    #[test]
    fn percentiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&v, 50.0), 3.0);
        assert_eq!(percentile(&v, 2.5), 1.0 * (1.0 - 0.1) + 2.0 * 0.1);
        assert_eq!(percentile(&[7.0], 97.5), 7.0);
    }
}
