//! CAMBI's visibility thresholds, as libvmaf v3.2.0's `luminance_tools.c` and `cambi.c` derive
//! them on limited-range 10-bit luma: the highest luma where a step of `d` levels is still a
//! visible luminance change (threshold-versus-intensity), and the lowest luma bright enough
//! for banding to be seen.

/// Limited-range 10-bit luma: black and white codes.
const FOOT: i32 = 64;
const HEAD: i32 = 940;
/// Largest 10-bit code.
const MAX_10BIT: i32 = 1023;

/// An electro-optical transfer function: normalised signal to cd/m².
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eotf {
    /// ITU-R BT.1886 with a 300 cd/m² white and 0.01 cd/m² black.
    Bt1886,
    /// SMPTE ST 2084 (PQ).
    Pq,
}

impl Eotf {
    /// Parses libvmaf's names (`bt1886`, `pq`).
    pub fn parse(name: &str) -> Option<Eotf> {
        match name {
            "bt1886" => Some(Eotf::Bt1886),
            "pq" => Some(Eotf::Pq),
            _ => None,
        }
    }

    fn apply(self, v: f64) -> f64 {
        match self {
            Eotf::Bt1886 => {
                const GAMMA: f64 = 2.4;
                const LW: f64 = 300.0;
                const LB: f64 = 0.01;
                let a = (LW.powf(1.0 / GAMMA) - LB.powf(1.0 / GAMMA)).powf(GAMMA);
                let b = LB.powf(1.0 / GAMMA) / (LW.powf(1.0 / GAMMA) - LB.powf(1.0 / GAMMA));
                let x = v + b;
                a * (if x > 0.0 { x } else { 0.0 }).powf(GAMMA)
            }
            Eotf::Pq => {
                const M1: f64 = 0.1593017578125;
                const M2: f64 = 78.84375;
                const C1: f64 = 0.8359375;
                const C2: f64 = 18.8515625;
                const C3: f64 = 18.6875;
                let num = v.powf(1.0 / M2) - C1;
                let num = if num > 0.0 { num } else { 0.0 };
                let den = C2 - C3 * v.powf(1.0 / M2);
                10000.0 * (num / den).powf(1.0 / M1)
            }
        }
    }

    /// Luminance of a 10-bit limited-range luma code (clipped to the range).
    pub fn luminance(self, sample: i32) -> f64 {
        let clipped = sample.clamp(FOOT, HEAD);
        self.apply(f64::from(clipped - FOOT) / f64::from(HEAD - FOOT))
    }
}

fn visible(sample: i32, diff: i32, threshold: f64, eotf: Eotf) -> bool {
    let mean = eotf.luminance(sample);
    let stepped = eotf.luminance(sample + diff);
    stepped - mean > threshold * mean
}

#[derive(PartialEq)]
enum Bisect {
    TooSmall,
    Correct,
    TooBig,
}

fn probe(sample: i32, diff: i32, threshold: f64, eotf: Eotf) -> Bisect {
    if !visible(sample, diff, threshold, eotf) {
        return Bisect::TooBig;
    }
    if visible(sample + 1, diff, threshold, eotf) {
        return Bisect::TooSmall;
    }
    Bisect::Correct
}

/// The highest luma code at which a step of `diff` codes is visible, by libvmaf's bisection.
pub fn tvi_for_diff(diff: i32, threshold: f64, eotf: Eotf) -> i32 {
    let mut foot = FOOT;
    let mut head = HEAD - diff - 1;
    match probe(foot, diff, threshold, eotf) {
        Bisect::TooBig => return 0,
        Bisect::Correct => return foot,
        Bisect::TooSmall => {}
    }
    match probe(head, diff, threshold, eotf) {
        Bisect::TooSmall => return MAX_10BIT,
        Bisect::Correct => return head,
        Bisect::TooBig => {}
    }
    // Visibility falls with luminance, so the bisection ends well within this bound; the
    // bound only keeps a pathological threshold from spinning (libvmaf would).
    let mut mid = foot;
    for _ in 0..4096 {
        mid = foot + (head - foot) / 2;
        match probe(mid, diff, threshold, eotf) {
            Bisect::TooBig => head = mid,
            Bisect::TooSmall => foot = mid,
            Bisect::Correct => return mid,
        }
    }
    mid
}

/// The lowest luma code whose luminance reaches `threshold` (0 when black already does), or
/// `None` when no code does (libvmaf would search forever).
pub fn vlt_luma(threshold: f64, eotf: Eotf) -> Option<u16> {
    let mut sample = FOOT;
    while eotf.luminance(sample) < threshold {
        sample += 1;
        if sample > HEAD {
            return None;
        }
    }
    Some(if sample == FOOT { 0 } else { sample as u16 })
}
