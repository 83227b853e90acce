//! Bounded fuzzing of model loading on stable Rust: the model JSON reader and the libsvm text
//! parser, fed random and structurally mutated versions of the committed models, each written
//! to a file and loaded with `path=` as `vmafx score --model` loads it. Every case must end
//! without a panic or an abort; every error must be one line naming the file; every model that
//! loads must predict without panicking. `VMAFX_FUZZ_CASES` sets the number of cases per
//! parser (default 2,000) and `VMAFX_FUZZ_SEED` the generator's seed.

use std::path::{Path, PathBuf};

use serde_json::Value;
use vmafx_engine::collector::FeatureCollector;
use vmafx_engine::model::{Model, ModelSource, ModelSpec};
use vmafx_fixtures::mutator::{assert_one_line_naming, case_count, run_case, seed, Mutator};

const DEFAULT_CASES: usize = 2000;
/// Largest fuzz input, in bytes (the committed models take about 20 KB).
const MAX_INPUT: usize = 64 << 10;

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vmafx-engine-fuzz");
    std::fs::create_dir_all(&dir).expect("create the fuzz scratch directory");
    dir.join(name)
}

fn committed_models() -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("committed models")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no models in {}", dir.display());
    names
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("read a committed model");
            serde_json::from_str(&text).expect("committed models are JSON")
        })
        .collect()
}

/// The libsvm text of a single model document.
fn svm_text(model: &Value) -> Option<&str> {
    model.get("model_dict")?.get("model")?.as_str()
}

/// `model` with its libsvm text replaced.
fn with_svm_text(model: &Value, text: String) -> Value {
    let mut model = model.clone();
    if let Some(dict) = model.get_mut("model_dict").and_then(Value::as_object_mut) {
        dict.insert("model".into(), Value::String(text));
    }
    model
}

