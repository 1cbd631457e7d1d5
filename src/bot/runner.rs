//! The real [`SeriesRunner`]: [`crate::pipeline::migrate`] (scan, plan,
//! what is left for review: the command line's own) on a
//! local clone of the fork, cut into commits by the `series` stage (one
//! commit per change unit, messages and cover letter from the templates);
//! the build check is `verify::compile_check` on the files each commit
//! touches, with `check::check_source` (the notifier-semantics linter) on
//! the same files; the boot check is `verify::verify_series` on the one
//! commit (build, QEMU boot, the auditor's verdict).

use std::path::PathBuf;

use super::check_runs::{self, CheckKind, CheckOutcome, Conclusion};
use super::git::{self, is_hex_sha};
use super::{BuiltSeries, Commit, PullSeriesRequest, RunnerError, SeriesRequest, SeriesRunner};
use crate::check::Diagnostic;
use crate::pipeline::{Gate, Migration, migrate};
use crate::rewrite::ReviewItem;
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
    fn build_series(&self, req: &SeriesRequest) -> Result<BuiltSeries, RunnerError> {
        let recipe = recipe(&req.recipe)?;
        // The pushed commit may be newer than the bot's clone.
        let have = self
            .git(&["cat-file", "-e", &format!("{}^{{commit}}", req.base_sha)])
            .is_ok();
        if !have {
            self.git(&["fetch", "-q", "origin", "--", &req.base_branch.full_ref()])?;
        }
        self.checkout(&req.base_sha)?;
        // The same scan, plan and review list as `kseries series
        // --allow-partial`: a pull request shows what can be done, and its
        // cover letter names what was left.
        let migration = migrate(&self.workdir, &recipe, Gate::AllowPartial)?;
        let (commits, head, title, cover) = if migration.plan.units.is_empty() {
            let title = format!(
                "[kseries] {}: nothing to change on {}",
                req.recipe, req.base_branch
            );
            let cover = nothing_to_change(&migration.plan.needs_review);
            (Vec::new(), req.base_sha.clone(), title, cover)
        } else {
            self.cut_series(&migration, &req.base_sha)?
        };
        Ok(BuiltSeries {
            repo: self.workdir.clone(),
            head,
            commits,
            title,
            cover_letter: cover,
            recipe: req.recipe.clone(),
        })
    }

    fn pull_series(&self, req: &PullSeriesRequest) -> Result<BuiltSeries, RunnerError> {
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
        Ok(BuiltSeries {
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
        series: &BuiltSeries,
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
    fn boot_check(
        &self,
        series: &BuiltSeries,
        commit: &Commit,
    ) -> Result<CheckOutcome, RunnerError> {
        require_commit_id(&commit.sha)?;
        if !series.repo.join("Kbuild").is_file() {
            return Ok(CheckOutcome {
                conclusion: Conclusion::Skipped,
                title: "boot: not a kernel tree".into(),
                summary: check_runs::summary_table(
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
        Ok(check_runs::boot_outcome(step))
    }

    /// Compiles the files `commit` touches (x86_64 allmodconfig) and lints
    /// them with `kseries check` (E2-W1 on each file's text): compiler
    /// errors and lint findings become annotations on their lines.
    fn build_check(
        &self,
        series: &BuiltSeries,
        commit: &Commit,
    ) -> Result<CheckOutcome, RunnerError> {
        let recipe = recipe(&series.recipe)?;
        require_commit_id(&commit.sha)?;
        let lint_files = self.touched_sources(&commit.sha)?;
        let mut files = lint_files.clone();
        if let Some(max) = self.max_files_per_commit {
            files.truncate(max);
        }
        self.checkout(&commit.sha)?;
        let mut req = CompileRequest::new(&self.workdir, &self.build_dir, files);
        req.jobs = self.jobs;
        let report = crate::verify::compile_check(&req)?;
        let compiled = CompileOutcome::of(&report);
        let findings = self.lint(&lint_files, &recipe);
        let mut conclusion = compiled.conclusion;
        let mut annotations = compiled.annotations;
        for d in &findings {
            if d.severity == crate::check::Severity::Error {
                conclusion = Conclusion::Failure;
            }
            annotations.push(finding_annotation(d));
        }
        let mut summary =
            check_runs::summary_table(&["file", "result", "detail", "time"], &compiled.rows);
        summary.push_str(&findings_table(&findings));
        if lint_files.len() > report.files.len() {
            summary.push_str(&format!(
                "\n{} of {} touched files checked (limit per commit).\n",
                report.files.len(),
                lint_files.len()
            ));
        }
        Ok(CheckOutcome {
            conclusion,
            title: format!(
                "build (x86_64 allmodconfig): {}, {} of {} files compiled, \
                 {} check findings",
                conclusion.as_str(),
                compiled.tested,
                report.files.len(),
                findings.len()
            ),
            summary,
            annotations,
        })
    }

    /// The C sources and headers `sha` touches, `.c` files first (they are
    /// what is cheapest to check).
    fn touched_sources(&self, sha: &str) -> Result<Vec<PathBuf>, RunnerError> {
        let touched = self.git(&[
            "diff-tree",
            "--no-commit-id",
            "--name-only",
            "-r",
            "--root",
            sha,
        ])?;
        let mut files: Vec<PathBuf> = touched
            .lines()
            .filter(|l| l.ends_with(".c") || l.ends_with(".h"))
            .map(PathBuf::from)
            .collect();
        files.sort_by_key(|f| (f.extension().is_some_and(|e| e == "h"), f.clone()));
        Ok(files)
    }

    /// The linter on every touched file as the checked-out commit has it
    /// (a file the commit deletes has nothing to lint).
    fn lint(&self, files: &[PathBuf], recipe: &crate::recipe::Recipe) -> Vec<Diagnostic> {
        let mut findings = Vec::new();
        for f in files {
            let rel = f.to_string_lossy().replace('\\', "/");
            let Ok(src) = std::fs::read(self.workdir.join(f)) else {
                continue;
            };
            findings.extend(crate::check::check_source(&rel, &src, recipe));
        }
        findings
    }
}

/// The compile check as a check run sees it: one table row per file,
/// compiler errors as annotations.
struct CompileOutcome {
    /// Failure when a file fails to compile; neutral when none compiled.
    conclusion: Conclusion,
    rows: Vec<Vec<String>>,
    annotations: Vec<check_runs::Annotation>,
    /// Files that were compiled (whatever the result).
    tested: usize,
}

impl CompileOutcome {
    fn of(report: &crate::verify::CompileReport) -> CompileOutcome {
        let mut out = CompileOutcome {
            conclusion: Conclusion::Success,
            rows: Vec::new(),
            annotations: Vec::new(),
            tested: 0,
        };
        for f in &report.files {
            let (status, detail) = match &f.result {
                FileResult::Ok => {
                    out.tested += 1;
                    ("ok".to_string(), String::new())
                }
                FileResult::Failed { errors } => {
                    out.tested += 1;
                    out.conclusion = Conclusion::Failure;
                    out.annotations
                        .extend(check_runs::compiler_annotations(errors, "failure"));
                    ("failed".to_string(), first_line(errors))
                }
                FileResult::FailsAtBase { errors } => {
                    out.tested += 1;
                    out.annotations
                        .extend(check_runs::compiler_annotations(errors, "warning"));
                    ("fails at base".to_string(), first_line(errors))
                }
                FileResult::NotCompileTested { reason } => {
                    ("not compile-tested".to_string(), reason.clone())
                }
            };
            out.rows.push(vec![
                format!("`{}`", f.file.display()),
                status,
                detail,
                format!("{} ms", f.duration_ms),
            ]);
        }
        if out.tested == 0 {
            out.conclusion = Conclusion::Neutral;
        }
        out
    }
}

/// The linter's findings as a Markdown table (the first 100), after the
/// compile table; empty without findings.
fn findings_table(findings: &[Diagnostic]) -> String {
    if findings.is_empty() {
        return String::new();
    }
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
    format!(
        "\n`kseries check` findings:\n\n{}",
        check_runs::summary_table(&["where", "rule", "severity", "message"], &rows)
    )
}

/// A finding as an annotation on its line: errors fail the check run.
fn finding_annotation(d: &Diagnostic) -> check_runs::Annotation {
    let level = match d.severity {
        crate::check::Severity::Error => "failure",
        crate::check::Severity::Warning => "warning",
        crate::check::Severity::Note => "notice",
    };
    check_runs::Annotation {
        path: d.file.clone(),
        start_line: d.line as u64,
        end_line: d.line as u64,
        annotation_level: level.to_string(),
        message: format!("{}: {}", d.code, d.message),
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
        migration: &Migration,
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
        let report = crate::series::make_series(
            root,
            &migration.plan,
            &opts,
            &migration.verification,
            None,
        )?;
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

/// The pull request body when no commit could be made: what was left for
/// review, in the series' cover letter's words.
fn nothing_to_change(review: &[ReviewItem]) -> String {
    if review.is_empty() {
        return String::new();
    }
    let mut text = String::from("Left for a human (not touched by this series):\n\n");
    for r in review {
        text.push_str(&format!("- {r}\n"));
    }
    text
}

/// The text of a format-patch cover letter: after the mail headers, up to
/// the signature.
fn cover_body(mail: &str) -> String {
    let body = mail.split_once("\n\n").map_or(mail, |(_, b)| b);
    let body = body.rsplit_once("\n-- \n").map_or(body, |(b, _)| b);
    format!("{}\n", body.trim_end())
}
