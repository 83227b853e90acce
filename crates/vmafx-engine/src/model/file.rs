//! Reading libvmaf's JSON model format: a single model (`{"model_dict": {...}}`) or a model
//! collection (`{"0": {"model_dict": ...}, "1": ..., ...}`), with the same key meanings, load
//! flags and value normalisation as libvmaf's reader.

use std::io::Read;
use std::path::Path;

use super::json::{quoted, Json};
use super::score::{check_knots, Normalization, Transform};
use super::spec::normalize_number;
use super::svm::SvmModel;

/// libvmaf's fixed limits on features per model and knots per transform.
const MAX_FEATURES: usize = 64;
const MAX_KNOTS: usize = 10;

/// Largest model file read, in bytes: 16 MiB. libvmaf's models take 20 KB, its largest
/// bootstrap collections under 1 MB; the limit keeps `path=/dev/zero`-like inputs and
/// accidental multi-gigabyte files from exhausting memory.
pub(crate) const MAX_MODEL_FILE_BYTES: u64 = 16 << 20;
/// Most members a model collection may hold; libvmaf's bootstrap collections hold 21. Every
/// member is evaluated on every frame.
pub(crate) const MAX_COLLECTION_MEMBERS: usize = 128;
/// Longest feature name, option key or option string accepted from a model file, in bytes.
const MAX_NAME_BYTES: usize = 256;

