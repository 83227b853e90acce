//! Who is calling and what they may do: bearer tokens from a token file that reloads when it
//! changes, the four roles, and the checks every front end shares.
//!
//! The token file has one `TOKEN,NAME,ROLE` line per caller (blank lines and `#` comments are
//! ignored). ROLE is `viewer` (reads), `submitter` (reads, submit, cancel), `node` (the node RPCs,
//! as the node called NAME, nothing else) or `admin` (everything). Tokens are compared in
//! constant time; they never appear in logs or errors. In Kubernetes, ServiceAccount tokens can
//! be accepted instead ([`crate::kubernetes`]): the API server reviews them and a mapping gives
//! each ServiceAccount its role.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use thiserror::Error;
use tokio_util::sync::CancellationToken;

use crate::kubernetes::TokenReviewer;

/// The shortest token a token file may hold: shorter ones are guessable.
pub const MIN_TOKEN_BYTES: usize = 16;

/// The largest token file read, so that a wrong path (a disk image, /dev/zero) fails quickly.
pub const MAX_TOKEN_FILE_BYTES: u64 = 1 << 20;

/// How often the token file is checked for changes.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Reads jobs, frames, nodes and metrics.
    Viewer,
    /// A viewer that may also submit and cancel jobs.
    Submitter,
    /// A worker node: the node RPCs only, and only as itself.
    Node,
    /// Everything.
    Admin,
}

impl Role {
    /// The name used in token files.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Submitter => "submitter",
            Role::Node => "node",
            Role::Admin => "admin",
        }
    }

    /// Parses a token file's role name.
    pub fn parse(name: &str) -> Option<Role> {
        [Role::Viewer, Role::Submitter, Role::Node, Role::Admin]
            .into_iter()
            .find(|role| role.as_str() == name)
    }

    /// Whether this role may perform `access`.
    pub fn allows(self, access: Access) -> bool {
        matches!(
            (self, access),
            (Role::Admin, _)
                | (Role::Viewer, Access::Read)
                | (Role::Submitter, Access::Read | Access::Submit)
                | (Role::Node, Access::Node)
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds of call, each needing some role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading jobs, frames, nodes or metrics.
    Read,
    /// Submitting or cancelling jobs.
    Submit,
    /// The node RPCs: register, heartbeat, claim, progress, complete, fail.
    Node,
}

impl Access {
    fn describe(self) -> &'static str {
        match self {
            Access::Read => "read jobs and nodes",
            Access::Submit => "submit or cancel jobs",
            Access::Node => "call the node API",
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The token's NAME: a person, a script, or the node name a node token is bound to.
    pub name: String,
    /// What it may do.
    pub role: Role,
}

impl Identity {
    /// Whether this caller may act as the node called `node_name`: its NAME exactly, or, for a
    /// NAME ending in `*`, any name with that prefix (one token for the replicas of a pool whose
    /// Pod names are not known in advance; `--auth-kubernetes` binds each Pod to itself instead).
    pub fn may_be_node(&self, node_name: &str) -> bool {
        match self.name.strip_suffix('*') {
            Some(prefix) => node_name.starts_with(prefix) && node_name.len() > prefix.len(),
            None => self.name == node_name,
        }
    }

    /// The caller of a controller that authenticates nobody (`vmafx serve` on loopback, or
    /// `--insecure`): everything is allowed.
    pub fn anonymous() -> Identity {
        Identity {
            name: "anonymous".into(),
            role: Role::Admin,
        }
    }

    /// Whether this caller may perform `access`; the error says who was refused what.
    pub fn require(&self, access: Access) -> Result<(), Denied> {
        if self.role.allows(access) {
            Ok(())
        } else {
            Err(Denied(format!(
                "{} (role {}) may not {}",
                self.name,
                self.role,
                access.describe()
            )))
        }
    }
}

/// A refusal of an authenticated caller (HTTP 403, gRPC PERMISSION_DENIED).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("permission denied: {0}")]
pub struct Denied(pub String);

/// A request without a valid token (HTTP 401, gRPC UNAUTHENTICATED), or one that could not be
/// checked right now (HTTP 503, gRPC UNAVAILABLE).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Unauthenticated {
    /// No `authorization` header or metadata.
    #[error("authentication required: send \"authorization: Bearer TOKEN\"")]
    Missing,
    /// A header that is not `Bearer TOKEN`.
    #[error("authentication failed: the authorization header is not \"Bearer TOKEN\"")]
    Malformed,
    /// A token the controller does not know.
    #[error("authentication failed: unknown token")]
    Unknown,
    /// A valid Kubernetes identity that no `--auth-kubernetes-role` maps to a role.
    #[error("authentication failed: {0} has no role on this controller")]
    NoRole(String),
    /// The Kubernetes API server could not review the token.
    #[error("authentication unavailable: {0}")]
    Unavailable(String),
}

impl Unauthenticated {
    /// Whether the failure is on the controller's side (retry later), not the caller's.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Unauthenticated::Unavailable(_))
    }
}

