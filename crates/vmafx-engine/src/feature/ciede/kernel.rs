//! The per-pixel arithmetic of libvmaf v3.2.0's `ciede` extractor, kept in libvmaf's order of
//! operations and in its mix of `float` and `double`, so every ΔE agrees to the last bit: BT.709
//! YUV to sRGB to CIE XYZ (D65) to CIELAB, then CIEDE2000 with kL = 0.65, kC = 1, kH = 4.
//!
//! The colour conversion calls libm's `pow` as C does and is memoised ([`LabCache`]); the
//! colour difference replaces libm's `pow`, `atan2`, `sin`, `cos` and `exp` by the checked
//! stand-ins of [`super::fast`], which fall back to libm whenever they could differ.

use std::f64::consts::PI;

use super::fast::{self, settled, MARGIN};

/// `powf(25., 7)` as the C compiler folds it (rounded to the nearest `float`).
const POW_25_7_F32: f32 = 6_103_515_625.0;
/// `pow(25, 7)`, exact in `double`.
const POW_25_7: f64 = 6_103_515_625.0;

/// A CIELAB colour as libvmaf keeps it (`float`), with its chroma `sqrt(a² + b²)`, which
/// CIEDE2000 needs for each colour and which depends on nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Lab {
    /// Lightness L*.
    pub l: f32,
    /// a*.
    pub a: f32,
    /// b*.
    pub b: f32,
    /// Chroma C*ab.
    pub c: f32,
}

/// sRGB's inverse companding of one linear-light channel.
#[inline(always)]
fn linearise(c: f64) -> f64 {
    if c > 10.0 / 255.0 {
        ((c + 0.055) * (1.0 / 1.055)).powf(2.4)
    } else {
        c * (1.0 / 12.92)
    }
}

/// CIELAB's f(t), returned as `float` as libvmaf's helper is declared.
#[inline(always)]
fn lab_f(c: f64) -> f32 {
    const KAPPA: f64 = 24389.0 / 27.0;
    const EPSILON: f64 = 216.0 / 24389.0;
    if c > EPSILON {
        // libm's cbrt is a stand-in for pow(c, 1/3), checked as in [`super::fast`].
        let root = c.cbrt();
        settled(root, root * MARGIN).unwrap_or_else(|| c.powf(1.0 / 3.0) as f32)
    } else {
        ((KAPPA * c + 16.0) * (1.0 / 116.0)) as f32
    }
}

/// A Y'CbCr triple at `bit_depth` bits as the normalised `double`s libvmaf converts (BT.709,
/// limited range).
#[inline(always)]
fn normalise(y: u32, u: u32, v: u32, bit_depth: u8) -> (f64, f64, f64) {
    let scale = f64::from(1u32 << (bit_depth - 8));
    (
        (f64::from(y) - 16.0 * scale) * (1.0 / (219.0 * scale)),
        (f64::from(u) - 128.0 * scale) * (1.0 / (224.0 * scale)),
        (f64::from(v) - 128.0 * scale) * (1.0 / (224.0 * scale)),
    )
}

/// Linear red, which depends on Y' and Cr only.
#[inline(always)]
fn linear_red(y: f64, v: f64) -> f64 {
    linearise(y + 1.28033 * v)
}

/// Linear blue, which depends on Y' and Cb only.
#[inline(always)]
fn linear_blue(y: f64, u: f64) -> f64 {
    linearise(y + 2.12798 * u)
}

/// The CIELAB colour of one Y'CbCr triple at `bit_depth` bits (BT.709, limited range).
pub fn lab(y: u32, u: u32, v: u32, bit_depth: u8) -> Lab {
    let (yn, un, vn) = normalise(y, u, v, bit_depth);
    lab_from_linear(linear_red(yn, vn), green(yn, un, vn), linear_blue(yn, un))
}

