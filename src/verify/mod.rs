//! Verification of a patched kernel tree: does each touched file still
//! compile (and, later, does the kernel still boot)?
//!
//! [`compile_check`] is the entry point of the compile check: it builds the
//! given files of a kernel tree with the tree's own Kbuild, out of tree, and
//! reports per file `Ok`, `Failed`, `FailsAtBase` or `NotCompileTested`.
//! It never reports a file that was not compiled as passing.

mod diagnostics;
pub mod former;
mod kbuild;
mod targets;

pub mod compile;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use compile::{
    Baseline, CompileReport, CompileRequest, ConfigReport, FileReport, FileResult, compile_check,
};

/// Target architecture of a compile check.
///
/// Only x86_64 for now: it is the host, so no cross compiler is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Arch {
    X86_64,
}

impl Arch {
    /// The value of Kbuild's `ARCH=` (selects 64-bit on x86).
    pub fn make_arch(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
        }
    }

    /// The directory under `arch/` that holds this architecture's code.
    pub fn src_arch(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86",
        }
    }
}

/// Everything that can stop a compile check as a whole (as opposed to one
/// file failing to compile, which is a [`FileResult`]).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0} is not a kernel source tree (no top-level Makefile or Kbuild)")]
    NotAKernelTree(PathBuf),
    #[error(
        "source tree {0} has a .config or include/config: Kbuild refuses out-of-tree \
         builds of an unclean tree (run `make mrproper` there)"
    )]
    SourceTreeNotClean(PathBuf),
    #[error(
        "build directory {0} is in use by something other than kseries \
         (not empty, no kseries stamp); refusing to wipe it"
    )]
    ForeignBuildDir(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("running `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed; last lines of its output:\n{tail}")]
    Make { command: String, tail: String },
    #[error("{0}")]
    Git(#[from] crate::git::GitError),
    #[error("{0} is not a path relative to the source tree")]
    BadPath(PathBuf),
    /// `verify` without a range: the series branch has no merge base
    /// with HEAD (no such branch, or unrelated histories).
    #[error("cannot find where {branch} forks from HEAD: {stderr} (give --range A..B)")]
    NoForkPoint { branch: String, stderr: String },
    #[error("the baseline tree needs its own build directory, not {0}")]
    BaselineSharesBuildDir(PathBuf),
}

impl VerifyError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        VerifyError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The default build directory for `tree` and `arch`:
/// `$XDG_CACHE_HOME/kseries/build/<tree name>-<hash of its absolute path>-<arch>`
/// (or `$HOME/.cache/...`).  Keyed by the tree's path so that two trees
/// never share one; never inside the source tree or the project.
pub fn default_build_dir(tree: &Path, arch: Arch) -> PathBuf {
    let tree = std::fs::canonicalize(tree).unwrap_or_else(|_| tree.to_path_buf());
    let name = tree.file_name().and_then(|n| n.to_str()).unwrap_or("linux");
    let hash = kbuild::fnv1a(tree.as_os_str().as_encoded_bytes());
    cache_home()
        .join("kseries")
        .join("build")
        .join(format!("{name}-{hash:016x}-{}", arch.make_arch()))
}

fn cache_home() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
}

pub mod boot;
pub mod console;
pub mod initramfs;

pub use boot::{BootReport, BootTest, KernelBuild, QemuOptions, boot_test};
pub use console::{AuditVerdict, ConsoleVerdict, ProblemKind, parse_console};
pub mod cross;
pub mod report;
pub mod steps;

pub use report::{junit_xml, render_table};
pub use steps::{
    FirstFailure, StepReport, StepStatus, VerifyOptions, VerifyReport, branch_range,
    default_work_dir, verify_series,
};
