//! Reading libvmaf's JSON model format: a single model (`{"model_dict": {...}}`) or a model
//! collection (`{"0": {"model_dict": ...}, "1": ..., ...}`), with the same key meanings, load
//! flags and value normalisation as libvmaf's reader.

use super::json::Json;
use super::score::{check_knots, Normalization, Transform};
use super::spec::normalize_number;
use super::svm::SvmModel;

/// libvmaf's fixed limits on features per model and knots per transform.
const MAX_FEATURES: usize = 64;
const MAX_KNOTS: usize = 10;

/// How a model file's `model_type` classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ModelKind {
    /// `LIBSVMNUSVR`: a plain model.
    Plain,
    /// `BOOTSTRAP_LIBSVMNUSVR`: a member of a bootstrap collection.
    Bootstrap,
    /// `RESIDUEBOOTSTRAP_LIBSVMNUSVR`: a member of a residue-bootstrap collection.
    ResidueBootstrap,
}

/// Load-time switches from the model argument.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LoadFlags {
    pub disable_clip: bool,
    pub enable_transform: bool,
}

/// One model feature as the file describes it.
#[derive(Debug, Clone)]
pub(crate) struct FileFeature {
    /// Model feature name, e.g. `VMAF_integer_feature_adm2_score`.
    pub name: String,
    pub slope: f64,
    pub intercept: f64,
    /// Extractor options from `feature_opts_dicts`, values as libvmaf's dictionary holds them.
    pub options: Vec<(String, String)>,
}

/// One model as read from its `model_dict`.
#[derive(Debug, Clone)]
pub(crate) struct FileModel {
    pub kind: Option<ModelKind>,
    pub normalization: Normalization,
    pub features: Vec<FileFeature>,
    /// `None` when the file has no `score_clip` or clipping was disabled at load.
    pub clip: Option<(f64, f64)>,
    /// `None` unless the transform is enabled (by the file or the load flag).
    pub transform: Option<Transform>,
    pub chroma_correction: Option<f64>,
    pub svm: SvmModel,
}

/// What a model file holds.
pub(crate) enum FileContents {
    Single(FileModel),
    /// Model `"0"`, then members `"1"`, `"2"`, ...
    Collection(FileModel, Vec<FileModel>),
}

/// Reads a model or model collection document.
pub(crate) fn read(text: &str, flags: LoadFlags) -> Result<FileContents, String> {
    let doc = Json::parse(text).map_err(|e| e.to_string())?;
    if !matches!(doc, Json::Object(_)) {
        return Err(format!("expected a JSON object, found {}", doc.kind()));
    }
    if let Some(dict) = doc.get("model_dict") {
        return read_model_dict(dict, flags).map(FileContents::Single);
    }
    // libvmaf falls back to reading a collection when there is no model_dict: members keyed
    // "0", "1", ... with at least two of them.
    let mut models = Vec::new();
    while let Some(entry) = doc.get(&models.len().to_string()) {
        let key = models.len();
        let dict = entry
            .get("model_dict")
            .ok_or_else(|| format!("collection member \"{key}\" has no model_dict"))?;
        let model = read_model_dict(dict, flags)
            .map_err(|e| format!("collection member \"{key}\": {e}"))?;
        models.push(model);
    }
    if models.len() < 2 {
        return Err(
            "no \"model_dict\" and not a model collection (members \"0\", \"1\", ...)".into(),
        );
    }
    let first = models.remove(0);
    Ok(FileContents::Collection(first, models))
}

fn numbers(key: &str, value: &Json) -> Result<Vec<f64>, String> {
    let Json::Array(items) = value else {
        return Err(format!(
            "\"{key}\" must be an array, found {}",
            value.kind()
        ));
    };
    items
        .iter()
        .map(|item| {
            item.as_f64()
                .ok_or_else(|| format!("\"{key}\" must hold numbers, found {}", item.kind()))
        })
        .collect()
}

fn string<'a>(key: &str, value: &'a Json) -> Result<&'a str, String> {
    match value {
        Json::String(s) => Ok(s),
        other => Err(format!(
            "\"{key}\" must be a string, found {}",
            other.kind()
        )),
    }
}