/// Why a token file could not be used; each names the file (and line).
#[derive(Debug, Error)]
pub enum TokenFileError {
    /// The file could not be read.
    #[error("failed to read token file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The read error.
        source: std::io::Error,
    },
    /// The file is not a regular file or is too large.
    #[error("token file {path}: {reason}")]
    Unusable {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A line is malformed.
    #[error("token file {path}:{line}: {reason}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// One caller's token.
struct Entry {
    token: Vec<u8>,
    identity: Identity,
}

/// Parses the text of a token file.
fn parse_entries(path: &Path, text: &str) -> Result<Vec<Entry>, TokenFileError> {
    let mut entries: Vec<Entry> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |reason: String| TokenFileError::Line {
            path: path.to_owned(),
            line: index + 1,
            reason,
        };
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [token, name, role] = fields[..] else {
            return Err(bad(format!(
                "expected TOKEN,NAME,ROLE (3 fields), found {}",
                fields.len()
            )));
        };
        if token.len() < MIN_TOKEN_BYTES {
            return Err(bad(format!(
                "the token is shorter than {MIN_TOKEN_BYTES} characters"
            )));
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad(
                "the token holds white space or control characters".into()
            ));
        }
        if name.is_empty() || name.len() > 253 || name.chars().any(|c| c.is_control()) {
            return Err(bad(
                "NAME must be 1 to 253 characters without control characters".into(),
            ));
        }
        let role = Role::parse(role).ok_or_else(|| {
            bad(format!(
                "unknown role {role:?} (expected viewer, submitter, node or admin)"
            ))
        })?;
        if entries
            .iter()
            .any(|entry| entry.token.as_slice() == token.as_bytes())
        {
            return Err(bad("this token is already given to another caller".into()));
        }
        entries.push(Entry {
            token: token.as_bytes().to_vec(),
            identity: Identity {
                name: name.to_owned(),
                role,
            },
        });
    }
    Ok(entries)
}

/// Equality whose time depends only on the lengths, not on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What identifies a version of the token file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

struct TokenTable {
    entries: Vec<Entry>,
    stamp: Stamp,
}

fn read_token_file(path: &Path) -> Result<(Vec<Entry>, Stamp), TokenFileError> {
    let read_error = |source| TokenFileError::Read {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_error)?;
    if !meta.is_file() {
        return Err(TokenFileError::Unusable {
            path: path.to_owned(),
            reason: "not a regular file".into(),
        });
    }
    if meta.len() > MAX_TOKEN_FILE_BYTES {
        return Err(TokenFileError::Unusable {
            path: path.to_owned(),
            reason: format!("larger than {MAX_TOKEN_FILE_BYTES} bytes"),
        });
    }
    let text = std::fs::read_to_string(path).map_err(read_error)?;
    let entries = parse_entries(path, &text)?;
    if entries.is_empty() {
        return Err(TokenFileError::Unusable {
            path: path.to_owned(),
            reason: "holds no TOKEN,NAME,ROLE line, so nobody could call the controller".into(),
        });
    }
    Ok((
        entries,
        Stamp {
            modified: meta.modified().ok(),
            len: meta.len(),
        },
    ))
}

/// Tokens from a file, reread when it changes.
struct TokenSource {
    path: PathBuf,
    table: RwLock<TokenTable>,
}

impl TokenSource {
    /// The identity `token` names in the file, comparing against every entry so that the time
    /// taken does not say which one matched.
    fn lookup(&self, token: &[u8]) -> Option<Identity> {
        let table = self.table.read().ok()?;
        let mut found = None;
        for entry in &table.entries {
            if constant_time_eq(&entry.token, token) && found.is_none() {
                found = Some(entry.identity.clone());
            }
        }
        found
    }
}

/// Turns the `authorization` value of a request into an [`Identity`]; shared by gRPC and HTTP.
/// With neither a token file nor Kubernetes review it authenticates nobody.
#[derive(Default)]
pub struct Authenticator {
    tokens: Option<TokenSource>,
    kubernetes: Option<TokenReviewer>,
    /// Tokens the process made for its own parts (`vmafx serve`'s built-in node): never in a
    /// file, never reloaded away.
    internal: Vec<Entry>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("token_file", &self.tokens.as_ref().map(|t| &t.path))
            .field("kubernetes", &self.kubernetes.is_some())
            .finish()
    }
}

