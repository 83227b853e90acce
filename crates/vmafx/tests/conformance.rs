//! Conformance suite: `vmafx score` against libvmaf v3.2.0's own output (tests/conformance/
//! goldens, made by tests/conformance/make-goldens.sh). Any difference at libvmaf's printed
//! precision in any value of any frame fails, naming the case, frame and feature.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn conformance_dir() -> PathBuf {
    repo_root().join("tests/conformance")
}

struct Case {
    name: String,
    reference: String,
    distorted: String,
    flags: Vec<String>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(conformance_dir().join("cases.tsv")).expect("cases.tsv");
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 4, "bad cases.tsv line: {l}");
            Case {
                name: cols[0].into(),
                reference: cols[1].into(),
                distorted: cols[2].into(),
                flags: cols[3].split_whitespace().map(String::from).collect(),
            }
        })
        .collect()
}

fn resolve(input: &str, fixtures: &Path) -> PathBuf {
    if let Some(f) = input.strip_prefix("fx:") {
        fixtures.join(f)
    } else if let Some(m) = input.strip_prefix("media:") {
        conformance_dir().join("media").join(m)
    } else {
        panic!("bad input {input}")
    }
}

/// Writes the fixtures once per test binary; the tests run in parallel and share them.
fn fixtures_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("conformance-fixtures");
        vmafx_fixtures::write_all(&dir).expect("write fixtures");
        dir
    })
    .clone()
}

fn run_vmafx(args: &[String]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vmafx"))
        .arg("score")
        .args(args)
        .output()
        .expect("run vmafx")
}

/// Compares two libvmaf JSON documents value by value; returns the first difference.
fn first_difference(ours: &Value, golden: &Value) -> Option<String> {
    let frames_ours = ours["frames"].as_array()?;
    let frames_gold = golden["frames"].as_array()?;
    for (i, gold) in frames_gold.iter().enumerate() {
        let Some(our) = frames_ours.get(i) else {
            return Some(format!(
                "frame {}: missing (we wrote {} frames)",
                gold["frameNum"],
                frames_ours.len()
            ));
        };
        if our["frameNum"] != gold["frameNum"] {
            return Some(format!(
                "frame index {i}: frameNum {} vs {}",
                our["frameNum"], gold["frameNum"]
            ));
        }
        let (om, gm) = (our["metrics"].as_object()?, gold["metrics"].as_object()?);
        for (key, gv) in gm {
            match om.get(key) {
                None => return Some(format!("frame {}: feature {key} missing", gold["frameNum"])),
                Some(ov) if ov != gv => {
                    return Some(format!(
                        "frame {}: {key} is {ov}, libvmaf has {gv}",
                        gold["frameNum"]
                    ))
                }
                _ => {}
            }
        }
        let (ok, gk): (Vec<_>, Vec<_>) = (om.keys().collect(), gm.keys().collect());
        if ok != gk {
            return Some(format!(
                "frame {}: columns {ok:?}, libvmaf has {gk:?}",
                gold["frameNum"]
            ));
        }
    }
    if frames_ours.len() != frames_gold.len() {
        return Some(format!(
            "{} frames, libvmaf has {}",
            frames_ours.len(),
            frames_gold.len()
        ));
    }
    let (op, gp) = (
        ours["pooled_metrics"].as_object()?,
        golden["pooled_metrics"].as_object()?,
    );
    for (key, gv) in gp {
        if op.get(key) != Some(gv) {
            return Some(format!("pooled {key}: {:?}, libvmaf has {gv}", op.get(key)));
        }
    }
    if op.keys().collect::<Vec<_>>() != gp.keys().collect::<Vec<_>>() {
        return Some("pooled metric order differs".into());
    }
    if ours["aggregate_metrics"] != golden["aggregate_metrics"] {
        return Some("aggregate metrics differ".into());
    }
    None
}

