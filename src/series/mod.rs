//! Cutting a migration plan into a bisectable patch series.
//!
//! [`make_series`] turns a [`Plan`] into commits on a new branch (built
//! from trees with git2, so the checked-out branch, the index and the
//! working tree are never touched), optionally compiles every commit,
//! and writes the series with `git format-patch` plus what a mailing list
//! needs: the evidence for review below each patch's `---`, To/Cc from
//! the tree's get_maintainer.pl (or MAINTAINERS), stable Message-Ids and
//! threading, and a cover letter the user can edit (kept in the branch
//! description) with b4's `change-id:`.

pub mod check;
pub mod checkpatch;
mod commits;
mod cover;
mod format;
pub mod maintainers;
pub mod prefix;
pub mod recipients;
pub mod text;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use check::{BuildCheck, BuildOutcome, BuildRequest, KbuildCheck};
pub use checkpatch::Checkpatch;
pub use prefix::PrefixSource;
pub use recipients::MaintainerSource;

use crate::rewrite::plan::{ApplyError, Plan, Stage};

/// The default branch the series is built on.
pub const DEFAULT_BRANCH: &str = "kseries/invalidate-page";

/// The branch a recipe's series goes to unless told: `kseries/ID`.
pub fn default_branch(recipe: &str) -> String {
    format!("kseries/{recipe}")
}

/// Everything `kseries series` can be told.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeriesOptions {
    /// Branch to create on top of the tree's HEAD.
    pub branch: String,
    /// Replace the branch if it exists (never the checked-out one).
    pub force: bool,
    /// Where to write `0000-cover-letter.patch`, `0001-...` (for version
    /// N > 1, `vN-0000-cover-letter.patch` ...).
    pub output_dir: Option<PathBuf>,
    /// Also write every message, cover first, to this mbox file.
    pub mbox: Option<PathBuf>,
    /// `-v N`: the version of the series (1 for the first posting).
    pub reroll_count: u32,
    /// The branch of version N-1, for "Changes since" and the range-diff.
    pub previous_branch: Option<String>,
    /// Notes for the "Changes since vN-1" section, one item each.
    pub changes: Vec<String>,
    /// `Reviewed-by:` trailers to add to every patch.
    pub reviewed_by: Vec<String>,
    /// `Acked-by:` trailers to add to every patch.
    pub acked_by: Vec<String>,
    /// The cover letter's title (after `[PATCH 00/NN]`); by default the
    /// first line of the user's cover letter, else the recipe's.
    pub title: Option<String>,
    /// The cover letter's text (title line, blank line, body) from a
    /// file; it is also kept as the branch description.
    pub cover_letter: Option<PathBuf>,
    /// `--subject-prefix` (git's default `PATCH`).
    pub subject_prefix: String,
    /// `--rfc`: `RFC` before the subject prefix, as git does.
    pub rfc: bool,
    /// Extra `To:` of every patch and the cover letter.
    pub to: Vec<String>,
    /// Extra `Cc:` of every patch and the cover letter.
    pub cc: Vec<String>,
    /// git send-email's `--to-cmd`: run as `CMD PATCH` in the tree for
    /// every patch, each line of output an address for To.
    pub to_cmd: Option<String>,
    /// The same for Cc.
    pub cc_cmd: Option<String>,
    /// Where the maintainers and lists come from.
    pub maintainers: MaintainerSource,
    /// Also put the people a patch goes to in `Cc:` trailers of its
    /// commit message (by default they are only in the mail headers, as
    /// b4 does).
    pub cc_trailers: bool,
    /// Run the tree's `checkpatch.pl --strict` on every patch.
    pub checkpatch: bool,
    /// b4 change-id to use; by default the previous version's (recorded in
    /// `branch.<previous>.kseries-change-id`), else a new one.
    pub change_id: Option<String>,
    /// Author and committer time (seconds since the epoch, UTC) instead of
    /// now: same plan, same options, same time give the same commits.
    pub date: Option<i64>,
}

