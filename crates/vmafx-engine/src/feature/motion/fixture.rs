//! Deterministic synthetic clips for the motion and PSNR unit tests. The same formulas wrote
//! the raw `.yuv` files the expected libvmaf v3.2.0 values were measured on.

use crate::picture::{Picture, PixelFormat, PlaneData};

/// 32-bit integer hash (multiply-xorshift), so the pictures need no PRNG state.
fn hash(a: u32, b: u32, c: u32) -> u32 {
    let mut h =
        a.wrapping_mul(0x9E37_79B1) ^ b.wrapping_mul(0x85EB_CA77) ^ c.wrapping_mul(0xC2B2_AE3D);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^ (h >> 12)
}

/// Reference sample of plane `p` at (`x`, `y`): a gradient moving with `t` (scene 0) or a
/// product pattern (scene 1), plus noise, with noisy low bits above 8 bits.
fn sample(p: u32, x: u32, y: u32, scene: u32, t: u32, bd: u8) -> u32 {
    let base = if p > 0 {
        (x * 3 + y * 11 + t * (p + 1) + scene * 50) % 200
    } else if scene == 0 {
        ((x + 2 * t) * 9 + y * 5) % 220
    } else {
        (x * y * 7 + 31 + t * 11) % 250
    };
    let v8 = (base + hash(x, y, t + 17 * scene + 1000 * p) % 32).min(255);
    let extra = u32::from(bd - 8);
    let low = hash(y, x, t + 5 * scene + 99 + p) & ((1 << extra) - 1);
    (v8 << extra) | low
}

/// The distorted version of `v`: a bounded pseudo-random offset, clamped.
fn distort(v: u32, p: u32, x: u32, y: u32, t: u32, bd: u8) -> u32 {
    let d = (hash(x, y, t + 7000 + p) % 21) as i64 - 10;
    let max = (1i64 << bd) - 1;
    (v as i64 + d * (1 << (bd - 8))).clamp(0, max) as u32
}

/// Reference and distorted picture of frame (`scene`, `t`).
pub fn pair(
    format: PixelFormat,
    bd: u8,
    width: usize,
    height: usize,
    scene: u32,
    t: u32,
) -> (Picture, Picture) {
    let mut reference = Picture::new(format, bd, width, height).expect("valid test geometry");
    let mut distorted = reference.clone();
    for (p, (rp, dp)) in reference
        .planes
        .iter_mut()
        .zip(&mut distorted.planes)
        .enumerate()
    {
        let p = p as u32;
        let (w, h) = (rp.width(), rp.height());
        for y in 0..h {
            for x in 0..w {
                let v = sample(p, x as u32, y as u32, scene, t, bd);
                let dv = distort(v, p, x as u32, y as u32, t, bd);
                match (&mut *rp, &mut *dp) {
                    (PlaneData::U8(a), PlaneData::U8(b)) => {
                        a.row_mut(y)[x] = v as u8;
                        b.row_mut(y)[x] = dv as u8;
                    }
                    (PlaneData::U16(a), PlaneData::U16(b)) => {
                        a.row_mut(y)[x] = v as u16;
                        b.row_mut(y)[x] = dv as u16;
                    }
                    _ => unreachable!("planes of one picture share a sample type"),
                }
            }
        }
    }
    (reference, distorted)
}
