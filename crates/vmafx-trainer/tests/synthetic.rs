//! Training on synthetic targets from a known, different model: the loss falls, the holdout
//! PLCC rises above the base model's, checkpoints are model JSON that the engine scores exactly
//! as the trainer predicts, and a restart (even after a kill) keeps samples and versions. A base
//! model with a `knots` transform learns its knots, and every checkpoint keeps them valid.

use std::time::Duration;

use vmafx_engine::collector::FeatureCollector;
use vmafx_engine::model::{Model, ModelSource, ModelSpec};
use vmafx_trainer::replay::mix;
use vmafx_trainer::{Sample, TrainableModel, Trainer, TrainerConfig};

const BASE: &str = include_str!("../../vmafx-engine/models/vmaf_v0.6.1.json");

/// A deterministic uniform number in [0, 1).
fn uniform(seed: u64) -> f64 {
    (mix(seed) >> 11) as f64 / (1u64 << 53) as f64
}

/// A clip's frames: plausible values of adm2, motion2 and vif scales 0–3 for content of a given
/// quality and motion.
fn frames(seed: u64) -> Vec<Vec<f64>> {
    let quality = uniform(seed);
    let motion = 20.0 * uniform(seed ^ 0xabc);
    (0..6)
        .map(|f| {
            let jitter = 0.02 * (uniform(seed * 31 + f) - 0.5);
            let q = (quality + jitter).clamp(0.0, 1.0);
            vec![
                0.55 + 0.45 * q,
                (motion + uniform(seed * 17 + f)).max(0.0),
                0.1 + 0.85 * q * q,
                0.3 + 0.69 * q,
                0.4 + 0.59 * q,
                0.45 + 0.54 * q,
            ]
        })
        .collect()
}

/// The "viewers": the base model with a different motion sensitivity and output scaling,
/// plus noise. A known function of content that the base model does not compute.
fn teacher(model: &TrainableModel) -> Vec<f64> {
    let mut u = vec![0.0; model.parameter_count()];
    // Feature 2 is motion2 (slope index 2): viewers mind motion twice as much.
    u[2] = 0.7;
    // Output slope and the transform's offset.
    u[0] = 0.15;
    let m = model.feature_names().len() + 1;
    u[2 * m] = -0.08;
    u
}

fn dataset(model: &TrainableModel, n: u64, seed: u64) -> Vec<Sample> {
    let u = teacher(model);
    (0..n)
        .map(|i| {
            let f = frames(seed + i);
            let mut s = Sample::new(format!("clip-{seed}-{i}"), 0.0, f);
            let noise = 2.0 * (uniform(seed + i + 99_999) - 0.5);
            s.target = (model.predict(&u, &s) + noise).clamp(0.0, 100.0);
            s
        })
        .collect()
}

fn config() -> TrainerConfig {
    let mut c = TrainerConfig::new("test");
    c.checkpoint_interval = Duration::ZERO;
    c.min_samples = 50;
    c
}

