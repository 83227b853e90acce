//! The webhook's serving certificate: loaded from the `tls.crt`/`tls.key` pair cert-manager
//! mounts, and re-read whenever those files change, because cert-manager rotates them in place
//! and the operator must not need a restart to pick up the new pair.
//!
//! Changes are detected by comparing the files' bytes on each TLS handshake rather than their
//! modification times: the files are a few kilobytes, the API server keeps its connections
//! alive, and a coarse file-system clock can give two writes the same mtime and size.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// File name of the PEM certificate chain, leaf first.
pub const CERT_FILE: &str = "tls.crt";
/// File name of the PEM private key.
pub const KEY_FILE: &str = "tls.key";

/// Why the serving certificate could not be loaded. Every variant names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// The file is missing or unreadable.
    #[error("failed to read the webhook serving certificate file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file holds no usable PEM of the expected kind.
    #[error("failed to load the webhook serving certificate file {}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads and checks the pair in `dir`: at least one certificate, a private key rustls can sign
/// with, and a key that belongs to the first certificate.
pub fn load(dir: &Path, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, CertError> {
    parse(dir, &read_pair(dir)?, provider)
}

/// The raw contents of `tls.crt` and `tls.key`.
type Pair = [Vec<u8>; 2];

fn read_pair(dir: &Path) -> Result<Pair, CertError> {
    Ok([read(&dir.join(CERT_FILE))?, read(&dir.join(KEY_FILE))?])
}

fn parse(
    dir: &Path,
    [cert_pem, key_pem]: &Pair,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, CertError> {
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    let invalid = |path: &Path, reason: String| CertError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&cert_path, format!("invalid PEM: {e}")))?;
    if chain.is_empty() {
        return Err(invalid(&cert_path, "no CERTIFICATE block found".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| invalid(&key_path, format!("no usable PRIVATE KEY block: {e}")))?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| invalid(&key_path, format!("unsupported private key: {e}")))?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            return Err(invalid(
                &key_path,
                format!("the key does not belong to the certificate in {CERT_FILE}"),
            ))
        }
        Err(e) => return Err(invalid(&cert_path, format!("invalid certificate: {e}"))),
    }
    Ok(Arc::new(certified))
}

fn read(path: &Path) -> Result<Vec<u8>, CertError> {
    std::fs::read(path).map_err(|source| CertError::Read {
        path: path.to_owned(),
        source,
    })
}

struct Current {
    /// The bytes `key` was parsed from.
    pair: Pair,
    key: Arc<CertifiedKey>,
    /// The last message of a failed reload, so a failure is logged once, not per handshake.
    failed: Option<String>,
}

/// A rustls certificate resolver that serves the pair in its directory and re-reads it on the
/// first handshake after either file changes. A missing or changed pair that does not load (for instance
/// half-written) is retried on later handshakes while the last good one keeps being served.
pub struct ReloadingCert {
    dir: PathBuf,
    provider: Arc<CryptoProvider>,
    current: Mutex<Current>,
}