/// The document minus the lines that legitimately differ: version and fps.
fn comparable_text(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains("\"version\"") && !l.contains("\"fps\"") && !l.contains("<fyi fps"))
        .map(|l| {
            if l.starts_with("<VMAF version=") {
                "<VMAF>"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a case runs libvmaf's float ADM (a float model or `--feature float_adm`).
fn uses_float_adm(case: &Case) -> bool {
    case.flags
        .iter()
        .any(|f| f.contains("vmaf_float") || f.starts_with("float_adm"))
}

/// Every case at every SIMD level: the kernels of each level are forced on in turn (`--simd`),
/// and each must reproduce libvmaf's goldens. A level this CPU lacks prints one SKIPPED line.
#[test]
fn every_case_matches_libvmaf() {
    use vmafx_engine::cpu::{twin_level_available, SimdLevel};
    let fixtures = fixtures_dir();
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("conformance-out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut failures = Vec::new();
    let all = cases();
    assert!(all.len() >= 20, "cases.tsv lost cases");
    let levels: Vec<SimdLevel> = SimdLevel::ALL
        .into_iter()
        .filter(|&level| {
            twin_level_available(level, &format!("the conformance suite at --simd {level}"))
        })
        .collect();
    // libvmaf's float ADM divides with the CPU's `rcpss` estimate, which differs between AMD
    // and Intel: its cases have goldens per table (goldens/rcpss-intel/ holds Intel's where they
    // differ from AMD's, make-goldens.sh).
    let rcpss = vmafx_engine::cpu::rcpss_table();
    if rcpss.is_none() {
        let skipped: Vec<&str> = all
            .iter()
            .filter(|c| uses_float_adm(c))
            .map(|c| c.name.as_str())
            .collect();
        eprintln!(
            "SKIPPED: conformance cases {} not verified: this CPU's rcpss estimate is neither \
             AMD's nor Intel's (no goldens), and libvmaf's float ADM divides with it",
            skipped.join(", ")
        );
    }
    for case in all
        .iter()
        .filter(|case| rcpss.is_some() || !uses_float_adm(case))
        .flat_map(|case| levels.iter().map(move |l| (case, *l)))
    {
        let (case, level) = case;
        let out = out_dir.join(format!("{}-{level}.json", case.name));
        let mut args = vec![
            "-r".to_string(),
            resolve(&case.reference, &fixtures).display().to_string(),
            "-d".to_string(),
            resolve(&case.distorted, &fixtures).display().to_string(),
            "--simd".to_string(),
            level.name().to_string(),
        ];
        args.extend(case.flags.iter().cloned());
        args.extend(["--json", "-q", "-o"].map(String::from));
        args.push(out.display().to_string());
        let result = run_vmafx(&args);
        if !result.status.success() {
            failures.push(format!(
                "{} ({level}): vmafx failed: {}",
                case.name,
                String::from_utf8_lossy(&result.stderr).trim()
            ));
            continue;
        }
        let ours_text = std::fs::read_to_string(&out).unwrap();
        let goldens = conformance_dir().join("goldens");
        let intel_golden = goldens
            .join("rcpss-intel")
            .join(format!("{}.json", case.name));
        let golden_path = if rcpss == Some(vmafx_engine::cpu::RcpssTable::Intel)
            && uses_float_adm(case)
            && intel_golden.exists()
        {
            intel_golden
        } else {
            goldens.join(format!("{}.json", case.name))
        };
        let golden_text = std::fs::read_to_string(&golden_path).unwrap();
        let ours: Value = serde_json::from_str(&ours_text).unwrap();
        let golden: Value = serde_json::from_str(&golden_text).unwrap();
        if let Some(diff) = first_difference(&ours, &golden) {
            failures.push(format!("{} ({level}): {diff}", case.name));
        } else if comparable_text(&ours_text) != comparable_text(&golden_text) {
            failures.push(format!(
                "{} ({level}): same values but different JSON layout",
                case.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} runs ({} cases at {} levels) differ from libvmaf:\n{}",
        failures.len(),
        all.len() * levels.len(),
        all.len(),
        levels.len(),
        failures.join("\n")
    );
}

#[test]
fn xml_csv_and_sub_match_libvmaf_byte_for_byte() {
    let fixtures = fixtures_dir();
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("conformance-formats");
    std::fs::create_dir_all(&out_dir).unwrap();
    for fmt in ["xml", "csv", "sub"] {
        let out = out_dir.join(format!("formats.{fmt}"));
        let args: Vec<String> = vec![
            "-r".into(),
            fixtures
                .join("pan_420_8bit_blur_ref.y4m")
                .display()
                .to_string(),
            "-d".into(),
            fixtures
                .join("pan_420_8bit_blur_dist.y4m")
                .display()
                .to_string(),
            "--feature".into(),
            "psnr".into(),
            "-q".into(),
            format!("--{fmt}"),
            "-o".into(),
            out.display().to_string(),
        ];
        let result = run_vmafx(&args);
        assert!(
            result.status.success(),
            "{}",
            String::from_utf8_lossy(&result.stderr)
        );
        let ours = std::fs::read_to_string(&out).unwrap();
        let golden = std::fs::read_to_string(
            conformance_dir()
                .join("goldens")
                .join(format!("formats.{fmt}")),
        )
        .unwrap();
        assert_eq!(
            comparable_text(&ours),
            comparable_text(&golden),
            "{fmt} output differs from libvmaf"
        );
    }
}

#[test]
fn thread_count_never_changes_output() {
    let fixtures = fixtures_dir();
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("conformance-threads");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut outputs = Vec::new();
    for threads in [0, 1, 2, 3, 8] {
        let out = out_dir.join(format!("t{threads}.json"));
        let args: Vec<String> = vec![
            "-r".into(),
            fixtures
                .join("scenecut_420_8bit_blur_ref.y4m")
                .display()
                .to_string(),
            "-d".into(),
            fixtures
                .join("scenecut_420_8bit_blur_dist.y4m")
                .display()
                .to_string(),
            "--feature".into(),
            "psnr".into(),
            "-m".into(),
            "version=vmaf_v0.6.1neg:name=neg".into(),
            "-m".into(),
            "version=vmaf_v0.6.1".into(),
            "--threads".into(),
            threads.to_string(),
            "--json".into(),
            "-q".into(),
            "-o".into(),
            out.display().to_string(),
        ];
        let result = run_vmafx(&args);
        assert!(
            result.status.success(),
            "{}",
            String::from_utf8_lossy(&result.stderr)
        );
        outputs.push(comparable_text(&std::fs::read_to_string(&out).unwrap()));
    }
    for (i, o) in outputs.iter().enumerate().skip(1) {
        assert_eq!(
            o, &outputs[0],
            "output with thread setting #{i} differs from single-threaded"
        );
    }
}

/// `-v` names the kernels a run with the same flags would use; `--simd`, `VMAFX_SIMD`,
/// `VMAFX_FORCE_SCALAR` and libvmaf's `--cpumask` bits pick them; a level the CPU lacks or a
/// name that is no level is a one-line error.
#[test]
fn simd_flags_pick_the_kernels_and_say_so() {
    use vmafx_engine::cpu::SimdLevel;
    let version = |args: &[&str], env: &[(&str, &str)]| {
        let out = Command::new(env!("CARGO_BIN_EXE_vmafx"))
            .arg("score")
            .args(args)
            .arg("-v")
            .env_remove("VMAFX_SIMD")
            .env_remove("VMAFX_FORCE_SCALAR")
            .envs(env.iter().copied())
            .output()
            .expect("run vmafx");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        )
    };
    let best = SimdLevel::detect();
    let (code, out, _) = version(&[], &[]);
    assert_eq!(code, Some(0));
    assert!(out.ends_with(&format!(", {best} kernels)")), "{out}");
    let capped = best.min(SimdLevel::Avx2);
    for (args, env, expected) in [
        (&["--cpumask", "48"][..], &[][..], capped),
        (&["--cpumask", "8"][..], &[][..], SimdLevel::Scalar),
        (
            &[][..],
            &[("VMAFX_FORCE_SCALAR", "1")][..],
            SimdLevel::Scalar,
        ),
        (&[][..], &[("VMAFX_FORCE_SCALAR", "0")][..], best),
        (&["--simd", "scalar"][..], &[][..], SimdLevel::Scalar),
        (&[][..], &[("VMAFX_SIMD", "scalar")][..], SimdLevel::Scalar),
    ] {
        let (code, out, err) = version(args, env);
        assert_eq!(code, Some(0), "{args:?} {env:?}: {err}");
        assert!(
            out.ends_with(&format!(", {expected} kernels)")),
            "{args:?} {env:?}: {out}"
        );
    }
    let (code, _, err) = version(&["--simd", "sse9"], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("sse9"), "{err}");
    for level in SimdLevel::unsupported() {
        let (code, _, err) = version(&["--simd", level.name()], &[]);
        assert_ne!(code, Some(0), "{level}: {err}");
        assert!(
            err.contains(level.name()) && err.lines().count() == 1,
            "{err}"
        );
    }
}
