//! Bad input: every case must end with one clear line naming the file and the problem, a
//! non-zero exit, no panic, and no output file left behind.

use std::path::{Path, PathBuf};
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad-input");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn y4m(width: usize, height: usize, tag: &str, frames: usize) -> Vec<u8> {
    let mut v = format!("YUV4MPEG2 W{width} H{height} F25:1 Ip C{tag}\n").into_bytes();
    let frame = width * height + 2 * width.div_ceil(2) * height.div_ceil(2);
    for f in 0..frames {
        v.extend_from_slice(b"FRAME\n");
        v.extend((0..frame).map(|i| ((i * 7 + f * 13) % 251) as u8));
    }
    v
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let p = tmp(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Runs `vmafx score` and returns (exit code, stderr), asserting it failed cleanly.
fn fails(args: &[&Path], extra: &[&str]) -> String {
    let out_file = tmp("never-written.json");
    let _ = std::fs::remove_file(&out_file);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmafx"));
    cmd.arg("score")
        .arg("-r")
        .arg(args[0])
        .arg("-d")
        .arg(args[1])
        .args(extra);
    cmd.args(["--json", "-q", "-o"]).arg(&out_file);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !out.status.success(),
        "expected failure, got success; stderr: {stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "exit code; stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "one line expected: {stderr}"
    );
    assert!(!out_file.exists(), "a failed run left an output file");
    stderr
}

#[test]
fn truncated_file_is_named() {
    let good = write("good.y4m", &y4m(32, 32, "420", 3));
    let mut cut = y4m(32, 32, "420", 3);
    cut.truncate(cut.len() - 100);
    let cut = write("truncated.y4m", &cut);
    let err = fails(&[&good, &cut], &[]);
    assert!(
        err.contains("truncated.y4m") && err.contains("truncated"),
        "{err}"
    );
    assert!(err.contains("frame 2"), "{err}");
}

#[test]
fn garbage_header_is_named() {
    let good = write("good2.y4m", &y4m(32, 32, "420", 1));
    let junk = write("junk.y4m", b"YUV4MPEG2 Wabc H10\nFRAME\n");
    let err = fails(&[&good, &junk], &[]);
    assert!(
        err.contains("junk.y4m") && err.contains("not a number"),
        "{err}"
    );
}

#[test]
fn resolution_and_depth_mismatches_name_both_files() {
    let a = write("a.y4m", &y4m(32, 32, "420", 1));
    let b = write("b.y4m", &y4m(34, 32, "420", 1));
    let err = fails(&[&a, &b], &[]);
    assert!(
        err.contains("resolution") && err.contains("a.y4m") && err.contains("b.y4m"),
        "{err}"
    );
    let mut ten = b"YUV4MPEG2 W32 H32 F25:1 Ip C420p10\n".to_vec();
    ten.extend_from_slice(b"FRAME\n");
    ten.extend(std::iter::repeat_n(0u8, (32 * 32 + 2 * 16 * 16) * 2));
    let c = write("c10.y4m", &ten);
    let err = fails(&[&a, &c], &[]);
    assert!(
        err.contains("bit depth") && err.contains("c10.y4m"),
        "{err}"
    );
}

#[test]
fn zero_frames_is_an_error() {
    let empty = write("noframes.y4m", b"YUV4MPEG2 W32 H32 F25:1 Ip C420\n");
    let err = fails(&[&empty, &empty], &[]);
    assert!(
        err.contains("no frames") && err.contains("noframes.y4m"),
        "{err}"
    );
}

#[test]
fn missing_path_is_named() {
    let good = write("good3.y4m", &y4m(32, 32, "420", 1));
    let missing = tmp("does-not-exist.y4m");
    let err = fails(&[&good, &missing], &[]);
    assert!(
        err.contains("does-not-exist.y4m") && err.contains("failed to open"),
        "{err}"
    );
}

#[test]
fn unsupported_chroma_tag_is_named() {
    let good = write("good4.y4m", &y4m(32, 32, "420", 1));
    let odd = write("c411.y4m", &y4m(32, 32, "411", 1));
    let err = fails(&[&good, &odd], &[]);
    assert!(err.contains("c411.y4m") && err.contains("C411"), "{err}");
}

#[test]
fn raw_yuv_needs_its_geometry() {
    let raw = write("clip.yuv", &[0u8; 64]);
    let err = fails(&[&raw, &raw], &[]);
    assert!(err.contains("clip.yuv") && err.contains("--width"), "{err}");
    let err = fails(&[&raw, &raw], &["-w", "4"]);
    assert!(err.contains("--height"), "{err}");
}

