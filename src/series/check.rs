//! `--check-build`: compile every commit before the series is published.
//!
//! The compile check itself lives in `verify` (another stage); the series
//! only needs "does this commit build for the files it touches?", so it
//! takes any [`BuildCheck`] and drives it over a private checkout.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::git::{Git, GitError};

/// One commit to compile: its files are checked out in `dir`.
#[derive(Debug, Clone)]
pub struct BuildRequest<'a> {
    /// A checkout of exactly this commit (a private, detached worktree).
    pub dir: &'a Path,
    /// 1-based position in the series.
    pub number: usize,
    pub commit: &'a str,
    pub subject: &'a str,
    /// The files the commit touches, relative to `dir`.
    pub files: &'a [String],
}

/// What a compile check says about one commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum BuildOutcome {
    /// Every touched file that can be compiled here compiled.
    Built {
        /// Files that could not be compile-tested (no config, other arch).
        not_tested: Vec<String>,
    },
    /// At least one file failed; `errors` are the compiler's messages.
    Failed { errors: Vec<String> },
}

/// A compile checker.  `Err` is for the checker itself failing (no
/// compiler, broken setup), which also stops the run.
pub trait BuildCheck {
    /// A short name for messages ("gcc -fsyntax-only", "fake").
    fn name(&self) -> String;
    fn check(&self, req: &BuildRequest<'_>) -> Result<BuildOutcome, String>;
}

/// The compile check of the `verify` stage (x86_64 `allmodconfig`, the
/// tree's own Kbuild, out of tree) as a series build check.
#[derive(Debug, Clone, Default)]
pub struct KbuildCheck {
    /// Where objects go; by default `verify`'s directory for the checkout
    /// (stable across runs, see [`Checkout`], so the configuration is
    /// reused).
    pub build_dir: Option<PathBuf>,
    /// `make -j`.
    pub jobs: u32,
}

impl BuildCheck for KbuildCheck {
    fn name(&self) -> String {
        "x86_64 allmodconfig compile check".to_string()
    }

    fn check(&self, req: &BuildRequest<'_>) -> Result<BuildOutcome, String> {
        use crate::verify::{Arch, CompileRequest, FileResult, compile_check, default_build_dir};
        let build_dir = self
            .build_dir
            .clone()
            .unwrap_or_else(|| default_build_dir(req.dir, Arch::X86_64));
        let files = req.files.iter().map(PathBuf::from).collect();
        let mut creq = CompileRequest::new(req.dir, build_dir, files);
        creq.jobs = self.jobs.max(1);
        let report = compile_check(&creq).map_err(|e| e.to_string())?;
        let (mut errors, mut not_tested) = (Vec::new(), Vec::new());
        for f in report.files {
            let name = f.file.display().to_string();
            match f.result {
                FileResult::Ok => {}
                // Paths relative to the tree: the checkout is temporary.
                FileResult::Failed { errors: e } => errors.push(format!(
                    "{name}:\n{}",
                    e.replace(&format!("{}/", req.dir.display()), "")
                )),
                FileResult::FailsAtBase { .. } => {
                    not_tested.push(format!("{name} (fails at the base commit too)"))
                }
                FileResult::NotCompileTested { reason } => {
                    not_tested.push(format!("{name} ({reason})"))
                }
            }
        }
        Ok(if errors.is_empty() {
            BuildOutcome::Built { not_tested }
        } else {
            BuildOutcome::Failed { errors }
        })
    }
}

/// A detached `git worktree` of the repository, removed on drop.  Moving
/// it from commit to commit only rewrites the files that differ, so after
/// the one full checkout each step is cheap.  It lives at a fixed place in
/// the repository's git directory, so that a build directory keyed by the
/// source path (as `verify`'s is) is reused from one run to the next.
pub struct Checkout {
    repo: PathBuf,
    dir: PathBuf,
}

impl Checkout {
    pub fn new(repo: &Path, commit: &str) -> Result<Checkout, GitError> {
        let common = Git::new(repo)
            .args(["rev-parse", "--git-common-dir"])
            .text()?;
        let dir = repo.join(common.trim()).join("kseries-series-checkout");
        if dir.exists() {
            // Left over by a run that was killed: start afresh.
            let _ = Git::new(repo)
                .args(["worktree", "remove", "--force"])
                .arg(&dir)
                .run();
            let _ = std::fs::remove_dir_all(&dir);
            let _ = Git::new(repo).args(["worktree", "prune"]).run();
        }
        Git::new(repo)
            .args(["worktree", "add", "-q", "--detach"])
            .arg(&dir)
            .arg(commit)
            .run()?;
        Ok(Checkout {
            repo: repo.to_path_buf(),
            dir,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn switch(&self, commit: &str) -> Result<(), GitError> {
        Git::new(&self.dir)
            .args(["checkout", "-q", "--detach", commit])
            .run()
            .map(drop)
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        let _ = Git::new(&self.repo)
            .args(["worktree", "remove", "--force"])
            .arg(&self.dir)
            .run();
        let _ = Git::new(&self.repo).args(["worktree", "prune"]).run();
    }
}
