//! `rewrite --apply`: the outcome written into the work tree, every file
//! or none.
//!
//! 1. Refuse what git could not show or undo: a tree that is not a git
//!    work tree, uncommitted changes, a target file git does not track.
//! 2. Check every target before writing any: a file that changed since
//!    the plan refuses the whole apply.
//! 3. Write every new content to `FILE.kseries-new` beside its file (a
//!    name the kernel's `.gitignore` does not hide, so `git status` shows
//!    a leftover), after recording their names in a journal in the git
//!    directory.
//! 4. Rename them over their files; if a rename fails, put back what was
//!    renamed (the old bytes are known) and remove the rest.
//!
//! A crash (kill -9, power loss) before step 4 leaves the journal and the
//! temporary files and an untouched tree; during step 4, some files
//! renamed.  The next `--apply` removes the temporary files the journal
//! names, says so, and refuses while the tree has changes (`git diff`
//! shows what the interrupted run wrote; `git checkout -- .` undoes it).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::{Outcome, RewriteError};
use crate::crashpoint;

/// Suffix of the temporary files, beside the file each one replaces.
pub const TEMP_SUFFIX: &str = ".kseries-new";

/// The journal of an apply in progress, in the git directory.
pub const JOURNAL: &str = "kseries-apply.json";

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    /// The process that wrote it.
    pid: u32,
    /// The temporary files, relative to the work tree.
    temps: Vec<String>,
}

/// What an apply did besides writing the outcome.
#[derive(Debug, Default)]
pub struct ApplyReport {
    /// Temporary files of an interrupted earlier apply that were removed.
    pub removed_leftovers: Vec<String>,
}

/// Where a step of [`apply_with`] is, for tests that make it fail there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Every temporary file is written; none is renamed yet.
    TempsWritten,
    /// About to rename the temporary file of outcome entry `n`.
    Rename(usize),
}

/// Writes `outcome` into the git work tree `root` (see the module
/// documentation).
pub fn apply(root: &Path, outcome: &Outcome) -> Result<ApplyReport, RewriteError> {
    apply_with(root, outcome, &mut |step| match step {
        Step::TempsWritten => crashpoint::point("rewrite-apply-temps-written"),
        Step::Rename(1) => crashpoint::point("rewrite-apply-renaming"),
        Step::Rename(_) => {}
    })
}

pub(crate) fn apply_with(
    root: &Path,
    outcome: &Outcome,
    at: &mut dyn FnMut(Step),
) -> Result<ApplyReport, RewriteError> {
    let git_dir = git_dir(root)?;
    let journal = git_dir.join(JOURNAL);
    let (was_interrupted, removed_leftovers) = recover(root, &journal)?;
    let interrupted = if was_interrupted {
        " (an earlier --apply was interrupted: its temporary files are removed, and `git diff` shows what it wrote; `git checkout -- .` undoes it)"
    } else {
        ""
    };
    refuse_uncommitted(root, interrupted)?;
    refuse_untracked(root, outcome)?;
    refuse_stale(root, outcome)?;

    let paths: Vec<&String> = outcome.keys().collect();
    let temps: Vec<String> = paths.iter().map(|p| format!("{p}{TEMP_SUFFIX}")).collect();
    write_file(
        &journal,
        &serde_json::to_vec_pretty(&Journal {
            pid: std::process::id(),
            temps: temps.clone(),
        })
        .expect("serializable"),
    )?;
    let result = write_temps(root, outcome, &temps).and_then(|()| {
        at(Step::TempsWritten);
        rename_all(root, outcome, &temps, at)
    });
    for t in &temps {
        let _ = std::fs::remove_file(root.join(t));
    }
    if result.is_ok() {
        sync_dirs(root, &paths);
    }
    let _ = std::fs::remove_file(&journal);
    result.map(|()| ApplyReport { removed_leftovers })
}

fn io_error(path: &Path, e: std::io::Error) -> RewriteError {
    RewriteError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

fn git(root: &Path, args: &[&str]) -> Result<std::process::Output, RewriteError> {
    Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| RewriteError::Io {
            path: root.to_path_buf(),
            reason: format!("running git: {e}"),
        })
}

fn git_dir(root: &Path) -> Result<PathBuf, RewriteError> {
    let out = git(root, &["rev-parse", "--absolute-git-dir"])?;
    if !out.status.success() {
        return Err(RewriteError::NotClean(format!(
            "{} is not a git work tree (--apply needs one, so the change can be reviewed and undone)",
            root.display()
        )));
    }
    Ok(PathBuf::from(
        String::from_utf8_lossy(&out.stdout).trim_end_matches('\n'),
    ))
}