/// Reads a model file as text: a regular file (not a device, FIFO or directory) of at most
/// [`MAX_MODEL_FILE_BYTES`], holding UTF-8. Errors are one line and do not repeat the path.
pub(crate) fn read_model_file(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("failed to open: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("failed to read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_MODEL_FILE_BYTES {
        return Err(format!(
            "file is {} bytes, over the limit of {MAX_MODEL_FILE_BYTES}",
            meta.len()
        ));
    }
    // The file may grow after the size check; read one byte past the limit to notice.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_MODEL_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("failed to read: {e}"))?;
    if bytes.len() as u64 > MAX_MODEL_FILE_BYTES {
        return Err(format!(
            "file is over the limit of {MAX_MODEL_FILE_BYTES} bytes"
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Refuses a name or option text from the file that is empty-when-it-must-not-be, too long,
/// or holds control characters, so it can be echoed in one-line messages and passed on safely.
fn plain_text<'a>(what: &str, text: &'a str) -> Result<&'a str, String> {
    if text.len() > MAX_NAME_BYTES {
        return Err(format!(
            "{what} \"{}\" is longer than {MAX_NAME_BYTES} bytes",
            quoted(text)
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(format!(
            "{what} \"{}\" holds a control character",
            quoted(text)
        ));
    }
    Ok(text)
}

/// `value` as a finite `f64`, or an error naming `what`.
fn finite_number(what: &str, value: &Json) -> Result<f64, String> {
    value
        .as_f64()
        .ok_or_else(|| format!("{what} must be a finite number, found {}", value.describe()))
}

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
        if key >= MAX_COLLECTION_MEMBERS {
            return Err(format!(
                "a model collection may hold at most {MAX_COLLECTION_MEMBERS} members"
            ));
        }
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
        .map(|item| finite_number(&format!("each of \"{key}\""), item))
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
                    other => return Err(format!("unknown model_type \"{}\"", quoted(other))),
                })
            }
            "norm_type" => {
                norm_type = Some(match string(key, value)? {
                    "linear_rescale" => true,
                    "none" => false,
                    other => return Err(format!("unknown norm_type \"{}\"", quoted(other))),
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
                            .ok_or("\"score_clip\" must start with two finite numbers [min, max]")
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
                chroma_correction = Some(finite_number("\"chroma_correction_parameter\"", value)?)
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
                        .map(|item| {
                            let name = string(key, item)?;
                            if name.is_empty() {
                                return Err("\"feature_names\" holds an empty name".to_string());
                            }
                            plain_text("feature name", name).map(str::to_string)
                        })
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
                    format!(
                        "score_transform \"{key}\" must be a finite number or null, found {}",
                        other.describe()
                    )
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
                _ => Err("each knot must be [x, y] finite numbers".to_string()),
            },
            _ => Err("each knot must be [x, y] finite numbers".to_string()),
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
                let key = plain_text("feature option", key)?;
                let text = match value {
                    // Extractors read option numbers as `float`, as libvmaf does.
                    Json::Number(text) if text.parse::<f32>().is_ok_and(f32::is_finite) => {
                        normalize_number(text)
                    }
                    Json::Number(text) => {
                        return Err(format!(
                            "feature option \"{key}\" must be a finite number, found {}",
                            quoted(text)
                        ))
                    }
                    Json::Bool(b) => b.to_string(),
                    Json::String(s) => plain_text("feature option value", s)?.to_string(),
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
                    None => out.push((key.to_string(), text)),
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
    fn model_files_are_regular_bounded_and_utf8() {
        let dir = std::env::temp_dir().join(format!("vmafx-model-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.json");
        std::fs::write(&good, doc("")).unwrap();
        assert_eq!(read_model_file(&good).unwrap(), doc(""));

        let err = |path: &Path| read_model_file(path).unwrap_err();
        assert!(err(&dir).contains("not a regular file"));
        #[cfg(target_os = "linux")]
        assert!(err(Path::new("/dev/zero")).contains("not a regular file"));
        assert!(err(&dir.join("missing.json")).contains("failed to open"));

        // Sparse, so the test costs no disk.
        let huge = dir.join("huge.json");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(MAX_MODEL_FILE_BYTES + 1)
            .unwrap();
        assert!(
            err(&huge).contains("over the limit of 16777216"),
            "{}",
            err(&huge)
        );

        let latin1 = dir.join("latin1.json");
        std::fs::write(&latin1, b"{\"a\": \"caf\xe9\"}").unwrap();
        assert!(err(&latin1).contains("not UTF-8 text (invalid byte at offset 10)"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn numbers_must_be_finite() {
        for (text, needle) in [
            (
                doc("").replace("[1.0, 2.0, 3.0]", "[1.0, 1e999, 3.0]"),
                "1e999",
            ),
            (
                doc("").replace("[0.5, 0.25, 0.125]", "[0.5, -1e400, 0.125]"),
                "-1e400",
            ),
            (
                doc("").replace("[0.0, 100.0]", "[0.0, 1e999]"),
                "score_clip",
            ),
            (doc(r#", "chroma_correction_parameter": 1e999"#), "1e999"),
            (doc(r#", "score_transform": {"p0": 1e999}"#), "p0"),
            (
                doc(r#", "score_transform": {"knots": [[0, 0], [1e999, 1]]}"#),
                "knot must be [x, y] finite numbers",
            ),
            // Options are read as `float`: 1e39 is infinite there.
            (doc(r#", "feature_opts_dicts": [{"x": 1e39}]"#), "finite"),
        ] {
            let err = read(&text, LoadFlags::default()).err().unwrap_or_default();
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        }
    }

    #[test]
    fn names_and_options_stay_printable() {
        for (text, needle) in [
            (
                doc("").replace(r#"["a", "b"]"#, r#"["a", "b\nc"]"#),
                "control character",
            ),
            (
                doc("").replace(r#"["a", "b"]"#, r#"["a", ""]"#),
                "empty name",
            ),
            (
                doc("").replace(r#"["a", "b"]"#, &format!(r#"["a", "{}"]"#, "b".repeat(300))),
                "longer than 256",
            ),
            (
                doc(r#", "feature_opts_dicts": [{"x\u001b": 1}]"#),
                "control character",
            ),
            (
                doc(r#", "feature_opts_dicts": [{"x": "1\r2"}]"#),
                "control character",
            ),
            (doc(r#", "model_type": "A\nB""#), "A\\nB"),
        ] {
            let err = read(&text, LoadFlags::default()).err().unwrap_or_default();
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
            assert!(!err.chars().any(char::is_control), "{err:?}");
        }
    }

    #[test]
    fn collections_are_bounded() {
        let member = doc("");
        let collection = |n: usize| {
            let members: Vec<String> = (0..n).map(|i| format!(r#""{i}": {member}"#)).collect();
            format!("{{{}}}", members.join(", "))
        };
        assert!(read(&collection(MAX_COLLECTION_MEMBERS), LoadFlags::default()).is_ok());
        let err = read(
            &collection(MAX_COLLECTION_MEMBERS + 1),
            LoadFlags::default(),
        )
        .err()
        .unwrap_or_default();
        assert!(err.contains("at most 128 members"), "{err}");
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
