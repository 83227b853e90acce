//! `vmafx job …` and `vmafx nodes`: the client side of the controller's gRPC API. Output is a
//! contract: `submit` prints the job id (or, with `--wait`, the finished job as JSON), `get --json`
//! prints an object with at least `id`, `state`, `score` and `error`.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use vmafx_api::client::{read_token, ApiChannel, ClientOptions};
use vmafx_api::v1;
use vmafx_api::v1::job_service_client::JobServiceClient;
use vmafx_api::view::{is_terminal, parse_state, state_name, FeedbackView, JobView, NodeView};

use super::service::runtime;
use crate::cli::{ControllerAddr, GetArgs, JobArgs, JobCommand, ListArgs, NodesArgs, SubmitArgs};

/// A connected client, with the address kept for error messages.
#[derive(Clone)]
pub struct Client {
    inner: JobServiceClient<ApiChannel>,
    address: String,
}

impl Client {
    /// Connects to the controller `addr` names, with its token (`--token-file`, else
    /// `VMAFX_TOKEN`) and CA certificate.
    pub async fn connect(addr: &ControllerAddr) -> anyhow::Result<Client> {
        Client::connect_with(Client::options(addr)?).await
    }

    /// A client of the controller `addr` names that connects on its first call, so that a
    /// long-running caller (`vmafx mcp`) starts while the controller is down.
    pub fn lazy(addr: &ControllerAddr) -> anyhow::Result<Client> {
        let options = Client::options(addr)?;
        let channel = options.connect_lazy()?;
        Ok(Client::over(channel, options.address))
    }

    /// Connects with explicit options.
    pub async fn connect_with(options: ClientOptions) -> anyhow::Result<Client> {
        let address = options.address.clone();
        let channel = options.connect().await?;
        Ok(Client::over(channel, address))
    }

    /// The options `addr` names: its token (`--token-file`, else `VMAFX_TOKEN`) and CA.
    fn options(addr: &ControllerAddr) -> anyhow::Result<ClientOptions> {
        Ok(ClientOptions {
            address: addr.controller.clone(),
            ca_cert: addr.ca_cert.clone(),
            client_identity: None,
            token: read_token(addr.token_file.as_deref())?,
            token_file: None,
        })
    }

    fn over(channel: ApiChannel, address: String) -> Client {
        Client {
            inner: JobServiceClient::new(channel)
                .max_decoding_message_size(vmafx_api::DEFAULT_MAX_RESULT_BYTES),
            address,
        }
    }

    fn status(&self, what: &str, status: tonic::Status) -> anyhow::Error {
        anyhow::anyhow!(
            "failed to {what} (controller {}): {}",
            self.address,
            status.message()
        )
    }

    /// Submits a job.
    pub async fn submit(
        &mut self,
        spec: v1::JobSpec,
        key: String,
    ) -> anyhow::Result<v1::SubmitJobResponse> {
        let response = self
            .inner
            .submit_job(v1::SubmitJobRequest {
                spec: Some(spec),
                idempotency_key: key,
            })
            .await;
        response
            .map(|r| r.into_inner())
            .map_err(|s| self.status("submit the job", s))
    }

    /// One job.
    pub async fn get(&mut self, id: &str) -> anyhow::Result<v1::Job> {
        let response = self
            .inner
            .get_job(v1::GetJobRequest { id: id.to_string() })
            .await;
        response
            .map(|r| r.into_inner())
            .map_err(|s| self.status(&format!("get job {id}"), s))
    }

    /// One page of jobs, newest first.
    pub async fn list(
        &mut self,
        request: v1::ListJobsRequest,
    ) -> anyhow::Result<v1::ListJobsResponse> {
        let response = self.inner.list_jobs(request).await;
        response
            .map(|r| r.into_inner())
            .map_err(|s| self.status("list jobs", s))
    }

    /// Cancels a job; returns it as it is now.
    pub async fn cancel(&mut self, id: &str) -> anyhow::Result<v1::Job> {
        let response = self
            .inner
            .cancel_job(v1::CancelJobRequest { id: id.to_string() })
            .await;
        response
            .map(|r| r.into_inner())
            .map_err(|s| self.status(&format!("cancel job {id}"), s))
    }

