//! Behaviour of the SQLite queue, on real database files in temporary directories.

use std::collections::HashSet;
use std::sync::Arc;

use vmafx_queue::{
    Backend, Error, FeedbackFilter, HeldAttempt, JobFilter, JobSpec, JobState, JobStore,
    JobSummary, Lease, MetricScore, ModelScore, NodeFilter, NodeInfo, QueueConfig, SqliteStore,
    MAX_SUMMARY_METRICS,
};

const T0: i64 = 1_700_000_000_000;

fn open(dir: &tempfile::TempDir) -> SqliteStore {
    let store = SqliteStore::open(dir.path().join("queue.db"), QueueConfig::default()).unwrap();
    assert!(store.pipelined_sync());
    store
}

fn spec(name: &str) -> JobSpec {
    JobSpec::new(
        format!("file:///ref/{name}.y4m"),
        format!("file:///dis/{name}.y4m"),
    )
}

fn node_info(name: &str, backends: &[Backend], capacity: u32) -> NodeInfo {
    NodeInfo {
        name: name.to_owned(),
        vendor: "cpu".to_owned(),
        backends: backends.to_vec(),
        device: "test".to_owned(),
        capacity,
        version: "0.1.0".to_owned(),
        address: Some("http://127.0.0.1:1/healthz".to_owned()),
    }
}

/// What a node lists in its heartbeat for a lease it holds.
fn held(lease: &Lease) -> HeldAttempt {
    HeldAttempt {
        job_id: lease.job.id.clone(),
        token: lease.token,
    }
}

fn summary(frames: u64) -> JobSummary {
    JobSummary {
        frames,
        models: vec![ModelScore {
            model: "vmaf".to_owned(),
            mean: 90.5,
            min: 80.0,
            max: 99.0,
            harmonic_mean: 90.1,
        }],
        metrics: vec![MetricScore {
            name: "psnr_y".to_owned(),
            mean: 41.25,
            min: 38.5,
            max: 44.0,
            harmonic_mean: 40.0,
        }],
    }
}

#[test]
fn claims_by_priority_then_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut ids = Vec::new();
    for (i, priority) in [0, 5, 0, 5, 1].into_iter().enumerate() {
        let mut spec = spec(&format!("p{i}"));
        spec.priority = priority;
        ids.push(store.submit(spec, T0 + i as i64).unwrap().job.id);
    }
    let node = store
        .register_node(node_info("n1", &[Backend::Cpu], 10), T0)
        .unwrap()
        .node;
    let claimed: Vec<String> = store
        .claim(&node.id, 10, T0 + 10)
        .unwrap()
        .into_iter()
        .map(|lease| lease.job.id)
        .collect();
    let expected = vec![
        ids[1].clone(),
        ids[3].clone(),
        ids[4].clone(),
        ids[0].clone(),
        ids[2].clone(),
    ];
    assert_eq!(claimed, expected);
    for id in &claimed {
        let job = store.get(id).unwrap().unwrap();
        assert_eq!(job.state, JobState::Running);
        assert_eq!(job.attempts, 1);
        assert_eq!(job.node_id.as_deref(), Some(node.id.as_str()));
    }
}

#[test]
fn idempotency_key_returns_the_first_job() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut first = spec("a");
    first.idempotency_key = Some("uid-1".to_owned());
    let a = store.submit(first.clone(), T0).unwrap();
    assert!(a.created);
    let again = store.submit(first.clone(), T0 + 5).unwrap();
    assert!(!again.created);
    assert_eq!(again.job.id, a.job.id);
    assert_eq!(again.job.created_ms, T0);

    let mut different = first.clone();
    different.priority = 9;
    match store.submit(different, T0 + 6) {
        Err(Error::IdempotencyConflict { key, job_id }) => {
            assert_eq!(key, "uid-1");
            assert_eq!(job_id, a.job.id);
        }
        other => panic!("expected an idempotency conflict, got {other:?}"),
    }
    assert_eq!(store.counts().unwrap().total(), 1);

    // Another key, and no key at all, make new jobs.
    let mut other = first;
    other.idempotency_key = Some("uid-2".to_owned());
    assert!(store.submit(other, T0).unwrap().created);
    assert!(store.submit(spec("a"), T0).unwrap().created);
    assert!(store.submit(spec("a"), T0).unwrap().created);
    assert_eq!(store.counts().unwrap().pending, 4);
}

#[test]
fn invalid_specs_are_refused_and_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut bad = spec("x");
    bad.reference = " ".to_owned();
    let error = store.submit(bad, T0).unwrap_err().to_string();
    assert!(error.contains("reference"), "{error}");
    let mut bad = spec("x");
    bad.max_attempts = Some(0);
    let error = store.submit(bad, T0).unwrap_err().to_string();
    assert!(error.contains("max_attempts"), "{error}");
    assert_eq!(store.counts().unwrap().total(), 0);
}

#[test]
fn jobs_run_only_on_nodes_offering_their_backend() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut cuda = spec("cuda");
    cuda.backend = Backend::Cuda;
    cuda.priority = 10;
    let cuda_id = store.submit(cuda, T0).unwrap().job.id;
    let cpu_id = store.submit(spec("cpu"), T0).unwrap().job.id;

    let cpu_node = store
        .register_node(node_info("cpu", &[Backend::Cpu], 4), T0)
        .unwrap()
        .node;
    let gpu_node = store
        .register_node(node_info("gpu", &[Backend::Cuda], 4), T0)
        .unwrap()
        .node;
    let on_cpu = store.claim(&cpu_node.id, 4, T0).unwrap();
    assert_eq!(on_cpu.len(), 1);
    assert_eq!(on_cpu[0].job.id, cpu_id);
    let on_gpu = store.claim(&gpu_node.id, 4, T0).unwrap();
    assert_eq!(on_gpu.len(), 1);
    assert_eq!(on_gpu[0].job.id, cuda_id);

    // A node offering only vulkan gets nothing, even with work queued.
    store.submit(spec("cpu2"), T0).unwrap();
    let vk = store
        .register_node(node_info("vk", &[Backend::Vulkan], 4), T0)
        .unwrap()
        .node;
    assert!(store.claim(&vk.id, 4, T0).unwrap().is_empty());
}

#[test]
fn claims_never_exceed_free_capacity() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    for i in 0..10 {
        store.submit(spec(&format!("c{i}")), T0).unwrap();
    }
    let node = store
        .register_node(node_info("n", &[Backend::Cpu], 3), T0)
        .unwrap()
        .node;
    let first = store.claim(&node.id, 2, T0).unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(store.claim(&node.id, 5, T0).unwrap().len(), 1);
    assert!(store.claim(&node.id, 5, T0).unwrap().is_empty());
    assert_eq!(store.node(&node.id).unwrap().unwrap().running, 3);

    // Finishing one frees one slot.
    store
        .complete(
            &first[0].job.id,
            first[0].token,
            None,
            summary(1),
            b"{}".to_vec(),
            T0,
        )
        .unwrap();
    assert_eq!(store.claim(&node.id, 5, T0).unwrap().len(), 1);
    assert_eq!(store.counts().unwrap().running, 3);
}

