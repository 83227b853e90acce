//! gs:// against fake-gcs-server, when it is installed (`go install
//! github.com/fsouza/fake-gcs-server@latest`; found on PATH, in ~/go/bin, or at $FAKE_GCS_SERVER).
//! Without it the test prints why and passes, so a machine without Go still runs the rest.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vmafx_fetch::{FetchConfig, FetchError, Fetcher, GcsConfig};

use crate::common::{closed_port, payload, read_stream};

fn find_tool(env: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join("go/bin"));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

struct Emulator(Child);

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "emulator did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn gcs_against_fake_gcs_server() {
    let Some(bin) = find_tool("FAKE_GCS_SERVER", "fake-gcs-server") else {
        eprintln!("SKIPPED gcs_against_fake_gcs_server: fake-gcs-server not found (go install github.com/fsouza/fake-gcs-server@latest, or set FAKE_GCS_SERVER)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = payload(4 * 1024 * 1024 + 9, 5);
    // fake-gcs-server loads <data>/<bucket>/<object> at start.
    std::fs::create_dir_all(dir.path().join("seed/videos/clips")).unwrap();
    std::fs::write(dir.path().join("seed/videos/clips/c.y4m"), &data).unwrap();
    let port = closed_port();
    let _server = Emulator(
        Command::new(&bin)
            .args([
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-backend",
                "memory",
            ])
            .args(["-port", &port.to_string()])
            .arg("-data")
            .arg(dir.path().join("seed"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port);
    let f = Fetcher::new(FetchConfig {
        gcs: GcsConfig {
            emulator_host: Some(format!("http://127.0.0.1:{port}")),
            ..GcsConfig::default()
        },
        ..FetchConfig::default()
    })
    .unwrap();
    assert!(read_stream(f.open("gs://videos/clips/c.y4m").unwrap(), "c.y4m") == data);
    let err = f.open("gs://videos/clips/none.y4m").unwrap_err();
    assert!(matches!(err, FetchError::NotFound { .. }), "{err:?}");
    assert!(err
        .to_string()
        .starts_with("failed to open gs://videos/clips/none.y4m: not found"));
}

/// Azurite's well-known development account.
const AZ_ACCOUNT: &str = "devstoreaccount1";
const AZ_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Sends one SharedKey-signed PUT to Azurite (the test's own setup; the fetcher only reads).
fn azure_put(port: u16, path_and_query: &str, extra: &[(&str, &str)], body: &[u8]) -> String {
    use base64::Engine;
    use hmac::Mac;
    use std::io::{Read, Write};

    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let version = "2021-08-06";
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut headers: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    headers.push(("x-ms-date".into(), date));
    headers.push(("x-ms-version".into(), version.into()));
    headers.sort();
    let canon_headers: String = headers
        .iter()
        .filter(|(k, _)| k.starts_with("x-ms-"))
        .map(|(k, v)| format!("{k}:{v}\n"))
        .collect();
    // The account, then the path, which for path-style (emulator) URLs repeats the account.
    let mut canon_resource = format!("/{AZ_ACCOUNT}{path}");
    for pair in query.split('&').filter(|q| !q.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap();
        canon_resource.push_str(&format!("\n{k}:{v}"));
    }
    let len = if body.is_empty() {
        String::new()
    } else {
        body.len().to_string()
    };
    let to_sign = format!("PUT\n\n\n{len}\n\n\n\n\n\n\n\n\n{canon_headers}{canon_resource}");
    let key = base64::engine::general_purpose::STANDARD
        .decode(AZ_KEY)
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(to_sign.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());

    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!(
        "PUT {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nAuthorization: SharedKey {AZ_ACCOUNT}:{sig}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in &headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut resp = String::new();
    let _ = stream.read_to_string(&mut resp);
    resp.lines().next().unwrap_or("").to_string()
}

#[test]
fn azure_against_azurite() {
    let Some(bin) = find_tool("AZURITE_BLOB", "azurite-blob") else {
        eprintln!("SKIPPED azure_against_azurite: azurite-blob not found (npm install azurite, then put node_modules/.bin on PATH or set AZURITE_BLOB)");
        return;
    };
    let port = closed_port();
    let _server = Emulator(
        Command::new(&bin)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args(["--inMemoryPersistence", "--skipApiVersionCheck", "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port);
    let data = payload(4 * 1024 * 1024 + 1, 9);
    let status = azure_put(
        port,
        &format!("/{AZ_ACCOUNT}/videos?restype=container"),
        &[],
        b"",
    );
    assert!(status.contains(" 201 "), "create container: {status}");
    let status = azure_put(
        port,
        &format!("/{AZ_ACCOUNT}/videos/clips/c.y4m"),
        &[("x-ms-blob-type", "BlockBlob")],
        &data,
    );
    assert!(status.contains(" 201 "), "put blob: {status}");

    let config = |key: &str| FetchConfig {
        azure: vmafx_fetch::AzureConfig {
            account: Some(AZ_ACCOUNT.into()),
            key: Some(key.into()),
            endpoint: Some(format!("http://127.0.0.1:{port}/{AZ_ACCOUNT}")),
        },
        ..FetchConfig::default()
    };
    let f = Fetcher::new(config(AZ_KEY)).unwrap();
    assert!(read_stream(f.open("azure://videos/clips/c.y4m").unwrap(), "c.y4m") == data);
    let err = f.open("azure://videos/clips/none.y4m").unwrap_err();
    assert!(matches!(err, FetchError::NotFound { .. }), "{err:?}");
    let err = f.open("azure://nocontainer/a.y4m").unwrap_err();
    assert!(matches!(err, FetchError::NotFound { .. }), "{err:?}");

    let wrong = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b"not the key");
    let err = Fetcher::new(config(&wrong))
        .unwrap()
        .open("azure://videos/clips/c.y4m")
        .unwrap_err();
    assert!(matches!(err, FetchError::AccessDenied { .. }), "{err:?}");
}
