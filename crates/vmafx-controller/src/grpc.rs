//! The gRPC front end: `JobService` and `NodeService` on top of [`Controller`].

use std::pin::Pin;
use std::sync::Arc;

use tokio_stream::Stream;
use tonic::codegen::http;
use tonic::{Request, Response, Status};
use vmafx_api::v1;
use vmafx_api::v1::job_service_server::JobService;
use vmafx_api::v1::node_service_server::NodeService;
use vmafx_api::view::is_terminal;

use crate::auth::{Authenticator, Identity};
use crate::controller::{Controller, ControllerError};

/// The gRPC status a controller error is reported with.
pub fn status(err: ControllerError) -> Status {
    match &err {
        ControllerError::InvalidArgument(_) => Status::invalid_argument(err.to_string()),
        ControllerError::NotFound(_) => Status::not_found(err.to_string()),
        ControllerError::LeaseLost(_) => Status::failed_precondition(err.to_string()),
        ControllerError::Conflict(_) => Status::already_exists(err.to_string()),
        ControllerError::Unauthenticated(_) => Status::unauthenticated(err.to_string()),
        ControllerError::PermissionDenied(_) => Status::permission_denied(err.to_string()),
        ControllerError::ResourceExhausted(_) => Status::resource_exhausted(err.to_string()),
        ControllerError::Store(_) => Status::unavailable(err.to_string()),
    }
}

/// Authenticates every call before its message is decoded, so an unknown caller can neither run
/// an RPC nor make the controller buffer a large request; the caller's [`Identity`] travels in
/// the request's extensions. A layer rather than a tonic interceptor because a Kubernetes token
/// review is asynchronous.
#[derive(Clone)]
pub struct AuthLayer(pub Arc<Authenticator>);

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            auth: Arc::clone(&self.0),
        }
    }
}

/// The service [`AuthLayer`] wraps around the gRPC routes.
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    auth: Arc<Authenticator>,
}

type HttpRequest = http::Request<tonic::body::Body>;
type HttpResponse = http::Response<tonic::body::Body>;

impl<S> tower::Service<HttpRequest> for AuthService<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = std::convert::Infallible;
    type Future = Pin<
        Box<
            dyn std::future::Future<Output = Result<HttpResponse, std::convert::Infallible>> + Send,
        >,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: HttpRequest) -> Self::Future {
        // The clone that was made ready is the one that serves this call.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let auth = Arc::clone(&self.auth);
        Box::pin(async move {
            let header = request
                .headers()
                .get(http::header::AUTHORIZATION)
                .map(|value| value.as_bytes().to_vec());
            match auth.authenticate(header.as_deref()).await {
                Ok(identity) => {
                    request.extensions_mut().insert(identity);
                    inner.call(request).await
                }
                Err(err) if err.is_unavailable() => {
                    Ok(Status::unavailable(err.to_string()).into_http())
                }
                Err(err) => Ok(Status::unauthenticated(err.to_string()).into_http()),
            }
        })
    }
}

/// The caller the interceptor authenticated.
fn caller<T>(request: &Request<T>) -> Result<Identity, Status> {
    request
        .extensions()
        .get::<Identity>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("authentication required"))
}

/// Both gRPC services, sharing one controller.
#[derive(Clone)]
pub struct GrpcApi {
    controller: Arc<Controller>,
}

impl GrpcApi {
    /// The services over `controller`.
    pub fn new(controller: Arc<Controller>) -> Self {
        GrpcApi { controller }
    }
}

