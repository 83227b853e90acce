//! Deterministic synthetic clips for the conformance suite: integer-only content and
//! distortion generators, so the same bytes come out on every machine and every run.

pub mod mutator;

use std::io::{self, Write};
use std::path::Path;

/// Chroma layout of a generated clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chroma {
    /// 4:2:0.
    C420,
    /// 4:2:2.
    C422,
    /// 4:4:4.
    C444,
}

impl Chroma {
    fn divisors(self) -> (usize, usize) {
        match self {
            Chroma::C420 => (2, 2),
            Chroma::C422 => (2, 1),
            Chroma::C444 => (1, 1),
        }
    }

    fn y4m_tag(self, depth: u8) -> String {
        let base = match self {
            Chroma::C420 => "420",
            Chroma::C422 => "422",
            Chroma::C444 => "444",
        };
        match (self, depth) {
            (Chroma::C420, 8) => "420jpeg".into(),
            (_, 8) => base.into(),
            (_, d) => format!("{base}p{d}"),
        }
    }
}

/// How the reference content moves over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Motion {
    /// Objects drift a few pixels per frame.
    Pan,
    /// Every frame is the same picture.
    Still,
    /// Content changes completely at the middle frame.
    SceneCut,
}

/// How the distorted clip is made from the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distortion {
    /// Bit-identical copy.
    Identical,
    /// 3×3 box blur plus mild noise.
    BlurNoise,
    /// 8×8 block averaging, a crude compression artefact.
    Blocky,
    /// Contrast boost and sharpening, which the `neg` models penalise.
    Enhance,
    /// Quantisation to fewer levels.
    Posterize,
}

/// A clip description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipSpec {
    /// Luma width.
    pub width: usize,
    /// Luma height.
    pub height: usize,
    /// Chroma layout.
    pub chroma: Chroma,
    /// Bits per sample.
    pub depth: u8,
    /// Number of frames.
    pub frames: usize,
    /// Content motion.
    pub motion: Motion,
    /// Seed for the texture noise.
    pub seed: u64,
}

/// A small xorshift generator: fast, and the same sequence everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeds the generator (a zero seed is remapped, xorshift cannot leave zero).
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `-range..=range`.
    pub fn symmetric(&mut self, range: i32) -> i32 {
        (self.next_u64() % (2 * range as u64 + 1)) as i32 - range
    }
}

/// One frame: three planes of samples at the clip's depth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Y, Cb, Cr samples, row-major.
    pub planes: [Vec<u16>; 3],
}

fn triangle(x: i64, period: i64) -> i64 {
    let p = x.rem_euclid(period);
    let half = period / 2;
    if p < half {
        p * 255 / half
    } else {
        (period - p) * 255 / half
    }
}

/// Luma content at 8-bit scale for pixel (x, y) of "scene" `scene` at time `t`.
fn luma_8bit(x: i64, y: i64, t: i64, scene: u64, texture: &[u8], w: usize) -> i64 {
    let (dx, dy) = (t * 3, t * 2);
    let (period_a, period_b) = if scene == 0 { (37, 23) } else { (11, 53) };
    let mut v = (triangle(x + dx, period_a) + triangle(y - dy + x / 3, period_b)) / 2;
    // A bright rectangle and a dark disc that move across the frame.
    let (rx, ry) = ((t * 5 + 7) % (w as i64).max(1), 5 + t % 9);
    if (x - rx).abs() < 9 && (y - ry).abs() < 6 {
        v = 230 - (x - rx).abs() * 3;
    }
    let (cx, cy) = (w as i64 / 2 - t * 2, 20 + t);
    if (x - cx) * (x - cx) + (y - cy) * (y - cy) < 81 {
        v = 25 + ((x + y) & 7) * 3;
    }
    let noise = texture[(y as usize * w + x as usize) % texture.len()] as i64;
    (v + noise - 8).clamp(0, 255)
}

