//! `execution: pod` on a real node: the cluster of `test/e2e/run.sh` (a kubelet with containerd
//! and runc, the chart-installed operator, an S3 server in a Pod) runs VmafxJobs in Pods of their
//! own. Each test follows one job: its score and per-frame output, a bad input, a delete while
//! its Pod runs, and an eviction that is retried.
//!
//! Bringing a node up takes root and a minute, so this suite runs inside `test/e2e/run.sh`, which
//! points it at its cluster with `VMAFX_E2E_KUBECONFIG`. Without that variable the suite prints
//! one `SKIPPED:` line and its tests verify nothing.

#[macro_use]
mod k8s;
mod support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, ResourceRequirements, Secret};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, DeleteParams, EvictParams, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use vmafx_fixtures::ClipSpec;
use vmafx_operator::crd::{Execution, JobPhase, VmafxJob, VmafxJobSpec};

/// Where run.sh puts the kubeconfig of its cluster.
const KUBECONFIG_ENV: &str = "VMAFX_E2E_KUBECONFIG";
/// The namespace the chart (operator, S3 server, its credentials) is installed in.
const SYSTEM_NAMESPACE: &str = "vmafx-system";
/// The S3 endpoint as Pods see it.
const S3_IN_CLUSTER: &str = "http://e2e-s3.vmafx-system.svc.cluster.local:9000";
/// The bucket the S3 server serves, holding the committed tiny fixtures.
const BUCKET: &str = "e2e";
/// The Secret, in each test's namespace, that gives a job's Pod the S3 credentials.
const STORAGE_SECRET: &str = "s3";
/// The CPU a slow job's Pod may use: a fortieth of a core keeps it running for tens of seconds.
const SLOW_CPU: &str = "25m";
/// Label of the Pods and batch Jobs of a VmafxJob.
const JOB_LABEL: &str = "vmafx.dev/job";

/// One test's view of the e2e cluster: an admin client and a namespace of its own.
struct E2e {
    client: Client,
    namespace: String,
}

impl E2e {
    /// Connects to run.sh's cluster and makes a namespace holding the storage Secret; `None`
    /// (after the SKIPPED line) when no cluster was given.
    async fn start(test: &str) -> Option<E2e> {
        let Some(path) = std::env::var_os(KUBECONFIG_ENV) else {
            // Once for the suite, and past the test harness's capture so that it is seen.
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: operator_pod (execution: pod on a real node; first: {test}) needs \
                     the e2e cluster; test/e2e/run.sh runs this suite with {KUBECONFIG_ENV} set"
                );
            });
            return None;
        };
        let kubeconfig = Kubeconfig::read_from(&path)
            .unwrap_or_else(|e| panic!("{KUBECONFIG_ENV}={path:?}: {e}"));
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("a usable kubeconfig");
        let client = Client::try_from(config).expect("a client for the e2e cluster");
        let namespace = k8s::namespace(&client, "pod-mode").await;
        let e2e = E2e { client, namespace };
        e2e.copy_storage_secret().await;
        Some(e2e)
    }

    /// The S3 credentials of the chart's namespace, as the environment a job's Pod reads.
    async fn copy_storage_secret(&self) {
        let (key, secret) = s3_credentials(&self.client).await;
        let env = [
            ("AWS_ACCESS_KEY_ID", key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL_S3", S3_IN_CLUSTER),
        ];
        let secret = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(STORAGE_SECRET.to_owned()),
                ..Default::default()
            },
            string_data: Some(
                env.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            ..Default::default()
        };
        self.api::<Secret>()
            .create(&PostParams::default(), &secret)
            .await
            .expect("failed to create the storage Secret");
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Creates a pod-mode job on `reference` and `distorted` (keys in the bucket).
    async fn create(
        &self,
        name: &str,
        reference: &str,
        distorted: &str,
        edit: impl FnOnce(&mut VmafxJobSpec),
    ) {
        let mut spec = VmafxJobSpec::new(
            format!("s3://{BUCKET}/{reference}"),
            format!("s3://{BUCKET}/{distorted}"),
        );
        spec.execution = Execution::Pod;
        spec.storage_secret = Some(STORAGE_SECRET.to_owned());
        edit(&mut spec);
        self.api::<VmafxJob>()
            .create(&PostParams::default(), &VmafxJob::new(name, spec))
            .await
            .unwrap_or_else(|e| panic!("failed to create VmafxJob {name}: {e}"));
    }

    async fn job(&self, name: &str) -> VmafxJob {
        self.api::<VmafxJob>()
            .get(name)
            .await
            .unwrap_or_else(|e| panic!("failed to read VmafxJob {name}: {e}"))
    }

    /// The Pods of VmafxJob `name`.
    async fn pods(&self, name: &str) -> Vec<Pod> {
        self.api::<Pod>()
            .list(&ListParams::default().labels(&format!("{JOB_LABEL}={name}")))
            .await
            .expect("failed to list Pods")
            .items
    }

    /// Waits for VmafxJob `name` to reach `phase`, printing its status if it never does.
    async fn wait_phase(&self, name: &str, phase: JobPhase, timeout: Duration) -> VmafxJob {
        poll_until!(
            timeout,
            format!("VmafxJob {name} to reach {phase:?}"),
            {
                let job = self.job(name).await;
                let status = job.status.as_ref();
                let now = status.and_then(|s| s.phase);
                let terminal = matches!(now, Some(JobPhase::Succeeded | JobPhase::Failed));
                assert!(
                    now == Some(phase) || !terminal,
                    "VmafxJob {name} ended {now:?}, not {phase:?}: {:?}",
                    status
                );
                (now == Some(phase)).then_some(job)
            },
            format!("{:?}", self.job(name).await.status)
        )
    }

    /// Waits for a Pod of VmafxJob `name` other than `not` to be Running; returns its name.
    async fn running_pod(&self, name: &str, not: Option<&str>) -> String {
        poll_until!(
            Duration::from_secs(120),
            format!("a running Pod of VmafxJob {name}"),
            {
                self.pods(name).await.into_iter().find_map(|pod| {
                    let pod_name = kube::ResourceExt::name_any(&pod);
                    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
                    (phase == Some("Running") && Some(pod_name.as_str()) != not).then_some(pod_name)
                })
            },
            format!(
                "{:?}",
                self.pods(name)
                    .await
                    .iter()
                    .map(|p| &p.status)
                    .collect::<Vec<_>>()
            )
        )
    }
}

