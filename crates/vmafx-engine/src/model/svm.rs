//! libsvm regression models (the text embedded in a VMAF model's `"model"` string) and their
//! prediction, with the same summation order and arithmetic as libsvm's `svm_predict` for an
//! RBF kernel so that scores match libvmaf bit for bit.

/// A parsed nu-SVR / epsilon-SVR model with an RBF kernel.
#[derive(Debug, Clone)]
pub(crate) struct SvmModel {
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

impl SvmModel {
    /// Parses libsvm's model text. `min_width` is the number of inputs the caller will pass,
    /// so that the dense rows cover every input index.
    pub fn parse(text: &str, min_width: usize) -> Result<SvmModel, String> {
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
            let single = || -> Result<&str, String> {
                match values.as_slice() {
                    [v] => Ok(v),
                    _ => Err(format!("libsvm header \"{key}\" needs exactly one value")),
                }
            };
            let number = |v: &str| -> Result<f64, String> {
                v.parse()
                    .map_err(|_| format!("libsvm header \"{key}\" has a bad number \"{v}\""))
            };
            match key {
                "svm_type" => svm_type = Some(single()?.to_string()),
                "kernel_type" => kernel = Some(single()?.to_string()),
                "gamma" => gamma = Some(number(single()?)?),
                "nr_class" => {
                    nr_class = Some(single()?.parse::<u32>().map_err(|_| {
                        format!("libsvm header \"nr_class\" is not a count: {values:?}")
                    })?)
                }
                "total_sv" => {
                    total = Some(single()?.parse::<usize>().map_err(|_| {
                        format!("libsvm header \"total_sv\" is not a count: {values:?}")
                    })?)
                }
                "rho" => rho = Some(number(single()?)?),
                // Present in classification models or other kernels; prediction here does not
                // use them.
                "degree" | "coef0" | "label" | "probA" | "probB" | "nr_sv" => {}
                other => return Err(format!("unknown libsvm header \"{other}\"")),
            }
        }

        match svm_type.as_deref() {
            Some("nu_svr" | "epsilon_svr") => {}
            Some(other) => {
                return Err(format!(
                    "libsvm svm_type \"{other}\" is not supported (only nu_svr and epsilon_svr)"
                ))
            }
            None => return Err("libsvm model has no svm_type".into()),
        }
        match kernel.as_deref() {
            Some("rbf") => {}
            Some(other) => {
                return Err(format!(
                    "libsvm kernel_type \"{other}\" is not supported (only rbf)"
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
        let rho = rho.ok_or("libsvm model has no rho")?;
        let total = total.ok_or("libsvm model has no total_sv")?;

        let mut coefficients = Vec::with_capacity(total);
        let mut sparse: Vec<Vec<(usize, f64)>> = Vec::with_capacity(total);
        for n in 0..total {
            let line = lines
                .next()
                .ok_or_else(|| format!("libsvm model declares {total} support vectors, has {n}"))?;
            let bad = |what: &str| format!("support vector {n}: {what}");
            let mut words = line.split_whitespace();
            let coefficient: f64 = words
                .next()
                .ok_or_else(|| bad("empty line"))?
                .parse()
                .map_err(|_| bad("bad coefficient"))?;
            let mut entries = Vec::new();
            let mut last = 0usize;
            for word in words {
                let (index, value) = word
                    .split_once(':')
                    .ok_or_else(|| bad(&format!("\"{word}\" is not index:value")))?;
                let index: usize = index
                    .parse()
                    .map_err(|_| bad(&format!("bad index in \"{word}\"")))?;
                // Strictly ascending indices from 1 are what libsvm's sparse walk assumes; the
                // dense layout relies on it too.
                if index <= last {
                    return Err(bad("indices must start at 1 and increase"));
                }
                last = index;
                let value: f64 = value
                    .parse()
                    .map_err(|_| bad(&format!("bad value in \"{word}\"")))?;
                entries.push((index, value));
            }
            coefficients.push(coefficient);
            sparse.push(entries);
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
        ];
        for (text, needle) in cases {
            let err = SvmModel::parse(&text, 3).unwrap_err();
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        }
    }
}