impl Default for SeriesOptions {
    fn default() -> Self {
        SeriesOptions {
            branch: DEFAULT_BRANCH.to_string(),
            force: false,
            output_dir: None,
            mbox: None,
            reroll_count: 1,
            previous_branch: None,
            changes: Vec::new(),
            reviewed_by: Vec::new(),
            acked_by: Vec::new(),
            title: None,
            cover_letter: None,
            subject_prefix: "PATCH".to_string(),
            rfc: false,
            to: Vec::new(),
            cc: Vec::new(),
            to_cmd: None,
            cc_cmd: None,
            maintainers: MaintainerSource::Auto,
            cc_trailers: false,
            checkpatch: false,
            change_id: None,
            date: None,
        }
    }
}

/// What earlier stages verified, filled by the CLI, shown in the cover
/// letter's "Verified:" list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub items: Vec<VerificationItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationItem {
    /// The tool or stage (`scan`, `check`, `compile`), for programs.
    pub tool: String,
    /// Its result as a reviewer reads it, one short sentence ("all 137
    /// occurrences of invalidate_page are accounted for"): the cover
    /// letter shows this alone.
    pub outcome: String,
}

/// One generated patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchReport {
    /// 1-based position in the series.
    pub number: usize,
    pub commit: String,
    pub subject: String,
    pub prefix_source: PrefixSource,
    pub files: Vec<String>,
    /// Maintainers and reviewers (and `--to`, `--to-cmd`).
    pub to: Vec<String>,
    /// Mailing lists (and `--cc`, `--cc-cmd`).
    pub cc: Vec<String>,
    /// It goes to mailing lists only: the maintainers name no person for
    /// it (and no --to or --to-cmd did), so nobody in particular is asked
    /// to review it.
    pub lists_only: bool,
    pub message_id: String,
    /// The patch file (in the output directory), when one was asked for.
    pub file: Option<PathBuf>,
    /// What `--check-build` said, when it ran.
    pub build: Option<BuildOutcome>,
    /// What `checkpatch.pl --strict` said, with `--check`.
    pub checkpatch: Option<Checkpatch>,
}

/// The cover letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverReport {
    pub subject: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub message_id: String,
    pub file: Option<PathBuf>,
    /// Where its text came from.
    pub source: CoverSource,
}

/// Where the cover letter's title and blurb came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CoverSource {
    /// Written by kseries (and saved as the branch description).
    Generated,
    /// The branch description, edited by the user since kseries wrote it
    /// (`git branch --edit-description`).
    BranchDescription,
    /// `--cover-letter FILE`.
    File,
}

/// Wall time of the parts, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// Making the commits, everything included except builds.
    pub commits_ms: u128,
    /// Of which: reading MAINTAINERS.
    pub maintainers_ms: u128,
    /// Of which: choosing subject prefixes (`git log` of the files).
    pub prefixes_ms: u128,
    pub build_check_ms: u128,
    pub format_ms: u128,
}

/// The result of [`make_series`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesReport {
    pub branch: String,
    /// The commit the series is built on.
    pub base: String,
    /// The last commit of the series (the branch tip).
    pub tip: String,
    pub version: u32,
    pub change_id: String,
    pub cover: CoverReport,
    pub patches: Vec<PatchReport>,
    /// Where the patch files were written (`--output-dir`).
    pub output_dir: Option<PathBuf>,
    pub mbox: Option<PathBuf>,
    /// What chose the maintainers (`scripts/get_maintainer.pl`, ...).
    pub maintainers: String,
    /// Things the user should know (a subject shortened, ...).
    pub warnings: Vec<String>,
    pub timings: Timings,
}

