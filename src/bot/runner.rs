//! The real [`SeriesRunner`]: the library's `scan` and `rewrite::plan` on a
//! local clone of the fork, cut into commits by the `series` stage (one
//! commit per change unit, messages and cover letter from the templates);
//! the build check is `verify::compile_check` on the files each commit
//! touches, with `check::check_source` (the notifier-semantics linter) on
//! the same files; the boot check is `verify::verify_series` on the one
//! commit (build, QEMU boot, the auditor's verdict).

use std::path::PathBuf;

use super::checks::{self, CheckKind, CheckOutcome, Conclusion};
use super::git::{self, is_hex_sha};
use super::{Commit, PullSeriesRequest, RunnerError, Series, SeriesRequest, SeriesRunner};
use crate::verify::{CompileRequest, FileResult};

/// Runs the pipeline in `workdir`, a git clone of the fork that the bot
/// owns (it checks out, commits and resets there).
#[derive(Debug, Clone)]
pub struct GitSeriesRunner {
    pub workdir: PathBuf,
    /// The compile check's build directory (reused between runs).
    pub build_dir: PathBuf,
    /// Compile at most this many files per commit (`None`: all).
    pub max_files_per_commit: Option<usize>,
    /// `make -j`.
    pub jobs: u32,
}

impl GitSeriesRunner {
    pub fn new(workdir: impl Into<PathBuf>) -> GitSeriesRunner {
        let workdir = workdir.into();
        let build_dir = crate::verify::default_build_dir(&workdir, crate::verify::Arch::X86_64);
        GitSeriesRunner {
            workdir,
            build_dir,
            max_files_per_commit: None,
            jobs: 2,
        }
    }

    fn git(&self, args: &[&str]) -> Result<String, RunnerError> {
        Ok(git::git(&self.workdir, args)?)
    }

    fn checkout(&self, sha: &str) -> Result<(), RunnerError> {
        require_commit_id(sha)?;
        self.git(&["checkout", "-q", "-f", "--detach", sha])?;
        Ok(())
    }
}

impl SeriesRunner for GitSeriesRunner {
    fn build_series(&self, req: &SeriesRequest) -> Result<Series, RunnerError> {
        let recipe = recipe(&req.recipe)?;
        // The pushed commit may be newer than the bot's clone.
        let have = self
            .git(&["cat-file", "-e", &format!("{}^{{commit}}", req.base_sha)])
            .is_ok();
        if !have {
            self.git(&["fetch", "-q", "origin", "--", &req.base_branch.full_ref()])?;
        }
        self.checkout(&req.base_sha)?;
        let root = self.workdir.as_path();
        let report = crate::scan::scan(root, &recipe)?;
        let plan = crate::rewrite::plan(root, &report, &recipe)?;
        let (commits, head, title, mut cover) = if plan.units.is_empty() {
            let title = format!(
                "[kseries] {}: nothing to change on {}",
                req.recipe, req.base_branch
            );
            (Vec::new(), req.base_sha.clone(), title, String::new())
        } else {
            self.cut_series(&plan, &req.base_sha)?
        };
        if !plan.needs_review.is_empty() {
            cover.push_str("\nLeft for review (not changed):\n\n");
            for r in &plan.needs_review {
                cover.push_str(&format!("- {r}\n"));
            }
        }
        Ok(Series {
            repo: self.workdir.clone(),
            head,
            commits,
            title,
            cover_letter: cover,
            recipe: req.recipe.clone(),
        })
    }

    fn pull_series(&self, req: &PullSeriesRequest) -> Result<Series, RunnerError> {
        require_commit_id(&req.head_sha)?;
        let have = self
            .git(&["cat-file", "-e", &format!("{}^{{commit}}", req.head_sha)])
            .is_ok();
        if !have {
            self.git(&[
                "fetch",
                "-q",
                "origin",
                "--",
                &format!("refs/pull/{}/head", req.number),
            ])?;
        }
        Ok(Series {
            repo: self.workdir.clone(),
            head: req.head_sha.clone(),
            commits: req.commits.clone(),
            title: String::new(),
            cover_letter: String::new(),
            recipe: req.recipe.clone(),
        })
    }