fn read_model_dict(dict: &Json, flags: LoadFlags) -> Result<FileModel, String> {
    let Json::Object(members) = dict else {
        return Err(format!(
            "\"model_dict\" must be an object, found {}",
            dict.kind()
        ));
    };
    let mut kind = None;
    let mut norm_type = None;
    let mut slopes = None;
    let mut intercepts = None;
    let mut names: Option<Vec<String>> = None;
    let mut opts: Option<Vec<Vec<(String, String)>>> = None;
    let mut clip = None;
    let mut transform = None;
    let mut chroma_correction = None;
    let mut svm_text = None;

    for (key, value) in members {
        match key.as_str() {
            "model_type" => {
                kind = Some(match string(key, value)? {
                    "LIBSVMNUSVR" => ModelKind::Plain,
                    "BOOTSTRAP_LIBSVMNUSVR" => ModelKind::Bootstrap,
                    "RESIDUEBOOTSTRAP_LIBSVMNUSVR" => ModelKind::ResidueBootstrap,
                    other => return Err(format!("unknown model_type \"{other}\"")),
                })
            }
            "norm_type" => {
                norm_type = Some(match string(key, value)? {
                    "linear_rescale" => true,
                    "none" => false,
                    other => return Err(format!("unknown norm_type \"{other}\"")),
                })
            }
            "score_clip" => {
                let Json::Array(items) = value else {
                    return Err(format!(
                        "\"score_clip\" must be an array, found {}",
                        value.kind()
                    ));
                };
                // With clipping disabled libvmaf skips the contents unread.
                if !flags.disable_clip {
                    let bound = |i: usize| {
                        items
                            .get(i)
                            .and_then(Json::as_f64)
                            .ok_or("\"score_clip\" must start with two numbers [min, max]")
                    };
                    clip = Some((bound(0)?, bound(1)?));
                }
            }
            "score_transform" => {
                let mut t = read_transform(value)?;
                if flags.enable_transform {
                    t.0 = true;
                }
                transform = t.0.then_some(t.1);
            }
            "chroma_correction_parameter" => {
                chroma_correction = Some(value.as_f64().ok_or_else(|| {
                    format!(
                        "\"chroma_correction_parameter\" must be a number, found {}",
                        value.kind()
                    )
                })?)
            }
            "slopes" => slopes = Some(non_empty(key, numbers(key, value)?)?),
            "intercepts" => intercepts = Some(non_empty(key, numbers(key, value)?)?),
            "feature_names" => {
                let Json::Array(items) = value else {
                    return Err(format!(
                        "\"feature_names\" must be an array, found {}",
                        value.kind()
                    ));
                };
                names = Some(
                    items
                        .iter()
                        .map(|item| string(key, item).map(str::to_string))
                        .collect::<Result<_, _>>()?,
                );
            }
            "feature_opts_dicts" => opts = Some(read_opts_dicts(value)?),
            "model" => svm_text = Some(string(key, value)?),
            _ => {}
        }
    }

    let names = names.ok_or("no \"feature_names\"")?;
    if names.is_empty() || names.len() > MAX_FEATURES {
        return Err(format!(
            "\"feature_names\" must list 1 to {MAX_FEATURES} features, found {}",
            names.len()
        ));
    }
    let n = names.len();
    let opts = opts.unwrap_or_default();
    if opts.len() > n {
        return Err(format!(
            "{} feature_opts_dicts for {n} features",
            opts.len()
        ));
    }
    let linear = norm_type.ok_or("no \"norm_type\"")?;
    let (normalization, slopes, intercepts) = if linear {
        let slopes = slopes.ok_or("norm_type linear_rescale needs \"slopes\"")?;
        let intercepts = intercepts.ok_or("norm_type linear_rescale needs \"intercepts\"")?;
        if slopes.len() != n + 1 || intercepts.len() != n + 1 {
            return Err(format!(
                "{n} features need {} slopes and intercepts, found {} and {}",
                n + 1,
                slopes.len(),
                intercepts.len()
            ));
        }
        let norm = Normalization::LinearRescale {
            slope: slopes[0],
            intercept: intercepts[0],
        };
        (norm, slopes, intercepts)
    } else {
        (Normalization::None, vec![0.0; n + 1], vec![0.0; n + 1])
    };
    let svm_text = svm_text.ok_or("no libsvm \"model\"")?;
    let svm = SvmModel::parse(svm_text, n)?;

    let mut opts = opts.into_iter();
    let features = names
        .into_iter()
        .enumerate()
        .map(|(i, name)| FileFeature {
            name,
            slope: slopes[i + 1],
            intercept: intercepts[i + 1],
            options: opts.next().unwrap_or_default(),
        })
        .collect();

    Ok(FileModel {
        kind,
        normalization,
        features,
        clip,
        transform,
        chroma_correction,
        svm,
    })
}

fn non_empty(key: &str, v: Vec<f64>) -> Result<Vec<f64>, String> {
    if v.is_empty() {
        Err(format!("\"{key}\" is empty"))
    } else {
        Ok(v)
    }
}

