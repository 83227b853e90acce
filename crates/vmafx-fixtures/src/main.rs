//! Writes the conformance fixtures: `vmafx-fixtures DIR`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: vmafx-fixtures DIR");
        return ExitCode::FAILURE;
    };
    match vmafx_fixtures::write_all(&dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vmafx-fixtures: failed to write {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
