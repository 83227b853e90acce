//! Decoding of any container or codec through an `ffmpeg` child process that writes Y4M to a
//! pipe, so encoded inputs stream frame by frame and are never copied whole.

use std::ffi::OsString;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use vmafx_engine::picture::Picture;

use crate::error::VideoErrorKind;
use crate::y4m::Y4mReader;
use crate::{FrameDecoder, VideoInfo};

/// The only protocol ffmpeg and ffprobe may open: the input is a local file, and nothing it
/// says (an HLS playlist, a concat script, a reference in a container) may reach the network
/// or another protocol. The output pipe is an output, which this does not restrict.
pub const PROTOCOL_ALLOW_LIST: &str = "file";

/// The demuxers ffmpeg and ffprobe may use, by the names `ffmpeg -formats` reports (a demuxer
/// with several names, such as `mov,mp4,m4a,3gp,3g2,mj2`, matches by any of them). Playlists,
/// scripts and image sequences (`hls`, `dash`, `concat`, `image2`, ...) are left out because
/// they open further inputs named inside the file.
pub const DEMUXER_ALLOW_LIST: &[&str] = &[
    "mov",          // .mov .mp4 .m4v .3gp
    "matroska",     // .mkv .webm ("matroska,webm")
    "ivf",          // VP8 / VP9 / AV1 in IVF
    "avi",          //
    "mpegts",       // .ts .m2ts
    "mpeg",         // MPEG program stream (.mpg, .vob)
    "mpegvideo",    // raw MPEG-1/2 video
    "m4v",          // raw MPEG-4 part 2 video
    "h264",         // raw H.264 Annex B
    "hevc",         // raw H.265 Annex B
    "av1",          // raw AV1 Annex B
    "obu",          // raw AV1 low-overhead OBUs
    "vc1",          // raw VC-1
    "flv",          //
    "mxf",          //
    "nut",          //
    "ogg",          // Theora
    "asf",          // .wmv
    "yuv4mpegpipe", // Y4M
];

/// The arguments that confine an ffmpeg or ffprobe input to [`PROTOCOL_ALLOW_LIST`] and
/// [`DEMUXER_ALLOW_LIST`], followed by the input itself as an explicit `file:` URL, so a name
/// such as `http:x` or `concat:a|b` is a local file name and never a protocol.
fn confined_input(path: &Path) -> Vec<OsString> {
    let mut url = OsString::from("file:");
    url.push(path.as_os_str());
    vec![
        "-protocol_whitelist".into(),
        PROTOCOL_ALLOW_LIST.into(),
        "-format_whitelist".into(),
        DEMUXER_ALLOW_LIST.join(",").into(),
        "-i".into(),
        url,
    ]
}

/// Rewords ffmpeg's "Format not on whitelist" refusal, which lists the whole allow-list but
/// names the detected demuxer only in its log prefix (`[hls @ 0x...]`).
fn explain_refusal(stderr: &str) -> Option<String> {
    let line = stderr.lines().find(|l| l.contains("not on whitelist"))?;
    let demuxer = line
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(" @"))
        .map(|(name, _)| name.trim())
        .filter(|name| !name.is_empty())
        .unwrap_or("unknown");
    Some(format!(
        "container format \"{}\" is not allowed (allowed: {})",
        demuxer.escape_debug(),
        DEMUXER_ALLOW_LIST.join(", ")
    ))
}

/// Finds `program` in `PATH`.
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Picks the Y4M pixel format ffmpeg should convert a source pixel format to: the same chroma
/// layout and bit depth where Y4M can carry it, 4:4:4 for RGB, and 4:2:0 8-bit when unknown.
pub fn y4m_pix_fmt_for(source: &str) -> String {
    let s = source.trim();
    let layout = if s.starts_with("gray") || s == "y400a" {
        "gray"
    } else if s.starts_with("yuv422")
        || s.starts_with("yuvj422")
        || s.starts_with("nv16")
        || s.starts_with("nv20")
        || s.starts_with("p210")
        || s.starts_with("p216")
        || s.starts_with("y210")
        || s.starts_with("yuyv422")
        || s.starts_with("uyvy422")
    {
        "yuv422p"
    } else if s.starts_with("yuv444")
        || s.starts_with("yuvj444")
        || s.starts_with("yuva444")
        || s.starts_with("nv24")
        || s.starts_with("nv42")
        || s.starts_with("p410")
        || s.starts_with("p416")
        || s.starts_with("gbr")
        || s.starts_with("rgb")
        || s.starts_with("bgr")
        || s.starts_with("argb")
        || s.starts_with("abgr")
        || s.starts_with("x2rgb")
        || s.starts_with("x2bgr")
    {
        "yuv444p"
    } else {
        "yuv420p"
    };
    let depth = source_depth(s);
    match (layout, depth) {
        ("gray", 8) => "gray".into(),
        ("gray", d) => format!("gray{d}le"),
        (l, 8) => l.into(),
        (l, d) => format!("{l}{d}le"),
    }
}

