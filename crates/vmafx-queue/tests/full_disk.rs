//! `check_writable` on a disk that refuses writes, made real with `RLIMIT_FSIZE`: with a file
//! size limit of 0 the kernel refuses every write to a regular file (EFBIG), as a full disk or a
//! read-only volume would refuse the WAL append. This works without root or a mount, and applies
//! to the whole process, so this file holds one test only (test files are separate processes).

use vmafx_queue::{JobSpec, JobStore, QueueConfig, SqliteStore};

const T0: i64 = 1_700_000_000_000;

/// Sets the soft limit on the size of files this process writes; the hard limit stays, so the
/// soft one can be raised again.
fn set_file_size_limit(bytes: libc::rlim_t) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed in.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit), 0);
        limit.rlim_cur = bytes.min(limit.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
}

#[test]
fn check_writable_fails_while_writes_are_refused_and_recovers_after() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("queue.db"), QueueConfig::default()).unwrap();
    let before = store
        .submit(JobSpec::new("file:///r.y4m", "file:///d.y4m"), T0)
        .unwrap()
        .job
        .id;
    store.check_writable().unwrap();

    // SAFETY: ignoring SIGXFSZ makes an over-limit write fail with EFBIG instead of killing
    // the process; nothing else in this test process handles that signal.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    set_file_size_limit(0);
    // Gather the outcomes first: a failing assertion must not write while the limit holds.
    let probe = store.check_writable();
    let submit = store.submit(JobSpec::new("file:///r2.y4m", "file:///d2.y4m"), T0);
    let read = store.get(&before);
    set_file_size_limit(libc::RLIM_INFINITY);

    let probe = probe.expect_err("the probe wrote to a disk that refuses writes");
    assert!(
        probe
            .to_string()
            .starts_with("failed to commit to queue database"),
        "{probe}"
    );
    assert!(submit.is_err(), "a submission was acknowledged: {submit:?}");
    // Reads still work, and the store is not stopped for good: this was not an fsync failure.
    assert!(read.unwrap().is_some());
    assert_eq!(store.failure(), None);

    // Space is back: ready again, and writes go on.
    store.check_writable().unwrap();
    store
        .submit(JobSpec::new("file:///r3.y4m", "file:///d3.y4m"), T0)
        .unwrap();
    assert_eq!(store.counts().unwrap().pending, 2);
    assert!(store.check_integrity().unwrap().is_empty());
}
