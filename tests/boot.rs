//! Boot + audit on the real 4.12 tree.  Both tests share one work
//! directory (checkout + persistent boot build directory) under the test
//! cache; `verify_series` locks it, so they take turns and the second one
//! only rebuilds what its commit changed.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use kseries::verify::{
    ProblemKind, StepStatus, VerifyOptions, render_table, steps::SeriesReport, verify_series,
};

fn work_dir() -> PathBuf {
    common::cache_dir().join("verify-boot")
}

fn options(repo: &std::path::Path, range: &str, name: &str) -> VerifyOptions {
    let mut opts = VerifyOptions::new(repo, range);
    opts.work_dir = Some(work_dir());
    opts.qemu.timeout = Duration::from_secs(150);
    let logs = common::cache_dir().join("verify-boot-logs").join(name);
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs).unwrap();
    opts.junit = Some(logs.join("junit.xml"));
    opts.log_dir = Some(logs);
    opts
}

fn show(report: &SeriesReport) {
    eprintln!("{}", render_table(report));
    for s in &report.steps {
        if let Some(t) = &s.boot {
            eprintln!(
                "step {}: config {:?} ms, build {} ms, auditor {:?}",
                s.index,
                t.kernel.config_ms,
                t.kernel.build_ms,
                t.auditor.as_ref().map(|a| a.build_ms)
            );
            if let Some(b) = &t.boot {
                eprintln!(
                    "step {}: boot {} ms, exit {:?}",
                    s.index, b.boot_ms, b.exit_code
                );
                if !b.passed {
                    eprintln!("---- console tail ----");
                    let lines: Vec<&str> = b.console.lines().collect();
                    for l in &lines[lines.len().saturating_sub(60)..] {
                        eprintln!("{l}");
                    }
                }
            }
        }
    }
}

#[test]
fn the_base_commit_boots_and_the_auditor_sees_clean_events() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let opts = options(&tree, "HEAD", "base");
    let report = verify_series(&opts).expect("verify runs");
    show(&report);
    assert!(report.passed(), "{:?}", report.first_failure);
    let step = &report.steps[0];
    assert_eq!(step.status, StepStatus::Pass);
    let test = step.boot.as_ref().expect("booted");
    let boot = test.boot.as_ref().expect("boot report");
    let audit = boot.verdict.audit.expect("verdict line");
    eprintln!("base verdict: {audit}");
    assert!(audit.events > 0, "{audit}");
    assert!(
        audit.page > 0,
        "invalidate_page events exist at 4.12: {audit}"
    );
    assert!(audit.violations().is_empty(), "{audit}");
    assert!(test.auditor.as_ref().unwrap().invalidate_page);
    assert!(
        boot.boot_ms < 60_000,
        "boot + workload took {} ms",
        boot.boot_ms
    );
    let logs = step.log_dir.as_ref().expect("logs written");
    let console = std::fs::read_to_string(logs.join("console.log")).unwrap();
    assert!(console.contains("kseries-audit: events="));
    let junit = std::fs::read_to_string(opts.junit.as_ref().unwrap()).unwrap();
    assert!(junit.contains("failures=\"0\""), "{junit}");
}

/// `try_to_unmap_one` ends a bracket it never started: the auditor must
/// turn the commit red and name the violation.
#[test]
fn an_unpaired_end_in_rmap_turns_verify_red_at_that_commit() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    // A clone without a working tree (checking out 800 MB is the slow part
    // of common::fresh_clone); the commit is made with plumbing.
    let keep = tempfile::Builder::new()
        .prefix("kseries-boot-broken-")
        .tempdir_in(common::cache_dir())
        .unwrap();
    let clone = keep.path().join("linux");
    common::git(
        keep.path(),
        &[
            "clone",
            "-q",
            "--shared",
            "--no-checkout",
            tree.to_str().unwrap(),
            "linux",
        ],
    )
    .unwrap();
    let text = std::fs::read_to_string(tree.join("mm/rmap.c")).unwrap();
    let needle = "\t\tput_page(page);\n\t\tmmu_notifier_invalidate_page(mm, address);\n";
    assert_eq!(text.matches(needle).count(), 1, "try_to_unmap_one's tail");
    let broken = text.replacen(
        needle,
        "\t\tput_page(page);\n\t\tmmu_notifier_invalidate_page(mm, address);\n\
         \t\tmmu_notifier_invalidate_range_end(mm, address, address + PAGE_SIZE);\n",
        1,
    );
    let patched = keep.path().join("rmap.c");
    std::fs::write(&patched, broken).unwrap();
    let blob = common::git(&clone, &["hash-object", "-w", patched.to_str().unwrap()]).unwrap();
    let base = common::git(&clone, &["rev-parse", "HEAD"]).unwrap();
    let base = base.trim();
    common::git(&clone, &["read-tree", base]).unwrap();
    let info = format!("100644,{},mm/rmap.c", blob.trim());
    common::git(&clone, &["update-index", "--cacheinfo", &info]).unwrap();
    let tree_id = common::git(&clone, &["write-tree"]).unwrap();
    let sha = common::git(
        &clone,
        &[
            "commit-tree",
            tree_id.trim(),
            "-p",
            base,
            "-m",
            "mm/rmap: unpaired invalidate_range_end",
        ],
    )
    .unwrap();
    let sha = sha.trim();
    common::git(&clone, &["update-ref", "refs/heads/broken", sha]).unwrap();

    let mut opts = options(&clone, &format!("{base}..broken"), "broken");
    // The x86_64 compile check is covered by tests/compile_check.rs; here
    // only the boot test matters (and CI time does).
    opts.compile_check = false;
    let report = verify_series(&opts).expect("verify runs");
    show(&report);
    assert!(!report.passed());
    let first = report.first_failure.as_ref().expect("a failing commit");
    assert_eq!(first.sha, sha);
    assert!(first.reason.contains("unpaired"), "{}", first.reason);
    let boot = report.steps[0]
        .boot
        .as_ref()
        .unwrap()
        .boot
        .as_ref()
        .unwrap();
    assert!(
        boot.verdict
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::AuditViolation),
        "{:?}",
        boot.verdict.problems
    );
    assert!(boot.verdict.audit.is_some_and(|a| a.unpaired > 0));
    assert!(
        boot.verdict
            .audit_reports
            .iter()
            .any(|r| r.contains("invalidate_range_end without a matching start")),
        "{:?}",
        boot.verdict.audit_reports
    );
    assert!(
        boot.console.contains("try_to_unmap_one"),
        "the auditor's stack trace names the culprit"
    );
    let junit = std::fs::read_to_string(opts.junit.as_ref().unwrap()).unwrap();
    assert!(junit.contains("<failure message=\""), "{junit}");
}
