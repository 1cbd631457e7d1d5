//! `kseries verify`: every commit of a range, in order, is checked out into
//! one persistent source checkout, compile-checked (x86_64 and, with cross
//! compilers, the other architectures it touches), built into one
//! persistent boot build directory (so each step rebuilds only what it
//! changed) and boot-tested with the auditor.  The first failing commit is
//! named.
//!
//! The checkout is a private repository whose object store borrows the
//! verified repository's (`objects/info/alternates`); each step is
//! `git read-tree -u --reset <sha>`, which rewrites only the files that
//! differ, so mtimes of unchanged files stay and make rebuilds little.
//! Unlike a `git worktree` of the verified repository, this checkout (and
//! the build directory with it) can be reused by any clone of the same
//! history, which is what lets tests share one build.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::boot::{self, BootTest, QemuOptions};
use super::compile::{Baseline, CompileReport, CompileRequest, FileResult, compile_check};
use super::cross::{self, CrossFile};
use super::{VerifyError, cache_home, kbuild};
use crate::git::Git;

/// The options of `kseries verify`.  Most fields are one flag each; the
/// QEMU binary and CPU model have no flag (library callers set them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyOptions {
    /// The repository holding the commits (the `TREE` argument, default
    /// `.`).
    pub repo: PathBuf,
    /// `A..B` (the commits of B not in A, oldest first) or one commit.
    pub range: String,
    /// Where the checkout, build directories and scratch files live
    /// (`--work-dir`); default: [`default_work_dir`] of the repository.
    pub work_dir: Option<PathBuf>,
    /// `make -j` (`--jobs`, default 2).
    pub jobs: u32,
    /// Compile-check the touched x86_64 files (`--no-compile-check` turns off).
    pub compile_check: bool,
    /// Cross-compile touched files of other architectures (`--no-cross`).
    pub cross: bool,
    /// Only these cross architectures (their `arch/` directory names);
    /// `None`: every one in [`cross::CROSS_ARCHES`].
    #[serde(default)]
    pub cross_arches: Option<Vec<String>>,
    /// Build and boot the kernel with the auditor (`--no-boot`).
    pub boot: bool,
    /// QEMU settings: only the timeout has a flag (`--timeout SECONDS`);
    /// the binary, memory and CPU model keep [`QemuOptions::default`].
    pub qemu: QemuOptions,
    /// Per-step console and build logs (`--log-dir DIR`).
    pub log_dir: Option<PathBuf>,
    /// JUnit XML report (`--junit FILE`).
    pub junit: Option<PathBuf>,
    /// Go on after the first failing commit (`--keep-going`).
    pub keep_going: bool,
    /// A progress bar on stderr: the command line turns it on when stderr
    /// is a terminal (there is no flag).
    pub progress: bool,
}

impl VerifyOptions {
    pub fn new(repo: impl Into<PathBuf>, range: impl Into<String>) -> Self {
        VerifyOptions {
            repo: repo.into(),
            range: range.into(),
            work_dir: None,
            jobs: 2,
            compile_check: true,
            cross: true,
            cross_arches: None,
            boot: true,
            qemu: QemuOptions::default(),
            log_dir: None,
            junit: None,
            keep_going: false,
            progress: false,
        }
    }
}

/// `$XDG_CACHE_HOME/kseries/verify/<repo name>-<hash of its path>`.
pub fn default_work_dir(repo: &Path) -> PathBuf {
    let repo = fs::canonicalize(repo).unwrap_or_else(|_| repo.to_path_buf());
    let name = repo.file_name().and_then(|n| n.to_str()).unwrap_or("repo");
    let hash = kbuild::fnv1a(repo.as_os_str().as_encoded_bytes());
    cache_home()
        .join("kseries")
        .join("verify")
        .join(format!("{name}-{hash:016x}"))
}

/// The state of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    Pass,
    Fail,
    /// Not run: an earlier commit failed.
    Skipped,
}

