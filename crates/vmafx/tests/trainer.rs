//! The training loop end to end, all real and on loopback: a registry (distribution, as
//! test/k8s/testenv.sh builds it), a controller, a node and `vmafx trainer`. Jobs are scored,
//! feedback targets come from a known function of content different from the base model, the
//! trainer checkpoints and pushes, the pulled model beats the base model on clips it never saw,
//! `vmafx score -m oci://…` scores with it, a SIGKILL and restart keep samples and versions,
//! and a registry outage delays a push that is retried. Also `vmafx model push/pull` by tag and
//! by digest and their refusals.

mod k8s;
mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::*;
use vmafx_fixtures::{ClipSpec, Distortion, Fixture, Motion};

/// The built-in model with one feature's normalisation and the transform changed: a model JSON
/// that scores differently from the built-in one, as a checkpoint does.
fn adapted_model(dir: &Path) -> std::path::PathBuf {
    let text = include_str!("../../vmafx-engine/models/vmaf_v0.6.1.json");
    let mut doc: serde_json::Value = serde_json::from_str(text).unwrap();
    let dict = &mut doc["model_dict"];
    dict["slopes"][2] = serde_json::json!(3.4);
    dict["score_transform"] =
        serde_json::json!({"enabled": true, "p0": -3.0, "p1": 1.05, "p2": 0.0});
    let path = dir.join("adapted.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    path
}

/// The pooled VMAF of `vmafx score` with `extra` arguments.
fn score(dir: &Path, reference: &Path, distorted: &Path, extra: &[&str]) -> f64 {
    score_doc(dir, reference, distorted, extra)["pooled_metrics"]["vmaf"]["mean"]
        .as_f64()
        .unwrap()
}

/// The JSON document of `vmafx score` with `extra` arguments.
fn score_doc(dir: &Path, reference: &Path, distorted: &Path, extra: &[&str]) -> serde_json::Value {
    let out = dir.join("score.json");
    let mut args = vec![
        "score",
        "-r",
        reference.to_str().unwrap(),
        "-d",
        distorted.to_str().unwrap(),
        "--json",
        "-q",
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, _, err) = run_cli(&args);
    assert_eq!(code, 0, "vmafx score {extra:?}: {err}");
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

/// A registry whose TLS certificate comes from a private CA: refused until `--registry-ca`
/// names that CA, then pushed to and pulled from over HTTPS. A bad CA file is one line naming it.
#[test]
fn a_registry_with_a_private_ca_is_trusted_with_registry_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = vmafx_testenv::pki::serving_pki("vmafx registry test").unwrap();
    let registry = k8s::start_registry_tls(dir.path(), &pki.cert_pem, &pki.key_pem);
    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let model = adapted_model(dir.path());
    let tagged = format!("oci://{}/private/models:v1", registry.host);

    let (code, _, err) = run_cli(&["model", "push", model.to_str().unwrap(), &tagged]);
    assert_ne!(code, 0, "a certificate from an unknown CA was accepted");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&registry.host), "{err}");

    let ca_flag = ["--registry-ca", ca.to_str().unwrap()];
    let (code, out, err) = run_cli(
        &[
            &["model", "push", model.to_str().unwrap(), &tagged][..],
            &ca_flag[..],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    let digest = out.trim().to_string();
    assert!(digest.starts_with("sha256:"), "{out}");
    let pulled = dir.path().join("pulled.json");
    let (code, out, err) = run_cli(
        &[
            &["model", "pull", &tagged, "-o", pulled.to_str().unwrap()][..],
            &ca_flag[..],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), digest);
    assert_eq!(
        std::fs::read(&pulled).unwrap(),
        std::fs::read(&model).unwrap()
    );

    let not_pem = dir.path().join("not-a-ca.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let (code, _, err) = run_cli(&[
        "model",
        "pull",
        &tagged,
        "-o",
        pulled.to_str().unwrap(),
        "--registry-ca",
        not_pem.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("--registry-ca") && err.contains("not-a-ca.pem"),
        "{err}"
    );
}

#[test]
fn models_push_and_pull_through_a_registry_and_score_by_oci_reference() {
    let dir = tempfile::tempdir().unwrap();
    let registry = k8s::start_registry(dir.path());
    let model = adapted_model(dir.path());
    let repo = format!("oci://{}/vmafx/models", registry.host);
    let tagged = format!("{repo}:run-v1");

    // Plain HTTP is refused unless asked for.
    let (code, _, err) = run_cli(&["model", "push", model.to_str().unwrap(), &tagged]);
    assert_ne!(code, 0);
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, out, err) = run_cli(&[
        "model",
        "push",
        model.to_str().unwrap(),
        &tagged,
        "--tag",
        "latest-stable",
        "--run",
        "run",
        "--model-version",
        "v1",
        "--samples",
        "20",
        "--insecure-registry",
    ]);
    assert_eq!(code, 0, "{err}");
    let digest = out.trim().to_string();
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{out}");

    // Pulled by either tag and by digest: the same bytes and digest.
    for reference in [
        tagged.clone(),
        format!("{repo}:latest-stable"),
        format!("{repo}@{digest}"),
    ] {
        let pulled = dir.path().join("pulled.json");
        let (code, out, err) = run_cli(&[
            "model",
            "pull",
            &reference,
            "--insecure-registry",
            "-o",
            pulled.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{reference}: {err}");
        assert_eq!(out.trim(), digest);
        assert_eq!(
            std::fs::read(&pulled).unwrap(),
            std::fs::read(&model).unwrap()
        );
    }

    // The annotations a trainer relies on are on the manifest.
    let port: u16 = registry.host.rsplit(':').next().unwrap().parse().unwrap();
    let (code, manifest) = http_request(
        port,
        "GET",
        "/v2/vmafx/models/manifests/run-v1",
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        b"",
    )
    .unwrap();
    assert_eq!(code, 200, "{manifest}");
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let notes = &manifest["annotations"];
    assert_eq!(notes["dev.vmafx.model.run"], "run");
    assert_eq!(notes["dev.vmafx.model.version"], "v1");
    assert_eq!(notes["dev.vmafx.model.samples"], "20");
    assert!(notes["dev.vmafx.model.sha256"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));

    // -m oci://… scores as -m path= of the same file, and differs from the built-in model.
    let (reference, distorted) = fixture_pair(dir.path(), "tiny_420_8bit");
    let cache = dir.path().join("cache");
    let by_path = score(
        dir.path(),
        &reference,
        &distorted,
        &["-m", &format!("path={}", model.display())],
    );
    let by_oci = score(
        dir.path(),
        &reference,
        &distorted,
        &[
            "-m",
            &tagged,
            "--insecure-registry",
            "--model-cache",
            cache.to_str().unwrap(),
        ],
    );
    assert_eq!(by_oci, by_path);
    let built_in = score(dir.path(), &reference, &distorted, &[]);
    assert_ne!(by_oci, built_in);
    // Cached by digest: scoring by digest works with the registry gone.
    drop(registry);
    let by_digest = score(
        dir.path(),
        &reference,
        &distorted,
        &[
            "-m",
            &format!("{repo}@{digest}"),
            "--model-cache",
            cache.to_str().unwrap(),
        ],
    );
    assert_eq!(by_digest, by_path);
}

#[test]
fn bad_model_references_fail_with_one_line_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let registry = k8s::start_registry(dir.path());
    let out = dir.path().join("never.json");
    for (reference, extra, needle) in [
        (
            format!("oci://{}/m", registry.host),
            vec!["--insecure-registry"],
            "tag",
        ),
        (
            format!("oci://{}/m:nope", registry.host),
            vec!["--insecure-registry"],
            "failed to pull",
        ),
        (
            "oci://registry.example/m:v1".to_string(),
            vec!["--insecure-registry"],
            "loopback",
        ),
        (
            format!("oci://{}/M:v1", registry.host),
            vec![],
            "repository",
        ),
    ] {
        let mut args = vec![
            "model",
            "pull",
            reference.as_str(),
            "-o",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        let (code, _, err) = run_cli(&args);
        assert_ne!(code, 0, "{reference}");
        assert_eq!(err.lines().count(), 1, "{reference}: {err}");
        assert!(err.contains(needle), "{reference}: {err}");
        assert!(!out.exists(), "{reference}");
    }
}

/// A small clip pair whose content (texture seed, motion, distortion) varies with `i`.
fn clip(dir: &Path, i: u64) -> (PathBuf, PathBuf) {
    let kinds = [
        Distortion::BlurNoise,
        Distortion::Blocky,
        Distortion::Posterize,
        Distortion::Enhance,
    ];
    let motions = [Motion::Pan, Motion::Still, Motion::SceneCut];
    let fixture = Fixture {
        name: "train",
        spec: ClipSpec {
            width: 64,
            height: 48,
            chroma: vmafx_fixtures::Chroma::C420,
            depth: 8,
            frames: 4,
            motion: motions[(i / 4 % 3) as usize],
            seed: 1000 + i,
        },
        distortion: kinds[(i % 4) as usize],
    };
    let reference = dir.join(format!("clip{i}_ref.y4m"));
    let distorted = dir.join(format!("clip{i}_dist.y4m"));
    fixture.write_pair(&reference, &distorted).unwrap();
    (reference, distorted)
}

/// The "viewers": the base model with motion weighted twice as much, a steeper output and an
/// offset (a model the trainer can represent, but not the base model), as a model file.
fn viewers_model(dir: &Path) -> PathBuf {
    let text = include_str!("../../vmafx-engine/models/vmaf_v0.6.1.json");
    let mut doc: serde_json::Value = serde_json::from_str(text).unwrap();
    let dict = &mut doc["model_dict"];
    let motion_slope = dict["slopes"][2].as_f64().unwrap();
    dict["slopes"][2] = serde_json::json!(motion_slope * 2.0);
    let out_slope = dict["slopes"][0].as_f64().unwrap();
    dict["slopes"][0] = serde_json::json!(out_slope * 1.15);
    dict["score_transform"] =
        serde_json::json!({"enabled": true, "p0": -8.0, "p1": 1.0, "p2": 0.0});
    let path = dir.join("viewers.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    path
}

/// What the viewers say of clip `i`: the viewers' model's score plus deterministic noise of up
/// to ±1 point. A known function of content that the base model does not compute.
fn viewers(dir: &Path, reference: &Path, distorted: &Path, model: &Path, i: u64) -> f64 {
    let v = score(
        dir,
        reference,
        distorted,
        &["-m", &format!("path={}", model.display())],
    );
    let noise = ((i * 7919) % 21) as f64 / 10.0 - 1.0;
    (v + noise).clamp(0.0, 100.0)
}

fn plcc(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma) * (x - ma)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb) * (y - mb)).sum();
    cov / (va.sqrt() * vb.sqrt())
}