/// Removes the temporary files an interrupted apply left, and its
/// journal: whether there was one, and the files removed.
fn recover(root: &Path, journal: &Path) -> Result<(bool, Vec<String>), RewriteError> {
    let bytes = match std::fs::read(journal) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((false, Vec::new())),
        Err(e) => return Err(io_error(journal, e)),
    };
    let j: Journal = serde_json::from_slice(&bytes).map_err(|e| {
        RewriteError::NotClean(format!(
            "{}: not a kseries apply journal ({e}); an earlier --apply was interrupted: remove the *{TEMP_SUFFIX} files `git status` lists, then this file",
            journal.display()
        ))
    })?;
    let mut removed = Vec::new();
    for t in j.temps {
        // Only our own names, inside the tree: the journal is input too.
        if !t.ends_with(TEMP_SUFFIX) || Path::new(&t).is_absolute() || t.contains("..") {
            continue;
        }
        match std::fs::remove_file(root.join(&t)) {
            Ok(()) => removed.push(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&root.join(&t), e)),
        }
    }
    std::fs::remove_file(journal).map_err(|e| io_error(journal, e))?;
    Ok((true, removed))
}

/// The tree must hold no uncommitted change, so that `git diff` shows
/// exactly the rewrite and nothing of the user's is at stake.
fn refuse_uncommitted(root: &Path, interrupted: &str) -> Result<(), RewriteError> {
    let status = git(root, &["status", "--porcelain", "--untracked-files=no"])?;
    if !status.status.success() {
        return Err(RewriteError::NotClean(format!(
            "{} is not a git work tree (--apply needs one, so the change can be reviewed and undone)",
            root.display()
        )));
    }
    if !status.stdout.is_empty() {
        return Err(RewriteError::NotClean(format!(
            "{} has uncommitted changes{interrupted}; commit or stash them first:\n{}",
            root.display(),
            String::from_utf8_lossy(&status.stdout)
        )));
    }
    Ok(())
}

/// Every target must be tracked: a change to an untracked file would not
/// show in `git diff`, and `git checkout` could not undo it.
fn refuse_untracked(root: &Path, outcome: &Outcome) -> Result<(), RewriteError> {
    let mut args = vec!["--literal-pathspecs", "ls-files", "-z", "--"];
    args.extend(outcome.keys().map(String::as_str));
    let out = git(root, &args)?;
    let tracked: std::collections::HashSet<&[u8]> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .collect();
    let untracked: Vec<&str> = outcome
        .keys()
        .filter(|p| !tracked.contains(p.as_bytes()))
        .map(String::as_str)
        .collect();
    if untracked.is_empty() {
        return Ok(());
    }
    Err(RewriteError::NotClean(format!(
        "{} would change file(s) git does not track, where `git diff` could not show the change nor `git checkout` undo it: {}; commit them first (or move them out of the tree); nothing was written",
        root.display(),
        untracked.join(", ")
    )))
}

/// Every target must still hold what the plan was computed from.
fn refuse_stale(root: &Path, outcome: &Outcome) -> Result<(), RewriteError> {
    let mut changed = Vec::new();
    for (path, (old, _)) in outcome {
        let full = root.join(path);
        let now = std::fs::read(&full).map_err(|e| io_error(&full, e))?;
        if &now != old {
            changed.push(path.as_str());
        }
    }
    if changed.is_empty() {
        return Ok(());
    }
    Err(RewriteError::Stale(format!(
        "{} changed since the scan; nothing was written: re-run rewrite",
        changed.join(", ")
    )))
}

fn write_temps(root: &Path, outcome: &Outcome, temps: &[String]) -> Result<(), RewriteError> {
    for ((path, (_, new)), temp) in outcome.iter().zip(temps) {
        let full = root.join(temp);
        let perms = std::fs::metadata(root.join(path))
            .map_err(|e| io_error(&root.join(path), e))?
            .permissions();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&full)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    RewriteError::NotClean(format!(
                        "{} exists and is not kseries' own leftover: move it away; nothing was written",
                        full.display()
                    ))
                } else {
                    io_error(&full, e)
                }
            })?;
        f.write_all(new).map_err(|e| io_error(&full, e))?;
        f.set_permissions(perms).map_err(|e| io_error(&full, e))?;
        f.sync_all().map_err(|e| io_error(&full, e))?;
    }
    Ok(())
}