    fn run_check(
        &self,
        series: &Series,
        commit: &Commit,
        check: CheckKind,
    ) -> Result<CheckOutcome, RunnerError> {
        match check {
            CheckKind::Boot => self.boot_check(series, commit),
            CheckKind::Build => self.build_check(series, commit),
        }
    }
}

impl GitSeriesRunner {
    /// Builds the commit's kernel, boots it in QEMU with the notifier
    /// auditor and reads the console (`kseries verify` for one commit).
    /// A repository that is not a kernel tree has nothing to boot.
    fn boot_check(&self, series: &Series, commit: &Commit) -> Result<CheckOutcome, RunnerError> {
        require_commit_id(&commit.sha)?;
        if !series.repo.join("Kbuild").is_file() {
            return Ok(CheckOutcome {
                conclusion: Conclusion::Skipped,
                title: "boot: not a kernel tree".into(),
                summary: checks::summary_table(
                    &["check", "result"],
                    &[vec![
                        "boot".into(),
                        "skipped: the repository has no Kbuild, nothing to boot".into(),
                    ]],
                ),
                annotations: vec![],
            });
        }
        let mut opts = crate::verify::VerifyOptions::new(&series.repo, commit.sha.clone());
        opts.compile_check = false;
        opts.cross = false;
        opts.jobs = self.jobs;
        let report = crate::verify::verify_series(&opts)?;
        let step = report
            .steps
            .first()
            .ok_or_else(|| RunnerError::NoVerifyStep(commit.sha.clone()))?;
        Ok(checks::boot_outcome(step))
    }

    /// Compiles the files `commit` touches (x86_64 allmodconfig) and lints
    /// them with `kseries check` (E2-W1 on each file's text): compiler
    /// errors and lint findings become annotations on their lines.
    fn build_check(&self, series: &Series, commit: &Commit) -> Result<CheckOutcome, RunnerError> {
        let recipe = recipe(&series.recipe)?;
        require_commit_id(&commit.sha)?;
        let touched = self.git(&[
            "diff-tree",
            "--no-commit-id",
            "--name-only",
            "-r",
            "--root",
            &commit.sha,
        ])?;
        let mut files: Vec<PathBuf> = touched
            .lines()
            .filter(|l| l.ends_with(".c") || l.ends_with(".h"))
            .map(PathBuf::from)
            .collect();
        // `.c` files first: they are what is cheapest to check.
        files.sort_by_key(|f| (f.extension().is_some_and(|e| e == "h"), f.clone()));
        let all = files.len();
        let lint_files = files.clone();
        if let Some(max) = self.max_files_per_commit {
            files.truncate(max);
        }
        self.checkout(&commit.sha)?;
        let mut req = CompileRequest::new(&self.workdir, &self.build_dir, files);
        req.jobs = self.jobs;
        let report = crate::verify::compile_check(&req)?;
        let mut conclusion = Conclusion::Success;
        let mut rows = Vec::new();
        let mut annotations = Vec::new();
        let mut tested = 0;
        for f in &report.files {
            let file = f.file.display().to_string();
            let (status, detail) = match &f.result {
                FileResult::Ok => {
                    tested += 1;
                    ("ok".to_string(), String::new())
                }
                FileResult::Failed { errors } => {
                    tested += 1;
                    conclusion = Conclusion::Failure;
                    annotations.extend(checks::compiler_annotations(errors, "failure"));
                    ("failed".to_string(), first_line(errors))
                }
                FileResult::FailsAtBase { errors } => {
                    tested += 1;
                    annotations.extend(checks::compiler_annotations(errors, "warning"));
                    ("fails at base".to_string(), first_line(errors))
                }
                FileResult::NotCompileTested { reason } => {
                    ("not compile-tested".to_string(), reason.clone())
                }
            };
            rows.push(vec![
                format!("`{file}`"),
                status,
                detail,
                format!("{} ms", f.duration_ms),
            ]);
        }
        if tested == 0 {
            conclusion = Conclusion::Neutral;
        }
        let mut summary = checks::summary_table(&["file", "result", "detail", "time"], &rows);
        // The linter, on every touched file as this commit has it.
        let mut findings = Vec::new();
        for f in &lint_files {
            let rel = f.to_string_lossy().replace('\\', "/");
            let Ok(src) = std::fs::read(self.workdir.join(f)) else {
                continue; // deleted by this commit
            };
            findings.extend(crate::check::check_source(&rel, &src, &recipe));
        }
        if !findings.is_empty() {
            let rows: Vec<Vec<String>> = findings
                .iter()
                .take(100)
                .map(|d| {
                    vec![
                        format!("`{}:{}`", d.file, d.line),
                        d.code.clone(),
                        d.severity.as_str().to_string(),
                        d.message.clone(),
                    ]
                })
                .collect();
            summary.push_str("\n`kseries check` findings:\n\n");
            summary.push_str(&checks::summary_table(
                &["where", "rule", "severity", "message"],
                &rows,
            ));
        }
        for d in &findings {
            let level = match d.severity {
                crate::check::Severity::Error => {
                    conclusion = Conclusion::Failure;
                    "failure"
                }
                crate::check::Severity::Warning => "warning",
                crate::check::Severity::Note => "notice",
            };
            annotations.push(checks::Annotation {
                path: d.file.clone(),
                start_line: d.line as u64,
                end_line: d.line as u64,
                annotation_level: level.to_string(),
                message: format!("{}: {}", d.code, d.message),
            });
        }
        if all > report.files.len() {
            summary.push_str(&format!(
                "\n{} of {all} touched files checked (limit per commit).\n",
                report.files.len()
            ));
        }
        Ok(CheckOutcome {
            conclusion,
            title: format!(
                "build (x86_64 allmodconfig): {}, {tested} of {} files compiled, \
                 {} check findings",
                conclusion.as_str(),
                report.files.len(),
                findings.len()
            ),
            summary,
            annotations,
        })
    }
}

