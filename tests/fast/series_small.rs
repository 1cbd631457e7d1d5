//! `series` on small repositories made here: prefix learning from
//! history, branch safety, plan order, `--check-build` stopping at the
//! failing commit, and a second version with its range-diff.

use crate::common;
use crate::series_plan;

use std::cell::RefCell;
use std::fs;
use std::path::Path;

use kseries::rewrite::plan::Plan;
use kseries::series::{
    self, BuildCheck, BuildOutcome, BuildRequest, PrefixSource, SeriesError, SeriesOptions,
    Verification,
};
use series_plan::{small_plan as plan, small_repo as repo};

fn opts() -> SeriesOptions {
    SeriesOptions {
        date: Some(1_499_007_600),
        ..SeriesOptions::default()
    }
}

fn make(dir: &Path, plan: &Plan, o: &SeriesOptions) -> Result<series::SeriesReport, SeriesError> {
    series::make_series(dir, plan, o, &Verification::default(), None)
}

#[test]
fn prefixes_are_learned_from_history_else_the_table() {
    let (_t, dir) = repo();
    let r = make(&dir, &plan(&dir), &opts()).unwrap();
    let got: Vec<(&str, &PrefixSource)> = r
        .patches
        .iter()
        .map(|p| (p.subject.as_str(), &p.prefix_source))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "mm, rmap: use mmu_notifier_invalidate_range()",
                &PrefixSource::History
            ),
            (
                "iommu/amd: remove the unused invalidate_page callback",
                &PrefixSource::History
            ),
            (
                "mm/mmu_notifier: remove the invalidate_page API",
                &PrefixSource::Table
            ),
        ]
    );
    // Recipients from MAINTAINERS (the repository has no
    // get_maintainer.pl): To people, Cc lists.
    assert_eq!(r.maintainers, "MAINTAINERS (native parser)");
    assert_eq!(
        r.patches[1].to,
        vec![
            "Joerg Roedel <joro@example.org>",
            "Linus Torvalds <torvalds@example.org>"
        ]
    );
    assert_eq!(
        r.patches[1].cc,
        vec!["iommu@example.org", "linux-kernel@example.org"]
    );
    // The people are in the mail headers, not in Cc: trailers (as b4
    // does)...
    let msg = common::git(&dir, &["log", "-1", "--format=%B", &r.patches[1].commit]).unwrap();
    assert!(!msg.contains("Cc:"), "{msg}");
    assert!(
        msg.trim_end()
            .ends_with("\n\nSigned-off-by: Ada Kernel <ada@example.org>"),
        "{msg}"
    );

    // ... unless asked for.
    let (_t2, dir2) = repo();
    let r = make(
        &dir2,
        &plan(&dir2),
        &SeriesOptions {
            cc_trailers: true,
            ..opts()
        },
    )
    .unwrap();
    let msg = common::git(&dir2, &["log", "-1", "--format=%B", &r.patches[1].commit]).unwrap();
    assert!(msg.contains("\nCc: Joerg Roedel <joro@example.org>\nCc: Linus Torvalds <torvalds@example.org>\nSigned-off-by: Ada Kernel <ada@example.org>\n"), "{msg}");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn branch_checkout_index_and_worktree_are_safe() {
    let (_t, dir) = repo();
    // A dirty working tree and index, which must stay exactly so.
    fs::write(dir.join("mm/rmap.c"), "local edit\n").unwrap();
    fs::write(dir.join("untracked.txt"), "x\n").unwrap();
    common::git(&dir, &["add", "untracked.txt"]).unwrap();
    let status = common::git(&dir, &["status", "--porcelain"]).unwrap();
    let head = common::git(&dir, &["rev-parse", "HEAD"]).unwrap();

    // The plan is made from the committed files, not the local edit.
    let (_t2, clean) = repo();
    let p = plan(&clean);
    let r = make(&dir, &p, &opts()).unwrap();
    assert_eq!(
        common::git(&dir, &["status", "--porcelain"]).unwrap(),
        status
    );
    assert_eq!(common::git(&dir, &["rev-parse", "HEAD"]).unwrap(), head);
    assert_eq!(
        common::git(&dir, &["symbolic-ref", "HEAD"]).unwrap().trim(),
        "refs/heads/master"
    );
    assert_eq!(
        fs::read_to_string(dir.join("mm/rmap.c")).unwrap(),
        "local edit\n"
    );

    let e = make(&dir, &p, &opts()).unwrap_err();
    assert!(matches!(e, SeriesError::BranchExists(_)));
    assert!(e.to_string().contains("--force"), "{e}");
    let again = make(
        &dir,
        &p,
        &SeriesOptions {
            force: true,
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(again.tip, r.tip, "same plan, same date: same commits");

    let e = make(
        &dir,
        &p,
        &SeriesOptions {
            branch: "master".into(),
            force: true,
            ..opts()
        },
    )
    .unwrap_err();
    assert!(matches!(e, SeriesError::BranchCheckedOut(_)), "{e}");
}

#[test]
fn units_out_of_stage_order_are_refused() {
    let (_t, dir) = repo();
    let mut p = plan(&dir);
    p.units.swap(0, 1);
    let e = make(&dir, &p, &opts()).unwrap_err();
    assert!(matches!(e, SeriesError::Unsorted { index: 2, .. }), "{e}");
    assert!(e.to_string().contains("bisectable"));
    p.units.clear();
    assert!(matches!(
        make(&dir, &p, &opts()),
        Err(SeriesError::EmptyPlan)
    ));
}

/// Fails on one chosen commit, and records what it was asked to build.
struct FakeChecker {
    fail_on: Option<usize>,
    seen: RefCell<Vec<(usize, String, String)>>,
}

impl BuildCheck for FakeChecker {
    fn name(&self) -> String {
        "fake compiler".into()
    }

    fn check(&self, req: &BuildRequest<'_>) -> Result<BuildOutcome, String> {
        // The checkout really is the commit: read a touched file there.
        let first = fs::read_to_string(req.dir.join(&req.files[0])).map_err(|e| e.to_string())?;
        self.seen
            .borrow_mut()
            .push((req.number, req.commit.to_string(), first));
        if Some(req.number) == self.fail_on {
            return Ok(BuildOutcome::Failed {
                errors: vec![format!("{}:3:2: error: implicit declaration", req.files[0])],
            });
        }
        Ok(BuildOutcome::Built { not_tested: vec![] })
    }
}

#[test]
fn check_build_stops_at_the_failing_commit_and_names_it() {
    let (_t, dir) = repo();
    let p = plan(&dir);
    let fake = FakeChecker {
        fail_on: Some(2),
        seen: RefCell::new(vec![]),
    };
    let e =
        series::make_series(&dir, &p, &opts(), &Verification::default(), Some(&fake)).unwrap_err();
    let SeriesError::BuildFailed {
        number,
        commit,
        subject,
        errors,
    } = &e
    else {
        panic!("expected BuildFailed, got {e}");
    };
    assert_eq!(*number, 2);
    assert_eq!(
        subject,
        "iommu/amd: remove the unused invalidate_page callback"
    );
    assert_eq!(errors.len(), 1);
    // The commit cited the kernel way: 12 digits and the subject.
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("commit {} (\"{subject}\")", &commit[..12]))
            && msg.contains("implicit declaration"),
        "{msg}"
    );
    let seen = fake.seen.borrow();
    assert_eq!(
        seen.iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![1, 2],
        "stopped at 2"
    );
    assert!(
        seen[0].2.contains("mmu_notifier_invalidate_range("),
        "patch 1 checked out"
    );
    assert!(
        !seen[1].2.contains("mn_invalidate_page("),
        "patch 2 checked out"
    );
    assert_eq!(&seen[1].1, commit);
    // Nothing is published, and the private checkout is gone.
    assert!(
        common::git(
            &dir,
            &["rev-parse", "--verify", "-q", "kseries/invalidate-page"]
        )
        .is_err()
    );
    assert_eq!(
        common::git(&dir, &["worktree", "list"])
            .unwrap()
            .lines()
            .count(),
        1
    );

    // A checker that passes: every patch says what it verified, below its
    // `---` (tool output stays out of the commit message), and the cover
    // letter says it once.
    let ok = FakeChecker {
        fail_on: None,
        seen: RefCell::new(vec![]),
    };
    let out = dir.parent().unwrap().join("out");
    let o = SeriesOptions {
        output_dir: Some(out),
        ..opts()
    };
    let r = series::make_series(&dir, &p, &o, &Verification::default(), Some(&ok)).unwrap();
    assert_eq!(ok.seen.borrow().len(), 3);
    assert!(
        r.patches
            .iter()
            .all(|p| p.build == Some(BuildOutcome::Built { not_tested: vec![] }))
    );
    let msg = common::git(&dir, &["log", "-1", "--format=%B", &r.tip]).unwrap();
    assert!(!msg.contains("compile"), "{msg}");
    let patch = fs::read_to_string(r.patches[2].file.as_ref().unwrap()).unwrap();
    let (_, below) = patch.split_once("\n---\n").unwrap();
    assert!(
        below.starts_with(
            "Compile-tested: every touched file compiles at this commit (fake compiler).\n"
        ),
        "{patch}"
    );
    let cover = fs::read_to_string(r.cover.file.as_ref().unwrap()).unwrap();
    assert!(
        cover.contains("- every patch compiles, in order, for the files it touches\n"),
        "{cover}"
    );
}