/// The S3 server's access and secret keys, from the Secret run.sh made.
async fn s3_credentials(client: &Client) -> (String, String) {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), SYSTEM_NAMESPACE);
    let secret = secrets.get("e2e-s3").await.expect("the Secret e2e-s3");
    let data = secret.data.unwrap_or_default();
    let value = |key: &str| {
        String::from_utf8(data.get(key).expect("an S3 credential").0.clone())
            .expect("UTF-8 credentials")
    };
    (value("access-key"), value("secret-key"))
}

/// A fetcher reaching the S3 server from this machine (the node itself): through its Pod's
/// address, which the node's bridge routes.
async fn host_fetcher(client: &Client) -> vmafx_fetch::Fetcher {
    let (key, secret) = s3_credentials(client).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), SYSTEM_NAMESPACE);
    let servers = pods
        .list(&ListParams::default().labels("app=e2e-s3"))
        .await
        .expect("failed to list the S3 server's Pods");
    let ip = servers
        .items
        .iter()
        .find_map(|p| p.status.as_ref()?.pod_ip.clone())
        .expect("the S3 server's Pod has an address");
    let endpoint = format!("http://{ip}:9000");
    let config = vmafx_fetch::FetchConfig::from_lookup(|name| match name {
        "AWS_ACCESS_KEY_ID" => Some(key.clone()),
        "AWS_SECRET_ACCESS_KEY" => Some(secret.clone()),
        "AWS_REGION" => Some("us-east-1".to_owned()),
        "AWS_ENDPOINT_URL_S3" => Some(endpoint.clone()),
        _ => None,
    });
    vmafx_fetch::Fetcher::new(config).expect("a fetcher for the S3 server")
}

/// A scratch folder for this test binary.
fn scratch() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("operator-pod");
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

/// The slow pair (written once per test binary, uploaded by [`upload_slow_pair`]): small to
/// move, but with CIEDE2000 on [`SLOW_CPU`] its Pod runs for tens of seconds.
fn slow_pair() -> &'static (PathBuf, PathBuf) {
    static PAIR: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    PAIR.get_or_init(|| {
        let mut fixture = vmafx_fixtures::fixtures()
            .into_iter()
            .find(|f| f.name == "pan_420_8bit_blur")
            .expect("fixture");
        fixture.name = "pod_slow_320x180";
        fixture.spec = ClipSpec {
            width: 320,
            height: 180,
            frames: 120,
            ..fixture.spec
        };
        let dir = scratch();
        let pair = (dir.join("slow-ref.y4m"), dir.join("slow-dist.y4m"));
        fixture
            .write_pair(&pair.0, &pair.1)
            .expect("failed to write the slow pair");
        pair
    })
}

