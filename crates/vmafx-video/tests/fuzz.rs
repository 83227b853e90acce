//! Bounded fuzzing of the Y4M and raw YUV readers on stable Rust: random bytes and structured
//! mutations of small valid clips, each written to a file and opened the way `vmafx score`
//! opens it. Every case must end without a panic or an abort, and every error must be one
//! line that names the file. `VMAFX_FUZZ_CASES` sets the number of cases per reader (default
//! 2,000) and `VMAFX_FUZZ_SEED` the generator's seed.

use std::path::{Path, PathBuf};

use vmafx_engine::picture::PixelFormat;
use vmafx_fixtures::mutator::{assert_one_line_naming, case_count, run_case, seed, Mutator};
use vmafx_video::RawParams;

const DEFAULT_CASES: usize = 2000;
/// Frames read from each case at most.
const MAX_FRAMES: usize = 4;
/// Largest fuzz input, in bytes. Each case gets a file of its own, removed afterwards:
/// rewriting one file over and over waits on its writeback and is many times slower.
const MAX_INPUT: usize = 16 << 10;

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vmafx-video-fuzz");
    std::fs::create_dir_all(&dir).expect("create the fuzz scratch directory");
    dir.join(name)
}

/// A Y4M clip of `frames` frames whose samples follow a simple pattern.
fn y4m_clip(header: &str, frame_bytes: usize, frames: usize, frame_marker: &str) -> Vec<u8> {
    let mut clip = format!("{header}\n").into_bytes();
    for f in 0..frames {
        clip.extend_from_slice(frame_marker.as_bytes());
        clip.push(b'\n');
        clip.extend((0..frame_bytes).map(|i| (i * 7 + f * 13) as u8));
    }
    clip
}

fn y4m_seeds() -> Vec<Vec<u8>> {
    vec![
        y4m_clip(
            "YUV4MPEG2 W4 H2 F25:1 Ip A1:1 C420jpeg",
            8 + 2 * 2,
            2,
            "FRAME",
        ),
        y4m_clip(
            "YUV4MPEG2 W3 H3 F30000:1001 C420p10 XYSCSS=420P10",
            2 * (9 + 2 * 4),
            2,
            "FRAME Ixyz",
        ),
        y4m_clip("YUV4MPEG2 W2 H2 C444alpha", 4 * 4, 2, "FRAME"),
        y4m_clip("YUV4MPEG2 W5 H1 Cmono", 5, 3, "FRAME"),
        y4m_clip("YUV4MPEG2 W4 H4 C422p16", 2 * (16 + 2 * 8), 1, "FRAME"),
        y4m_clip("YUV4MPEG2 W6 H2 C444 Ip", 3 * 12, 2, "FRAME"),
    ]
}

const Y4M_TOKENS: &[&[u8]] = &[
    b"YUV4MPEG2 ",
    b" W",
    b" H",
    b" C",
    b" F",
    b" I",
    b" A",
    b" X",
    b" W0",
    b" W32768",
    b" H32768",
    b" W16384 H8192",
    b" W4 H4",
    b" C444p16",
    b" C444alpha",
    b" Cmono16",
    b" C411",
    b" C420p7",
    b" F1:0",
    b" Ib",
    b"\xc3\xa9",
    b"\xe2\x82\xac",
    b"\xff",
    b"\x00",
    b"FRAME\n",
    b"FRAME ",
    b"\n",
    b"\r\n",
];

/// Opens `path` as `vmafx score` would and reads a few frames, checking every error. Returns
/// the number of frames read.
fn read_clip(path: &Path, raw: Option<RawParams>) -> usize {
    let mut source = match vmafx_video::open(path, raw) {
        Ok(source) => source,
        Err(e) => {
            assert_one_line_naming(&e.to_string(), path);
            return 0;
        }
    };
    let mut picture = match source.info().new_picture() {
        Ok(picture) => picture,
        Err(e) => panic!("a clip that opened has no picture shape: {e}"),
    };
    let _ = source.frames_hint();
    let mut frames = 0;
    for _ in 0..MAX_FRAMES {
        match source.read_frame(&mut picture) {
            Ok(true) => frames += 1,
            Ok(false) => break,
            Err(e) => {
                assert_one_line_naming(&e.to_string(), path);
                break;
            }
        }
    }
    frames
}

/// Reports how many cases yielded a frame, and fails if hardly any did: mutations that never
/// produce a readable clip would test the first check only.
fn check_yield(name: &str, cases: usize, productive: usize) {
    eprintln!("{name}: {productive} of {cases} cases read at least one frame");
    assert!(
        cases < 100 || productive * 50 >= cases,
        "only {productive} of {cases} cases read a frame"
    );
}