#[test]
fn unknown_and_unhealthy_nodes_cannot_claim() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.submit(spec("a"), T0).unwrap();
    assert!(matches!(
        store.claim("no-such-node", 1, T0),
        Err(Error::NodeNotFound(_))
    ));
    let node = store
        .register_node(node_info("n", &[Backend::Cpu], 1), T0)
        .unwrap()
        .node;
    let reaped = store.reap(T0 + 60_001).unwrap();
    assert_eq!(reaped.unhealthy_nodes, vec![node.id.clone()]);
    assert!(matches!(
        store.claim(&node.id, 1, T0 + 60_002),
        Err(Error::NodeUnhealthy(_))
    ));
    // A heartbeat brings it back.
    store.heartbeat(&node.id, &[], T0 + 60_003).unwrap();
    assert_eq!(store.claim(&node.id, 1, T0 + 60_004).unwrap().len(), 1);
}

#[test]
fn expired_leases_requeue_with_backoff_then_fail_with_the_last_error() {
    let dir = tempfile::tempdir().unwrap();
    // A node timeout far beyond the test keeps the silent node healthy: only leases expire.
    let config = QueueConfig {
        node_timeout_ms: 3_600_000,
        ..QueueConfig::default()
    };
    let store = SqliteStore::open(dir.path().join("queue.db"), config).unwrap();
    let id = store.submit(spec("flaky"), T0).unwrap().job.id;
    let node = store
        .register_node(node_info("n", &[Backend::Cpu], 1), T0)
        .unwrap()
        .node;

    let mut now = T0;
    for attempt in 1..=3u32 {
        let leases = store.claim(&node.id, 1, now).unwrap();
        assert_eq!(leases.len(), 1, "attempt {attempt}");
        assert_eq!(leases[0].job.attempts, attempt);
        assert_eq!(leases[0].expires_ms, now + config.lease_ms);
        // Silence past the lease.
        now = leases[0].expires_ms + 1;
        let reaped = store.reap(now).unwrap();
        let job = store.get(&id).unwrap().unwrap();
        assert!(
            job.error.as_deref().unwrap().contains("lease expired"),
            "{job:?}"
        );
        if attempt < 3 {
            assert_eq!(reaped.requeued, vec![id.clone()]);
            assert_eq!(job.state, JobState::Pending);
            let backoff = config.backoff_base_ms << (attempt - 1);
            assert_eq!(job.not_before_ms, now + backoff);
            // Not claimable before the backoff has passed.
            assert!(store
                .claim(&node.id, 1, now + backoff - 1)
                .unwrap()
                .is_empty());
            now += backoff;
        } else {
            assert_eq!(reaped.failed, vec![id.clone()]);
            assert_eq!(job.state, JobState::Failed);
            assert_eq!(job.attempts, 3);
            assert_eq!(job.finished_ms, Some(now));
        }
    }
    assert!(store
        .claim(&node.id, 1, now + 1_000_000)
        .unwrap()
        .is_empty());
}

#[test]
fn renewed_leases_do_not_expire() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let id = store.submit(spec("long"), T0).unwrap().job.id;
    let node = store
        .register_node(node_info("n", &[Backend::Cpu], 1), T0)
        .unwrap()
        .node;
    let lease = store.claim(&node.id, 1, T0).unwrap().remove(0);
    // Progress and heartbeats that list the lease each push it out by lease_ms.
    store
        .progress(&id, lease.token, None, 10, Some(100), T0 + 25_000)
        .unwrap();
    let ack = store
        .heartbeat(&node.id, &[held(&lease)], T0 + 50_000)
        .unwrap();
    assert!(ack.lost.is_empty(), "{ack:?}");
    let reaped = store.reap(T0 + 79_000).unwrap();
    assert!(
        reaped.requeued.is_empty() && reaped.failed.is_empty(),
        "{reaped:?}"
    );
    let job = store.get(&id).unwrap().unwrap();
    assert_eq!(job.state, JobState::Running);
    assert_eq!((job.frames_done, job.frames_total), (10, Some(100)));
    assert_eq!(job.lease_expires_ms, Some(T0 + 80_000));
}

/// The CI failure of `durability.rs`: a controller killed after committing a claim but before
/// the node read the reply leaves a lease the node never learned of. Heartbeats must not keep
/// that ghost alive; it expires and the job runs again.
#[test]
fn heartbeats_renew_only_the_leases_the_node_lists() {
    let dir = tempfile::tempdir().unwrap();
    let config = QueueConfig {
        node_timeout_ms: 3_600_000,
        ..QueueConfig::default()
    };
    let store = SqliteStore::open(dir.path().join("queue.db"), config).unwrap();
    let known = store.submit(spec("known"), T0).unwrap().job.id;
    let ghost = store.submit(spec("ghost"), T0 + 1).unwrap().job.id;
    let node = store
        .register_node(node_info("n", &[Backend::Cpu], 2), T0)
        .unwrap()
        .node;
    let leases = store.claim(&node.id, 2, T0 + 2).unwrap();
    let kept = leases.iter().find(|l| l.job.id == known).unwrap();
    // The node heartbeats all along, naming only the lease it knows of.
    let mut now = T0 + 2;
    while now < T0 + 2 + config.lease_ms + 20_000 {
        now += 10_000;
        let ack = store.heartbeat(&node.id, &[held(kept)], now).unwrap();
        assert!(ack.lost.is_empty(), "{ack:?}");
        store.reap(now).unwrap();
    }
    assert_eq!(store.get(&known).unwrap().unwrap().state, JobState::Running);
    let requeued = store.get(&ghost).unwrap().unwrap();
    assert_eq!(requeued.state, JobState::Pending, "{requeued:?}");
    assert!(requeued.error.as_deref().unwrap().contains("lease expired"));

    // A listed attempt that is not the node's any more comes back as lost: a stale token, an
    // unknown job and a token too large to be stored all are.
    let stale = HeldAttempt {
        job_id: known.clone(),
        token: kept.token ^ 2,
    };
    let unknown = HeldAttempt {
        job_id: "no-such-job".to_owned(),
        token: 7,
    };
    let huge = HeldAttempt {
        job_id: known.clone(),
        token: u64::MAX,
    };
    let ack = store
        .heartbeat(&node.id, &[held(kept), stale, unknown, huge], now + 1)
        .unwrap();
    assert_eq!(
        ack.lost,
        vec![known.clone(), "no-such-job".to_owned(), known]
    );

    // The list is bounded by the capacity cap.
    let too_many = vec![held(kept); config.max_node_capacity as usize + 1];
    assert!(matches!(
        store.heartbeat(&node.id, &too_many, now + 2),
        Err(Error::InvalidSpec { field: "held", .. })
    ));
}

#[test]
fn retryable_failures_back_off_and_non_retryable_fail_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let retry = store.submit(spec("retry"), T0).unwrap().job.id;
    let node = store
        .register_node(node_info("n", &[Backend::Cpu], 1), T0)
        .unwrap()
        .node;
    let lease = store.claim(&node.id, 1, T0).unwrap().remove(0);
    let job = store
        .fail(
            &retry,
            lease.token,
            None,
            "bucket unreachable",
            true,
            T0 + 10,
        )
        .unwrap();
    assert_eq!(job.state, JobState::Pending);
    assert_eq!(job.not_before_ms, T0 + 10 + 1_000);
    assert_eq!(job.error.as_deref(), Some("bucket unreachable"));

    let lease = store.claim(&node.id, 1, T0 + 1_010).unwrap().remove(0);
    assert_eq!(lease.job.attempts, 2);
    let job = store
        .fail(
            &retry,
            lease.token,
            None,
            "corrupt input: bad Y4M header",
            false,
            T0 + 1_020,
        )
        .unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.error.as_deref(), Some("corrupt input: bad Y4M header"));
    let stored = store.get(&retry).unwrap().unwrap();
    assert_eq!(stored, job);
}

