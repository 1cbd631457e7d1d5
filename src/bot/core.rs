//! The bot's core: what each event does, idempotently.  Everything the
//! bot creates on GitHub is found again before it is created: the pull
//! request by its head branch, check runs by `external_id`
//! (`kseries:<check>:<sha>`), refusal comments by a hidden marker with the
//! comment id.  A repeated event updates what exists.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;

use super::check_runs::{self, CheckKind, CheckOutcome, Conclusion, JobResult};
use super::config::Config;
use super::git::{self, BranchName, PushUrl};
use super::github::{CheckRun, GhError, GitHub};
use super::webhook::{Event, RepoId};
use super::{BuiltSeries, Commit, PullSeriesRequest, SeriesRequest, SeriesRunner};

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error(transparent)]
    GitHub(#[from] GhError),
    #[error(transparent)]
    Git(#[from] git::GitError),
    #[error("pipeline: {0}")]
    Runner(#[from] super::RunnerError),
    #[error("the {0} task panicked: {1}")]
    Panicked(&'static str, String),
    #[error("kseries.toml in the repository: {0}")]
    Config(#[from] super::config::ConfigError),
}

/// One check run the bot completed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckRunReport {
    pub id: u64,
    pub name: String,
    pub sha: String,
    pub conclusion: Conclusion,
    /// It existed already (updated, not created).
    pub reused: bool,
}

/// What handling one event did (serializable, for `--format json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Why nothing was done, when nothing was.
    pub ignored: Option<String>,
    /// The pull request of the series.
    pub pull: Option<u64>,
    pub pull_created: bool,
    pub pull_updated: bool,
    pub pushed: Option<(String, String)>,
    pub check_runs: Vec<CheckRunReport>,
    /// The series' checks are the Actions matrix's (see
    /// [`Bot::with_checks_in_workflow`]).
    pub checks_left_to_workflow: bool,
    pub comments_posted: usize,
}

impl Report {
    pub fn ignored(why: impl Into<String>) -> Report {
        Report {
            ignored: Some(why.into()),
            ..Report::default()
        }
    }
}

/// The comment command that re-runs the checks.
pub const RETEST: &str = "/kseries retest";

/// Who may ask for a retest.
fn can_write(permission: &str) -> bool {
    matches!(permission, "admin" | "maintain" | "write")
}

/// The series' pull request after [`Bot::upsert_pull`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PullUpsert {
    number: u64,
    /// It was opened now.
    created: bool,
    /// Its title or body was brought up to date.
    updated: bool,
}

/// The bot: one GitHub client, one configuration, one pipeline.
pub struct Bot {
    gh: GitHub,
    config: Config,
    runner: Arc<dyn SeriesRunner>,
    server_url: String,
    push_url: Option<String>,
    config_from_repository: bool,
    checks_in_workflow: bool,
}

/// Where the bot reads `kseries.toml` in the repository.
pub const CONFIG_PATH: &str = "kseries.toml";

impl std::fmt::Debug for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bot")
            .field("gh", &self.gh)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Bot {
    pub fn new(
        gh: GitHub,
        config: Config,
        runner: Arc<dyn SeriesRunner>,
        server_url: String,
        push_url: Option<String>,
    ) -> Bot {
        Bot {
            gh,
            config,
            runner,
            server_url,
            push_url,
            config_from_repository: false,
            checks_in_workflow: false,
        }
    }

    /// Leave the checks of a pushed series to the Actions matrix of
    /// `templates/github/kseries.yml` (its collect job completes the check
    /// runs): the bot pushes the series and opens its pull request only,
    /// and ignores `pull_request` events, which the workflow plans itself.
    /// A `/kseries retest` still runs the checks here.
    pub fn with_checks_in_workflow(mut self, yes: bool) -> Bot {
        self.checks_in_workflow = yes;
        self
    }

    /// Read `kseries.toml` from the repository for each event (at the
    /// pushed commit; for a pull request, from its base branch, never from
    /// the contributor's head; for a comment, from the default branch)
    /// instead of using the configuration given to [`Bot::new`].
    pub fn with_config_from_repository(mut self, yes: bool) -> Bot {
        self.config_from_repository = yes;
        self
    }

    /// The configuration for an event, and `None` when the repository has
    /// no `kseries.toml` (the bot then does nothing).
    async fn config_at(&self, repo: &RepoId, at: Option<&str>) -> Result<Option<Config>, BotError> {
        if !self.config_from_repository {
            return Ok(Some(self.config.clone()));
        }
        match self.gh.file_contents(repo, CONFIG_PATH, at).await? {
            None => Ok(None),
            Some(bytes) => {
                let text = String::from_utf8(bytes)
                    .map_err(|_| super::config::ConfigError::Invalid("not UTF-8".into()))?;
                Ok(Some(Config::parse(&text)?))
            }
        }
    }

    pub fn github(&self) -> &GitHub {
        &self.gh
    }

    /// Handles one event.
    pub async fn handle(&self, ev: &Event) -> Result<Report, BotError> {
        let at = match ev {
            Event::Push { after, .. } => Some(after.as_str()),
            Event::PullRequest { base, .. } => Some(base.as_str()),
            Event::IssueComment { body, .. } => {
                // Cheap filter before any request.
                if body.lines().next().unwrap_or("").trim() != RETEST {
                    return Ok(Report::ignored("not a kseries command"));
                }
                None
            }
        };
        let Some(cfg) = self.config_at(ev.repo(), at).await? else {
            return Ok(Report::ignored(format!(
                "{} has no {CONFIG_PATH}",
                ev.repo()
            )));
        };
        let cfg = &cfg;
        match ev {
            Event::Push {
                repo,
                branch,
                after,
            } => self.on_push(cfg, repo, branch, after).await,
            Event::PullRequest {
                repo,
                number,
                base,
                head_sha,
            } => {
                self.on_pull_request(cfg, repo, *number, base, head_sha)
                    .await
            }
            Event::IssueComment {
                repo,
                number,
                comment_id,
                user,
                body,
            } => {
                self.on_comment(cfg, repo, *number, *comment_id, user, body)
                    .await
            }
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(Arc<dyn SeriesRunner>) -> Result<T, super::RunnerError> + Send + 'static,
    ) -> Result<T, BotError> {
        let runner = self.runner.clone();
        Ok(tokio::task::spawn_blocking(move || f(runner))
            .await
            .map_err(|e| BotError::Panicked("pipeline", e.to_string()))??)
    }

    async fn on_push(
        &self,
        cfg: &Config,
        repo: &RepoId,
        branch: &BranchName,
        after: &str,
    ) -> Result<Report, BotError> {
        if cfg.is_series_branch(branch) {
            return Ok(Report::ignored(format!(
                "{branch} is a kseries series branch"
            )));
        }
        if !cfg.watches(branch) {
            return Ok(Report::ignored(format!("{branch} is not in kseries.toml")));
        }
        let req = SeriesRequest {
            repo: repo.clone(),
            base_branch: branch.clone(),
            base_sha: after.to_string(),
            recipe: cfg.recipe.clone(),
        };
        let series = self.blocking(move |r| r.build_series(&req)).await?;
        if series.commits.is_empty() {
            return Ok(Report::ignored(format!(
                "nothing to migrate on {branch} at {after}"
            )));
        }
        let mut report = Report::default();
        let series_branch = cfg.series_branch(branch);
        self.push(repo, &series, &series_branch).await?;
        report.pushed = Some((series_branch.to_string(), series.head.clone()));

        let pull = self
            .upsert_pull(repo, &series, &series_branch, branch)
            .await?;
        report.pull = Some(pull.number);
        report.pull_created = pull.created;
        report.pull_updated = pull.updated;

        if self.checks_in_workflow {
            report.checks_left_to_workflow = true;
        } else {
            report.check_runs = self.run_checks(cfg, repo, Arc::new(series)).await?;
        }
        Ok(report)
    }

    async fn push(
        &self,
        repo: &RepoId,
        series: &BuiltSeries,
        branch: &BranchName,
    ) -> Result<(), BotError> {
        let url = match &self.push_url {
            Some(u) => PushUrl::parse(u)?,
            None => PushUrl::github(&self.server_url, &repo.to_string())?,
        };
        let token = match url {
            PushUrl::Https(_) => Some(self.gh.bearer_token().await?),
            PushUrl::Local(_) => None,
        };
        let (dir, head, branch) = (series.repo.clone(), series.head.clone(), branch.clone());
        tokio::task::spawn_blocking(move || git::push(&dir, &head, &url, &branch, token.as_ref()))
            .await
            .map_err(|e| BotError::Panicked("push", e.to_string()))??;
        Ok(())
    }

    /// Finds the open pull request of `head` and updates it, or opens one.
    async fn upsert_pull(
        &self,
        repo: &RepoId,
        series: &BuiltSeries,
        head: &BranchName,
        base: &BranchName,
    ) -> Result<PullUpsert, BotError> {
        let open = self.gh.open_pulls_for_head(repo, head.as_str()).await?;
        if let Some(pr) = open.iter().find(|p| p.head.branch == head.as_str()) {
            let same =
                pr.title == series.title && pr.body.as_deref().unwrap_or("") == series.cover_letter;
            if !same {
                self.gh
                    .update_pull(repo, pr.number, &series.title, &series.cover_letter)
                    .await?;
            }
            return Ok(PullUpsert {
                number: pr.number,
                created: false,
                updated: !same,
            });
        }
        let pr = self
            .gh
            .create_pull(
                repo,
                &series.title,
                head.as_str(),
                base.as_str(),
                &series.cover_letter,
            )
            .await?;
        Ok(PullUpsert {
            number: pr.number,
            created: true,
            updated: false,
        })
    }

    /// The check run of `check` on `sha`: the existing one (set back to
    /// in progress), or a new one.
    async fn start_check_run(
        &self,
        repo: &RepoId,
        existing: &[CheckRun],
        sha: &str,
        check: CheckKind,
    ) -> Result<(u64, bool), BotError> {
        let ext = check.external_id(sha);
        if let Some(run) = existing
            .iter()
            .find(|r| r.external_id.as_deref() == Some(ext.as_str()))
        {
            if run.status != "in_progress" {
                self.gh
                    .update_check_run(repo, run.id, &json!({"status": "in_progress"}))
                    .await?;
            }
            return Ok((run.id, true));
        }
        let run = self
            .gh
            .create_check_run(repo, check.check_name(), sha, &ext)
            .await?;
        Ok((run.id, false))
    }

    async fn complete_check_run(
        &self,
        repo: &RepoId,
        id: u64,
        outcome: &CheckOutcome,
    ) -> Result<(), BotError> {
        for body in check_runs::completion_requests(outcome) {
            self.gh.update_check_run(repo, id, &body).await?;
        }
        Ok(())
    }

    /// One check run per commit and configured check: all are started
    /// first (so the PR shows what is coming), then each is run and
    /// completed.
    async fn run_checks(
        &self,
        cfg: &Config,
        repo: &RepoId,
        series: Arc<BuiltSeries>,
    ) -> Result<Vec<CheckRunReport>, BotError> {
        let mut started = Vec::new();
        for commit in &series.commits {
            let existing = self.gh.check_runs_for(repo, &commit.sha).await?;
            for &check in &cfg.checks {
                let (id, reused) = self
                    .start_check_run(repo, &existing, &commit.sha, check)
                    .await?;
                started.push((commit.clone(), check, id, reused));
            }
        }
        let mut out = Vec::new();
        for (commit, check, id, reused) in started {
            let (s, c) = (series.clone(), commit.clone());
            let outcome = match self.blocking(move |r| r.run_check(&s, &c, check)).await {
                Ok(o) => o,
                Err(e) => CheckOutcome {
                    conclusion: Conclusion::Neutral,
                    title: format!("{}: could not run", check.id()),
                    summary: check_runs::summary_table(
                        &["check", "error"],
                        &[vec![check.id().into(), e.to_string()]],
                    ),
                    annotations: vec![],
                },
            };
            self.complete_check_run(repo, id, &outcome).await?;
            out.push(CheckRunReport {
                id,
                name: check.check_name().into(),
                sha: commit.sha.clone(),
                conclusion: outcome.conclusion,
                reused,
            });
        }
        Ok(out)
    }

    async fn pull_series(
        &self,
        cfg: &Config,
        repo: &RepoId,
        number: u64,
        head_sha: &str,
    ) -> Result<BuiltSeries, BotError> {
        let commits = self
            .gh
            .pull_commits(repo, number)
            .await?
            .into_iter()
            .filter(|c| git::is_hex_sha(&c.sha))
            .map(|c| Commit {
                sha: c.sha.to_ascii_lowercase(),
                subject: c.commit.message.lines().next().unwrap_or("").to_string(),
            })
            .collect();
        let req = PullSeriesRequest {
            repo: repo.clone(),
            number,
            head_sha: head_sha.to_string(),
            commits,
            recipe: cfg.recipe.clone(),
        };
        self.blocking(move |r| r.pull_series(&req)).await
    }

    async fn on_pull_request(
        &self,
        cfg: &Config,
        repo: &RepoId,
        number: u64,
        base: &BranchName,
        head_sha: &str,
    ) -> Result<Report, BotError> {
        if !cfg.watches(base) {
            return Ok(Report::ignored(format!(
                "pull request into {base}, which is not in kseries.toml"
            )));
        }
        if self.checks_in_workflow {
            return Ok(Report {
                pull: Some(number),
                checks_left_to_workflow: true,
                ..Report::ignored("the workflow's matrix checks pull requests")
            });
        }
        let pr = self.gh.get_pull(repo, number).await?;
        if let Ok(head) = BranchName::new(&pr.head.branch)
            && cfg.is_series_branch(&head)
        {
            return Ok(Report::ignored(format!(
                "pull request {number} is the bot's own series (checked on push)"
            )));
        }
        let series = self.pull_series(cfg, repo, number, head_sha).await?;
        Ok(Report {
            pull: Some(number),
            check_runs: self.run_checks(cfg, repo, Arc::new(series)).await?,
            ..Report::default()
        })
    }

    async fn on_comment(
        &self,
        cfg: &Config,
        repo: &RepoId,
        number: u64,
        comment_id: u64,
        user: &str,
        body: &str,
    ) -> Result<Report, BotError> {
        let first = body.lines().next().unwrap_or("").trim();
        if first != RETEST {
            return Ok(Report::ignored("not a kseries command"));
        }
        if user.ends_with("[bot]") {
            return Ok(Report::ignored("comment by a bot"));
        }
        let permission = self.gh.permission(repo, user).await?;
        if !can_write(&permission) {
            return self.refuse_once(repo, number, comment_id, user).await;
        }
        let pr = self.gh.get_pull(repo, number).await?;
        let series = self.pull_series(cfg, repo, number, &pr.head.sha).await?;
        Ok(Report {
            pull: Some(number),
            check_runs: self.run_checks(cfg, repo, Arc::new(series)).await?,
            ..Report::default()
        })
    }

    /// Replies that `user` may not ask for a retest, unless the bot already
    /// replied to this comment.
    async fn refuse_once(
        &self,
        repo: &RepoId,
        number: u64,
        comment_id: u64,
        user: &str,
    ) -> Result<Report, BotError> {
        let marker = format!("<!-- kseries:retest-denied:{comment_id} -->");
        let comments = self.gh.issue_comments(repo, number).await?;
        if comments
            .iter()
            .any(|c| c.body.as_deref().is_some_and(|b| b.contains(&marker)))
        {
            return Ok(Report::ignored(format!("retest by {user} refused already")));
        }
        let text = format!(
            "@{user}: `{RETEST}` needs write access to this repository; ignored.\n\n{marker}"
        );
        self.gh.create_issue_comment(repo, number, &text).await?;
        Ok(Report {
            ignored: Some(format!("{user} may not ask for a retest")),
            comments_posted: 1,
            ..Report::default()
        })
    }

    /// Completes the check runs from the Actions matrix's job results
    /// (one per commit, check and architecture), merged per commit and
    /// check.
    pub async fn collect(&self, repo: &RepoId, results: &[JobResult]) -> Result<Report, BotError> {
        let merged = check_runs::merge_job_results(results);
        let mut existing: HashMap<String, Vec<CheckRun>> = HashMap::new();
        let mut report = Report::default();
        for ((sha, check), outcome) in merged {
            if !existing.contains_key(&sha) {
                existing.insert(sha.clone(), self.gh.check_runs_for(repo, &sha).await?);
            }
            let (id, reused) = self
                .start_check_run(repo, &existing[&sha], &sha, check)
                .await?;
            self.complete_check_run(repo, id, &outcome).await?;
            report.check_runs.push(CheckRunReport {
                id,
                name: check.check_name().into(),
                sha,
                conclusion: outcome.conclusion,
                reused,
            });
        }
        Ok(report)
    }
}
