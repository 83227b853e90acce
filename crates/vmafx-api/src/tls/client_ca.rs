//! The `--client-ca` verifier, rebuilt from its file when the file changes (checked at most once
//! per reload interval, during handshakes), so that rotating the CA that signs node and client
//! certificates needs no restart. A broken file keeps the last good CA.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

use super::{load_roots, FileStamp, TlsError};

/// Verifies client certificates against the CA file's current contents.
pub(crate) struct ReloadingClientVerifier {
    path: PathBuf,
    provider: Arc<CryptoProvider>,
    interval: Duration,
    state: Mutex<State>,
}

struct State {
    current: Arc<dyn ClientCertVerifier>,
    /// The file's stamp when last tried, good or not: a broken file is tried once per change.
    tried: Option<FileStamp>,
    next_check: Instant,
}

impl fmt::Debug for ReloadingClientVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingClientVerifier")
            .field("path", &self.path)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// A verifier for the CA certificates in `path`.
fn build(
    path: &Path,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let roots = load_roots(path, "client CA file")?;
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
        .build()
        .map_err(|e| TlsError::Invalid {
            what: "client CA file",
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

impl ReloadingClientVerifier {
    /// Loads `path` now, so that a bad file fails at start-up.
    pub(crate) fn new(
        path: &Path,
        provider: Arc<CryptoProvider>,
        interval: Duration,
    ) -> Result<ReloadingClientVerifier, TlsError> {
        let tried = FileStamp::of(path);
        let current = build(path, &provider)?;
        Ok(ReloadingClientVerifier {
            path: path.to_path_buf(),
            provider,
            interval,
            state: Mutex::new(State {
                current,
                tried,
                next_check: Instant::now() + interval,
            }),
        })
    }

    /// The verifier to use now, rebuilt first when due and the file changed.
    fn current(&self) -> Arc<dyn ClientCertVerifier> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if now < state.next_check {
            return Arc::clone(&state.current);
        }
        state.next_check = now + self.interval;
        let stamp = FileStamp::of(&self.path);
        if stamp == state.tried {
            return Arc::clone(&state.current);
        }
        state.tried = stamp;
        match build(&self.path, &self.provider) {
            Ok(verifier) => {
                tracing::info!(path = %self.path.display(), "reloaded the client CA");
                state.current = verifier;
            }
            Err(error) => tracing::warn!("keeping the previous client CA: {error}"),
        }
        Arc::clone(&state.current)
    }
}

impl ClientCertVerifier for ReloadingClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    /// No hints: they would borrow from a verifier that a reload may replace, and clients
    /// holding one certificate (every vmafx client) send it without them.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.current()
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.current().supported_verify_schemes()
    }
}
