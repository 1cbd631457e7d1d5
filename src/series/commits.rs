//! The commits of the series, built from trees with git2.
//!
//! Measured on the 4.12 tree (see benches/series.rs): writing blobs and
//! trees with git2 takes milliseconds per commit, while a separate `git
//! worktree` costs a full checkout of ~60k files (~6 s) before the first
//! commit.  And git2 needs no working tree at all, so the user's checkout,
//! index and branch are untouched by construction.

use std::path::Path;
use std::time::Instant;

use git2::build::TreeUpdateBuilder;
use git2::{BranchType, DiffFormat, FileMode, Oid, Repository, Signature, Time};
use minijinja::{Environment, context};

use super::check::{BuildCheck, BuildOutcome, BuildRequest, Checkout};
use super::maintainers::Recipients;
use super::prefix::{PrefixSource, Prefixer};
use super::recipients::Finder;
use super::text;
use super::{SeriesError, SeriesOptions};
use crate::recipe::Recipe;
use crate::rewrite::plan::{ChangeUnit, Plan};

/// The templates, compiled in so an installed binary needs no files.
pub(crate) fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.add_filter("wrap", |s: String| text::wrap(&s));
    env.add_filter("bullet", |s: String| text::bullet(&s));
    for (name, source) in [
        ("commit", include_str!("../../templates/commit.txt.j2")),
        ("notes", include_str!("../../templates/notes.txt.j2")),
        ("cover", include_str!("../../templates/cover.txt.j2")),
        (
            "cover-extra",
            include_str!("../../templates/cover-extra.txt.j2"),
        ),
    ] {
        env.add_template(name, source).expect("template parses");
    }
    env
}

/// One commit made for one unit.
#[derive(Debug, Clone)]
pub(crate) struct BuiltCommit {
    pub sha: String,
    pub subject: String,
    pub prefix_source: PrefixSource,
    pub files: Vec<String>,
    /// Who its `Cc:` trailers name (with `--cc-trailers` only).
    pub trailer_recipients: Option<Recipients>,
    pub build: Option<BuildOutcome>,
    /// What the build check said, in a sentence for the notes.
    pub build_note: Option<String>,
}

/// The commits, on their new branch.
pub(crate) struct Built {
    pub repo: Repository,
    pub base: String,
    pub tip: String,
    pub email: String,
    pub time: i64,
    pub commits: Vec<BuiltCommit>,
    pub recipe: Recipe,
    pub finder: Finder,
    pub warnings: Vec<String>,
    pub commits_ms: u128,
    pub maintainers_ms: u128,
    pub prefixes_ms: u128,
    pub build_check_ms: u128,
}

/// The user's identity from the tree's git config (local, global, system).
fn identity(repo: &Repository, tree: &Path) -> Result<(String, String), SeriesError> {
    let cfg = repo.config()?.snapshot()?;
    match (cfg.get_string("user.name"), cfg.get_string("user.email")) {
        (Ok(n), Ok(e)) if !n.trim().is_empty() && !e.trim().is_empty() => Ok((n, e)),
        _ => Err(SeriesError::NoIdentity {
            tree: tree.to_path_buf(),
        }),
    }
}

/// Refuses an existing branch unless forced, and the checked-out branch
/// always (moving it would leave the working tree out of step).
fn check_branch(repo: &Repository, opts: &SeriesOptions) -> Result<(), SeriesError> {
    if let Ok(b) = repo.find_branch(&opts.branch, BranchType::Local) {
        if b.is_head() {
            return Err(SeriesError::BranchCheckedOut(opts.branch.clone()));
        }
        if !opts.force {
            return Err(SeriesError::BranchExists(opts.branch.clone()));
        }
    }
    Ok(())
}

/// The unified diff between two trees, as git prints it.
fn diff_text(repo: &Repository, old: &git2::Tree, new: &git2::Tree) -> Result<String, git2::Error> {
    let diff = repo.diff_tree_to_tree(Some(old), Some(new), None)?;
    let mut out = String::new();
    diff.print(DiffFormat::Patch, |_, _, line| {
        if matches!(line.origin(), '+' | '-' | ' ') {
            out.push(line.origin());
        }
        out.push_str(&String::from_utf8_lossy(line.content()));
        true
    })?;
    Ok(out)
}