#[test]
fn bad_model_and_feature_options_are_named() {
    let good = write("good5.y4m", &y4m(32, 32, "420", 1));
    let err = fails(&[&good, &good], &["-m", "version=vmaf_v9"]);
    assert!(err.contains("vmaf_v9"), "{err}");
    let err = fails(&[&good, &good], &["--feature", "psnr=no_such_option=1"]);
    assert!(err.contains("no_such_option"), "{err}");
    let err = fails(&[&good, &good], &["--feature", "nonexistent"]);
    assert!(err.contains("nonexistent"), "{err}");
    // Options of the newer extractors and presets are checked before any frame is read.
    for (flag, value, named) in [
        ("--feature", "cambi=window_size=-1", "window_size"),
        ("--feature", "cambi=eotf=hlg", "eotf"),
        (
            "--feature",
            "speed_chroma=speed_prescale_method=cubic",
            "speed_prescale_method",
        ),
        ("--feature", "ciede=foo=1", "foo"),
        (
            "--feature",
            "float_vif=vif_kernelscale=0.3",
            "vif_kernelscale",
        ),
        ("-m", "version=vmaf_v1.0.17_3d0h", "vmaf_v1.0.17_3d0h"),
        ("--aom_ctc", "v9.0", "--aom_ctc"),
        ("--nflx_ctc", "v2.0", "--nflx_ctc"),
    ] {
        let err = fails(&[&good, &good], &[flag, value]);
        assert!(err.contains(named), "{flag} {value}: {err}");
    }
}

#[test]
fn mismatched_frame_counts_warn_and_score_the_common_frames() {
    let short = write("short.y4m", &y4m(48, 48, "420", 2));
    let long = write("long.y4m", &y4m(48, 48, "420", 3));
    let out_file = tmp("counts.json");
    let out = Command::new(env!("CARGO_BIN_EXE_vmafx"))
        .args(["score", "-q", "--json", "-o"])
        .arg(&out_file)
        .arg("-r")
        .arg(&long)
        .arg("-d")
        .arg(&short)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("short.y4m") && stderr.contains("ended before"),
        "{stderr}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(json["frames"].as_array().unwrap().len(), 2);
}