/// Puts the slow pair into the bucket under `prefix`; returns the two keys.
async fn upload_slow_pair(client: &Client, prefix: &str) -> (String, String) {
    let fetcher = host_fetcher(client).await;
    let (reference, distorted) = slow_pair().clone();
    let keys = (
        format!("{prefix}/slow-ref.y4m"),
        format!("{prefix}/slow-dist.y4m"),
    );
    let uris = (
        format!("s3://{BUCKET}/{}", keys.0),
        format!("s3://{BUCKET}/{}", keys.1),
    );
    // The fetcher blocks on a runtime of its own.
    tokio::task::spawn_blocking(move || {
        for (path, uri) in [(reference, uris.0), (distorted, uris.1)] {
            let bytes = std::fs::read(&path).expect("the slow pair");
            fetcher
                .upload(&uri, &bytes)
                .unwrap_or_else(|e| panic!("failed to upload {uri}: {e}"));
        }
    })
    .await
    .expect("the upload task");
    keys
}

/// What `vmafx score` on this machine reports for a pair: the pooled VMAF and the JSON report.
fn local_score(reference: &Path, distorted: &Path, features: &[&str]) -> (f64, serde_json::Value) {
    let out = scratch().join(format!(
        "local-{}.json",
        vmafx_testenv::unique_name("score")
    ));
    let mut args = vec![
        "score".to_owned(),
        "-r".to_owned(),
        reference.display().to_string(),
        "-d".to_owned(),
        distorted.display().to_string(),
        "--json".to_owned(),
        "-q".to_owned(),
        "-o".to_owned(),
        out.display().to_string(),
    ];
    for feature in features {
        args.extend(["--feature".to_owned(), (*feature).to_owned()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, err) = support::run_cli(&args);
    assert_eq!(code, 0, "vmafx score failed: {err}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("the local report")).expect("JSON");
    let _ = std::fs::remove_file(&out);
    let vmaf = report["pooled_metrics"]["vmaf"]["mean"]
        .as_f64()
        .expect("a pooled VMAF");
    (vmaf, report)
}

/// The committed tiny pair (also in the bucket, baked into the S3 server's image).
fn tiny_pair() -> (PathBuf, PathBuf) {
    let dir = k8s::repo_root().join("test/e2e/fixtures");
    (dir.join("tiny-ref.y4m"), dir.join("tiny-dist.y4m"))
}

fn slow_resources() -> ResourceRequirements {
    let cpu = || [("cpu".to_owned(), Quantity(SLOW_CPU.to_owned()))].into();
    ResourceRequirements {
        requests: Some(cpu()),
        limits: Some(cpu()),
        ..Default::default()
    }
}

/// The status's score agrees with the printed one to the printed digits.
fn assert_same_score(got: Option<f64>, want: f64) {
    let got = got.expect("the status holds a score");
    assert!(
        (got - want).abs() <= 5e-7,
        "status score {got}, vmafx score {want}"
    );
}

#[tokio::test]
async fn a_pod_scores_the_pair_and_writes_the_per_frame_output() {
    let Some(e2e) = E2e::start("a_pod_scores_the_pair_and_writes_the_per_frame_output").await
    else {
        return;
    };
    let output = format!("s3://{BUCKET}/{}/tiny.json", e2e.namespace);
    let out = output.clone();
    e2e.create("tiny", "tiny-ref.y4m", "tiny-dist.y4m", |spec| {
        spec.features = vec!["psnr".to_owned()];
        spec.output = Some(out);
    })
    .await;
    let job = e2e
        .wait_phase("tiny", JobPhase::Succeeded, Duration::from_secs(180))
        .await;
    let status = job.status.expect("a status");
    let (reference, distorted) = tiny_pair();
    let (vmaf, report) = local_score(&reference, &distorted, &["psnr"]);
    assert_same_score(status.score, vmaf);
    assert!(status.scores.contains_key("psnr_y"), "{:?}", status.scores);
    assert_eq!(status.attempts, Some(1));
    assert_eq!(status.frames_done, Some(8));
    let pod_name = status.pod.expect("the status names the Pod");
    let pods = e2e.pods("tiny").await;
    let pod = pods
        .iter()
        .find(|p| kube::ResourceExt::name_any(*p) == pod_name)
        .expect("the named Pod exists");
    let spec = pod.spec.as_ref().expect("a Pod spec");
    assert_eq!(
        status.node, spec.node_name,
        "the status names the Pod's node"
    );
    let image = spec.containers[0].image.clone().unwrap_or_default();
    println!(
        "VmafxJob tiny: Pod {pod_name} on {:?} ran {image}: VMAF {vmaf}",
        spec.node_name
    );

    // The per-frame results the Pod wrote are the report vmafx writes here, less the timing.
    let fetcher = host_fetcher(&e2e.client).await;
    let written = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let path = fetcher
            .download(&output, dir.path())
            .unwrap_or_else(|e| panic!("failed to read back {output}: {e}"));
        std::fs::read(path).expect("the downloaded report")
    })
    .await
    .expect("the download task");
    let written: serde_json::Value = serde_json::from_slice(&written).expect("JSON output");
    for part in ["frames", "pooled_metrics", "aggregate_metrics"] {
        assert_eq!(written[part], report[part], "{part} of the Pod's output");
    }
    assert_eq!(written["frames"].as_array().map(Vec::len), Some(8));
}

#[tokio::test]
async fn a_bad_input_fails_at_once_with_the_pods_reason() {
    let Some(e2e) = E2e::start("a_bad_input_fails_at_once_with_the_pods_reason").await else {
        return;
    };
    let missing = format!("{}/no-such-clip.y4m", e2e.namespace);
    e2e.create("missing", &missing, "tiny-dist.y4m", |_| {})
        .await;
    let job = e2e
        .wait_phase("missing", JobPhase::Failed, Duration::from_secs(180))
        .await;
    let status = job.status.expect("a status");
    let reason = status.reason.clone().unwrap_or_default();
    assert!(
        reason.contains(&missing),
        "the reason names the input: {reason}"
    );
    let failed = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Failed")
        .expect("a Failed condition");
    assert_eq!(failed.reason, "ScoreFailed");
    assert_eq!(status.attempts, Some(1), "a bad input is not retried");
    assert_eq!(e2e.pods("missing").await.len(), 1, "one Pod, no retry");
    println!("VmafxJob missing: Failed ({}): {reason}", failed.reason);
}

#[tokio::test]
async fn deleting_a_running_job_removes_its_pod() {
    let Some(e2e) = E2e::start("deleting_a_running_job_removes_its_pod").await else {
        return;
    };
    let (reference, distorted) = upload_slow_pair(&e2e.client, &e2e.namespace).await;
    e2e.create("slow", &reference, &distorted, |spec| {
        spec.features = vec![support::SLOW_FEATURE.to_owned()];
        spec.resources = Some(slow_resources());
    })
    .await;
    let pod = e2e.running_pod("slow", None).await;
    e2e.wait_phase("slow", JobPhase::Running, Duration::from_secs(60))
        .await;
    e2e.api::<VmafxJob>()
        .delete("slow", &DeleteParams::default())
        .await
        .expect("failed to delete the VmafxJob");
    let started = std::time::Instant::now();
    poll_until!(
        Duration::from_secs(60),
        "the Pod and batch Job of a deleted VmafxJob to go",
        {
            let jobs = e2e
                .api::<Job>()
                .list(&ListParams::default().labels(&format!("{JOB_LABEL}=slow")))
                .await
                .expect("failed to list Jobs");
            (jobs.items.is_empty() && e2e.pods("slow").await.is_empty()).then_some(())
        }
    );
    println!(
        "VmafxJob slow deleted while Pod {pod} ran: Pod and batch Job gone in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test]
async fn an_evicted_pod_is_retried_and_the_job_succeeds() {
    let Some(e2e) = E2e::start("an_evicted_pod_is_retried_and_the_job_succeeds").await else {
        return;
    };
    let (reference, distorted) = upload_slow_pair(&e2e.client, &e2e.namespace).await;
    e2e.create("evicted", &reference, &distorted, |spec| {
        spec.features = vec![support::SLOW_FEATURE.to_owned()];
        spec.resources = Some(slow_resources());
        spec.max_attempts = Some(2);
    })
    .await;
    let first = e2e.running_pod("evicted", None).await;
    e2e.api::<Pod>()
        .evict(&first, &EvictParams::default())
        .await
        .unwrap_or_else(|e| panic!("failed to evict Pod {first}: {e}"));
    let retried = poll_until!(
        Duration::from_secs(120),
        "the Retried condition after the eviction",
        {
            let status = e2e.job("evicted").await.status.unwrap_or_default();
            status
                .conditions
                .iter()
                .find(|c| c.type_ == "Retried" && c.status == "True")
                .cloned()
                .filter(|_| status.attempts == Some(2))
        },
        format!("{:?}", e2e.job("evicted").await.status)
    );
    assert_eq!(retried.reason, "Evicted", "{retried:?}");
    let job = e2e
        .wait_phase("evicted", JobPhase::Succeeded, Duration::from_secs(300))
        .await;
    let status = job.status.expect("a status");
    assert_eq!(status.attempts, Some(2));
    let second = status.pod.clone().expect("the status names the Pod");
    assert_ne!(second, first, "the second attempt ran in a new Pod");
    let (reference, distorted) = slow_pair();
    let (vmaf, _) = local_score(reference, distorted, &[support::SLOW_FEATURE]);
    assert_same_score(status.score, vmaf);
    println!(
        "VmafxJob evicted: Pod {first} evicted ({}: {}), Pod {second} scored VMAF {vmaf}",
        retried.reason, retried.message
    );
}
