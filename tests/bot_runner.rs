//! The real SeriesRunner on the bundled corpus (no kernel needed): the
//! pushed commit is fetched when the clone lacks it, each plan unit
//! becomes one commit, the cover letter lists them, and a tree Kbuild
//! cannot build is an error (the bot turns it into a neutral check run).

mod bot_support;
mod common;

use bot_support::git;
use kseries::bot::checks::CheckKind;
use kseries::bot::git::BranchName;
use kseries::bot::runner::GitSeriesRunner;
use kseries::bot::webhook::RepoId;
use kseries::bot::{SeriesRequest, SeriesRunner};

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let ty = e.file_type().unwrap();
        if ty.is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else if ty.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn the_real_runner_commits_one_plan_unit_per_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let origin = tmp.path().join("origin");
    copy_dir(&common::corpus(), &origin);
    git(&origin, &["init", "-q", "-b", "master"]);
    git(&origin, &["add", "-A"]);
    git(&origin, &["commit", "-q", "-m", "corpus"]);
    let work = tmp.path().join("work");
    git(
        tmp.path(),
        &[
            "clone",
            "-q",
            origin.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    // A push the clone has not seen yet.
    std::fs::write(origin.join("NEWS"), "pushed later\n").unwrap();
    git(&origin, &["add", "NEWS"]);
    git(&origin, &["commit", "-q", "-m", "later"]);
    let base = git(&origin, &["rev-parse", "HEAD"]);

    let runner = GitSeriesRunner::new(&work);
    let series = runner
        .build_series(&SeriesRequest {
            repo: RepoId::parse("kfork/linux").unwrap(),
            base_branch: BranchName::new("master").unwrap(),
            base_sha: base.clone(),
            recipe: "invalidate-page".into(),
        })
        .unwrap();
    // The corpus holds sites left for review, so the later stages wait:
    // the callers' unit is the series, and the cover letter says why.
    assert!(!series.commits.is_empty(), "{:?}", series.commits);
    assert!(
        series
            .cover_letter
            .contains("Left for review (not changed):"),
        "{}",
        series.cover_letter
    );
    assert_eq!(series.head, series.commits.last().unwrap().sha);
    assert_eq!(
        git(
            &work,
            &["rev-parse", &format!("{}^", series.commits[0].sha)]
        ),
        base
    );
    // git's shortlog in the cover letter lists every commit.
    let flat = series
        .cover_letter
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for c in &series.commits {
        assert_eq!(git(&work, &["log", "-1", "--format=%s", &c.sha]), c.subject);
        assert!(c.subject.contains(": "), "{}", c.subject);
        assert!(flat.contains(&c.subject), "{}", series.cover_letter);
        assert_eq!(
            git(&work, &["log", "-1", "--format=%an <%ae>", &c.sha]),
            "kseries bot <kseries-bot@users.noreply.github.com>"
        );
    }
    assert_eq!(series.title, "mm: remove mmu_notifier_invalidate_page()");
    // The corpus is not a Kbuild tree: the build check fails as a whole.
    let err = runner
        .run_check(&series, &series.commits[0], CheckKind::Build)
        .unwrap_err();
    assert!(
        err.to_string().contains("not a kernel source tree"),
        "{err}"
    );
    // The boot check is reported as skipped, not passed.
    let boot = runner
        .run_check(&series, &series.commits[0], CheckKind::Boot)
        .unwrap();
    assert_eq!(boot.conclusion, kseries::bot::checks::Conclusion::Skipped);
}