/// Makes one commit per plan unit on top of HEAD (no branch yet: see
/// [`create_branch`]), compiling each with `checker` when given.
pub(crate) fn build(
    tree: &Path,
    plan: &Plan,
    opts: &SeriesOptions,
    checker: Option<&dyn BuildCheck>,
) -> Result<Built, SeriesError> {
    let started = Instant::now();
    let mut builder = Builder::open(tree, plan, opts, checker)?;
    let base = builder.repo.head()?.peel_to_commit()?.id();
    let mut parent = base;
    let mut commits = Vec::new();
    for (i, unit) in plan.units.iter().enumerate() {
        let commit = builder.commit_unit(i + 1, unit, parent, base)?;
        parent = Oid::from_str(&commit.sha)?;
        commits.push(commit);
    }
    Ok(builder.finish(base, parent, commits, started))
}

/// What every commit of one run shares, and the time spent so far.
struct Builder<'a> {
    tree: &'a Path,
    opts: &'a SeriesOptions,
    checker: Option<&'a dyn BuildCheck>,
    repo: Repository,
    recipe: Recipe,
    name: String,
    email: String,
    /// Seconds since the epoch: every commit's author and committer date.
    time: i64,
    /// Author and committer of every commit.
    sig: Signature<'static>,
    finder: Finder,
    prefixer: Prefixer,
    env: Environment<'static>,
    /// The private checkout the build check compiles in, made on first use.
    checkout: Option<Checkout>,
    warnings: Vec<String>,
    maintainers_ms: u128,
    prefixes_ms: u128,
    build_check_ms: u128,
}

