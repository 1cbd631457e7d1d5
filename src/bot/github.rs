//! The GitHub REST client: the dozen endpoints the bot uses, with
//! pagination (`Link: <...>; rel="next"`), rate limits (`Retry-After`,
//! `X-RateLimit-Remaining: 0` + `X-RateLimit-Reset`, secondary limits: 403
//! or 429 with the documented message) under a bounded retry policy, and an
//! injectable clock so tests never really wait.
//!
//! octocrab is the HTTP client: its request plumbing (`build_request`
//! serializes the JSON body and sets `Content-Type`, `execute` sends the
//! request through its service stack and returns the response, body
//! unread) and its `BaseUriLayer` (kseries hands it a path and query and
//! it puts the API host in front, so a request cannot go to another host),
//! over a transport kseries assembles in [`octocrab_client`]: hyper's
//! HTTP/1.1 client over rustls with the ring provider and the webpki roots
//! (plain http too, which the tests use), connect, read and write timeouts
//! through hyper-timeout (each read bounded, not the whole request).
//! octocrab's default client is not used: it adds `User-Agent: octocrab`
//! to every request (a second User-Agent line after kseries' own), and
//! kseries wants none of its retry, redirect or authentication layers.
//! kseries uses neither its typed endpoints nor its error mapping, so
//! every response (status, headers, body) comes back here.
//!
//! What kseries adds, and why:
//! - The retry and rate-limit policy ([`RetryPolicy`], `wait_for`).
//!   octocrab 0.54's `RetryConfig::HandleRateLimits` does read
//!   `Retry-After` and `X-RateLimit-Reset`, but it measures the reset
//!   against chrono's wall clock and waits with `tokio::time::sleep`, not
//!   an injectable clock; it puts no ceiling on a wait, retries 5xx and
//!   transport errors at once without backoff and whatever the method,
//!   and tells a secondary-limit 403 from a permission 403 only by one
//!   blanket flag.
//!   Here every wait goes through the injectable [`Clock`] and is bounded
//!   by `max_wait` and `max_retries`, 502/503/504 back off exponentially,
//!   and a 403 is retried only with rate-limit headers or GitHub's
//!   secondary-limit message.
//! - Authentication: `Authorization: Bearer` is set on each request from
//!   [`Auth`]: a token, or a GitHub App installation token that `auth.rs`
//!   caches by the injectable clock.  octocrab's own App support (its `jwt`
//!   feature) caches installation tokens by the wall clock, and would
//!   bring in a second major version of jsonwebtoken.
//! - Pagination: a `Link` `rel="next"` is followed only on the API host and
//!   under its path; anything else fails the list with `ForeignLink`.
//! - No redirects: a 3xx is an error like any other status, so the token
//!   never follows a `Location`.
//! - Headers: `Accept: application/vnd.github+json`,
//!   `X-GitHub-Api-Version: 2022-11-28` (octocrab sends the same version;
//!   it is set here so an octocrab upgrade cannot change it) and
//!   `User-Agent: kseries-bot/<version>`, each once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, USER_AGENT};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use serde::Deserialize;
use serde_json::{Value, json};
use url::{Position, Url};

use super::Secret;
use super::auth::{Auth, AuthError};
use super::webhook::RepoId;

