//! Throwaway certificate authorities and the certificates they sign, and writing them to files
//! the way a rotation does (write aside, then rename over).

use std::path::{Path, PathBuf};

/// A CA that signs server and client certificates.
pub struct Ca {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    /// The CA certificate, PEM.
    pub pem: String,
}

/// A certificate and its key.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = rcgen::KeyPair::generate().expect("CA key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("{name} CA"));
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let certificate = params.self_signed(&key).expect("CA certificate");
        Ca {
            issuer: rcgen::Issuer::new(params, key),
            pem: certificate.pem(),
        }
    }

    /// A serving certificate for `localhost` and 127.0.0.1.
    pub fn server(&self, common_name: &str) -> Issued {
        self.issue(
            common_name,
            vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client certificate.
    pub fn client(&self, common_name: &str) -> Issued {
        self.issue(
            common_name,
            Vec::new(),
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        )
    }

    fn issue(
        &self,
        common_name: &str,
        names: Vec<String>,
        usage: rcgen::ExtendedKeyUsagePurpose,
    ) -> Issued {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(names).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.extended_key_usages = vec![usage];
        let certificate = params.signed_by(&key, &self.issuer).expect("certificate");
        Issued {
            cert_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
            der: certificate.der().to_vec(),
        }
    }
}

/// Writes `contents` to `dir/name` atomically: aside first, then renamed over the old file.
pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    let aside = dir.join(format!(".{name}.new"));
    std::fs::write(&aside, contents).expect("write aside");
    std::fs::rename(&aside, &path).expect("rename over");
    path
}

/// Where a server's certificate and key live.
pub struct ServerFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl ServerFiles {
    pub fn write(dir: &Path, issued: &Issued) -> ServerFiles {
        // The key first: a server that looks between the two renames sees a mismatched pair
        // and keeps its last good certificate.
        let key = write(dir, "tls.key", &issued.key_pem);
        let cert = write(dir, "tls.crt", &issued.cert_pem);
        ServerFiles { cert, key }
    }
}
