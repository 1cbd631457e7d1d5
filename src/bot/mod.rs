//! `kseries bot`: a CI bot for a kernel fork on GitHub.
//!
//! Two entry points, one core:
//!
//! - [`serve`]: a webhook receiver (`push`, `pull_request`, `issue_comment`
//!   at `POST /`), signature-checked, replay-protected, size-limited; events
//!   are queued and handled one at a time by [`Bot::handle`];
//! - [`run_once`]: one shot inside GitHub Actions, from `GITHUB_EVENT_PATH`,
//!   `GITHUB_EVENT_NAME`, `GITHUB_REPOSITORY` and `GITHUB_TOKEN`;
//!
//! and [`collect_once`], which completes the check runs from the per-job
//! JSON results of the Actions matrix in `templates/github/kseries.yml`.
//!
//! The pipeline (scan → rewrite → series → checks) sits behind
//! [`SeriesRunner`]; [`runner::GitSeriesRunner`] is the real one.

pub mod auth;
pub mod check_runs;
pub mod config;
mod core;
pub mod git;
pub mod github;
pub mod matrix;
pub mod runner;
mod server;
pub mod webhook;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use self::auth::{AppAuth, Auth};
use self::check_runs::{CheckKind, CheckOutcome};
use self::config::Config;
pub use self::core::{Bot, BotError, CheckRunReport, Report};
use self::git::BranchName;
use self::github::{Clock, GitHub, RetryPolicy, SystemClock};
pub use self::server::{ServerHandle, start};
use self::webhook::{Parsed, RepoId};

/// A credential: never printed (`Debug` says `Secret(***)`), only handed
/// out by [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One commit of a series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
    pub subject: String,
}

/// A series ready to push and check: its commits live in `repo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltSeries {
    /// The local repository holding the commits.
    pub repo: PathBuf,
    /// The last commit (what the series branch points at).
    pub head: String,
    /// In order, oldest first.
    pub commits: Vec<Commit>,
    /// The pull request title.
    pub title: String,
    /// The cover letter (the pull request body).
    pub cover_letter: String,
    /// The recipe the checks lint against.
    pub recipe: String,
}

/// Make a series from a pushed branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesRequest {
    pub repo: RepoId,
    pub base_branch: BranchName,
    pub base_sha: String,
    pub recipe: String,
}

/// Take an existing pull request's commits as the series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullSeriesRequest {
    pub repo: RepoId,
    pub number: u64,
    pub head_sha: String,
    pub commits: Vec<Commit>,
    pub recipe: String,
}