#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    #[error("the plan has no change units: nothing to commit")]
    EmptyPlan,
    #[error(
        "the plan is not in bisectable order: unit {index} ({subsystem}, stage {stage}) comes after a unit of stage {previous}; the recipe's stages must come in the order {order}"
    )]
    Unsorted {
        index: usize,
        subsystem: String,
        stage: Stage,
        previous: Stage,
        order: String,
    },
    #[error(
        "the plan's unit {index} ({subsystem}) has stage `{stage}`, which recipe `{recipe}` does not have (its stages: {order})"
    )]
    UnknownStage {
        index: usize,
        subsystem: String,
        stage: Stage,
        recipe: String,
        order: String,
    },
    #[error(
        "not a git repository: {} (series makes commits: give the top of a kernel git tree, or run `git init && git add -A && git commit -m base` there first)",
        tree.display()
    )]
    NotARepo { tree: PathBuf },
    #[error(
        "{} has no MAINTAINERS file: not the top of a kernel tree (give the directory that holds MAINTAINERS, or --maintainers none with --to)",
        .0.display()
    )]
    NoMaintainers(PathBuf),
    #[error("{} has no {script}: not the top of a kernel tree, or a tree without the kernel's scripts", tree.display())]
    NoScript { tree: PathBuf, script: &'static str },
    #[error("unknown recipe `{0}` in the plan")]
    UnknownRecipe(String),
    #[error(
        "git user.name and user.email must be set for {} (Signed-off-by needs them): git config user.name \"Your Name\"; git config user.email you@example.org",
        tree.display()
    )]
    NoIdentity { tree: PathBuf },
    #[error("branch `{0}` already exists; use --force to replace it, or --branch NAME")]
    BranchExists(String),
    #[error(
        "branch `{0}` is checked out; kseries never moves the checked-out branch, use --branch NAME"
    )]
    BranchCheckedOut(String),
    #[error("previous branch `{0}` not found")]
    NoPreviousBranch(String),
    #[error("unit {unit} ({subsystem}): {path} is not a file in the tree")]
    MissingFile {
        unit: usize,
        subsystem: String,
        path: String,
    },
    #[error("unit {unit} ({subsystem}): {source}")]
    Apply {
        unit: usize,
        subsystem: String,
        #[source]
        source: ApplyError,
    },
    #[error("unit {unit} ({subsystem}) changes nothing")]
    EmptyUnit { unit: usize, subsystem: String },
    #[error(
        "patch {number}, commit {} (\"{subject}\"), does not build; stopping, no branch was created:\n{}",
        &commit[..commit.len().min(12)],
        errors.join("\n")
    )]
    BuildFailed {
        number: usize,
        commit: String,
        subject: String,
        errors: Vec<String>,
    },
    #[error("build check of patch {number}, commit {}, could not run: {message}", &commit[..commit.len().min(12)])]
    BuildCheckBroken {
        number: usize,
        commit: String,
        message: String,
    },
    #[error("{0} exists and holds patches of a series; use --force to overwrite them")]
    OutputNotEmpty(PathBuf),
    #[error("MAINTAINERS: {0}")]
    Maintainers(#[from] maintainers::MaintainersError),
    #[error("template: {0}")]
    Template(#[from] minijinja::Error),
    #[error("git: {}", .0.message())]
    Git(#[from] git2::Error),
    #[error("{0}")]
    Command(String),
    #[error("{0}")]
    GitCommand(#[from] crate::git::GitError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Checks that the units come in the recipe's bisectable stage order.
pub fn check_order(plan: &Plan) -> Result<(), SeriesError> {
    if plan.units.is_empty() {
        return Err(SeriesError::EmptyPlan);
    }
    let recipe = crate::recipe::by_id(&plan.recipe)
        .ok_or_else(|| SeriesError::UnknownRecipe(plan.recipe.clone()))?;
    let order = recipe
        .stages
        .iter()
        .map(|s| s.name)
        .collect::<Vec<_>>()
        .join(", ");
    let mut previous: Option<(usize, &Stage)> = None;
    for (i, unit) in plan.units.iter().enumerate() {
        let Some((rank, _)) = recipe.stage(unit.stage.as_str()) else {
            return Err(SeriesError::UnknownStage {
                index: i + 1,
                subsystem: unit.subsystem.clone(),
                stage: unit.stage.clone(),
                recipe: recipe.id.to_string(),
                order,
            });
        };
        if let Some((before, stage)) = previous
            && rank < before
        {
            return Err(SeriesError::Unsorted {
                index: i + 1,
                subsystem: unit.subsystem.clone(),
                stage: unit.stage.clone(),
                previous: stage.clone(),
                order,
            });
        }
        previous = Some((rank, &unit.stage));
    }
    Ok(())
}

/// Builds the series for `plan` in the git repository `tree` (see the
/// module documentation).  With a `checker`, every commit is compiled in a
/// private checkout before the branch is created; the first that fails
/// stops the run with [`SeriesError::BuildFailed`].
pub fn make_series(
    tree: &Path,
    plan: &Plan,
    opts: &SeriesOptions,
    verification: &Verification,
    checker: Option<&dyn BuildCheck>,
) -> Result<SeriesReport, SeriesError> {
    check_order(plan)?;
    let built = commits::build(tree, plan, opts, checker)?;
    format::write(tree, plan, opts, verification, built)
}