/// Linear green.
#[inline(always)]
fn green(y: f64, u: f64, v: f64) -> f64 {
    linearise(y - 0.21482 * u - 0.38059 * v)
}

/// The CIELAB colour of linear-light sRGB.
#[inline(always)]
fn lab_from_linear(r: f64, g: f64, b: f64) -> Lab {
    let x = r * 0.4124564390896921 + g * 0.357576077643909 + b * 0.18043748326639894;
    let yy = r * 0.21267285140562248 + g * 0.715152155287818 + b * 0.07217499330655958;
    let z = r * 0.019333895582329317 + g * 0.119192025881303 + b * 0.9503040785363677;

    let x = f64::from(lab_f(x * (1.0 / 0.95047)));
    let yy = f64::from(lab_f(yy));
    let z = f64::from(lab_f(z * (1.0 / 1.08883)));

    let l = (116.0 * yy - 16.0) as f32;
    let a = (500.0 * (x - yy)) as f32;
    let b = (200.0 * (yy - z)) as f32;
    let (a64, b64) = (f64::from(a), f64::from(b));
    Lab {
        l,
        a,
        b,
        c: (a64 * a64 + b64 * b64).sqrt() as f32,
    }
}

/// Hue angle h' in [0, 2π), 0 for the achromatic axis.
#[inline(always)]
fn hue_angle(x: f32, y: f32) -> f32 {
    if x == 0.0 && y == 0.0 {
        return 0.0;
    }
    let h = f64::from(x).atan2(f64::from(y)) as f32;
    if h < 0.0 {
        (f64::from(h) + 2.0 * PI) as f32
    } else {
        h
    }
}

/// Δh', taken the short way round the circle.
#[inline(always)]
fn delta_hue(c1: f32, c2: f32, h1: f32, h2: f32) -> f32 {
    if c1 == 0.0 || c2 == 0.0 {
        return 0.0;
    }
    let d = h2 - h1;
    if f64::from((h1 - h2).abs()) <= PI {
        d
    } else if h2 <= h1 {
        (f64::from(d) + 2.0 * PI) as f32
    } else {
        (f64::from(d) - 2.0 * PI) as f32
    }
}

/// H̄', the mean hue.
#[inline(always)]
fn mean_hue(h1: f32, h2: f32) -> f32 {
    let sum = h1 + h2;
    if f64::from(h1 - h2).abs() > PI {
        ((f64::from(sum) + 2.0 * PI) / 2.0) as f32
    } else {
        (f64::from(sum) / 2.0) as f32
    }
}

/// The hue weighting T.
#[inline(always)]
fn hue_weight(h: f32) -> f32 {
    let h = f64::from(h);
    (1.0 - 0.17 * (h - PI / 6.0).cos()
        + 0.24 * (2.0 * h).cos()
        + 0.32 * (3.0 * h + PI / 30.0).cos()
        - 0.20 * (4.0 * h - 7.0 * PI / 20.0).cos()) as f32
}

/// The rotation term R_T.
#[inline(always)]
fn rotation(c_bar_prime: f32, h_bar_prime: f32) -> f32 {
    let in_degrees = (f64::from(h_bar_prime) * (180.0 / PI)) as f32;
    let t = ((f64::from(in_degrees) - 275.0) * (1.0 / 25.0)) as f32;
    let c7 = c_bar_prime.powf(7.0);
    let weight = f64::from(c7 / (c7 + POW_25_7_F32)).sqrt();
    let angle_degrees = (60.0 * f64::from(-(t * t)).exp()) as f32;
    let angle = (f64::from(angle_degrees) * (PI / 180.0)) as f32;
    (-2.0 * weight * f64::from(angle).sin()) as f32
}