/// One commit's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    pub index: usize,
    pub sha: String,
    pub subject: String,
    pub touched: Vec<PathBuf>,
    /// Files the commit does not touch that referred, at the range's base,
    /// to declarations it removes: compiled too.
    #[serde(default)]
    pub former_users: Vec<PathBuf>,
    pub status: StepStatus,
    /// Why it failed (the first failing phase), in a line.
    pub failure: Option<String>,
    pub compile: Option<CompileReport>,
    pub cross: Vec<CrossFile>,
    pub boot: Option<BootTest>,
    pub checkout_ms: u64,
    pub total_ms: u64,
    /// Where this step's logs went.
    pub log_dir: Option<PathBuf>,
}

impl StepReport {
    /// Files that were not compiled on any architecture, with why.
    pub fn not_compile_tested(&self) -> Vec<(PathBuf, String)> {
        let mut out = Vec::new();
        if let Some(c) = &self.compile {
            for f in &c.files {
                if let FileResult::NotCompileTested { reason } = &f.result {
                    out.push((f.file.clone(), reason.clone()));
                }
            }
        }
        for f in &self.cross {
            if let FileResult::NotCompileTested { reason } = &f.result {
                out.push((f.file.clone(), format!("{}: {reason}", f.arch)));
            }
        }
        out
    }
}

/// The first failing commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstFailure {
    pub sha: String,
    pub subject: String,
    pub reason: String,
}

/// The result of `kseries verify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub repo: PathBuf,
    pub range: String,
    pub work_dir: PathBuf,
    pub steps: Vec<StepReport>,
    pub first_failure: Option<FirstFailure>,
    pub total_ms: u64,
}

impl VerifyReport {
    /// Every step ran and passed.  The CLI exits non-zero otherwise.
    pub fn passed(&self) -> bool {
        self.first_failure.is_none() && self.steps.iter().all(|s| s.status == StepStatus::Pass)
    }
}

/// `git -C dir ARGS` in the C locale; its stdout.
fn git(dir: &Path, args: &[&str]) -> Result<String, VerifyError> {
    Ok(Git::new(dir).args(args).env("LC_ALL", "C").text()?)
}

/// The commits of `range`, oldest first: `A..B`, or a single commit.
pub fn resolve_range(repo: &Path, range: &str) -> Result<Vec<String>, VerifyError> {
    if range.contains("..") {
        let out = git(repo, &["rev-list", "--reverse", "--topo-order", range])?;
        Ok(out.lines().map(str::to_string).collect())
    } else {
        let spec = format!("{range}^{{commit}}");
        Ok(vec![
            git(repo, &["rev-parse", "--verify", &spec])?
                .trim()
                .to_string(),
        ])
    }
}

/// The files a commit changes (none for a root commit: it is the base).
fn touched_files(repo: &Path, sha: &str) -> Result<Vec<PathBuf>, VerifyError> {
    let parents = git(repo, &["rev-list", "--parents", "-n", "1", sha])?;
    let Some(parent) = parents.split_whitespace().nth(1) else {
        return Ok(Vec::new());
    };
    let out = git(repo, &["diff", "--name-only", "--no-renames", parent, sha])?;
    Ok(out.lines().map(PathBuf::from).collect())
}

/// Makes `src` a checkout that borrows `repo`'s objects.
fn prepare_checkout(src: &Path, repo: &Path) -> Result<(), VerifyError> {
    if !src.join(".git").is_dir() {
        fs::create_dir_all(src).map_err(|e| VerifyError::io(src, e))?;
        git(src, &["init", "-q", "."])?;
    }
    let common = git(repo, &["rev-parse", "--git-common-dir"])?;
    let common = PathBuf::from(common.trim());
    let common = if common.is_absolute() {
        common
    } else {
        repo.join(common)
    };
    let objects = fs::canonicalize(common.join("objects"))
        .map_err(|e| VerifyError::io(&common.join("objects"), e))?;
    let alternates = src.join(".git/objects/info/alternates");
    if let Some(dir) = alternates.parent() {
        fs::create_dir_all(dir).map_err(|e| VerifyError::io(dir, e))?;
    }
    fs::write(&alternates, format!("{}\n", objects.display()))
        .map_err(|e| VerifyError::io(&alternates, e))
}

