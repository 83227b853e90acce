//! libsvm regression models (the text embedded in a VMAF model's `"model"` string) and their
//! prediction, with the same summation order and arithmetic as libsvm's `svm_predict` for an
//! RBF kernel so that scores match libvmaf bit for bit.

use super::json::quoted;

/// A parsed nu-SVR / epsilon-SVR model with an RBF kernel.
#[derive(Debug, Clone)]
pub struct SvmModel {
    gamma: f64,
    rho: f64,
    /// One dual coefficient per support vector.
    coefficients: Vec<f64>,
    /// Support vectors stored densely, `width` values each. libsvm stores them sparsely; an
    /// index missing from a vector contributes `x*x` there, which is exactly what `(x - 0)²`
    /// gives here, and both walk the indices in ascending order, so the sums are identical.
    vectors: Vec<f64>,
    width: usize,
}

/// Most support vectors a model may declare (`total_sv`). libvmaf's models hold a few hundred
/// (211 in `vmaf_v0.6.1`, 262 in `vmaf_4k_v0.6.1`); the dense rows of this many vectors at
/// [`MAX_INDEX`] wide take 32 MiB.
pub const MAX_SUPPORT_VECTORS: usize = 1 << 16;
/// Largest libsvm feature index accepted: libvmaf's limit of 64 features per model, since an
/// index names one model input.
pub const MAX_INDEX: usize = 64;
/// Longest line of libsvm text, in bytes: a support vector of [`MAX_INDEX`] entries written
/// with 17 significant digits takes under 2 KiB.
pub const MAX_LINE_BYTES: usize = 16 << 10;