/// Reads `score_transform`, returning whether the file enables it and its contents.
fn read_transform(value: &Json) -> Result<(bool, Transform), String> {
    let Json::Object(members) = value else {
        return Err(format!(
            "\"score_transform\" must be an object, found {}",
            value.kind()
        ));
    };
    let mut enabled = false;
    let mut t = Transform::default();
    for (key, value) in members {
        let poly_slot = match key.as_str() {
            "p0" => Some(0),
            "p1" => Some(1),
            "p2" => Some(2),
            _ => None,
        };
        if let Some(slot) = poly_slot {
            t.poly[slot] = match value {
                Json::Null => None,
                other => Some(other.as_f64().ok_or_else(|| {
                    format!("score_transform \"{key}\" must be a number or null")
                })?),
            };
            continue;
        }
        match key.as_str() {
            "enabled" => match value {
                Json::Bool(b) => enabled = *b,
                other => {
                    return Err(format!(
                        "score_transform \"enabled\" must be true or false, found {}",
                        other.kind()
                    ))
                }
            },
            "knots" => t.knots = read_knots(value)?,
            // A string, and only "true" switches it on; libvmaf ignores other strings.
            "out_lte_in" => t.out_lte_in |= string(key, value)? == "true",
            "out_gte_in" => t.out_gte_in |= string(key, value)? == "true",
            _ => {}
        }
    }
    Ok((enabled, t))
}