#[test]
fn second_version_keeps_the_change_id_and_has_a_range_diff() {
    let (t, dir) = repo();
    let v1 = make(
        &dir,
        &plan(&dir),
        &SeriesOptions {
            branch: "mn/v1".into(),
            ..opts()
        },
    )
    .unwrap();

    let mut p = plan(&dir);
    p.units[1].summary = "drop the dead invalidate_page callback".into();
    let out = t.path().join("v2");
    let v2 = make(
        &dir,
        &p,
        &SeriesOptions {
            branch: "mn/v2".into(),
            reroll_count: 2,
            previous_branch: Some("mn/v1".into()),
            changes: vec!["reworded the AMD patch (Joerg)".into()],
            output_dir: Some(out.clone()),
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(v2.change_id, v1.change_id);
    let mut names: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names[0], "v2-0000-cover-letter.patch");
    assert!(names[1].starts_with("v2-0001-mm-rmap-"), "{names:?}");
    let cover = fs::read_to_string(out.join(&names[0])).unwrap();
    assert!(cover.contains("Subject: [PATCH v2 0/3] "), "{cover}");
    assert!(
        cover.contains("Changes since v1:\n\n- reworded the AMD patch (Joerg)\n"),
        "{cover}"
    );
    assert!(
        cover.contains("- new: iommu/amd: drop the dead invalidate_page callback\n"),
        "{cover}"
    );
    assert!(
        cover.contains("- dropped: iommu/amd: remove the unused invalidate_page callback\n"),
        "{cover}"
    );
    assert!(cover.contains("- 2 of 3 patches unchanged"), "{cover}");
    assert!(cover.contains("Range-diff against v1:"), "{cover}");
    assert!(cover.contains(&format!("change-id: {}", v1.change_id)));
    let p1 = fs::read_to_string(out.join(&names[1])).unwrap();
    assert!(p1.contains("Subject: [PATCH v2 1/3] mm, rmap: "), "{p1}");
    assert!(p1.contains(&format!("Message-ID: {}", v2.patches[0].message_id)));
    assert!(v2.patches[0].message_id.contains("-v2-1-"));

    // Refuses to mix series in one directory.
    let e = make(
        &dir,
        &p,
        &SeriesOptions {
            branch: "mn/v2".into(),
            force: false,
            reroll_count: 2,
            output_dir: Some(out.clone()),
            ..opts()
        },
    )
    .unwrap_err();
    assert!(matches!(e, SeriesError::BranchExists(_)), "{e}");
    let e = make(
        &dir,
        &p,
        &SeriesOptions {
            branch: "mn/v2b".into(),
            reroll_count: 2,
            output_dir: Some(out),
            ..opts()
        },
    )
    .unwrap_err();
    assert!(matches!(e, SeriesError::OutputNotEmpty(_)), "{e}");
}

fn branch_exists(dir: &Path, name: &str) -> bool {
    common::git(
        dir,
        &["rev-parse", "--verify", "-q", &format!("refs/heads/{name}")],
    )
    .is_ok()
}

fn change_id_recorded(dir: &Path, branch: &str) -> bool {
    common::git(
        dir,
        &[
            "config",
            "--get",
            &format!("branch.{branch}.kseries-change-id"),
        ],
    )
    .is_ok()
}

/// A run that fails at its very end (the mbox cannot be written) leaves
/// no branch, no config entry and no patch file behind.
#[test]
fn a_failing_series_leaves_nothing_behind() {
    let (t, dir) = repo();
    let p = plan(&dir);
    let out = t.path().join("out/v1");
    let e = make(
        &dir,
        &p,
        &SeriesOptions {
            branch: "mn/fails".into(),
            output_dir: Some(out.clone()),
            mbox: Some(t.path().join("no-such-dir/series.mbox")),
            ..opts()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("series.mbox"), "{e}");
    assert!(!branch_exists(&dir, "mn/fails"), "no branch");
    assert!(!change_id_recorded(&dir, "mn/fails"), "no config entry");
    assert!(!t.path().join("out").exists(), "no output directory");
    assert!(!t.path().join("no-such-dir").exists());

    // The same run with a writable mbox goes through.
    let r = make(
        &dir,
        &p,
        &SeriesOptions {
            branch: "mn/fails".into(),
            output_dir: Some(out.clone()),
            mbox: Some(t.path().join("series.mbox")),
            ..opts()
        },
    )
    .unwrap();
    assert!(branch_exists(&dir, "mn/fails"));
    assert!(change_id_recorded(&dir, "mn/fails"));
    assert_eq!(fs::read_dir(&out).unwrap().count(), r.patches.len() + 1);
}

/// `--branch X --output-dir DIR` where DIR holds a series already: refused
/// before branch X exists.
#[test]
fn an_output_dir_in_use_is_refused_before_the_branch_is_made() {
    let (t, dir) = repo();
    let p = plan(&dir);
    let out = t.path().join("out");
    make(
        &dir,
        &p,
        &SeriesOptions {
            branch: "mn/first".into(),
            output_dir: Some(out.clone()),
            ..opts()
        },
    )
    .unwrap();
    let before: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let e = make(
        &dir,
        &p,
        &SeriesOptions {
            branch: "mn/second".into(),
            output_dir: Some(out.clone()),
            ..opts()
        },
    )
    .unwrap_err();
    assert!(matches!(e, SeriesError::OutputNotEmpty(_)), "{e}");
    assert!(!branch_exists(&dir, "mn/second"), "no branch");
    assert!(!change_id_recorded(&dir, "mn/second"));
    let after: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(before, after, "the directory is untouched");
}