#[test]
fn stale_tokens_cannot_report_so_results_are_recorded_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let id = store.submit(spec("once"), T0).unwrap().job.id;
    let a = store
        .register_node(node_info("a", &[Backend::Cpu], 1), T0)
        .unwrap()
        .node;
    let b = store
        .register_node(node_info("b", &[Backend::Cpu], 1), T0)
        .unwrap()
        .node;
    let old = store.claim(&a.id, 1, T0).unwrap().remove(0);
    // Node a goes silent; its job moves to b.
    store.heartbeat(&b.id, &[], T0 + 60_000).unwrap();
    let reaped = store.reap(T0 + 60_001).unwrap();
    assert_eq!(reaped.unhealthy_nodes, vec![a.id.clone()]);
    assert_eq!(reaped.requeued, vec![id.clone()]);
    let new = store.claim(&b.id, 1, T0 + 62_000).unwrap().remove(0);
    assert_ne!(new.token, old.token);

    // The old holder wakes up: every report with its token is refused.
    assert!(matches!(
        store.progress(&id, old.token, None, 5, None, T0 + 62_001),
        Err(Error::LeaseLost { .. })
    ));
    assert!(matches!(
        store.complete(
            &id,
            old.token,
            None,
            summary(7),
            b"old".to_vec(),
            T0 + 62_002
        ),
        Err(Error::LeaseLost { .. })
    ));
    assert!(matches!(
        store.fail(&id, old.token, None, "late", true, T0 + 62_003),
        Err(Error::LeaseLost { .. })
    ));
    let done = store
        .complete(
            &id,
            new.token,
            None,
            summary(48),
            b"{\"frames\":[]}".to_vec(),
            T0 + 63_000,
        )
        .unwrap();
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(done.summary, Some(summary(48)));
    // A second complete by the rightful holder is refused too: exactly one result.
    assert!(matches!(
        store.complete(
            &id,
            new.token,
            None,
            summary(1),
            b"again".to_vec(),
            T0 + 63_001
        ),
        Err(Error::LeaseLost { .. })
    ));
    let job = store.get(&id).unwrap().unwrap();
    assert_eq!(job.summary, Some(summary(48)));
    assert_eq!(job.attempts, 2);
    assert_eq!(store.frames(&id).unwrap().unwrap(), b"{\"frames\":[]}");
    assert!(matches!(
        store.progress("missing", 1, None, 0, None, T0),
        Err(Error::JobNotFound(_))
    ));
}

#[test]
fn cancelling_pending_and_running_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let node = store
        .register_node(node_info("n", &[Backend::Cpu], 1), T0)
        .unwrap()
        .node;
    let mut urgent = spec("running");
    urgent.priority = 1;
    let running = store.submit(urgent, T0).unwrap().job.id;
    let pending = store.submit(spec("pending"), T0).unwrap().job.id;
    let lease = store.claim(&node.id, 1, T0).unwrap().remove(0);
    assert_eq!(lease.job.id, running);

    let job = store.cancel(&pending, T0 + 1).unwrap();
    assert_eq!(job.state, JobState::Cancelled);
    assert_eq!(job.finished_ms, Some(T0 + 1));

    let job = store.cancel(&running, T0 + 2).unwrap();
    assert_eq!(job.state, JobState::Running);
    assert!(job.cancel_requested);
    // The node hears of it through heartbeat and progress.
    assert_eq!(
        store.heartbeat(&node.id, &[], T0 + 3).unwrap().cancel,
        vec![running.clone()]
    );
    assert!(
        store
            .progress(&running, lease.token, None, 3, None, T0 + 4)
            .unwrap()
            .cancel
    );
    let job = store
        .fail(
            &running,
            lease.token,
            None,
            "cancelled by client",
            true,
            T0 + 5,
        )
        .unwrap();
    assert_eq!(job.state, JobState::Cancelled);
    assert_eq!(job.finished_ms, Some(T0 + 5));
    assert!(store
        .heartbeat(&node.id, &[], T0 + 6)
        .unwrap()
        .cancel
        .is_empty());

    // Terminal jobs are returned unchanged.
    assert_eq!(store.cancel(&running, T0 + 7).unwrap(), job);
    assert!(matches!(
        store.cancel("nope", T0),
        Err(Error::JobNotFound(_))
    ));
    let counts = store.counts().unwrap();
    assert_eq!(counts.cancelled, 2);
    assert_eq!(counts.total(), 2);
}

#[test]
fn silent_nodes_become_unhealthy_and_their_jobs_are_reclaimed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut one_shot = spec("one-shot");
    one_shot.max_attempts = Some(1);
    let last_try = store.submit(one_shot, T0).unwrap().job.id;
    let retried = store.submit(spec("retried"), T0).unwrap().job.id;
    let cancelled = store.submit(spec("cancelled"), T0).unwrap().job.id;
    let silent = store
        .register_node(node_info("silent", &[Backend::Cpu], 3), T0)
        .unwrap()
        .node;
    let alive = store
        .register_node(node_info("alive", &[Backend::Cpu], 3), T0)
        .unwrap()
        .node;
    let leases = store.claim(&silent.id, 3, T0).unwrap();
    assert_eq!(leases.len(), 3);
    store.cancel(&cancelled, T0 + 1).unwrap();

    // Within the timeout nothing happens.
    let listed: Vec<HeldAttempt> = leases.iter().map(held).collect();
    store.heartbeat(&silent.id, &listed, T0 + 20_000).unwrap();
    store.heartbeat(&alive.id, &[], T0 + 50_000).unwrap();
    assert_eq!(store.reap(T0 + 50_000).unwrap(), Default::default());

    store.heartbeat(&alive.id, &[], T0 + 80_000).unwrap();
    let reaped = store.reap(T0 + 80_001).unwrap();
    assert_eq!(reaped.unhealthy_nodes, vec![silent.id.clone()]);
    assert_eq!(reaped.requeued, vec![retried.clone()]);
    assert_eq!(reaped.failed, vec![last_try.clone()]);
    assert_eq!(reaped.cancelled, vec![cancelled.clone()]);
    let node = store.node(&silent.id).unwrap().unwrap();
    assert!(!node.healthy);
    assert_eq!(node.running, 0);
    let failed = store.get(&last_try).unwrap().unwrap();
    assert!(failed
        .error
        .as_deref()
        .unwrap()
        .contains("stopped heartbeating"));

    // The retried job goes to the live node after its backoff.
    let lease = store.claim(&alive.id, 3, T0 + 81_001).unwrap();
    assert_eq!(lease.len(), 1);
    assert_eq!(lease[0].job.id, retried);
    assert!(store
        .nodes()
        .unwrap()
        .iter()
        .any(|n| n.id == alive.id && n.healthy));
}