#[test]
fn the_loss_falls_and_holdout_plcc_beats_the_base_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = TrainableModel::parse(BASE).unwrap();
    let data = dataset(&model, 600, 1);
    let mut trainer = Trainer::open(dir.path(), model.clone(), config()).unwrap();
    let loss = |weights: &[f64]| -> f64 {
        data.iter()
            .map(|s| (model.predict(weights, s) - s.target).powi(2))
            .sum::<f64>()
            / data.len() as f64
    };
    let base = vec![0.0; model.parameter_count()];
    let base_loss = loss(&base);
    let mut checkpoints = Vec::new();
    let mut losses = Vec::new();
    for (i, sample) in data.iter().enumerate() {
        trainer.ingest(sample.clone()).unwrap();
        if let Some(c) = trainer.checkpoint(i as i64 * 1000).unwrap() {
            losses.push(loss(&trainer.ema_weights()));
            checkpoints.push(c);
        }
    }
    println!("base MSE {base_loss:.3}; MSE per checkpoint {losses:?}");
    assert!(checkpoints.len() >= 10, "{}", checkpoints.len());
    let last = losses.last().copied().unwrap();
    assert!(last < 0.5 * base_loss, "MSE {last} vs base {base_loss}");
    assert!(losses[losses.len() - 1] < losses[0], "{losses:?}");

    let status = trainer.status();
    let newest = checkpoints.last().unwrap();
    println!(
        "holdout ({} samples): base PLCC {:.4} SRCC {:.4} RMSE {:.3}; v{} PLCC {:.4} SRCC {:.4} RMSE {:.3}",
        status.holdout_samples,
        status.base_holdout.plcc,
        status.base_holdout.srcc,
        status.base_holdout.rmse,
        newest.number,
        newest.holdout.plcc,
        newest.holdout.srcc,
        newest.holdout.rmse
    );
    assert!(status.holdout_samples >= 40);
    assert!(newest.holdout.plcc > status.base_holdout.plcc + 0.005);
    assert!(newest.holdout.rmse < status.base_holdout.rmse);
    // Versions are consecutive and carry their digest.
    for (i, c) in checkpoints.iter().enumerate() {
        assert_eq!(c.version, format!("v{}", i + 1));
        assert!(c.sha256.starts_with("sha256:") && c.sha256.len() == 71);
    }
}

/// The engine's per-frame scores of a model file, for the frames of `sample`.
fn engine_scores(path: &std::path::Path, sample: &Sample) -> Vec<f64> {
    let spec = ModelSpec {
        source: ModelSource::Path(path.to_owned()),
        ..ModelSpec::default()
    };
    let model = Model::load(&spec).unwrap();
    let mut collector = FeatureCollector::new();
    for (index, frame) in sample.frames.iter().enumerate() {
        for (input, &value) in model.inputs().iter().zip(frame) {
            collector
                .append(&input.collector_name, index as u32, value)
                .unwrap();
        }
    }
    (0..sample.frames.len() as u32)
        .map(|i| model.predict(&collector, i).unwrap()[0].1)
        .collect()
}

#[test]
fn checkpoints_score_in_the_engine_as_the_trainer_predicts() {
    let dir = tempfile::tempdir().unwrap();
    let model = TrainableModel::parse(BASE).unwrap();
    let mut trainer = Trainer::open(dir.path(), model.clone(), config()).unwrap();
    for sample in dataset(&model, 60, 7) {
        trainer.ingest(sample).unwrap();
    }
    let checkpoint = trainer.checkpoint(0).unwrap().expect("a checkpoint is due");
    let path = dir.path().join(&checkpoint.file);
    let weights = trainer.ema_weights();
    assert!(weights.iter().any(|w| *w != 0.0));
    for sample in dataset(&model, 5, 1234) {
        let engine = engine_scores(&path, &sample);
        let mean = engine.iter().sum::<f64>() / engine.len() as f64;
        let ours = model.predict(&weights, &sample);
        assert!((mean - ours).abs() < 1e-9, "engine {mean}, trainer {ours}");
        // And the base model, through the same code, is the built-in model exactly.
        let built_in = {
            let spec = ModelSpec::default();
            let m = Model::load(&spec).unwrap();
            let mut c = FeatureCollector::new();
            for (index, frame) in sample.frames.iter().enumerate() {
                for (input, &value) in m.inputs().iter().zip(frame) {
                    c.append(&input.collector_name, index as u32, value)
                        .unwrap();
                }
            }
            (0..sample.frames.len() as u32)
                .map(|i| m.predict(&c, i).unwrap()[0].1)
                .sum::<f64>()
                / sample.frames.len() as f64
        };
        let base = model.predict(&vec![0.0; model.parameter_count()], &sample);
        assert_eq!(base, built_in);
    }
}

