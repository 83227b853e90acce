//! Translation between the API's protobuf messages and the queue's types, with the validation a
//! request must pass before it reaches the store.

use vmafx_api::v1;
use vmafx_contract::node::validate_node;
use vmafx_contract::{FieldError, InputPolicy, JobDraft, NodeDraft};
use vmafx_queue as queue;

use crate::controller::ControllerError;

fn invalid(message: String) -> ControllerError {
    ControllerError::InvalidArgument(message)
}

fn field_error(err: FieldError) -> ControllerError {
    invalid(err.to_string())
}

/// Checks that `uri` follows the job URI grammar ([`vmafx_contract::JobUri`]), naming `field` in the error;
/// the same grammar the node and the operator's webhook use.
#[cfg(test)]
fn validate_uri(field: &str, uri: &str) -> Result<(), ControllerError> {
    vmafx_contract::JobUri::parse_field(field, uri)
        .map(drop)
        .map_err(field_error)
}

/// Validates a submitted spec against the job contract and `policy` and turns it into the
/// queue's. Beyond the contract, built-in models are loaded (which checks their overrides) and
/// features must name an extractor the engine has.
pub fn validate_spec(
    spec: &v1::JobSpec,
    idempotency_key: String,
    policy: &InputPolicy,
) -> Result<queue::JobSpec, ControllerError> {
    let draft = JobDraft {
        reference: &spec.reference,
        distorted: &spec.distorted,
        models: &spec.models,
        features: &spec.features,
        backend: &spec.backend,
        priority: spec.priority,
        max_attempts: spec.max_attempts,
    };
    let valid = vmafx_contract::validate_job(&draft, policy).map_err(field_error)?;
    for (i, model) in valid.models.iter().enumerate() {
        // A built-in model can be loaded here; a path is only meaningful on the node.
        if let vmafx_contract::ModelSource::BuiltIn(_) = model.source {
            vmafx_engine::model::Model::load(model)
                .map_err(|e| invalid(format!("models[{i}]: {e}")))?;
        }
    }
    for (i, feature) in valid.features.iter().enumerate() {
        vmafx_engine::feature::find_extractor(&feature.name)
            .map_err(|e| invalid(format!("features[{i}]: {e}")))?;
    }
    Ok(queue::JobSpec {
        reference: spec.reference.clone(),
        distorted: spec.distorted.clone(),
        models: spec.models.clone(),
        backend: valid.backend,
        priority: spec.priority,
        features: spec.features.clone(),
        idempotency_key: (!idempotency_key.is_empty()).then_some(idempotency_key),
        max_attempts: (spec.max_attempts != 0).then_some(spec.max_attempts),
    })
}

/// Validates a node's registration against the contract (name, vendor, backends, capacity).
pub fn validate_node_info(info: &v1::NodeInfo) -> Result<queue::NodeInfo, ControllerError> {
    let valid = validate_node(&NodeDraft {
        name: &info.name,
        vendor: &info.vendor,
        backends: &info.backends,
        capacity: info.capacity,
    })
    .map_err(field_error)?;
    Ok(queue::NodeInfo {
        name: info.name.clone(),
        vendor: valid.vendor.as_str().to_string(),
        backends: valid.backends,
        device: info.device.clone(),
        capacity: info.capacity,
        version: info.version.clone(),
        address: (!info.address.is_empty()).then(|| info.address.clone()),
    })
}

/// The API's number for a queue state.
pub fn state(state: queue::JobState) -> v1::JobState {
    match state {
        queue::JobState::Pending => v1::JobState::Pending,
        queue::JobState::Running => v1::JobState::Running,
        queue::JobState::Completed => v1::JobState::Completed,
        queue::JobState::Failed => v1::JobState::Failed,
        queue::JobState::Cancelled => v1::JobState::Cancelled,
    }
}

fn queue_state(state: v1::JobState) -> Option<queue::JobState> {
    match state {
        v1::JobState::Pending => Some(queue::JobState::Pending),
        v1::JobState::Running => Some(queue::JobState::Running),
        v1::JobState::Completed => Some(queue::JobState::Completed),
        v1::JobState::Failed => Some(queue::JobState::Failed),
        v1::JobState::Cancelled => Some(queue::JobState::Cancelled),
        v1::JobState::Unspecified => None,
    }
}