/// Checks `sha` out into `src`, rewriting only the files that differ.
fn checkout(src: &Path, sha: &str) -> Result<(), VerifyError> {
    let _ = git(src, &["update-index", "-q", "--refresh"]);
    git(src, &["read-tree", "-u", "--reset", sha])?;
    git(src, &["update-ref", "--no-deref", "HEAD", sha])?;
    Ok(())
}

fn is_compiled_source(f: &Path) -> bool {
    matches!(
        f.extension().and_then(|e| e.to_str()),
        Some("c") | Some("h") | Some("S")
    )
}

/// The default range of `kseries verify`: the series branch from where it
/// forks from HEAD (`$(git merge-base HEAD BRANCH)..BRANCH`).
pub fn branch_range(repo: &Path, branch: &str) -> Result<String, VerifyError> {
    let o = Git::new(repo)
        .args(["merge-base", "HEAD"])
        // A full ref name: a branch can never be taken for an option.
        .arg(format!(
            "refs/heads/{}",
            branch.trim_start_matches("refs/heads/")
        ))
        .output()?;
    if !o.status.success() {
        return Err(VerifyError::NoForkPoint {
            branch: branch.to_string(),
            stderr: String::from_utf8_lossy(&o.stderr).trim().to_string(),
        });
    }
    Ok(format!(
        "{}..{}",
        String::from_utf8_lossy(&o.stdout).trim(),
        branch
    ))
}

/// Runs `kseries verify`.  Errors are for the run as a whole (no such
/// repository, a build directory that is not ours, QEMU missing); a
/// failing commit is in the report ([`VerifyReport::passed`]).
pub fn verify_series(opts: &VerifyOptions) -> Result<VerifyReport, VerifyError> {
    let start = Instant::now();
    let repo = fs::canonicalize(&opts.repo).map_err(|e| VerifyError::io(&opts.repo, e))?;
    let work = opts
        .work_dir
        .clone()
        .unwrap_or_else(|| default_work_dir(&repo));
    let shas = resolve_range(&repo, &opts.range)?;
    let build_dir = work.join("build");
    let _lock = boot::lock_boot_dir(&build_dir)?;
    let src = work.join("src");
    prepare_checkout(&src, &repo)?;
    let range_base = match shas.first() {
        Some(first) => parent_of(&repo, first)?,
        None => None,
    };
    let mut run = Run {
        opts,
        repo,
        work,
        src,
        build_dir,
        first: shas.first().cloned().unwrap_or_default(),
        range_base,
        base_ready: false,
    };
    let progress = Progress::new(opts.progress, shas.len());
    let mut steps = Vec::new();
    let mut first_failure: Option<FirstFailure> = None;
    for (index, sha) in shas.iter().enumerate() {
        let subject = git(&run.repo, &["log", "-1", "--format=%s", sha])?
            .trim()
            .to_string();
        if first_failure.is_some() && !opts.keep_going {
            steps.push(skipped_step(index + 1, sha, subject));
            progress.inc();
            continue;
        }
        let step = run.step(index + 1, sha, subject, &progress)?;
        progress.done(&step);
        if let (Some(reason), None) = (&step.failure, &first_failure) {
            first_failure = Some(FirstFailure {
                sha: sha.clone(),
                subject: step.subject.clone(),
                reason: reason.clone(),
            });
        }
        steps.push(step);
        progress.inc();
    }
    progress.finish();
    let report = VerifyReport {
        repo: run.repo,
        range: opts.range.clone(),
        work_dir: run.work,
        steps,
        first_failure,
        total_ms: start.elapsed().as_millis() as u64,
    };
    write_reports(opts, &report)?;
    Ok(report)
}

/// The progress bar on stderr (hidden unless asked for): the phase each
/// step is in, and a line per finished step.
struct Progress(ProgressBar);