fn start_trainer(dir: &Path, port: u16, registry: &str, grpc: &str, tag: &str) -> Proc {
    let listen = format!("127.0.0.1:{port}");
    let output = format!("{registry}/vmafx/models");
    let data = dir.join("trainer-data");
    let proc = spawn(
        dir,
        &format!("trainer-{tag}"),
        &[
            "trainer",
            "--listen",
            &listen,
            "--output-registry",
            &output,
            "--base-model",
            "vmaf_v0.6.1",
            "--checkpoint-interval",
            "5s",
            "--min-samples",
            "20",
            "--data-dir",
            data.to_str().unwrap(),
            "--run",
            "e2e",
            "--insecure-registry",
            "--controller",
            grpc,
            "--node-selector",
            "name=node-a",
        ],
        &[("VMAFX_LOG", "info")],
    );
    wait_for(Duration::from_secs(30), || {
        http_get(port, "/healthz").is_some_and(|(c, _)| c == 200)
    })
    .unwrap_or_else(|| panic!("the trainer did not come up: {}", proc.log()));
    proc
}

fn trainer_status(port: u16) -> serde_json::Value {
    let (code, body) = http_get(port, "/status").expect("the trainer answers");
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Waits until the trainer's status satisfies `check`, and returns it.
fn wait_status(
    port: u16,
    timeout: Duration,
    proc: &Proc,
    mut check: impl FnMut(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    let found = wait_for(timeout, || {
        last = trainer_status(port);
        check(&last)
    });
    found.unwrap_or_else(|| panic!("status never got there: {last}\n{}", proc.log()));
    last
}

#[test]
fn feedback_trains_a_model_that_is_pushed_pulled_and_beats_the_base_model() {
    let dir = tempfile::tempdir().unwrap();
    let clips = dir.path().join("clips");
    std::fs::create_dir_all(&clips).unwrap();
    let registry_dir = dir.path().join("registry-home");
    std::fs::create_dir_all(&registry_dir).unwrap();
    let registry = k8s::start_registry(&registry_dir);
    let registry_port: u16 = registry.host.rsplit(':').next().unwrap().parse().unwrap();
    // Jobs may name models in this registry only; the node pulls them into its cache.
    let controller = start_controller(
        dir.path(),
        &dir.path().join("controller-data"),
        free_port(),
        free_port(),
        &["--model-registry", &registry.host],
    );
    let grpc = controller.grpc.clone();
    let node_cache = dir.path().join("node-model-cache");
    let _node = start_node(
        dir.path(),
        &grpc,
        "node-a",
        &[
            "--model-registry",
            &registry.host,
            "--insecure-registry",
            "--model-cache",
            node_cache.to_str().unwrap(),
        ],
    );
    let port = free_port();
    let mut trainer = start_trainer(dir.path(), port, &registry.host, &grpc, "first");
    let status = trainer_status(port);
    assert_eq!(status["phase"], "Training");
    assert_eq!(status["samples"], 0);

    // Jobs scored by the node, then feedback from the "viewers".
    let teacher = viewers_model(dir.path());
    let mut jobs = Vec::new();
    for i in 0..40u64 {
        let (reference, distorted) = clip(&clips, i);
        let job = submit_and_wait(
            &grpc,
            reference.to_str().unwrap(),
            distorted.to_str().unwrap(),
        );
        assert_eq!(job["state"], "COMPLETED", "{job}");
        let id = job["id"].as_str().unwrap().to_string();
        let target = viewers(dir.path(), &reference, &distorted, &teacher, i);
        let (code, _, err) = job_feedback(&grpc, &id, &format!("{target}"));
        assert_eq!(code, 0, "{err}");
        jobs.push((id, target));
    }

    // The trainer takes them all and writes, then pushes, checkpoints: one at 20 samples, the
    // next at 40 (at least 5 s later).
    let status = wait_status(port, Duration::from_secs(60), &trainer, |s| {
        s["samples"] == 40
            && s["checkpoints"]
                .as_array()
                .is_some_and(|c| c.len() == 2 && c.iter().all(|c| c["pushed"] == true))
    });
    let newest = status["modelVersion"].as_str().unwrap().to_string();
    assert_eq!(newest, "v2", "{status}");
    let first = status["checkpoints"][0].clone();
    assert_eq!(first["version"], "v1");
    assert_eq!(first["tag"], "e2e-v1");
    assert!(first["samples"].as_u64().unwrap() >= 20, "{status}");
    assert!(first["writtenAt"].as_str().unwrap().ends_with('Z'));
    let digest = first["digest"].as_str().unwrap().to_string();
    assert!(digest.starts_with("sha256:"), "{status}");
    assert_eq!(
        first["stable"], true,
        "the first checkpoint is stable: {status}"
    );
    assert_eq!(
        status["modelVersion"],
        status["checkpoints"].as_array().unwrap().last().unwrap()["version"]
    );
    for key in ["plcc", "srcc", "rmse"] {
        assert!(first["holdout"][key].is_number(), "{status}");
    }
    // The operator reads this answer as docs/TRAINER_STATUS.md says.
    let parsed: vmafx_operator::training::TrainerStatus =
        serde_json::from_value(status.clone()).expect("the operator parses /status");
    assert_eq!(parsed.samples, 40);
    assert_eq!(
        parsed.checkpoints[0].digest.as_deref(),
        Some(digest.as_str())
    );

    // Pulled by its tag: the manifest the status names.
    let pulled = dir.path().join("pulled.json");

    let (code, out, err) = run_cli(&[
        "model",
        "pull",
        &format!("oci://{}/vmafx/models:e2e-v1", registry.host),
        "--insecure-registry",
        "-o",
        pulled.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), digest);
    let newest_ref = format!("oci://{}/vmafx/models:e2e-{newest}", registry.host);
    let (code, _, err) = run_cli(&[
        "model",
        "pull",
        &newest_ref,
        "--insecure-registry",
        "-o",
        pulled.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");

    // On clips the trainer never saw, the pulled model agrees with the viewers better than the
    // base model does; `-m oci://…` gives the pulled file's scores.
    let cache = dir.path().join("model-cache");
    let (mut base, mut trained, mut targets) = (Vec::new(), Vec::new(), Vec::new());
    for i in 100..112u64 {
        let (reference, distorted) = clip(&clips, i);
        base.push(score(dir.path(), &reference, &distorted, &[]));
        targets.push(viewers(dir.path(), &reference, &distorted, &teacher, i));
        let by_oci = score(
            dir.path(),
            &reference,
            &distorted,
            &[
                "-m",
                &newest_ref,
                "--insecure-registry",
                "--model-cache",
                cache.to_str().unwrap(),
            ],
        );
        if i == 100 {
            let by_path = score(
                dir.path(),
                &reference,
                &distorted,
                &["-m", &format!("path={}", pulled.display())],
            );
            assert_eq!(by_oci, by_path);
            // A job naming the checkpoint by oci:// is scored by the node with the same model,
            // pulled once into its cache under the manifest's digest.
            let job = submit_and_wait_with(
                &grpc,
                reference.to_str().unwrap(),
                distorted.to_str().unwrap(),
                &["-m", &newest_ref],
            );
            assert_eq!(job["state"], "COMPLETED", "{job}");
            let mean = job["summary"]["models"][0]["mean"]
                .as_f64()
                .unwrap_or_else(|| panic!("no pooled score in {job}"));
            assert!(
                (mean - by_path).abs() < 5e-7,
                "job {mean}, vmafx score {by_path}"
            );
            let cached: Vec<_> = std::fs::read_dir(&node_cache)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(cached.len(), 1, "{cached:?}");
            assert!(cached[0].starts_with("sha256-"), "{cached:?}");
            // A registry the controller does not list is refused at submission.
            let (code, _, err) = run_cli(&[
                "job",
                "submit",
                "--controller",
                &grpc,
                "-r",
                reference.to_str().unwrap(),
                "-d",
                distorted.to_str().unwrap(),
                "-m",
                "oci://registry.example/m:v1",
            ]);
            assert_ne!(code, 0);
            assert!(err.contains("--model-registry"), "{err}");
        }
        trained.push(by_oci);
    }
    let (base_plcc, trained_plcc) = (plcc(&base, &targets), plcc(&trained, &targets));
    println!(
        "unseen clips: base PLCC {base_plcc:.4}, trained PLCC {trained_plcc:.4} \
         (targets {targets:.1?}, base {base:.1?}, trained {trained:.1?}); trainer status {status}"
    );
    assert!(
        trained_plcc > base_plcc,
        "base {base_plcc}, trained {trained_plcc}"
    );

    // SIGKILL and restart: samples, versions and the feedback cursor are kept.
    trainer.kill9();
    drop(trainer);
    let mut trainer = start_trainer(dir.path(), port, &registry.host, &grpc, "second");
    std::thread::sleep(Duration::from_secs(2));
    let after = trainer_status(port);
    assert_eq!(
        after["samples"], 40,
        "no sample lost or taken twice: {after}"
    );
    assert_eq!(after["checkpoints"], status["checkpoints"]);

    // A registry outage: the next checkpoint is written, its push fails and is retried, and it
    // lands once the registry is back.
    drop(registry);
    for (id, target) in &jobs[..20] {
        let (code, _, err) = job_feedback(&grpc, id, &format!("{target}"));
        assert_eq!(code, 0, "{err}");
    }
    let during = wait_status(port, Duration::from_secs(60), &trainer, |s| {
        s["samples"] == 60 && s["checkpoints"].as_array().is_some_and(|c| c.len() == 3)
    });
    assert_eq!(during["checkpoints"][2]["pushed"], false, "{during}");
    std::thread::sleep(Duration::from_secs(3));
    let (_, metrics) = http_get(port, "/metrics").unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("vmafx_trainer_push_failures_total ") && !l.ends_with(" 0")),
        "{metrics}"
    );
    let _registry = k8s::start_registry_on(&registry_dir, registry_port);
    let after = wait_status(port, Duration::from_secs(90), &trainer, |s| {
        s["checkpoints"][2]["pushed"] == true
    });
    assert_eq!(after["checkpoints"][2]["version"], "v3");
    let (code, out, err) = run_cli(&[
        "model",
        "pull",
        &format!("oci://127.0.0.1:{registry_port}/vmafx/models:e2e-v3"),
        "--insecure-registry",
        "-o",
        dir.path().join("v2.json").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        after["checkpoints"][2]["digest"].as_str().unwrap()
    );

    // Samples posted directly: per-frame features in the model's order; a bad one is a 400
    // and is not taken.
    let post = |body: &str| {
        http_request(
            port,
            "POST",
            "/api/v1/samples",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .unwrap()
    };
    for (body, needle) in [
        (r#"{"target": 50, "frames": [[0.9, 2.0, 0.5]]}"#, "6 finite"),
        (
            r#"{"target": 101, "frames": [[0.9, 2.0, 0.5, 0.8, 0.9, 0.95]]}"#,
            "target",
        ),
        (r#"{"target": 50, "frames": []}"#, "frames"),
        (r#"{"target": 50}"#, "frames"),
    ] {
        let (code, text) = post(body);
        assert_eq!(code, 400, "{body}: {text}");
        assert!(text.contains(needle), "{body}: {text}");
    }
    let (code, text) =
        post(r#"{"id": "posted-1", "target": 70, "frames": [[0.9, 2.0, 0.5, 0.8, 0.9, 0.95]]}"#);
    assert_eq!(code, 201, "{text}");
    assert_eq!(trainer_status(port)["samples"], 61);

    // A pair posted by URI: the trainer scores it with the base model (its feature values are
    // the ones a job's per-frame document holds) and takes it as one sample.
    let (reference, distorted) = clip(&clips, 200);
    let body = serde_json::json!({
        "id": "posted-uri",
        "target": 55.0,
        "reference": file_uri(&reference),
        "distorted": file_uri(&distorted),
    })
    .to_string();
    let (code, text) = post(&body);
    assert_eq!(code, 201, "{text}");
    assert_eq!(trainer_status(port)["samples"], 62);
    let logged = std::fs::read_to_string(dir.path().join("trainer-data/samples.jsonl")).unwrap();
    let line = logged
        .lines()
        .find(|l| l.contains("\"posted-uri\""))
        .expect("the URI sample is logged");
    let logged: serde_json::Value = serde_json::from_str(line).unwrap();
    let report = score_doc(dir.path(), &reference, &distorted, &[]);
    let first = &report["frames"][0]["metrics"];
    let want: Vec<f64> = [
        "integer_adm2",
        "integer_motion2",
        "integer_vif_scale0",
        "integer_vif_scale1",
        "integer_vif_scale2",
        "integer_vif_scale3",
    ]
    .iter()
    .map(|k| first[*k].as_f64().unwrap())
    .collect();
    let got: Vec<f64> = serde_json::from_value(logged["sample"]["frames"][0].clone()).unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (g - w).abs() < 1e-6,
            "features {got:?}, vmafx score {want:?}"
        );
    }
    // Refused with one line and not taken: a file that does not exist, a file outside the
    // allowed roots, both forms at once.
    let missing = format!("{}/none.y4m", file_uri(&clips));
    for (body, code_wanted, needle) in [
        (
            serde_json::json!({"target": 50, "reference": missing, "distorted": file_uri(&distorted)}),
            400,
            "none.y4m",
        ),
        (
            serde_json::json!({"target": 50, "reference": "file:///etc/hostname", "distorted": file_uri(&distorted)}),
            400,
            "allow-file-root",
        ),
        (
            serde_json::json!({"target": 50, "frames": [[0.9, 2.0, 0.5, 0.8, 0.9, 0.95]], "reference": file_uri(&reference), "distorted": file_uri(&distorted)}),
            400,
            "not both",
        ),
    ] {
        let (code, text) = post(&body.to_string());
        assert_eq!(code, code_wanted, "{body}: {text}");
        assert!(text.contains(needle), "{body}: {text}");
    }
    assert_eq!(trainer_status(port)["samples"], 62);
    trainer.kill9();
}
