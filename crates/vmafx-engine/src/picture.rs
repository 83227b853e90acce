//! Decoded pictures: planar YUV at 8 to 16 bits, stored as `u8` at 8 bits and `u16` above,
//! the way libvmaf stores them.

use crate::cpu::SimdLevel;
use crate::EngineError;

/// Chroma subsampling of a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// Luma only.
    Yuv400,
    /// Chroma halved in both directions.
    Yuv420,
    /// Chroma halved horizontally.
    Yuv422,
    /// Full-resolution chroma.
    Yuv444,
}

impl PixelFormat {
    /// Number of planes a picture of this format carries.
    pub fn plane_count(self) -> usize {
        match self {
            PixelFormat::Yuv400 => 1,
            _ => 3,
        }
    }

    /// Width and height of plane `index` inside a picture of `width` × `height`. As in libvmaf,
    /// subsampled chroma planes are rounded down: an odd luma size leaves its last chroma
    /// column or row out of every computation.
    pub fn plane_size(self, index: usize, width: usize, height: usize) -> (usize, usize) {
        if index == 0 {
            return (width, height);
        }
        match self {
            PixelFormat::Yuv400 => (0, 0),
            PixelFormat::Yuv420 => (width / 2, height / 2),
            PixelFormat::Yuv422 => (width / 2, height),
            PixelFormat::Yuv444 => (width, height),
        }
    }

    /// Width and height of plane `index` as stored in Y4M and raw YUV files, where subsampled
    /// chroma is rounded up.
    pub fn stored_plane_size(self, index: usize, width: usize, height: usize) -> (usize, usize) {
        if index == 0 {
            return (width, height);
        }
        match self {
            PixelFormat::Yuv400 => (0, 0),
            PixelFormat::Yuv420 => (width.div_ceil(2), height.div_ceil(2)),
            PixelFormat::Yuv422 => (width.div_ceil(2), height),
            PixelFormat::Yuv444 => (width, height),
        }
    }

    /// The short name libvmaf's CLI uses (`420`, `422`, `444`, `400`).
    pub fn short_name(self) -> &'static str {
        match self {
            PixelFormat::Yuv400 => "400",
            PixelFormat::Yuv420 => "420",
            PixelFormat::Yuv422 => "422",
            PixelFormat::Yuv444 => "444",
        }
    }
}

/// A sample type a plane can hold.
pub trait Pixel: Copy + Default + Send + Sync + 'static {
    /// The sample widened to `u32`.
    fn widen(self) -> u32;
}

impl Pixel for u8 {
    #[inline(always)]
    fn widen(self) -> u32 {
        self as u32
    }
}

impl Pixel for u16 {
    #[inline(always)]
    fn widen(self) -> u32 {
        self as u32
    }
}

/// One image plane: `height` rows of `width` samples, rows `stride` samples apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plane<T> {
    /// Samples per row.
    pub width: usize,
    /// Number of rows.
    pub height: usize,
    /// Distance between the starts of two rows, in samples.
    pub stride: usize,
    /// The samples, `stride * height` of them.
    pub data: Vec<T>,
}

impl<T: Pixel> Plane<T> {
    /// A zeroed plane with `stride == width`.
    pub fn new(width: usize, height: usize) -> Self {
        Plane {
            width,
            height,
            stride: width,
            data: vec![T::default(); width * height],
        }
    }

    /// Row `y` as a slice of exactly `width` samples.
    #[inline(always)]
    pub fn row(&self, y: usize) -> &[T] {
        &self.data[y * self.stride..y * self.stride + self.width]
    }

    /// Row `y`, mutable.
    #[inline(always)]
    pub fn row_mut(&mut self, y: usize) -> &mut [T] {
        let start = y * self.stride;
        &mut self.data[start..start + self.width]
    }
}

/// The samples of one plane, in the width the bit depth calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaneData {
    /// 8-bit samples.
    U8(Plane<u8>),
    /// 9- to 16-bit samples.
    U16(Plane<u16>),
}

impl PlaneData {
    /// Samples per row.
    pub fn width(&self) -> usize {
        match self {
            PlaneData::U8(p) => p.width,
            PlaneData::U16(p) => p.width,
        }
    }

    /// Number of rows.
    pub fn height(&self) -> usize {
        match self {
            PlaneData::U8(p) => p.height,
            PlaneData::U16(p) => p.height,
        }
    }
}

/// A decoded picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    /// Chroma subsampling.
    pub format: PixelFormat,
    /// Bits per component, 8 to 16.
    pub bit_depth: u8,
    /// Luma width.
    pub width: usize,
    /// Luma height.
    pub height: usize,
    /// One entry per plane: Y, then Cb and Cr unless the format is 4:0:0.
    pub planes: Vec<PlaneData>,
}

