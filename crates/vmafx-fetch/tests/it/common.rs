//! Shared fixtures: deterministic payloads, free ports, and servers run on their own runtimes.

use std::future::Future;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use vmafx_fetch::Input;

/// Deterministic bytes (xorshift), so a swapped or dropped chunk cannot go unnoticed.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A port nobody listens on: bound, then released.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Runs `serve(listener)` on a private runtime thread until the returned guard is dropped.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start<F, Fut>(serve: F) -> Server
    where
        F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                tokio::select! {
                    () = serve(listener) => {}
                    _ = stopped => {}
                }
            });
        });
        let addr = addr_rx.recv().unwrap();
        Server {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves hyper `service` on every accepted connection.
pub async fn serve_hyper<S, B>(listener: tokio::net::TcpListener, service: S)
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S: hyper::service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = hyper::Response<B>,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let service = service.clone();
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                .await;
        });
    }
}

/// Reads a stream input to the end, checking the reported size and name.
pub fn read_stream(input: Input, want_name: &str) -> Vec<u8> {
    match input {
        Input::Stream {
            mut reader,
            name,
            size,
        } => {
            assert_eq!(name, want_name);
            let mut got = Vec::new();
            reader.read_to_end(&mut got).unwrap();
            assert_eq!(size, Some(got.len() as u64));
            got
        }
        Input::Local(p) => panic!("expected a stream, got a local path {}", p.display()),
    }
}

/// Asserts that `dir` holds exactly the given number of entries (downloads leave no strays).
pub fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}
