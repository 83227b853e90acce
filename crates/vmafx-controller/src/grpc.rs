//! The gRPC front end: `JobService` and `NodeService` on top of [`Controller`].

use std::pin::Pin;
use std::sync::Arc;

use tokio_stream::Stream;
use tonic::{Request, Response, Status};
use vmafx_api::v1;
use vmafx_api::v1::job_service_server::JobService;
use vmafx_api::v1::node_service_server::NodeService;
use vmafx_api::view::is_terminal;

use crate::controller::{Controller, ControllerError};

/// The gRPC status a controller error is reported with.
pub fn status(err: ControllerError) -> Status {
    match &err {
        ControllerError::InvalidArgument(_) => Status::invalid_argument(err.to_string()),
        ControllerError::NotFound(_) => Status::not_found(err.to_string()),
        ControllerError::LeaseLost(_) => Status::failed_precondition(err.to_string()),
        ControllerError::Conflict(_) => Status::already_exists(err.to_string()),
        ControllerError::Store(_) => Status::unavailable(err.to_string()),
    }
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
        let request = request.into_inner();
        let (job, created) = self
            .controller
            .submit(request.spec, request.idempotency_key)
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
        let job = self
            .controller
            .get_job(request.into_inner().id)
            .await
            .map_err(status)?;
        Ok(Response::new(job))
    }

    async fn list_jobs(
        &self,
        request: Request<v1::ListJobsRequest>,
    ) -> Result<Response<v1::ListJobsResponse>, Status> {
        let page = self
            .controller
            .list_jobs(request.into_inner())
            .await
            .map_err(status)?;
        Ok(Response::new(page))
    }

    async fn cancel_job(
        &self,
        request: Request<v1::CancelJobRequest>,
    ) -> Result<Response<v1::Job>, Status> {
        let job = self
            .controller
            .cancel(request.into_inner().id)
            .await
            .map_err(status)?;
        Ok(Response::new(job))
    }

    type WatchJobStream = JobStream;

    async fn watch_job(
        &self,
        request: Request<v1::WatchJobRequest>,
    ) -> Result<Response<Self::WatchJobStream>, Status> {
        let id = request.into_inner().id;
        // Subscribe before reading the job, so no change between the two is missed.
        let mut changes = self.controller.subscribe(&id);
        let first = self.controller.get_job(id).await.map_err(status)?;
        let stream = async_stream(move |sender| async move {
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
        let json = self
            .controller
            .frames(request.into_inner().id)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::JobFrames { json }))
    }

    async fn list_nodes(
        &self,
        _request: Request<v1::ListNodesRequest>,
    ) -> Result<Response<v1::ListNodesResponse>, Status> {
        let nodes = self.controller.nodes().await.map_err(status)?;
        Ok(Response::new(v1::ListNodesResponse { nodes }))
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
        let node = self
            .controller
            .register_node(request.into_inner().info)
            .await
            .map_err(status)?;
        Ok(Response::new(node))
    }

    async fn heartbeat(
        &self,
        request: Request<v1::HeartbeatRequest>,
    ) -> Result<Response<v1::HeartbeatResponse>, Status> {
        let cancel_job_ids = self
            .controller
            .heartbeat(request.into_inner().node_id)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::HeartbeatResponse { cancel_job_ids }))
    }

    async fn claim_job(
        &self,
        request: Request<v1::ClaimJobRequest>,
    ) -> Result<Response<v1::ClaimJobResponse>, Status> {
        let request = request.into_inner();
        let leases = self
            .controller
            .claim(request.node_id, request.max.max(1))
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
            .progress(request.into_inner())
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
            .complete(request.into_inner())
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
            .fail(request.into_inner())
            .await
            .map_err(status)?;
        Ok(Response::new(job))
    }
}
