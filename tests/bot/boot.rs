//! The bot's `kseries/boot` check on the real tree: the final commit of the
//! series the bot cuts for Linux 4.12 is built, booted in QEMU with the
//! notifier auditor, and the check run says what the auditor saw.

use crate::common;

use kseries::bot::check_runs::{CheckKind, Conclusion};
use kseries::bot::git::BranchName;
use kseries::bot::runner::GitSeriesRunner;
use kseries::bot::webhook::RepoId;
use kseries::bot::{SeriesRequest, SeriesRunner};

#[test]
fn the_boot_check_boots_the_last_commit_and_reports_the_auditor() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    // A stable path: the boot build directory is kept per repository, so
    // later runs rebuild only what changed.
    let base = common::cache_dir().join("bot-boot");
    std::fs::create_dir_all(&base).unwrap();
    let lock = std::fs::File::create(base.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    let work = base.join("linux");
    if work.exists() {
        std::fs::remove_dir_all(&work).unwrap();
    }
    let (src, dst) = (tree.to_str().unwrap(), work.to_str().unwrap());
    common::git(&base, &["clone", "-q", "--shared", src, dst]).unwrap();
    let head = common::git(&work, &["rev-parse", "HEAD"])
        .unwrap()
        .trim()
        .to_string();

    let runner = GitSeriesRunner::new(&work);
    let series = runner
        .build_series(&SeriesRequest {
            repo: RepoId::parse("kfork/linux").unwrap(),
            base_branch: BranchName::new("master").unwrap(),
            base_sha: head,
            recipe: "invalidate-page".into(),
        })
        .unwrap();
    let last = series.commits.last().expect("a series");
    let outcome = runner.run_check(&series, last, CheckKind::Boot).unwrap();
    eprintln!("{}\n{}", outcome.title, outcome.summary);
    assert_eq!(
        outcome.conclusion,
        Conclusion::Success,
        "{}",
        outcome.summary
    );
    assert!(
        outcome
            .title
            .contains("unpaired=0 bad_range=0 unbracketed=0"),
        "{}",
        outcome.title
    );
}
