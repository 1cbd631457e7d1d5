//! `--check-build` with the real compile check (x86_64 allmodconfig) on
//! the 4.12 tree: every commit of the real rewrite's series compiles, and
//! a commit broken on purpose stops the run and is named.  Slow (a kernel
//! configuration and a compile per commit): `cargo test --test kernel
//! series_build:: -- --ignored`.

use crate::common;

use kseries::rewrite::plan::{Edit, FileEdit, Stage, git_blob_id};
use kseries::series::{self, BuildOutcome, KbuildCheck, SeriesError, SeriesOptions, Verification};

#[test]
#[ignore = "slow: configures and compiles the kernel"]
fn every_commit_of_the_real_series_compiles_and_a_broken_one_is_named() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let (_g, clone) = common::fresh_clone(&tree);
    common::git(&clone, &["config", "user.name", "Ada Kernel"]).unwrap();
    common::git(&clone, &["config", "user.email", "ada@example.org"]).unwrap();
    let recipe = kseries::recipe::by_id("invalidate-page").unwrap();
    let scan = kseries::scan::scan(&clone, &recipe).unwrap();
    let plan = kseries::rewrite::plan(&clone, &scan, &recipe).unwrap();
    let checker = KbuildCheck {
        build_dir: Some(common::cache_dir().join("build-series-test")),
        jobs: 2,
    };

    // Break the first caller patch: it must stop there, named.
    let mut broken = plan.clone();
    let first = &mut broken.units[0];
    assert_eq!(first.stage, Stage::new("callers"));
    let path = first.files[0].path.clone();
    let original = std::fs::read(clone.join(&path)).unwrap();
    let patched = first.files[0].apply(&original).unwrap();
    let mut with_error = patched;
    with_error.extend_from_slice(b"int kseries_broken = ;\n");
    first.files[0] = FileEdit {
        path: path.clone(),
        base_blob: git_blob_id(&original),
        edits: vec![Edit {
            start: 0,
            end: original.len(),
            text: String::from_utf8(with_error).unwrap(),
        }],
    };
    let e = series::make_series(
        &clone,
        &broken,
        &SeriesOptions::default(),
        &Verification::default(),
        Some(&checker),
    )
    .unwrap_err();
    eprintln!("{e}");
    let SeriesError::BuildFailed { number, errors, .. } = &e else {
        panic!("expected BuildFailed, got {e}");
    };
    assert_eq!(*number, 1);
    assert!(errors.iter().any(|m| m.contains(&path)), "{errors:?}");

    // The real series: every commit builds.
    let r = series::make_series(
        &clone,
        &plan,
        &SeriesOptions::default(),
        &Verification::default(),
        Some(&checker),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for p in &r.patches {
        eprintln!("{:2} {} {:?}", p.number, p.subject, p.build);
        assert!(matches!(p.build, Some(BuildOutcome::Built { .. })));
    }
    eprintln!(
        "build check: {} ms for {} commits",
        r.timings.build_check_ms,
        r.patches.len()
    );
}
