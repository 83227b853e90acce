//! Files in the data directory, written so that a SIGKILL at any instant loses nothing that was
//! acknowledged: the sample log is appended and fsynced before a sample is acknowledged; the
//! state is replaced atomically (write, fsync, rename, fsync the directory); a checkpoint file
//! is linked into place only if no file of that version exists, so a version is never written
//! twice.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::Sample;
use crate::TrainerError;

/// One line of the sample log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedSample {
    /// Arrival order, from 1.
    pub seq: u64,
    /// Kept out of training, for evaluation.
    pub holdout: bool,
    /// The sample.
    pub sample: Sample,
}

/// Fsyncs a directory, so that a rename or a new name in it is durable.
pub fn sync_dir(dir: &Path) -> Result<(), TrainerError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| TrainerError::io(dir, format!("failed to fsync the directory: {e}")))
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), TrainerError> {
    let mut file = File::create(path).map_err(|e| TrainerError::io(path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| TrainerError::io(path, e))
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Replaces `path` with `bytes` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainerError> {
    let temp = temp_path(path);
    write_synced(&temp, bytes)?;
    std::fs::rename(&temp, path).map_err(|e| TrainerError::io(path, e))?;
    sync_dir(parent(path))
}

/// Creates `path` holding `bytes`, durably, and only if it does not exist: `Ok(false)` when it
/// does (nothing is changed then).
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<bool, TrainerError> {
    let temp = temp_path(path);
    write_synced(&temp, bytes)?;
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            sync_dir(parent(path))?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(TrainerError::io(path, e)),
    }
}

/// The append-only sample log.
#[derive(Debug)]
pub struct SampleLog {
    path: PathBuf,
    file: File,
    /// Lines in the file.
    pub entries: usize,
}

impl SampleLog {
    /// Opens the log, returning it and every complete entry. A torn last line (a write that a
    /// kill cut short, never acknowledged) is cut off.
    pub fn open(path: &Path) -> Result<(SampleLog, Vec<LoggedSample>), TrainerError> {
        let mut entries = Vec::new();
        let mut good_bytes = 0u64;
        if path.exists() {
            let file = File::open(path).map_err(|e| TrainerError::io(path, e))?;
            let mut reader = BufReader::new(file);
            let mut line = String::new();
            let mut number = 0usize;
            loop {
                line.clear();
                let read = reader
                    .read_line(&mut line)
                    .map_err(|e| TrainerError::io(path, e))?;
                if read == 0 {
                    break;
                }
                number += 1;
                if !line.ends_with('\n') {
                    tracing::warn!(path = %path.display(), line = number, "dropping a torn last line");
                    break;
                }
                let entry: LoggedSample = serde_json::from_str(&line).map_err(|e| {
                    TrainerError::io(path, format!("line {number} is not a logged sample: {e}"))
                })?;
                entries.push(entry);
                good_bytes += read as u64;
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| TrainerError::io(path, e))?;
        file.set_len(good_bytes)
            .map_err(|e| TrainerError::io(path, e))?;
        sync_dir(parent(path))?;
        let count = entries.len();
        Ok((
            SampleLog {
                path: path.to_owned(),
                file,
                entries: count,
            },
            entries,
        ))
    }

    /// Appends an entry and fsyncs: once this returns, the sample survives a kill.
    pub fn append(&mut self, entry: &LoggedSample) -> Result<(), TrainerError> {
        let mut line = serde_json::to_vec(entry).map_err(|e| TrainerError::io(&self.path, e))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| TrainerError::io(&self.path, e))?;
        self.entries += 1;
        Ok(())
    }

    /// Replaces the log with `entries`, atomically (for compaction).
    pub fn rewrite(&mut self, entries: &[&LoggedSample]) -> Result<(), TrainerError> {
        let mut bytes = Vec::new();
        for entry in entries {
            serde_json::to_writer(&mut bytes, entry)
                .map_err(|e| TrainerError::io(&self.path, e))?;
            bytes.push(b'\n');
        }
        write_atomic(&self.path, &bytes)?;
        self.file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| TrainerError::io(&self.path, e))?;
        self.entries = entries.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_lines_are_dropped_and_new_files_are_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("samples.jsonl");
        let (mut log, entries) = SampleLog::open(&path).unwrap();
        assert!(entries.is_empty());
        let entry = LoggedSample {
            seq: 1,
            holdout: false,
            sample: Sample::new("a".into(), 50.0, vec![vec![1.0]]),
        };
        log.append(&entry).unwrap();
        drop(log);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"seq\":2,\"hold").unwrap();
        let (mut log, entries) = SampleLog::open(&path).unwrap();
        assert_eq!(entries, vec![entry.clone()]);
        log.append(&LoggedSample { seq: 2, ..entry }).unwrap();
        let (_, entries) = SampleLog::open(&path).unwrap();
        assert_eq!(entries.len(), 2);

        let model = dir.path().join("v1.json");
        assert!(write_new(&model, b"first").unwrap());
        assert!(!write_new(&model, b"second").unwrap());
        assert_eq!(std::fs::read(&model).unwrap(), b"first");
    }
}