#[test]
fn y4m_reader_survives_mutated_clips() {
    let seeds = y4m_seeds();
    let seed = seed();
    let cases = case_count(DEFAULT_CASES);
    let mut productive = 0;
    // A `.yuv` name keeps inputs whose magic was mutated away from going to ffmpeg: they get
    // the raw reader's "needs geometry" error instead.
    for index in 0..cases {
        let path = scratch(&format!("case-y4m-{index}.yuv"));
        let mut m = Mutator::new(seed, index as u64);
        let input = if m.one_in(8) {
            let mut bytes = b"YUV4MPEG2 ".to_vec();
            let n = m.below(256);
            bytes.extend(m.bytes(n));
            bytes
        } else {
            let mut bytes = m.pick(&seeds).clone();
            m.mutate(&mut bytes, Y4M_TOKENS, MAX_INPUT);
            bytes
        };
        std::fs::write(&path, &input).expect("write the fuzz case");
        run_case(
            path.parent().unwrap_or(Path::new(".")),
            "y4m",
            seed,
            index,
            &input,
            || {
                productive += (read_clip(&path, None) > 0) as usize;
            },
        );
        let _ = std::fs::remove_file(&path);
    }
    check_yield("y4m", cases, productive);
}

#[test]
fn raw_reader_survives_odd_geometry_and_lengths() {
    let seed = seed();
    let sizes = [0, 1, 2, 3, 5, 16, 32768, 32769, usize::MAX / 2, usize::MAX];
    let formats = [
        PixelFormat::Yuv400,
        PixelFormat::Yuv420,
        PixelFormat::Yuv422,
        PixelFormat::Yuv444,
    ];
    let cases = case_count(DEFAULT_CASES);
    let mut productive = 0;
    for index in 0..cases {
        let path = scratch(&format!("case-raw-{index}.yuv"));
        let mut m = Mutator::new(seed, index as u64);
        let side = |m: &mut Mutator| {
            if m.one_in(3) {
                *m.pick(&sizes)
            } else {
                1 + m.below(12)
            }
        };
        let params = RawParams {
            width: side(&mut m),
            height: side(&mut m),
            format: *m.pick(&formats),
            bit_depth: m.below(20) as u8,
        };
        let frame = params.width.saturating_mul(params.height).min(1024) * 6;
        let len = (frame * m.below(4) + m.below(8)).min(MAX_INPUT);
        let input = m.bytes(len);
        std::fs::write(&path, &input).expect("write the fuzz case");
        run_case(
            path.parent().unwrap_or(Path::new(".")),
            "raw",
            seed,
            index,
            &input,
            || {
                productive += (read_clip(&path, Some(params)) > 0) as usize;
            },
        );
        let _ = std::fs::remove_file(&path);
    }
    check_yield("raw", cases, productive);
}

#[test]
fn y4m_reader_survives_random_bytes_in_memory() {
    // The reader on its own, without the file layer: any bytes at all.
    let seed = seed();
    for index in 0..case_count(DEFAULT_CASES) {
        let mut m = Mutator::new(seed ^ 1, index as u64);
        let n = m.below(512);
        let mut input = m.bytes(n);
        if m.one_in(2) {
            input.splice(0..0, b"YUV4MPEG2 W2 H2".iter().copied());
        }
        let dir = scratch("");
        run_case(&dir, "y4m-memory", seed, index, &input.clone(), || {
            use vmafx_video::FrameDecoder;
            let Ok(mut reader) = vmafx_video::y4m::Y4mReader::new(&input[..]) else {
                return;
            };
            let Ok(mut picture) = reader.info().new_picture() else {
                return;
            };
            for _ in 0..MAX_FRAMES {
                if !matches!(reader.decode(&mut picture), Ok(true)) {
                    break;
                }
            }
        });
    }
}

#[test]
fn known_crashers_are_read_or_refused_cleanly() {
    // Issue 12: a non-ASCII tag used to panic inside the header parser.
    let non_ascii_tag = y4m_clip("YUV4MPEG2 W4 H2 F25:1 \u{e9}t\u{e9} C420", 12, 1, "FRAME");
    let path = scratch("non-ascii-tag.y4m");
    std::fs::write(&path, &non_ascii_tag).expect("write the clip");
    assert_eq!(read_clip(&path, None), 1);

    for (name, bytes) in [
        (
            "non-ascii-width.y4m",
            &b"YUV4MPEG2 W4\xc3\xa9 H2\nFRAME\n"[..],
        ),
        ("huge-width.y4m", b"YUV4MPEG2 W99999999999999999999999 H2\n"),
        ("huge-frame.y4m", b"YUV4MPEG2 W16384 H8192 C444p16\nFRAME\n"),
        ("repeated-tag.y4m", b"YUV4MPEG2 W4 H2 W8\nFRAME\n"),
        ("no-newline.y4m", b"YUV4MPEG2 W4 H2"),
    ] {
        let path = scratch(name);
        std::fs::write(&path, bytes).expect("write the clip");
        assert_eq!(read_clip(&path, None), 0, "{name}");
    }
}
