//! The real SeriesRunner on the bundled corpus (no kernel needed): the
//! pushed commit is fetched when the clone lacks it, each plan unit
//! becomes one commit, the cover letter lists them, and a tree Kbuild
//! cannot build is an error (the bot turns it into a neutral check run).

use crate::bot_support;
use crate::common;

use bot_support::git;
use kseries::bot::check_runs::CheckKind;
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

/// The corpus committed in `origin`, and the bot's clone of it in `work`.
fn corpus_fork(tmp: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let origin = tmp.join("origin");
    copy_dir(&common::corpus(), &origin);
    git(&origin, &["init", "-q", "-b", "master"]);
    git(&origin, &["add", "-A"]);
    git(&origin, &["commit", "-q", "-m", "corpus"]);
    let work = tmp.join("work");
    let (o, w) = (origin.to_str().unwrap(), work.to_str().unwrap());
    git(tmp, &["clone", "-q", o, w]);
    (origin, work)
}

#[test]
fn the_real_runner_commits_one_plan_unit_per_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let (origin, work) = corpus_fork(tmp.path());
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
            .contains("Left for a human (not touched by this series):"),
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
    assert_eq!(
        boot.conclusion,
        kseries::bot::check_runs::Conclusion::Skipped
    );
}

fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The bot and `kseries series --allow-partial` run one pipeline: both
/// cover letters name every use the command line's review gate refuses
/// with, and give their number.
#[test]
fn the_bot_and_the_command_line_leave_the_same_uses_for_review() {
    let tmp = tempfile::tempdir().unwrap();
    let (origin, work) = corpus_fork(tmp.path());
    git(&origin, &["config", "user.name", "Ada Kernel"]);
    git(&origin, &["config", "user.email", "ada@example.org"]);
    let o = origin.to_str().unwrap();
    let base = git(&origin, &["rev-parse", "HEAD"]);

    // What the command line refuses to cut without --allow-partial.
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_kseries"))
        .args(["series", o])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    let left: Vec<String> = stderr
        .lines()
        .filter_map(|l| {
            let (place, reason) = l.split_once(": needs-review: ")?;
            Some(if place == "kseries" {
                reason.to_string()
            } else {
                format!("{place}: {reason}")
            })
        })
        .collect();
    assert!(
        left.iter().any(|l| l.starts_with("fs/blobfs/")),
        "the corpus has a site the scan leaves for review: {stderr}"
    );

    let out = tmp.path().join("out");
    common::kseries_ok(&["series", "--allow-partial", "-o", out.to_str().unwrap(), o]);
    let cli = std::fs::read_to_string(out.join("0000-cover-letter.patch")).unwrap();
    let bot = GitSeriesRunner::new(&work)
        .build_series(&SeriesRequest {
            repo: RepoId::parse("kfork/linux").unwrap(),
            base_branch: BranchName::new("master").unwrap(),
            base_sha: base,
            recipe: "invalidate-page".into(),
        })
        .unwrap()
        .cover_letter;
    let count = format!("{} uses are left for review (listed below)", left.len());
    for (who, cover) in [("kseries series", flat(&cli)), ("the bot", flat(&bot))] {
        assert!(cover.contains(&count), "{who} says {count:?}:\n{cover}");
        for l in &left {
            assert!(cover.contains(&flat(l)), "{who} lists {l:?}:\n{cover}");
        }
    }
}