impl Progress {
    fn new(shown: bool, steps: usize) -> Progress {
        if !shown {
            return Progress(ProgressBar::hidden());
        }
        let bar = ProgressBar::new(steps as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:25} {pos}/{len} {msg}",
            )
            .expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress(bar)
    }

    /// `<short sha> <phase>  <subject>`.
    fn phase(&self, sha: &str, phase: &str, subject: &str) {
        let short = &sha[..sha.len().min(12)];
        self.0.set_message(format!("{short} {phase}  {subject}"));
    }

    fn done(&self, step: &StepReport) {
        let short = &step.sha[..step.sha.len().min(12)];
        self.0.println(format!(
            "{} {short} {}{}",
            if step.failure.is_some() {
                "FAIL"
            } else {
                "ok  "
            },
            step.subject,
            step.failure
                .as_ref()
                .map(|f| format!("\n     {f}"))
                .unwrap_or_default()
        ));
    }

    fn inc(&self) {
        self.0.inc(1);
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// A step not run because an earlier commit failed.
fn skipped_step(index: usize, sha: &str, subject: String) -> StepReport {
    StepReport {
        index,
        sha: sha.to_string(),
        subject,
        touched: Vec::new(),
        former_users: Vec::new(),
        status: StepStatus::Skipped,
        failure: None,
        compile: None,
        cross: Vec::new(),
        boot: None,
        checkout_ms: 0,
        total_ms: 0,
        log_dir: None,
    }
}

/// The JUnit file and `report.json` in the log directory, when asked for.
fn write_reports(opts: &VerifyOptions, report: &VerifyReport) -> Result<(), VerifyError> {
    if let Some(path) = &opts.junit {
        let xml = super::report::junit_xml(report);
        fs::write(path, xml).map_err(|e| VerifyError::io(path, e))?;
    }
    if let Some(dir) = &opts.log_dir {
        let path = dir.join("report.json");
        let json = serde_json::to_string_pretty(report).expect("report serialises");
        fs::write(&path, json).map_err(|e| VerifyError::io(&path, e))?;
    }
    Ok(())
}

/// One verify run: where it works, and what every step shares.
struct Run<'a> {
    opts: &'a VerifyOptions,
    /// The verified repository (canonical).
    repo: PathBuf,
    work: PathBuf,
    /// The checkout each step is read into.
    src: PathBuf,
    /// The boot build directory (locked for the run).
    build_dir: PathBuf,
    /// The first commit of the range.
    first: String,
    /// The parent of the first commit.
    range_base: Option<String>,
    /// Whether the range's base is checked out in `work/base-src`.
    base_ready: bool,
}