impl SvmModel {
    /// Parses libsvm's model text. `min_width` is the number of inputs the caller will pass,
    /// so that the dense rows cover every input index.
    pub fn parse(text: &str, min_width: usize) -> Result<SvmModel, String> {
        if let Some((n, _)) = text
            .lines()
            .enumerate()
            .find(|(_, line)| line.len() > MAX_LINE_BYTES)
        {
            return Err(format!(
                "libsvm line {} is longer than {MAX_LINE_BYTES} bytes",
                n + 1
            ));
        }
        let mut lines = text.lines();
        let mut svm_type = None;
        let mut kernel = None;
        let mut gamma = None;
        let mut nr_class = None;
        let mut total = None;
        let mut rho = None;
        loop {
            let line = lines
                .next()
                .ok_or("libsvm model has no \"SV\" line")?
                .trim();
            if line == "SV" {
                break;
            }
            let mut words = line.split_whitespace();
            let Some(key) = words.next() else { continue };
            let values: Vec<&str> = words.collect();
            let shown_key = quoted(key);
            let single = || -> Result<&str, String> {
                match values.as_slice() {
                    [v] => Ok(v),
                    _ => Err(format!(
                        "libsvm header \"{shown_key}\" needs exactly one value"
                    )),
                }
            };
            let number = |v: &str| -> Result<f64, String> {
                finite(v).ok_or_else(|| {
                    format!(
                        "libsvm header \"{shown_key}\" has a bad number \"{}\"",
                        quoted(v)
                    )
                })
            };
            let count = |v: &str| -> Result<usize, String> {
                v.parse::<usize>().map_err(|_| {
                    format!(
                        "libsvm header \"{shown_key}\" is not a count: \"{}\"",
                        quoted(v)
                    )
                })
            };
            let slot_taken = match key {
                "svm_type" => svm_type.is_some(),
                "kernel_type" => kernel.is_some(),
                "gamma" => gamma.is_some(),
                "nr_class" => nr_class.is_some(),
                "total_sv" => total.is_some(),
                "rho" => rho.is_some(),
                _ => false,
            };
            if slot_taken {
                return Err(format!("libsvm header \"{key}\" is given twice"));
            }
            match key {
                "svm_type" => svm_type = Some(single()?.to_string()),
                "kernel_type" => kernel = Some(single()?.to_string()),
                "gamma" => gamma = Some(number(single()?)?),
                "nr_class" => nr_class = Some(count(single()?)?),
                "total_sv" => total = Some(count(single()?)?),
                "rho" => rho = Some(number(single()?)?),
                // Present in classification models or other kernels; prediction here does not
                // use them.
                "degree" | "coef0" | "label" | "probA" | "probB" | "nr_sv" => {}
                _ => return Err(format!("unknown libsvm header \"{shown_key}\"")),
            }
        }

        match svm_type.as_deref() {
            Some("nu_svr" | "epsilon_svr") => {}
            Some(other) => {
                return Err(format!(
                    "libsvm svm_type \"{}\" is not supported (only nu_svr and epsilon_svr)",
                    quoted(other)
                ))
            }
            None => return Err("libsvm model has no svm_type".into()),
        }
        match kernel.as_deref() {
            Some("rbf") => {}
            Some(other) => {
                return Err(format!(
                    "libsvm kernel_type \"{}\" is not supported (only rbf)",
                    quoted(other)
                ))
            }
            None => return Err("libsvm model has no kernel_type".into()),
        }
        if nr_class != Some(2) {
            return Err(format!(
                "libsvm regression model needs nr_class 2, got {nr_class:?}"
            ));
        }
        let gamma = gamma.ok_or("libsvm model has no gamma")?;
        if gamma < 0.0 {
            return Err(format!("libsvm gamma {gamma} is negative"));
        }
        let rho = rho.ok_or("libsvm model has no rho")?;
        let total = total.ok_or("libsvm model has no total_sv")?;
        if total > MAX_SUPPORT_VECTORS {
            return Err(format!(
                "libsvm total_sv {total} is over the limit of {MAX_SUPPORT_VECTORS}"
            ));
        }

        // Capacity grows with the lines actually present, never from the declared count alone.
        let mut coefficients = Vec::new();
        let mut sparse: Vec<Vec<(usize, f64)>> = Vec::new();
        for n in 0..total {
            let line = lines
                .next()
                .ok_or_else(|| format!("libsvm model declares {total} support vectors, has {n}"))?;
            let bad = |what: &str| format!("support vector {n}: {what}");
            let mut words = line.split_whitespace();
            let coefficient = words.next().ok_or_else(|| bad("empty line"))?;
            let coefficient = finite(coefficient)
                .ok_or_else(|| bad(&format!("bad coefficient \"{}\"", quoted(coefficient))))?;
            let mut entries = Vec::new();
            let mut last = 0usize;
            for word in words {
                let (index, value) = word
                    .split_once(':')
                    .ok_or_else(|| bad(&format!("\"{}\" is not index:value", quoted(word))))?;
                let index: usize = index
                    .parse()
                    .map_err(|_| bad(&format!("bad index in \"{}\"", quoted(word))))?;
                // Strictly ascending indices from 1 are what libsvm's sparse walk assumes; the
                // dense layout relies on it too.
                if index <= last {
                    return Err(bad("indices must start at 1 and increase"));
                }
                if index > MAX_INDEX {
                    return Err(bad(&format!(
                        "index {index} is over the limit of {MAX_INDEX}"
                    )));
                }
                last = index;
                let value = finite(value)
                    .ok_or_else(|| bad(&format!("bad value in \"{}\"", quoted(word))))?;
                entries.push((index, value));
            }
            coefficients.push(coefficient);
            sparse.push(entries);
        }
        if let Some(extra) = lines.find(|line| !line.trim().is_empty()) {
            return Err(format!(
                "libsvm model declares {total} support vectors, and has more: \"{}\"",
                quoted(extra)
            ));
        }

        let width = sparse
            .iter()
            .filter_map(|sv| sv.last().map(|&(i, _)| i))
            .max()
            .unwrap_or(0)
            .max(min_width);
        if width == 0 {
            return Err("libsvm model has no inputs".into());
        }
        // Both factors are bounded (MAX_INDEX or the caller's input count, MAX_SUPPORT_VECTORS).
        let mut vectors = vec![0.0; width * total];
        for (row, sv) in vectors.chunks_exact_mut(width).zip(&sparse) {
            for &(index, value) in sv {
                row[index - 1] = value;
            }
        }
        Ok(SvmModel {
            gamma,
            rho,
            coefficients,
            vectors,
            width,
        })
    }