/// A small version of `model`: its first three support vectors.
fn shrunk(model: &Value) -> Value {
    let Some(text) = svm_text(model) else {
        return model.clone();
    };
    let (header, vectors) = text.split_once("SV\n").unwrap_or((text, ""));
    let header: Vec<String> = header
        .lines()
        .map(|l| {
            if l.starts_with("total_sv") {
                "total_sv 3".to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    let vectors: Vec<&str> = vectors.lines().take(3).collect();
    with_svm_text(
        model,
        format!("{}\nSV\n{}\n", header.join("\n"), vectors.join("\n")),
    )
}

/// Seeds: the committed models, shrunk copies (cheaper to mutate into something that loads),
/// and a three-member bootstrap collection.
fn seeds() -> Vec<Value> {
    let models = committed_models();
    let mut seeds: Vec<Value> = models.iter().map(shrunk).collect();
    if let Some(small) = seeds.first().cloned() {
        let mut member = small.clone();
        if let Some(dict) = member.get_mut("model_dict").and_then(Value::as_object_mut) {
            dict.insert("model_type".into(), "BOOTSTRAP_LIBSVMNUSVR".into());
        }
        let mut collection = serde_json::Map::new();
        for key in ["0", "1", "2"] {
            collection.insert(key.into(), member.clone());
        }
        seeds.push(Value::Object(collection));
    }
    seeds.extend(models);
    seeds
}

/// Raw JSON texts substituted for a random node: non-finite and huge numbers, wrong types,
/// deep nesting, long arrays and strings, control characters.
fn hostile_json(m: &mut Mutator) -> String {
    match m.below(14) {
        0 => "1e999".into(),
        1 => "-1e999".into(),
        2 => "18446744073709551616".into(),
        3 => "-0".into(),
        4 => "null".into(),
        5 => "[]".into(),
        6 => "{}".into(),
        7 => "\"\\u0000\\n\\u001b[2J\"".into(),
        8 => "[".repeat(70) + &"]".repeat(70),
        9 => format!("[{}0]", "1.5,".repeat(m.below(300))),
        10 => format!("\"{}\"", "x".repeat(m.below(2000))),
        11 => "true".into(),
        12 => format!("[[0, 0], [{}, 1]]", m.below(200)),
        _ => "\"LIBSVMNUSVR\"".into(),
    }
}

/// Every node of `value`, as JSON pointers.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(members) => {
            for (k, v) in members {
                pointers(
                    v,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

const PLACEHOLDER: &str = "@@vmafx-fuzz-placeholder@@";

/// Structural edits: replace a node with hostile JSON, remove a member, or repeat an array's
/// items; then, sometimes, byte-level edits of the text.
fn mutate_json(m: &mut Mutator, seed: &Value) -> Vec<u8> {
    let mut doc = seed.clone();
    let mut raw = None;
    for _ in 0..1 + m.below(3) {
        let mut all = Vec::new();
        pointers(&doc, String::new(), &mut all);
        let at = m.pick(&all).clone();
        match m.below(3) {
            0 if raw.is_none() => {
                if let Some(node) = doc.pointer_mut(&at) {
                    *node = Value::String(PLACEHOLDER.into());
                    raw = Some(hostile_json(m));
                }
            }
            1 => {
                if let Some((parent, key)) = at.rsplit_once('/') {
                    if let Some(Value::Object(members)) = doc.pointer_mut(parent) {
                        members.remove(&key.replace("~1", "/").replace("~0", "~"));
                    }
                }
            }
            _ => {
                if let Some(Value::Array(items)) = doc.pointer_mut(&at) {
                    let extra: Vec<Value> = items.iter().take(m.below(4)).cloned().collect();
                    items.extend(extra);
                }
            }
        }
    }
    let mut text = serde_json::to_string(&doc).unwrap_or_default();
    if let Some(raw) = raw {
        text = text.replace(&format!("\"{PLACEHOLDER}\""), &raw);
    }
    let mut bytes = text.into_bytes();
    if m.one_in(3) {
        m.mutate(&mut bytes, JSON_TOKENS, MAX_INPUT);
    }
    bytes
}

const JSON_TOKENS: &[&[u8]] = &[
    b"1e999",
    b"-1e999",
    b"NaN",
    b"Infinity",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b":",
    b"\"",
    b"\\u0000",
    b"\\ud800",
    b"\\n",
    b"null",
    b"\"model_dict\"",
    b"\"feature_names\"",
    b"\"slopes\"",
    b"\"intercepts\"",
    b"\"score_clip\"",
    b"\"score_transform\"",
    b"\"knots\"",
    b"\"feature_opts_dicts\"",
    b"\"0\":",
    b"\"1\":",
    b"\xff",
];

const SVM_TOKENS: &[&[u8]] = &[
    b"total_sv 18446744073709551615\n",
    b"total_sv 4294967296\n",
    b"total_sv 65537\n",
    b"nr_class 2\n",
    b"gamma nan\n",
    b"rho inf\n",
    b"SV\n",
    b"\n",
    b" ",
    b":",
    b" 1:",
    b" 65:1",
    b" 64:1",
    b" 0:1",
    b" 99999999999999999999:1",
    b"nan",
    b"-inf",
    b"1e999",
    b"svm_type epsilon_svr\n",
    b"kernel_type rbf\n",
];

/// Line and byte edits of the libsvm text, embedded back into `seed`.
fn mutate_svm(m: &mut Mutator, seed: &Value) -> Vec<u8> {
    let text = svm_text(seed).unwrap_or_default();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for _ in 0..1 + m.below(3) {
        if lines.is_empty() {
            break;
        }
        let i = m.below(lines.len());
        match m.below(4) {
            0 => lines.remove(i),
            1 => {
                let copy = lines[i].clone();
                lines.insert(m.below(lines.len() + 1), copy);
                continue;
            }
            2 => {
                let j = m.below(lines.len());
                lines.swap(i, j);
                continue;
            }
            _ => {
                let mut bytes = std::mem::take(&mut lines[i]).into_bytes();
                m.mutate(&mut bytes, SVM_TOKENS, MAX_INPUT);
                lines[i] = String::from_utf8_lossy(&bytes).into_owned();
                continue;
            }
        };
    }
    let mut text = lines.join("\n");
    if m.one_in(4) {
        text.push_str(&" 1:0.5".repeat(m.below(4000)));
    }
    serde_json::to_string(&with_svm_text(seed, text))
        .unwrap_or_default()
        .into_bytes()
}

/// Loads `path` as a model and, if it loads, predicts a frame from made-up feature values.
/// Returns whether it loaded.
fn load_and_predict(path: &Path, m: &mut Mutator) -> bool {
    let spec = ModelSpec {
        source: ModelSource::Path(path.to_path_buf()),
        disable_clip: m.one_in(4),
        enable_transform: m.one_in(4),
        ..ModelSpec::default()
    };
    let model = match Model::load(&spec) {
        Ok(model) => model,
        Err(e) => {
            assert_one_line_naming(&e.to_string(), path);
            return false;
        }
    };
    let mut collector = FeatureCollector::new();
    for input in model.inputs() {
        let value = *m.pick(&[0.0, 0.5, 1.0, -3.0, 1e300]);
        // The same collector name may serve two inputs; the first value stands.
        let _ = collector.append(&input.collector_name, 0, value);
    }
    if let Err(e) = model.predict(&collector, 0) {
        panic!("a loaded model failed to predict from a full collector: {e}");
    }
    true
}

fn fuzz(name: &str, mutate: fn(&mut Mutator, &Value) -> Vec<u8>) {
    let seeds = seeds();
    let seed = seed();
    let cases = case_count(DEFAULT_CASES);
    let mut loaded = 0;
    for index in 0..cases {
        let mut m = Mutator::new(seed, index as u64);
        let input = if m.one_in(16) {
            let n = m.below(512);
            m.bytes(n)
        } else {
            let chosen = m.pick(&seeds).clone();
            mutate(&mut m, &chosen)
        };
        // A file per case: rewriting one file waits on its writeback and is far slower.
        let path = scratch(&format!("{name}-{index}.json"));
        std::fs::write(&path, &input).expect("write the fuzz case");
        run_case(
            path.parent().unwrap_or(Path::new(".")),
            name,
            seed,
            index,
            &input,
            || {
                loaded += load_and_predict(&path, &mut m) as usize;
            },
        );
        let _ = std::fs::remove_file(&path);
    }
    eprintln!("{name}: {loaded} of {cases} mutated models loaded");
    // Mutations that never produce a loadable model would test the first check only.
    assert!(
        cases < 100 || loaded * 50 >= cases,
        "only {loaded} of {cases} cases loaded"
    );
}

#[test]
fn model_json_reader_survives_mutated_models() {
    fuzz("model-json", mutate_json);
}

#[test]
fn libsvm_parser_survives_mutated_models() {
    fuzz("libsvm", mutate_svm);
}

#[test]
fn seeds_load_unmutated() {
    // Otherwise the mutations above would start from models that never load.
    for (i, seed) in seeds().iter().enumerate() {
        let path = scratch(&format!("seed-{i}.json"));
        std::fs::write(&path, seed.to_string()).expect("write a seed");
        let spec = ModelSpec {
            source: ModelSource::Path(path.clone()),
            ..ModelSpec::default()
        };
        if let Err(e) = Model::load(&spec) {
            panic!("seed {i} does not load: {e}");
        }
    }
}

#[test]
fn known_crashers_are_refused_cleanly() {
    let model = committed_models().remove(0);
    let text = svm_text(&model).unwrap_or_default().to_string();
    let total = text
        .lines()
        .find(|l| l.starts_with("total_sv"))
        .unwrap_or_default()
        .to_string();
    // Issue 12: a huge total_sv used to abort the process on allocation.
    for (name, svm, needle) in [
        (
            "huge-total-sv.json",
            text.replace(&total, "total_sv 1000000000000000000"),
            "over the limit of 65536",
        ),
        (
            "nan-coefficient.json",
            text.replacen("\nSV\n", "\nSV\nnan ", 1),
            "bad coefficient",
        ),
    ] {
        let path = scratch(name);
        std::fs::write(&path, with_svm_text(&model, svm).to_string()).expect("write the model");
        let spec = ModelSpec {
            source: ModelSource::Path(path.clone()),
            ..ModelSpec::default()
        };
        let message = Model::load(&spec)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_one_line_naming(&message, &path);
        assert!(message.contains(needle), "{message}");
    }
}