    /// A completed job's per-frame document (libvmaf JSON).
    pub async fn frames(&mut self, id: &str) -> anyhow::Result<Vec<u8>> {
        let response = self
            .inner
            .get_job_frames(v1::GetJobFramesRequest { id: id.to_string() })
            .await;
        response
            .map(|r| r.into_inner().json)
            .map_err(|s| self.status(&format!("get the results of job {id}"), s))
    }

    /// Every node the controller knows, all pages.
    pub async fn nodes(&mut self) -> anyhow::Result<Vec<v1::Node>> {
        let mut nodes = Vec::new();
        let mut page_token = String::new();
        loop {
            let response = self
                .inner
                .list_nodes(v1::ListNodesRequest {
                    page_size: 1000,
                    page_token,
                })
                .await;
            let page = response
                .map_err(|s| self.status("list nodes", s))?
                .into_inner();
            nodes.extend(page.nodes);
            if page.next_page_token.is_empty() {
                return Ok(nodes);
            }
            page_token = page.next_page_token;
        }
    }

    /// Follows a job until it finishes, calling `each` on every version; returns the last.
    pub async fn watch(
        &mut self,
        id: &str,
        mut each: impl FnMut(&v1::Job),
    ) -> anyhow::Result<v1::Job> {
        let response = self
            .inner
            .watch_job(v1::WatchJobRequest { id: id.to_string() })
            .await;
        let mut stream = response
            .map_err(|s| self.status(&format!("watch job {id}"), s))?
            .into_inner();
        let mut last = None;
        loop {
            match stream.message().await {
                Ok(Some(job)) => {
                    each(&job);
                    let done = is_terminal(job.state);
                    last = Some(job);
                    if done {
                        break;
                    }
                }
                Ok(None) => break,
                Err(status) => return Err(self.status(&format!("watch job {id}"), status)),
            }
        }
        match last {
            Some(job) if is_terminal(job.state) => Ok(job),
            // The stream ended early (controller restart): the store has the answer.
            _ => self.get(id).await,
        }
    }
}

/// Turns a local path into a file:// URI; anything with a scheme is kept as it is.
pub fn to_uri(field: &str, input: &str) -> anyhow::Result<String> {
    if input.contains("://") {
        return Ok(input.to_string());
    }
    let path = Path::new(input);
    let absolute = std::fs::canonicalize(path).with_context(|| {
        format!(
            "{field}: failed to find {input} (give a URI such as s3://bucket/key, or a local file)"
        )
    })?;
    Ok(format!("file://{}", absolute.display()))
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value).context("failed to format JSON")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").context("failed to write standard output")
}

/// The exit status for a finished job: success only when it completed.
fn exit_for(job: &v1::Job) -> ExitCode {
    if job.state == v1::JobState::Completed as i32 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Waits for a job with a progress bar on a terminal; returns the finished job.
pub async fn wait_with_progress(client: &mut Client, id: &str) -> anyhow::Result<v1::Job> {
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{msg:>9} [{bar:40}] {pos}/{len} frames {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    });
    let job = client
        .watch(id, |job| {
            if let Some(bar) = &bar {
                bar.set_message(state_name(job.state));
                bar.set_length(job.frames_total.max(job.frames_done));
                bar.set_position(job.frames_done);
            }
        })
        .await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    job
}

async fn submit(client: &mut Client, args: SubmitArgs) -> anyhow::Result<ExitCode> {
    let spec = v1::JobSpec {
        reference: to_uri("--reference", &args.reference)?,
        distorted: to_uri("--distorted", &args.distorted)?,
        models: args.models,
        backend: args.backend,
        priority: args.priority,
        features: args.features,
        max_attempts: args.max_attempts,
    };
    let submitted = client
        .submit(spec, args.idempotency_key.unwrap_or_default())
        .await?;
    let job = submitted.job.context("the controller returned no job")?;
    if !args.wait {
        println!("{}", job.id);
        return Ok(ExitCode::SUCCESS);
    }
    let job = wait_with_progress(client, &job.id).await?;
    print_json(&JobView::from(&job))?;
    if job.state != v1::JobState::Completed as i32 {
        eprintln!(
            "vmafx: error: job {} {}: {}",
            job.id,
            state_name(job.state),
            job.error
        );
    }
    Ok(exit_for(&job))
}