#[test]
fn demo_scores_a_sample_pair() {
    let dir = tmp("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_vmafx"))
        .args(["demo", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vmaf: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("VMAF"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no VMAF line in {stdout}"));
    assert!((0.0..=100.0).contains(&vmaf), "{vmaf}");
    assert!(dir.join("demo_ref.y4m").exists() && dir.join("demo_dist.y4m").exists());
}

#[test]
fn encoded_input_without_ffmpeg_says_so() {
    let reference = write("ref-noffmpeg.y4m", &y4m(176, 144, "420", 1));
    let encoded = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/conformance/media/pan_420_8bit_x264.mp4");
    let empty_path = tmp("empty-path");
    std::fs::create_dir_all(&empty_path).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vmafx"))
        .env("PATH", &empty_path)
        .args(["score", "-q", "-r"])
        .arg(&reference)
        .arg("-d")
        .arg(&encoded)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("pan_420_8bit_x264.mp4") && stderr.contains("ffmpeg"),
        "{stderr}"
    );
}

#[test]
fn output_to_a_pipe_or_device_is_written_in_place() {
    // `-o /dev/null` is common; a rename over it would replace the device with a file. A FIFO
    // shows the same without touching /dev.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("scores.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo (coreutils) runs");
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let clip = write("fifo.y4m", &y4m(32, 32, "420", 2));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmafx"))
        .args(["score", "-r"])
        .arg(&clip)
        .arg("-d")
        .arg(&clip)
        .args(["-n", "--feature", "psnr", "--json", "-q", "-o"])
        .arg(&fifo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = reader.join().unwrap();
    assert!(written.contains("\"psnr_y\""), "{written}");
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

/// `vmafx score` as a job Pod runs it: inputs by URI (here an rclone remote over a local folder,
/// so the real rclone binary is used), the per-frame JSON uploaded to a URI, and the pooled result
/// in the termination message; a missing input leaves its one-line error there instead.
#[test]
fn uris_in_and_out_with_a_termination_message() {
    let dir = tempfile::tempdir().unwrap();
    let clips = dir.path().join("clips");
    std::fs::create_dir_all(clips.join("out")).unwrap();
    let reference = y4m(48, 32, "420", 3);
    let mut distorted = reference.clone();
    let last = distorted.len() - 1;
    distorted[last / 2] ^= 0x55;
    distorted[last] ^= 0x33;
    std::fs::write(clips.join("ref.y4m"), &reference).unwrap();
    std::fs::write(clips.join("dist.y4m"), &distorted).unwrap();
    let local = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmafx"));
        cmd.args(args)
            // An rclone remote from the environment, as a Pod's storage Secret provides it.
            .env("RCLONE_CONFIG_VIDS_TYPE", "alias")
            .env("RCLONE_CONFIG_VIDS_REMOTE", &clips)
            .env("RCLONE_CONFIG", dir.path().join("none.conf"));
        cmd.output().unwrap()
    };
    let message = dir.path().join("termination-log");
    let message_arg = message.to_str().unwrap();
    let out = local(&[
        "score",
        "-r",
        "vids://ref.y4m",
        "-d",
        "vids://dist.y4m",
        "--feature",
        "psnr",
        "--json",
        "-o",
        "vids://out/frames.json",
        "--termination-message",
        message_arg,
        "-q",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let frames = std::fs::read_to_string(clips.join("out/frames.json")).unwrap();
    assert!(frames.contains("\"psnr_y\""), "{frames}");
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&message).unwrap()).unwrap();
    assert_eq!(result["frames"], 3);
    assert_eq!(result["models"][0]["name"], "vmaf");
    assert_eq!(result["metrics"][0]["name"], "psnr_y");
    // The same pair by path gives the same pooled VMAF to the last printed digit.
    let by_path = local(&[
        "score",
        "-r",
        clips.join("ref.y4m").to_str().unwrap(),
        "-d",
        clips.join("dist.y4m").to_str().unwrap(),
        "--json",
        "-o",
        "-",
        "-q",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&by_path.stdout).unwrap();
    let pooled = doc["pooled_metrics"]["vmaf"]["mean"].as_f64().unwrap();
    let reported = result["models"][0]["mean"].as_f64().unwrap();
    assert_eq!(format!("{pooled:.6}"), format!("{reported:.6}"));

    let out = local(&[
        "score",
        "-r",
        "vids://missing.y4m",
        "-d",
        "vids://dist.y4m",
        "--termination-message",
        message_arg,
        "-q",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&message).unwrap()).unwrap();
    let error = result["error"].as_str().unwrap();
    assert!(error.contains("vids://missing.y4m"), "{error}");
    assert!(result.get("models").is_none());
}

/// Whether `pid` has a handler for SIGTERM (bit 15 of the caught-signal mask in /proc).
fn catches_sigterm(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (15 - 1)) != 0)
}

#[test]
fn sigterm_stops_a_run_with_status_143_and_no_output() {
    // A FIFO nobody writes to holds the run at its first read, as a slow input would. In a
    // container vmafx is PID 1, which the kernel shields from signals it has no handler for,
    // so the exit status (143, not death by signal) is what shows the handler acted.
    let fifo = tmp("never-fed.y4m");
    let _ = std::fs::remove_file(&fifo);
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo failed");
    let dist = write("sigterm-dist.y4m", &y4m(64, 64, "420jpeg", 2));
    let out_file = tmp("sigterm-out.json");
    let _ = std::fs::remove_file(&out_file);
    let mut child = Command::new(env!("CARGO_BIN_EXE_vmafx"))
        .arg("score")
        .arg("-r")
        .arg(&fifo)
        .arg("-d")
        .arg(&dist)
        .args(["--json", "-q", "-o"])
        .arg(&out_file)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !catches_sigterm(child.id()) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("vmafx score ended before the signal: {status}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "vmafx score never installed a SIGTERM handler"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("stopped by SIGTERM"), "{stderr}");
    assert!(!out_file.exists(), "an interrupted run left an output file");
    let _ = std::fs::remove_file(&fifo);
}

/// A backend this build does not serve is one line naming it, from the flag or from
/// `VMAFX_BACKEND` (as the chart and the operator's Pods set it); `cpu` scores.
#[test]
fn a_backend_this_build_cannot_serve_is_refused() {
    let r = write("backend-ref.y4m", &y4m(64, 64, "420", 2));
    let d = write("backend-dist.y4m", &y4m(64, 64, "420", 2));
    let err = fails(&[&r, &d], &["--backend", "hip"]);
    assert!(err.contains("--backend") && err.contains("hip"), "{err}");
    let err = fails(&[&r, &d], &["--backend", "opencl"]);
    assert!(err.contains("unknown backend"), "{err}");
    // As the chart and the operator's Pods set it: the variable, no flag.
    let with_backend_env = |backend: &str| {
        Command::new(env!("CARGO_BIN_EXE_vmafx"))
            .args(["score", "-r"])
            .arg(&r)
            .arg("-d")
            .arg(&d)
            .args(["--json", "-q", "-o"])
            .arg(tmp(&format!("backend-{backend}.json")))
            .env("VMAFX_BACKEND", backend)
            .output()
            .unwrap()
    };
    let out = with_backend_env("cuda");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("VMAFX_BACKEND") && stderr.contains("cuda"),
        "{stderr}"
    );
    assert!(!tmp("backend-cuda.json").exists());
    let out = with_backend_env("cpu");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