impl Run<'_> {
    /// Checks out one commit and runs its phases: the x86_64 compile
    /// check, the cross architectures, then build and boot (only while
    /// nothing failed).
    fn step(
        &mut self,
        index: usize,
        sha: &str,
        subject: String,
        progress: &Progress,
    ) -> Result<StepReport, VerifyError> {
        let step_start = Instant::now();
        progress.phase(sha, "checkout", &subject);
        checkout(&self.src, sha)?;
        let checkout_ms = step_start.elapsed().as_millis() as u64;
        let touched = touched_files(&self.repo, sha)?;
        let former = former_users(
            &self.repo,
            self.range_base.as_deref(),
            sha,
            &touched,
            &self.src,
        )?;
        let mut failure: Option<String> = None;
        let commit = StepCommit {
            sha,
            subject: &subject,
            touched: &touched,
            former: &former,
        };
        let compile = self.compile_x86(&commit, progress)?;
        if let Some(report) = &compile
            && !report.no_failures()
        {
            failure = Some(x86_failure(report));
        }
        let cross_results = self.compile_cross(&commit, progress)?;
        if failure.is_none()
            && let Some(bad) = cross_results
                .iter()
                .find(|r| matches!(r.result, FileResult::Failed { .. }))
        {
            failure = Some(format!(
                "{} compile failed: {}",
                bad.arch,
                bad.file.display()
            ));
        }
        let mut boot_test = None;
        if self.opts.boot && failure.is_none() {
            progress.phase(sha, "build+boot", &subject);
            let t = boot::boot_test(
                &self.src,
                &self.build_dir,
                &self.work.join("scratch"),
                self.opts.jobs,
                &self.opts.qemu,
            )?;
            failure = t.failure();
            boot_test = Some(t);
        }

        let mut step = StepReport {
            index,
            sha: sha.to_string(),
            subject,
            touched,
            former_users: former,
            status: if failure.is_some() {
                StepStatus::Fail
            } else {
                StepStatus::Pass
            },
            failure,
            compile,
            cross: cross_results,
            boot: boot_test,
            checkout_ms,
            total_ms: step_start.elapsed().as_millis() as u64,
            log_dir: None,
        };
        if let Some(dir) = &self.opts.log_dir {
            step.log_dir = Some(write_step_logs(dir, &step)?);
        }
        Ok(step)
    }

    /// x86_64 compile check of the touched files and of the files that
    /// used what the commit removes; failures are judged against the
    /// range's base.  `None` when there is nothing to compile or the
    /// check is off.
    fn compile_x86(
        &mut self,
        commit: &StepCommit,
        progress: &Progress,
    ) -> Result<Option<CompileReport>, VerifyError> {
        let x86_files: Vec<PathBuf> = commit
            .touched
            .iter()
            .chain(commit.former)
            .filter(|f| is_compiled_source(f) && cross::arch_of(f).is_none())
            .cloned()
            .collect();
        if !self.opts.compile_check || x86_files.is_empty() {
            return Ok(None);
        }
        let phase = format!("compile ({} files)", x86_files.len());
        progress.phase(commit.sha, &phase, commit.subject);
        let mut req = CompileRequest::new(&self.src, self.work.join("compile"), x86_files);
        req.jobs = self.opts.jobs;
        let mut report = compile_check(&req)?;
        if !report.no_failures() {
            // Judge by errors new compared with the range's base
            // (checked out once, when first needed).
            if let Some(base_src) = self.ensure_base()? {
                req.baseline = Some(Baseline {
                    tree: base_src,
                    build_dir: self.work.join("base-compile"),
                });
                report = compile_check(&req)?;
            }
        }
        Ok(Some(report))
    }

    /// Every wanted cross architecture: its own touched files, and the
    /// former users it builds (its files, and generic ones only its
    /// Makefiles build); failures are judged against the range's base.
    fn compile_cross(
        &mut self,
        commit: &StepCommit,
        progress: &Progress,
    ) -> Result<Vec<CrossFile>, VerifyError> {
        let mut all = Vec::new();
        if !self.opts.cross {
            return Ok(all);
        }
        let wanted = |a: &cross::CrossArch| {
            self.opts
                .cross_arches
                .as_ref()
                .is_none_or(|only| only.iter().any(|o| o == a.src_arch))
        };
        let arches: Vec<&cross::CrossArch> =
            cross::CROSS_ARCHES.iter().filter(|a| wanted(a)).collect();
        for arch in arches {
            let src = &self.src;
            let files: Vec<PathBuf> = commit
                .touched
                .iter()
                .filter(|f| cross::arch_of(f).is_some_and(|a| a.src_arch == arch.src_arch))
                .chain(commit.former.iter().filter(|f| {
                    cross::arch_of(f).is_some_and(|a| a.src_arch == arch.src_arch)
                        || (is_compiled_source(f)
                            && cross::arch_of(f).is_none()
                            && cross::arch_build_dir(src, arch, f).is_some())
                }))
                .cloned()
                .collect();
            if files.is_empty() {
                continue;
            }
            progress.phase(
                commit.sha,
                &format!("cross {}", arch.src_arch),
                commit.subject,
            );
            let dir = self.work.join(format!("cross-{}", arch.src_arch));
            let jobs = self.opts.jobs;
            let mut results = cross::cross_check(&self.src, &dir, arch, &files, jobs)?;
            if results
                .iter()
                .any(|r| matches!(r.result, FileResult::Failed { .. }))
                && let Some(base_src) = self.ensure_base()?
            {
                let base_dir = self.work.join(format!("base-cross-{}", arch.src_arch));
                cross::compare_with_base(
                    &mut results,
                    &self.src,
                    &base_src,
                    &base_dir,
                    arch,
                    jobs,
                )?;
            }
            all.extend(results);
        }
        Ok(all)
    }

    /// The range's base (the parent of its first commit) checked out into
    /// `work/base-src`, once per run; `None` for a root commit.
    fn ensure_base(&mut self) -> Result<Option<PathBuf>, VerifyError> {
        let Some(base) = parent_of(&self.repo, &self.first)? else {
            return Ok(None);
        };
        let base_src = self.work.join("base-src");
        if !self.base_ready {
            prepare_checkout(&base_src, &self.repo)?;
            checkout(&base_src, &base)?;
            self.base_ready = true;
        }
        Ok(Some(base_src))
    }
}