fn read_knots(value: &Json) -> Result<Option<Vec<(f64, f64)>>, String> {
    let items = match value {
        Json::Null => return Ok(None),
        Json::Array(items) => items,
        other => {
            return Err(format!(
                "score_transform \"knots\" must be an array, found {}",
                other.kind()
            ))
        }
    };
    if items.len() > MAX_KNOTS {
        return Err(format!(
            "at most {MAX_KNOTS} knots are supported, found {}",
            items.len()
        ));
    }
    let knots = items
        .iter()
        .map(|knot| match knot {
            Json::Array(xy) if xy.len() == 2 => match (xy[0].as_f64(), xy[1].as_f64()) {
                (Some(x), Some(y)) => Ok((x, y)),
                _ => Err("each knot must be [x, y] numbers".to_string()),
            },
            _ => Err("each knot must be [x, y] numbers".to_string()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_knots(&knots)?;
    Ok(Some(knots))
}

/// Reads `feature_opts_dicts` into libvmaf's dictionary form: numbers normalised through
/// `float` and `%g` (`1.0` becomes `1`), booleans as `true`/`false`, strings unchanged. A key
/// repeated with a different value is an error, as libvmaf's no-overwrite insert makes it.
fn read_opts_dicts(value: &Json) -> Result<Vec<Vec<(String, String)>>, String> {
    let Json::Array(dicts) = value else {
        return Err(format!(
            "\"feature_opts_dicts\" must be an array, found {}",
            value.kind()
        ));
    };
    if dicts.len() > MAX_FEATURES {
        return Err(format!("more than {MAX_FEATURES} feature_opts_dicts"));
    }
    dicts
        .iter()
        .map(|dict| {
            let Json::Object(members) = dict else {
                return Err(format!(
                    "feature_opts_dicts entries must be objects, found {}",
                    dict.kind()
                ));
            };
            let mut out: Vec<(String, String)> = Vec::with_capacity(members.len());
            for (key, value) in members {
                let text = match value {
                    Json::Number(text) => normalize_number(text),
                    Json::Bool(b) => b.to_string(),
                    Json::String(s) => s.clone(),
                    other => {
                        return Err(format!(
                            "feature option \"{key}\" cannot be {}",
                            other.kind()
                        ))
                    }
                };
                match out.iter().find(|(k, _)| k == key) {
                    Some((_, existing)) if *existing == text => {}
                    Some((_, existing)) => {
                        return Err(format!(
                            "feature option \"{key}\" given twice (\"{existing}\" and \"{text}\")"
                        ))
                    }
                    None => out.push((key.clone(), text)),
                }
            }
            Ok(out)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVM: &str = "svm_type nu_svr\\nkernel_type rbf\\ngamma 0.04\\nnr_class 2\\ntotal_sv 1\\nrho 1\\nSV\\n1 1:0.5 2:0.5 \\n";

    fn doc(extra: &str) -> String {
        format!(
            r#"{{"model_dict": {{"model": "{SVM}", "norm_type": "linear_rescale",
                "feature_names": ["a", "b"], "slopes": [1.0, 2.0, 3.0],
                "intercepts": [0.5, 0.25, 0.125], "score_clip": [0.0, 100.0]{extra}}}}}"#
        )
    }

    fn single(text: &str, flags: LoadFlags) -> Result<FileModel, String> {
        match read(text, flags)? {
            FileContents::Single(m) => Ok(m),
            FileContents::Collection(..) => Err("collection".into()),
        }
    }

    #[test]
    fn reads_a_plain_model() {
        let m = single(&doc(""), LoadFlags::default()).unwrap();
        assert_eq!(m.kind, None);
        assert_eq!(
            m.normalization,
            Normalization::LinearRescale {
                slope: 1.0,
                intercept: 0.5
            }
        );
        assert_eq!((m.features[1].slope, m.features[1].intercept), (3.0, 0.125));
        assert_eq!(m.clip, Some((0.0, 100.0)));
        assert!(m.transform.is_none());
        let no_clip = LoadFlags {
            disable_clip: true,
            ..LoadFlags::default()
        };
        assert_eq!(single(&doc(""), no_clip).unwrap().clip, None);
    }

    #[test]
    fn transform_is_enabled_by_the_file_or_the_flag() {
        let st = r#", "score_transform": {"p0": 1.0, "p1": null, "p2": 0.5, "out_gte_in": "true"}"#;
        assert!(single(&doc(st), LoadFlags::default())
            .unwrap()
            .transform
            .is_none());
        let on = LoadFlags {
            enable_transform: true,
            ..LoadFlags::default()
        };
        let t = single(&doc(st), on).unwrap().transform.unwrap();
        assert_eq!(t.poly, [Some(1.0), None, Some(0.5)]);
        assert!(t.out_gte_in && !t.out_lte_in);
        let enabled = r#", "score_transform": {"enabled": true, "knots": [[0, 0], [100, 90]]}"#;
        let t = single(&doc(enabled), LoadFlags::default())
            .unwrap()
            .transform
            .unwrap();
        assert_eq!(t.knots, Some(vec![(0.0, 0.0), (100.0, 90.0)]));
        // Without a score_transform entry the flag has nothing to enable.
        assert!(single(&doc(""), on).unwrap().transform.is_none());
    }

    #[test]
    fn option_dicts_are_normalised() {
        let extra =
            r#", "feature_opts_dicts": [{"x": 1.0, "y": true, "z": "s", "w": 0.123456789}]"#;
        let m = single(&doc(extra), LoadFlags::default()).unwrap();
        let opts: Vec<_> = m.features[0]
            .options
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            opts,
            [("x", "1"), ("y", "true"), ("z", "s"), ("w", "0.123457")]
        );
        assert!(m.features[1].options.is_empty());
        let dup = r#", "feature_opts_dicts": [{"x": 1.0, "x": 1}]"#;
        assert!(single(&doc(dup), LoadFlags::default()).is_ok());
        let clash = r#", "feature_opts_dicts": [{"x": 1.0, "x": 2}]"#;
        assert!(single(&doc(clash), LoadFlags::default())
            .unwrap_err()
            .contains("twice"));
    }

    #[test]
    fn reads_collections() {
        let member = doc("");
        let text = format!(r#"{{"0": {member}, "1": {member}, "2": {member}}}"#);
        match read(&text, LoadFlags::default()).unwrap() {
            FileContents::Collection(_, members) => assert_eq!(members.len(), 2),
            FileContents::Single(_) => panic!("read as a single model"),
        }
        let lonely = format!(r#"{{"0": {member}}}"#);
        assert!(read(&lonely, LoadFlags::default()).is_err());
    }

    #[test]
    fn refuses_broken_models() {
        let cases = [
            (doc(r#", "model_type": "FOO""#), "model_type"),
            (doc("").replace("linear_rescale", "clip_0to1"), "norm_type"),
            (doc("").replace("[1.0, 2.0, 3.0]", "[1.0, 2.0]"), "slopes"),
            (doc("").replace("[0.0, 100.0]", "[0.0]"), "score_clip"),
            (doc(r#", "score_transform": {"enabled": "yes"}"#), "enabled"),
            (
                doc(r#", "score_transform": {"knots": [[0, 5], [0, 6]]}"#),
                "knots",
            ),
            (
                doc(r#", "score_transform": {"out_gte_in": true}"#),
                "out_gte_in",
            ),
            (
                doc(r#", "feature_opts_dicts": [{}, {}, {}]"#),
                "feature_opts_dicts",
            ),
            (doc(r#", "feature_opts_dicts": [{"x": null}]"#), "\"x\""),
            (doc("").replace("rbf", "sigmoid"), "kernel_type"),
            ("[1]".to_string(), "object"),
            ("{\"x\": 1}".to_string(), "collection"),
            ("{".to_string(), "JSON"),
        ];
        for (text, needle) in cases {
            let err = read(&text, LoadFlags::default()).err().unwrap_or_default();
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        }
    }
}
