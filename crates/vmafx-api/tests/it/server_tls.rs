//! Loading the server's TLS files: errors are one line naming the file or flag.

use std::path::Path;

use vmafx_api::tls::{ServerTls, ServerTlsOptions};

use crate::pki::{write, Ca};

#[test]
fn missing_or_bad_files_are_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = Ca::new("api");
    let issued = ca.server("controller");
    let cert = write(dir.path(), "tls.crt", &issued.cert_pem);
    let key = write(dir.path(), "tls.key", &issued.key_pem);
    let missing = dir.path().join("absent.crt");
    let garbage = write(dir.path(), "garbage.pem", "hello");

    let cases = [
        (ServerTlsOptions::new(&missing, &key), missing.clone()),
        (ServerTlsOptions::new(&cert, &missing), missing.clone()),
        (ServerTlsOptions::new(&garbage, &key), garbage.clone()),
        (ServerTlsOptions::new(&cert, &garbage), garbage.clone()),
        (
            ServerTlsOptions {
                client_ca: Some(garbage.clone()),
                ..ServerTlsOptions::new(&cert, &key)
            },
            garbage.clone(),
        ),
    ];
    for (options, named) in cases {
        let error = ServerTls::load(&options)
            .expect_err("bad files")
            .to_string();
        assert!(error.contains(&named.display().to_string()), "{error}");
        assert!(!error.contains('\n'), "{error}");
    }

    // A key from another certificate.
    let other = ca.server("other");
    let other_key = write(dir.path(), "other.key", &other.key_pem);
    let error = ServerTls::load(&ServerTlsOptions::new(&cert, &other_key))
        .expect_err("mismatched pair")
        .to_string();
    assert!(error.contains("do not form a usable pair"), "{error}");
    assert!(error.contains(&other_key.display().to_string()), "{error}");

    assert!(ServerTls::load(&ServerTlsOptions::new(&cert, &key)).is_ok());
}

#[test]
fn flags_must_come_together() {
    let some = Some(Path::new("x"));
    assert!(ServerTls::from_flags(None, None, None)
        .expect("no TLS")
        .is_none());
    for (cert, key, ca, needle) in [
        (some, None, None, "--tls-cert needs --tls-key"),
        (None, some, None, "--tls-key needs --tls-cert"),
        (
            None,
            None,
            some,
            "--client-ca needs --tls-cert and --tls-key",
        ),
    ] {
        let error = ServerTls::from_flags(cert, key, ca).expect_err("incomplete");
        assert_eq!(error.to_string(), needle);
    }
}