    /// The regression value for inputs `x` (libsvm indices 1..=x.len()), i.e.
    /// `Σ coef_i · exp(−γ‖x − sv_i‖²) − ρ`, accumulated in support-vector order.
    pub fn predict(&self, x: &[f64]) -> f64 {
        debug_assert!(x.len() <= self.width);
        let mut sum = 0.0;
        for (&c, sv) in self
            .coefficients
            .iter()
            .zip(self.vectors.chunks_exact(self.width))
        {
            sum += c * rbf(self.gamma, x, sv);
        }
        sum - self.rho
    }
}

impl SvmModel {
    /// The number of inputs the support vectors span.
    pub fn width(&self) -> usize {
        self.width
    }

    /// [`predict`](Self::predict) and its gradient with respect to each input:
    /// `∂/∂x_k = Σ coef_i · exp(−γ‖x − sv_i‖²) · (−2γ)(x_k − sv_ik)`. The value is computed in
    /// the same order as `predict`, so it is bit-identical to it.
    pub fn predict_with_gradient(&self, x: &[f64]) -> (f64, Vec<f64>) {
        debug_assert!(x.len() <= self.width);
        let mut sum = 0.0;
        let mut gradient = vec![0.0; x.len()];
        for (&c, sv) in self
            .coefficients
            .iter()
            .zip(self.vectors.chunks_exact(self.width))
        {
            let k = c * rbf(self.gamma, x, sv);
            sum += k;
            for ((g, &a), &b) in gradient.iter_mut().zip(x).zip(sv) {
                *g += k * (-2.0 * self.gamma) * (a - b);
            }
        }
        (sum - self.rho, gradient)
    }
}

