//! What a tenant may point the operator at: the images its worker Deployments may run
//! (`VMAFX_OPERATOR_ALLOWED_IMAGES`) and the endpoints it probes or polls (in-cluster Services of
//! the object's own namespace only). Pure functions, shared by the admission webhook and the
//! reconcilers, so an object that slipped past the webhook (webhooks off, or stored before) is
//! refused the same way by the reconciler.

/// The most bytes the operator reads from a probed or polled endpoint's response body.
pub const MAX_RESPONSE_BYTES: usize = 64 << 10;

/// Image prefixes allowed when `VMAFX_OPERATOR_ALLOWED_IMAGES` is unset: the repository the
/// operator's own image comes from, by tag or by digest.
pub const DEFAULT_ALLOWED_IMAGES: [&str; 2] = ["ghcr.io/vmafx/vmafx:", "ghcr.io/vmafx/vmafx@"];

/// Why an allowed-image prefix is refused, or `None` when it is usable. A prefix must end at a
/// repository boundary (`/`), or reach into one repository's tag or digest (`:` or `@` after its
/// last `/`), so `ghcr.io/vmafx/vmafx` cannot also admit `ghcr.io/vmafx/vmafx-evil`.
pub fn image_prefix_problem(prefix: &str) -> Option<&'static str> {
    if prefix.is_empty() || prefix.contains(char::is_whitespace) {
        return Some("a prefix must be non-empty and contain no spaces");
    }
    if prefix.ends_with('/') {
        return None;
    }
    match prefix.rsplit_once('/') {
        Some((_, last)) if last.contains(':') || last.contains('@') => None,
        _ => Some(
            "a prefix must end with '/' or reach into a tag or digest (REPOSITORY: or REPOSITORY@), \
             or it would also admit other repositories that start the same way",
        ),
    }
}

