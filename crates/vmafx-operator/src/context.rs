//! The shared state every reconciler gets: the Kubernetes client, the configuration, clients for
//! the vmafx controller (one connection for unary calls, a pool for `WatchJob` streams), metrics
//! and the event reporter.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource};
use tonic::service::interceptor::InterceptedService;
use vmafx_api::client::{BearerToken, ClientOptions};
use vmafx_api::v1::job_service_client::JobServiceClient;

use crate::config::OperatorConfig;
use crate::counted::CountedChannel;
use crate::job::follow::WATCH_CONNECTIONS;
use crate::metrics::Metrics;

/// The operator's client for the controller's job API; its calls are counted.
pub type ControllerClient = JobServiceClient<InterceptedService<CountedChannel, BearerToken>>;

/// The name the operator reports events and field managers under.
pub const MANAGER: &str = "vmafx-operator";

/// Shared state of one operator process.
pub struct Context {
    /// Client for the Kubernetes API.
    pub client: Client,
    /// Configuration read at start-up.
    pub config: OperatorConfig,
    /// The vmafx controller's gRPC job API for unary calls (connected lazily, reconnected on
    /// failure). No stream ever runs on it, so a call never waits for a free stream.
    pub jobs: ControllerClient,
    /// Further connections to the controller, for `WatchJob` streams only; each is opened the
    /// first time a stream needs it.
    pub watch_connections: Vec<ControllerClient>,
    /// HTTP client for worker health probes and trainer status polls.
    pub http: reqwest::Client,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Identity events are reported under.
    pub reporter: Reporter,
    /// The one recorder for warnings: a failing reconcile repeats, and kube's recorder folds
    /// repeats of a reason about an object into one series instead of a flood of events.
    warnings: Recorder,
}

/// Why a context could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The controller address, its CA or the token is not usable.
    #[error("failed to use {addr} as the controller's gRPC address: {source}")]
    ControllerAddress {
        /// The configured address.
        addr: String,
        /// Why it was refused.
        #[source]
        source: vmafx_api::client::ClientError,
    },
    /// The HTTP client could not be built.
    #[error("failed to build the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
}

impl Context {
    /// Builds the context; nothing is contacted until the first reconcile.
    pub fn new(
        client: Client,
        config: OperatorConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ContextError> {
        let options = ClientOptions {
            address: config.controller_grpc.clone(),
            ca_cert: config.controller_ca_cert.clone(),
            client_identity: None,
            token: config.controller_token.clone(),
            token_file: config.controller_token_file.clone(),
        };
        let endpoint = options
            .endpoint()
            .map_err(|source| ContextError::ControllerAddress {
                addr: config.controller_grpc.clone(),
                source,
            })?
            .configure(|endpoint| {
                endpoint
                    .connect_timeout(Duration::from_secs(5))
                    .tcp_keepalive(Some(Duration::from_secs(30)))
                    .http2_keep_alive_interval(Duration::from_secs(30))
                    .keep_alive_while_idle(true)
            });
        let connect = |endpoint: &vmafx_api::client::ApiEndpoint| -> ControllerClient {
            let channel =
                CountedChannel::new(endpoint.connect_channel_lazy(), Arc::clone(&metrics));
            JobServiceClient::with_interceptor(channel, endpoint.bearer_token())
                .max_decoding_message_size(vmafx_api::DEFAULT_MAX_RESULT_BYTES)
        };
        let jobs = connect(&endpoint);
        let watch_connections = (0..WATCH_CONNECTIONS).map(|_| connect(&endpoint)).collect();
        // Endpoints are checked to be in-cluster Services before they are fetched; a redirect
        // could lead anywhere, so none is followed.
        let mut http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none());
        for (host, ip) in &config.resolve {
            // The port is taken from the URL; this one is ignored.
            http = http.resolve(host, std::net::SocketAddr::new(*ip, 0));
        }
        let http = http.build().map_err(ContextError::Http)?;
        let client_for_events = client.clone();
        let instance = std::env::var("POD_NAME")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .filter(|s| !s.is_empty());
        let reporter = Reporter {
            controller: MANAGER.to_owned(),
            instance,
        };
        Ok(Context {
            client,
            config,
            jobs,
            watch_connections,
            http,
            metrics,
            warnings: Recorder::new(client_for_events, reporter.clone()),
            reporter,
        })
    }

    /// Records an event about `obj`, its note cut to the 1 kB the events API keeps. A failure
    /// to record is logged, never fatal: events are for people, the status is the record.
    ///
    /// Warnings go through the one aggregating recorder. A normal event marks a milestone
    /// (a checkpoint, a finished job) whose note is the news, and a series would keep only the
    /// first note, so each is created as an event of its own.
    pub async fn publish<K>(&self, obj: &K, warning: bool, reason: &str, note: &str)
    where
        K: Resource<DynamicType = ()>,
    {
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.to_owned(),
            note: Some(truncate(note, MAX_EVENT_NOTE)),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        let result = if warning {
            self.warnings.publish(&event, &obj.object_ref(&())).await
        } else {
            Recorder::new(self.client.clone(), self.reporter.clone())
                .publish(&event, &obj.object_ref(&()))
                .await
        };
        if let Err(error) = result {
            tracing::warn!(object = %crate::runner::object_key(obj), reason, "failed to record event: {error}");
        }
    }
}

/// The longest event note the events API accepts, in bytes.
pub const MAX_EVENT_NOTE: usize = 1000;

/// `text` cut to at most `max` bytes on a character boundary.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_cut_on_character_boundaries() {
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(
            truncate(&"x".repeat(2000), MAX_EVENT_NOTE).len(),
            MAX_EVENT_NOTE
        );
    }
}
