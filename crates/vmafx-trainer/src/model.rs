//! The trainable view of a libvmaf model JSON: its frozen RBF-SVM, and the learned parameters
//! around it, evaluated with their gradient.
//!
//! A frame's score is, in libvmaf's order, `x_i = a_i·f_i + b_i` (feature normalisation),
//! `y = Σ c_j·exp(−γ‖x − sv_j‖²) − ρ` (frozen), `s = (y − b_0)/a_0`, then the polynomial transform
//! `q = p0 + p1·s + p2·s²`, then the piecewise-linear `knots` map `k(q)` if the model has knots,
//! then the base model's rectification against `s`, then the clip. The learned vector `u` (all
//! zero for the base model) sets `a = a⁰·e^u` for slopes (so a slope keeps its sign),
//! `b = b⁰ + u` for intercepts (in normalised-feature units), `p0 = p0⁰ + 100·u`,
//! `p1 = p1⁰ + u`, `p2 = p2⁰ + u/100` for the polynomial, so that one unit of each moves a score
//! on the 0–100 scale by a comparable amount, and `y_k = y_k⁰ + 10·u` for each knot's output (its
//! input `x_k` stays fixed; see [`KNOT_SCALE`] for why 10).
//!
//! Layout of `u`: the `m` slopes, the `m` intercepts, then the three polynomial coefficients
//! (always, except for a knots model whose base has no polynomial: libvmaf then maps `s` by the
//! knots alone, and so does every checkpoint), then one entry per knot.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use vmafx_engine::model::svm::SvmModel;

use crate::TrainerError;

/// Frames kept per sample: a job's frames are subsampled evenly to at most this many, which
/// bounds the replay buffer's memory (10,000 samples × 64 frames × a few features).
pub const MAX_FRAMES_PER_SAMPLE: usize = 64;

/// One training sample: per-frame features in the model's `feature_names` order, and the score
/// the whole clip should get (the mean of its frame scores, as VMAF pools).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Stable identity (a job id, or a hash of the inputs): decides the holdout split.
    pub id: String,
    /// The target score, 0–100.
    pub target: f64,
    /// Per-frame feature vectors.
    pub frames: Vec<Vec<f64>>,
}

impl Sample {
    /// A sample from all of a clip's frames, subsampled evenly to [`MAX_FRAMES_PER_SAMPLE`].
    pub fn new(id: String, target: f64, frames: Vec<Vec<f64>>) -> Sample {
        let frames = if frames.len() > MAX_FRAMES_PER_SAMPLE {
            let n = frames.len();
            (0..MAX_FRAMES_PER_SAMPLE)
                .map(|k| frames[k * n / MAX_FRAMES_PER_SAMPLE].clone())
                .collect()
        } else {
            frames
        };
        Sample { id, target, frames }
    }
}

/// libvmaf's limit on knots per transform (the engine's too): more would not load.
pub const MAX_KNOTS: usize = 10;

/// A knot's output moves by this many score points per unit of its learned parameter. Not 100
/// as for `p0`: a knot moves only the scores in its two segments, and at 100 the clipped
/// momentum steps (up to ~20 points a step) kept the knots swinging; on the synthetic S-curve of
/// tests/synthetic.rs the holdout RMSE after 1,500 samples was 2.3 at 10, 2.6 at 25 and 4.9 at
/// 100.
const KNOT_SCALE: f64 = 10.0;

/// The base model's score transform as the trainer sees it.
#[derive(Debug, Clone, PartialEq)]
struct BaseTransform {
    /// `None` only for a knots transform without `p0`/`p1`/`p2`.
    poly: Option<[f64; 3]>,
    /// `(x, y)` pairs, x strictly increasing, y non-decreasing; empty when there are none.
    knots: Vec<(f64, f64)>,
    out_gte_in: bool,
    out_lte_in: bool,
}

/// Slopes, intercepts and transform at some `u`.
struct Resolved {
    slopes: Vec<f64>,
    intercepts: Vec<f64>,
    poly: Option<[f64; 3]>,
    knots: Vec<(f64, f64)>,
}