impl std::fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadingCert")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl ReloadingCert {
    /// Loads the pair in `dir` now; an error here stops start-up.
    pub fn new(dir: PathBuf, provider: Arc<CryptoProvider>) -> Result<Self, CertError> {
        let pair = read_pair(&dir)?;
        let key = parse(&dir, &pair, &provider)?;
        Ok(ReloadingCert {
            dir,
            provider,
            current: Mutex::new(Current {
                pair,
                key,
                failed: None,
            }),
        })
    }

    /// The pair to serve now, re-read first if the files changed since it was loaded.
    pub fn current(&self) -> Arc<CertifiedKey> {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let reloaded = read_pair(&self.dir).and_then(|pair| {
            if pair == current.pair {
                return Ok(None);
            }
            let key = parse(&self.dir, &pair, &self.provider)?;
            Ok(Some((pair, key)))
        });
        match reloaded {
            Ok(None) => {}
            Ok(Some((pair, key))) => {
                tracing::info!(dir = %self.dir.display(), "reloaded the webhook serving certificate");
                current.pair = pair;
                current.key = key;
                current.failed = None;
            }
            Err(error) => {
                let message = vmafx_contract::error_line(&error);
                if current.failed.as_deref() != Some(message.as_str()) {
                    tracing::warn!("{message}; still serving the previous certificate");
                    current.failed = Some(message);
                }
            }
        }
        current.key.clone()
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) use vmafx_testenv::pki::TestPki;

    /// A fresh CA and a serving certificate for 127.0.0.1 signed by it.
    pub(crate) fn test_pki(name: &str) -> TestPki {
        vmafx_testenv::pki::serving_pki(name).expect("test certificates")
    }

    pub(crate) fn write_pki(dir: &Path, pki: &TestPki) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(CERT_FILE), &pki.cert_pem).unwrap();
        std::fs::write(dir.join(KEY_FILE), &pki.key_pem).unwrap();
    }

    pub(crate) fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn leaf(key: &CertifiedKey) -> Vec<u8> {
        key.end_entity_cert().unwrap().to_vec()
    }

    #[test]
    fn a_valid_pair_loads() {
        let dir = tempfile::tempdir().unwrap();
        let pki = test_pki("a");
        write_pki(dir.path(), &pki);
        let key = load(dir.path(), &provider()).unwrap();
        assert_eq!(
            leaf(&key),
            CertificateDer::from_pem_slice(pki.cert_pem.as_bytes())
                .unwrap()
                .to_vec()
        );
    }

    #[test]
    fn each_broken_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let crt = dir.path().join(CERT_FILE).display().to_string();
        let key = dir.path().join(KEY_FILE).display().to_string();
        let message = |dir: &Path| vmafx_contract::error_line(&load(dir, &provider()).unwrap_err());

        let text = message(dir.path());
        assert!(
            text.contains(&crt) && text.contains("No such file"),
            "{text}"
        );

        let a = test_pki("a");
        std::fs::write(dir.path().join(CERT_FILE), &a.cert_pem).unwrap();
        let text = message(dir.path());
        assert!(
            text.contains(&key) && text.contains("No such file"),
            "{text}"
        );

        std::fs::write(dir.path().join(CERT_FILE), "not a certificate\n").unwrap();
        std::fs::write(dir.path().join(KEY_FILE), &a.key_pem).unwrap();
        let text = message(dir.path());
        assert!(
            text.contains(&crt) && text.contains("no CERTIFICATE"),
            "{text}"
        );

        std::fs::write(dir.path().join(CERT_FILE), &a.cert_pem).unwrap();
        std::fs::write(dir.path().join(KEY_FILE), &a.cert_pem).unwrap();
        let text = message(dir.path());
        assert!(
            text.contains(&key) && text.contains("PRIVATE KEY"),
            "{text}"
        );

        let b = test_pki("b");
        std::fs::write(dir.path().join(KEY_FILE), &b.key_pem).unwrap();
        let text = message(dir.path());
        assert!(
            text.contains(&key) && text.contains("does not belong"),
            "{text}"
        );
    }

    #[test]
    fn a_rotated_pair_is_served_and_a_broken_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let a = test_pki("a");
        write_pki(dir.path(), &a);
        let resolver = ReloadingCert::new(dir.path().to_owned(), provider()).unwrap();
        let first = leaf(&resolver.current());
        assert_eq!(
            leaf(&resolver.current()),
            first,
            "unchanged files are not re-read"
        );

        let b = test_pki("b");
        write_pki(dir.path(), &b);
        let second = leaf(&resolver.current());
        assert_ne!(second, first, "the rotated certificate is served");

        // A half-written rotation keeps the last good pair.
        std::fs::write(dir.path().join(CERT_FILE), "-----BEGIN CERT").unwrap();
        assert_eq!(leaf(&resolver.current()), second);
        // Once the rotation completes, it is picked up.
        let c = test_pki("c");
        write_pki(dir.path(), &c);
        let third = leaf(&resolver.current());
        assert_ne!(third, second);
        assert_eq!(
            third,
            CertificateDer::from_pem_slice(c.cert_pem.as_bytes())
                .unwrap()
                .to_vec()
        );
    }
}
