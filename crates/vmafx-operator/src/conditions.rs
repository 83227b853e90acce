//! Status conditions in the Kubernetes `metav1.Condition` format, kept the way API conventions ask:
//! one entry per type, and `lastTransitionTime` moves only when the status flips.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// Sets condition `type_` in `conditions`, replacing any earlier entry of that type.
///
/// Returns true when anything changed, so callers can skip a status write that changes nothing.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    observed_generation: Option<i64>,
) -> bool {
    let status_text = if status { "True" } else { "False" };
    if let Some(existing) = conditions.iter_mut().find(|c| c.type_ == type_) {
        let flipped = existing.status != status_text;
        let changed = flipped
            || existing.reason != reason
            || existing.message != message
            || existing.observed_generation != observed_generation;
        if flipped {
            existing.last_transition_time = Time(Timestamp::now());
        }
        existing.status = status_text.to_owned();
        existing.reason = reason.to_owned();
        existing.message = message.to_owned();
        existing.observed_generation = observed_generation;
        return changed;
    }
    conditions.push(Condition {
        type_: type_.to_owned(),
        status: status_text.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        observed_generation,
        last_transition_time: Time(Timestamp::now()),
    });
    true
}

/// The condition of type `type_`, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// True when condition `type_` is present with status `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_moves_only_when_status_flips() {
        let mut conditions = Vec::new();
        assert!(set_condition(
            &mut conditions,
            "Ready",
            false,
            "Pending",
            "queued",
            Some(1)
        ));
        let first = conditions[0].last_transition_time.clone();
        assert!(!set_condition(
            &mut conditions,
            "Ready",
            false,
            "Pending",
            "queued",
            Some(1)
        ));
        assert!(set_condition(
            &mut conditions,
            "Ready",
            false,
            "Running",
            "scoring",
            Some(1)
        ));
        assert_eq!(conditions[0].last_transition_time, first);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(set_condition(
            &mut conditions,
            "Ready",
            true,
            "Succeeded",
            "done",
            Some(1)
        ));
        assert_ne!(conditions[0].last_transition_time, first);
        assert_eq!(conditions.len(), 1);
        assert!(is_true(&conditions, "Ready"));
        assert!(!is_true(&conditions, "Submitted"));
    }
}
