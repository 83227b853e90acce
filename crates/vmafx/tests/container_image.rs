//! What vmafx ships through an OCI registry, tested against a real one (distribution): the
//! container image scripts/build-image.sh builds without Docker, pulled back and run from its own
//! filesystem in a chroot, where it scores exactly as the host binary does, encoded input through
//! the image's own ffmpeg included; and the Helm chart pushed and installed as an OCI artifact.

mod k8s;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
    let program = program.as_ref().to_owned();
    Command::new(&program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("failed to run {program:?}: {e}"))
}

fn ok(what: &str, out: Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn build_image(args: &[&str]) -> Output {
    let script = k8s::repo_root().join("scripts/build-image.sh");
    let mut all = vec!["--binary", env!("CARGO_BIN_EXE_vmafx")];
    all.extend_from_slice(args);
    run(script, &all)
}

/// The digest build-image.sh prints on its last line.
fn built_digest(out: Output) -> String {
    let stdout = ok("build-image.sh", out);
    let digest = stdout.lines().last().unwrap_or_default().to_owned();
    assert!(digest.starts_with("sha256:"), "{stdout}");
    digest
}

fn crane(args: &[&str]) -> String {
    ok(&format!("crane {args:?}"), run(k8s::crane_path(), args))
}

/// Runs `args` inside `rootfs` as a container runtime would: chrooted, with only the image's
/// environment and the host's /dev. A user namespace makes this work without root.
fn run_in_image(rootfs: &Path, env: &[String], args: &[&str]) -> Output {
    let mut command = Command::new("unshare");
    command
        .args(["--map-root-user", "--mount", "sh", "-c"])
        .arg(r#"mount --rbind /dev "$0/dev" && exec chroot "$0" "$@""#)
        .arg(rootfs)
        .args(args)
        .env_clear()
        .stdin(Stdio::null());
    for pair in env {
        let (key, value) = pair.split_once('=').expect("KEY=VALUE");
        command.env(key, value);
    }
    // sh, mount and chroot come from the host; what runs after chroot, only from the image.
    command.env(
        "PATH",
        format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", image_path(env)),
    );
    command.output().expect("failed to run unshare")
}

fn image_path(env: &[String]) -> &str {
    env.iter()
        .find_map(|pair| pair.strip_prefix("PATH="))
        .expect("the image sets PATH")
}

/// Frames and pooled metrics of a `vmafx score --json` report (paths and timings aside).
fn scores(report: &str) -> (Value, Value) {
    let report: Value = serde_json::from_str(report).expect("a JSON report");
    (report["frames"].clone(), report["pooled_metrics"].clone())
}

#[test]
fn image_is_pushed_pulled_and_scores_from_its_own_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    let registry = k8s::start_registry(dir.path());
    let reference = format!("{}/vmafx:test", registry.host);

    let digest = built_digest(build_image(&[
        "--layout",
        dir.path().join("oci").to_str().unwrap(),
        "--push",
        &reference,
        "--insecure",
    ]));
    assert_eq!(
        crane(&["digest", "--insecure", &reference]).trim(),
        digest,
        "the registry holds the image the script built"
    );

    let config: Value =
        serde_json::from_str(&crane(&["config", "--insecure", &reference])).unwrap();
    assert_eq!(config["os"], "linux");
    assert_eq!(config["config"]["User"], "65532:65532", "{config}");
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/usr/local/bin/vmafx"])
    );
    let env: Vec<String> = config["config"]["Env"]
        .as_array()
        .expect("Env")
        .iter()
        .map(|v| v.as_str().expect("string").to_owned())
        .collect();
    assert!(
        image_path(&env).split(':').any(|d| d == "/usr/local/bin"),
        "the operator runs `vmafx` by name: {env:?}"
    );

    // Pull the filesystem back and run from it alone.
    let exported = dir.path().join("image.tar");
    crane(&[
        "export",
        "--insecure",
        &reference,
        exported.to_str().unwrap(),
    ]);
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    ok(
        "tar -x",
        run(
            "tar",
            &[
                "-xf",
                exported.to_str().unwrap(),
                "-C",
                rootfs.to_str().unwrap(),
            ],
        ),
    );
    let version = ok(
        "vmafx --version",
        run_in_image(&rootfs, &env, &["vmafx", "--version"]),
    );
    assert_eq!(
        version.trim(),
        format!("vmafx {}", env!("CARGO_PKG_VERSION"))
    );
    ok(
        "rclone",
        run_in_image(&rootfs, &env, &["rclone", "version"]),
    );
    let tmp_mode = std::fs::metadata(rootfs.join("tmp")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&tmp_mode.permissions()) & 0o7777,
        0o1777,
        "a non-root process can write /tmp"
    );
    assert!(rootfs.join("etc/ssl/certs/ca-certificates.crt").is_file());

    // An H.264 clip against a Y4M reference: decoded by the image's ffmpeg, scored by its vmafx,
    // to the same numbers as on the host.
    let work = rootfs.join("tmp/work");
    std::fs::create_dir_all(&work).unwrap();
    let (fixture_ref, _) = support::fixture_pair(&work, "pan_420_8bit_blur");
    let encoded = k8s::repo_root().join("tests/conformance/media/pan_420_8bit_x264.mp4");
    std::fs::copy(&encoded, work.join("dist.mp4")).unwrap();
    let in_image =
        |p: &Path| -> String { format!("/{}", p.strip_prefix(&rootfs).unwrap().display()) };
    let image_ref = in_image(&fixture_ref);
    let image_dist = in_image(&work.join("dist.mp4"));
    ok(
        "vmafx score in the image",
        run_in_image(
            &rootfs,
            &env,
            &[
                "vmafx",
                "score",
                "-q",
                "-r",
                &image_ref,
                "-d",
                &image_dist,
                "--json",
                "-o",
                "/tmp/work/image.json",
            ],
        ),
    );
    let host_json = dir.path().join("host.json");
    let (code, _, err) = support::run_cli(&[
        "score",
        "-q",
        "-r",
        fixture_ref.to_str().unwrap(),
        "-d",
        encoded.to_str().unwrap(),
        "--json",
        "-o",
        host_json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let image_scores = scores(&std::fs::read_to_string(work.join("image.json")).unwrap());
    let host_scores = scores(&std::fs::read_to_string(&host_json).unwrap());
    assert!(
        image_scores.0.as_array().is_some_and(|f| !f.is_empty()),
        "{image_scores:?}"
    );
    assert_eq!(image_scores, host_scores);

    // The same inputs give the same image, byte for byte.
    let again = built_digest(build_image(&[
        "--layout",
        dir.path().join("oci-again").to_str().unwrap(),
    ]));
    assert_eq!(again, digest, "two builds of one binary differ");

    // Built without --name, the image has the name every shipped manifest and the chart run.
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("oci-again/index.json")).unwrap(),
    )
    .unwrap();
    let default_name = index["manifests"][0]["annotations"]["io.containerd.image.name"]
        .as_str()
        .expect("the layout names the image");
    let root = k8s::repo_root();
    for manifest in [
        "config/manager/controller.yaml",
        "config/manager/operator.yaml",
        "config/samples/vmafxnode.yaml",
    ] {
        let text = std::fs::read_to_string(root.join(manifest)).unwrap();
        let images: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("image:"))
            .map(str::trim)
            .collect();
        assert!(!images.is_empty(), "{manifest} names no image");
        assert!(
            images.iter().all(|i| *i == default_name),
            "{manifest} runs {images:?}, the script builds {default_name}"
        );
    }
    let rendered = ok(
        "helm template",
        run(
            k8s::helm_path(),
            &[
                "template",
                "vmafx",
                root.join("deploy/helm/vmafx").to_str().unwrap(),
                "--set",
                "operator.enabled=true",
            ],
        ),
    );
    let chart_images: Vec<&str> = rendered
        .lines()
        .filter_map(|l| l.trim().strip_prefix("image:"))
        .map(|i| i.trim().trim_matches('"'))
        .collect();
    assert!(
        chart_images.len() >= 3 && chart_images.iter().all(|i| *i == default_name),
        "the chart runs {chart_images:?}, the script builds {default_name}"
    );
}