/// `text` as a finite `f64`; libsvm's `strtod` would also read `nan` and `inf`, which no
/// trained model holds and which would make every score NaN.
fn finite(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `exp(−γ‖x − sv‖²)`, where `x` is implicitly zero past its end.
fn rbf(gamma: f64, x: &[f64], sv: &[f64]) -> f64 {
    let mut distance = 0.0;
    for (&a, &b) in x.iter().zip(sv) {
        let d = a - b;
        distance += d * d;
    }
    for &b in &sv[x.len().min(sv.len())..] {
        distance += b * b;
    }
    (-gamma * distance).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = "svm_type nu_svr\nkernel_type rbf\ngamma 0.5\nnr_class 2\ntotal_sv 2\n\
                        rho -0.25\nSV\n2 1:0.5 3:1 \n-1.5 2:0.25 \n";

    #[test]
    fn sparse_vectors_predict_like_libsvm() {
        let m = SvmModel::parse(TINY, 3).unwrap();
        let x = [0.1, 0.2, 0.3];
        // libsvm's sparse walk, written out.
        let k0 = (-0.5f64
            * ((0.1f64 - 0.5) * (0.1 - 0.5) + 0.2 * 0.2 + (0.3f64 - 1.0) * (0.3 - 1.0)))
            .exp();
        let k1 = (-0.5f64 * (0.1 * 0.1 + (0.2f64 - 0.25) * (0.2 - 0.25) + 0.3 * 0.3)).exp();
        let expected = 0.0 + 2.0 * k0 + -1.5 * k1 - -0.25;
        assert_eq!(m.predict(&x), expected);
    }

    #[test]
    fn vectors_wider_than_the_input_add_their_squares() {
        let m = SvmModel::parse(TINY, 2).unwrap();
        let x = [0.1, 0.2];
        let k0 = (-0.5f64 * ((0.1f64 - 0.5) * (0.1 - 0.5) + 0.2 * 0.2 + 1.0)).exp();
        let k1 = (-0.5f64 * (0.1 * 0.1 + (0.2f64 - 0.25) * (0.2 - 0.25))).exp();
        assert_eq!(m.predict(&x), 2.0 * k0 + -1.5 * k1 + 0.25);
    }

    #[test]
    fn the_gradient_matches_finite_differences_and_the_value_matches_predict() {
        let m = SvmModel::parse(TINY, 3).unwrap();
        let x = [0.1, 0.2, 0.3];
        let (value, gradient) = m.predict_with_gradient(&x);
        assert_eq!(value, m.predict(&x));
        for k in 0..3 {
            let h = 1e-6;
            let (mut up, mut down) = (x, x);
            up[k] += h;
            down[k] -= h;
            let numeric = (m.predict(&up) - m.predict(&down)) / (2.0 * h);
            assert!(
                (numeric - gradient[k]).abs() < 1e-7,
                "{k}: {numeric} vs {gradient:?}"
            );
        }
    }

    #[test]
    fn refuses_bad_models() {
        let cases = [
            (TINY.replace("rbf", "linear"), "kernel_type"),
            (TINY.replace("nu_svr", "c_svc"), "svm_type"),
            (TINY.replace("total_sv 2", "total_sv 3"), "support vectors"),
            (TINY.replace("1:0.5 3:1", "3:0.5 1:1"), "increase"),
            (TINY.replace("gamma 0.5", "gamma x"), "gamma"),
            (TINY.replace("gamma 0.5", "bogus 1"), "bogus"),
            (
                TINY.split("SV\n").next().unwrap_or_default().to_string(),
                "\"SV\"",
            ),
            (TINY.replace("2:0.25", "2=0.25"), "index:value"),
            // Counts far beyond what the text holds are refused before any allocation; this
            // one used to abort the process.
            (
                TINY.replace("total_sv 2", "total_sv 18446744073709551615"),
                "total_sv 18446744073709551615 is over the limit of 65536",
            ),
            (
                TINY.replace("total_sv 2", "total_sv 65536"),
                "declares 65536 support vectors, has 2",
            ),
            (
                TINY.replace("total_sv 2", "total_sv 99999999999999999999999"),
                "not a count",
            ),
            (
                TINY.replace("3:1", "65:1"),
                "index 65 is over the limit of 64",
            ),
            (
                TINY.replace("3:1", "18446744073709551615:1"),
                "over the limit of 64",
            ),
            (TINY.replace("3:1", "3:nan"), "bad value"),
            (TINY.replace("3:1", "3:1e999"), "bad value"),
            (TINY.replace("\n2 1:0.5", "\ninf 1:0.5"), "bad coefficient"),
            (TINY.replace("gamma 0.5", "gamma NaN"), "gamma"),
            (TINY.replace("gamma 0.5", "gamma -0.5"), "negative"),
            (TINY.replace("rho -0.25", "rho -inf"), "rho"),
            (
                TINY.replace("gamma 0.5", "gamma 0.5\ngamma 0.25"),
                "\"gamma\" is given twice",
            ),
            (TINY.to_string() + "7 1:1\n", "and has more"),
            (
                TINY.replace("SV\n", &format!("SV\n{}\n", " ".repeat(MAX_LINE_BYTES + 1))),
                "line 8 is longer than 16384 bytes",
            ),
        ];
        for (text, needle) in cases {
            let err = SvmModel::parse(&text, 3).unwrap_err();
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
            assert!(!err.chars().any(char::is_control), "{err:?}");
        }
    }

    #[test]
    fn echoed_input_is_escaped_and_short() {
        let hostile = format!("\u{1b}[31m{}", "x".repeat(5000));
        let err = SvmModel::parse(&TINY.replace("rbf", &hostile), 3).unwrap_err();
        assert!(err.contains("\\u{1b}[31m") && err.len() < 200, "{err:?}");
    }

    #[test]
    fn trailing_blank_lines_are_fine() {
        assert!(SvmModel::parse(&(TINY.to_string() + "\n  \n"), 3).is_ok());
    }
}