fn source_depth(s: &str) -> u8 {
    let digits_after = |prefix_end: usize| -> Option<u8> {
        let rest = &s[prefix_end..];
        let n: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        n.parse().ok()
    };
    let depth = if let Some(p) = s
        .find("p0")
        .or_else(|| s.find("p2"))
        .or_else(|| s.find("p4"))
    {
        // p010 / p210 / p410 style: "p" + two-digit layout + depth.
        if s.starts_with('p') && p == 0 {
            digits_after(2).or(Some(8))
        } else {
            None
        }
    } else {
        None
    };
    let depth = depth.or_else(|| {
        // yuv420p10le, gray12le, gbrp16le: digits after the last 'p' or after "gray".
        if let Some(rest) = s.strip_prefix("gray") {
            let n: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            return Some(n.parse().unwrap_or(8));
        }
        let p = s.rfind('p')?;
        digits_after(p + 1)
    });
    let depth = depth.unwrap_or_else(|| {
        if s.contains("48") || s.contains("64") {
            16
        } else {
            8
        }
    });
    match depth {
        0..=8 => 8,
        9..=16 => depth,
        _ => 16,
    }
}

/// Asks ffprobe for the first video stream's pixel format.
fn probe_pix_fmt(path: &Path) -> Result<String, VideoErrorKind> {
    let Some(ffprobe) = find_on_path("ffprobe") else {
        // Without ffprobe, assume the overwhelmingly common 8-bit 4:2:0.
        return Ok("yuv420p".into());
    };
    let out = Command::new(ffprobe)
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=pix_fmt",
        ])
        .args(["-of", "default=noprint_wrappers=1:nokey=1"])
        .args(confined_input(path))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| VideoErrorKind::Ffmpeg(format!("failed to run ffprobe: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || text.is_empty() {
        let err = String::from_utf8_lossy(&out.stderr);
        if let Some(refusal) = explain_refusal(&err) {
            return Err(VideoErrorKind::Unsupported(refusal));
        }
        let last = last_line(&err).unwrap_or_else(|| "no video stream found".into());
        return Err(VideoErrorKind::Unsupported(format!(
            "not Y4M, and ffprobe cannot read it: {last}"
        )));
    }
    // Pixel format names are short ASCII words; anything else is not one.
    Ok(text
        .lines()
        .next()
        .filter(|name| {
            name.len() <= 32 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
        .unwrap_or("yuv420p")
        .to_string())
}

/// Frames decoded by an ffmpeg child process.
pub struct FfmpegReader {
    child: Child,
    stderr_tail: Arc<Mutex<String>>,
    stderr_thread: Option<JoinHandle<()>>,
    y4m: Y4mReader<BufReader<ChildStdout>>,
}

impl FfmpegReader {
    /// Starts ffmpeg on `path`. Fails with a clear message when ffmpeg is not on `PATH`.
    pub fn spawn(path: &Path) -> Result<Self, VideoErrorKind> {
        let ffmpeg = find_on_path("ffmpeg").ok_or_else(|| {
            VideoErrorKind::Ffmpeg(
                "not Y4M or raw YUV; decoding other formats needs ffmpeg on PATH, and none was found \
                 (install ffmpeg, or convert to .y4m)"
                    .into(),
            )
        })?;
        let pix_fmt = y4m_pix_fmt_for(&probe_pix_fmt(path)?);
        let mut child = Command::new(ffmpeg)
            .args(["-nostdin", "-v", "error"])
            .args(confined_input(path))
            .args([
                "-map",
                "0:v:0",
                "-f",
                "yuv4mpegpipe",
                "-strict",
                "-1",
                "-pix_fmt",
            ])
            .arg(&pix_fmt)
            .arg("-")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| VideoErrorKind::Ffmpeg(format!("failed to start ffmpeg: {e}")))?;
        let stderr_tail = Arc::new(Mutex::new(String::new()));
        let stderr_thread = child.stderr.take().map(|mut stderr| {
            let tail = Arc::clone(&stderr_tail);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stderr.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut t) = tail.lock() {
                        t.push_str(&String::from_utf8_lossy(&buf[..n]));
                        if t.len() > 8192 {
                            let cut = t.len() - 4096;
                            let cut = (cut..t.len()).find(|&i| t.is_char_boundary(i)).unwrap_or(0);
                            t.drain(..cut);
                        }
                    }
                }
            })
        });
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| VideoErrorKind::Ffmpeg("ffmpeg gave no output pipe".into()))?;
        match Y4mReader::new(BufReader::with_capacity(1 << 20, stdout)) {
            Ok(y4m) => Ok(FfmpegReader {
                child,
                stderr_tail,
                stderr_thread,
                y4m,
            }),
            Err(header_error @ (VideoErrorKind::Limit(_) | VideoErrorKind::Unsupported(_))) => {
                // ffmpeg decoded something this reader refuses (a size over the limits, an
                // interlaced stream): that is the reason, and ffmpeg need not go on.
                let _ = child.kill();
                let _ = child.wait();
                if let Some(t) = stderr_thread {
                    let _ = t.join();
                }
                Err(header_error)
            }
            Err(header_error) => {
                // No stream header: ffmpeg's own message says why (unknown format, no video).
                let _ = child.wait();
                if let Some(t) = stderr_thread {
                    let _ = t.join();
                }
                let tail = stderr_tail.lock().map(|t| t.clone()).unwrap_or_default();
                if let Some(refusal) = explain_refusal(&tail) {
                    return Err(VideoErrorKind::Unsupported(refusal));
                }
                let reason = last_line(&tail).unwrap_or_else(|| header_error.to_string());
                Err(VideoErrorKind::Ffmpeg(format!(
                    "ffmpeg could not decode it: {reason}"
                )))
            }
        }
    }

    fn finish(&mut self) -> Result<(), VideoErrorKind> {
        let status = self
            .child
            .wait()
            .map_err(|e| VideoErrorKind::Ffmpeg(format!("failed to wait for ffmpeg: {e}")))?;
        if let Some(t) = self.stderr_thread.take() {
            let _ = t.join();
        }
        if status.success() {
            return Ok(());
        }
        let tail = self
            .stderr_tail
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default();
        let last = last_line(&tail).unwrap_or_else(|| "no message".into());
        Err(VideoErrorKind::Ffmpeg(format!(
            "ffmpeg failed ({status}): {last}"
        )))
    }
}

