//! The rclone side: `rclone lsjson --stat` for existence and size, `rclone cat` for streaming.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::config::{Limits, RcloneConfig};
use crate::error::FetchError;

/// rclone's exit codes for "directory not found" and "file not found".
const EXIT_DIR_NOT_FOUND: i32 = 3;
const EXIT_FILE_NOT_FOUND: i32 = 4;

/// How many trailing stderr lines are kept to explain a failure.
const STDERR_LINES: usize = 16;

/// The remotes the rclone configuration defines (`rclone listremotes`), without their `:`.
pub(crate) fn list_remotes(config: &RcloneConfig, uri: &str) -> Result<Vec<String>, FetchError> {
    let mut cmd = Command::new(&config.binary);
    if let Some(path) = &config.config_path {
        cmd.arg("--config").arg(path);
    }
    let out = cmd
        .arg("listremotes")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| FetchError::RcloneMissing {
            uri: uri.to_string(),
            binary: config.binary.clone(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(FetchError::RcloneFailed {
            uri: uri.to_string(),
            action: "list the remotes for",
            status: out.status.to_string(),
            stderr: telling_line(String::from_utf8_lossy(&out.stderr).lines()),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().trim_end_matches(':').to_string())
        .filter(|l| !l.is_empty())
        .collect())
}

/// One rclone target (`remote:path`) and how to run rclone for it.
pub(crate) struct Rclone<'a> {
    pub(crate) config: &'a RcloneConfig,
    pub(crate) limits: &'a Limits,
    pub(crate) target: &'a str,
    pub(crate) uri: &'a str,
}

impl Rclone<'_> {
    fn command(&self, verb: &[&str]) -> Command {
        let mut cmd = Command::new(&self.config.binary);
        if let Some(path) = &self.config.config_path {
            cmd.arg("--config").arg(path);
        }
        let secs = self.limits.request_timeout.as_secs().max(1);
        // --contimeout bounds an unreachable endpoint; the idle --timeout is looser because a
        // slow but live transfer must not be cut.
        cmd.arg("--contimeout")
            .arg(format!("{secs}s"))
            .arg("--timeout")
            .arg(format!("{}s", secs * 6))
            .arg("--low-level-retries")
            .arg(self.limits.retries.max(1).to_string())
            .args(verb)
            // Positional arguments after `--`: a target can never be read as a flag.
            .arg("--")
            .arg(self.target)
            .stdin(Stdio::null());
        cmd
    }

    fn missing(&self, err: &io::Error) -> FetchError {
        FetchError::RcloneMissing {
            uri: self.uri.to_string(),
            binary: self.config.binary.clone(),
            detail: err.to_string(),
        }
    }

    fn failed(&self, action: &'static str, status: ExitStatus, stderr: &str) -> FetchError {
        let line = telling_line(stderr.lines());
        match status.code() {
            Some(EXIT_DIR_NOT_FOUND | EXIT_FILE_NOT_FOUND) => FetchError::NotFound {
                uri: self.uri.to_string(),
                detail: format!("rclone: {line}"),
            },
            _ => FetchError::RcloneFailed {
                uri: self.uri.to_string(),
                action,
                status: status.to_string(),
                stderr: line,
            },
        }
    }

    /// The size of the target; refuses directories and missing files.
    pub(crate) fn size(&self) -> Result<u64, FetchError> {
        let out = self
            .command(&["lsjson", "--stat"])
            .output()
            .map_err(|e| self.missing(&e))?;
        if !out.status.success() {
            return Err(self.failed("stat", out.status, &String::from_utf8_lossy(&out.stderr)));
        }
        let bad_output = |why: &str| FetchError::RcloneFailed {
            uri: self.uri.to_string(),
            action: "stat",
            status: out.status.to_string(),
            stderr: format!("unexpected lsjson output: {why}"),
        };
        let entry: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|e| bad_output(&e.to_string()))?;
        if entry.get("IsDir").and_then(|v| v.as_bool()) == Some(true) {
            return Err(FetchError::IsDirectory {
                uri: self.uri.to_string(),
            });
        }
        entry
            .get("Size")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| bad_output("no Size"))
    }

    /// Writes `bytes` to the target with `rclone rcat`, which uploads what it reads on stdin.
    pub(crate) fn rcat(&self, bytes: &[u8]) -> Result<(), FetchError> {
        let mut cmd = self.command(&["rcat"]);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| self.missing(&e))?;
        let written = match child.stdin.take() {
            Some(mut stdin) => stdin.write_all(bytes),
            None => Ok(()),
        };
        let out = child.wait_with_output().map_err(|e| self.missing(&e))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(self.failed("write", out.status, &stderr));
        }
        written.map_err(|e| FetchError::RcloneFailed {
            uri: self.uri.to_string(),
            action: "write",
            status: out.status.to_string(),
            stderr: format!("rclone stopped reading: {e}"),
        })
    }

    /// Starts `rclone cat`; the returned reader reports rclone's failure at end of stream.
    pub(crate) fn cat(&self) -> Result<RcloneStream, FetchError> {
        let stream =
            RcloneStream::spawn(self.command(&["cat"]), self.uri).map_err(|e| self.missing(&e))?;
        tracing::debug!(uri = self.uri, target = self.target, "rclone cat started");
        Ok(stream)
    }
}

