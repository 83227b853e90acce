//! The pure half of the training reconciler: which checkpoints are new, the mirrored status, and
//! whether it is worth a write.

#[allow(unused_imports)]
use super::*;

/// The checkpoints in `checkpoints` that a status recording `recorded_version` (and
/// `recorded_time`, the newest announced checkpoint's time) has not announced yet, oldest first.
///
/// Checkpoints after the recorded version are new; when the trainer no longer lists that version,
/// those written after the recorded time are; when nothing is recorded, all are.
pub fn new_checkpoints<'a>(
    recorded_version: Option<&str>,
    recorded_time: Option<Timestamp>,
    checkpoints: &'a [Checkpoint],
) -> Vec<&'a Checkpoint> {
    let mut ordered: Vec<&Checkpoint> = checkpoints.iter().collect();
    ordered.sort_by_key(|c| c.written_at.0);
    if let Some(index) = recorded_version.and_then(|v| ordered.iter().position(|c| c.version == v))
    {
        return ordered.split_off(index + 1);
    }
    match recorded_time {
        Some(time) => ordered
            .into_iter()
            .filter(|c| c.written_at.0 > time)
            .collect(),
        None => ordered,
    }
}

/// The status after a successful poll, and the checkpoints to announce.
pub fn mirror<'a>(
    prev: &VmafxModelTrainingStatus,
    trainer: &'a TrainerStatus,
) -> (VmafxModelTrainingStatus, Vec<&'a Checkpoint>) {
    let fresh = new_checkpoints(
        prev.model_version.as_deref(),
        prev.last_checkpoint_time.as_ref().map(|t| t.0),
        &trainer.checkpoints,
    );
    let mut next = prev.clone();
    next.phase = Some(trainer.phase);
    next.samples = trainer.samples;
    let newest = trainer.checkpoints.iter().max_by_key(|c| c.written_at.0);
    if let Some(version) = trainer
        .model_version
        .clone()
        .or_else(|| newest.map(|c| c.version.clone()))
    {
        next.model_version = Some(version);
    }
    if let Some(newest) = newest {
        next.last_checkpoint_time = Some(newest.written_at.clone());
    }
    (next, fresh)
}

/// Whether `next` differs from `prev` in more than the poll time, which moves on every poll.
pub(crate) fn worth_writing(
    prev: &VmafxModelTrainingStatus,
    next: &VmafxModelTrainingStatus,
    now: Timestamp,
) -> bool {
    let poll_age = prev.last_poll_time.as_ref().map_or(POLL_INTERVAL, |t| {
        Duration::try_from(now.duration_since(t.0)).unwrap_or_default()
    });
    let mut same = next.clone();
    same.last_poll_time = prev.last_poll_time.clone();
    // Each write triggers another reconcile; refreshing only a recent poll time would loop.
    same != *prev || (next.last_poll_time != prev.last_poll_time && poll_age >= POLL_INTERVAL / 2)
}

pub(crate) fn checkpoint_note(checkpoint: &Checkpoint) -> String {
    let mut note = format!(
        "checkpoint {} written at {} after {} samples",
        checkpoint.version, checkpoint.written_at.0, checkpoint.samples
    );
    if let Some(digest) = &checkpoint.digest {
        note.push_str(&format!(" (digest {digest})"));
    }
    note
}
