//! The contrast sensitivity models both ADMs weight their bands with (libvmaf's Watson et al.
//! 1997 quantisation steps and Barten's CSF as simplified in HDR-VDP-2), in libvmaf's mix of
//! f32 and f64 operation by operation: integer ADM and float ADM compute them alike.

use std::f64::consts::PI;

/// Display resolution in pixels per degree, rounded to f32 as libvmaf keeps it.
pub(crate) fn pixels_per_degree(norm_view_dist: f64, display_height: i32) -> f32 {
    (norm_view_dist * f64::from(display_height) * PI / 180.0) as f32
}

/// Watson's quantisation step for luma at wavelet level `lambda` and orientation `theta`.
pub(crate) fn watson_step(r: f32, lambda: usize, theta: usize) -> f32 {
    const A: f32 = 0.495f64 as f32;
    const K: f32 = 0.466f64 as f32;
    const F0: f32 = 0.401f64 as f32;
    const G: [f32; 4] = narrow([1.501, 1.0, 0.534, 1.0]);
    let freq = 2f64.powf((lambda + 1) as f64) * f64::from(F0) * f64::from(G[theta]) / f64::from(r);
    let t = freq.log10() as f32;
    let q = 2.0 * f64::from(A) * 10f64.powf(f64::from(K * t * t))
        / f64::from(BASIS_AMPLITUDES[lambda][theta]);
    q as f32
}

pub(crate) fn barten(r: f32, lambda: usize, scale: f64) -> f32 {
    const LUMINANCE: f64 = 100.0;
    let sf = (f64::from(r) / 2f64.powf((lambda + 1) as f64)) as f32;
    let lum = LUMINANCE.clamp(f64::from(BARTEN_ANCHORS[0]), f64::from(BARTEN_ANCHORS[5]));
    let (lo, hi) = (0..5)
        .find(|&i| lum >= f64::from(BARTEN_ANCHORS[i]) && lum <= f64::from(BARTEN_ANCHORS[i + 1]))
        .map_or((0, 0), |i| (i, i + 1));
    let lp = f64::from(BARTEN_ANCHORS[lo]).log10() as f32;
    let rp = f64::from(BARTEN_ANCHORS[hi]).log10() as f32;
    let sp = lum.log10() as f32;
    let p = |k: usize| {
        let (l, r) = (BARTEN_PARAMS[lo][k], BARTEN_PARAMS[hi][k]);
        l + ((r - l) / (rp - lp)) * (sp - lp)
    };
    let (p0, p1, p2, p3) = (p(1), p(2), p(3), p(4));
    let a = (1.0 + f64::from(p0 * sf).powf(f64::from(p1))) as f32;
    let e = 1.0 - (-f64::from(sf / 7.0).powf(2.0)).exp();
    let b = (1.0 / e.powf(f64::from(p2))) as f32;
    let csf = (f64::from(p3) / f64::from(a * b).powf(0.5)) as f32;
    (f64::from(csf * barten_mtf(sf) * barten_rod_cone(LUMINANCE as f32)) * scale) as f32
}

/// Watson et al. 1997 table V: basis function amplitudes by level and orientation.
const BASIS_AMPLITUDES: [[f32; 4]; 6] = [
    narrow([0.62171, 0.67234, 0.72709, 0.67234]),
    narrow([0.34537, 0.41317, 0.49428, 0.41317]),
    narrow([0.18004, 0.22727, 0.28688, 0.22727]),
    narrow([0.091401, 0.11792, 0.15214, 0.11792]),
    narrow([0.045943, 0.059758, 0.077727, 0.059758]),
    narrow([0.023013, 0.030018, 0.039156, 0.030018]),
];

/// Luminance levels (cd/m^2) of HDR-VDP-2.2.1's CSF measurements.
const BARTEN_ANCHORS: [f32; 6] = narrow([0.002, 0.02, 0.2, 2.0, 20.0, 150.0]);
const BARTEN_PARAMS: [[f32; 5]; 6] = [
    narrow([0.0160737, 0.991265, 3.74038, 0.50722, 4.46044]),
    narrow([0.383873, 0.800889, 3.54104, 0.682505, 4.94958]),
    narrow([0.929301, 0.476505, 4.37453, 0.750315, 5.28678]),
    narrow([1.29776, 0.405782, 4.40602, 0.935314, 5.61425]),
    narrow([1.49222, 0.334278, 3.79542, 1.07327, 6.4635]),
    narrow([1.46213, 0.394533, 2.7755, 1.16577, 7.45665]),
];
const BARTEN_SA: [f32; 4] = narrow([30.162, 4.0627, 1.6596, 0.2712]);
const BARTEN_MTF_A: [f32; 4] = narrow([
    0.424838596301290,
    0.572435103936480,
    0.000167576239164937,
    0.00255872352306433,
]);
const BARTEN_MTF_B: [f32; 4] = narrow([0.028, 0.37, 37.0, 360.0]);

fn barten_mtf(sf: f32) -> f32 {
    let mut mtf = 0f32;
    for (a, b) in BARTEN_MTF_A.iter().zip(BARTEN_MTF_B) {
        mtf = (f64::from(mtf) + f64::from(*a) * f64::from(-b * sf).exp()) as f32;
    }
    mtf
}

fn barten_rod_cone(lum: f32) -> f32 {
    let inner = f64::from(BARTEN_SA[1] / lum).powf(f64::from(BARTEN_SA[2])) + 1.0;
    (f64::from(BARTEN_SA[0]) * inner.powf(f64::from(-BARTEN_SA[3]))) as f32
}

/// Narrows a C double literal to float the way a C `float` initialiser does (via double).
pub(crate) const fn narrow<const N: usize>(v: [f64; N]) -> [f32; N] {
    let mut out = [0f32; N];
    let mut i = 0;
    while i < N {
        out[i] = v[i] as f32;
        i += 1;
    }
    out
}