/// CIEDE2000 ΔE between a reference and a distorted colour, every transcendental a libm call:
/// the literal form, against which [`delta_e`] is tested.
#[inline]
pub fn delta_e_libm(c1: &Lab, c2: &Lab) -> f32 {
    let delta_l = c2.l - c1.l;
    let l_bar = (c1.l + c2.l) / 2.0;
    let c_bar = (c1.c + c2.c) / 2.0;
    let c_bar7 = f64::from(c_bar).powf(7.0);
    let g = 1.0 - (c_bar7 / (c_bar7 + POW_25_7)).sqrt();
    let a1 = (f64::from(c1.a) + f64::from(c1.a / 2.0) * g) as f32;
    let a2 = (f64::from(c2.a) + f64::from(c2.a / 2.0) * g) as f32;
    let (a1d, a2d) = (f64::from(a1), f64::from(a2));
    let (b1d, b2d) = (f64::from(c1.b), f64::from(c2.b));
    let cp1 = (a1d * a1d + b1d * b1d).sqrt() as f32;
    let cp2 = (a2d * a2d + b2d * b2d).sqrt() as f32;
    let c_bar_prime = (cp1 + cp2) / 2.0;
    let delta_c = cp2 - cp1;
    let lm = f64::from(l_bar - 50.0);
    let lm2 = lm * lm;
    let s_l = (1.0 + (0.015 * lm2) / (20.0 + lm2).sqrt()) as f32;
    let s_c = (1.0 + 0.045 * f64::from(c_bar_prime)) as f32;
    let h1 = hue_angle(c1.b, a1);
    let h2 = hue_angle(c2.b, a2);
    let delta_h = delta_hue(c1.c, c2.c, h1, h2);
    let delta_big_h = (2.0 * f64::from(cp1 * cp2).sqrt() * (f64::from(delta_h) / 2.0).sin()) as f32;
    let h_bar = mean_hue(h1, h2);
    let t = hue_weight(h_bar);
    let s_h = (1.0 + 0.015 * f64::from(c_bar_prime) * f64::from(t)) as f32;
    let r_t = rotation(c_bar_prime, h_bar);
    let lightness = delta_l / (0.65f32 * s_l);
    let chroma = delta_c / (1.0f32 * s_c);
    let hue = delta_big_h / (4.0f32 * s_h);
    let (ld, cd, hd) = (f64::from(lightness), f64::from(chroma), f64::from(hue));
    (ld * ld + cd * cd + hd * hd + f64::from(r_t * chroma * hue)).sqrt() as f32
}

/// a′ = a + a/2 · (1 − sqrt(C̄⁷ / (C̄⁷ + 25⁷))) for C̄⁷ = `c_bar7`, before rounding.
#[inline(always)]
fn prime_a_wide(a: f32, c_bar7: f64) -> f64 {
    let g = 1.0 - (c_bar7 / (c_bar7 + POW_25_7)).sqrt();
    f64::from(a) + f64::from(a / 2.0) * g
}

/// h′ with the stand-in `atan2`.
#[inline(always)]
fn hue_angle_fast(x: f32, y: f32) -> f32 {
    if x == 0.0 || y == 0.0 {
        return hue_angle(x, y);
    }
    let v = fast::atan2(f64::from(x), f64::from(y));
    match settled(v, v.abs() * MARGIN) {
        Some(h) if h < 0.0 => (f64::from(h) + 2.0 * PI) as f32,
        Some(h) => h,
        None => hue_angle(x, y),
    }
}

/// sin(x) with the stand-in, exact at ±0.
#[inline(always)]
fn sin_fast(x: f64) -> f64 {
    if x == 0.0 {
        x
    } else {
        fast::sin_cos(x).0
    }
}

/// T with the stand-in `cos`.
#[inline(always)]
fn hue_weight_fast(h: f32) -> f32 {
    let hd = f64::from(h);
    let v = 1.0 - 0.17 * fast::sin_cos(hd - PI / 6.0).1
        + 0.24 * fast::sin_cos(2.0 * hd).1
        + 0.32 * fast::sin_cos(3.0 * hd + PI / 30.0).1
        - 0.20 * fast::sin_cos(4.0 * hd - 7.0 * PI / 20.0).1;
    settled(v, MARGIN).unwrap_or_else(|| hue_weight(h))
}

