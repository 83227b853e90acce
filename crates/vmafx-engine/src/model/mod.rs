//! VMAF models: loading libvmaf JSON models, built-in versions, and per-frame prediction.
