//! Bit-exact VMAF: feature extraction (VIF, ADM, motion, PSNR) and model prediction matching
//! libvmaf v3.2.0's integer path, with no I/O, no async and no networking.
//!
//! The pipeline is: [`picture::Picture`] pairs go through [`feature::FeatureExtractor`]s, whose
//! values land in a [`collector::FeatureCollector`]; [`model::Model`]s then turn those feature
//! values into per-frame VMAF scores, and [`pool`] summarises them.

#![forbid(unsafe_op_in_unsafe_fn)]

pub mod collector;
pub mod cpu;
pub mod error;
pub mod feature;
pub mod model;
pub mod options;
pub mod picture;
pub mod pipeline;
pub mod pool;

pub use error::EngineError;