/// R_T with the stand-in `exp` and `sin`.
#[inline(always)]
fn rotation_fast(c_bar_prime: f32, h_bar_prime: f32) -> f32 {
    let in_degrees = (f64::from(h_bar_prime) * (180.0 / PI)) as f32;
    let t = ((f64::from(in_degrees) - 275.0) * (1.0 / 25.0)) as f32;
    let c7 = c_bar_prime.powf(7.0);
    let weight = f64::from(c7 / (c7 + POW_25_7_F32)).sqrt();
    let x = f64::from(-(t * t));
    let wide_degrees = 60.0 * fast::exp(x);
    let angle_degrees = match settled(wide_degrees, wide_degrees * MARGIN) {
        Some(d) if x > -700.0 => d,
        _ => (60.0 * x.exp()) as f32,
    };
    let angle = f64::from((f64::from(angle_degrees) * (PI / 180.0)) as f32);
    let v = -2.0 * weight * sin_fast(angle);
    settled(v, v.abs() * MARGIN).unwrap_or_else(|| (-2.0 * weight * angle.sin()) as f32)
}

/// CIEDE2000 ΔE between a reference and a distorted colour, equal bit for bit to
/// [`delta_e_libm`] (see [`super::fast`]).
#[inline]
pub fn delta_e(c1: &Lab, c2: &Lab) -> f32 {
    let delta_l = c2.l - c1.l;
    let l_bar = (c1.l + c2.l) / 2.0;
    let c_bar = (c1.c + c2.c) / 2.0;
    let cb = f64::from(c_bar);
    let cb2 = cb * cb;
    let c_bar7 = cb2 * cb2 * cb2 * cb;
    let (a1, a2) = match (
        settled(prime_a_wide(c1.a, c_bar7), f64::from(c1.a.abs()) * MARGIN),
        settled(prime_a_wide(c2.a, c_bar7), f64::from(c2.a.abs()) * MARGIN),
    ) {
        (Some(a1), Some(a2)) => (a1, a2),
        _ => {
            let c_bar7 = cb.powf(7.0);
            (
                prime_a_wide(c1.a, c_bar7) as f32,
                prime_a_wide(c2.a, c_bar7) as f32,
            )
        }
    };
    let (a1d, a2d) = (f64::from(a1), f64::from(a2));
    let (b1d, b2d) = (f64::from(c1.b), f64::from(c2.b));
    let cp1 = (a1d * a1d + b1d * b1d).sqrt() as f32;
    let cp2 = (a2d * a2d + b2d * b2d).sqrt() as f32;
    let c_bar_prime = (cp1 + cp2) / 2.0;
    let delta_c = cp2 - cp1;
    let lm = f64::from(l_bar - 50.0);
    let lm2 = lm * lm;
    let s_l = (1.0 + (0.015 * lm2) / (20.0 + lm2).sqrt()) as f32;
    let s_c = (1.0 + 0.045 * f64::from(c_bar_prime)) as f32;
    let h1 = hue_angle_fast(c1.b, a1);
    let h2 = hue_angle_fast(c2.b, a2);
    let delta_h = delta_hue(c1.c, c2.c, h1, h2);
    let root = 2.0 * f64::from(cp1 * cp2).sqrt();
    let half = f64::from(delta_h) / 2.0;
    let wide = root * sin_fast(half);
    let delta_big_h =
        settled(wide, wide.abs() * MARGIN).unwrap_or_else(|| (root * half.sin()) as f32);
    let h_bar = mean_hue(h1, h2);
    let t = hue_weight_fast(h_bar);
    let s_h = (1.0 + 0.015 * f64::from(c_bar_prime) * f64::from(t)) as f32;
    let r_t = rotation_fast(c_bar_prime, h_bar);
    let lightness = delta_l / (0.65f32 * s_l);
    let chroma = delta_c / (1.0f32 * s_c);
    let hue = delta_big_h / (4.0f32 * s_h);
    let (ld, cd, hd) = (f64::from(lightness), f64::from(chroma), f64::from(hue));
    (ld * ld + cd * cd + hd * hd + f64::from(r_t * chroma * hue)).sqrt() as f32
}