#[test]
fn build_script_refuses_bad_options_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("oci");
    let layout = layout.to_str().unwrap();
    for (args, named) in [
        (
            vec!["--binary", "/nonexistent/vmafx", "--layout", layout],
            "--binary /nonexistent/vmafx",
        ),
        (vec!["--name", "vmafx", "--layout", layout], "--name vmafx"),
        (vec!["--layout", layout, "--colour"], "'--colour'"),
    ] {
        let out = run(k8s::repo_root().join("scripts/build-image.sh"), &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(
            err.lines()
                .any(|l| l.contains("error") && l.contains(named)),
            "{args:?}: {err}"
        );
    }
    assert!(
        !Path::new(layout).exists(),
        "nothing is written when refused"
    );
}

#[test]
fn helm_chart_installs_from_the_registry_as_an_oci_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let registry = k8s::start_registry(dir.path());
    let helm = k8s::helm_path();
    let chart_dir = k8s::repo_root().join("deploy/helm/vmafx");
    let packaged = dir.path().join("packaged");
    ok(
        "helm package",
        run(
            &helm,
            &[
                "package",
                chart_dir.to_str().unwrap(),
                "-d",
                packaged.to_str().unwrap(),
            ],
        ),
    );
    let chart_yaml: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(chart_dir.join("Chart.yaml")).unwrap())
            .unwrap();
    let version = chart_yaml["version"].as_str().expect("a chart version");
    let tgz: PathBuf = packaged.join(format!("vmafx-{version}.tgz"));
    let repo = format!("oci://{}/charts", registry.host);
    ok(
        "helm push",
        run(
            &helm,
            &["push", tgz.to_str().unwrap(), &repo, "--plain-http"],
        ),
    );

    let image_values = format!(
        "image.repository={}/vmafx,image.tag=test,operator.enabled=true",
        registry.host
    );
    let template = |chart: &str, extra: &[&str]| {
        let mut args = vec![
            "template",
            "vmafx",
            chart,
            "--namespace",
            "vmafx-system",
            "--set",
            &image_values,
        ];
        args.extend_from_slice(extra);
        ok(&format!("helm template {chart}"), run(&helm, &args))
    };
    let from_registry = template(
        &format!("{repo}/vmafx"),
        &["--version", version, "--plain-http"],
    );
    let from_source = template(chart_dir.to_str().unwrap(), &[]);
    assert_eq!(from_registry, from_source);
    assert!(
        from_registry.contains(&format!("image: \"{}/vmafx:test\"", registry.host)),
        "{from_registry}"
    );
}