impl Authenticator {
    /// Authenticates nobody: every caller is [`Identity::anonymous`].
    pub fn open() -> Arc<Authenticator> {
        Arc::new(Authenticator::default())
    }

    /// Authenticates with the tokens of `path`, read now; [`Authenticator::reload`] rereads it.
    pub fn from_token_file(path: &Path) -> Result<Arc<Authenticator>, TokenFileError> {
        Ok(Arc::new(Authenticator::default().with_token_file(path)?))
    }

    /// Adds the tokens of `path`, read now.
    pub fn with_token_file(mut self, path: &Path) -> Result<Authenticator, TokenFileError> {
        let (entries, stamp) = read_token_file(path)?;
        tracing::info!(file = %path.display(), callers = entries.len(), "token file loaded");
        self.tokens = Some(TokenSource {
            path: path.to_owned(),
            table: RwLock::new(TokenTable { entries, stamp }),
        });
        Ok(self)
    }

    /// Adds Kubernetes ServiceAccount tokens, reviewed by the API server; tried after the token
    /// file.
    pub fn with_kubernetes(mut self, reviewer: TokenReviewer) -> Authenticator {
        self.kubernetes = Some(reviewer);
        self
    }

    /// Adds a token held only in memory, for a part of this same process. It does not turn
    /// authentication on by itself.
    pub fn with_internal_token(mut self, token: &str, identity: Identity) -> Authenticator {
        self.internal.push(Entry {
            token: token.as_bytes().to_vec(),
            identity,
        });
        self
    }

    /// Whether callers are authenticated at all.
    pub fn is_enforcing(&self) -> bool {
        self.tokens.is_some() || self.kubernetes.is_some()
    }

    /// The caller an `authorization` value (`Bearer TOKEN`) names.
    pub async fn authenticate(
        &self,
        authorization: Option<&[u8]>,
    ) -> Result<Identity, Unauthenticated> {
        if !self.is_enforcing() {
            return Ok(Identity::anonymous());
        }
        let value = authorization.ok_or(Unauthenticated::Missing)?;
        let token = bearer_token(value).ok_or(Unauthenticated::Malformed)?;
        if let Some(identity) = self.tokens.as_ref().and_then(|t| t.lookup(token)) {
            return Ok(identity);
        }
        let mut internal = None;
        for entry in &self.internal {
            if constant_time_eq(&entry.token, token) && internal.is_none() {
                internal = Some(entry.identity.clone());
            }
        }
        if let Some(identity) = internal {
            return Ok(identity);
        }
        match &self.kubernetes {
            Some(reviewer) => reviewer.review(token).await,
            None => Err(Unauthenticated::Unknown),
        }
    }

    /// Rereads the token file if it changed since the last read. A file that became unreadable
    /// or invalid keeps the previous tokens in force (and the error is returned to be logged):
    /// a typo while editing must not lock every caller out.
    pub fn reload(&self) -> Result<bool, TokenFileError> {
        let Some(TokenSource { path, table }) = &self.tokens else {
            return Ok(false);
        };
        let meta = std::fs::metadata(path).map_err(|source| TokenFileError::Read {
            path: path.clone(),
            source,
        })?;
        let stamp = Stamp {
            modified: meta.modified().ok(),
            len: meta.len(),
        };
        if table.read().map(|t| t.stamp == stamp).unwrap_or(false) {
            return Ok(false);
        }
        let (entries, stamp) = read_token_file(path)?;
        let callers = entries.len();
        if let Ok(mut table) = table.write() {
            *table = TokenTable { entries, stamp };
        }
        tracing::info!(file = %path.display(), callers, "token file reloaded");
        Ok(true)
    }

    /// Rereads the token file every [`RELOAD_INTERVAL`] until `shutdown`.
    pub fn spawn_reloader(self: &Arc<Self>, shutdown: CancellationToken) {
        if self.tokens.is_none() {
            return;
        }
        let auth = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(RELOAD_INTERVAL);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = ticker.tick() => {}
                }
                if let Err(err) = auth.reload() {
                    tracing::warn!("keeping the previous tokens: {err}");
                }
            }
        });
    }
}