impl<'a> Builder<'a> {
    /// Everything that can be refused is refused here, before any commit
    /// is made: a failed run leaves nothing.
    fn open(
        tree: &'a Path,
        plan: &Plan,
        opts: &'a SeriesOptions,
        checker: Option<&'a dyn BuildCheck>,
    ) -> Result<Builder<'a>, SeriesError> {
        let repo = Repository::open(tree).map_err(|_| SeriesError::NotARepo {
            tree: tree.to_path_buf(),
        })?;
        let recipe = crate::recipe::by_id(&plan.recipe)
            .ok_or_else(|| SeriesError::UnknownRecipe(plan.recipe.clone()))?;
        let (name, email) = identity(&repo, tree)?;
        check_branch(&repo, opts)?;
        super::format::check_output_dir(opts)?;
        if let Some(prev) = &opts.previous_branch
            && repo.revparse_single(prev).is_err()
        {
            return Err(SeriesError::NoPreviousBranch(prev.clone()));
        }
        let t = Instant::now();
        let finder = Finder::new(
            tree,
            opts.maintainers,
            opts.to_cmd.clone(),
            opts.cc_cmd.clone(),
        )?;
        let maintainers_ms = t.elapsed().as_millis();
        let time = opts.date.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
        let sig = Signature::new(&name, &email, &Time::new(time, 0))?;
        Ok(Builder {
            tree,
            opts,
            checker,
            repo,
            recipe,
            name,
            email,
            time,
            sig,
            finder,
            prefixer: Prefixer::new(tree),
            env: templates(),
            checkout: None,
            warnings: Vec::new(),
            maintainers_ms,
            prefixes_ms: 0,
            build_check_ms: 0,
        })
    }

    /// The commit of unit `number` on top of `parent`: its tree, subject,
    /// message and trailers, then the build check.
    fn commit_unit(
        &mut self,
        number: usize,
        unit: &ChangeUnit,
        parent: Oid,
        base: Oid,
    ) -> Result<BuiltCommit, SeriesError> {
        let (new_tree, files, diff) = self.unit_tree(number, unit, parent)?;
        let (subject, prefix_source) = self.subject(number, unit, &files);
        let description = if unit.description.is_empty() {
            vec![fallback_description(&self.recipe, unit)]
        } else {
            unit.description.clone()
        };
        let trailer_recipients = self.trailer_recipients(&subject, &description, &diff)?;
        let trailers = trailers(
            trailer_recipients.as_ref(),
            self.opts,
            &self.name,
            &self.email,
        );
        let body = self.render(&description, &trailers)?;
        let commit_id = make_commit(
            &self.repo,
            &self.sig,
            &subject,
            &body,
            &self.repo.find_tree(new_tree)?,
            &self.repo.find_commit(parent)?,
        )?;
        let sha = commit_id.to_string();
        let (build, build_note) = self.check_build(number, &sha, base, &subject, &files)?;
        Ok(BuiltCommit {
            sha,
            subject,
            prefix_source,
            files,
            trailer_recipients,
            build,
            build_note,
        })
    }

    /// The tree after unit `number`'s edits on `parent`'s, the files it
    /// touches (each once, in the plan's order) and the diff.
    fn unit_tree(
        &self,
        number: usize,
        unit: &ChangeUnit,
        parent: Oid,
    ) -> Result<(Oid, Vec<String>, String), SeriesError> {
        let repo = &self.repo;
        let old_tree = repo.find_commit(parent)?.tree()?;
        let mut update = TreeUpdateBuilder::new();
        let mut files = Vec::new();
        for fe in &unit.files {
            let missing = || SeriesError::MissingFile {
                unit: number,
                subsystem: unit.subsystem.clone(),
                path: fe.path.clone(),
            };
            let entry = old_tree
                .get_path(Path::new(&fe.path))
                .map_err(|_| missing())?;
            let blob = repo.find_blob(entry.id()).map_err(|_| missing())?;
            let new = fe
                .apply(blob.content())
                .map_err(|source| SeriesError::Apply {
                    unit: number,
                    subsystem: unit.subsystem.clone(),
                    source,
                })?;
            let mode = if entry.filemode() == i32::from(FileMode::BlobExecutable) {
                FileMode::BlobExecutable
            } else {
                FileMode::Blob
            };
            update.upsert(&fe.path, repo.blob(&new)?, mode);
            if !files.contains(&fe.path) {
                files.push(fe.path.clone());
            }
        }
        let new_tree = repo.find_tree(update.create_updated(repo, &old_tree)?)?;
        if new_tree.id() == old_tree.id() {
            return Err(SeriesError::EmptyUnit {
                unit: number,
                subsystem: unit.subsystem.clone(),
            });
        }
        let diff = diff_text(repo, &old_tree, &new_tree)?;
        Ok((new_tree.id(), files, diff))
    }

    /// The subject in the touched files' convention, fitted to 75
    /// columns (a warning when it had to be shortened), and where its
    /// prefix came from.
    fn subject(
        &mut self,
        number: usize,
        unit: &ChangeUnit,
        files: &[String],
    ) -> (String, PrefixSource) {
        let file_refs: Vec<&str> = files.iter().map(String::as_str).collect();
        let t = Instant::now();
        let (prefix, prefix_source) = self.prefixer.for_files(&file_refs, &unit.subsystem);
        self.prefixes_ms += t.elapsed().as_millis();
        let fitted = text::fit_subject(&prefix, &unit.summary, text::WIDTH);
        if fitted.cut_mid_word {
            self.warnings.push(format!(
                "patch {number}: the summary has no word boundary that fits 75 columns; cut inside a word: {}",
                fitted.subject
            ));
        } else if fitted.shortened {
            self.warnings.push(format!(
                "patch {number}: subject shortened to fit 75 columns: {}",
                fitted.subject
            ));
        }
        (fitted.subject, prefix_source)
    }

    /// The commit message body: the description and the trailers.
    fn render(&self, description: &[String], trailers: &[String]) -> Result<String, SeriesError> {
        Ok(self.env.get_template("commit")?.render(context! {
            description => description,
            trailers => trailers,
        })?)
    }

    /// With `--cc-trailers`, the recipients of the patch as
    /// get_maintainer.pl would read it: K: keywords may match the message
    /// as well as the diff.
    fn trailer_recipients(
        &mut self,
        subject: &str,
        description: &[String],
        diff: &str,
    ) -> Result<Option<Recipients>, SeriesError> {
        if !self.opts.cc_trailers {
            return Ok(None);
        }
        let t = Instant::now();
        let draft = format!(
            "Subject: {subject}\n\n{}\n---\n{diff}",
            self.render(description, &[])?
        );
        let r = self.finder.maintainers_of_text(&draft)?;
        self.maintainers_ms += t.elapsed().as_millis();
        Ok(Some(r))
    }

    /// Compiles commit `sha` with the checker, if there is one, in the
    /// private checkout (made from `base` on first use): its outcome and
    /// the sentence for the notes.  A commit that does not build stops
    /// the run.
    fn check_build(
        &mut self,
        number: usize,
        sha: &str,
        base: Oid,
        subject: &str,
        files: &[String],
    ) -> Result<(Option<BuildOutcome>, Option<String>), SeriesError> {
        let Some(checker) = self.checker else {
            return Ok((None, None));
        };
        let t = Instant::now();
        let co = match &self.checkout {
            Some(c) => c,
            None => self
                .checkout
                .insert(Checkout::new(self.tree, &base.to_string())?),
        };
        co.switch(sha)?;
        let outcome = checker
            .check(&BuildRequest {
                dir: co.dir(),
                number,
                commit: sha,
                subject,
                files,
            })
            .map_err(|message| SeriesError::BuildCheckBroken {
                number,
                commit: sha.to_string(),
                message,
            })?;
        self.build_check_ms += t.elapsed().as_millis();
        let note = match &outcome {
            BuildOutcome::Failed { errors } => {
                return Err(SeriesError::BuildFailed {
                    number,
                    commit: sha.to_string(),
                    subject: subject.to_string(),
                    errors: errors.clone(),
                });
            }
            // Tool output: it goes below the patch's `---`, not into the
            // commit.
            BuildOutcome::Built { not_tested } => build_sentence(&checker.name(), not_tested),
        };
        Ok((Some(outcome), Some(note)))
    }

    /// The commits, for the format step.  The branch appears only once the
    /// patches are written too (`create_branch`, called by that step).
    fn finish(self, base: Oid, tip: Oid, commits: Vec<BuiltCommit>, started: Instant) -> Built {
        // The private checkout goes before the run is timed.
        drop(self.checkout);
        Built {
            base: base.to_string(),
            tip: tip.to_string(),
            repo: self.repo,
            email: self.email,
            time: self.time,
            commits,
            recipe: self.recipe,
            finder: self.finder,
            warnings: self.warnings,
            commits_ms: started.elapsed().as_millis() - self.build_check_ms,
            maintainers_ms: self.maintainers_ms,
            prefixes_ms: self.prefixes_ms,
            build_check_ms: self.build_check_ms,
        }
    }
}