type JobStream = Pin<Box<dyn Stream<Item = Result<v1::Job, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl JobService for GrpcApi {
    async fn submit_job(
        &self,
        request: Request<v1::SubmitJobRequest>,
    ) -> Result<Response<v1::SubmitJobResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let (job, created) = self
            .controller
            .submit(&caller, request.spec, request.idempotency_key)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::SubmitJobResponse {
            job: Some(job),
            created,
        }))
    }

    async fn get_job(
        &self,
        request: Request<v1::GetJobRequest>,
    ) -> Result<Response<v1::Job>, Status> {
        let caller = caller(&request)?;
        let job = self
            .controller
            .get_job(&caller, request.into_inner().id)
            .await
            .map_err(status)?;
        Ok(Response::new(job))
    }

    async fn list_jobs(
        &self,
        request: Request<v1::ListJobsRequest>,
    ) -> Result<Response<v1::ListJobsResponse>, Status> {
        let caller = caller(&request)?;
        let page = self
            .controller
            .list_jobs(&caller, request.into_inner())
            .await
            .map_err(status)?;
        Ok(Response::new(page))
    }

    async fn cancel_job(
        &self,
        request: Request<v1::CancelJobRequest>,
    ) -> Result<Response<v1::Job>, Status> {
        let caller = caller(&request)?;
        let job = self
            .controller
            .cancel(&caller, request.into_inner().id)
            .await
            .map_err(status)?;
        Ok(Response::new(job))
    }

    type WatchJobStream = JobStream;

    async fn watch_job(
        &self,
        request: Request<v1::WatchJobRequest>,
    ) -> Result<Response<Self::WatchJobStream>, Status> {
        let caller = caller(&request)?;
        let id = request.into_inner().id;
        let (first, mut changes, slot) =
            self.controller.watch(&caller, id).await.map_err(status)?;
        let stream = async_stream(move |sender| async move {
            // The stream holds its place in the bound until it ends.
            let _slot = slot;
            let mut last = first.clone();
            if sender.send(Ok(first)).await.is_err() || is_terminal(last.state) {
                return;
            }
            loop {
                // A client that went away releases its registration at once, not at the job's
                // next change.
                let next = tokio::select! {
                    () = sender.closed() => return,
                    next = changes.changed() => next,
                };
                let Some(next) = next else { return };
                if *next == last {
                    continue;
                }
                last = (*next).clone();
                if sender.send(Ok(last.clone())).await.is_err() || is_terminal(last.state) {
                    return;
                }
            }
        });
        Ok(Response::new(stream))
    }

    async fn get_job_frames(
        &self,
        request: Request<v1::GetJobFramesRequest>,
    ) -> Result<Response<v1::JobFrames>, Status> {
        let caller = caller(&request)?;
        let json = self
            .controller
            .frames(&caller, request.into_inner().id)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::JobFrames { json }))
    }

    async fn list_nodes(
        &self,
        request: Request<v1::ListNodesRequest>,
    ) -> Result<Response<v1::ListNodesResponse>, Status> {
        let caller = caller(&request)?;
        let page = self
            .controller
            .list_nodes(&caller, request.into_inner())
            .await
            .map_err(status)?;
        Ok(Response::new(page))
    }

    async fn submit_feedback(
        &self,
        request: Request<v1::SubmitFeedbackRequest>,
    ) -> Result<Response<v1::Feedback>, Status> {
        let caller = caller(&request)?;
        let feedback = self
            .controller
            .submit_feedback(&caller, request.into_inner())
            .await
            .map_err(status)?;
        Ok(Response::new(feedback))
    }

    async fn list_feedback(
        &self,
        request: Request<v1::ListFeedbackRequest>,
    ) -> Result<Response<v1::ListFeedbackResponse>, Status> {
        let caller = caller(&request)?;
        let page = self
            .controller
            .list_feedback(&caller, request.into_inner())
            .await
            .map_err(status)?;
        Ok(Response::new(page))
    }
}

/// A stream fed by a task: `body` gets the sending half of a small channel.
fn async_stream<F, Fut>(body: F) -> JobStream
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<v1::Job, Status>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel(16);
    tokio::spawn(body(sender));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver))
}

#[tonic::async_trait]
impl NodeService for GrpcApi {
    async fn register_node(
        &self,
        request: Request<v1::RegisterNodeRequest>,
    ) -> Result<Response<v1::Node>, Status> {
        let caller = caller(&request)?;
        let node = self
            .controller
            .register_node(&caller, request.into_inner().info)
            .await
            .map_err(status)?;
        Ok(Response::new(node))
    }

    async fn heartbeat(
        &self,
        request: Request<v1::HeartbeatRequest>,
    ) -> Result<Response<v1::HeartbeatResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let held = request
            .held
            .into_iter()
            .map(|attempt| vmafx_queue::HeldAttempt {
                job_id: attempt.job_id,
                token: attempt.token,
            })
            .collect();
        let ack = self
            .controller
            .heartbeat(&caller, request.node_id, held)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::HeartbeatResponse {
            cancel_job_ids: ack.cancel,
            lost_job_ids: ack.lost,
        }))
    }

    async fn claim_job(
        &self,
        request: Request<v1::ClaimJobRequest>,
    ) -> Result<Response<v1::ClaimJobResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let leases = self
            .controller
            .claim(&caller, request.node_id, request.max.max(1))
            .await
            .map_err(status)?;
        Ok(Response::new(v1::ClaimJobResponse { leases }))
    }

    async fn report_progress(
        &self,
        request: Request<v1::ReportProgressRequest>,
    ) -> Result<Response<v1::ReportProgressResponse>, Status> {
        let cancel = self
            .controller
            .progress(&caller(&request)?, request.into_inner())
            .await
            .map_err(status)?;
        Ok(Response::new(v1::ReportProgressResponse { cancel }))
    }

    async fn complete_job(
        &self,
        request: Request<v1::CompleteJobRequest>,
    ) -> Result<Response<v1::Job>, Status> {
        let job = self
            .controller
            .complete(&caller(&request)?, request.into_inner())
            .await
            .map_err(status)?;
        Ok(Response::new(job))
    }

    async fn fail_job(
        &self,
        request: Request<v1::FailJobRequest>,
    ) -> Result<Response<v1::Job>, Status> {
        let job = self
            .controller
            .fail(&caller(&request)?, request.into_inner())
            .await
            .map_err(status)?;
        Ok(Response::new(job))
    }
}