async fn get(client: &mut Client, args: GetArgs) -> anyhow::Result<ExitCode> {
    let job = client.get(&args.id).await?;
    let view = JobView::from(&job);
    if args.json {
        print_json(&view)?;
    } else {
        let score = view.score.map(|s| format!("{s:.6}")).unwrap_or_default();
        println!(
            "{}\t{}\t{}\t{}",
            view.id,
            view.state,
            score,
            view.error.unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(client: &mut Client, args: ListArgs) -> anyhow::Result<ExitCode> {
    let mut states = Vec::new();
    for name in &args.state {
        let state =
            parse_state(name).with_context(|| format!("--state: unknown state \"{name}\""))?;
        states.push(state as i32);
    }
    let page = client
        .list(v1::ListJobsRequest {
            states,
            node_id: args.node.unwrap_or_default(),
            page_size: args.limit,
            page_token: args.page_token.unwrap_or_default(),
        })
        .await?;
    let jobs: Vec<JobView> = page.jobs.iter().map(JobView::from).collect();
    if args.json {
        print_json(&serde_json::json!({
            "jobs": jobs,
            "next_page_token": (!page.next_page_token.is_empty()).then_some(&page.next_page_token),
        }))?;
    } else {
        for job in &jobs {
            let score = job.score.map(|s| format!("{s:.6}")).unwrap_or_default();
            println!("{}\t{}\t{}\t{}", job.id, job.state, score, job.distorted);
        }
        if !page.next_page_token.is_empty() {
            eprintln!("more: --page-token {}", page.next_page_token);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `vmafx job …`.
pub fn run(args: JobArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        let mut client = Client::connect(&args.addr).await?;
        match args.command {
            JobCommand::Submit(a) => submit(&mut client, a).await,
            JobCommand::Get(a) => get(&mut client, a).await,
            JobCommand::List(a) => list(&mut client, a).await,
            JobCommand::Cancel(a) => {
                let job = client.cancel(&a.id).await?;
                print_json(&JobView::from(&job))?;
                Ok(ExitCode::SUCCESS)
            }
            JobCommand::Watch(a) => {
                let mut failed = None;
                let job = client
                    .watch(&a.id, |job| {
                        if let Err(e) = print_one_line(&JobView::from(job)) {
                            failed = Some(e);
                        }
                    })
                    .await?;
                if let Some(e) = failed {
                    return Err(e);
                }
                Ok(exit_for(&job))
            }
            JobCommand::Frames(a) => {
                let frames = client.frames(&a.id).await?;
                match &a.output {
                    Some(path) => std::fs::write(path, &frames)
                        .with_context(|| format!("failed to write {}", path.display()))?,
                    None => std::io::stdout()
                        .lock()
                        .write_all(&frames)
                        .context("failed to write standard output")?,
                }
                Ok(ExitCode::SUCCESS)
            }
            JobCommand::Feedback(a) => {
                let response = client
                    .inner
                    .submit_feedback(v1::SubmitFeedbackRequest {
                        job_id: a.id.clone(),
                        target: a.target,
                    })
                    .await;
                let feedback = response
                    .map_err(|s| client.status(&format!("give feedback on job {}", a.id), s))?
                    .into_inner();
                print_json(&FeedbackView::from(&feedback))?;
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

fn print_one_line(view: &JobView) -> anyhow::Result<()> {
    let text = serde_json::to_string(view).context("failed to format JSON")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").context("failed to write standard output")?;
    out.flush().context("failed to write standard output")
}

/// Runs `vmafx nodes`.
pub fn run_nodes(args: NodesArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        let mut client = Client::connect(&args.addr).await?;
        // Every page: `vmafx nodes` lists the whole registry.
        let nodes = client.nodes().await?;
        let views: Vec<NodeView> = nodes.iter().map(NodeView::from).collect();
        if args.json {
            print_json(&serde_json::json!({ "nodes": views }))?;
        } else {
            for n in &views {
                println!(
                    "{}\t{}\t{}\thealthy={}\t{}/{}\t{}",
                    n.id, n.name, n.vendor, n.healthy, n.running, n.capacity, n.device
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Fails with the job's error unless it completed.
pub fn require_completed(job: &v1::Job) -> anyhow::Result<()> {
    if job.state == v1::JobState::Completed as i32 {
        return Ok(());
    }
    bail!("job {} {}: {}", job.id, state_name(job.state), job.error)
}