/// Why the pipeline behind [`SeriesRunner`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("unknown recipe {0:?} (kseries.toml `recipe`)")]
    UnknownRecipe(String),
    #[error("{0:?} is not a commit id")]
    NotACommit(String),
    #[error(transparent)]
    Git(#[from] git::GitError),
    #[error("scan: {0}")]
    Scan(#[from] crate::scan::ScanError),
    #[error("rewrite: {0}")]
    Rewrite(#[from] crate::rewrite::RewriteError),
    #[error("series: {0}")]
    Series(#[from] crate::series::SeriesError),
    #[error("verify: {0}")]
    Verify(#[from] crate::verify::VerifyError),
    #[error("verify ran no step for {0}")]
    NoVerifyStep(String),
    #[error(transparent)]
    Pipeline(crate::pipeline::PipelineError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// Scan and rewrite errors keep the stage's name in front, as before
/// the pipeline was shared.
impl From<crate::pipeline::PipelineError> for RunnerError {
    fn from(e: crate::pipeline::PipelineError) -> Self {
        use crate::pipeline::PipelineError as P;
        match e {
            P::Scan(e) => RunnerError::Scan(e),
            P::Rewrite(e) => RunnerError::Rewrite(e),
            other => RunnerError::Pipeline(other),
        }
    }
}

/// The pipeline, as the bot sees it.  Implementations are blocking; the
/// bot calls them off the async runtime's worker threads.
pub trait SeriesRunner: Send + Sync {
    /// Runs scan → rewrite → series on `req.base_sha` and returns the
    /// commits (none when there is nothing to migrate).
    fn build_series(&self, req: &SeriesRequest) -> Result<BuiltSeries, RunnerError>;
    /// Makes an existing pull request's commits available for checking.
    fn pull_series(&self, req: &PullSeriesRequest) -> Result<BuiltSeries, RunnerError>;
    /// Runs one check on one commit of `series`.
    fn run_check(
        &self,
        series: &BuiltSeries,
        commit: &Commit,
        check: CheckKind,
    ) -> Result<CheckOutcome, RunnerError>;
}

/// Why an entry point ([`serve`], [`run_once`], [`collect_once`]) could not
/// start or finish.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error("{0} is not set{1}")]
    MissingEnv(&'static str, &'static str),
    #[error("{name}={value:?} is not a number")]
    BadNumber { name: &'static str, value: String },
    #[error(
        "no credentials: set GITHUB_TOKEN, or KSERIES_APP_ID, \
         KSERIES_APP_INSTALLATION_ID and KSERIES_APP_KEY_FILE"
    )]
    NoCredentials,
    #[error("{what} {}: {source}", path.display())]
    Read {
        /// The variable that named the file.
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the event is about {event}, GITHUB_REPOSITORY is {expected}")]
    WrongRepository { event: RepoId, expected: RepoId },
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    #[error(transparent)]
    GitHub(#[from] github::GhError),
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Event(#[from] webhook::EventError),
    #[error(transparent)]
    Collect(#[from] check_runs::CollectError),
    #[error(transparent)]
    Bot(#[from] BotError),
}

/// How the bot authenticates.
#[derive(Debug, Clone)]
pub enum AuthOptions {
    /// A personal access token or the Actions `GITHUB_TOKEN`.
    Token(Secret),
    /// A GitHub App installation.
    App {
        app_id: u64,
        installation_id: u64,
        /// The app's private key (PEM).
        private_key: Secret,
    },
}

impl AuthOptions {
    fn build(&self) -> Result<Auth, EntryError> {
        Ok(match self {
            AuthOptions::Token(t) => Auth::Token(t.clone()),
            AuthOptions::App {
                app_id,
                installation_id,
                private_key,
            } => Auth::App(Box::new(AppAuth::new(
                *app_id,
                *installation_id,
                private_key.expose().as_bytes(),
            )?)),
        })
    }

    /// From the environment: `GITHUB_TOKEN`, or `KSERIES_APP_ID` +
    /// `KSERIES_APP_INSTALLATION_ID` + `KSERIES_APP_KEY_FILE`.
    pub fn from_env() -> Result<AuthOptions, EntryError> {
        if let (Ok(app), Ok(inst), Ok(key)) = (
            std::env::var("KSERIES_APP_ID"),
            std::env::var("KSERIES_APP_INSTALLATION_ID"),
            std::env::var("KSERIES_APP_KEY_FILE"),
        ) {
            let pem = std::fs::read_to_string(&key).map_err(|source| EntryError::Read {
                what: "KSERIES_APP_KEY_FILE",
                path: key.into(),
                source,
            })?;
            return Ok(AuthOptions::App {
                app_id: env_number("KSERIES_APP_ID", &app)?,
                installation_id: env_number("KSERIES_APP_INSTALLATION_ID", &inst)?,
                private_key: Secret::new(pem),
            });
        }
        match std::env::var("GITHUB_TOKEN") {
            Ok(t) if !t.is_empty() => Ok(AuthOptions::Token(Secret::new(t))),
            _ => Err(EntryError::NoCredentials),
        }
    }
}

fn env_number(name: &'static str, value: &str) -> Result<u64, EntryError> {
    value.trim().parse().map_err(|_| EntryError::BadNumber {
        name,
        value: value.to_string(),
    })
}

/// What every entry point needs to talk to GitHub and push.
#[derive(Clone)]
pub struct BotOptions {
    /// The API root (`https://api.github.com`, or a test server).
    pub api_url: String,
    /// Where the git server is (`https://github.com`): the series branch
    /// is pushed to `<server_url>/<owner>/<repo>.git` unless `push_url`
    /// says otherwise.
    pub server_url: String,
    /// Push here instead (a local path or `file://` URL for tests).
    pub push_url: Option<String>,
    pub auth: AuthOptions,
    /// Used for every event, unless `config_from_repository`.
    pub config: Config,
    /// Read `kseries.toml` from the repository through the API for each
    /// event (see [`Bot::with_config_from_repository`]).
    pub config_from_repository: bool,
    pub retry: RetryPolicy,
    pub clock: Arc<dyn Clock>,
    /// See [`Bot::with_checks_in_workflow`].
    pub checks_in_workflow: bool,
}

impl std::fmt::Debug for BotOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotOptions")
            .field("api_url", &self.api_url)
            .field("server_url", &self.server_url)
            .field("push_url", &self.push_url)
            .field("auth", &self.auth)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl BotOptions {
    pub fn new(auth: AuthOptions, config: Config) -> BotOptions {
        BotOptions {
            api_url: github::DEFAULT_API.into(),
            server_url: "https://github.com".into(),
            push_url: None,
            auth,
            config,
            config_from_repository: false,
            retry: RetryPolicy::default(),
            clock: Arc::new(SystemClock),
            checks_in_workflow: false,
        }
    }

    /// The bot these options describe.
    pub fn bot(&self, runner: Arc<dyn SeriesRunner>) -> Result<Bot, EntryError> {
        let gh = GitHub::new(
            &self.api_url,
            self.auth.build()?,
            self.clock.clone(),
            self.retry.clone(),
        )?;
        Ok(Bot::new(
            gh,
            self.config.clone(),
            runner,
            self.server_url.clone(),
            self.push_url.clone(),
        )
        .with_config_from_repository(self.config_from_repository)
        .with_checks_in_workflow(self.checks_in_workflow))
    }
}

/// `kseries bot serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// `KSERIES_WEBHOOK_SECRET`.
    pub secret: Secret,
    /// Larger bodies get 413 (default 1 MiB).
    pub body_limit: usize,
    /// How many delivery ids the replay cache remembers.
    pub replay_capacity: usize,
    /// Timeouts and the connection limit of the HTTP server.
    pub limits: ServerLimits,
    pub bot: BotOptions,
}

/// What one client may hold of the webhook server: GitHub sends a whole
/// delivery at once and waits 10 s for the answer, so a connection that
/// trickles or idles is not GitHub and is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Time to send the request head, and the longest a connection may
    /// idle between requests (default 10 s).
    pub header_timeout: std::time::Duration,
    /// Time to send the body once the head is in (default 10 s).
    pub body_timeout: std::time::Duration,
    /// Connections served at once; more are closed at once (default 64).
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            header_timeout: std::time::Duration::from_secs(10),
            body_timeout: std::time::Duration::from_secs(10),
            max_connections: 64,
        }
    }
}

impl ServeOptions {
    /// With the secret from `KSERIES_WEBHOOK_SECRET`.
    pub fn from_env(listen: SocketAddr, bot: BotOptions) -> Result<ServeOptions, EntryError> {
        let secret = std::env::var("KSERIES_WEBHOOK_SECRET")
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or(EntryError::MissingEnv("KSERIES_WEBHOOK_SECRET", ""))?;
        Ok(ServeOptions {
            listen,
            secret: Secret::new(secret),
            body_limit: webhook::DEFAULT_BODY_LIMIT,
            replay_capacity: 10_000,
            limits: ServerLimits::default(),
            bot,
        })
    }
}

/// Runs the webhook receiver on `opts.listen` until the process ends.
pub async fn serve(opts: ServeOptions, runner: Arc<dyn SeriesRunner>) -> Result<(), EntryError> {
    let listen_error = |source| EntryError::Listen {
        addr: opts.listen,
        source,
    };
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(listen_error)?;
    let handle = start(listener, opts, runner).await?;
    eprintln!("kseries bot: listening on {}", handle.addr);
    handle.wait().await;
    Ok(())
}

/// `kseries bot run` (inside GitHub Actions).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `GITHUB_EVENT_NAME`.
    pub event_name: String,
    /// `GITHUB_EVENT_PATH`.
    pub event_path: PathBuf,
    /// `GITHUB_REPOSITORY`: the event must be about this repository.
    pub repository: String,
    pub bot: BotOptions,
}

impl RunOptions {
    /// From the Actions environment; `kseries.toml` from
    /// `GITHUB_WORKSPACE` (or the current directory).
    pub fn from_env() -> Result<RunOptions, EntryError> {
        // What Actions always sets first: without it, nothing else matters.
        let event_name = actions_var("GITHUB_EVENT_NAME")?;
        let event_path = PathBuf::from(actions_var("GITHUB_EVENT_PATH")?);
        let repository = actions_var("GITHUB_REPOSITORY")?;
        let workspace = std::env::var("GITHUB_WORKSPACE").unwrap_or_else(|_| ".".into());
        let config = Config::load(&Path::new(&workspace).join("kseries.toml"))?;
        Ok(RunOptions {
            event_name,
            event_path,
            repository,
            bot: actions_bot_options(config)?,
        })
    }
}

fn actions_var(name: &'static str) -> Result<String, EntryError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or(EntryError::MissingEnv(
            name,
            " (not inside GitHub Actions?)",
        ))
}

/// The API and git server of the Actions run, and its credentials.
fn actions_bot_options(config: Config) -> Result<BotOptions, EntryError> {
    let mut bot = BotOptions::new(AuthOptions::from_env()?, config);
    if let Ok(api) = std::env::var("GITHUB_API_URL") {
        bot.api_url = api;
    }
    if let Ok(server) = std::env::var("GITHUB_SERVER_URL") {
        bot.server_url = server;
    }
    Ok(bot)
}

/// Handles the one event of an Actions run.
pub async fn run_once(
    opts: RunOptions,
    runner: Arc<dyn SeriesRunner>,
) -> Result<Report, EntryError> {
    let body = std::fs::read(&opts.event_path).map_err(|source| EntryError::Read {
        what: "GITHUB_EVENT_PATH",
        path: opts.event_path.clone(),
        source,
    })?;
    let expected = RepoId::parse(&opts.repository)?;
    let bot = opts.bot.bot(runner)?;
    match webhook::parse_event(&opts.event_name, &body)? {
        Parsed::Ignored(why) => Ok(Report::ignored(why)),
        Parsed::Event(ev) => {
            if ev.repo() != &expected {
                return Err(EntryError::WrongRepository {
                    event: ev.repo().clone(),
                    expected,
                });
            }
            Ok(bot.handle(&ev).await?)
        }
    }
}

/// `kseries bot collect`: completes the check runs from the Actions
/// matrix's result files under `results_dir`.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    pub repository: String,
    pub results_dir: PathBuf,
    pub bot: BotOptions,
}

impl CollectOptions {
    /// In the workflow's collect job, which has no checkout: the checks
    /// come from the results, so no `kseries.toml` is needed.
    pub fn from_env(results_dir: PathBuf) -> Result<CollectOptions, EntryError> {
        Ok(CollectOptions {
            repository: actions_var("GITHUB_REPOSITORY")?,
            results_dir,
            bot: actions_bot_options(Config::default())?,
        })
    }
}

/// Reads the job results and completes one check run per (commit, check).
pub async fn collect_once(
    opts: CollectOptions,
    runner: Arc<dyn SeriesRunner>,
) -> Result<Report, EntryError> {
    let repo = RepoId::parse(&opts.repository)?;
    let results = check_runs::read_job_results(&opts.results_dir)?;
    let bot = opts.bot.bot(runner)?;
    Ok(bot.collect(&repo, &results).await?)
}