#[test]
fn listing_pages_newest_first_and_stays_stable_under_inserts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut ids = Vec::new();
    for i in 0..23 {
        ids.push(store.submit(spec(&format!("l{i}")), T0 + i).unwrap().job.id);
    }
    let mut seen = Vec::new();
    let mut filter = JobFilter {
        limit: 10,
        ..Default::default()
    };
    loop {
        let page = store.list(&filter).unwrap();
        assert!(page.jobs.len() <= 10);
        seen.extend(page.jobs.into_iter().map(|job| job.id));
        // A job submitted mid-listing shows up on no later page and shifts nothing.
        store.submit(spec("late"), T0 + 100).unwrap();
        match page.next_page_token {
            Some(token) => filter.page_token = Some(token),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen, expected);

    // Filters by state and node.
    let node = store
        .register_node(node_info("n", &[Backend::Cpu], 2), T0)
        .unwrap()
        .node;
    let claimed: HashSet<String> = store
        .claim(&node.id, 2, T0 + 200)
        .unwrap()
        .into_iter()
        .map(|lease| lease.job.id)
        .collect();
    let running = store
        .list(&JobFilter {
            states: vec![JobState::Running],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        running
            .jobs
            .iter()
            .map(|j| j.id.clone())
            .collect::<HashSet<_>>(),
        claimed
    );
    assert!(running.next_page_token.is_none());
    let on_node = store
        .list(&JobFilter {
            node_id: Some(node.id.clone()),
            states: vec![JobState::Running, JobState::Pending],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(on_node.jobs.len(), 2);
    let pending = store
        .list(&JobFilter {
            states: vec![JobState::Pending],
            limit: 1000,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(pending.jobs.len() as u64, store.counts().unwrap().pending);
    assert!(matches!(
        store.list(&JobFilter {
            page_token: Some("garbage".to_owned()),
            ..Default::default()
        }),
        Err(Error::InvalidPageToken(_))
    ));
}

#[test]
fn everything_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (done, running, pending, node_id, token) = {
        let store = open(&dir);
        let node = store
            .register_node(node_info("n", &[Backend::Cpu], 2), T0)
            .unwrap()
            .node;
        let mut keyed = spec("keyed");
        keyed.idempotency_key = Some("k".to_owned());
        keyed.priority = 3;
        let done = store.submit(keyed, T0).unwrap().job.id;
        let mut second = spec("running");
        second.priority = 2;
        let running = store.submit(second, T0).unwrap().job.id;
        let pending = store.submit(spec("pending"), T0).unwrap().job.id;
        let leases = store.claim(&node.id, 2, T0).unwrap();
        store
            .complete(
                &done,
                leases[0].token,
                None,
                summary(3),
                vec![7u8; 3 << 20],
                T0 + 1,
            )
            .unwrap();
        store
            .progress(&running, leases[1].token, None, 4, Some(9), T0 + 2)
            .unwrap();
        (done, running, pending, node.id, leases[1].token)
    };
    // Dropped: reopen the same directory (the directory form of the path).
    let store = SqliteStore::open(dir.path(), QueueConfig::default()).unwrap();
    assert!(store.pipelined_sync());
    let job = store.get(&done).unwrap().unwrap();
    assert_eq!(job.state, JobState::Completed);
    assert_eq!(job.summary, Some(summary(3)));
    assert_eq!(store.frames(&done).unwrap().unwrap(), vec![7u8; 3 << 20]);
    let mut keyed = spec("keyed");
    keyed.idempotency_key = Some("k".to_owned());
    keyed.priority = 3;
    assert!(!store.submit(keyed, T0 + 5).unwrap().created);
    let job = store.get(&running).unwrap().unwrap();
    assert_eq!(
        (job.state, job.frames_done, job.frames_total),
        (JobState::Running, 4, Some(9))
    );
    // The lease held before the restart is still honoured.
    store
        .complete(&running, token, None, summary(9), b"{}".to_vec(), T0 + 3)
        .unwrap();
    assert_eq!(
        store.get(&pending).unwrap().unwrap().state,
        JobState::Pending
    );
    assert_eq!(store.node(&node_id).unwrap().unwrap().info.name, "n");
    assert!(store.check_integrity().unwrap().is_empty());
}

#[test]
fn concurrent_callers_share_batches_and_all_get_their_own_reply() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&dir));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                for i in 0..50 {
                    let mut spec = spec(&format!("t{t}-{i}"));
                    // Half the calls carry a clashing key and must fail alone.
                    spec.idempotency_key = Some(format!("key-{i}"));
                    spec.priority = t;
                    match store.submit(spec, T0) {
                        Ok(submitted) => ids.push(submitted.job.id),
                        Err(Error::IdempotencyConflict { .. }) => {}
                        Err(other) => panic!("{other}"),
                    }
                }
                ids
            })
        })
        .collect();
    let ids: Vec<String> = threads
        .into_iter()
        .flat_map(|thread| thread.join().unwrap())
        .collect();
    assert_eq!(ids.len(), 50, "one winner per key");
    for id in &ids {
        assert!(store.get(id).unwrap().is_some());
    }
    assert_eq!(store.counts().unwrap().pending, 50);
}

#[test]
fn files_that_are_not_vmafx_queues_are_refused_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5au8; 8192]).unwrap();
    let error = SqliteStore::open(&garbage, QueueConfig::default()).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("failed to open queue database"),
        "{message}"
    );
    assert!(
        message.contains(&garbage.display().to_string()),
        "{message}"
    );
    assert!(message.contains("not a SQLite database"), "{message}");

    let foreign = dir.path().join("foreign.db");
    rusqlite_like_foreign_db(&foreign);
    let message = SqliteStore::open(&foreign, QueueConfig::default())
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(&foreign.display().to_string()),
        "{message}"
    );
    assert!(message.contains("another application"), "{message}");

    // A directory whose queue.db is damaged: the message names the file inside it.
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    {
        let store = SqliteStore::open(&data, QueueConfig::default()).unwrap();
        for i in 0..200 {
            store.submit(spec(&format!("d{i}")), T0).unwrap();
        }
    }
    let file = data.join("queue.db");
    let mut bytes = std::fs::read(&file).unwrap();
    let len = bytes.len();
    // Wreck everything after the first page (the header stays valid).
    for byte in &mut bytes[4096..len] {
        *byte = 0xa5;
    }
    std::fs::write(&file, bytes).unwrap();
    let message = SqliteStore::open(&data, QueueConfig::default())
        .unwrap_err()
        .to_string();
    assert!(message.contains(&file.display().to_string()), "{message}");
    assert!(message.contains("corrupt"), "{message}");
}

/// A SQLite file made by "another application": a plain table and no vmafx markers.
fn rusqlite_like_foreign_db(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("CREATE TABLE songs (title TEXT); INSERT INTO songs VALUES ('x');")
        .unwrap();
}

