//! `--check-build`: compile every commit before the series is published.
//!
//! The compile check itself lives in `verify` (another stage); the series
//! only needs "does this commit build for the files it touches?", so it
//! takes any [`BuildCheck`] and drives it over a private checkout.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

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

/// A detached `git worktree` of the repository, removed on drop.  Moving
/// it from commit to commit only rewrites the files that differ, so after
/// the one full checkout each step is cheap.
pub struct Checkout {
    repo: PathBuf,
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Checkout {
    pub fn new(repo: &Path, commit: &str) -> Result<Checkout, String> {
        let tmp = tempfile::Builder::new()
            .prefix("kseries-build-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let dir = tmp.path().join("wt");
        git(
            repo,
            &["worktree", "add", "-q", "--detach", path_str(&dir)?, commit],
        )?;
        Ok(Checkout {
            repo: repo.to_path_buf(),
            _tmp: tmp,
            dir,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn switch(&self, commit: &str) -> Result<(), String> {
        git(&self.dir, &["checkout", "-q", "--detach", commit]).map(drop)
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if let Ok(d) = path_str(&self.dir) {
            let _ = git(&self.repo, &["worktree", "remove", "--force", d]);
        }
        let _ = git(&self.repo, &["worktree", "prune"]);
    }
}

fn path_str(p: &Path) -> Result<&str, String> {
    p.to_str()
        .ok_or_else(|| format!("{}: not UTF-8", p.display()))
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| format!("running git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