/// The knots map at `q`, evaluated as libvmaf (and the engine) evaluate it, with its
/// derivatives: `(k(q), dk/dq, segment, w)`, where the segment's lower knot has index
/// `segment` and `∂k/∂y_segment = 1 − w`, `∂k/∂y_segment+1 = w` (`w` leaves [0, 1] where `q`
/// lies beyond the first or last knot: libvmaf extends the end segments).
///
/// libvmaf visits every segment and the last one whose range holds `q` wins, so at an inner
/// knot the segment starting there is used; below the first knot it is the first segment,
/// above the last knot the last. A NaN matches no segment, and libvmaf leaves 0.
pub(crate) fn knots_map(q: f64, knots: &[(f64, f64)]) -> (f64, f64, usize, f64) {
    let segments = knots.len() - 1;
    if q.is_nan() {
        return (0.0, 0.0, 0, 0.0);
    }
    let segment = knots[1..segments]
        .iter()
        .rposition(|&(x, _)| x <= q)
        .map_or(0, |i| i + 1);
    let ((x0, y0), (x1, y1)) = (knots[segment], knots[segment + 1]);
    let w = (q - x0) / (x1 - x0);
    if y0 == y1 {
        return (y0, 0.0, segment, w);
    }
    // The line through the two knots, with libvmaf's special case for a knot at x = 0 (it
    // takes y0 as the offset), so that the value matches its to the last bit.
    let (slope, offset) = if x0 == 0.0 {
        ((y1 - y0) / x1, y0)
    } else {
        let slope = (y1 - y0) / (x1 - x0);
        (slope, y0 - x0 * slope)
    };
    (slope * q + offset, slope, segment, w)
}

/// Reads `score_transform.knots`: 2 to [`MAX_KNOTS`] `[x, y]` pairs of finite numbers, x
/// strictly increasing and y non-decreasing (what libvmaf's mapping needs).
fn read_knots(value: &Value) -> Result<Vec<(f64, f64)>, TrainerError> {
    let items = value
        .as_array()
        .ok_or_else(|| model_error("score_transform.knots must be an array of [x, y] pairs"))?;
    if !(2..=MAX_KNOTS).contains(&items.len()) {
        return Err(model_error(format!(
            "score_transform.knots holds {} knots; 2 to {MAX_KNOTS} can be learned",
            items.len()
        )));
    }
    let mut knots = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let pair = match item.as_array().map(Vec::as_slice) {
            Some([x, y]) => x
                .as_f64()
                .zip(y.as_f64())
                .filter(|(x, y)| x.is_finite() && y.is_finite()),
            _ => None,
        };
        let (x, y) = pair.ok_or_else(|| {
            model_error(format!(
                "score_transform.knots[{i}] must be [x, y], two finite numbers"
            ))
        })?;
        if let Some(&(px, py)) = knots.last() {
            if !(px < x && py <= y) {
                return Err(model_error(format!(
                    "score_transform.knots must have increasing x and non-decreasing y, got \
                     [{px}, {py}] then [{x}, {y}]"
                )));
            }
        }
        knots.push((x, y));
    }
    Ok(knots)
}

/// Least-squares projection of `y` onto non-decreasing sequences (pool adjacent violators):
/// each run that decreases is replaced by its mean.
fn pool_adjacent_violators(y: &mut [f64]) {
    // Blocks of (mean, length), kept non-decreasing by merging with the previous block.
    let mut blocks: Vec<(f64, usize)> = Vec::with_capacity(y.len());
    for &v in y.iter() {
        let mut block = (v, 1usize);
        while let Some(&(mean, len)) = blocks.last() {
            if mean <= block.0 {
                break;
            }
            blocks.pop();
            let total = len + block.1;
            block = (
                (mean * len as f64 + block.0 * block.1 as f64) / total as f64,
                total,
            );
        }
        blocks.push(block);
    }
    let mut out = y.iter_mut();
    for (mean, len) in blocks {
        for slot in out.by_ref().take(len) {
            *slot = mean;
        }
    }
}

/// A libvmaf model that can be trained: one SVM with `linear_rescale` normalisation.
#[derive(Debug, Clone)]
pub struct TrainableModel {
    document: Value,
    svm: SvmModel,
    feature_names: Vec<String>,
    slopes: Vec<f64>,
    intercepts: Vec<f64>,
    transform: BaseTransform,
    clip: Option<(f64, f64)>,
}

fn model_error(detail: impl Into<String>) -> TrainerError {
    TrainerError::Model(detail.into())
}

