//! The pooled result a job Pod reports through its termination message (`vmafx score
//! --termination-message`), and the operator's reading of it: one small JSON document, bounded by
//! the kubelet's 4 KiB per-container limit.

use serde::{Deserialize, Serialize};

/// The most bytes of a termination message the kubelet keeps for one container.
pub const MAX_RESULT_BYTES: usize = 4096;

/// The longest error kept in a result, in bytes; the rest of the line is cut.
pub const MAX_ERROR_BYTES: usize = 1024;

/// The longest score name accepted when reading a result back.
pub const MAX_SCORE_NAME_BYTES: usize = 256;

/// One pooled mean under its name (a model's score name or a metric such as `psnr_y`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedScore {
    /// The model's score name, or the metric's name.
    pub name: String,
    /// The mean over the frames.
    pub mean: f64,
}

/// What a job Pod reports: its pooled scores, or the one-line error that stopped it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PodResult {
    /// Frames scored.
    #[serde(default)]
    pub frames: u64,
    /// Each model's pooled mean, in the order the models were given (the first is the job's
    /// score).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<NamedScore>,
    /// Each extra metric's pooled mean.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<NamedScore>,
    /// Metrics left out to keep the message within [`MAX_RESULT_BYTES`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub metrics_dropped: usize,
    /// Why the run failed, one line; absent on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Why a termination message is not a usable result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResultError {
    /// Longer than the kubelet would have kept.
    #[error("the result is {0} bytes, more than {MAX_RESULT_BYTES}")]
    TooLong(usize),
    /// Not the JSON document `vmafx score --termination-message` writes.
    #[error("the result is not a vmafx result document: {0}")]
    Malformed(String),
    /// A score has an empty or overlong name, or a mean that is not finite.
    #[error("the result's {field} is invalid: {reason}")]
    Invalid {
        /// Which entry, e.g. `models[0]`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Neither scores nor an error: the Pod ended before writing its result.
    #[error("the result holds neither scores nor an error")]
    Empty,
}