/// A direct-mapped memo of [`lab`] keyed by the packed (Y, Cb, Cr) triple. The conversion is
/// a pure function of the triple and costs three `pow` and three `cbrt` calls, while pictures
/// repeat triples heavily (a subsampled chroma sample is shared by 2 or 4 luma samples, and
/// flat areas and the reference/distorted pair share many), so a hit replaces the calls with
/// one load.
#[derive(Debug)]
pub struct LabCache {
    slots: Vec<Slot>,
    bit_depth: u8,
    /// At 8 bits, linear red for every (Y', Cr) and linear blue for every (Y', Cb), indexed
    /// `Y' << 8 | C` (1 MiB, made once with the same expressions as [`lab`]): two of the
    /// three `pow` calls of a miss become loads.
    linear: Option<Box<[[f64; 2]]>>,
}

/// A remembered colour and the packed triple it belongs to, side by side so that a lookup
/// touches one cache line.
#[derive(Debug, Clone, Copy)]
struct Slot {
    key: u64,
    lab: Lab,
}

/// log2 of the number of cache slots: 2^19 slots of 24 bytes (12 MiB) measured fastest on
/// 1080p, where a frame holds about 220 000 distinct triples (2^15 to 2^20 were tried). At
/// least 8: luma's low byte picks the slot within a chroma block.
const CACHE_BITS: u32 = 19;
/// A key no triple packs to (triples use at most 48 bits).
const EMPTY: u64 = u64::MAX;

impl LabCache {
    /// An empty cache for samples of `bit_depth` bits.
    pub fn new(bit_depth: u8) -> Self {
        LabCache {
            slots: vec![
                Slot {
                    key: EMPTY,
                    lab: Lab::default(),
                };
                1 << CACHE_BITS
            ],
            bit_depth,
            linear: (bit_depth == 8).then(|| {
                (0..1u32 << 16)
                    .map(|i| {
                        let (y, c) = (i >> 8, i & 0xFF);
                        let (yn, cn, _) = normalise(y, c, 0, 8);
                        [linear_red(yn, cn), linear_blue(yn, cn)]
                    })
                    .collect()
            }),
        }
    }

    /// [`lab`] of (`y`, `u`, `v`), with the 8-bit tables where there are some.
    #[inline(always)]
    fn convert(&self, y: u16, u: u16, v: u16) -> Lab {
        let (y, u, v) = (u32::from(y), u32::from(u), u32::from(v));
        match &self.linear {
            Some(table) if y | u | v < 256 => {
                let (yn, un, vn) = normalise(y, u, v, 8);
                let red = table[(y << 8 | v) as usize][0];
                let blue = table[(y << 8 | u) as usize][1];
                lab_from_linear(red, green(yn, un, vn), blue)
            }
            _ => lab(y, u, v, self.bit_depth),
        }
    }

