//! The band weights of `float_adm`'s contrast sensitivity functions (`adm_csf_mode` 1:
//! Barten, 2: ADM's native CSF, anything else: Watson et al. 1997), with libvmaf's f32/f64 mix.

use crate::feature::csf_models;

/// The viewing-condition options the weights depend on.
#[derive(Debug, Clone, Copy)]
pub(super) struct Viewing {
    pub mode: i32,
    pub norm_view_dist: f64,
    pub display_height: i32,
    pub csf_scale: f64,
    pub csf_diag_scale: f64,
}

impl Viewing {
    /// Display resolution in pixels per degree, rounded to f32 as libvmaf keeps it.
    fn pixels_per_degree(&self) -> f32 {
        csf_models::pixels_per_degree(self.norm_view_dist, self.display_height)
    }

    /// Weights of the horizontal/vertical bands and of the diagonal band at `scale` (0-3).
    pub(super) fn band_weights(&self, scale: usize) -> [f32; 2] {
        match self.mode {
            1 => [
                self.barten(scale, self.csf_scale),
                self.barten(scale, self.csf_diag_scale),
            ],
            2 => [self.native(scale, false), self.native(scale, true)],
            _ => [
                1.0 / self.watson_step(scale, 1),
                1.0 / self.watson_step(scale, 2),
            ],
        }
    }

    /// Watson's quantisation step for luma at wavelet level `lambda` and orientation `theta`.
    fn watson_step(&self, lambda: usize, theta: usize) -> f32 {
        csf_models::watson_step(self.pixels_per_degree(), lambda, theta)
    }

    fn barten(&self, lambda: usize, scale: f64) -> f32 {
        csf_models::barten(self.pixels_per_degree(), lambda, scale)
    }

    /// ADM's own CSF; the diagonal band sees its frequency raised by 1/0.7.
    fn native(&self, lambda: usize, diagonal: bool) -> f32 {
        let r = self.pixels_per_degree();
        let mut sf = (f64::from(r) / 2f64.powf((lambda + 1) as f64)) as f32;
        if diagonal {
            sf = (f64::from(sf) / 0.7) as f32;
        }
        let sf = f64::from(sf);
        ((0.31 + 0.69 * sf) * (-0.29 * sf).exp()) as f32
    }
}