/// Largest page a list call returns.
pub const MAX_PAGE: u32 = 1000;

/// The store filter a list request describes.
pub fn list_filter(request: &v1::ListJobsRequest) -> Result<queue::JobFilter, ControllerError> {
    let mut states = Vec::new();
    for (i, number) in request.states.iter().enumerate() {
        let state = v1::JobState::try_from(*number)
            .ok()
            .and_then(queue_state)
            .ok_or_else(|| invalid(format!("states[{i}]: unknown state {number}")))?;
        states.push(state);
    }
    let limit = match request.page_size {
        0 => 50,
        n => n.min(MAX_PAGE),
    };
    Ok(queue::JobFilter {
        states,
        node_id: (!request.node_id.is_empty()).then(|| request.node_id.clone()),
        limit,
        page_token: (!request.page_token.is_empty()).then(|| request.page_token.clone()),
    })
}

/// A queue job as an API message.
pub fn job(job: &queue::Job) -> v1::Job {
    v1::Job {
        id: job.id.clone(),
        spec: Some(v1::JobSpec {
            reference: job.spec.reference.clone(),
            distorted: job.spec.distorted.clone(),
            models: job.spec.models.clone(),
            backend: job.spec.backend.as_str().to_string(),
            priority: job.spec.priority,
            features: job.spec.features.clone(),
            max_attempts: job.max_attempts,
        }),
        state: state(job.state) as i32,
        attempts: job.attempts,
        max_attempts: job.max_attempts,
        node_id: job.node_id.clone().unwrap_or_default(),
        frames_done: job.frames_done,
        frames_total: job.frames_total.unwrap_or(0),
        error: job.error.clone().unwrap_or_default(),
        created_ms: job.created_ms,
        started_ms: job.started_ms.unwrap_or(0),
        finished_ms: job.finished_ms.unwrap_or(0),
        cancel_requested: job.cancel_requested,
        summary: job.summary.as_ref().map(summary_to_api),
        idempotency_key: job.spec.idempotency_key.clone().unwrap_or_default(),
    }
}

fn summary_to_api(summary: &queue::JobSummary) -> v1::JobSummary {
    v1::JobSummary {
        frames: summary.frames,
        models: summary
            .models
            .iter()
            .map(|m| v1::ModelScore {
                model: m.model.clone(),
                mean: m.mean,
                min: m.min,
                max: m.max,
                harmonic_mean: m.harmonic_mean,
            })
            .collect(),
        metrics: summary
            .metrics
            .iter()
            .map(|m| v1::MetricScore {
                name: m.name.clone(),
                mean: m.mean,
                min: m.min,
                max: m.max,
                harmonic_mean: m.harmonic_mean,
            })
            .collect(),
    }
}

/// A node's result summary in the queue's terms (an absent summary is an empty one).
pub fn summary_from_api(summary: Option<&v1::JobSummary>) -> queue::JobSummary {
    let Some(summary) = summary else {
        return queue::JobSummary {
            frames: 0,
            models: Vec::new(),
            metrics: Vec::new(),
        };
    };
    queue::JobSummary {
        frames: summary.frames,
        models: summary
            .models
            .iter()
            .map(|m| queue::ModelScore {
                model: m.model.clone(),
                mean: m.mean,
                min: m.min,
                max: m.max,
                harmonic_mean: m.harmonic_mean,
            })
            .collect(),
        metrics: summary
            .metrics
            .iter()
            .map(|m| queue::MetricScore {
                name: m.name.clone(),
                mean: m.mean,
                min: m.min,
                max: m.max,
                harmonic_mean: m.harmonic_mean,
            })
            .collect(),
    }
}

/// A registered node as an API message.
pub fn node(node: &queue::Node) -> v1::Node {
    v1::Node {
        id: node.id.clone(),
        info: Some(v1::NodeInfo {
            name: node.info.name.clone(),
            vendor: node.info.vendor.clone(),
            backends: node
                .info
                .backends
                .iter()
                .map(|b| b.as_str().to_string())
                .collect(),
            device: node.info.device.clone(),
            capacity: node.info.capacity,
            version: node.info.version.clone(),
            address: node.info.address.clone().unwrap_or_default(),
        }),
        healthy: node.healthy,
        registered_ms: node.registered_ms,
        last_heartbeat_ms: node.last_heartbeat_ms,
        running: node.running,
    }
}