/// Time, injectable: tests record sleeps instead of sleeping.
pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// How long and how often to wait for rate limits and server errors.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries per request (after the first attempt).
    pub max_retries: u32,
    /// A limit that would need a longer wait than this fails the request.
    pub max_wait: Duration,
    /// The wait for a secondary rate limit without `Retry-After` (GitHub
    /// says: at least a minute), doubled on each further retry.
    pub secondary_wait: Duration,
    /// The first wait after a 502/503/504, doubled on each further retry.
    pub server_error_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            max_wait: Duration::from_secs(15 * 60),
            secondary_wait: Duration::from_secs(60),
            server_error_wait: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GhError {
    #[error("{method} {path}: HTTP {status}: {message}")]
    Status {
        method: Method,
        path: String,
        status: StatusCode,
        message: String,
    },
    #[error(
        "{method} {path}: rate limited, and the wait ({wait:?}) is over the limit or retries ran out"
    )]
    RateLimited {
        method: Method,
        path: String,
        wait: Duration,
    },
    #[error("{method} {path}: {source}")]
    Http {
        method: Method,
        path: String,
        /// Boxed: octocrab's error carries a backtrace and is large.
        #[source]
        source: Box<octocrab::Error>,
    },
    #[error("{0}: unexpected response: {1}")]
    Decode(String, String),
    #[error("refusing to follow a pagination link off the API host: {0}")]
    ForeignLink(String),
    #[error("bad URL {0}")]
    Url(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl GhError {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            GhError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PullRef {
    #[serde(rename = "ref")]
    pub branch: String,
    pub sha: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Pull {
    pub number: u64,
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    pub head: PullRef,
    pub base: PullRef,
    #[serde(default)]
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Login {
    pub login: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Comment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub user: Option<Login>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CommitMessage {
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PullCommit {
    pub sha: String,
    pub commit: CommitMessage,
}

/// A client for one GitHub API host.
pub struct GitHub {
    crab: Octocrab,
    api: Url,
    auth: Auth,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHub")
            .field("api", &self.api.as_str())
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// `https://api.github.com`.
pub const DEFAULT_API: &str = "https://api.github.com";

/// The `User-Agent` of every request.
const KSERIES_USER_AGENT: &str = concat!("kseries-bot/", env!("CARGO_PKG_VERSION"));

/// The REST API version the bot is written against.
const API_VERSION: &str = "2022-11-28";

impl GitHub {
    /// A client for `api` (`https://api.github.com`, or a GitHub Enterprise
    /// Server's `https://host/api/v3`).  Call it inside the Tokio runtime
    /// that will use it: octocrab spawns its request queue there.
    pub fn new(
        api: &str,
        auth: Auth,
        clock: Arc<dyn Clock>,
        retry: RetryPolicy,
    ) -> Result<GitHub, GhError> {
        let api = Url::parse(&format!("{}/", api.trim_end_matches('/')))
            .map_err(|_| GhError::Url(api.to_string()))?;
        let failed = |source| GhError::Http {
            method: Method::GET,
            path: String::new(),
            source: Box::new(source),
        };
        let crab = octocrab_client(&api).map_err(failed)?;
        Ok(GitHub {
            crab,
            api,
            auth,
            clock,
            retry,
        })
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, GhError> {
        let mut u = self
            .api
            .join(path.trim_start_matches('/'))
            .map_err(|_| GhError::Url(path.to_string()))?;
        if !query.is_empty() {
            let mut q = u.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        Ok(u)
    }

    /// The token for API calls and HTTPS pushes (a PAT, or a cached
    /// installation token).
    pub async fn bearer_token(&self) -> Result<super::Secret, GhError> {
        self.token().await
    }

    async fn token(&self) -> Result<super::Secret, GhError> {
        Ok(self
            .auth
            .token(&self.crab, &self.api, self.clock.as_ref())
            .await?)
    }

    /// One request, retried on rate limits and 502/503/504 within the
    /// policy.  Returns the headers and the JSON body (`null` when empty).
    pub async fn request(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<(HeaderMap, Value), GhError> {
        let path = url.path().to_string();
        let token = self.token().await?;
        let mut attempt = 0u32;
        loop {
            let (status, headers, text) = send(&self.crab, method.clone(), &url, &token, body)
                .await
                .map_err(|source| GhError::Http {
                    method: method.clone(),
                    path: path.clone(),
                    source: Box::new(source),
                })?;
            if status.is_success() {
                let v = if text.trim().is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&text)
                        .map_err(|e| GhError::Decode(path.clone(), e.to_string()))?
                };
                return Ok((headers, v));
            }
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(String::from))
                .unwrap_or_else(|| text.chars().take(200).collect());
            if let Some(wait) = self.wait_for(status, &headers, &message, attempt) {
                if attempt >= self.retry.max_retries || wait > self.retry.max_wait {
                    return Err(GhError::RateLimited { method, path, wait });
                }
                self.clock.sleep(wait).await;
                attempt += 1;
                continue;
            }
            return Err(GhError::Status {
                method,
                path,
                status,
                message,
            });
        }
    }

    /// How long to wait before retrying a failed response, if it is one
    /// worth retrying.
    fn wait_for(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        message: &str,
        attempt: u32,
    ) -> Option<Duration> {
        let header_u64 = |name: &str| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .and_then(|s| s.trim().parse::<u64>().ok())
        };
        let doubled = |base: Duration| base.saturating_mul(1u32 << attempt.min(10));
        if status == StatusCode::FORBIDDEN || status == StatusCode::TOO_MANY_REQUESTS {
            if let Some(secs) = header_u64("retry-after") {
                return Some(Duration::from_secs(secs));
            }
            if header_u64("x-ratelimit-remaining") == Some(0) {
                let now = self
                    .clock
                    .now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs();
                let reset = header_u64("x-ratelimit-reset").unwrap_or(now + 60);
                // One second of slack: the reset time is rounded down.
                return Some(Duration::from_secs(reset.saturating_sub(now) + 1));
            }
            if message
                .to_ascii_lowercase()
                .contains("secondary rate limit")
                || status == StatusCode::TOO_MANY_REQUESTS
            {
                return Some(doubled(self.retry.secondary_wait));
            }
            return None;
        }
        if matches!(
            status,
            StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
        ) {
            return Some(doubled(self.retry.server_error_wait));
        }
        None
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, GhError> {
        let url = self.url(path, query)?;
        Ok(self.request(Method::GET, url, None).await?.1)
    }

    async fn send_json(&self, method: Method, path: &str, body: &Value) -> Result<Value, GhError> {
        let url = self.url(path, &[])?;
        Ok(self.request(method, url, Some(body)).await?.1)
    }

    /// Every item of a paginated list, following `rel="next"` links (only
    /// on the API host).  `key` names the array in an object response
    /// (`check_runs`), `None` for a bare array.
    pub async fn get_all(
        &self,
        path: &str,
        query: &[(&str, &str)],
        key: Option<&str>,
    ) -> Result<Vec<Value>, GhError> {
        let mut url = self.url(path, query)?;
        let mut items = Vec::new();
        for _ in 0..1000 {
            let (headers, v) = self.request(Method::GET, url.clone(), None).await?;
            let page = match key {
                Some(k) => v.get(k).cloned().unwrap_or(Value::Null),
                None => v,
            };
            match page {
                Value::Array(a) => items.extend(a),
                other => {
                    return Err(GhError::Decode(
                        url.path().to_string(),
                        format!("expected a list, got {other}"),
                    ));
                }
            }
            let Some(next) = next_link(&headers) else {
                return Ok(items);
            };
            let next = Url::parse(&next).map_err(|_| GhError::Url(next.clone()))?;
            if next.origin() != self.api.origin() || !next.path().starts_with(self.api.path()) {
                return Err(GhError::ForeignLink(next.to_string()));
            }
            url = next;
        }
        Err(GhError::Decode(path.to_string(), "over 1000 pages".into()))
    }

    // ---- endpoints ----

    /// `GET /repos/{o}/{r}/pulls?head=owner:branch&state=open`.
    pub async fn open_pulls_for_head(
        &self,
        repo: &RepoId,
        branch: &str,
    ) -> Result<Vec<Pull>, GhError> {
        let head = format!("{}:{branch}", repo.owner);
        let items = self
            .get_all(
                &format!("repos/{repo}/pulls"),
                &[("head", &head), ("state", "open"), ("per_page", "100")],
                None,
            )
            .await?;
        decode_all(&format!("repos/{repo}/pulls"), items)
    }

    /// `POST /repos/{o}/{r}/pulls`.
    pub async fn create_pull(
        &self,
        repo: &RepoId,
        title: &str,
        head: &str,
        base: &str,
        body: &str,
    ) -> Result<Pull, GhError> {
        let path = format!("repos/{repo}/pulls");
        let v = self
            .send_json(
                Method::POST,
                &path,
                &json!({"title": title, "head": head, "base": base, "body": body}),
            )
            .await?;
        decode(&path, v)
    }

    /// `PATCH /repos/{o}/{r}/pulls/{n}`.
    pub async fn update_pull(
        &self,
        repo: &RepoId,
        number: u64,
        title: &str,
        body: &str,
    ) -> Result<Pull, GhError> {
        let path = format!("repos/{repo}/pulls/{number}");
        let v = self
            .send_json(Method::PATCH, &path, &json!({"title": title, "body": body}))
            .await?;
        decode(&path, v)
    }

    /// `GET /repos/{o}/{r}/pulls/{n}`.
    pub async fn get_pull(&self, repo: &RepoId, number: u64) -> Result<Pull, GhError> {
        let path = format!("repos/{repo}/pulls/{number}");
        let v = self.get(&path, &[]).await?;
        decode(&path, v)
    }

    /// `GET /repos/{o}/{r}/pulls/{n}/commits` (all pages).
    pub async fn pull_commits(
        &self,
        repo: &RepoId,
        number: u64,
    ) -> Result<Vec<PullCommit>, GhError> {
        let path = format!("repos/{repo}/pulls/{number}/commits");
        let items = self.get_all(&path, &[("per_page", "100")], None).await?;
        decode_all(&path, items)
    }

    /// `GET /repos/{o}/{r}/commits/{sha}/check-runs` (all pages).
    pub async fn check_runs_for(&self, repo: &RepoId, sha: &str) -> Result<Vec<CheckRun>, GhError> {
        let path = format!("repos/{repo}/commits/{sha}/check-runs");
        let items = self
            .get_all(&path, &[("per_page", "100")], Some("check_runs"))
            .await?;
        decode_all(&path, items)
    }

    /// `POST /repos/{o}/{r}/check-runs` with `status: in_progress`.
    pub async fn create_check_run(
        &self,
        repo: &RepoId,
        name: &str,
        head_sha: &str,
        external_id: &str,
    ) -> Result<CheckRun, GhError> {
        let path = format!("repos/{repo}/check-runs");
        let v = self
            .send_json(
                Method::POST,
                &path,
                &json!({
                    "name": name,
                    "head_sha": head_sha,
                    "status": "in_progress",
                    "external_id": external_id,
                }),
            )
            .await?;
        decode(&path, v)
    }

    /// `PATCH /repos/{o}/{r}/check-runs/{id}` with `body`.
    pub async fn update_check_run(
        &self,
        repo: &RepoId,
        id: u64,
        body: &Value,
    ) -> Result<(), GhError> {
        let path = format!("repos/{repo}/check-runs/{id}");
        self.send_json(Method::PATCH, &path, body).await?;
        Ok(())
    }

    /// `GET /repos/{o}/{r}/contents/{path}?ref=...`: a file's bytes, or
    /// `None` when there is no such file.
    pub async fn file_contents(
        &self,
        repo: &RepoId,
        file: &str,
        at: Option<&str>,
    ) -> Result<Option<Vec<u8>>, GhError> {
        use base64::Engine;
        let path = format!("repos/{repo}/contents/{file}");
        let query: Vec<(&str, &str)> = at.map(|r| vec![("ref", r)]).unwrap_or_default();
        let v = match self.get(&path, &query).await {
            Ok(v) => v,
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => return Ok(None),
            Err(e) => return Err(e),
        };
        if v.get("type").and_then(Value::as_str) != Some("file")
            || v.get("encoding").and_then(Value::as_str) != Some("base64")
        {
            return Err(GhError::Decode(path, "not a base64-encoded file".into()));
        }
        let content: String = v
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(content)
            .map(Some)
            .map_err(|e| GhError::Decode(path, e.to_string()))
    }

    /// `GET /repos/{o}/{r}/collaborators/{user}/permission` → `admin`,
    /// `maintain`, `write`, `triage`, `read` or `none`.  A user GitHub does
    /// not know (404) has no permission.
    pub async fn permission(&self, repo: &RepoId, user: &str) -> Result<String, GhError> {
        let path = format!("repos/{repo}/collaborators/{user}/permission");
        match self.get(&path, &[]).await {
            Ok(v) => Ok(v
                .get("permission")
                .and_then(Value::as_str)
                .unwrap_or("none")
                .to_string()),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok("none".into()),
            Err(e) => Err(e),
        }
    }

    /// `GET /repos/{o}/{r}/issues/{n}/comments` (all pages).
    pub async fn issue_comments(
        &self,
        repo: &RepoId,
        number: u64,
    ) -> Result<Vec<Comment>, GhError> {
        let path = format!("repos/{repo}/issues/{number}/comments");
        let items = self.get_all(&path, &[("per_page", "100")], None).await?;
        decode_all(&path, items)
    }

    /// `POST /repos/{o}/{r}/issues/{n}/comments`.
    pub async fn create_issue_comment(
        &self,
        repo: &RepoId,
        number: u64,
        body: &str,
    ) -> Result<Comment, GhError> {
        let path = format!("repos/{repo}/issues/{number}/comments");
        let v = self
            .send_json(Method::POST, &path, &json!({"body": body}))
            .await?;
        decode(&path, v)
    }
}

/// octocrab over kseries' own transport: hyper's HTTP/1.1 client over
/// rustls (the ring provider, the webpki roots; plain http too, which the
/// tests use), 30 s to connect and 60 s for each read or write; then
/// octocrab's base URI and one `User-Agent: kseries-bot/<version>`.
/// Nothing else: no retry, no redirect, no authentication of its own.
fn octocrab_client(api: &Url) -> Result<Octocrab, octocrab::Error> {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use octocrab::service::middleware::base_uri::BaseUriLayer;
    use octocrab::service::middleware::extra_headers::ExtraHeadersLayer;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(provider)
        .map_err(|e| octocrab::Error::Other {
            source: Box::new(e),
            backtrace: std::backtrace::Backtrace::capture(),
        })?
        .https_or_http()
        .enable_http1()
        .build();
    let mut connector = hyper_timeout::TimeoutConnector::new(https);
    connector.set_connect_timeout(Some(Duration::from_secs(30)));
    connector.set_read_timeout(Some(Duration::from_secs(60)));
    connector.set_write_timeout(Some(Duration::from_secs(60)));
    let client = Client::builder(TokioExecutor::new()).build(connector);
    let base: http::Uri = api.as_str().parse().map_err(|e| octocrab::Error::Other {
        source: Box::new(e),
        backtrace: std::backtrace::Backtrace::capture(),
    })?;
    let user_agent = vec![(USER_AGENT, HeaderValue::from_static(KSERIES_USER_AGENT))];
    let crab = octocrab::OctocrabBuilder::new_empty()
        .with_service(client)
        .with_layer(&BaseUriLayer::new(base))
        .with_layer(&ExtraHeadersLayer::new(Arc::new(user_agent)))
        .with_auth(octocrab::AuthState::None)
        .build();
    Ok(match crab {
        Ok(crab) => crab,
        Err(never) => match never {},
    })
}

/// One exchange through octocrab, as it is: no retry, no redirect, the
/// response whatever its status.  `url` must be on the API host: only its
/// path and query are sent, octocrab's base URI supplies the rest.
pub(super) async fn send(
    crab: &Octocrab,
    method: Method,
    url: &Url,
    bearer: &Secret,
    body: Option<&Value>,
) -> Result<(StatusCode, HeaderMap, String), octocrab::Error> {
    let target = &url[Position::BeforePath..Position::AfterQuery];
    // Invalid values (a token with a newline) fail in `build_request`,
    // with an error that does not repeat them.
    let builder = http::Request::builder()
        .method(method)
        .uri(target)
        .header(ACCEPT, "application/vnd.github+json")
        .header(AUTHORIZATION, format!("Bearer {}", bearer.expose()));
    let mut req = crab.build_request(builder, body)?;
    let headers = req.headers_mut();
    headers.insert(
        "x-github-api-version",
        HeaderValue::from_static(API_VERSION),
    );
    if let Some(v) = headers.get_mut(AUTHORIZATION) {
        v.set_sensitive(true);
    }
    let resp = crab.execute(req).await?;
    let status = resp.status();
    let headers = resp.headers().clone();
    // Lossy: an error page in another encoding still yields its status.
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, headers, String::from_utf8_lossy(&body).into_owned()))
}

fn decode<T: for<'de> Deserialize<'de>>(path: &str, v: Value) -> Result<T, GhError> {
    serde_json::from_value(v).map_err(|e| GhError::Decode(path.to_string(), e.to_string()))
}

fn decode_all<T: for<'de> Deserialize<'de>>(
    path: &str,
    items: Vec<Value>,
) -> Result<Vec<T>, GhError> {
    items.into_iter().map(|v| decode(path, v)).collect()
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all("link") {
        let Ok(s) = value.to_str() else { continue };
        for part in s.split(',') {
            let mut pieces = part.split(';');
            let Some(target) = pieces.next() else {
                continue;
            };
            let target = target.trim();
            if !(target.starts_with('<') && target.ends_with('>')) {
                continue;
            }
            if pieces.any(|p| {
                let p = p.trim();
                p == "rel=\"next\"" || p == "rel=next"
            }) {
                return Some(target[1..target.len() - 1].to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_that_is_no_header_value_fails_without_showing_it() {
        let url = Url::parse("http://127.0.0.1:9/user").unwrap();
        let crab = octocrab_client(&url).unwrap();
        let token = Secret::new("ghp_secret\r\nX-Injected: 1");
        let err = send(&crab, Method::GET, &url, &token, None)
            .await
            .unwrap_err();
        assert!(matches!(err, octocrab::Error::Http { .. }), "{err}");
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains("ghp_secret"), "{shown}");
        }
    }

    #[test]
    fn link_header_next() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            HeaderValue::from_static(
                "<https://api.github.com/repositories/1/pulls?page=2>; rel=\"next\", \
                 <https://api.github.com/repositories/1/pulls?page=5>; rel=\"last\"",
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/repositories/1/pulls?page=2")
        );
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            HeaderValue::from_static("<https://x/?page=1>; rel=\"prev\""),
        );
        assert_eq!(next_link(&h), None);
    }
}