/// The commit a step checks and the files its compile checks start from.
struct StepCommit<'a> {
    sha: &'a str,
    subject: &'a str,
    touched: &'a [PathBuf],
    /// Files that used what the commit removes.
    former: &'a [PathBuf],
}

/// `x86_64 compile failed: FILE, FILE`.
fn x86_failure(report: &CompileReport) -> String {
    let bad: Vec<String> = report
        .files
        .iter()
        .filter(|f| matches!(f.result, FileResult::Failed { .. }))
        .map(|f| f.file.display().to_string())
        .collect();
    format!("x86_64 compile failed: {}", bad.join(", "))
}

/// Files that referred, at the range's base, to declarations `sha`
/// removes, and that it does not touch (and that still exist in the
/// checkout of `sha`).
fn former_users(
    repo: &Path,
    base: Option<&str>,
    sha: &str,
    touched: &[PathBuf],
    checkout: &Path,
) -> Result<Vec<PathBuf>, VerifyError> {
    let (Some(base), Some(parent)) = (base, parent_of(repo, sha)?) else {
        return Ok(Vec::new());
    };
    let (_, users) = super::former::former_users(repo, base, &parent, sha, touched)?;
    Ok(users
        .into_iter()
        .filter(|f| !touched.contains(f) && checkout.join(f).is_file())
        .collect())
}

fn parent_of(repo: &Path, sha: &str) -> Result<Option<String>, VerifyError> {
    let parents = git(repo, &["rev-list", "--parents", "-n", "1", sha])?;
    Ok(parents.split_whitespace().nth(1).map(str::to_string))
}