#[test]
fn a_restart_keeps_samples_optimiser_and_versions_and_never_rewrites_a_version() {
    let dir = tempfile::tempdir().unwrap();
    let model = TrainableModel::parse(BASE).unwrap();
    let data = dataset(&model, 120, 99);
    let (first, second) = data.split_at(70);
    let (weights, checkpoint) = {
        let mut trainer = Trainer::open(dir.path(), model.clone(), config()).unwrap();
        for s in first {
            trainer.ingest(s.clone()).unwrap();
        }
        let c = trainer.checkpoint(0).unwrap().unwrap();
        // Samples after the checkpoint are only in the log (the state is older): a kill here
        // must not lose them.
        for s in &second[..10] {
            trainer.ingest(s.clone()).unwrap();
        }
        (trainer.ema_weights(), c)
        // Dropped without saving the state: as a SIGKILL leaves it.
    };
    let mut trainer = Trainer::open(dir.path(), model.clone(), config()).unwrap();
    assert_eq!(trainer.samples(), 80);
    assert_eq!(trainer.checkpoints(), std::slice::from_ref(&checkpoint));
    // Replaying the logged samples reproduces the same optimiser state.
    assert_eq!(trainer.ema_weights(), weights);
    for s in &second[10..] {
        trainer.ingest(s.clone()).unwrap();
    }
    let next = trainer.checkpoint(1).unwrap().unwrap();
    assert_eq!(next.version, "v2");
    assert_eq!(next.samples, 120);
    // v1's file is what was written first.
    let bytes = std::fs::read(dir.path().join(&checkpoint.file)).unwrap();
    assert_eq!(
        checkpoint.sha256,
        format!(
            "sha256:{:x}",
            <sha2::Sha256 as sha2::Digest>::digest(&bytes)
        )
    );

    // A checkpoint file whose state save was lost is adopted, not written again.
    let state = dir.path().join("state.json");
    let saved = std::fs::read(&state).unwrap();
    drop(trainer);
    let mut before: serde_json::Value = serde_json::from_slice(&saved).unwrap();
    before["checkpoints"].as_array_mut().unwrap().pop();
    std::fs::write(&state, serde_json::to_vec(&before).unwrap()).unwrap();
    let trainer = Trainer::open(dir.path(), model, config()).unwrap();
    assert_eq!(trainer.checkpoints().len(), 2);
    assert_eq!(trainer.checkpoints()[1], next);
}

/// vmaf_v0.6.1 with an enabled identity `knots` transform: it scores as vmaf_v0.6.1.
fn knots_base() -> String {
    let mut doc: serde_json::Value = serde_json::from_str(BASE).unwrap();
    doc["model_dict"]["score_transform"] = serde_json::json!({
        "enabled": true,
        "knots": [[0, 0], [20, 20], [40, 40], [60, 60], [80, 80], [100, 100]],
    });
    doc.to_string()
}

/// A map from a clip's base score to its target.
type Mapping = fn(f64) -> f64;

/// Monotone mappings of the base score that the base knots do not compute: an S-curve
/// (viewers forgive little below 35 and notice little above 70), and one that saturates at 85
/// (nothing above is told apart), whose flat top pulls the upper knots together (the projection
/// then acts on most steps).
const MAPPINGS: [(&str, Mapping); 2] = [
    ("s-curve", |base| {
        100.0 / (1.0 + (-(base - 50.0) / 10.0).exp())
    }),
    ("saturating", |base| (1.3 * base).min(85.0)),
];

/// Targets from `mapping` of the base score, plus noise.
fn mapped_dataset(model: &TrainableModel, mapping: Mapping, n: u64, seed: u64) -> Vec<Sample> {
    let zero = vec![0.0; model.parameter_count()];
    (0..n)
        .map(|i| {
            let mut s = Sample::new(format!("clip-{seed}-{i}"), 0.0, frames(seed + i));
            let noise = 2.0 * (uniform(seed + i + 77_777) - 0.5);
            s.target = (mapping(model.predict(&zero, &s)) + noise).clamp(0.0, 100.0);
            s
        })
        .collect()
}