impl Picture {
    /// A zeroed picture.
    pub fn new(
        format: PixelFormat,
        bit_depth: u8,
        width: usize,
        height: usize,
    ) -> Result<Self, EngineError> {
        if !(8..=16).contains(&bit_depth) {
            return Err(EngineError::UnsupportedPicture(format!(
                "bit depth {bit_depth} is outside 8..=16"
            )));
        }
        if width == 0 || height == 0 {
            return Err(EngineError::UnsupportedPicture(format!(
                "size {width}x{height} is empty"
            )));
        }
        let planes = (0..format.plane_count())
            .map(|i| {
                let (w, h) = format.plane_size(i, width, height);
                if bit_depth == 8 {
                    PlaneData::U8(Plane::new(w, h))
                } else {
                    PlaneData::U16(Plane::new(w, h))
                }
            })
            .collect();
        Ok(Picture {
            format,
            bit_depth,
            width,
            height,
            planes,
        })
    }

    /// Fills this picture with `source`'s samples shifted up to this picture's higher bit
    /// depth (8-bit `v` becomes `v << 2` at 10 bits): how a lower-depth clip is compared with a
    /// higher-depth one at their common depth. Sizes and formats must match.
    pub fn widen_from(&mut self, source: &Picture) -> Result<(), EngineError> {
        if (source.format, source.width, source.height) != (self.format, self.width, self.height)
            || source.bit_depth > self.bit_depth
        {
            return Err(EngineError::PictureMismatch(format!(
                "cannot widen a {}x{} {}-bit picture into a {}x{} {}-bit one",
                source.width,
                source.height,
                source.bit_depth,
                self.width,
                self.height,
                self.bit_depth
            )));
        }
        let shift = u32::from(self.bit_depth - source.bit_depth);
        for (to, from) in self.planes.iter_mut().zip(&source.planes) {
            match (to, from) {
                (PlaneData::U16(to), PlaneData::U8(from)) => {
                    for y in 0..to.height {
                        for (t, f) in to.row_mut(y).iter_mut().zip(from.row(y)) {
                            *t = u16::from(*f) << shift;
                        }
                    }
                }
                (PlaneData::U16(to), PlaneData::U16(from)) => {
                    for y in 0..to.height {
                        for (t, f) in to.row_mut(y).iter_mut().zip(from.row(y)) {
                            *t = *f << shift;
                        }
                    }
                }
                (PlaneData::U8(to), PlaneData::U8(from)) => {
                    for y in 0..to.height {
                        to.row_mut(y).copy_from_slice(from.row(y));
                    }
                }
                (PlaneData::U8(_), PlaneData::U16(_)) => {
                    return Err(EngineError::PictureMismatch(
                        "cannot widen a 16-bit plane into an 8-bit one".into(),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Number of bytes one frame takes in raw planar form (2 bytes a sample above 8 bits).
    pub fn raw_frame_len(format: PixelFormat, bit_depth: u8, width: usize, height: usize) -> usize {
        let bytes = if bit_depth > 8 { 2 } else { 1 };
        (0..format.plane_count())
            .map(|i| {
                let (w, h) = format.stored_plane_size(i, width, height);
                w * h * bytes
            })
            .sum()
    }

    /// Fills the picture from raw planar bytes (little-endian 16-bit words above 8 bits), as
    /// found in `.yuv` files and Y4M frames. `raw` must be exactly [`Picture::raw_frame_len`];
    /// the stored extra chroma column and row of odd sizes are skipped.
    pub fn fill_from_raw(&mut self, raw: &[u8]) -> Result<(), EngineError> {
        let expected = Self::raw_frame_len(self.format, self.bit_depth, self.width, self.height);
        if raw.len() != expected {
            return Err(EngineError::PictureMismatch(format!(
                "raw frame has {} bytes, expected {expected}",
                raw.len()
            )));
        }
        let max = ((1u32 << self.bit_depth) - 1) as u16;
        // Input conversion is not part of a scorer; its twins agree bit for bit, so it always
        // takes the best level this CPU has.
        let level = SimdLevel::detect();
        let mut offset = 0;
        for (index, plane) in self.planes.iter_mut().enumerate() {
            let (stored_w, stored_h) =
                self.format
                    .stored_plane_size(index, self.width, self.height);
            match plane {
                PlaneData::U8(p) => {
                    let w = p.width;
                    for y in 0..p.height {
                        let start = offset + y * stored_w;
                        p.row_mut(y).copy_from_slice(&raw[start..start + w]);
                    }
                    offset += stored_w * stored_h;
                }
                PlaneData::U16(p) => {
                    let w = p.width;
                    for y in 0..p.height {
                        let start = offset + y * stored_w * 2;
                        let src = &raw[start..start + w * 2];
                        words_to_samples_at(level, src, max, p.row_mut(y));
                    }
                    offset += stored_w * stored_h * 2;
                }
            }
        }
        Ok(())
    }

    /// Whether raw frames of this shape can be read straight into the planes: no stored chroma
    /// the picture leaves out, and samples whose in-memory bytes are the file's (8-bit, or
    /// little-endian words on a little-endian machine).
    pub fn raw_is_direct(format: PixelFormat, bit_depth: u8, width: usize, height: usize) -> bool {
        (bit_depth == 8 || cfg!(target_endian = "little"))
            && (0..format.plane_count()).all(|i| {
                format.stored_plane_size(i, width, height) == format.plane_size(i, width, height)
            })
    }

    /// The planes' sample buffers as bytes, in raw file order, for reading frames straight into
    /// them when [`Picture::raw_is_direct`] holds; `None` otherwise. After filling them, call
    /// [`Picture::settle_direct_read`].
    pub fn direct_planes_mut(&mut self) -> Option<Vec<&mut [u8]>> {
        if !Self::raw_is_direct(self.format, self.bit_depth, self.width, self.height) {
            return None;
        }
        let mut out = Vec::with_capacity(3);
        for plane in &mut self.planes {
            match plane {
                PlaneData::U8(p) if p.stride == p.width => out.push(&mut p.data[..]),
                PlaneData::U16(p) if p.stride == p.width => {
                    let words = &mut p.data[..];
                    // SAFETY: the bytes of a `u16` slice are valid `u8`s, `u8` needs no
                    // alignment, the length covers exactly the words' bytes, and the byte view
                    // borrows `words` mutably for its whole life, so nothing else aliases it.
                    let bytes = unsafe {
                        std::slice::from_raw_parts_mut(
                            words.as_mut_ptr().cast::<u8>(),
                            std::mem::size_of_val(words),
                        )
                    };
                    out.push(bytes);
                }
                _ => return None,
            }
        }
        Some(out)
    }

    /// Clamps samples read through [`Picture::direct_planes_mut`] to the bit depth, as
    /// [`Picture::fill_from_raw`] does.
    pub fn settle_direct_read(&mut self) {
        if self.bit_depth >= 16 {
            return;
        }
        let max = ((1u32 << self.bit_depth) - 1) as u16;
        for plane in &mut self.planes {
            if let PlaneData::U16(p) = plane {
                for v in &mut p.data {
                    *v = (*v).min(max);
                }
            }
        }
    }

    /// Checks that `other` has the same format, depth and size.
    pub fn check_same_shape(&self, other: &Picture) -> Result<(), EngineError> {
        if self.format != other.format
            || self.bit_depth != other.bit_depth
            || self.width != other.width
            || self.height != other.height
        {
            return Err(EngineError::PictureMismatch(format!(
                "{}x{} {} {}-bit vs {}x{} {} {}-bit",
                self.width,
                self.height,
                self.format.short_name(),
                self.bit_depth,
                other.width,
                other.height,
                other.format.short_name(),
                other.bit_depth
            )));
        }
        Ok(())
    }
}

/// Turns little-endian 16-bit words into samples clamped to `max`: samples above the declared
/// depth would overflow the fixed-point kernels (libvmaf's behaviour there is undefined).
/// `src` holds `2 * dst.len()` bytes. Runs on the kernels of `level` where the CPU has them.
pub fn words_to_samples_at(level: SimdLevel, src: &[u8], max: u16, dst: &mut [u16]) {
    assert_eq!(src.len(), 2 * dst.len());
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 was just detected, and the lengths were checked above.
        done = unsafe { words_to_samples_avx2(src, max, dst) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = level;
    words_to_samples_scalar(&src[2 * done..], max, &mut dst[done..]);
}

fn words_to_samples_scalar(src: &[u8], max: u16, dst: &mut [u16]) {
    for (d, pair) in dst.iter_mut().zip(src.chunks_exact(2)) {
        *d = u16::from_le_bytes([pair[0], pair[1]]).min(max);
    }
}

/// AVX2 twin of the scalar conversion for whole blocks of 16 samples; returns how many samples
/// it wrote (the rest is left to the scalar twin). x86 is little-endian, so the words load as
/// they are.
///
/// # Safety
/// The CPU must support AVX2 and `src.len() == 2 * dst.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn words_to_samples_avx2(src: &[u8], max: u16, dst: &mut [u16]) -> usize {
    use std::arch::x86_64::*;
    let limit = _mm256_set1_epi16(max as i16);
    let blocks = dst.len() / 16;
    for b in 0..blocks {
        // SAFETY: block `b < dst.len() / 16` covers samples `16 b .. 16 b + 16` of `dst` and
        // bytes `32 b .. 32 b + 32` of `src`, both in bounds; unaligned loads and stores.
        unsafe {
            let v = _mm256_loadu_si256(src.as_ptr().add(32 * b).cast());
            _mm256_storeu_si256(
                dst.as_mut_ptr().add(16 * b).cast(),
                _mm256_min_epu16(v, limit),
            );
        }
    }
    blocks * 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_conversion_avx2_matches_scalar() {
        if !crate::cpu::twin_level_available(SimdLevel::Avx2, "AVX2 16-bit word conversion") {
            return;
        }
        let mut seed = 0x9e37_79b9_u32;
        for bd in [9u8, 10, 12, 14, 16] {
            let max = ((1u32 << bd) - 1) as u16;
            for n in (0..=70).chain([1921, 3840]) {
                // Random words, many above the depth, to exercise the clamp.
                let src: Vec<u8> = (0..2 * n)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        (seed >> 24) as u8
                    })
                    .collect();
                let (mut a, mut b) = (vec![0u16; n], vec![0u16; n]);
                words_to_samples_at(SimdLevel::Scalar, &src, max, &mut a);
                words_to_samples_at(SimdLevel::Avx2, &src, max, &mut b);
                assert_eq!(a, b, "{n} samples at {bd} bits");
            }
        }
    }

    #[test]
    fn chroma_sizes_for_odd_dimensions() {
        assert_eq!(PixelFormat::Yuv420.stored_plane_size(1, 7, 5), (4, 3));
        assert_eq!(PixelFormat::Yuv422.stored_plane_size(2, 7, 5), (4, 5));
        assert_eq!(PixelFormat::Yuv444.stored_plane_size(1, 7, 5), (7, 5));
        assert_eq!(
            Picture::raw_frame_len(PixelFormat::Yuv420, 10, 7, 5),
            (35 + 24) * 2
        );
        // libvmaf's pictures round subsampled chroma down.
        assert_eq!(PixelFormat::Yuv420.plane_size(1, 7, 5), (3, 2));
        assert_eq!(PixelFormat::Yuv422.plane_size(1, 7, 5), (3, 5));
    }

    #[test]
    fn direct_reads_match_raw_fills() {
        for (format, bd, w, h) in [
            (PixelFormat::Yuv420, 8, 6, 4),
            (PixelFormat::Yuv420, 10, 6, 4),
            (PixelFormat::Yuv444, 12, 5, 3),
            (PixelFormat::Yuv400, 16, 3, 2),
        ] {
            let len = Picture::raw_frame_len(format, bd, w, h);
            // Bytes above the depth too, to exercise the clamp.
            let raw: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            let mut a = Picture::new(format, bd, w, h).unwrap();
            a.fill_from_raw(&raw).unwrap();
            let mut b = Picture::new(format, bd, w, h).unwrap();
            let mut at = 0;
            for plane in b.direct_planes_mut().unwrap() {
                let n = plane.len();
                plane.copy_from_slice(&raw[at..at + n]);
                at += n;
            }
            assert_eq!(at, len);
            b.settle_direct_read();
            assert_eq!(a, b, "{format:?} {bd}-bit {w}x{h}");
        }
        let mut odd = Picture::new(PixelFormat::Yuv420, 8, 3, 3).unwrap();
        assert!(odd.direct_planes_mut().is_none());
    }

    #[test]
    fn raw_fill_reads_little_endian_words() {
        let mut p = Picture::new(PixelFormat::Yuv400, 10, 2, 1).unwrap();
        p.fill_from_raw(&[0x01, 0x02, 0xff, 0x03]).unwrap();
        match &p.planes[0] {
            PlaneData::U16(pl) => assert_eq!(pl.data, vec![0x0201, 0x03ff]),
            PlaneData::U8(_) => panic!("10-bit picture stored as u8"),
        }
        assert!(p.fill_from_raw(&[0; 3]).is_err());
    }

    #[test]
    fn raw_fill_skips_the_stored_extra_chroma_of_odd_sizes() {
        let mut p = Picture::new(PixelFormat::Yuv420, 8, 3, 3).unwrap();
        // 9 luma bytes, then 2x2 stored Cb and Cr of which the picture keeps 1x1.
        let raw: Vec<u8> = (0..17).collect();
        p.fill_from_raw(&raw).unwrap();
        match (&p.planes[1], &p.planes[2]) {
            (PlaneData::U8(cb), PlaneData::U8(cr)) => {
                assert_eq!(cb.data, vec![9]);
                assert_eq!(cr.data, vec![13]);
            }
            _ => panic!("8-bit picture stored wide"),
        }
    }
}