#[test]
fn registering_a_name_again_starts_a_new_incarnation_and_ends_the_old_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let retried = store.submit(spec("retried"), T0).unwrap().job.id;
    let mut one_shot = spec("one-shot");
    one_shot.max_attempts = Some(1);
    let last_try = store.submit(one_shot, T0).unwrap().job.id;
    let old = store
        .register_node(node_info("host-1", &[Backend::Cpu], 2), T0)
        .unwrap();
    assert!(old.requeued.is_empty());
    let old = old.node;
    let leases = store.claim(&old.id, 2, T0).unwrap();
    assert_eq!(leases.len(), 2);

    // SIGKILL and restart under the same name: the new process registers again.
    let again = store
        .register_node(node_info("host-1", &[Backend::Cpu], 4), T0 + 9)
        .unwrap();
    let new = again.node;
    assert_ne!(new.id, old.id);
    assert_eq!(
        (new.info.capacity, new.registered_ms, new.running),
        (4, T0 + 9, 0)
    );
    let ended: HashSet<String> = again.requeued.into_iter().collect();
    assert_eq!(ended, HashSet::from([retried.clone(), last_try.clone()]));
    let job = store.get(&retried).unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Pending, 1));
    assert_eq!(
        job.error.as_deref(),
        Some("node host-1 restarted (new incarnation)")
    );
    assert_eq!(job.not_before_ms, T0 + 9 + 1_000);
    let job = store.get(&last_try).unwrap().unwrap();
    assert_eq!(job.state, JobState::Failed);

    // The old incarnation is refused everywhere, and its heartbeats renew nothing.
    let superseded = |result: Result<(), Error>| match result {
        Err(Error::NodeSuperseded { node_id, name }) => {
            assert_eq!(
                (node_id.as_str(), name.as_str()),
                (old.id.as_str(), "host-1")
            );
        }
        other => panic!("expected NodeSuperseded, got {other:?}"),
    };
    superseded(store.heartbeat(&old.id, &[], T0 + 10).map(drop));
    superseded(store.claim(&old.id, 1, T0 + 10).map(drop));
    let token = leases[0].token;
    let job_id = &leases[0].job.id;
    superseded(
        store
            .progress(job_id, token, Some(&old.id), 1, None, T0 + 10)
            .map(drop),
    );
    superseded(
        store
            .complete(job_id, token, Some(&old.id), summary(1), vec![], T0 + 10)
            .map(drop),
    );
    superseded(
        store
            .fail(job_id, token, Some(&old.id), "late", true, T0 + 10)
            .map(drop),
    );
    // Without a holder only the token speaks, and it is stale.
    assert!(matches!(
        store.complete(job_id, token, None, summary(1), vec![], T0 + 10),
        Err(Error::LeaseLost { .. })
    ));

    // One live node per name; the old incarnation remains as history.
    let nodes = store.nodes().unwrap();
    assert_eq!(
        nodes.iter().map(|n| n.id.clone()).collect::<Vec<_>>(),
        vec![new.id.clone()]
    );
    let history = store.node(&old.id).unwrap().unwrap();
    assert!(!history.healthy);
    assert_eq!(history.running, 0);
    let on_old = store
        .list(&JobFilter {
            node_id: Some(old.id.clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(on_old.jobs.len(), 2);

    // The new incarnation runs the requeued job after its backoff, and reaping later finds
    // nothing left of the old one.
    let lease = store.claim(&new.id, 4, T0 + 1_009).unwrap().remove(0);
    assert_eq!(
        (lease.job.id.as_str(), lease.job.attempts),
        (retried.as_str(), 2)
    );
    store
        .heartbeat(&new.id, &[held(&lease)], T0 + 50_000)
        .unwrap();
    assert_eq!(store.reap(T0 + 70_000).unwrap(), Default::default());
    store
        .complete(
            &retried,
            lease.token,
            Some(&new.id),
            summary(5),
            b"{}".to_vec(),
            T0 + 70_001,
        )
        .unwrap();
    assert!(store.check_integrity().unwrap().is_empty());
}

#[test]
fn only_the_lease_holder_may_report_on_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let id = store.submit(spec("mine"), T0).unwrap().job.id;
    let a = store
        .register_node(node_info("a", &[Backend::Cpu], 1), T0)
        .unwrap()
        .node;
    let b = store
        .register_node(node_info("b", &[Backend::Cpu], 1), T0)
        .unwrap()
        .node;
    let lease = store.claim(&a.id, 1, T0).unwrap().remove(0);

    // Node b, even holding a's real token, may not touch a's job.
    let not_holder = |result: Result<(), Error>| match result {
        Err(Error::NotLeaseHolder { job_id, node_id }) => {
            assert_eq!(
                (job_id.as_str(), node_id.as_str()),
                (id.as_str(), b.id.as_str())
            );
        }
        other => panic!("expected NotLeaseHolder, got {other:?}"),
    };
    not_holder(
        store
            .progress(&id, lease.token, Some(&b.id), 1, None, T0 + 1)
            .map(drop),
    );
    not_holder(
        store
            .complete(&id, lease.token, Some(&b.id), summary(1), vec![], T0 + 1)
            .map(drop),
    );
    not_holder(
        store
            .fail(&id, lease.token, Some(&b.id), "forged", false, T0 + 1)
            .map(drop),
    );
    let message = store
        .fail(&id, lease.token, Some(&b.id), "forged", false, T0 + 1)
        .unwrap_err()
        .to_string();
    assert!(message.contains("does not hold its lease"), "{message}");
    // An unknown holder is no node at all; the holder's own wrong token is a lost lease.
    assert!(matches!(
        store.progress(&id, lease.token, Some("ghost"), 1, None, T0 + 1),
        Err(Error::NodeNotFound(_))
    ));
    assert!(matches!(
        store.progress(&id, lease.token + 2, Some(&a.id), 1, None, T0 + 1),
        Err(Error::LeaseLost { .. })
    ));
    let job = store.get(&id).unwrap().unwrap();
    assert_eq!((job.state, job.frames_done), (JobState::Running, 0));

    assert!(
        !store
            .progress(&id, lease.token, Some(&a.id), 3, Some(9), T0 + 2)
            .unwrap()
            .cancel
    );
    let done = store
        .complete(&id, lease.token, Some(&a.id), summary(9), vec![], T0 + 3)
        .unwrap();
    assert_eq!(done.state, JobState::Completed);
}

#[test]
fn node_capacity_is_capped_at_registration_and_claim() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    for i in 0..10 {
        let store = SqliteStore::open(&path, QueueConfig::default()).unwrap();
        store.submit(spec(&format!("cap{i}")), T0).unwrap();
    }
    let default_cap = QueueConfig::default().max_node_capacity;
    assert_eq!(default_cap, 256);
    let node_id = {
        let store = SqliteStore::open(&path, QueueConfig::default()).unwrap();
        let error = store
            .register_node(node_info("greedy", &[Backend::Cpu], default_cap + 1), T0)
            .unwrap_err();
        assert!(
            matches!(
                error,
                Error::InvalidSpec {
                    field: "capacity",
                    ..
                }
            ),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("257") && message.contains("256"),
            "{message}"
        );
        assert!(store.nodes().unwrap().is_empty());
        store
            .register_node(node_info("greedy", &[Backend::Cpu], default_cap), T0)
            .unwrap()
            .node
            .id
    };
    // A lower cap binds a node registered under a higher one.
    let config = QueueConfig {
        max_node_capacity: 3,
        ..QueueConfig::default()
    };
    let store = SqliteStore::open(&path, config).unwrap();
    assert_eq!(store.claim(&node_id, 100, T0).unwrap().len(), 3);
    assert!(store.claim(&node_id, 100, T0).unwrap().is_empty());
    assert!(matches!(
        store.register_node(node_info("other", &[Backend::Cpu], 4), T0),
        Err(Error::InvalidSpec {
            field: "capacity",
            ..
        })
    ));
}