/// Generates the reference clip.
pub fn reference(spec: &ClipSpec) -> Vec<Frame> {
    let (cdx, cdy) = spec.chroma.divisors();
    let (cw, ch) = (spec.width.div_ceil(cdx), spec.height.div_ceil(cdy));
    let mut rng = Rng::new(spec.seed);
    let texture: Vec<u8> = (0..spec.width * spec.height)
        .map(|_| (rng.next_u64() % 17) as u8)
        .collect();
    let low_bits: Vec<u16> = (0..spec.width * spec.height)
        .map(|_| rng.next_u64() as u16)
        .collect();
    let shift = spec.depth - 8;
    (0..spec.frames)
        .map(|f| {
            let (t, scene) = match spec.motion {
                Motion::Pan => (f as i64, 0),
                Motion::Still => (0, 0),
                Motion::SceneCut => (f as i64, (f >= spec.frames / 2) as u64),
            };
            let mut y = Vec::with_capacity(spec.width * spec.height);
            for row in 0..spec.height {
                for col in 0..spec.width {
                    let v =
                        luma_8bit(col as i64, row as i64, t, scene, &texture, spec.width) as u16;
                    let fine = if shift > 0 {
                        low_bits[row * spec.width + col] & ((1 << shift) - 1)
                    } else {
                        0
                    };
                    y.push((v << shift) | fine);
                }
            }
            let chroma = |phase: i64| -> Vec<u16> {
                let mut plane = Vec::with_capacity(cw * ch);
                for row in 0..ch as i64 {
                    for col in 0..cw {
                        let v = 128
                            + (triangle(col as i64 * 2 + row + phase + t, 41) - 128) / 3
                            + (scene as i64 * 20);
                        plane.push((v.clamp(16, 240) as u16) << shift);
                    }
                }
                plane
            };
            Frame {
                planes: [y, chroma(0), chroma(13)],
            }
        })
        .collect()
}

fn plane_dims(spec: &ClipSpec, plane: usize) -> (usize, usize) {
    if plane == 0 {
        return (spec.width, spec.height);
    }
    let (cdx, cdy) = spec.chroma.divisors();
    (spec.width.div_ceil(cdx), spec.height.div_ceil(cdy))
}

/// Makes the distorted clip from the reference.
pub fn distort(spec: &ClipSpec, reference: &[Frame], kind: Distortion, seed: u64) -> Vec<Frame> {
    let max = (1i64 << spec.depth) - 1;
    let scale = 1i64 << (spec.depth - 8);
    let mut rng = Rng::new(seed);
    reference
        .iter()
        .map(|frame| {
            let mut out = frame.clone();
            for p in 0..3 {
                let (w, h) = plane_dims(spec, p);
                let src = &frame.planes[p];
                let at = |x: i64, y: i64| -> i64 {
                    let x = x.clamp(0, w as i64 - 1) as usize;
                    let y = y.clamp(0, h as i64 - 1) as usize;
                    src[y * w + x] as i64
                };
                let dst = &mut out.planes[p];
                for y in 0..h as i64 {
                    for x in 0..w as i64 {
                        let v = match kind {
                            Distortion::Identical => at(x, y),
                            Distortion::BlurNoise => {
                                let mut sum = 0;
                                for dy in -1..=1 {
                                    for dx in -1..=1 {
                                        sum += at(x + dx, y + dy);
                                    }
                                }
                                sum / 9 + rng.symmetric(3) as i64 * scale
                            }
                            Distortion::Blocky => {
                                let (bx, by) = (x / 8 * 8, y / 8 * 8);
                                let mut sum = 0;
                                let mut n = 0;
                                for yy in by..(by + 8).min(h as i64) {
                                    for xx in bx..(bx + 8).min(w as i64) {
                                        sum += at(xx, yy);
                                        n += 1;
                                    }
                                }
                                (sum / n + at(x, y)) / 2
                            }
                            Distortion::Enhance => {
                                let c = at(x, y);
                                let lap = 4 * c
                                    - at(x - 1, y)
                                    - at(x + 1, y)
                                    - at(x, y - 1)
                                    - at(x, y + 1);
                                let mid = 128 * scale;
                                mid + (c - mid) * 5 / 4 + lap / 2
                            }
                            Distortion::Posterize => {
                                let step = 24 * scale;
                                at(x, y) / step * step + step / 2
                            }
                        };
                        dst[(y as usize) * w + x as usize] = v.clamp(0, max) as u16;
                    }
                }
            }
            out
        })
        .collect()
}