/// The token of a `Bearer TOKEN` header value (the scheme is case-insensitive).
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: &str = "admin-token-0123456789";
    const VIEWER: &str = "viewer-token-0123456789";

    /// Runs the async check on a throwaway runtime.
    fn check(auth: &Authenticator, header: Option<&[u8]>) -> Result<Identity, Unauthenticated> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(auth.authenticate(header))
    }

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("tokens");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn roles_allow_what_the_issue_lists() {
        use Access::*;
        assert!(Role::Viewer.allows(Read));
        assert!(!Role::Viewer.allows(Submit));
        assert!(!Role::Viewer.allows(Node));
        assert!(Role::Submitter.allows(Read) && Role::Submitter.allows(Submit));
        assert!(!Role::Submitter.allows(Node));
        assert!(Role::Node.allows(Node));
        assert!(!Role::Node.allows(Read) && !Role::Node.allows(Submit));
        assert!([Read, Submit, Node]
            .into_iter()
            .all(|a| Role::Admin.allows(a)));
    }

    #[test]
    fn tokens_map_to_identities() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            &format!("# callers\n{ADMIN},alice,admin\n\n {VIEWER} , grafana , viewer \n"),
        );
        let auth = Authenticator::from_token_file(&path).unwrap();
        let who = check(&auth, Some(format!("Bearer {VIEWER}").as_bytes())).unwrap();
        assert_eq!(who.name, "grafana");
        assert_eq!(who.role, Role::Viewer);
        assert_eq!(
            check(&auth, Some(format!("bearer {ADMIN}").as_bytes()))
                .unwrap()
                .role,
            Role::Admin
        );
        assert_eq!(check(&auth, None), Err(Unauthenticated::Missing));
        assert_eq!(
            check(&auth, Some(ADMIN.as_bytes())),
            Err(Unauthenticated::Malformed)
        );
        assert_eq!(
            check(&auth, Some(b"Bearer admin-token-012345678X")),
            Err(Unauthenticated::Unknown)
        );
        assert_eq!(
            check(&auth, Some(b"Bearer ")),
            Err(Unauthenticated::Malformed)
        );
    }

    #[test]
    fn bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        for (text, wanted) in [
            ("short,bob,admin\n", ":1: the token is shorter than 16"),
            (
                &format!("{ADMIN},bob,root\n") as &str,
                ":1: unknown role \"root\"",
            ),
            (&format!("\n{ADMIN},bob\n"), ":2: expected TOKEN,NAME,ROLE"),
            (
                &format!("{ADMIN},a,admin\n{ADMIN},b,viewer\n"),
                ":2: this token is already given",
            ),
            ("# nothing\n", "holds no TOKEN,NAME,ROLE line"),
        ] {
            let path = write(dir.path(), text);
            let err = Authenticator::from_token_file(&path)
                .unwrap_err()
                .to_string();
            assert!(err.contains(wanted), "{text:?}: {err}");
            assert!(err.contains(&path.display().to_string()), "{err}");
            assert!(!err.contains(ADMIN), "the token leaked into {err}");
        }
        let err = Authenticator::from_token_file(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }

    #[test]
    fn reload_picks_up_changes_and_keeps_the_last_good_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &format!("{ADMIN},alice,admin\n"));
        let auth = Authenticator::from_token_file(&path).unwrap();
        assert!(!auth.reload().unwrap());
        // A different length is a different stamp even within one mtime tick.
        write(dir.path(), &format!("{VIEWER},grafana,viewer\n"));
        assert!(auth.reload().unwrap());
        assert_eq!(
            check(&auth, Some(format!("Bearer {ADMIN}").as_bytes())),
            Err(Unauthenticated::Unknown)
        );
        assert!(check(&auth, Some(format!("Bearer {VIEWER}").as_bytes())).is_ok());
        write(dir.path(), "garbage line\n");
        assert!(auth.reload().is_err());
        assert!(check(&auth, Some(format!("Bearer {VIEWER}").as_bytes())).is_ok());
    }

    #[test]
    fn open_mode_lets_everyone_in_as_admin() {
        let auth = Authenticator::open();
        assert!(!auth.is_enforcing());
        assert_eq!(check(&auth, None).unwrap(), Identity::anonymous());
    }

    #[test]
    fn a_node_name_ending_in_a_star_covers_a_pool() {
        let pool = Identity {
            name: "vmafx-node-cpu-*".into(),
            role: Role::Node,
        };
        assert!(pool.may_be_node("vmafx-node-cpu-7d9f-abcde"));
        assert!(!pool.may_be_node("vmafx-node-cpu-"));
        assert!(!pool.may_be_node("vmafx-node-gpu-0"));
        let one = Identity {
            name: "worker-0".into(),
            role: Role::Node,
        };
        assert!(one.may_be_node("worker-0") && !one.may_be_node("worker-01"));
    }

    #[test]
    fn denial_names_caller_role_and_action() {
        let who = Identity {
            name: "grafana".into(),
            role: Role::Viewer,
        };
        assert_eq!(
            who.require(Access::Submit).unwrap_err().to_string(),
            "permission denied: grafana (role viewer) may not submit or cancel jobs"
        );
    }
}
