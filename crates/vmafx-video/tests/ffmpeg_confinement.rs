//! ffmpeg and ffprobe only ever open the input file itself: playlists and scripts that point
//! elsewhere (an HLS `.m3u8`, a concat or ffconcat script) are refused with one line naming
//! the file, and nothing is fetched. Uses the real ffmpeg, which `scripts/test.sh` installs.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use vmafx_fixtures::mutator::assert_one_line_naming;

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vmafx-video-ffmpeg");
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir.join(name)
}

fn require_ffmpeg() {
    for tool in ["ffmpeg", "ffprobe"] {
        assert!(
            vmafx_video::ffmpeg::find_on_path(tool).is_some(),
            "{tool} is required for this test (scripts/test.sh installs it)"
        );
    }
}

/// A loopback listener that counts the connections it receives, on a background thread.
struct Trap {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl Trap {
    fn new() -> Trap {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener");
        let port = listener.local_addr().expect("listener address").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counted.fetch_add(1, Ordering::SeqCst);
                // Close at once, so a client that did connect fails fast instead of waiting.
                drop(stream);
            }
        });
        Trap { port, connections }
    }

    fn url(&self, file: &str) -> String {
        format!("http://127.0.0.1:{}/{file}", self.port)
    }

    /// Connections so far, after giving any in flight a moment to be accepted.
    fn count(&self) -> usize {
        std::thread::sleep(Duration::from_millis(200));
        self.connections.load(Ordering::SeqCst)
    }
}

fn refused(path: &Path) -> String {
    match vmafx_video::open(path, None) {
        Ok(_) => panic!("{} was opened", path.display()),
        Err(e) => {
            let message = e.to_string();
            assert_one_line_naming(&message, path);
            message
        }
    }
}

fn hls_playlist(target: &str) -> String {
    format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n{target}\n\
         #EXT-X-ENDLIST\n"
    )
}

#[test]
fn playlists_and_scripts_cannot_reach_the_network() {
    require_ffmpeg();
    let trap = Trap::new();
    let cases = [
        ("remote.m3u8", hls_playlist(&trap.url("segment.ts"))),
        // The same playlist under a video file name: detection goes by content.
        (
            "playlist-in-disguise.mp4",
            hls_playlist(&trap.url("segment.ts")),
        ),
        (
            "remote.ffconcat",
            format!("ffconcat version 1.0\nfile '{}'\n", trap.url("clip.mp4")),
        ),
        (
            "concat-in-disguise.mkv",
            format!("ffconcat version 1.0\nfile '{}'\n", trap.url("clip.mkv")),
        ),
    ];
    for (name, text) in cases {
        let path = scratch(name);
        std::fs::write(&path, text).expect("write the crafted input");
        let message = refused(&path);
        assert!(message.contains("is not allowed"), "{message}");
    }
    assert_eq!(
        trap.count(),
        0,
        "ffmpeg or ffprobe connected to the listener"
    );
}

