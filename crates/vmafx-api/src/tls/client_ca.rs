//! The `--client-ca` verifier, rebuilt from its file when the file changes (checked at most once
//! per reload interval, during handshakes), so that rotating the CA that signs node and client
//! certificates needs no restart. A broken file keeps the last good CA.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

use super::{load_roots, Reloading, TlsError};

/// Verifies client certificates against the CA file's current contents.
pub(crate) struct ReloadingClientVerifier {
    path: PathBuf,
    provider: Arc<CryptoProvider>,
    loaded: Reloading<Arc<dyn ClientCertVerifier>>,
}

impl fmt::Debug for ReloadingClientVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingClientVerifier")
            .field("path", &self.path)
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
        let loaded = Reloading::new(&[path], "client CA", interval, || build(path, &provider))?;
        Ok(ReloadingClientVerifier {
            path: path.to_path_buf(),
            provider,
            loaded,
        })
    }

    /// The verifier to use now, rebuilt first when due and the file changed.
    fn current(&self) -> Arc<dyn ClientCertVerifier> {
        self.loaded.current(|| build(&self.path, &self.provider))
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
