//! Translation between the API's protobuf messages and the queue's types, with the validation a
//! request must pass before it reaches the store.

use vmafx_api::v1;
use vmafx_queue as queue;

use crate::controller::ControllerError;

/// Vendors a node may register with.
pub const VENDORS: &[&str] = &["nvidia", "amd", "intel", "cpu"];

fn invalid(message: String) -> ControllerError {
    ControllerError::InvalidArgument(message)
}

/// Checks that `uri` has the `scheme://rest` shape every input must have; which schemes a node
/// can actually read is its business (anything unknown goes to rclone).
pub fn validate_uri(field: &str, uri: &str) -> Result<(), ControllerError> {
    if uri.trim().is_empty() {
        return Err(invalid(format!("{field}: must not be empty")));
    }
    let Some((scheme, rest)) = uri.split_once("://") else {
        return Err(invalid(format!(
            "{field}: \"{uri}\" is not a URI (expected scheme://path, e.g. file:///clips/ref.y4m or s3://bucket/ref.y4m)"
        )));
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.' | '_'));
    if !scheme_ok {
        return Err(invalid(format!(
            "{field}: \"{uri}\" has an invalid scheme \"{scheme}\""
        )));
    }
    if rest.is_empty() || rest == "/" {
        return Err(invalid(format!("{field}: \"{uri}\" names no object")));
    }
    Ok(())
}

fn validate_models(models: &[String]) -> Result<(), ControllerError> {
    for (i, text) in models.iter().enumerate() {
        let spec = vmafx_engine::model::ModelSpec::parse(text)
            .map_err(|e| invalid(format!("models[{i}]: {e}")))?;
        // Built-in models can be checked here; a path is only meaningful on the node.
        if let vmafx_engine::model::ModelSource::BuiltIn(_) = spec.source {
            vmafx_engine::model::Model::load(&spec)
                .map_err(|e| invalid(format!("models[{i}]: {e}")))?;
        }
    }
    Ok(())
}

fn validate_features(features: &[String]) -> Result<(), ControllerError> {
    for (i, text) in features.iter().enumerate() {
        let spec = vmafx_score::FeatureSpec::parse(text)
            .map_err(|e| invalid(format!("features[{i}]: {e}")))?;
        vmafx_engine::feature::find_extractor(&spec.name)
            .map_err(|e| invalid(format!("features[{i}]: {e}")))?;
    }
    Ok(())
}

/// Parses a backend name; empty means cpu.
pub fn backend(field: &str, name: &str) -> Result<queue::Backend, ControllerError> {
    if name.is_empty() {
        return Ok(queue::Backend::Cpu);
    }
    name.parse::<queue::Backend>().map_err(|_| {
        invalid(format!(
            "{field}: unknown backend \"{name}\" (expected cpu, cuda, hip, sycl or vulkan)"
        ))
    })
}

/// Validates a submitted spec and turns it into the queue's.
pub fn validate_spec(
    spec: &v1::JobSpec,
    idempotency_key: String,
) -> Result<queue::JobSpec, ControllerError> {
    validate_uri("reference", &spec.reference)?;
    validate_uri("distorted", &spec.distorted)?;
    validate_models(&spec.models)?;
    validate_features(&spec.features)?;
    if spec.max_attempts > 100 {
        return Err(invalid(format!(
            "max_attempts: {} is more than 100",
            spec.max_attempts
        )));
    }
    Ok(queue::JobSpec {
        reference: spec.reference.clone(),
        distorted: spec.distorted.clone(),
        models: spec.models.clone(),
        backend: backend("backend", &spec.backend)?,
        priority: spec.priority,
        features: spec.features.clone(),
        idempotency_key: (!idempotency_key.is_empty()).then_some(idempotency_key),
        max_attempts: (spec.max_attempts != 0).then_some(spec.max_attempts),
    })
}

/// Validates a node's registration.
pub fn validate_node_info(info: &v1::NodeInfo) -> Result<queue::NodeInfo, ControllerError> {
    if info.name.trim().is_empty() {
        return Err(invalid("info.name: must not be empty".into()));
    }
    if !VENDORS.contains(&info.vendor.as_str()) {
        return Err(invalid(format!(
            "info.vendor: \"{}\" is not one of nvidia, amd, intel, cpu",
            info.vendor
        )));
    }
    if info.capacity == 0 {
        return Err(invalid("info.capacity: must be at least 1".into()));
    }
    let backends = if info.backends.is_empty() {
        vec![queue::Backend::Cpu]
    } else {
        info.backends
            .iter()
            .enumerate()
            .map(|(i, b)| backend(&format!("info.backends[{i}]"), b))
            .collect::<Result<Vec<_>, _>>()?
    };
    Ok(queue::NodeInfo {
        name: info.name.clone(),
        vendor: info.vendor.clone(),
        backends,
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
    }
}

/// A node's result summary in the queue's terms (an absent summary is an empty one).
pub fn summary_from_api(summary: Option<&v1::JobSummary>) -> queue::JobSummary {
    let Some(summary) = summary else {
        return queue::JobSummary {
            frames: 0,
            models: Vec::new(),
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
        for bad in ["", "  ", "/tmp/a.y4m", "s3://", "1x://a", "s 3://a"] {
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
        let ok = validate_spec(&spec, "k".into()).unwrap();
        assert_eq!(ok.backend, queue::Backend::Cuda);
        assert_eq!(ok.idempotency_key.as_deref(), Some("k"));
        assert_eq!(ok.max_attempts, None);

        let mut bad = spec.clone();
        bad.models = vec!["version=no_such_model".into()];
        assert!(validate_spec(&bad, String::new())
            .unwrap_err()
            .to_string()
            .starts_with("models[0]: "));
        let mut bad = spec.clone();
        bad.features = vec!["nope".into()];
        assert!(validate_spec(&bad, String::new())
            .unwrap_err()
            .to_string()
            .starts_with("features[0]: "));
        let mut bad = spec;
        bad.backend = "opencl".into();
        assert!(validate_spec(&bad, String::new())
            .unwrap_err()
            .to_string()
            .starts_with("backend: "));
    }
}