fn collect_tail(stderr: impl Read, tail: &Mutex<VecDeque<String>>) {
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if let Ok(mut tail) = tail.lock() {
            if tail.len() == STDERR_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    }
}

/// Picks the line that explains a failure: the last "Failed"/"ERROR"/"CRITICAL" line, else the
/// last non-empty one, without rclone's timestamp.
fn telling_line<'a>(lines: impl Iterator<Item = &'a str>) -> String {
    let lines: Vec<&str> = lines.map(str::trim).filter(|l| !l.is_empty()).collect();
    let pick = lines
        .iter()
        .rev()
        .find(|l| l.contains("Failed") || l.contains("ERROR") || l.contains("CRITICAL"))
        .or(lines.last());
    match pick {
        Some(line) => crate::error::one_line(strip_timestamp(line)),
        None => "no output on stderr".to_string(),
    }
}

fn strip_timestamp(line: &str) -> &str {
    // rclone prefixes "YYYY/MM/DD HH:MM:SS ".
    let b = line.as_bytes();
    if b.len() > 20 && b[4] == b'/' && b[7] == b'/' && b[13] == b':' && b[16] == b':' {
        line[20..].trim_start()
    } else {
        line
    }
}

/// `rclone cat`'s stdout. At end of stream it waits for rclone and turns a failed exit into an
/// error, so a transfer that broke off is never mistaken for a short file.
pub(crate) struct RcloneStream {
    child: Child,
    stdout: ChildStdout,
    tail: Arc<Mutex<VecDeque<String>>>,
    drain: Option<JoinHandle<()>>,
    uri: String,
    finished: bool,
}

impl RcloneStream {
    fn spawn(mut cmd: Command, uri: &str) -> io::Result<RcloneStream> {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("no pipes to the child process"));
        };
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let drain = {
            let tail = Arc::clone(&tail);
            // Draining stderr on its own thread keeps a chatty rclone from blocking on a full pipe.
            std::thread::Builder::new()
                .name("rclone-stderr".into())
                .spawn(move || collect_tail(stderr, &tail))
        };
        let drain = match drain {
            Ok(drain) => drain,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        Ok(RcloneStream {
            child,
            stdout,
            tail,
            drain: Some(drain),
            uri: uri.to_string(),
            finished: false,
        })
    }

    fn finish(&mut self) -> io::Result<()> {
        self.finished = true;
        let status = self.child.wait()?;
        if let Some(drain) = self.drain.take() {
            let _ = drain.join();
        }
        if status.success() {
            return Ok(());
        }
        let line = match self.tail.lock() {
            Ok(tail) => telling_line(tail.iter().map(String::as_str)),
            Err(_) => "stderr unavailable".to_string(),
        };
        Err(io::Error::other(format!(
            "failed to read {} with rclone ({status}): {line}",
            self.uri
        )))
    }
}

impl Read for RcloneStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.finished || buf.is_empty() {
            return Ok(0);
        }
        let n = self
            .stdout
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), format!("failed to read {}: {e}", self.uri)))?;
        if n == 0 {
            self.finish()?;
        }
        Ok(n)
    }
}

impl Drop for RcloneStream {
    fn drop(&mut self) {
        if !self.finished {
            // The consumer stopped early (an error elsewhere); do not leave rclone running.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(drain) = self.drain.take() {
            let _ = drain.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_failure_line_without_timestamp() {
        let err = "2026/11/23 20:40:54 NOTICE: Config file not found\n2026/11/23 20:40:55 Failed to create file system for \"x:y\": didn't find section in config file\n";
        assert_eq!(
            telling_line(err.lines()),
            "Failed to create file system for \"x:y\": didn't find section in config file"
        );
        assert_eq!(telling_line("".lines()), "no output on stderr");
        assert_eq!(telling_line("just this\n".lines()), "just this");
    }

    fn sh(script: &str) -> RcloneStream {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script);
        RcloneStream::spawn(cmd, "r://x/a.y4m").unwrap()
    }

    #[test]
    fn a_failed_exit_is_a_read_error_not_a_short_stream() {
        // A real child process stands in for rclone breaking off mid-transfer.
        let mut s = sh(
            "printf abc; echo '2026/01/01 00:00:00 Failed to cat: connection reset' >&2; exit 5",
        );
        let mut got = Vec::new();
        let err = s.read_to_end(&mut got).unwrap_err();
        assert_eq!(got, b"abc");
        assert_eq!(
            err.to_string(),
            "failed to read r://x/a.y4m with rclone (exit status: 5): Failed to cat: connection reset"
        );
    }

    #[test]
    fn a_clean_exit_ends_the_stream() {
        let mut s = sh("printf hello");
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"hello");
    }

    #[test]
    fn dropping_early_stops_the_child() {
        // `exec`: the child must be `yes` itself. A shell that forks it instead leaves an
        // orphan holding stderr open when the shell is killed, which no reader can outwait.
        let s = sh("exec yes");
        let start = std::time::Instant::now();
        drop(s);
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }
}