/// `text` cut to at most `max` bytes on a character boundary, on one line.
fn one_line(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.len() <= max {
        return line;
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line[..end].to_owned()
}

impl PodResult {
    /// The result of a run that failed with `error`.
    pub fn failed(error: &str) -> PodResult {
        PodResult {
            error: Some(one_line(error, MAX_ERROR_BYTES)),
            ..PodResult::default()
        }
    }

    /// The message to write: JSON within [`MAX_RESULT_BYTES`]. Non-finite means are left out
    /// (JSON has no NaN); metrics are dropped from the end, and counted, until it fits.
    pub fn to_message(&self) -> String {
        let finite = |scores: &[NamedScore]| -> Vec<NamedScore> {
            scores
                .iter()
                .filter(|s| s.mean.is_finite())
                .map(|s| NamedScore {
                    name: one_line(&s.name, MAX_SCORE_NAME_BYTES),
                    mean: s.mean,
                })
                .collect()
        };
        let mut out = PodResult {
            frames: self.frames,
            models: finite(&self.models),
            metrics: finite(&self.metrics),
            metrics_dropped: self.metrics_dropped,
            error: self.error.as_deref().map(|e| one_line(e, MAX_ERROR_BYTES)),
        };
        loop {
            // Serialising plain strings and finite floats cannot fail.
            let text = serde_json::to_string(&out).unwrap_or_default();
            if text.len() <= MAX_RESULT_BYTES {
                return text;
            }
            if out.metrics.pop().is_some() {
                out.metrics_dropped += 1;
            } else if out.models.pop().is_none() {
                // Only an error of at most MAX_ERROR_BYTES remains, which always fits.
                return serde_json::to_string(&PodResult::failed(
                    out.error.as_deref().unwrap_or("result too large"),
                ))
                .unwrap_or_default();
            }
        }
    }

    /// Reads a termination message back, checking every entry.
    pub fn parse(text: &str) -> Result<PodResult, ResultError> {
        if text.len() > MAX_RESULT_BYTES {
            return Err(ResultError::TooLong(text.len()));
        }
        let result: PodResult = serde_json::from_str(text.trim())
            .map_err(|e| ResultError::Malformed(one_line(&e.to_string(), 200)))?;
        for (list, scores) in [("models", &result.models), ("metrics", &result.metrics)] {
            for (i, score) in scores.iter().enumerate() {
                let invalid = |reason: &str| ResultError::Invalid {
                    field: format!("{list}[{i}]"),
                    reason: reason.to_owned(),
                };
                if score.name.is_empty() || score.name.len() > MAX_SCORE_NAME_BYTES {
                    return Err(invalid("the name must be 1 to 256 bytes"));
                }
                if !score.mean.is_finite() {
                    return Err(invalid("the mean is not finite"));
                }
            }
        }
        if result.error.is_none() && result.models.is_empty() && result.metrics.is_empty() {
            return Err(ResultError::Empty);
        }
        Ok(result)
    }

    /// The job's score: the first model's mean.
    pub fn score(&self) -> Option<f64> {
        self.models.first().map(|m| m.mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str, mean: f64) -> NamedScore {
        NamedScore {
            name: name.to_owned(),
            mean,
        }
    }

    #[test]
    fn a_result_round_trips() {
        let result = PodResult {
            frames: 8,
            models: vec![named("vmaf", 95.123456), named("vmaf_neg", 94.0)],
            metrics: vec![named("psnr_y", 41.5)],
            ..PodResult::default()
        };
        let text = result.to_message();
        assert_eq!(PodResult::parse(&text).unwrap(), result);
        assert_eq!(PodResult::parse(&text).unwrap().score(), Some(95.123456));
    }

    #[test]
    fn large_results_drop_metrics_and_stay_within_the_limit() {
        let result = PodResult {
            frames: 1,
            models: vec![named("vmaf", 1.0)],
            metrics: (0..400)
                .map(|i| named(&format!("metric_{i}"), 0.5))
                .collect(),
            ..PodResult::default()
        };
        let text = result.to_message();
        assert!(text.len() <= MAX_RESULT_BYTES);
        let back = PodResult::parse(&text).unwrap();
        assert_eq!(back.models, result.models);
        assert_eq!(back.metrics.len() + back.metrics_dropped, 400);
        assert!(back.metrics_dropped > 0);
    }

    #[test]
    fn non_finite_means_are_left_out() {
        let result = PodResult {
            frames: 1,
            models: vec![named("vmaf", 50.0)],
            metrics: vec![named("psnr_y", f64::INFINITY), named("ciede2000", 40.0)],
            ..PodResult::default()
        };
        let back = PodResult::parse(&result.to_message()).unwrap();
        assert_eq!(back.metrics, vec![named("ciede2000", 40.0)]);
    }

    #[test]
    fn errors_are_one_bounded_line() {
        let long = format!("failed to open s3://b/k:\n{}", "é".repeat(3000));
        let text = PodResult::failed(&long).to_message();
        let back = PodResult::parse(&text).unwrap();
        let error = back.error.unwrap();
        assert!(error.len() <= MAX_ERROR_BYTES && !error.contains('\n'));
        assert!(error.starts_with("failed to open s3://b/k: é"));
    }

    #[test]
    fn bad_messages_are_named() {
        assert_eq!(
            PodResult::parse(&"x".repeat(5000)),
            Err(ResultError::TooLong(5000))
        );
        assert!(matches!(
            PodResult::parse("Error: exit 1"),
            Err(ResultError::Malformed(_))
        ));
        assert_eq!(PodResult::parse("{}"), Err(ResultError::Empty));
        let err = PodResult::parse(r#"{"models":[{"name":"","mean":1}]}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the result's models[0] is invalid: the name must be 1 to 256 bytes"
        );
    }

    #[test]
    fn fuzz_parse_never_panics() {
        let seed = r#"{"frames":8,"models":[{"name":"vmaf","mean":95.1}],"metrics":[{"name":"psnr_y","mean":40}],"error":"x"}"#;
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let mut bytes = seed.as_bytes().to_vec();
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state as usize) % bytes.len();
                bytes[at] = (state >> 32) as u8;
            }
            let text = String::from_utf8_lossy(&bytes);
            let _ = PodResult::parse(&text);
        }
    }
}