/// `<log dir>/<NN>-<short sha>/`: console.log, kernel-build.log,
/// auditor-build.log, step.json.
fn write_step_logs(dir: &Path, step: &StepReport) -> Result<PathBuf, VerifyError> {
    let short = &step.sha[..step.sha.len().min(12)];
    let d = dir.join(format!("{:02}-{short}", step.index));
    fs::create_dir_all(&d).map_err(|e| VerifyError::io(&d, e))?;
    let mut files: Vec<(&str, String)> = Vec::new();
    if let Some(t) = &step.boot {
        files.push(("kernel-build.log", t.kernel.log.clone()));
        if let Some(a) = &t.auditor {
            files.push(("auditor-build.log", a.log.clone()));
        }
        if let Some(b) = &t.boot {
            files.push(("console.log", b.console.clone()));
        }
    }
    files.push((
        "step.json",
        serde_json::to_string_pretty(step).expect("step serialises"),
    ));
    for (name, text) in files {
        let p = d.join(name);
        fs::write(&p, text).map_err(|e| VerifyError::io(&p, e))?;
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn g(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    #[test]
    fn steps_check_out_only_what_changed() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        fs::create_dir_all(repo.join("mm")).unwrap();
        g(&repo, &["init", "-q", "."]);
        fs::write(repo.join("mm/rmap.c"), "one\n").unwrap();
        fs::write(repo.join("mm/other.c"), "same\n").unwrap();
        g(&repo, &["add", "-A"]);
        g(&repo, &["commit", "-qm", "base"]);
        let base = g(&repo, &["rev-parse", "HEAD"]);
        fs::write(repo.join("mm/rmap.c"), "two\n").unwrap();
        g(&repo, &["commit", "-qam", "mm/rmap: two"]);
        fs::remove_file(repo.join("mm/other.c")).unwrap();
        fs::write(repo.join("mm/new.c"), "new\n").unwrap();
        g(&repo, &["add", "-A"]);
        g(&repo, &["commit", "-qm", "mm: three"]);

        let shas = resolve_range(&repo, &format!("{base}..HEAD")).unwrap();
        assert_eq!(shas.len(), 2);
        assert_eq!(resolve_range(&repo, "HEAD").unwrap().len(), 1);
        assert!(
            touched_files(&repo, &base).unwrap().is_empty(),
            "a root commit is the base"
        );
        assert_eq!(
            touched_files(&repo, &shas[1]).unwrap(),
            [PathBuf::from("mm/new.c"), PathBuf::from("mm/other.c")]
        );

        let src = tmp.path().join("src");
        prepare_checkout(&src, &repo).unwrap();
        checkout(&src, &base).unwrap();
        assert_eq!(fs::read_to_string(src.join("mm/rmap.c")).unwrap(), "one\n");
        let old = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        fs::File::options()
            .write(true)
            .open(src.join("mm/other.c"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        checkout(&src, &shas[0]).unwrap();
        assert_eq!(fs::read_to_string(src.join("mm/rmap.c")).unwrap(), "two\n");
        let mtime = fs::metadata(src.join("mm/other.c"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(mtime, old, "an unchanged file is not rewritten");
        checkout(&src, &shas[1]).unwrap();
        assert!(!src.join("mm/other.c").exists());
        assert!(src.join("mm/new.c").is_file());
        assert_eq!(g(&src, &["rev-parse", "HEAD"]), shas[1]);
    }

    #[test]
    fn a_removal_commit_compiles_the_files_that_used_what_it_removes() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        fs::create_dir_all(repo.join("include/linux")).unwrap();
        fs::create_dir_all(repo.join("drivers/a")).unwrap();
        g(&repo, &["init", "-q", "."]);
        fs::write(
            repo.join("include/linux/api.h"),
            "struct api_ops {\n\tvoid (*old_cb)(int);\n\tvoid (*new_cb)(int);\n};\n\
             void old_api(int x);\nvoid new_api(int x);\n",
        )
        .unwrap();
        fs::write(
            repo.join("drivers/a/user.c"),
            "void f(void) { old_api(1); }\n",
        )
        .unwrap();
        fs::write(
            repo.join("drivers/a/ops.c"),
            "static struct api_ops o = { .old_cb = g };\n",
        )
        .unwrap();
        // Mentions the member's name but not its structure.
        fs::write(repo.join("drivers/a/other.c"), "int old_cb;\n").unwrap();
        fs::write(
            repo.join("drivers/a/quiet.c"),
            "void q(void) { new_api(2); }\n",
        )
        .unwrap();
        g(&repo, &["add", "-A"]);
        g(&repo, &["commit", "-qm", "base"]);
        let base = g(&repo, &["rev-parse", "HEAD"]);
        fs::write(
            repo.join("drivers/a/user.c"),
            "void f(void) { new_api(1); }\n",
        )
        .unwrap();
        fs::write(
            repo.join("drivers/a/ops.c"),
            "static struct api_ops o = { .new_cb = g };\n",
        )
        .unwrap();
        g(&repo, &["commit", "-qam", "convert the users"]);
        fs::write(
            repo.join("include/linux/api.h"),
            "struct api_ops {\n\tvoid (*new_cb)(int);\n};\nvoid new_api(int x);\n",
        )
        .unwrap();
        g(&repo, &["commit", "-qam", "remove the old api"]);
        let shas = resolve_range(&repo, &format!("{base}..HEAD")).unwrap();
        let touched = touched_files(&repo, &shas[1]).unwrap();
        let former = former_users(&repo, Some(&base), &shas[1], &touched, &repo).unwrap();
        assert_eq!(
            former,
            [
                PathBuf::from("drivers/a/ops.c"),
                PathBuf::from("drivers/a/user.c")
            ]
        );
        // The conversion removes nothing: no former users.
        let touched = touched_files(&repo, &shas[0]).unwrap();
        assert!(
            former_users(&repo, Some(&base), &shas[0], &touched, &repo)
                .unwrap()
                .is_empty()
        );
    }
}