/// A lease as an API message.
pub fn lease(lease: &queue::Lease) -> v1::Lease {
    v1::Lease {
        job: Some(job(&lease.job)),
        token: lease.token,
        expires_ms: lease.expires_ms,
    }
}

/// Stored feedback as the API's message.
pub fn feedback(feedback: &queue::Feedback) -> v1::Feedback {
    v1::Feedback {
        seq: feedback.seq,
        job_id: feedback.job_id.clone(),
        target: feedback.target,
        node_id: feedback.node_id.clone().unwrap_or_default(),
        created_ms: feedback.created_ms,
    }
}

/// The controller error a store error means.
pub fn queue_error(err: queue::Error) -> ControllerError {
    match err {
        queue::Error::JobNotFound(_) | queue::Error::NodeNotFound(_) => {
            ControllerError::NotFound(err.to_string())
        }
        // Both mean "your view of this job or node is stale": a node re-registers or drops the
        // job, which is what a failed precondition tells it.
        queue::Error::LeaseLost { .. }
        | queue::Error::NodeUnhealthy(_)
        | queue::Error::NodeSuperseded { .. } => ControllerError::LeaseLost(err.to_string()),
        queue::Error::IdempotencyConflict { .. } => ControllerError::Conflict(err.to_string()),
        queue::Error::NotLeaseHolder { .. } => {
            ControllerError::PermissionDenied(format!("permission denied: {err}"))
        }
        queue::Error::InvalidSpec { .. }
        | queue::Error::InvalidPageToken(_)
        | queue::Error::Parse { .. } => ControllerError::InvalidArgument(err.to_string()),
        other => ControllerError::Store(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_need_a_scheme_and_an_object() {
        assert!(validate_uri("reference", "s3://bucket/key.y4m").is_ok());
        assert!(validate_uri("reference", "file:///tmp/a.y4m").is_ok());
        assert!(validate_uri("reference", "rclone://remote:path/a.mkv").is_ok());
        // One grammar everywhere: `my_remote` is an rclone remote, `svn+ssh` is nothing.
        assert!(validate_uri("reference", "my_remote://x").is_ok());
        for bad in [
            "",
            "  ",
            "/tmp/a.y4m",
            "s3://",
            "s 3://a",
            "svn+ssh://h/x",
            "rclone://remote,endpoint='http://x':path",
        ] {
            let err = validate_uri("distorted", bad).unwrap_err().to_string();
            assert!(err.starts_with("distorted: "), "{bad:?}: {err}");
        }
    }

    #[test]
    fn specs_are_checked_field_by_field() {
        let spec = v1::JobSpec {
            reference: "file:///a.y4m".into(),
            distorted: "file:///b.y4m".into(),
            models: vec!["version=vmaf_v0.6.1neg".into()],
            backend: "cuda".into(),
            priority: 3,
            features: vec!["psnr".into()],
            max_attempts: 0,
        };
        let policy = InputPolicy {
            allow_file_roots: vec!["/".into()],
            ..InputPolicy::default()
        };
        let ok = validate_spec(&spec, "k".into(), &policy).unwrap();
        assert_eq!(ok.backend, queue::Backend::Cuda);
        assert_eq!(ok.idempotency_key.as_deref(), Some("k"));
        assert_eq!(ok.max_attempts, None);

        let mut bad = spec.clone();
        bad.models = vec!["version=no_such_model".into()];
        assert!(validate_spec(&bad, String::new(), &policy)
            .unwrap_err()
            .to_string()
            .starts_with("models[0]: "));
        let mut bad = spec.clone();
        bad.features = vec!["nope".into()];
        assert!(validate_spec(&bad, String::new(), &policy)
            .unwrap_err()
            .to_string()
            .starts_with("features[0]: "));
        let mut bad = spec.clone();
        bad.backend = "opencl".into();
        assert!(validate_spec(&bad, String::new(), &policy)
            .unwrap_err()
            .to_string()
            .starts_with("backend: "));
        assert_eq!(
            validate_spec(&spec, String::new(), &InputPolicy::default())
                .unwrap_err()
                .to_string(),
            "reference: \"file:///a.y4m\" is not allowed: file:// inputs are not allowed on this controller (see --allow-file-root)"
        );
    }
}
