//! Momentum SGD with gradient-norm clipping, a linear learning-rate warm-up and an EMA shadow of
//! the weights, which is what checkpoints export.

use serde::{Deserialize, Serialize};

/// The optimiser's fixed settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OptimConfig {
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Momentum coefficient.
    pub momentum: f64,
    /// Gradients longer than this (L2) are scaled down to it.
    pub clip_norm: f64,
    /// Steps over which the learning rate rises linearly to its peak.
    pub warmup_steps: u64,
    /// Decay of the EMA shadow.
    pub ema_beta: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            learning_rate: 0.02,
            momentum: 0.9,
            clip_norm: 1.0,
            warmup_steps: 100,
            ema_beta: 0.999,
        }
    }
}

/// Weights, velocity and shadow: everything that must survive a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Optimizer {
    /// Settings.
    pub config: OptimConfig,
    /// Current weights.
    pub weights: Vec<f64>,
    /// Momentum buffer.
    pub velocity: Vec<f64>,
    /// EMA accumulator, started at zero (the base model) and debiased on read.
    pub shadow: Vec<f64>,
    /// Steps taken.
    pub steps: u64,
}

impl Optimizer {
    /// Starts at the zero vector (the base model).
    pub fn new(parameters: usize, config: OptimConfig) -> Optimizer {
        Optimizer {
            config,
            weights: vec![0.0; parameters],
            velocity: vec![0.0; parameters],
            shadow: vec![0.0; parameters],
            steps: 0,
        }
    }

    /// The learning rate of the next step.
    pub fn learning_rate(&self) -> f64 {
        let warm = self.config.warmup_steps.max(1) as f64;
        self.config.learning_rate * ((self.steps + 1) as f64 / warm).min(1.0)
    }

    /// One step along `gradient` (clipped first). Returns the gradient's norm before clipping.
    pub fn step(&mut self, gradient: &[f64]) -> f64 {
        self.step_projected(gradient, |_| {})
    }

    /// [`Self::step`], with `project` mapping the new weights back into their feasible set
    /// before the EMA takes them (projected SGD): the shadow then averages feasible weights
    /// only, and stays feasible where the set is convex.
    pub fn step_projected(&mut self, gradient: &[f64], project: impl FnOnce(&mut [f64])) -> f64 {
        let norm = gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
        let scale = if norm > self.config.clip_norm && norm > 0.0 {
            self.config.clip_norm / norm
        } else {
            1.0
        };
        let rate = self.learning_rate();
        for ((w, v), g) in self
            .weights
            .iter_mut()
            .zip(self.velocity.iter_mut())
            .zip(gradient)
        {
            *v = self.config.momentum * *v + g * scale;
            *w -= rate * *v;
        }
        project(&mut self.weights);
        let beta = self.config.ema_beta;
        for (s, w) in self.shadow.iter_mut().zip(&self.weights) {
            *s = beta * *s + (1.0 - beta) * w;
        }
        self.steps += 1;
        norm
    }

    /// The EMA of the weights, debiased for its zero start (`shadow / (1 − β^t)`): before any
    /// step it is the base model; early on it averages the steps so far; later the last
    /// ~1/(1−β) steps dominate.
    pub fn ema(&self) -> Vec<f64> {
        if self.steps == 0 {
            return self.shadow.clone();
        }
        let correction = 1.0 - self.config.ema_beta.powf(self.steps as f64);
        self.shadow.iter().map(|s| s / correction).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_warmup_and_ema() {
        let mut o = Optimizer::new(2, OptimConfig::default());
        assert!((o.learning_rate() - 0.02 / 100.0).abs() < 1e-15);
        let norm = o.step(&[30.0, 40.0]);
        assert_eq!(norm, 50.0);
        // Clipped to length 1, at the first warm-up rate.
        let rate = 0.02 / 100.0;
        assert!((o.weights[0] + rate * 0.6).abs() < 1e-15);
        assert!((o.weights[1] + rate * 0.8).abs() < 1e-15);
        // After one step the debiased shadow is exactly the weights.
        let ema = o.ema();
        assert!((ema[0] - o.weights[0]).abs() < 1e-15);
        for _ in 0..200 {
            o.step(&[0.0, 0.0]);
        }
        assert!((o.learning_rate() - 0.02).abs() < 1e-15);
    }

    #[test]
    fn it_descends_a_quadratic() {
        let mut o = Optimizer::new(1, OptimConfig::default());
        for _ in 0..3000 {
            let g = 2.0 * (o.weights[0] - 3.0);
            o.step(&[g]);
        }
        assert!((o.weights[0] - 3.0).abs() < 1e-3, "{}", o.weights[0]);
        assert!((o.ema()[0] - 3.0).abs() < 0.5, "{}", o.ema()[0]);
    }
}