/// Writes frames as Y4M.
pub fn write_y4m(spec: &ClipSpec, frames: &[Frame], out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "YUV4MPEG2 W{} H{} F25:1 Ip A1:1 C{}",
        spec.width,
        spec.height,
        spec.chroma.y4m_tag(spec.depth)
    )?;
    for frame in frames {
        out.write_all(b"FRAME\n")?;
        write_planes(spec, frame, out)?;
    }
    Ok(())
}

/// Writes frames as raw planar YUV (little-endian 16-bit words above 8 bits).
pub fn write_raw(spec: &ClipSpec, frames: &[Frame], out: &mut impl Write) -> io::Result<()> {
    for frame in frames {
        write_planes(spec, frame, out)?;
    }
    Ok(())
}

fn write_planes(spec: &ClipSpec, frame: &Frame, out: &mut impl Write) -> io::Result<()> {
    let mut bytes = Vec::new();
    for plane in &frame.planes {
        for &v in plane {
            if spec.depth > 8 {
                bytes.extend_from_slice(&v.to_le_bytes());
            } else {
                bytes.push(v as u8);
            }
        }
    }
    out.write_all(&bytes)
}

/// One conformance fixture: a named reference/distorted pair.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// File stem; the pair is `<name>_ref.y4m` and `<name>_dist.y4m`.
    pub name: &'static str,
    /// The clip.
    pub spec: ClipSpec,
    /// How the distorted clip is made.
    pub distortion: Distortion,
}

/// The fixed fixture set of the conformance suite.
pub fn fixtures() -> Vec<Fixture> {
    let clip = |width, height, chroma, depth, frames, motion, seed| ClipSpec {
        width,
        height,
        chroma,
        depth,
        frames,
        motion,
        seed,
    };
    vec![
        Fixture {
            name: "pan_420_8bit_blur",
            spec: clip(176, 144, Chroma::C420, 8, 8, Motion::Pan, 1),
            distortion: Distortion::BlurNoise,
        },
        Fixture {
            name: "pan_420_10bit_blocky",
            spec: clip(160, 96, Chroma::C420, 10, 6, Motion::Pan, 2),
            distortion: Distortion::Blocky,
        },
        Fixture {
            name: "odd_422_8bit_posterize",
            spec: clip(97, 67, Chroma::C422, 8, 5, Motion::Pan, 3),
            distortion: Distortion::Posterize,
        },
        Fixture {
            name: "odd_444_8bit_enhance",
            spec: clip(101, 73, Chroma::C444, 8, 5, Motion::Pan, 4),
            distortion: Distortion::Enhance,
        },
        Fixture {
            name: "odd_422_10bit_blur",
            spec: clip(75, 53, Chroma::C422, 10, 4, Motion::Pan, 5),
            distortion: Distortion::BlurNoise,
        },
        Fixture {
            name: "pan_444_12bit_enhance",
            spec: clip(64, 48, Chroma::C444, 12, 4, Motion::Pan, 6),
            distortion: Distortion::Enhance,
        },
        Fixture {
            name: "identical_420_8bit",
            spec: clip(128, 72, Chroma::C420, 8, 4, Motion::Pan, 7),
            distortion: Distortion::Identical,
        },
        Fixture {
            name: "still_420_8bit_blocky",
            spec: clip(96, 64, Chroma::C420, 8, 5, Motion::Still, 8),
            distortion: Distortion::Blocky,
        },
        Fixture {
            name: "scenecut_420_8bit_blur",
            spec: clip(120, 80, Chroma::C420, 8, 8, Motion::SceneCut, 9),
            distortion: Distortion::BlurNoise,
        },
        Fixture {
            name: "single_frame_420_10bit",
            spec: clip(72, 40, Chroma::C420, 10, 1, Motion::Pan, 10),
            distortion: Distortion::Posterize,
        },
        Fixture {
            name: "tiny_420_8bit",
            spec: clip(45, 33, Chroma::C420, 8, 3, Motion::Pan, 11),
            distortion: Distortion::BlurNoise,
        },
        // Large enough for CAMBI (216 pixels on a side) and SpEED (160x160 luma at 4:2:0),
        // so the vmaf_v1.0.16 models and the CTC presets can run.
        Fixture {
            name: "wide_420_8bit_posterize",
            spec: clip(232, 176, Chroma::C420, 8, 4, Motion::Pan, 12),
            distortion: Distortion::Posterize,
        },
        Fixture {
            name: "wide_422_10bit_blur",
            spec: clip(225, 163, Chroma::C422, 10, 3, Motion::SceneCut, 13),
            distortion: Distortion::BlurNoise,
        },
        // SpEED prescaled by 0.5 (the _2160 models) needs 320x320 luma at 4:2:0.
        Fixture {
            name: "large_420_8bit_blocky",
            spec: clip(336, 324, Chroma::C420, 8, 2, Motion::Pan, 15),
            distortion: Distortion::Blocky,
        },
        Fixture {
            name: "wide_444_8bit_enhance",
            spec: clip(217, 21, Chroma::C444, 8, 3, Motion::Pan, 14),
            distortion: Distortion::Enhance,
        },
    ]
}

