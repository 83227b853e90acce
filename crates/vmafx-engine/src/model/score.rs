//! The arithmetic around the SVM: feature normalisation, prediction denormalisation, the
//! optional score transform (polynomial, piecewise-linear knots, rectification) and clipping,
//! each evaluated in libvmaf's operation order.

/// How features and predictions are scaled around the SVM.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Normalization {
    /// Values pass through.
    None,
    /// Features become `slope·x + intercept`; the prediction `(y − intercept) / slope`.
    LinearRescale {
        /// Slope applied to the prediction (the first entry of the model's `slopes`).
        slope: f64,
        /// Intercept applied to the prediction.
        intercept: f64,
    },
}

impl Normalization {
    /// Scales a feature value with its own slope and intercept.
    pub fn feature(self, slope: f64, intercept: f64, x: f64) -> f64 {
        match self {
            Normalization::None => x,
            Normalization::LinearRescale { .. } => slope * x + intercept,
        }
    }

    /// Undoes [`Self::feature`].
    pub fn feature_inverse(self, slope: f64, intercept: f64, x: f64) -> f64 {
        match self {
            Normalization::None => x,
            Normalization::LinearRescale { .. } => (x - intercept) / slope,
        }
    }

    /// Maps the SVM output back to the score scale.
    pub fn prediction(self, y: f64) -> f64 {
        match self {
            Normalization::None => y,
            Normalization::LinearRescale { slope, intercept } => (y - intercept) / slope,
        }
    }
}

/// An enabled `score_transform`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Transform {
    /// Polynomial coefficients p0, p1, p2; a missing one contributes nothing.
    pub poly: [Option<f64>; 3],
    /// Piecewise-linear knots `(x, y)`, `None` when the model has no `knots`.
    pub knots: Option<Vec<(f64, f64)>>,
    /// Never raise the score above its untransformed value.
    pub out_lte_in: bool,
    /// Never lower the score below its untransformed value.
    pub out_gte_in: bool,
}

impl Transform {
    /// Applies polynomial, then knots, then rectification against the input.
    pub fn apply(&self, input: f64) -> f64 {
        let mut y = if self.poly.iter().any(Option::is_some) {
            // Accumulated term by term from zero, as libvmaf does; p2's term is (p2·x)·x.
            let mut acc = 0.0;
            if let Some(p0) = self.poly[0] {
                acc += p0;
            }
            if let Some(p1) = self.poly[1] {
                acc += p1 * input;
            }
            if let Some(p2) = self.poly[2] {
                acc += p2 * input * input;
            }
            acc
        } else {
            input
        };
        if let Some(knots) = &self.knots {
            y = piecewise_linear(y, knots);
        }
        if self.out_lte_in && y > input {
            y = input;
        }
        if self.out_gte_in && y < input {
            y = input;
        }
        y
    }
}

/// Checks knots the way libvmaf's mapping requires them (x strictly increasing, y never
/// decreasing); libvmaf only notices violations while mapping and then returns a partial
/// result, so they are refused up front here.
pub(crate) fn check_knots(knots: &[(f64, f64)]) -> Result<(), String> {
    for pair in knots.windows(2) {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        if !(x0 < x1 && y0 <= y1) {
            return Err(format!(
                "score_transform knots must have increasing x and non-decreasing y, \
                 got [{x0}, {y0}] then [{x1}, {y1}]"
            ));
        }
    }
    Ok(())
}

/// Line through two knots as (slope, offset), computed as libvmaf computes it.
fn line_through((x0, y0): (f64, f64), (x1, y1): (f64, f64)) -> (f64, f64) {
    if x0 == 0.0 {
        let offset = y0;
        ((y1 - offset) / x1, offset)
    } else {
        let slope = (y1 - y0) / (x1 - x0);
        (slope, y0 - x0 * slope)
    }
}

/// libvmaf's piecewise-linear mapping. Every segment is visited in order and a later segment
/// wins at a shared knot; points outside the knots follow the first or last segment. Fewer
/// than two knots leave the value alone.
fn piecewise_linear(x: f64, knots: &[(f64, f64)]) -> f64 {
    if knots.len() <= 1 {
        return x;
    }
    let last = knots.len() - 2;
    let mut y = 0.0;
    for (segment, pair) in knots.windows(2).enumerate() {
        let (lo, hi) = (pair[0], pair[1]);
        let inside = lo.0 <= x && x <= hi.0;
        let below = segment == 0 && x < lo.0;
        let above = segment == last && x > hi.0;
        if !(inside || below || above) {
            continue;
        }
        y = if lo.1 == hi.1 {
            lo.1
        } else {
            let (slope, offset) = line_through(lo, hi);
            slope * x + offset
        };
    }
    y
}

/// Clamps to `[min, max]` with libvmaf's comparisons (a NaN score passes through).
pub(crate) fn clip(range: Option<(f64, f64)>, y: f64) -> f64 {
    match range {
        None => y,
        Some((min, max)) => {
            let y = if y < min { min } else { y };
            if y > max {
                max
            } else {
                y
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polynomial_then_rectification() {
        let t = Transform {
            poly: [Some(1.70674692), Some(1.72643844), Some(-0.00705305)],
            knots: None,
            out_lte_in: false,
            out_gte_in: true,
        };
        let x = 54.589248622293546;
        let expected = 0.0 + 1.70674692 + 1.72643844 * x + -0.00705305 * x * x;
        assert_eq!(t.apply(x), expected);
        // Below the identity the output is held at the input.
        assert_eq!(t.apply(-7.0), -7.0);
        let lte = Transform {
            out_lte_in: true,
            out_gte_in: false,
            ..t
        };
        assert_eq!(lte.apply(x), x);
    }

    #[test]
    fn knots_interpolate_and_extrapolate() {
        let knots = vec![(0.0, 10.0), (50.0, 60.0), (80.0, 60.0), (100.0, 100.0)];
        check_knots(&knots).unwrap();
        let t = Transform {
            knots: Some(knots),
            ..Transform::default()
        };
        assert_eq!(t.apply(25.0), 35.0);
        assert_eq!(t.apply(-10.0), 0.0);
        assert_eq!(t.apply(70.0), 60.0);
        assert_eq!(t.apply(90.0), 80.0);
        assert_eq!(t.apply(110.0), 120.0);
        assert!(check_knots(&[(1.0, 0.0), (1.0, 2.0)]).is_err());
        assert!(check_knots(&[(1.0, 3.0), (2.0, 2.0)]).is_err());
    }

    #[test]
    fn clip_and_normalization() {
        assert_eq!(clip(Some((0.0, 100.0)), -3.0), 0.0);
        assert_eq!(clip(Some((0.0, 100.0)), 103.0), 100.0);
        assert_eq!(clip(None, 103.0), 103.0);
        assert!(clip(Some((0.0, 100.0)), f64::NAN).is_nan());
        let n = Normalization::LinearRescale {
            slope: 2.0,
            intercept: -1.0,
        };
        assert_eq!(n.feature(3.0, 0.5, 2.0), 6.5);
        assert_eq!(n.feature_inverse(3.0, 0.5, 6.5), 2.0);
        assert_eq!(n.prediction(5.0), 3.0);
        assert_eq!(Normalization::None.prediction(5.0), 5.0);
    }
}
