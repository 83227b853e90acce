//! A real tonic `JobService` and an axum router served through `ApiListener`, answering with
//! what they saw of the connection and the request.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use tonic::{Request, Response, Status};
use vmafx_api::client::ClientOptions;
use vmafx_api::tls::{ApiListener, ConnectionInfo, ServerTls};
use vmafx_api::v1;
use vmafx_api::v1::job_service_client::JobServiceClient;
use vmafx_api::v1::job_service_server::{JobService, JobServiceServer};

/// Answers `GetJob` with what it saw: `node_id` is the client certificate's CN, `error` the
/// `authorization` metadata, `attempts` 1 over TLS and 0 over plain TCP.
pub struct EchoJobs;

fn unimplemented<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not part of the test service"))
}

#[tonic::async_trait]
impl JobService for EchoJobs {
    async fn submit_job(
        &self,
        _request: Request<v1::SubmitJobRequest>,
    ) -> Result<Response<v1::SubmitJobResponse>, Status> {
        unimplemented()
    }

    async fn get_job(
        &self,
        request: Request<v1::GetJobRequest>,
    ) -> Result<Response<v1::Job>, Status> {
        let info = ConnectionInfo::of_grpc(&request)
            .cloned()
            .ok_or_else(|| Status::internal("no connection info"))?;
        let authorization = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok(Response::new(v1::Job {
            id: request.into_inner().id,
            node_id: info.peer_common_name.map(|name| name.0).unwrap_or_default(),
            error: authorization,
            attempts: u32::from(info.tls),
            ..v1::Job::default()
        }))
    }

    async fn list_jobs(
        &self,
        _request: Request<v1::ListJobsRequest>,
    ) -> Result<Response<v1::ListJobsResponse>, Status> {
        unimplemented()
    }

    async fn cancel_job(
        &self,
        _request: Request<v1::CancelJobRequest>,
    ) -> Result<Response<v1::Job>, Status> {
        unimplemented()
    }

    type WatchJobStream = tokio_stream::Empty<Result<v1::Job, Status>>;

    async fn watch_job(
        &self,
        _request: Request<v1::WatchJobRequest>,
    ) -> Result<Response<Self::WatchJobStream>, Status> {
        unimplemented()
    }

    async fn get_job_frames(
        &self,
        _request: Request<v1::GetJobFramesRequest>,
    ) -> Result<Response<v1::JobFrames>, Status> {
        unimplemented()
    }

    async fn list_nodes(
        &self,
        _request: Request<v1::ListNodesRequest>,
    ) -> Result<Response<v1::ListNodesResponse>, Status> {
        unimplemented()
    }

    async fn submit_feedback(
        &self,
        _request: Request<v1::SubmitFeedbackRequest>,
    ) -> Result<Response<v1::Feedback>, Status> {
        unimplemented()
    }

    async fn list_feedback(
        &self,
        _request: Request<v1::ListFeedbackRequest>,
    ) -> Result<Response<v1::ListFeedbackResponse>, Status> {
        unimplemented()
    }
}

/// Binds a loopback port.
pub async fn bind(tls: Option<ServerTls>) -> ApiListener {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    ApiListener::new(tcp, tls)
}

/// Serves `EchoJobs` until the test's runtime ends.
pub fn serve_grpc(listener: ApiListener) -> SocketAddr {
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(JobServiceServer::new(EchoJobs))
            .serve_with_incoming(listener),
    );
    addr
}

/// Serves an axum router whose `/whoami` answers `tls=BOOL cn=NAME` until the test's runtime
/// ends.
pub fn serve_http(listener: ApiListener) -> SocketAddr {
    async fn whoami(ConnectInfo(info): ConnectInfo<ConnectionInfo>) -> String {
        let name = info
            .peer_common_name
            .map(|name| name.0)
            .unwrap_or_else(|| "-".to_owned());
        format!("tls={} cn={name}", info.tls)
    }
    let addr = listener.local_addr().expect("local address");
    let router = axum::Router::new().route("/whoami", axum::routing::get(whoami));
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<ConnectionInfo>(),
        )
        .await
    });
    addr
}

/// Client options for `https://localhost:PORT` trusting `ca_pem` (written into `dir`).
pub fn https_options(addr: SocketAddr, dir: &Path, ca_pem: &str) -> ClientOptions {
    let mut options = ClientOptions::new(format!("https://localhost:{}", addr.port()));
    options.ca_cert = Some(crate::pki::write(dir, "ca.crt", ca_pem));
    options
}

/// Connects with `options` and calls `GetJob`; any failure as text.
pub async fn get_job(options: &ClientOptions) -> Result<v1::Job, String> {
    let channel = options.connect().await.map_err(|e| e.to_string())?;
    let mut client = JobServiceClient::new(channel);
    client
        .get_job(v1::GetJobRequest {
            id: "job-1".to_owned(),
        })
        .await
        .map(Response::into_inner)
        .map_err(|status| format!("{status}"))
}

/// A rustls client configuration trusting `ca_pem`, optionally presenting `identity`.
pub fn rustls_client(
    ca_pem: &str,
    identity: Option<&crate::pki::Issued>,
    alpn: &[u8],
) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(certificate.expect("CA PEM"))
            .expect("CA certificate");
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(roots);
    let mut config = match identity {
        Some(issued) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(issued.cert_pem.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .expect("client certificate PEM"),
                PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes()).expect("client key"),
            )
            .expect("client identity"),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![alpn.to_vec()];
    Arc::new(config)
}

/// Completes a TLS handshake with `addr` as `localhost` and returns the server's leaf
/// certificate (DER).
pub async fn server_certificate(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<Vec<u8>> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("server name");
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    let leaf = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| leaf.as_ref().to_vec())
        .ok_or_else(|| std::io::Error::other("no server certificate"))?;
    Ok(leaf)
}
