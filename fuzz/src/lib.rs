//! Shared pieces of the cargo-fuzz targets.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use vmafx_engine::collector::FeatureCollector;
use vmafx_engine::model::{Model, ModelSource, ModelSpec};

/// Writes `data` to a scratch file of its own and loads it as a model, as `--model path=`
/// does. Panics (so the fuzzer reports it) when an error is not one line naming the file, or
/// when a model that loaded cannot predict.
pub fn load_model_bytes(data: &[u8]) {
    // A new file each run: rewriting one file waits on its writeback and is far slower.
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let path: PathBuf = std::env::temp_dir().join(format!(
        "vmafx-fuzz-model-{}-{run}.json",
        std::process::id()
    ));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    check_model_file(&path);
    let _ = std::fs::remove_file(&path);
}

fn check_model_file(path: &Path) {
    let spec = ModelSpec {
        source: ModelSource::Path(path.to_path_buf()),
        ..ModelSpec::default()
    };
    match Model::load(&spec) {
        Err(e) => {
            let message = e.to_string();
            assert!(!message.chars().any(char::is_control), "{message:?}");
            assert!(message.contains(&path.display().to_string()), "{message:?}");
        }
        Ok(model) => {
            let mut collector = FeatureCollector::new();
            for input in model.inputs() {
                let _ = collector.append(&input.collector_name, 0, 0.5);
            }
            if let Err(e) = model.predict(&collector, 0) {
                panic!("a loaded model failed to predict: {e}");
            }
        }
    }
}