#[test]
fn the_trap_sees_an_ffprobe_allowed_to_use_http() {
    // Shows the listener test above can fail: with http among the allowed protocols, ffprobe
    // fetches the playlist's segment. (ffmpeg's default for a local input already stops at
    // "file,crypto,data"; the explicit allow-lists keep that from depending on its version.)
    require_ffmpeg();
    let trap = Trap::new();
    let path = scratch("unconfined.m3u8");
    std::fs::write(&path, hls_playlist(&trap.url("segment.ts"))).expect("write the playlist");
    let _ = Command::new("ffprobe")
        .args(["-v", "quiet", "-protocol_whitelist", "file,http,tcp"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .expect("run ffprobe");
    assert!(trap.count() > 0, "ffprobe never connected");
}

/// The conformance clip copied next to the scripts, so they can name it by a relative path.
fn sibling_clip(name: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/conformance/media/pan_420_8bit_x264.mp4");
    let copy = scratch(name);
    std::fs::copy(&source, &copy).expect("copy the conformance clip");
    copy
}

#[test]
fn scripts_cannot_reach_other_local_files() {
    require_ffmpeg();
    let sibling = sibling_clip("sibling.mp4");
    let absolute = sibling.display().to_string();
    for (name, text) in [
        (
            "local.ffconcat",
            "ffconcat version 1.0\nfile 'sibling.mp4'\n".to_string(),
        ),
        (
            "local-absolute.ffconcat",
            format!("ffconcat version 1.0\nfile '{absolute}'\n"),
        ),
        ("local.m3u8", hls_playlist("sibling.mp4")),
        ("local-absolute.m3u8", hls_playlist(&absolute)),
    ] {
        let path = scratch(name);
        std::fs::write(&path, text).expect("write the script");
        let message = refused(&path);
        assert!(message.contains("is not allowed"), "{message}");
    }
}

#[test]
fn plain_ffprobe_does_follow_a_script_to_a_sibling_file() {
    // Shows the refusals above matter: ffmpeg's defaults let a playlist read a sibling file.
    require_ffmpeg();
    sibling_clip("followed.mp4");
    let path = scratch("followed.m3u8");
    std::fs::write(&path, hls_playlist("followed.mp4")).expect("write the playlist");
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args([
            "stream=codec_name",
            "-of",
            "default=noprint_wrappers=1:nokey=1",
        ])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .expect("run ffprobe");
    let codecs = String::from_utf8_lossy(&out.stdout);
    assert_eq!(codecs.lines().next(), Some("h264"), "{codecs}");
}

#[test]
fn names_that_look_like_protocols_are_local_files() {
    require_ffmpeg();
    let trap = Trap::new();
    // ffmpeg would read "tcp:..." as a URL if given bare; the reader passes "file:...".
    let dir = scratch("proto");
    std::fs::create_dir_all(&dir).expect("create the directory");
    let path = dir.join(format!("tcp:127.0.0.1:{}", trap.port));
    std::fs::write(&path, b"not a video at all").expect("write the file");
    let relative_from = dir.clone();
    let name = path.file_name().map(PathBuf::from).unwrap_or_default();
    // Run from its directory with the bare name, the most URL-like form it can take.
    let previous = std::env::current_dir().expect("current directory");
    std::env::set_current_dir(&relative_from).expect("enter the directory");
    let result = vmafx_video::open(&name, None).map(|_| ());
    std::env::set_current_dir(previous).expect("leave the directory");
    let message = result.err().map(|e| e.to_string()).unwrap_or_default();
    assert_one_line_naming(&message, &name);
    assert_eq!(trap.count(), 0, "a file name was taken for a URL");
}

/// Encodes a short test pattern with ffmpeg into `name` (the container follows its extension).
fn encode(name: &str, codec_args: &[&str]) -> PathBuf {
    let path = scratch(name);
    let status = Command::new("ffmpeg")
        .args(["-y", "-v", "error", "-nostdin", "-f", "lavfi", "-i"])
        .arg("testsrc=size=64x48:rate=25:duration=0.12")
        .args(codec_args)
        .args(["-pix_fmt", "yuv420p"])
        .arg(&path)
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "ffmpeg could not write {name}");
    path
}

fn frames_in(path: &Path) -> usize {
    let mut source = vmafx_video::open(path, None)
        .unwrap_or_else(|e| panic!("{} does not open: {e}", path.display()));
    let mut picture = source.info().new_picture().expect("picture");
    let mut frames = 0;
    while source
        .read_frame(&mut picture)
        .unwrap_or_else(|e| panic!("{e}"))
    {
        frames += 1;
    }
    frames
}

#[test]
fn allowed_containers_still_decode() {
    require_ffmpeg();
    let media = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance/media");
    for name in [
        "pan_420_8bit_x264.mp4",
        "pan_420_10bit_x265.mkv",
        "odd_444_8bit_vp9.webm",
        "scenecut_420_8bit_av1.mkv",
    ] {
        assert!(frames_in(&media.join(name)) > 0, "{name}");
    }
    for (name, args) in [
        ("mpeg2.ts", &["-c:v", "mpeg2video"][..]),
        ("mpeg4.avi", &["-c:v", "mpeg4"]),
        ("ffv1.nut", &["-c:v", "ffv1"]),
        ("mpeg1.mpg", &["-c:v", "mpeg1video"]),
        ("raw.m2v", &["-c:v", "mpeg2video", "-f", "mpeg2video"]),
    ] {
        let path = encode(name, args);
        assert_eq!(frames_in(&path), 3, "{name}");
    }
}

#[test]
fn refusals_name_the_detected_format() {
    require_ffmpeg();
    let path = scratch("named.m3u8");
    std::fs::write(&path, hls_playlist("segment.ts")).expect("write the playlist");
    let message = refused(&path);
    assert!(message.contains("\"hls\""), "{message}");
    assert!(message.contains("mov, matroska"), "{message}");
}

#[test]
fn decoded_sizes_beyond_the_limits_are_refused() {
    require_ffmpeg();
    // One 33000 × 16 grey frame, stored raw: wider than any Y4M input may be.
    let path = scratch("too-wide.nut");
    let status = Command::new("ffmpeg")
        .args(["-y", "-v", "error", "-nostdin", "-f", "lavfi", "-i"])
        .arg("color=c=gray:size=33000x16:rate=1:duration=1")
        .args(["-frames:v", "1", "-c:v", "rawvideo", "-pix_fmt", "gray"])
        .arg(&path)
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "ffmpeg could not write too-wide.nut");
    let message = refused(&path);
    assert!(
        message.contains("W33000: dimension must be between 1 and 32768"),
        "{message}"
    );
}
