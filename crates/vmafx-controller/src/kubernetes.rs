//! Kubernetes ServiceAccount tokens as credentials: the API server reviews each token
//! (TokenReview), and `--auth-kubernetes-role NAMESPACE/SERVICEACCOUNT=ROLE` gives the
//! ServiceAccount its role. Nodes and the operator then need no shared secret.
//!
//! A node's identity is the Pod its token is bound to (a projected ServiceAccount token carries
//! the Pod's name): `POD.NAMESPACE`, the name a worker Pod registers under (the chart's node
//! pools and the operator's workers set it). A worker Pod can act only as itself, even when
//! every Pod of a pool shares one ServiceAccount, and equal Pod names in two namespaces stay
//! two identities (namespaces contain no dots).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use kube::api::{Api, PostParams};
use thiserror::Error;

use crate::auth::{Identity, Role, Unauthenticated};

/// How long a review's answer is reused: a revoked token keeps working at most this long.
pub const REVIEW_CACHE_TTL: Duration = Duration::from_secs(30);

/// How long a refusal is reused, so a client retrying a bad token cannot flood the API server.
pub const REFUSAL_CACHE_TTL: Duration = Duration::from_secs(5);

/// Reviewed tokens remembered at most; past it the cache starts afresh.
const REVIEW_CACHE_ENTRIES: usize = 10_000;

/// The extra field of a reviewed token naming the Pod it is bound to.
const POD_NAME_EXTRA: &str = "authentication.kubernetes.io/pod-name";

/// A role mapping that could not be parsed.
#[derive(Debug, Error)]
#[error("--auth-kubernetes-role {value:?}: {reason}")]
pub struct RoleMappingError {
    value: String,
    reason: String,
}

/// Parses `NAMESPACE/SERVICEACCOUNT=ROLE`.
pub fn parse_role_mapping(value: &str) -> Result<(String, Role), RoleMappingError> {
    let bad = |reason: &str| RoleMappingError {
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    let (account, role) = value
        .split_once('=')
        .ok_or_else(|| bad("expected NAMESPACE/SERVICEACCOUNT=ROLE"))?;
    let (namespace, name) = account
        .split_once('/')
        .ok_or_else(|| bad("expected NAMESPACE/SERVICEACCOUNT before '='"))?;
    let dns_label = |s: &str| {
        !s.is_empty()
            && s.len() <= 253
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    };
    if !dns_label(namespace) || !dns_label(name) {
        return Err(bad(
            "namespace and ServiceAccount must be lower-case DNS names",
        ));
    }
    let role = Role::parse(role.trim())
        .ok_or_else(|| bad("ROLE must be viewer, submitter, node or admin"))?;
    Ok((format!("{namespace}/{name}"), role))
}

type Cached = (Result<Identity, Unauthenticated>, Instant);

/// Reviews bearer tokens with the Kubernetes API server.
pub struct TokenReviewer {
    client: kube::Client,
    roles: HashMap<String, Role>,
    cache: Mutex<HashMap<Vec<u8>, Cached>>,
}

impl TokenReviewer {
    /// A reviewer using `client` (in a Pod: its own ServiceAccount, which needs
    /// `create` on `tokenreviews.authentication.k8s.io`) and the given ServiceAccount roles.
    pub fn new(client: kube::Client, roles: HashMap<String, Role>) -> TokenReviewer {
        TokenReviewer {
            client,
            roles,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Cached>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The identity `token` proves, from the cache or a fresh review.
    pub async fn review(&self, token: &[u8]) -> Result<Identity, Unauthenticated> {
        if let Some((answer, at)) = self.cache().get(token) {
            let ttl = if answer.is_ok() {
                REVIEW_CACHE_TTL
            } else {
                REFUSAL_CACHE_TTL
            };
            if at.elapsed() < ttl {
                return answer.clone();
            }
        }
        let answer = self.ask_api_server(token).await;
        // A failure to reach the API server is not the caller's fault: never remember it.
        if !answer.as_ref().is_err_and(Unauthenticated::is_unavailable) {
            let mut cache = self.cache();
            if cache.len() >= REVIEW_CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(token.to_vec(), (answer.clone(), Instant::now()));
        }
        answer
    }

    async fn ask_api_server(&self, token: &[u8]) -> Result<Identity, Unauthenticated> {
        let token = std::str::from_utf8(token).map_err(|_| Unauthenticated::Unknown)?;
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: token.to_owned(),
                ..TokenReviewSpec::default()
            },
            ..TokenReview::default()
        };
        let api: Api<TokenReview> = Api::all(self.client.clone());
        let reviewed = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| {
                Unauthenticated::Unavailable(format!("the Kubernetes token review failed: {e}"))
            })?;
        let status = reviewed.status.unwrap_or_default();
        if status.authenticated != Some(true) {
            return Err(Unauthenticated::Unknown);
        }
        let user = status.user.unwrap_or_default();
        let username = user.username.unwrap_or_default();
        let Some(account) = username.strip_prefix("system:serviceaccount:") else {
            return Err(Unauthenticated::NoRole(username));
        };
        let account = account.replacen(':', "/", 1);
        let namespace = account.split_once('/').map_or("", |(ns, _)| ns).to_owned();
        let role = *self
            .roles
            .get(&account)
            .ok_or_else(|| Unauthenticated::NoRole(format!("ServiceAccount {account}")))?;
        let pod = user
            .extra
            .as_ref()
            .and_then(|extra| extra.get(POD_NAME_EXTRA))
            .and_then(|names| names.first())
            .cloned();
        let name = match (role, pod) {
            // A Pod runs in its ServiceAccount's namespace.
            (_, Some(pod)) => format!("{pod}.{namespace}"),
            // A node must be tied to one Pod, or every holder of the token could act as any.
            (Role::Node, None) => {
                return Err(Unauthenticated::NoRole(format!(
                    "ServiceAccount {account} (a node token must be bound to its Pod; use a projected token)"
                )))
            }
            (_, None) => account,
        };
        Ok(Identity { name, role })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_mappings_parse_and_name_their_mistakes() {
        assert_eq!(
            parse_role_mapping("vmafx-system/vmafx-node=node").unwrap(),
            ("vmafx-system/vmafx-node".to_string(), Role::Node)
        );
        for bad in [
            "vmafx-node=node",
            "ns/sa",
            "ns/sa=root",
            "NS/sa=viewer",
            "/sa=viewer",
        ] {
            let err = parse_role_mapping(bad).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("--auth-kubernetes-role {bad:?}: ")),
                "{err}"
            );
        }
    }
}