    #[inline(always)]
    fn locate(y: u16, u: u16, v: u16) -> (u64, usize) {
        let key = u64::from(y) | (u64::from(u) << 16) | (u64::from(v) << 32);
        // Chroma picks a block of 256 slots and the low luma bits the slot in it: neighbouring
        // pixels share chroma and differ in luma, so their slots lie close together.
        let chroma = (key >> 16).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - (CACHE_BITS - 8));
        let index = ((chroma << 8) | (key & 0xFF)) as usize;
        (key, index)
    }

    /// Starts loading the slot of (`y`, `u`, `v`): the memo is far larger than the CPU's
    /// caches, and the pixel loop knows its next triples well ahead.
    #[inline(always)]
    pub fn prefetch(&self, y: u16, u: u16, v: u16) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let (_, index) = Self::locate(y, u, v);
            if let Some(slot) = self.slots.get(index) {
                // SAFETY: SSE is part of x86-64's baseline, and a prefetch reads nothing
                // architecturally; the pointer is to a live slot anyway.
                unsafe { _mm_prefetch::<_MM_HINT_T0>((slot as *const Slot).cast::<i8>()) };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (y, u, v);
    }

    /// The colour of (`y`, `u`, `v`), computed or remembered.
    #[inline(always)]
    pub fn get(&mut self, y: u16, u: u16, v: u16) -> Lab {
        let (key, index) = Self::locate(y, u, v);
        // `index` is below 1 << CACHE_BITS, the number of slots.
        if self.slots[index].key == key {
            return self.slots[index].lab;
        }
        let lab = self.convert(y, u, v);
        self.slots[index] = Slot { key, lab };
        lab
    }
}

/// How libvmaf lays out the chroma planes it upsamples: each plane's rows are `stride` samples
/// apart (the width rounded up to 32, zero-filled beyond it), Cr directly after Cb. Its
/// upsampling reads `width` samples a row from a flat offset in that layout, which for 4:2:2
/// (and the last column of odd 4:2:0 widths) runs past the row into padding, the next row or
/// the next plane; [`ChromaLayout::fill_row`] reproduces those reads.
#[derive(Debug, Clone, Copy)]
pub struct ChromaLayout {
    /// Chroma plane width (luma width rounded down when subsampled).
    pub width: usize,
    /// Chroma plane height.
    pub height: usize,
    /// libvmaf's row distance in samples.
    pub stride: usize,
    /// Whether output column `j` reads input offset `j / 2` (4:2:0) rather than `j` (4:2:2).
    pub halve_columns: bool,
}

impl ChromaLayout {
    /// Fills `out` (one luma row wide) with what libvmaf's upsampling reads for output row
    /// `row` of plane `plane` (0 = Cb, 1 = Cr). `planes` are Cb and Cr as (samples, stride).
    /// Reads beyond the end of Cr, which libvmaf makes outside its buffer (only the last row
    /// of odd-height 4:2:0 and pictures a few samples tall), give 0.
    pub fn fill_row<T: Copy + Into<u32>>(
        &self,
        planes: [(&[T], usize); 2],
        plane: usize,
        row: usize,
        out: &mut [u16],
    ) {
        // 4:2:0 rows that lie inside their plane, the usual case, read each sample twice.
        if self.halve_columns
            && row / 2 < self.height
            && out.len().saturating_sub(1) / 2 < self.width
        {
            let (data, stride) = planes[plane];
            if let Some(src) = data.get(row / 2 * stride..row / 2 * stride + out.len().div_ceil(2))
            {
                for (pair, &s) in out.chunks_mut(2).zip(src) {
                    pair.fill(s.into() as u16);
                }
                return;
            }
        }
        let plane_len = self.stride * self.height;
        let offset = (row / 2) * self.stride;
        // An empty plane (a 1-sample-wide picture) leaves nothing to read.
        let (mut which, mut r, mut c) = match offset.checked_div(plane_len) {
            Some(planes_on) => (
                plane + planes_on,
                (offset % plane_len) / self.stride,
                offset % self.stride,
            ),
            None => (2, 0, 0),
        };
        for (j, o) in out.iter_mut().enumerate() {
            *o = if which < 2 && c < self.width {
                let (data, stride) = planes[which];
                data.get(r * stride + c).map_or(0, |&s| s.into() as u16)
            } else {
                0
            };
            if !self.halve_columns || j % 2 == 1 {
                c += 1;
                if c == self.stride {
                    c = 0;
                    r += 1;
                    if r == self.height {
                        r = 0;
                        which += 1;
                    }
                }
            }
        }
    }
}