#[test]
fn results_with_nan_or_infinity_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let id = store.submit(spec("nan"), T0).unwrap().job.id;
    let node = store
        .register_node(node_info("n", &[Backend::Cpu], 1), T0)
        .unwrap()
        .node;
    let lease = store.claim(&node.id, 1, T0).unwrap().remove(0);
    /// Puts a bad value into one statistic.
    type Spoil = fn(&mut ModelScore);
    let cases: [(&str, Spoil); 3] = [
        ("NaN as the mean", |s| s.mean = f64::NAN),
        ("inf as the max", |s| s.max = f64::INFINITY),
        ("-inf as the harmonic_mean", |s| {
            s.harmonic_mean = f64::NEG_INFINITY
        }),
    ];
    for (expected, spoil) in cases {
        let mut bad = summary(3);
        bad.models.push(ModelScore {
            model: "vmaf_neg".to_owned(),
            ..bad.models[0].clone()
        });
        spoil(&mut bad.models[1]);
        let error = store
            .complete(&id, lease.token, Some(&node.id), bad, vec![], T0 + 1)
            .unwrap_err();
        assert!(
            matches!(
                error,
                Error::InvalidSpec {
                    field: "summary",
                    ..
                }
            ),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains(expected) && message.contains("vmaf_neg"),
            "{message}"
        );
    }
    let job = store.get(&id).unwrap().unwrap();
    assert_eq!((job.state, job.summary), (JobState::Running, None));
    store
        .complete(&id, lease.token, Some(&node.id), summary(3), vec![], T0 + 2)
        .unwrap();
}

#[test]
fn metric_statistics_may_be_infinite_and_their_count_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let id = store.submit(spec("metrics"), T0).unwrap().job.id;
    let node = store
        .register_node(node_info("n", &[Backend::Cpu], 1), T0)
        .unwrap()
        .node;
    let lease = store.claim(&node.id, 1, T0).unwrap().remove(0);
    let metric = |name: &str| MetricScore {
        name: name.to_owned(),
        mean: 30.0,
        min: 20.0,
        max: 40.0,
        harmonic_mean: 29.0,
    };
    for (bad, expected) in [
        (
            (0..=MAX_SUMMARY_METRICS)
                .map(|i| metric(&format!("m{i}")))
                .collect::<Vec<_>>(),
            "metrics; at most",
        ),
        (vec![metric("")], "metric name of 0 bytes"),
        (vec![metric(&"x".repeat(257))], "metric name of 257 bytes"),
    ] {
        let mut summary = summary(3);
        summary.metrics = bad;
        let error = store
            .complete(&id, lease.token, Some(&node.id), summary, vec![], T0 + 1)
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains(expected), "{message}");
    }
    // A PSNR of identical frames is infinite: stored, and read back as NaN (JSON has no inf).
    let mut infinite = summary(3);
    infinite.metrics[0].max = f64::INFINITY;
    store
        .complete(&id, lease.token, Some(&node.id), infinite, vec![], T0 + 2)
        .unwrap();
    let job = store.get(&id).unwrap().unwrap();
    let metrics = job.summary.unwrap().metrics;
    assert_eq!(metrics.len(), 1);
    assert_eq!(
        (metrics[0].name.as_str(), metrics[0].mean),
        ("psnr_y", 41.25)
    );
    assert!(metrics[0].max.is_nan());
}

#[test]
fn an_old_row_holding_null_scores_still_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let id = {
        let store = SqliteStore::open(&path, QueueConfig::default()).unwrap();
        let id = store.submit(spec("old"), T0).unwrap().job.id;
        let node = store
            .register_node(node_info("n", &[Backend::Cpu], 1), T0)
            .unwrap()
            .node;
        let lease = store.claim(&node.id, 1, T0).unwrap().remove(0);
        store
            .complete(&id, lease.token, None, summary(3), vec![], T0 + 1)
            .unwrap();
        id
    };
    // What an older vmafx wrote for a NaN (serde_json turns NaN and infinities into null).
    let conn = rusqlite::Connection::open(&path).unwrap();
    let changed = conn
        .execute(
            "UPDATE jobs SET summary = ?2 WHERE id = ?1",
            rusqlite::params![
                id,
                r#"{"frames":3,"models":[{"model":"vmaf","mean":null,"min":1.5,"max":null,"harmonic_mean":2.5}]}"#
            ],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);

    let store = SqliteStore::open(&path, QueueConfig::default()).unwrap();
    let job = store.get(&id).unwrap().unwrap();
    let score = &job.summary.as_ref().unwrap().models[0];
    assert!(score.mean.is_nan() && score.max.is_nan());
    assert_eq!((score.min, score.harmonic_mean), (1.5, 2.5));
    let page = store.list(&JobFilter::default()).unwrap();
    assert_eq!(page.jobs.len(), 1);
    assert!(store.check_integrity().unwrap().is_empty());
}

#[test]
fn node_listing_pages_live_nodes_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut ids = Vec::new();
    for i in 0..25 {
        let node = store
            .register_node(node_info(&format!("n{i:02}"), &[Backend::Cpu], 1), T0 + i)
            .unwrap()
            .node;
        ids.push(node.id);
    }
    // n03 restarts: its new incarnation is now the newest, the old one is gone from listings.
    let restarted = store
        .register_node(node_info("n03", &[Backend::Cpu], 1), T0 + 100)
        .unwrap()
        .node;
    ids.remove(3);
    ids.push(restarted.id);

    let mut filter = NodeFilter {
        limit: 10,
        page_token: None,
    };
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.list_nodes(&filter).unwrap();
        pages += 1;
        assert!(page.nodes.len() <= 10);
        seen.extend(page.nodes.into_iter().map(|node| node.id));
        match page.next_page_token {
            Some(token) => filter.page_token = Some(token),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);
    let all = store.list_nodes(&NodeFilter::default()).unwrap();
    assert_eq!(all.nodes.len(), 25);
    assert!(all.next_page_token.is_none());
    assert_eq!(
        store
            .nodes()
            .unwrap()
            .into_iter()
            .map(|node| node.id)
            .collect::<Vec<_>>(),
        ids
    );
    assert!(matches!(
        store.list_nodes(&NodeFilter {
            limit: 5,
            page_token: Some("-4".to_owned()),
        }),
        Err(Error::InvalidPageToken(_))
    ));
}

/// Claims every pending job on `node_id` and completes it at `now_ms` with a frames document of
/// `frame_bytes`.
fn run_all(store: &SqliteStore, node_id: &str, now_ms: i64, frame_bytes: usize) -> usize {
    let mut done = 0;
    loop {
        let leases = store.claim(node_id, 256, now_ms).unwrap();
        if leases.is_empty() {
            return done;
        }
        for lease in leases {
            store
                .complete(
                    &lease.job.id,
                    lease.token,
                    Some(node_id),
                    summary(1),
                    vec![b'x'; frame_bytes],
                    now_ms,
                )
                .unwrap();
            done += 1;
        }
    }
}

