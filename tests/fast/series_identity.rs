//! Signed-off-by needs an identity: without user.name/user.email the
//! series is refused with a message that says how to fix it.  Its own test
//! binary, because it points libgit2's global config search at an empty
//! directory for the whole process.

use crate::common;

use kseries::series::{self, SeriesError, SeriesOptions, Verification};

#[test]
fn no_identity_is_a_clear_error() {
    let empty = tempfile::tempdir().unwrap();
    for level in [
        git2::ConfigLevel::Global,
        git2::ConfigLevel::XDG,
        git2::ConfigLevel::System,
    ] {
        // SAFETY: set before any other libgit2 use in this process.
        unsafe { git2::opts::set_search_path(level, empty.path()).unwrap() };
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("MAINTAINERS"), "THE REST\nM:\tA <a@b>\nF:\t*\n").unwrap();
    std::fs::write(dir.join("a.c"), "int a;\n").unwrap();
    common::git(dir, &["init", "-q"]).unwrap();
    common::git(dir, &["add", "-A"]).unwrap();
    common::git(dir, &["commit", "-qm", "base"]).unwrap();
    let plan = kseries::rewrite::plan::Plan {
        recipe: "invalidate-page".into(),
        tree: ".".into(),
        units: vec![kseries::rewrite::plan::ChangeUnit {
            stage: kseries::rewrite::plan::Stage::new("callers"),
            subsystem: "a".into(),
            summary: "x".into(),
            description: vec![],
            rationale: vec![],
            review_notes: vec![],
            files: vec![kseries::rewrite::plan::FileEdit {
                path: "a.c".into(),
                base_blob: kseries::rewrite::plan::git_blob_id(b"int a;\n"),
                edits: vec![kseries::rewrite::plan::Edit {
                    start: 4,
                    end: 5,
                    text: "b".into(),
                }],
            }],
        }],
        needs_review: vec![],
    };
    let e = series::make_series(
        dir,
        &plan,
        &SeriesOptions::default(),
        &Verification::default(),
        None,
    )
    .unwrap_err();
    assert!(matches!(e, SeriesError::NoIdentity { .. }), "{e}");
    assert!(e.to_string().contains("git config user.name"), "{e}");
}