/// What creating the branch replaced, to put it back if a later step
/// fails.
pub(crate) struct BranchUndo {
    name: String,
    previous: Option<Oid>,
}

/// Points the series branch at `tip` (the last step of a run, with the
/// change-id and the files): replacing an existing branch only with
/// `--force`, and never the checked-out one.
pub(crate) fn create_branch(
    repo: &Repository,
    opts: &SeriesOptions,
    tip: &str,
) -> Result<BranchUndo, SeriesError> {
    check_branch(repo, opts)?;
    let previous = repo
        .find_branch(&opts.branch, BranchType::Local)
        .ok()
        .and_then(|b| b.get().target());
    let tip = repo.find_commit(Oid::from_str(tip)?)?;
    repo.branch(&opts.branch, &tip, opts.force)?;
    Ok(BranchUndo {
        name: opts.branch.clone(),
        previous,
    })
}

impl BranchUndo {
    /// The branch as it was before: removed, or back at its old commit.
    pub(crate) fn undo(self, repo: &Repository) {
        match self.previous {
            Some(old) => {
                let _ = repo.reference(
                    &format!("refs/heads/{}", self.name),
                    old,
                    true,
                    "kseries series: put back after a failure",
                );
            }
            None => {
                if let Ok(mut b) = repo.find_branch(&self.name, BranchType::Local) {
                    let _ = b.delete();
                }
            }
        }
    }
}