#[test]
fn purge_deletes_old_finished_jobs_their_frames_and_dead_nodes_in_bounded_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let worker = store
        .register_node(node_info("worker", &[Backend::Cpu], 256), T0)
        .unwrap()
        .node;
    let day = 86_400_000;
    // 1,500 old results, one with an idempotency key.
    for i in 0..1_500 {
        let mut old = spec(&format!("old{i}"));
        if i == 0 {
            old.idempotency_key = Some("nightly-1".to_owned());
        }
        store.submit(old, T0).unwrap();
    }
    assert_eq!(run_all(&store, &worker.id, T0 + 1, 100), 1_500);
    let old_failed = store.submit(spec("old-failed"), T0).unwrap().job.id;
    let lease = store.claim(&worker.id, 1, T0).unwrap().remove(0);
    store
        .fail(&old_failed, lease.token, None, "bad input", false, T0 + 2)
        .unwrap();
    let old_cancelled = store.submit(spec("old-cancelled"), T0).unwrap().job.id;
    store.cancel(&old_cancelled, T0 + 3).unwrap();
    // Recent and unfinished jobs stay, however old they are.
    let mut pending = spec("old-pending");
    pending.backend = Backend::Cuda;
    let old_pending = store.submit(pending, T0).unwrap().job.id;
    let mut running = spec("old-running");
    running.priority = 9;
    let old_running = store.submit(running, T0).unwrap().job.id;
    let old_running_lease = store.claim(&worker.id, 1, T0 + 4).unwrap().remove(0);
    let recent = store.submit(spec("recent"), T0 + 40 * day).unwrap().job.id;
    let recent_lease = store.claim(&worker.id, 2, T0 + 40 * day).unwrap();
    assert_eq!(recent_lease.len(), 1);
    store
        .complete(
            &recent,
            recent_lease[0].token,
            None,
            summary(1),
            b"{}".to_vec(),
            T0 + 40 * day,
        )
        .unwrap();

    // Nodes: one dead for long, one superseded long ago, one alive.
    let dead = store
        .register_node(node_info("dead", &[Backend::Cpu], 1), T0)
        .unwrap()
        .node;
    let first = store
        .register_node(node_info("restarted", &[Backend::Cpu], 1), T0)
        .unwrap()
        .node;
    let second = store
        .register_node(node_info("restarted", &[Backend::Cpu], 1), T0 + 5)
        .unwrap()
        .node;
    let now = T0 + 41 * day;
    store
        .heartbeat(&worker.id, &[held(&old_running_lease)], now)
        .unwrap();
    store.heartbeat(&second.id, &[], now).unwrap();
    let reaped = store.reap(now).unwrap();
    assert_eq!(reaped.unhealthy_nodes, vec![dead.id.clone()]);

    let cutoff = now - 30 * day;
    let first_pass = store.purge(Some(cutoff), Some(now - day), now).unwrap();
    assert_eq!(first_pass.jobs, vmafx_queue::PURGE_BATCH);
    assert_eq!(first_pass.nodes, 2);
    let second_pass = store.purge(Some(cutoff), Some(now - day), now).unwrap();
    assert_eq!(second_pass.jobs, 502);
    assert_eq!(second_pass.nodes, 0);
    assert_eq!(
        store.purge(Some(cutoff), Some(now - day), now).unwrap(),
        Default::default()
    );

    for gone in [&old_failed, &old_cancelled] {
        assert!(store.get(gone).unwrap().is_none(), "{gone}");
    }
    assert!(store.get(&old_pending).unwrap().is_some());
    assert!(store.get(&old_running).unwrap().is_some());
    assert!(store.get(&recent).unwrap().is_some());
    assert_eq!(store.frames(&recent).unwrap().unwrap(), b"{}");
    let counts = store.counts().unwrap();
    assert_eq!(
        (
            counts.completed,
            counts.pending,
            counts.running,
            counts.total()
        ),
        (1, 1, 1, 3)
    );
    assert!(store.node(&dead.id).unwrap().is_none());
    assert!(store.node(&first.id).unwrap().is_none());
    assert!(store.node(&second.id).unwrap().is_some());
    assert!(store.node(&worker.id).unwrap().is_some());
    // A purged node that comes back is told to register again.
    assert!(matches!(
        store.heartbeat(&dead.id, &[], now),
        Err(Error::NodeNotFound(_))
    ));
    // The idempotency key of a purged job is free again.
    let mut again = spec("old0");
    again.idempotency_key = Some("nightly-1".to_owned());
    assert!(store.submit(again, now).unwrap().created);
    // `None` purges nothing of that kind.
    assert_eq!(store.purge(None, None, now).unwrap(), Default::default());
    assert!(store.check_integrity().unwrap().is_empty());
}

/// Bytes on disk of a file, 0 when it does not exist.
fn file_bytes(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[test]
fn the_file_stops_growing_under_submit_complete_purge() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("queue.db");
    let wal = dir.path().join("queue.db-wal");
    let store = open(&dir);
    let node = store
        .register_node(node_info("n", &[Backend::Cpu], 256), T0)
        .unwrap()
        .node;
    let mut sizes = Vec::new();
    let mut wal_max = 0;
    for round in 0..12_i64 {
        let now = T0 + round * 1_000;
        for i in 0..100 {
            let mut job = spec(&format!("r{round}-{i}"));
            job.idempotency_key = Some(format!("key-{round}-{i}"));
            store.submit(job, now).unwrap();
        }
        assert_eq!(run_all(&store, &node.id, now, 32 << 10), 100);
        // Keep the last round's results; forget the older ones.
        while store.purge(Some(now), None, now + 1).unwrap().jobs > 0 {}
        assert_eq!(store.counts().unwrap().total(), 100);
        // Let the syncer's periodic checkpoint catch up, as it does between bursts.
        std::thread::sleep(std::time::Duration::from_millis(300));
        sizes.push(file_bytes(&db));
        wal_max = wal_max.max(file_bytes(&wal));
    }
    println!("database bytes per round: {sizes:?}; largest WAL: {wal_max} bytes");
    let warm = sizes[..4].iter().copied().max().unwrap();
    let late = sizes[4..].iter().copied().max().unwrap();
    // Freed pages are reused: after warm-up the file never grows past its early peak.
    assert!(
        late <= warm + (warm / 10),
        "the database file kept growing: {sizes:?}"
    );
    // The WAL is reused from its start after each checkpoint, and cut back to 64 MiB after a
    // burst; these rounds write far less than that between checkpoints.
    assert!(wal_max <= 64 << 20, "the WAL grew to {wal_max} bytes");
}

