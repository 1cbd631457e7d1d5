//! The webhook receiver's front door: the `X-Hub-Signature-256` check
//! (HMAC-SHA256 of the raw body with the webhook secret, compared in
//! constant time before anything parses the body), a bounded replay cache
//! on `X-GitHub-Delivery`, the body size limit, and the events the bot acts
//! on, parsed from the payload with every value that will reach git or a
//! URL validated.

use std::collections::{HashSet, VecDeque};
use std::fmt;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::Secret;
use super::git::{BranchName, is_hex_sha};

/// Bodies over this size are refused with 413.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Does `header` (`sha256=<64 hex>`) sign `body` with `secret`?  The
/// comparison of the MACs is constant-time; a malformed header is simply
/// not a match.
pub fn verify_signature(secret: &Secret, body: &[u8], header: Option<&str>) -> bool {
    let Some(hex) = header.and_then(|h| h.strip_prefix("sha256=")) else {
        return false;
    };
    let Some(given) = decode_hex(hex) else {
        return false;
    };
    let expected = sign(secret, body);
    if given.len() != expected.len() {
        return false;
    }
    expected.ct_eq(&given).into()
}

/// The raw HMAC-SHA256 of `body`.
pub fn sign(secret: &Secret, body: &[u8]) -> Vec<u8> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// The `X-Hub-Signature-256` header value for `body`.
pub fn signature_header(secret: &Secret, body: &[u8]) -> String {
    let mac = sign(secret, body);
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    let b = s.as_bytes();
    (0..32)
        .map(|i| {
            let hi = (b[2 * i] as char).to_digit(16)?;
            let lo = (b[2 * i + 1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

/// The last `capacity` delivery ids seen.
#[derive(Debug)]
pub struct ReplayCache {
    capacity: usize,
    order: VecDeque<String>,
    seen: HashSet<String>,
}

impl ReplayCache {
    pub fn new(capacity: usize) -> ReplayCache {
        ReplayCache {
            capacity: capacity.max(1),
            order: VecDeque::new(),
            seen: HashSet::new(),
        }
    }

    /// Whether `id` was recorded (a replay).
    pub fn contains(&self, id: &str) -> bool {
        self.seen.contains(id)
    }

    /// Records `id`; false when it was already there (a replay).
    pub fn insert(&mut self, id: &str) -> bool {
        if self.seen.contains(id) {
            return false;
        }
        if self.order.len() == self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.order.push_back(id.to_string());
        self.seen.insert(id.to_string());
        true
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// `owner/name` of a repository, validated (GitHub's own character set),
/// so it can go into URL paths as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoId {
    pub owner: String,
    pub name: String,
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s != "."
        && s != ".."
        && !s.starts_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl RepoId {
    pub fn parse(full_name: &str) -> Result<RepoId, EventError> {
        let (owner, name) = full_name
            .split_once('/')
            .ok_or_else(|| EventError::Invalid(format!("repository {full_name:?}")))?;
        if !valid_name(owner) || !valid_name(name) {
            return Err(EventError::Invalid(format!("repository {full_name:?}")));
        }
        Ok(RepoId {
            owner: owner.to_string(),
            name: name.to_string(),
        })
    }
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// A GitHub login (`octocat`, `dependabot[bot]`), validated for URL paths.
pub fn valid_login(s: &str) -> bool {
    let core = s.strip_suffix("[bot]").unwrap_or(s);
    !core.is_empty()
        && core.len() <= 39
        && !core.starts_with('-')
        && core.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The events the bot acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A push to a branch (not a tag, not a deletion).
    Push {
        repo: RepoId,
        branch: BranchName,
        after: String,
    },
    /// A pull request opened, reopened or pushed to.
    PullRequest {
        repo: RepoId,
        number: u64,
        base: BranchName,
        head_sha: String,
    },
    /// A new comment on a pull request.
    IssueComment {
        repo: RepoId,
        number: u64,
        comment_id: u64,
        user: String,
        body: String,
    },
}

impl Event {
    pub fn repo(&self) -> &RepoId {
        match self {
            Event::Push { repo, .. }
            | Event::PullRequest { repo, .. }
            | Event::IssueComment { repo, .. } => repo,
        }
    }
}

/// What a delivery turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Event(Event),
    /// Well-formed, but nothing for the bot (a `ping`, a tag push, a closed
    /// PR, an unknown event...).
    Ignored(String),
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("malformed JSON: {0}")]
    Json(String),
    #[error("invalid payload: {0}")]
    Invalid(String),
}

fn field<'a>(v: &'a Value, path: &[&str]) -> Result<&'a Value, EventError> {
    let mut cur = v;
    for p in path {
        cur = cur
            .get(p)
            .ok_or_else(|| EventError::Invalid(format!("missing {}", path.join("."))))?;
    }
    Ok(cur)
}

fn str_field<'a>(v: &'a Value, path: &[&str]) -> Result<&'a str, EventError> {
    field(v, path)?
        .as_str()
        .ok_or_else(|| EventError::Invalid(format!("{} is not a string", path.join("."))))
}

fn u64_field(v: &Value, path: &[&str]) -> Result<u64, EventError> {
    field(v, path)?
        .as_u64()
        .ok_or_else(|| EventError::Invalid(format!("{} is not a number", path.join("."))))
}

fn sha_field(v: &Value, path: &[&str]) -> Result<String, EventError> {
    let s = str_field(v, path)?;
    if !is_hex_sha(s) {
        return Err(EventError::Invalid(format!(
            "{} is not a commit id",
            path.join(".")
        )));
    }
    Ok(s.to_ascii_lowercase())
}

/// Parses a delivery of event `name` (the `X-GitHub-Event` header).
pub fn parse_event(name: &str, body: &[u8]) -> Result<Parsed, EventError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| EventError::Json(e.to_string()))?;
    if !v.is_object() {
        return Err(EventError::Json("not a JSON object".into()));
    }
    let ignored = |why: &str| Ok(Parsed::Ignored(why.to_string()));
    match name {
        "push" => {
            let r = str_field(&v, &["ref"])?;
            if !r.starts_with("refs/heads/") {
                return ignored("push of a ref that is not a branch");
            }
            if v.get("deleted").and_then(Value::as_bool) == Some(true) {
                return ignored("branch deleted");
            }
            let branch = BranchName::from_ref(r).map_err(|e| EventError::Invalid(e.to_string()))?;
            Ok(Parsed::Event(Event::Push {
                repo: RepoId::parse(str_field(&v, &["repository", "full_name"])?)?,
                branch,
                after: sha_field(&v, &["after"])?,
            }))
        }
        "pull_request" => {
            let action = str_field(&v, &["action"])?;
            if !matches!(action, "opened" | "reopened" | "synchronize") {
                return ignored(&format!("pull_request action {action}"));
            }
            let base = BranchName::new(str_field(&v, &["pull_request", "base", "ref"])?)
                .map_err(|e| EventError::Invalid(e.to_string()))?;
            let full_name = str_field(&v, &["repository", "full_name"])?;
            // Building a kernel runs its Makefiles: code from a fork is
            // only built when a maintainer asks (`/kseries retest`).
            let head_repo = v
                .pointer("/pull_request/head/repo/full_name")
                .and_then(Value::as_str);
            if head_repo != Some(full_name) {
                return ignored(
                    "pull request from another repository: a maintainer's \
                     `/kseries retest` runs its checks",
                );
            }
            Ok(Parsed::Event(Event::PullRequest {
                repo: RepoId::parse(full_name)?,
                number: u64_field(&v, &["pull_request", "number"])?,
                base,
                head_sha: sha_field(&v, &["pull_request", "head", "sha"])?,
            }))
        }
        "issue_comment" => {
            let action = str_field(&v, &["action"])?;
            if action != "created" {
                return ignored(&format!("issue_comment action {action}"));
            }
            if field(&v, &["issue"])?.get("pull_request").is_none() {
                return ignored("comment on an issue, not a pull request");
            }
            let user = str_field(&v, &["comment", "user", "login"])?;
            if !valid_login(user) {
                return Err(EventError::Invalid(format!("login {user:?}")));
            }
            Ok(Parsed::Event(Event::IssueComment {
                repo: RepoId::parse(str_field(&v, &["repository", "full_name"])?)?,
                number: u64_field(&v, &["issue", "number"])?,
                comment_id: u64_field(&v, &["comment", "id"])?,
                user: user.to_string(),
                body: str_field(&v, &["comment", "body"])?.to_string(),
            }))
        }
        "ping" => ignored("ping"),
        other => ignored(&format!("event {other:?} is not handled")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let s = Secret::new("It's a Secret to Everybody");
        // The example from GitHub's documentation.
        let h = signature_header(&s, b"Hello, World!");
        assert_eq!(
            h,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        assert!(verify_signature(&s, b"Hello, World!", Some(&h)));
        assert!(verify_signature(
            &s,
            b"Hello, World!",
            Some(&h.to_uppercase().replace("SHA256", "sha256"))
        ));
        assert!(!verify_signature(&s, b"Hello, World?", Some(&h)));
        assert!(!verify_signature(
            &s,
            b"Hello, World!",
            Some(&h[..h.len() - 2])
        ));
        assert!(!verify_signature(
            &s,
            b"Hello, World!",
            Some(&h.replace("sha256=", "sha1="))
        ));
        assert!(!verify_signature(&s, b"Hello, World!", None));
        assert!(!verify_signature(&s, b"Hello, World!", Some("sha256=zz")));
    }

    #[test]
    fn replay_cache_is_bounded() {
        let mut c = ReplayCache::new(2);
        assert!(c.insert("a"));
        assert!(!c.insert("a"));
        assert!(c.insert("b"));
        assert!(c.insert("c"));
        assert_eq!(c.len(), 2);
        assert!(c.insert("a"), "a was evicted");
        assert!(!c.insert("c"));
    }

    #[test]
    fn events_validate_what_reaches_git() {
        let sha = "a".repeat(40);
        let push = |r: &str| {
            format!(r#"{{"ref":"{r}","after":"{sha}","repository":{{"full_name":"o/r"}}}}"#)
        };
        assert!(matches!(
            parse_event("push", push("refs/heads/master").as_bytes()).unwrap(),
            Parsed::Event(Event::Push { .. })
        ));
        assert!(parse_event("push", push("refs/heads/-x").as_bytes()).is_err());
        assert!(parse_event("push", push("refs/heads/a..b").as_bytes()).is_err());
        assert!(matches!(
            parse_event("push", push("refs/tags/v1").as_bytes()).unwrap(),
            Parsed::Ignored(_)
        ));
        assert!(RepoId::parse("o/../x").is_err());
        assert!(RepoId::parse("-o/r").is_err());
        assert!(valid_login("dependabot[bot]"));
        assert!(!valid_login("../admin"));
        assert!(matches!(
            parse_event("push", b"{"),
            Err(EventError::Json(_))
        ));
        assert!(matches!(
            parse_event("fork", b"{}").unwrap(),
            Parsed::Ignored(_)
        ));
    }
}