fn numbers(dict: &Value, key: &str) -> Result<Vec<f64>, TrainerError> {
    dict.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| model_error(format!("model_dict.{key} must be an array of numbers")))?
        .iter()
        .map(|v| {
            v.as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| model_error(format!("model_dict.{key} holds a non-number")))
        })
        .collect()
}

impl TrainableModel {
    /// Reads a model JSON document. Collections, other normalisations and chroma correction are
    /// refused: their parameters are not learned here.
    pub fn parse(text: &str) -> Result<TrainableModel, TrainerError> {
        let document: Value =
            serde_json::from_str(text).map_err(|e| model_error(format!("not JSON: {e}")))?;
        let dict = document
            .get("model_dict")
            .ok_or_else(|| model_error("no model_dict (model collections are not trained)"))?;
        if dict.get("model").and_then(Value::as_str).is_none() {
            return Err(model_error(
                "model_dict.model must be libsvm text (model collections are not trained)",
            ));
        }
        if dict.get("norm_type").and_then(Value::as_str) != Some("linear_rescale") {
            return Err(model_error(
                "model_dict.norm_type must be linear_rescale: the normalisation is what is learned",
            ));
        }
        if dict.get("chroma_correction_parameter").is_some() {
            return Err(model_error(
                "chroma_correction_parameter models are not trained",
            ));
        }
        let feature_names: Vec<String> = dict
            .get("feature_names")
            .and_then(Value::as_array)
            .ok_or_else(|| model_error("model_dict.feature_names must be an array"))?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| model_error("model_dict.feature_names holds a non-string"))
            })
            .collect::<Result<_, _>>()?;
        let n = feature_names.len();
        let slopes = numbers(dict, "slopes")?;
        let intercepts = numbers(dict, "intercepts")?;
        if slopes.len() != n + 1 || intercepts.len() != n + 1 {
            return Err(model_error(format!(
                "model_dict.slopes and intercepts need {} entries each (the prediction's, then \
                 one per feature), found {} and {}",
                n + 1,
                slopes.len(),
                intercepts.len()
            )));
        }
        if slopes.contains(&0.0) {
            return Err(model_error("model_dict.slopes holds a zero"));
        }
        let svm_text = dict
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let svm = SvmModel::parse(svm_text, n).map_err(|e| model_error(format!("model: {e}")))?;
        if svm.width() != n {
            return Err(model_error(format!(
                "the SVM has {} inputs for {n} features",
                svm.width()
            )));
        }
        let transform = match dict.get("score_transform") {
            Some(t) if t.get("enabled").and_then(Value::as_bool) == Some(true) => {
                let knots = match t.get("knots") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(k) => read_knots(k)?,
                };
                let p = |k: &str| t.get(k).and_then(Value::as_f64);
                let coefficients = [p("p0"), p("p1"), p("p2")];
                // libvmaf applies the polynomial only if one coefficient is given; without
                // knots the trainer always learns one (the identity to start with).
                let poly = if knots.is_empty() || coefficients.iter().any(Option::is_some) {
                    Some(coefficients.map(|c| c.unwrap_or(0.0)))
                } else {
                    None
                };
                let flag = |k: &str| t.get(k).and_then(Value::as_str) == Some("true");
                BaseTransform {
                    poly,
                    knots,
                    out_gte_in: flag("out_gte_in"),
                    out_lte_in: flag("out_lte_in"),
                }
            }
            // Not enabled (as in vmaf_v0.6.1, whose scores are untransformed by default): the
            // identity, enabled in the checkpoints, so the base model scores exactly as before.
            _ => BaseTransform {
                poly: Some([0.0, 1.0, 0.0]),
                knots: Vec::new(),
                out_gte_in: false,
                out_lte_in: false,
            },
        };
        let clip = match dict.get("score_clip").and_then(Value::as_array) {
            Some(c) => match (
                c.first().and_then(Value::as_f64),
                c.get(1).and_then(Value::as_f64),
            ) {
                (Some(lo), Some(hi)) => Some((lo, hi)),
                _ => return Err(model_error("model_dict.score_clip must be [min, max]")),
            },
            None => None,
        };
        Ok(TrainableModel {
            document,
            svm,
            feature_names,
            slopes,
            intercepts,
            transform,
            clip,
        })
    }

    /// Reads a model JSON file.
    pub fn load(path: &Path) -> Result<TrainableModel, TrainerError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainerError::io(path, e))?;
        TrainableModel::parse(&text).map_err(|e| match e {
            TrainerError::Model(detail) => {
                TrainerError::Model(format!("{}: {detail}", path.display()))
            }
            other => other,
        })
    }

    /// The model's features, in the order samples carry them.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// Length of the learned vector: a slope and an intercept for the prediction and for each
    /// feature, three polynomial coefficients (if learned), and one output per knot.
    pub fn parameter_count(&self) -> usize {
        self.knots_offset() + self.transform.knots.len()
    }

    /// Where the polynomial's three entries start in `u`.
    fn poly_offset(&self) -> usize {
        2 * (self.feature_names.len() + 1)
    }

    /// Where the knots' entries start in `u`.
    fn knots_offset(&self) -> usize {
        self.poly_offset() + if self.transform.poly.is_some() { 3 } else { 0 }
    }

    /// The knots' outputs at `u`, before any projection.
    fn knot_outputs(&self, u: &[f64]) -> Vec<f64> {
        let offset = self.knots_offset();
        self.transform
            .knots
            .iter()
            .enumerate()
            .map(|(k, &(_, y))| y + KNOT_SCALE * u[offset + k])
            .collect()
    }

    /// Keeps the knots' outputs non-decreasing after an optimiser step: replaces them by their
    /// least-squares projection onto non-decreasing sequences (pool adjacent violators), so the
    /// weights, and the EMA (an average of projected weights), are models libvmaf accepts. A
    /// no-op for models without knots.
    pub fn project(&self, u: &mut [f64]) {
        if self.transform.knots.is_empty() {
            return;
        }
        let mut y = self.knot_outputs(u);
        if y.windows(2).all(|p| p[0] <= p[1]) {
            return;
        }
        pool_adjacent_violators(&mut y);
        let offset = self.knots_offset();
        for (k, (&(_, base), out)) in self.transform.knots.iter().zip(y).enumerate() {
            u[offset + k] = (out - base) / KNOT_SCALE;
        }
    }

    /// Slopes, intercepts, polynomial and knots at `u`.
    fn resolve(&self, u: &[f64]) -> Resolved {
        let m = self.feature_names.len() + 1;
        let slopes = (0..m).map(|i| self.slopes[i] * u[i].exp()).collect();
        let intercepts = (0..m).map(|i| self.intercepts[i] + u[m + i]).collect();
        let o = self.poly_offset();
        let poly = self.transform.poly.map(|p| {
            [
                p[0] + 100.0 * u[o],
                p[1] + u[o + 1],
                p[2] + u[o + 2] / 100.0,
            ]
        });
        // `project` keeps the outputs ordered, but y⁰ + 100·u can round one ulp below its
        // left neighbour where two knots are tied: the running maximum makes every exported
        // model valid, and the trainer predicts with the very knots it exports.
        let mut floor = f64::NEG_INFINITY;
        let knots = self
            .transform
            .knots
            .iter()
            .zip(self.knot_outputs(u))
            .map(|(&(x, _), y)| {
                floor = floor.max(y);
                (x, floor)
            })
            .collect();
        Resolved {
            slopes,
            intercepts,
            poly,
            knots,
        }
    }

    /// One frame's score at `u`, and, when `gradient` is given, adds `∂score/∂u` into it. Where
    /// the clip or the rectification holds the score, the gradient passes straight through (so
    /// a prediction stuck at 100 can still be pulled down).
    fn frame(&self, u: &[f64], features: &[f64], gradient: Option<&mut [f64]>) -> f64 {
        let m = self.feature_names.len() + 1;
        let Resolved {
            slopes,
            intercepts,
            poly,
            knots,
        } = self.resolve(u);
        let x: Vec<f64> = features
            .iter()
            .enumerate()
            .map(|(i, &f)| slopes[i + 1] * f + intercepts[i + 1])
            .collect();
        let (y, dy_dx) = self.svm.predict_with_gradient(&x);
        let s = (y - intercepts[0]) / slopes[0];
        // The polynomial, accumulated term by term from zero as libvmaf does.
        let (q, dq_ds) = match poly {
            Some(p) => {
                let mut q = 0.0;
                q += p[0];
                q += p[1] * s;
                q += p[2] * s * s;
                (q, p[1] + 2.0 * p[2] * s)
            }
            None => (s, 1.0),
        };
        let (mut t, dt_dq, knot) = if knots.is_empty() {
            (q, 1.0, None)
        } else {
            let (value, slope, segment, w) = knots_map(q, &knots);
            (value, slope, Some((segment, w)))
        };
        let mut rectified = false;
        if self.transform.out_lte_in && t > s {
            t = s;
            rectified = true;
        }
        if self.transform.out_gte_in && t < s {
            t = s;
            rectified = true;
        }
        let score = match self.clip {
            Some((lo, hi)) => t.max(lo).min(hi),
            None => t,
        };
        if let Some(g) = gradient {
            let dt_ds = if rectified { 1.0 } else { dt_dq * dq_ds };
            if !rectified {
                if poly.is_some() {
                    let o = self.poly_offset();
                    g[o] += dt_dq * 100.0;
                    g[o + 1] += dt_dq * s;
                    g[o + 2] += dt_dq * s * s / 100.0;
                }
                if let Some((segment, w)) = knot {
                    let o = self.knots_offset() + segment;
                    g[o] += KNOT_SCALE * (1.0 - w);
                    g[o + 1] += KNOT_SCALE * w;
                }
            }
            // s = (y − b0)/a0, a0 = a0⁰·e^u: ∂s/∂u_a0 = −s, ∂s/∂b0 = −1/a0, ∂s/∂y = 1/a0.
            g[0] += dt_ds * -s;
            g[m] += dt_ds * (-1.0 / slopes[0]);
            let ds_dy = dt_ds / slopes[0];
            for (i, (&f, &d)) in features.iter().zip(&dy_dx).enumerate() {
                g[i + 1] += ds_dy * d * slopes[i + 1] * f;
                g[m + i + 1] += ds_dy * d;
            }
        }
        score
    }

    /// The clip's score at `u`: the mean of its frame scores (VMAF's pooled mean).
    pub fn predict(&self, u: &[f64], sample: &Sample) -> f64 {
        if sample.frames.is_empty() {
            return 0.0;
        }
        let sum: f64 = sample.frames.iter().map(|f| self.frame(u, f, None)).sum();
        sum / sample.frames.len() as f64
    }

    /// The clip's score at `u` and its gradient with respect to `u`.
    pub fn predict_with_gradient(&self, u: &[f64], sample: &Sample) -> (f64, Vec<f64>) {
        let mut gradient = vec![0.0; self.parameter_count()];
        if sample.frames.is_empty() {
            return (0.0, gradient);
        }
        let mut sum = 0.0;
        for f in &sample.frames {
            sum += self.frame(u, f, Some(&mut gradient));
        }
        let n = sample.frames.len() as f64;
        gradient.iter_mut().for_each(|g| *g /= n);
        (sum / n, gradient)
    }

    /// Checks a sample's shape against the model.
    pub fn check(&self, sample: &Sample) -> Result<(), TrainerError> {
        if !(sample.target.is_finite() && (0.0..=100.0).contains(&sample.target)) {
            return Err(TrainerError::Sample(format!(
                "target {} is not a finite score from 0 to 100",
                sample.target
            )));
        }
        if sample.frames.is_empty() || sample.frames.len() > MAX_FRAMES_PER_SAMPLE {
            return Err(TrainerError::Sample(format!(
                "{} frames; a sample has 1 to {MAX_FRAMES_PER_SAMPLE}",
                sample.frames.len()
            )));
        }
        let n = self.feature_names.len();
        if let Some(bad) = sample
            .frames
            .iter()
            .find(|f| f.len() != n || f.iter().any(|x| !x.is_finite()))
        {
            return Err(TrainerError::Sample(format!(
                "a frame holds {} values ({n} finite features expected: {})",
                bad.len(),
                self.feature_names.join(", ")
            )));
        }
        Ok(())
    }

    /// The model JSON at `u`: the base document with `slopes`, `intercepts` and an enabled
    /// `score_transform` (the polynomial, the knots as `[[x, y], …]`, whichever the base model
    /// has, and its rectification flags) replaced, everything else (the SVM above all)
    /// unchanged.
    pub fn export(&self, u: &[f64]) -> Value {
        let resolved = self.resolve(u);
        let mut document = self.document.clone();
        if let Some(dict) = document
            .get_mut("model_dict")
            .and_then(Value::as_object_mut)
        {
            dict.insert("slopes".into(), json!(resolved.slopes));
            dict.insert("intercepts".into(), json!(resolved.intercepts));
            let mut transform = json!({ "enabled": true });
            if let Some(p) = resolved.poly {
                transform["p0"] = json!(p[0]);
                transform["p1"] = json!(p[1]);
                transform["p2"] = json!(p[2]);
            }
            if !resolved.knots.is_empty() {
                let pairs: Vec<[f64; 2]> = resolved.knots.iter().map(|&(x, y)| [x, y]).collect();
                transform["knots"] = json!(pairs);
            }
            for (flag, on) in [
                ("out_gte_in", self.transform.out_gte_in),
                ("out_lte_in", self.transform.out_lte_in),
            ] {
                if on {
                    transform[flag] = json!("true");
                }
            }
            dict.insert("score_transform".into(), transform);
        }
        document
    }

    /// The knots `(x, y)` at `u`, as [`Self::export`] writes them; empty for a model without.
    pub fn knots(&self, u: &[f64]) -> Vec<(f64, f64)> {
        self.resolve(u).knots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const BASE: &str = include_str!("../../vmafx-engine/models/vmaf_v0.6.1.json");

    fn sample(frames: Vec<Vec<f64>>) -> Sample {
        Sample::new("s".into(), 50.0, frames)
    }

    #[test]
    fn the_gradient_matches_finite_differences() {
        let m = TrainableModel::parse(BASE).unwrap();
        let s = sample(vec![
            vec![0.9, 3.0, 0.5, 0.8, 0.85, 0.9],
            vec![0.95, 1.0, 0.7, 0.9, 0.93, 0.95],
        ]);
        let mut u = vec![0.0; m.parameter_count()];
        for (i, v) in u.iter_mut().enumerate() {
            *v = 0.01 * ((i % 5) as f64 - 2.0);
        }
        check_gradient(&m, &u, &s);
    }

    /// A frame of plausible features for content of quality `q` (0–1) and a given motion.
    fn frame_at(q: f64, motion: f64) -> Vec<f64> {
        vec![
            0.55 + 0.45 * q,
            motion,
            0.1 + 0.85 * q * q,
            0.3 + 0.69 * q,
            0.4 + 0.59 * q,
            0.45 + 0.54 * q,
        ]
    }

    /// vmaf_v0.6.1 with `transform` as its enabled `score_transform` and, unless `clip`, no
    /// `score_clip` (so that finite differences see the transform's extrapolation).
    fn with_transform(transform: Value, clip: bool) -> String {
        let mut doc: Value = serde_json::from_str(BASE).unwrap();
        let dict = doc["model_dict"].as_object_mut().unwrap();
        dict.insert("score_transform".into(), transform);
        if !clip {
            dict.remove("score_clip");
        }
        doc.to_string()
    }

    /// Checks `predict_with_gradient` against central differences at `u`.
    fn check_gradient(m: &TrainableModel, u: &[f64], s: &Sample) {
        let (value, g) = m.predict_with_gradient(u, s);
        assert_eq!(value, m.predict(u, s));
        for k in 0..u.len() {
            let h = 1e-6;
            let (mut up, mut down) = (u.to_vec(), u.to_vec());
            up[k] += h;
            down[k] -= h;
            let numeric = (m.predict(&up, s) - m.predict(&down, s)) / (2.0 * h);
            assert!(
                (numeric - g[k]).abs() < 1e-4 * (1.0 + numeric.abs()),
                "parameter {k}: numeric {numeric}, analytic {}",
                g[k]
            );
        }
    }

    #[test]
    fn the_knots_map_is_libvmafs_and_its_derivatives_match_finite_differences() {
        let knots = [
            (0.0, 2.0),
            (30.0, 25.0),
            (60.0, 65.0),
            (80.0, 65.0),
            (90.0, 96.0),
        ];
        // Values: inside, below the first knot (x = 0, libvmaf's special case), on a flat
        // segment, beyond the last knot, and at knots (a later segment wins at an inner one).
        for (q, expected) in [
            (15.0, 2.0 + 23.0 / 30.0 * 15.0),
            (-6.0, 2.0 - 23.0 / 30.0 * 6.0),
            (70.0, 65.0),
            (95.0, 96.0 + 3.1 * 5.0),
            (0.0, 2.0),
            (60.0, 65.0),
            (90.0, 96.0),
        ] {
            let (value, ..) = knots_map(q, &knots);
            assert!(
                (value - expected).abs() < 1e-12,
                "k({q}) = {value}, not {expected}"
            );
        }
        assert_eq!(knots_map(f64::NAN, &knots).0, 0.0);

        let value_at = |q: f64, ys: &[f64]| {
            let moved: Vec<(f64, f64)> = knots.iter().zip(ys).map(|(&(x, _), &y)| (x, y)).collect();
            knots_map(q, &moved).0
        };
        let ys: Vec<f64> = knots.iter().map(|k| k.1).collect();
        let h = 1e-5;
        // At and beyond the first and last knots, and inside segments (the end segments
        // extend, so q is smooth there), dk/dq and every ∂k/∂y_k.
        for q in [-20.0, 0.0, 12.5, 45.0, 88.0, 90.0, 130.0] {
            let (_, slope, segment, w) = knots_map(q, &knots);
            let numeric = (value_at(q + h, &ys) - value_at(q - h, &ys)) / (2.0 * h);
            assert!(
                (numeric - slope).abs() < 1e-6,
                "dk/dq at {q}: {numeric} vs {slope}"
            );
            for k in 0..ys.len() {
                let analytic = if k == segment {
                    1.0 - w
                } else if k == segment + 1 {
                    w
                } else {
                    0.0
                };
                let (mut up, mut down) = (ys.clone(), ys.clone());
                up[k] += h;
                down[k] -= h;
                let numeric = (value_at(q, &up) - value_at(q, &down)) / (2.0 * h);
                assert!(
                    (numeric - analytic).abs() < 1e-6,
                    "∂k/∂y{k} at {q}: numeric {numeric}, analytic {analytic}"
                );
            }
        }
        // At an inner knot k(q) is y_k itself (the kink is in q only).
        let (_, _, segment, w) = knots_map(30.0, &knots);
        assert_eq!((segment, w), (1, 0.0));
    }

    #[test]
    fn the_gradient_through_knots_matches_finite_differences() {
        let frames = vec![
            frame_at(0.3, 4.0),
            frame_at(0.6, 4.0),
            frame_at(0.95, 2.0),
            frame_at(0.75, 9.0),
        ];
        let s = sample(frames);
        // With a polynomial: scores near 11, 41, 93 and 61 fall below, inside and beyond the
        // knots.
        let with_poly = with_transform(
            json!({"enabled": true, "p0": -1.0, "p1": 1.02,
                   "knots": [[20, 15], [45, 40], [70, 72], [85, 88]]}),
            false,
        );
        // Knots alone, the first at x = 0 (libvmaf's special case).
        let knots_only = with_transform(
            json!({"enabled": true, "knots": [[0, 2], [30, 25], [60, 65], [90, 96]]}),
            false,
        );
        for (text, count) in [(with_poly, 14 + 3 + 4), (knots_only, 14 + 4)] {
            let m = TrainableModel::parse(&text).unwrap();
            assert_eq!(m.parameter_count(), count);
            let mut u = vec![0.0; count];
            for (i, v) in u.iter_mut().enumerate() {
                *v = 0.01 * ((i % 5) as f64 - 2.0);
            }
            m.project(&mut u);
            check_gradient(&m, &u, &s);
        }
    }

    #[test]
    fn the_base_knots_model_scores_as_its_document_and_exports_the_same_shape() {
        let text = with_transform(
            json!({"enabled": true, "knots": [[0, 2], [30, 25], [60, 65], [90, 96]],
                   "out_gte_in": "true"}),
            true,
        );
        let m = TrainableModel::parse(&text).unwrap();
        let zero = vec![0.0; m.parameter_count()];
        let exported = m.export(&zero);
        let transform = &exported["model_dict"]["score_transform"];
        assert_eq!(
            transform,
            &json!({"enabled": true, "knots": [[0.0, 2.0], [30.0, 25.0], [60.0, 65.0],
                    [90.0, 96.0]], "out_gte_in": "true"})
        );
        let mut u = zero.clone();
        let o = m.knots_offset();
        u[o + 2] = 10.0 / KNOT_SCALE;
        let knots = m.knots(&u);
        assert_eq!(knots[2], (60.0, 75.0));
        assert_eq!(
            m.export(&u)["model_dict"]["score_transform"]["knots"][2],
            json!([60.0, 75.0])
        );
    }

    #[test]
    fn projection_keeps_knot_outputs_non_decreasing() {
        let mut y = [0.0, 50.0, 40.0, 100.0, 90.0, 80.0];
        pool_adjacent_violators(&mut y);
        assert_eq!(y, [0.0, 45.0, 45.0, 90.0, 90.0, 90.0]);
        let text = with_transform(
            json!({"enabled": true, "knots": [[0, 0], [50, 50], [100, 100]]}),
            true,
        );
        let m = TrainableModel::parse(&text).unwrap();
        let o = m.knots_offset();
        // y = [0, 50 + 30, 100 − 30] = [0, 80, 70]: projected to [0, 75, 75].
        let mut u = vec![0.0; m.parameter_count()];
        u[o + 1] = 30.0 / KNOT_SCALE;
        u[o + 2] = -30.0 / KNOT_SCALE;
        let untouched = u[..o].to_vec();
        m.project(&mut u);
        assert_eq!(&u[..o], &untouched[..]);
        let knots = m.knots(&u);
        assert!((knots[1].1 - 75.0).abs() < 1e-12 && (knots[2].1 - 75.0).abs() < 1e-12);
        assert!(knots[1].1 <= knots[2].1);
        // Already ordered weights are left alone.
        let mut ordered = vec![0.0; m.parameter_count()];
        ordered[o + 2] = 20.0 / KNOT_SCALE;
        let before = ordered.clone();
        m.project(&mut ordered);
        assert_eq!(ordered, before);
        // A tiny inversion, as rounding can leave between tied knots, never reaches the knots
        // the model exports.
        let mut tied = vec![0.0; m.parameter_count()];
        tied[o] = 50.0 / KNOT_SCALE;
        tied[o + 1] = -1e-14;
        assert!(m.knot_outputs(&tied)[1] < 50.0);
        let knots = m.knots(&tied);
        assert_eq!(knots[1], (50.0, 50.0));
    }

    #[test]
    fn bad_knots_are_refused_naming_score_transform_knots() {
        for (knots, needle) in [
            (json!([[0, 0], [50, 50], [50, 60]]), "increasing x"),
            (json!([[0, 0], [60, 50], [40, 60]]), "increasing x"),
            (json!([[0, 10], [50, 5]]), "non-decreasing y"),
            (json!([[0, 0], [50]]), "knots[1] must be [x, y]"),
            (json!([[0, 0], [50, 50, 1]]), "knots[1] must be [x, y]"),
            (json!([[0, 0], ["50", 50]]), "knots[1] must be [x, y]"),
            (json!([0, 50]), "knots[0] must be [x, y]"),
            (json!({"0": 0}), "must be an array"),
            (json!([[0, 0]]), "2 to 10"),
            (
                json!((0..11).map(|i| [i, i]).collect::<Vec<_>>()),
                "2 to 10",
            ),
        ] {
            let text = with_transform(json!({"enabled": true, "knots": knots}), true);
            let err = TrainableModel::parse(&text).unwrap_err().to_string();
            assert!(
                err.contains("score_transform.knots") && err.contains(needle),
                "{knots}: {err}"
            );
        }
    }

    #[test]
    fn unsupported_models_are_refused_naming_why() {
        for (text, needle) in [
            ("{}".to_owned(), "model_dict"),
            (BASE.replace("linear_rescale", "none"), "norm_type"),
            ("not json".to_owned(), "JSON"),
        ] {
            let err = TrainableModel::parse(&text).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        let m = TrainableModel::parse(BASE).unwrap();
        let bad = Sample::new("b".into(), 101.0, vec![vec![0.0; 6]]);
        assert!(m.check(&bad).unwrap_err().to_string().contains("target"));
        let bad = Sample::new("b".into(), 50.0, vec![vec![0.0; 5]]);
        assert!(m.check(&bad).unwrap_err().to_string().contains("6 finite"));
    }
}