/// Checks `image` against the allowed prefixes; the message names what is allowed.
pub fn check_image(image: &str, allowed: &[String]) -> Result<(), String> {
    let image = image.trim();
    if image.is_empty() {
        return Err("must name a container image".to_owned());
    }
    if image.contains(char::is_whitespace) {
        return Err(format!("{image:?} is not an image reference"));
    }
    if allowed
        .iter()
        .any(|prefix| image.starts_with(prefix.as_str()))
    {
        return Ok(());
    }
    Err(format!(
        "{image:?} is not allowed: images must start with one of {} (VMAFX_OPERATOR_ALLOWED_IMAGES)",
        allowed
            .iter()
            .map(|p| format!("{p:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Whether `value` is a DNS-1123 label: 1 to 63 lower-case letters, digits and `-`, starting and
/// ending with a letter or digit (what Service and namespace names are).
fn is_dns_label(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-')
}

/// Checks that `value` is the URL of a Service in `namespace`:
/// `http(s)://NAME.NAMESPACE[.svc[.cluster.local]][:PORT][/PATH]`, with no user info, query or
/// fragment. Anything else (an IP address, an outside host, another namespace's Service) is
/// refused, so the operator cannot be made to fetch from where the object's owner could not.
pub fn check_service_url(value: &str, namespace: &str) -> Result<(), String> {
    let shape = "expected http(s)://NAME.NAMESPACE.svc[.cluster.local][:PORT][/PATH], a Service in the object's namespace";
    let refuse = |why: &str| Err(format!("{value:?} {why}; {shape}"));
    let Some((scheme, rest)) = value.split_once("://") else {
        return refuse("is not a URL");
    };
    if scheme != "http" && scheme != "https" {
        return refuse("is not http or https");
    }
    if rest.bytes().any(|b| {
        b.is_ascii_whitespace() || b.is_ascii_control() || matches!(b, b'?' | b'#' | b'@' | b'\\')
    }) {
        return refuse("holds user info, a query, a fragment or spaces");
    }
    let (authority, _path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = match authority.rsplit_once(':') {
        Some((host, port)) => {
            let port_ok = !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|p| p > 0);
            if !port_ok {
                return refuse("has no valid port after ':'");
            }
            host
        }
        None => authority,
    };
    let host = host
        .strip_suffix(".svc.cluster.local")
        .or_else(|| host.strip_suffix(".svc"))
        .unwrap_or(host);
    let Some((service, service_namespace)) = host.split_once('.') else {
        return refuse("does not name a Service as NAME.NAMESPACE");
    };
    if !is_dns_label(service) || !is_dns_label(service_namespace) {
        return refuse("does not name a Service as NAME.NAMESPACE");
    }
    if service_namespace != namespace {
        return refuse(&format!(
            "names a Service in namespace {service_namespace:?}, not the object's {namespace:?}"
        ));
    }
    Ok(())
}

/// Why a response body could not be read within [`MAX_RESPONSE_BYTES`].
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is longer than the limit.
    #[error("the response body exceeds the {limit} byte limit")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The connection failed while reading.
    #[error("failed to read the response body: {0}")]
    Read(#[source] reqwest::Error),
}

/// Reads `response`'s body, refusing one longer than `limit` bytes without reading past it.
pub async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<String> {
        DEFAULT_ALLOWED_IMAGES.map(str::to_owned).to_vec()
    }

    #[test]
    fn images_must_start_with_an_allowed_prefix() {
        for image in ["ghcr.io/vmafx/vmafx:0.1.0", "ghcr.io/vmafx/vmafx@sha256:ab"] {
            assert_eq!(check_image(image, &defaults()), Ok(()), "{image}");
        }
        for image in [
            "ghcr.io/vmafx/vmafx-evil:1",
            "docker.io/library/busybox:1",
            "ghcr.io/vmafx/vmafx",
            "evil.io/ghcr.io/vmafx/vmafx:1",
        ] {
            let err = check_image(image, &defaults()).unwrap_err();
            assert!(
                err.contains("is not allowed") && err.contains("ghcr.io/vmafx/vmafx:"),
                "{err}"
            );
        }
        assert!(check_image(" ", &defaults()).is_err());
        assert!(check_image("ghcr.io/vmafx/vmafx:1 x", &defaults()).is_err());
    }

    #[test]
    fn prefixes_end_at_a_repository_boundary() {
        for ok in [
            "registry.local:5000/",
            "ghcr.io/vmafx/vmafx:",
            "ghcr.io/a/b@",
            "ghcr.io/a/b:1.2",
        ] {
            assert_eq!(image_prefix_problem(ok), None, "{ok}");
        }
        for bad in ["ghcr.io/vmafx/vmafx", "registry.local:5000", "", "a b/"] {
            assert!(image_prefix_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn service_urls_of_the_own_namespace_are_accepted() {
        for url in [
            "http://worker.ns1.svc:8090",
            "http://worker.ns1.svc.cluster.local:8090/healthz",
            "https://trainer.ns1.svc/api",
            "http://trainer.ns1:8080",
            "http://trainer.ns1",
        ] {
            assert_eq!(check_service_url(url, "ns1"), Ok(()), "{url}");
        }
    }

    #[test]
    fn everything_else_is_refused_naming_the_value() {
        for url in [
            "http://127.0.0.1:8090",
            "http://169.254.169.254/latest",
            "http://[::1]:80/",
            "http://example.com/healthz",
            "http://worker.other.svc:8090",
            "http://worker.ns1.svc.evil.com",
            "ftp://worker.ns1.svc",
            "worker.ns1.svc:8090",
            "http://user@worker.ns1.svc",
            "http://worker.ns1.svc:0",
            "http://worker.ns1.svc:99999",
            "http://worker.ns1.svc:/x",
            "http://worker.ns1.svc/x?y=1",
            "http://Worker.ns1.svc",
            "http://localhost",
            "http://worker.ns1.svc\\@evil",
        ] {
            let err = check_service_url(url, "ns1").unwrap_err();
            assert!(err.contains(&format!("{url:?}")), "{err}");
            assert!(err.contains("NAME.NAMESPACE"), "{err}");
        }
        let err = check_service_url("http://worker.other.svc:8090", "ns1").unwrap_err();
        assert!(err.contains("\"other\""), "{err}");
    }
}
