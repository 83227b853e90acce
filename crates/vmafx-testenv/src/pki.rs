//! Throwaway certificates for tests that serve TLS (the operator's webhooks, `vmafx mcp`): a CA,
//! and a serving certificate for `localhost` and 127.0.0.1 and a client certificate signed by it.

/// A CA and a serving certificate signed by it, all PEM.
pub struct TestPki {
    /// The CA certificate, for clients to trust.
    pub ca_pem: String,
    /// The serving certificate (`tls.crt`).
    pub cert_pem: String,
    /// The serving certificate's private key (`tls.key`).
    pub key_pem: String,
    /// A client certificate (for mutual TLS) named "`name` client".
    pub client_cert_pem: String,
    /// The client certificate's private key.
    pub client_key_pem: String,
}

/// Why certificates could not be made.
#[derive(Debug, thiserror::Error)]
#[error("failed to generate test certificates: {0}")]
pub struct PkiError(#[from] rcgen::Error);

/// A fresh CA named "`name` CA", a serving certificate named `name` for `localhost` and
/// 127.0.0.1, usable for server authentication, and a client certificate.
pub fn serving_pki(name: &str) -> Result<TestPki, PkiError> {
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} CA"));
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()])?;
    params.subject_alt_names.push(rcgen::SanType::IpAddress(
        std::net::Ipv4Addr::LOCALHOST.into(),
    ));
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &issuer)?;
    let client_key = rcgen::KeyPair::generate()?;
    let mut client = rcgen::CertificateParams::new(Vec::<String>::new())?;
    client
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} client"));
    client.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client.signed_by(&client_key, &issuer)?;
    Ok(TestPki {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        client_cert_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_pem_certificates_and_key() {
        let pki = serving_pki("t").expect("certificates");
        assert!(pki.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(pki.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(pki.key_pem.contains("PRIVATE KEY-----"));
        assert_ne!(pki.ca_pem, pki.cert_pem);
        assert!(pki
            .client_cert_pem
            .starts_with("-----BEGIN CERTIFICATE-----"));
        assert_ne!(pki.client_cert_pem, pki.cert_pem);
    }
}