fn recipe(id: &str) -> Result<crate::recipe::Recipe, RunnerError> {
    crate::recipe::by_id(id).ok_or_else(|| RunnerError::UnknownRecipe(id.to_string()))
}

/// Commit ids come from payloads: only a full hex id reaches git.
fn require_commit_id(sha: &str) -> Result<(), RunnerError> {
    if is_hex_sha(sha) {
        Ok(())
    } else {
        Err(RunnerError::NotACommit(sha.to_string()))
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(200).collect()
}

impl GitSeriesRunner {
    /// The series stage itself: commits with their messages, subjects in
    /// each subsystem's convention, recipients and the cover letter, on a
    /// scratch branch of the bot's clone.  Returns the commits, the tip,
    /// the pull request title and the cover letter's text.
    fn cut_series(
        &self,
        plan: &crate::rewrite::Plan,
        base: &str,
    ) -> Result<(Vec<Commit>, String, String, String), RunnerError> {
        let root = self.workdir.as_path();
        for (key, value) in [
            ("user.name", "kseries bot"),
            ("user.email", "kseries-bot@users.noreply.github.com"),
        ] {
            // The bot's own clone commits as the bot.
            self.git(&["config", key, value])?;
        }
        let out = tempfile::tempdir().map_err(|source| RunnerError::Io {
            what: "a temporary directory for the series".into(),
            source,
        })?;
        let opts = crate::series::SeriesOptions {
            branch: format!("kseries-bot/{}", &base[..base.len().min(12)]),
            force: true,
            output_dir: Some(out.path().to_path_buf()),
            ..Default::default()
        };
        let report = crate::series::make_series(root, plan, &opts, &Default::default(), None)?;
        let commits = report
            .patches
            .iter()
            .map(|p| Commit {
                sha: p.commit.clone(),
                subject: p.subject.clone(),
            })
            .collect();
        let title = report
            .cover
            .subject
            .split_once("] ")
            .map_or(report.cover.subject.as_str(), |(_, t)| t)
            .to_string();
        let cover = match &report.cover.file {
            Some(f) => {
                cover_body(
                    &std::fs::read_to_string(f).map_err(|source| RunnerError::Io {
                        what: f.display().to_string(),
                        source,
                    })?,
                )
            }
            None => String::new(),
        };
        Ok((commits, report.tip, title, cover))
    }
}

/// The text of a format-patch cover letter: after the mail headers, up to
/// the signature.
fn cover_body(mail: &str) -> String {
    let body = mail.split_once("\n\n").map_or(mail, |(_, b)| b);
    let body = body.rsplit_once("\n-- \n").map_or(body, |(b, _)| b);
    format!("{}\n", body.trim_end())
}
