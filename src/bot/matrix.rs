//! The GitHub Actions matrix of a series (`kseries bot matrix`): one job
//! per commit, check and architecture, so GitHub's runners do the builds
//! and boots and the bot only collects.  A commit's build check runs on
//! x86_64 and on every cross architecture whose `arch/<x>/` it touches;
//! its boot check on x86_64.  Each job names the Debian packages its
//! runner needs beyond the kernel build's own.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::check_runs::CheckKind;
use super::git::{self, GitError, is_hex_sha};
use crate::verify::cross;

/// GitHub's limit on the jobs one matrix may generate.
pub const MAX_JOBS: usize = 256;

/// The packages a boot job needs (QEMU, and cpio for the initramfs).
pub const BOOT_PACKAGES: &str = "qemu-system-x86 cpio";

/// One job of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixJob {
    pub sha: String,
    pub check: CheckKind,
    pub arch: String,
    /// Space-separated Debian packages to install first (may be empty).
    pub packages: String,
}

/// A matrix job runs one check for one architecture: `opts` keeps only
/// that part of `verify` (the workflow runs the others in their own jobs).
pub fn restrict_to_job(
    opts: &mut crate::verify::VerifyOptions,
    check: CheckKind,
    arch: &str,
) -> Result<(), MatrixError> {
    let cross = crate::verify::cross::CROSS_ARCHES;
    opts.cross = false;
    opts.boot = false;
    match check {
        CheckKind::Boot => {
            if arch != "x86_64" {
                return Err(MatrixError::BootArch(arch.to_string()));
            }
            opts.compile_check = false;
            opts.boot = true;
        }
        CheckKind::Build if arch == "x86_64" => {}
        CheckKind::Build => {
            if !cross.iter().any(|c| c.src_arch == arch) {
                return Err(MatrixError::UnknownArch {
                    arch: arch.to_string(),
                    known: cross
                        .iter()
                        .map(|c| c.src_arch)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            opts.compile_check = false;
            opts.cross = true;
            opts.cross_arches = Some(vec![arch.to_string()]);
        }
    }
    Ok(())
}

/// `strategy.matrix` of the workflow's verify job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matrix {
    pub include: Vec<MatrixJob>,
}

#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    #[error("{0:?} is not a commit range (A..B)")]
    BadRange(String),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(
        "{jobs} jobs are over GitHub's limit of {MAX_JOBS} per matrix: \
         split the series or drop a check in kseries.toml"
    )]
    TooManyJobs { jobs: usize },
    #[error("--check boot boots x86_64 only, not {0}")]
    BootArch(String),
    #[error("unknown architecture {arch:?} (known: x86_64, {known})")]
    UnknownArch { arch: String, known: String },
}

/// The jobs of one commit that touches `touched`.
pub fn jobs_for(sha: &str, touched: &[PathBuf], checks: &[CheckKind]) -> Vec<MatrixJob> {
    let job = |check, arch: &str, packages: &str| MatrixJob {
        sha: sha.to_string(),
        check,
        arch: arch.to_string(),
        packages: packages.to_string(),
    };
    let mut jobs = Vec::new();
    if checks.contains(&CheckKind::Build) {
        jobs.push(job(CheckKind::Build, "x86_64", ""));
        for arch in cross::CROSS_ARCHES {
            if touched
                .iter()
                .any(|f| cross::arch_of(f).is_some_and(|a| a.src_arch == arch.src_arch))
            {
                jobs.push(job(CheckKind::Build, arch.src_arch, arch.package));
            }
        }
    }
    if checks.contains(&CheckKind::Boot) {
        jobs.push(job(CheckKind::Boot, "x86_64", BOOT_PACKAGES));
    }
    jobs
}

/// The matrix of the commits in `range` (`A..B`, oldest first).
pub fn for_range(repo: &Path, range: &str, checks: &[CheckKind]) -> Result<Matrix, MatrixError> {
    let valid = range.split_once("..").is_some_and(|(a, b)| {
        let rev = |r: &str| {
            !r.is_empty()
                && !r.starts_with('-')
                && r.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"/._-~^@".contains(&c))
        };
        rev(a) && rev(b)
    });
    if !valid {
        return Err(MatrixError::BadRange(range.to_string()));
    }
    let shas = git::git(repo, &["rev-list", "--reverse", "--end-of-options", range])?;
    let mut include = Vec::new();
    for sha in shas.lines().filter(|l| is_hex_sha(l)) {
        let touched = git::git(
            repo,
            &[
                "diff-tree",
                "--no-commit-id",
                "--name-only",
                "-r",
                "--root",
                sha,
            ],
        )?;
        let touched: Vec<PathBuf> = touched.lines().map(PathBuf::from).collect();
        include.extend(jobs_for(sha, &touched, checks));
    }
    if include.len() > MAX_JOBS {
        return Err(MatrixError::TooManyJobs {
            jobs: include.len(),
        });
    }
    Ok(Matrix { include })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One matrix job verifies only its check on its architecture.
    #[test]
    fn a_job_keeps_only_its_check_and_architecture() {
        let fresh = || crate::verify::VerifyOptions::new("/r", "a..b");
        let mut o = fresh();
        restrict_to_job(&mut o, CheckKind::Build, "x86_64").unwrap();
        assert!(o.compile_check && !o.cross && !o.boot);
        let mut o = fresh();
        restrict_to_job(&mut o, CheckKind::Build, "arm").unwrap();
        assert!(!o.compile_check && o.cross && !o.boot);
        assert_eq!(o.cross_arches, Some(vec!["arm".to_string()]));
        let mut o = fresh();
        restrict_to_job(&mut o, CheckKind::Boot, "x86_64").unwrap();
        assert!(!o.compile_check && !o.cross && o.boot);
        let err = restrict_to_job(&mut fresh(), CheckKind::Boot, "arm").unwrap_err();
        assert_eq!(err.to_string(), "--check boot boots x86_64 only, not arm");
        let err = restrict_to_job(&mut fresh(), CheckKind::Build, "vax").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown architecture \"vax\" (known: x86_64, arm"),
            "{err}"
        );
    }

    #[test]
    fn a_commit_builds_on_x86_64_and_the_arches_it_touches_and_boots_once() {
        let touched = [
            PathBuf::from("arch/arm64/kvm/mmu.c"),
            PathBuf::from("arch/x86/kvm/x86.c"),
            PathBuf::from("mm/rmap.c"),
        ];
        let jobs = jobs_for("abc", &touched, &CheckKind::ALL);
        let got: Vec<(CheckKind, &str, &str)> = jobs
            .iter()
            .map(|j| (j.check, j.arch.as_str(), j.packages.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (CheckKind::Build, "x86_64", ""),
                (CheckKind::Build, "arm64", "gcc-aarch64-linux-gnu"),
                (CheckKind::Boot, "x86_64", BOOT_PACKAGES),
            ]
        );
        let only_build = jobs_for("abc", &touched[2..], &[CheckKind::Build]);
        assert_eq!(only_build.len(), 1);
        assert!(jobs_for("abc", &touched, &[]).is_empty());
    }
}
