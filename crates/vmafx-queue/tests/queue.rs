//! Behaviour of the SQLite queue, on real database files in temporary directories.

use std::collections::HashSet;
use std::sync::Arc;

use vmafx_queue::{
    Backend, Error, JobFilter, JobSpec, JobState, JobStore, JobSummary, ModelScore, NodeInfo,
    QueueConfig, SqliteStore,
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
        .unwrap();
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
        .unwrap();
    let gpu_node = store
        .register_node(node_info("gpu", &[Backend::Cuda], 4), T0)
        .unwrap();
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
        .unwrap();
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
        .unwrap();
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
        .unwrap();
    let reaped = store.reap(T0 + 60_001).unwrap();
    assert_eq!(reaped.unhealthy_nodes, vec![node.id.clone()]);
    assert!(matches!(
        store.claim(&node.id, 1, T0 + 60_002),
        Err(Error::NodeUnhealthy(_))
    ));
    // A heartbeat brings it back.
    store.heartbeat(&node.id, T0 + 60_003).unwrap();
    assert_eq!(store.claim(&node.id, 1, T0 + 60_004).unwrap().len(), 1);
}

#[test]
fn expired_leases_requeue_with_backoff_then_fail_with_the_last_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = QueueConfig::default();
    let store = open(&dir);
    let id = store.submit(spec("flaky"), T0).unwrap().job.id;
    let node = store
        .register_node(node_info("n", &[Backend::Cpu], 1), T0)
        .unwrap();

    let mut now = T0;
    for attempt in 1..=3u32 {
        let leases = store.claim(&node.id, 1, now).unwrap();
        assert_eq!(leases.len(), 1, "attempt {attempt}");
        assert_eq!(leases[0].job.attempts, attempt);
        assert_eq!(leases[0].expires_ms, now + config.lease_ms);
        // Silence past the lease, while the node itself keeps registering as alive.
        now = leases[0].expires_ms + 1;
        store
            .register_node(node_info("n", &[Backend::Cpu], 1), now)
            .unwrap();
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
        .unwrap();
    let lease = store.claim(&node.id, 1, T0).unwrap().remove(0);
    // Progress and heartbeats each push the lease out by lease_ms.
    store
        .progress(&id, lease.token, 10, Some(100), T0 + 25_000)
        .unwrap();
    store.heartbeat(&node.id, T0 + 50_000).unwrap();
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

#[test]
fn retryable_failures_back_off_and_non_retryable_fail_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let retry = store.submit(spec("retry"), T0).unwrap().job.id;
    let node = store
        .register_node(node_info("n", &[Backend::Cpu], 1), T0)
        .unwrap();
    let lease = store.claim(&node.id, 1, T0).unwrap().remove(0);
    let job = store
        .fail(&retry, lease.token, "bucket unreachable", true, T0 + 10)
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
        .unwrap();
    let b = store
        .register_node(node_info("b", &[Backend::Cpu], 1), T0)
        .unwrap();
    let old = store.claim(&a.id, 1, T0).unwrap().remove(0);
    // Node a goes silent; its job moves to b.
    store.heartbeat(&b.id, T0 + 60_000).unwrap();
    let reaped = store.reap(T0 + 60_001).unwrap();
    assert_eq!(reaped.unhealthy_nodes, vec![a.id.clone()]);
    assert_eq!(reaped.requeued, vec![id.clone()]);
    let new = store.claim(&b.id, 1, T0 + 62_000).unwrap().remove(0);
    assert_ne!(new.token, old.token);

    // The old holder wakes up: every report with its token is refused.
    assert!(matches!(
        store.progress(&id, old.token, 5, None, T0 + 62_001),
        Err(Error::LeaseLost { .. })
    ));
    assert!(matches!(
        store.complete(&id, old.token, summary(7), b"old".to_vec(), T0 + 62_002),
        Err(Error::LeaseLost { .. })
    ));
    assert!(matches!(
        store.fail(&id, old.token, "late", true, T0 + 62_003),
        Err(Error::LeaseLost { .. })
    ));
    let done = store
        .complete(
            &id,
            new.token,
            summary(48),
            b"{\"frames\":[]}".to_vec(),
            T0 + 63_000,
        )
        .unwrap();
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(done.summary, Some(summary(48)));
    // A second complete by the rightful holder is refused too: exactly one result.
    assert!(matches!(
        store.complete(&id, new.token, summary(1), b"again".to_vec(), T0 + 63_001),
        Err(Error::LeaseLost { .. })
    ));
    let job = store.get(&id).unwrap().unwrap();
    assert_eq!(job.summary, Some(summary(48)));
    assert_eq!(job.attempts, 2);
    assert_eq!(store.frames(&id).unwrap().unwrap(), b"{\"frames\":[]}");
    assert!(matches!(
        store.progress("missing", 1, 0, None, T0),
        Err(Error::JobNotFound(_))
    ));
}

#[test]
fn cancelling_pending_and_running_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let node = store
        .register_node(node_info("n", &[Backend::Cpu], 1), T0)
        .unwrap();
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
        store.heartbeat(&node.id, T0 + 3).unwrap().cancel,
        vec![running.clone()]
    );
    assert!(
        store
            .progress(&running, lease.token, 3, None, T0 + 4)
            .unwrap()
            .cancel
    );
    let job = store
        .fail(&running, lease.token, "cancelled by client", true, T0 + 5)
        .unwrap();
    assert_eq!(job.state, JobState::Cancelled);
    assert_eq!(job.finished_ms, Some(T0 + 5));
    assert!(store.heartbeat(&node.id, T0 + 6).unwrap().cancel.is_empty());

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
        .unwrap();
    let alive = store
        .register_node(node_info("alive", &[Backend::Cpu], 3), T0)
        .unwrap();
    assert_eq!(store.claim(&silent.id, 3, T0).unwrap().len(), 3);
    store.cancel(&cancelled, T0 + 1).unwrap();

    // Within the timeout nothing happens.
    store.heartbeat(&silent.id, T0 + 20_000).unwrap();
    store.heartbeat(&alive.id, T0 + 50_000).unwrap();
    assert_eq!(store.reap(T0 + 50_000).unwrap(), Default::default());

    store.heartbeat(&alive.id, T0 + 80_000).unwrap();
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
fn re_registering_keeps_the_node_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let first = store
        .register_node(node_info("host-1", &[Backend::Cpu], 1), T0)
        .unwrap();
    let second = store
        .register_node(
            node_info("host-1", &[Backend::Cpu, Backend::Cuda], 2),
            T0 + 9,
        )
        .unwrap();
    assert_eq!(first.id, second.id);
    assert_eq!(second.info.capacity, 2);
    assert_eq!(second.registered_ms, T0 + 9);
    assert_eq!(store.nodes().unwrap().len(), 1);
    assert!(matches!(
        store.heartbeat("ghost", T0),
        Err(Error::NodeNotFound(_))
    ));
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
        .unwrap();
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
            .unwrap();
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
                summary(3),
                vec![7u8; 3 << 20],
                T0 + 1,
            )
            .unwrap();
        store
            .progress(&running, leases[1].token, 4, Some(9), T0 + 2)
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
        .complete(&running, token, summary(9), b"{}".to_vec(), T0 + 3)
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