/// The `[x, y]` knots of a checkpoint file's `score_transform`.
fn file_knots(path: &std::path::Path) -> Vec<(f64, f64)> {
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let transform = &doc["model_dict"]["score_transform"];
    assert_eq!(transform["enabled"], serde_json::json!(true));
    assert!(transform.get("p0").is_none(), "no polynomial was added");
    transform["knots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k[0].as_f64().unwrap(), k[1].as_f64().unwrap()))
        .collect()
}

#[test]
fn knots_are_learned_kept_valid_and_scored_by_the_engine_as_predicted() {
    let model = TrainableModel::parse(&knots_base()).unwrap();
    let zero = vec![0.0; model.parameter_count()];
    // The identity knots score exactly as the built-in vmaf_v0.6.1.
    let plain = TrainableModel::parse(BASE).unwrap();
    for s in dataset(&plain, 20, 3) {
        assert_eq!(
            model.predict(&zero, &s),
            plain.predict(&vec![0.0; plain.parameter_count()], &s)
        );
    }
    let base_x: Vec<f64> = model.knots(&zero).iter().map(|k| k.0).collect();
    for (name, mapping) in MAPPINGS {
        let dir = tempfile::tempdir().unwrap();
        let data = mapped_dataset(&model, mapping, 1200, 5);
        let probe = mapped_dataset(&model, mapping, 4, 4321);
        let mut trainer = Trainer::open(dir.path(), model.clone(), config()).unwrap();
        let mut checkpoints = Vec::new();
        for (i, sample) in data.iter().enumerate() {
            trainer.ingest(sample.clone()).unwrap();
            let Some(c) = trainer.checkpoint(i as i64 * 1000).unwrap() else {
                continue;
            };
            let path = dir.path().join(&c.file);
            let knots = file_knots(&path);
            // libvmaf's rules: x strictly increasing (the base model's), y non-decreasing.
            assert_eq!(knots.iter().map(|k| k.0).collect::<Vec<_>>(), base_x);
            assert!(
                knots
                    .windows(2)
                    .all(|p| p[0].0 < p[1].0 && p[0].1 <= p[1].1),
                "{name} {}: {knots:?}",
                c.version
            );
            // The engine loads it and scores what the trainer predicts.
            let weights = trainer.ema_weights();
            assert_eq!(knots, model.knots(&weights));
            for s in &probe {
                let engine = engine_scores(&path, s);
                let mean = engine.iter().sum::<f64>() / engine.len() as f64;
                let ours = model.predict(&weights, s);
                assert!((mean - ours).abs() < 1e-9, "engine {mean}, trainer {ours}");
                // Frame by frame, to the last bit.
                for (frame, &engine) in s.frames.iter().zip(&engine) {
                    let one = Sample::new(String::new(), 0.0, vec![frame.clone()]);
                    assert_eq!(model.predict(&weights, &one), engine);
                }
            }
            checkpoints.push((c, knots));
        }
        let status = trainer.status();
        let (newest, knots) = checkpoints.last().unwrap();
        println!(
            "{name}: holdout ({} samples): base PLCC {:.4} RMSE {:.3}; {} PLCC {:.4} RMSE \
             {:.3}; knots {knots:?}",
            status.holdout_samples,
            status.base_holdout.plcc,
            status.base_holdout.rmse,
            newest.version,
            newest.holdout.plcc,
            newest.holdout.rmse
        );
        assert!(checkpoints.len() >= 20, "{}", checkpoints.len());
        assert!(
            newest.holdout.plcc > status.base_holdout.plcc + 0.005,
            "{name}"
        );
        assert!(
            newest.holdout.rmse < 0.4 * status.base_holdout.rmse,
            "{name}"
        );
        // The knots themselves moved.
        assert!(knots
            .iter()
            .zip(model.knots(&zero))
            .any(|(a, b)| (a.1 - b.1).abs() > 1.0));
    }
}