/// Renames every temporary file over its file; on a failure, puts back
/// the files renamed so far.
fn rename_all(
    root: &Path,
    outcome: &Outcome,
    temps: &[String],
    at: &mut dyn FnMut(Step),
) -> Result<(), RewriteError> {
    for (n, (path, temp)) in outcome.keys().zip(temps).enumerate() {
        at(Step::Rename(n));
        let target = root.join(path);
        if let Err(e) = std::fs::rename(root.join(temp), &target) {
            let failed = io_error(&target, e);
            let not_restored: Vec<&str> = outcome
                .iter()
                .take(n)
                .filter(|(p, (old, _))| write_back(&root.join(p), old).is_err())
                .map(|(p, _)| p.as_str())
                .collect();
            return Err(if not_restored.is_empty() {
                RewriteError::Io {
                    path: target,
                    reason: format!(
                        "{failed}; the {n} file(s) written before it were put back: nothing changed"
                    ),
                }
            } else {
                RewriteError::Io {
                    path: target,
                    reason: format!(
                        "{failed}; these files could not be put back and hold the rewrite: {} (`git checkout -- FILE` restores them)",
                        not_restored.join(", ")
                    ),
                }
            });
        }
    }
    Ok(())
}

/// The old content back in place, atomically.
fn write_back(path: &Path, old: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(TEMP_SUFFIX);
    let tmp = PathBuf::from(tmp);
    let perms = std::fs::metadata(path)?.permissions();
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(old)?;
    f.set_permissions(perms)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// A small file written whole or not at all (temporary file, rename).
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), RewriteError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
    f.write_all(bytes).map_err(|e| io_error(&tmp, e))?;
    f.sync_all().map_err(|e| io_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))
}

/// The renames reach the disk with their directories.
fn sync_dirs(root: &Path, paths: &[&String]) {
    let mut dirs: Vec<PathBuf> = paths
        .iter()
        .filter_map(|p| root.join(p).parent().map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    for d in dirs {
        if let Ok(f) = std::fs::File::open(&d) {
            let _ = f.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree of three committed files, and an outcome that changes each.
    fn tree() -> (tempfile::TempDir, Outcome) {
        let tmp = tempfile::tempdir().unwrap();
        let mut outcome = Outcome::new();
        for name in ["a.c", "b.c", "c.c"] {
            let old = format!("int {name};\n").into_bytes();
            std::fs::write(tmp.path().join(name), &old).unwrap();
            outcome.insert(
                name.to_string(),
                (old, format!("long {name};\n").into_bytes()),
            );
        }
        // Committed with git2: the apply itself asks the git command.
        let repo = git2::Repository::init(tmp.path()).unwrap();
        let mut index = repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.invalid").unwrap();
        repo.commit(Some("HEAD"), &sig, &sig, "base", &tree, &[])
            .unwrap();
        (tmp, outcome)
    }

    #[test]
    fn a_failed_rename_puts_back_what_was_renamed() {
        let (tmp, outcome) = tree();
        let root = tmp.path();
        let err = apply_with(root, &outcome, &mut |step| {
            if step == Step::Rename(2) {
                // c.c becomes a directory that a file cannot replace.
                std::fs::remove_file(root.join("c.c")).unwrap();
                std::fs::create_dir(root.join("c.c")).unwrap();
                std::fs::write(root.join("c.c/keep"), b"").unwrap();
            }
        })
        .unwrap_err();
        assert!(err.to_string().contains("were put back"), "{err}");
        for name in ["a.c", "b.c"] {
            assert_eq!(
                std::fs::read(root.join(name)).unwrap(),
                format!("int {name};\n").into_bytes()
            );
        }
        let mut left: Vec<String> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [".git", "a.c", "b.c", "c.c"],
            "no temporary file left"
        );
        assert!(!root.join(".git").join(JOURNAL).exists());
    }

    #[test]
    fn every_file_is_written() {
        let (tmp, outcome) = tree();
        let report = apply(tmp.path(), &outcome).unwrap();
        assert!(report.removed_leftovers.is_empty());
        for (name, (_, new)) in &outcome {
            assert_eq!(&std::fs::read(tmp.path().join(name)).unwrap(), new);
        }
    }
}