/// The last non-blank line of ffmpeg's stderr, with control characters escaped and cut to a
/// few hundred characters, so that the error stays one line whatever the input made ffmpeg say.
fn last_line(text: &str) -> Option<String> {
    const MAX_CHARS: usize = 300;
    text.lines().rev().find(|l| !l.trim().is_empty()).map(|l| {
        let mut line: String = l.trim().chars().take(MAX_CHARS).collect();
        if l.trim().chars().nth(MAX_CHARS).is_some() {
            line.push_str("...");
        }
        line.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_debug().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    })
}

impl FrameDecoder for FfmpegReader {
    fn info(&self) -> VideoInfo {
        self.y4m.header().info
    }

    fn decode(&mut self, picture: &mut Picture) -> Result<bool, VideoErrorKind> {
        match self.y4m.decode(picture) {
            Ok(true) => Ok(true),
            Ok(false) => {
                self.finish()?;
                Ok(false)
            }
            Err(e) => {
                // A decode failure mid-stream usually truncates the pipe: ffmpeg's message is
                // the useful one. If ffmpeg is still writing, the fault is in the stream it
                // wrote; stop it rather than wait on a pipe nobody reads.
                if let Ok(None) = self.child.try_wait() {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err(e);
                }
                self.finish()?;
                Err(e)
            }
        }
    }
}

impl Drop for FfmpegReader {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_source_pixel_formats_to_y4m_ones() {
        assert_eq!(y4m_pix_fmt_for("yuv420p"), "yuv420p");
        assert_eq!(y4m_pix_fmt_for("yuvj420p"), "yuv420p");
        assert_eq!(y4m_pix_fmt_for("yuv420p10le"), "yuv420p10le");
        assert_eq!(y4m_pix_fmt_for("p010le"), "yuv420p10le");
        assert_eq!(y4m_pix_fmt_for("nv12"), "yuv420p");
        assert_eq!(y4m_pix_fmt_for("yuv422p12le"), "yuv422p12le");
        assert_eq!(y4m_pix_fmt_for("gbrp10le"), "yuv444p10le");
        assert_eq!(y4m_pix_fmt_for("rgb24"), "yuv444p");
        assert_eq!(y4m_pix_fmt_for("rgb48le"), "yuv444p16le");
        assert_eq!(y4m_pix_fmt_for("gray"), "gray");
        assert_eq!(y4m_pix_fmt_for("gray10le"), "gray10le");
        assert_eq!(y4m_pix_fmt_for("weird"), "yuv420p");
    }
}
