//! Outbound clients that count their requests into [`Metrics`]: the Kubernetes client (as
//! client-go's `rest_client_requests_total`) and the gRPC channel to the vmafx controller. These
//! counts are what the scale benchmark divides by the number of jobs.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use kube::client::Body;
use kube::Client;
use tonic::transport::Channel;
use tower::Service;

use crate::metrics::{api_resource, Metrics};

/// `client` with every request it sends counted under `rest_client_requests_total`.
pub fn kube_client(client: Client, metrics: Arc<Metrics>) -> Client {
    let namespace = client.default_namespace().to_owned();
    let counting = tower::service_fn(move |request: http::Request<Body>| {
        let client = client.clone();
        let metrics = Arc::clone(&metrics);
        async move {
            let method = request.method().as_str().to_owned();
            let resource = api_resource(request.uri().path(), request.uri().query());
            let answer = client.send(request).await;
            let code = match &answer {
                Ok(response) => response.status().as_u16().to_string(),
                Err(_) => "<error>".to_owned(),
            };
            metrics.api_request(&method, &resource, &code);
            answer
        }
    });
    Client::new(counting, namespace)
}

/// A gRPC channel to the controller that counts each call it carries.
#[derive(Clone)]
pub struct CountedChannel {
    inner: Channel,
    metrics: Arc<Metrics>,
}

impl CountedChannel {
    /// Counts the calls made over `inner`.
    pub fn new(inner: Channel, metrics: Arc<Metrics>) -> Self {
        CountedChannel { inner, metrics }
    }
}

impl Service<http::Request<tonic::body::Body>> for CountedChannel {
    type Response = <Channel as Service<http::Request<tonic::body::Body>>>::Response;
    type Error = <Channel as Service<http::Request<tonic::body::Body>>>::Error;
    type Future = <Channel as Service<http::Request<tonic::body::Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        self.metrics.controller_call(request.uri().path());
        self.inner.call(request)
    }
}