fn make_commit(
    repo: &Repository,
    sig: &Signature,
    subject: &str,
    body: &str,
    tree: &git2::Tree,
    parent: &git2::Commit,
) -> Result<Oid, git2::Error> {
    let message = format!("{subject}\n\n{}\n", body.trim_end());
    repo.commit(None, sig, sig, &message, tree, &[parent])
}

/// With `--cc-trailers`, `Cc:` for the people the maintainers name (lists
/// get the mail, not a trailer, as is the kernel's custom); then the
/// passed-through tags, and the sender's `Signed-off-by:` last.
fn trailers(r: Option<&Recipients>, opts: &SeriesOptions, name: &str, email: &str) -> Vec<String> {
    let me = format!("{name} <{email}>");
    let mut t: Vec<String> = r
        .map(|r| r.to.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|a| !a.contains(email))
        .map(|a| format!("Cc: {a}"))
        .collect();
    t.extend(opts.reviewed_by.iter().map(|a| format!("Reviewed-by: {a}")));
    t.extend(opts.acked_by.iter().map(|a| format!("Acked-by: {a}")));
    t.push(format!("Signed-off-by: {me}"));
    t
}

fn build_sentence(checker: &str, not_tested: &[String]) -> String {
    if not_tested.is_empty() {
        format!("Compile-tested: every touched file compiles at this commit ({checker}).")
    } else {
        format!(
            "Compile-tested: the touched files compile at this commit ({checker}), except {}, which could not be compile-tested here: {}.",
            text::count(not_tested.len(), "file", "files"),
            not_tested.join(", ")
        )
    }
}

/// The recipe's commit message for a unit whose plan has none.
fn fallback_description(recipe: &Recipe, unit: &ChangeUnit) -> String {
    recipe
        .stage(unit.stage.as_str())
        .map_or("", |(_, spec)| spec.fallback)
        .replace("{subsystem}", &unit.subsystem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_message_layout() {
        let msg = templates()
            .get_template("commit")
            .unwrap()
            .render(context! {
                description => vec!["Why.", "What."],
                trailers => vec!["Reviewed-by: A <a@b>", "Signed-off-by: B <b@c>"],
            })
            .unwrap();
        assert_eq!(
            msg,
            "Why.\n\nWhat.\n\nReviewed-by: A <a@b>\nSigned-off-by: B <b@c>\n"
        );
    }

    #[test]
    fn notes_layout() {
        let notes = |rationale: Vec<&str>, review: Vec<&str>, build: Option<&str>| {
            templates()
                .get_template("notes")
                .unwrap()
                .render(context! {
                    rationale => rationale,
                    review_notes => review,
                    build => build,
                })
                .unwrap()
        };
        assert_eq!(
            notes(
                vec!["a.c:3: e1.", "a.c:9: e2."],
                vec!["look"],
                Some("Built.")
            ),
            "a.c:3: e1.\n\na.c:9: e2.\n\nPlease check:\n- look\n\nBuilt.\n"
        );
        assert_eq!(notes(vec![], vec![], None), "");
        assert_eq!(notes(vec![], vec![], Some("Built.")), "Built.\n");
    }

    #[test]
    fn cover_blurb_layout() {
        let out = templates()
            .get_template("cover")
            .unwrap()
            .render(context! {
                problem => vec!["P1.", "P2."],
                review_notes => vec!["patch 2: n"],
                verified => vec!["v"],
                generated_by => "Generated by x.",
            })
            .unwrap();
        assert_eq!(
            out,
            "P1.\n\nP2.\n\nPlease look in particular at:\n\n- patch 2: n\n\nVerified:\n\n- v\n\nGenerated by x."
        );
        let extra = templates()
            .get_template("cover-extra")
            .unwrap()
            .render(context! {
                version => 2,
                changes => vec!["c"],
                needs_review => vec!["f.c:1: why"],
            })
            .unwrap();
        assert_eq!(
            extra,
            "Changes since v1:\n\n- c\n\nLeft for a human (not touched by this series):\n\n- f.c:1: why\n"
        );
    }
}