#[test]
fn a_big_purge_gives_space_back_to_the_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("queue.db");
    let store = open(&dir);
    let node = store
        .register_node(node_info("n", &[Backend::Cpu], 256), T0)
        .unwrap()
        .node;
    for i in 0..400 {
        store.submit(spec(&format!("big{i}")), T0).unwrap();
    }
    assert_eq!(run_all(&store, &node.id, T0, 64 << 10), 400);
    drop(store);
    let full = std::fs::metadata(&db).unwrap().len();
    let store = open(&dir);
    while store.purge(Some(T0 + 1), None, T0 + 2).unwrap().jobs > 0 {}
    // Each call gives back a bounded number of pages; periodic calls finish the job.
    for _ in 0..4 {
        store.purge(Some(T0 + 1), None, T0 + 2).unwrap();
    }
    drop(store);
    let purged = std::fs::metadata(&db).unwrap().len();
    assert!(
        purged < full / 2,
        "the file did not shrink: {full} -> {purged} bytes"
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mode: i64 = conn
        .query_row("PRAGMA auto_vacuum", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, 2, "new databases use auto_vacuum=INCREMENTAL");
}

#[test]
fn check_writable_probes_through_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    for _ in 0..3 {
        store.check_writable().unwrap();
    }
    assert_eq!(store.failure(), None);
    assert!(store.check_integrity().unwrap().is_empty());
}

/// Schema version 1, as vmafx wrote it before node incarnations.
const SCHEMA_V1: &str = "
    CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, spec TEXT NOT NULL,
        backend TEXT NOT NULL, priority INTEGER NOT NULL, idempotency_key TEXT UNIQUE,
        state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL,
        node_id TEXT, frames_done INTEGER NOT NULL DEFAULT 0, frames_total INTEGER, error TEXT,
        created_ms INTEGER NOT NULL, started_ms INTEGER, finished_ms INTEGER,
        not_before_ms INTEGER NOT NULL, lease_token INTEGER NOT NULL DEFAULT 0,
        lease_expires_ms INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0, summary TEXT
    );
    CREATE INDEX jobs_pending ON jobs (priority DESC, seq) WHERE state = 'PENDING';
    CREATE INDEX jobs_running_node ON jobs (node_id) WHERE state = 'RUNNING';
    CREATE INDEX jobs_running_lease ON jobs (lease_expires_ms) WHERE state = 'RUNNING';
    CREATE INDEX jobs_state_seq ON jobs (state, seq);
    CREATE INDEX jobs_node_seq ON jobs (node_id, seq);
    CREATE TABLE job_frames (job_id TEXT PRIMARY KEY REFERENCES jobs (id), document BLOB NOT NULL);
    CREATE TABLE nodes (
        seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL UNIQUE,
        info TEXT NOT NULL, registered_ms INTEGER NOT NULL, last_heartbeat_ms INTEGER NOT NULL,
        healthy INTEGER NOT NULL
    );
    PRAGMA application_id = 1986881137; -- 0x766d6671, vmfq
    PRAGMA user_version = 1;
";

#[test]
fn a_version_1_database_migrates_with_its_nodes_and_running_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        let info = serde_json::to_string(&node_info("host-1", &[Backend::Cpu], 2)).unwrap();
        conn.execute(
            "INSERT INTO nodes (id, name, info, registered_ms, last_heartbeat_ms, healthy) \
             VALUES ('node-v1', 'host-1', ?1, ?2, ?2, 1)",
            rusqlite::params![info, T0],
        )
        .unwrap();
        let job_spec = serde_json::to_string(&spec("v1")).unwrap();
        conn.execute(
            "INSERT INTO jobs (id, spec, backend, priority, state, attempts, max_attempts, \
             node_id, created_ms, started_ms, not_before_ms, lease_token, lease_expires_ms) \
             VALUES ('job-v1', ?1, 'cpu', 0, 'RUNNING', 1, 3, 'node-v1', ?2, ?2, ?2, 7, ?3)",
            rusqlite::params![job_spec, T0, T0 + 30_000],
        )
        .unwrap();
    }

    let store = open(&dir);
    let old = store.node("node-v1").unwrap().unwrap();
    assert_eq!((old.info.name.as_str(), old.running), ("host-1", 1));
    assert_eq!(store.nodes().unwrap().len(), 1);
    store.heartbeat("node-v1", &[], T0 + 1).unwrap();
    store.check_writable().unwrap();

    // The node restarts: the migrated incarnation is superseded like any other.
    let again = store
        .register_node(node_info("host-1", &[Backend::Cpu], 2), T0 + 2)
        .unwrap();
    assert_eq!(again.requeued, vec!["job-v1".to_owned()]);
    assert!(matches!(
        store.heartbeat("node-v1", &[], T0 + 3),
        Err(Error::NodeSuperseded { .. })
    ));
    assert_eq!(
        store.get("job-v1").unwrap().unwrap().state,
        JobState::Pending
    );
    assert!(store.check_integrity().unwrap().is_empty());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 3);
}

#[test]
fn feedback_is_stored_for_completed_jobs_only_and_read_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let store = open(&dir);
    let node = store
        .register_node(node_info("n", &[Backend::Cpu], 2), T0)
        .unwrap()
        .node;
    let done_a = store.submit(spec("a"), T0).unwrap().job.id;
    let done_b = store.submit(spec("b"), T0).unwrap().job.id;
    for lease in store.claim(&node.id, 2, T0).unwrap() {
        store
            .complete(
                &lease.job.id,
                lease.token,
                None,
                summary(3),
                b"{}".to_vec(),
                T0,
            )
            .unwrap();
    }
    let pending = store.submit(spec("pending"), T0).unwrap().job.id;

    // Refused, naming the field, and nothing stored.
    for (id, target, field) in [
        ("no-such-job", 50.0, "id"),
        (pending.as_str(), 50.0, "id"),
        (done_a.as_str(), 100.5, "target"),
        (done_a.as_str(), -0.1, "target"),
        (done_a.as_str(), f64::NAN, "target"),
        (done_a.as_str(), f64::INFINITY, "target"),
    ] {
        match store.add_feedback(id, target, T0) {
            Err(Error::InvalidSpec { field: f, .. }) => assert_eq!(f, field, "{id} {target}"),
            other => panic!("{id} {target}: expected InvalidSpec, got {other:?}"),
        }
    }
    assert!(store
        .list_feedback(&FeedbackFilter::default())
        .unwrap()
        .is_empty());

    let first = store.add_feedback(&done_a, 87.5, T0 + 1).unwrap();
    assert_eq!(first.node_id.as_deref(), Some(node.id.as_str()));
    store.add_feedback(&done_b, 0.0, T0 + 2).unwrap();
    // Given again: replaced, and moved after the others.
    let again = store.add_feedback(&done_a, 100.0, T0 + 3).unwrap();
    assert!(again.seq > first.seq);
    drop(store);

    let store = SqliteStore::open(&path, QueueConfig::default()).unwrap();
    let all = store.list_feedback(&FeedbackFilter::default()).unwrap();
    let seen: Vec<(&str, f64)> = all.iter().map(|f| (f.job_id.as_str(), f.target)).collect();
    assert_eq!(seen, vec![(done_b.as_str(), 0.0), (done_a.as_str(), 100.0)]);
    let rest = store
        .list_feedback(&FeedbackFilter {
            after_seq: all[0].seq,
            limit: 1,
        })
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].job_id, done_a);

    // Retention deletes a job's feedback with it.
    store.purge(Some(T0 + 10), None, T0 + 10).unwrap();
    assert!(store
        .list_feedback(&FeedbackFilter::default())
        .unwrap()
        .is_empty());
    assert!(store.check_integrity().unwrap().is_empty());
}