impl Fixture {
    /// Generates this fixture's reference and distorted clips and writes them as Y4M.
    pub fn write_pair(&self, reference_path: &Path, distorted_path: &Path) -> io::Result<()> {
        let reference = reference(&self.spec);
        let distorted = distort(
            &self.spec,
            &reference,
            self.distortion,
            self.spec.seed + 100,
        );
        for (path, frames) in [(reference_path, &reference), (distorted_path, &distorted)] {
            let mut file = io::BufWriter::new(std::fs::File::create(path)?);
            write_y4m(&self.spec, frames, &mut file)?;
            file.flush()?;
        }
        Ok(())
    }
}

/// Writes every fixture's pair into `dir` as `<name>_ref.y4m` and `<name>_dist.y4m`.
pub fn write_all(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for fixture in fixtures() {
        fixture.write_pair(
            &dir.join(format!("{}_ref.y4m", fixture.name)),
            &dir.join(format!("{}_dist.y4m", fixture.name)),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_in_range() {
        for f in fixtures() {
            let a = reference(&f.spec);
            let b = reference(&f.spec);
            assert_eq!(a, b);
            let d = distort(&f.spec, &a, f.distortion, 5);
            let max = (1u32 << f.spec.depth) - 1;
            assert!(d
                .iter()
                .all(|fr| fr.planes.iter().flatten().all(|&v| v as u32 <= max)));
            if f.distortion == Distortion::Identical {
                assert_eq!(a, d);
            } else {
                assert_ne!(a, d, "{} should differ", f.name);
            }
        }
    }

    #[test]
    fn still_clips_repeat_and_scene_cuts_change() {
        let spec = ClipSpec {
            width: 32,
            height: 16,
            chroma: Chroma::C420,
            depth: 8,
            frames: 4,
            motion: Motion::Still,
            seed: 1,
        };
        let still = reference(&spec);
        assert!(still.windows(2).all(|w| w[0] == w[1]));
        let cut = reference(&ClipSpec {
            motion: Motion::SceneCut,
            ..spec
        });
        let diff = |a: &Frame, b: &Frame| {
            a.planes[0]
                .iter()
                .zip(&b.planes[0])
                .filter(|(x, y)| x != y)
                .count()
        };
        assert!(diff(&cut[1], &cut[2]) > diff(&cut[0], &cut[1]));
    }
}
