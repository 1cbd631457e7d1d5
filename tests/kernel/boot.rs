//! Boot + audit on the real 4.12 tree.  Both tests share one work
//! directory (checkout + persistent boot build directory) under the test
//! cache; `verify_series` locks it, so they take turns and the second one
//! only rebuilds what its commit changed.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use kseries::verify::{
    ProblemKind, StepStatus, VerifyOptions, render_table, steps::VerifyReport, verify_series,
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

fn show(report: &VerifyReport) {
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
    // The workload did what it is for: THPs were mapped (and split),
    // pages migrated between the two fake NUMA nodes, KVM ran a guest.
    let thp = regex::Regex::new(r"huge_memory: (\d+) of \d+ THP split").unwrap();
    let split: u64 = thp
        .captures(&boot.console)
        .map(|c| c[1].parse().unwrap())
        .unwrap_or(0);
    assert!(split > 0, "no THP was split");
    assert!(
        boot.verdict
            .workload
            .iter()
            .any(|l| l.starts_with("migrate: ") && !l.starts_with("migrate: 0 ")),
        "{:?}",
        boot.verdict.workload
    );
    assert!(
        boot.verdict
            .workload
            .iter()
            .any(|l| l.starts_with("kvm: guest ran twice")),
        "{:?}",
        boot.verdict.workload
    );
    let logs = step.log_dir.as_ref().expect("logs written");
    let console = std::fs::read_to_string(logs.join("console.log")).unwrap();
    assert!(console.contains("kseries-audit: events="));
    let junit = std::fs::read_to_string(opts.junit.as_ref().unwrap()).unwrap();
    assert!(junit.contains("failures=\"0\""), "{junit}");
}

/// Makes a commit on `parent` that replaces `path` with `text`, with git
/// plumbing (the clone has no working tree).
fn commit_file(
    repo: &Path,
    scratch: &Path,
    parent: &str,
    path: &str,
    text: &str,
    msg: &str,
) -> String {
    let file = scratch.join("blob");
    std::fs::write(&file, text).unwrap();
    let blob = common::git(repo, &["hash-object", "-w", file.to_str().unwrap()]).unwrap();
    common::git(repo, &["read-tree", parent]).unwrap();
    let info = format!("100644,{},{path}", blob.trim());
    common::git(repo, &["update-index", "--cacheinfo", &info]).unwrap();
    let tree = common::git(repo, &["write-tree"]).unwrap();
    let sha = common::git(repo, &["commit-tree", tree.trim(), "-p", parent, "-m", msg]).unwrap();
    sha.trim().to_string()
}

/// A three-commit series on the base: a harmless comment (passes), then
/// `try_to_unmap_one` bracketing a page *count* as a length (bad_range),
/// then ending a bracket it never started (unpaired).  Verify must pass
/// the first, turn red at the second and name the auditor's violation;
/// with --keep-going the third fails too, as unpaired.
#[test]
fn broken_rmap_commits_turn_verify_red_at_the_first_bad_one() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    // Commits are made with plumbing: no working tree needed.
    let (keep, clone) = common::clone_without_checkout(&tree, "kseries-boot-broken-");
    let base = common::git(&clone, &["rev-parse", "HEAD"]).unwrap();
    let base = base.trim().to_string();
    let text = std::fs::read_to_string(tree.join("mm/rmap.c")).unwrap();
    let needle = "\t\tput_page(page);\n\t\tmmu_notifier_invalidate_page(mm, address);\n";
    assert_eq!(text.matches(needle).count(), 1, "try_to_unmap_one's tail");
    let with = |extra: &str| text.replacen(needle, &format!("{needle}{extra}"), 1);

    let harmless = commit_file(
        &clone,
        keep.path(),
        &base,
        "mm/rmap.c",
        &with("\t\t/* kseries test: nothing changes here */\n"),
        "mm/rmap: a comment",
    );
    let count = "address + (1UL << compound_order(page))";
    let bad_len = commit_file(
        &clone,
        keep.path(),
        &harmless,
        "mm/rmap.c",
        &with(&format!(
            "\t\tmmu_notifier_invalidate_range_start(mm, address, {count});\n\
             \t\tmmu_notifier_invalidate_range_end(mm, address, {count});\n"
        )),
        "mm/rmap: bracket a page count as a length",
    );
    let unpaired = commit_file(
        &clone,
        keep.path(),
        &bad_len,
        "mm/rmap.c",
        &with("\t\tmmu_notifier_invalidate_range_end(mm, address, address + PAGE_SIZE);\n"),
        "mm/rmap: unpaired invalidate_range_end",
    );
    common::git(&clone, &["update-ref", "refs/heads/broken", &unpaired]).unwrap();

    let mut opts = options(&clone, &format!("{base}..broken"), "broken");
    opts.keep_going = true;
    let report = verify_series(&opts).expect("verify runs");
    show(&report);
    assert!(!report.passed());
    let shas: Vec<&str> = report.steps.iter().map(|s| s.sha.as_str()).collect();
    assert_eq!(
        shas,
        [harmless.as_str(), bad_len.as_str(), unpaired.as_str()]
    );
    assert_eq!(report.steps[0].status, StepStatus::Pass);
    let first = report.first_failure.as_ref().expect("a failing commit");
    assert_eq!(first.sha, bad_len);
    assert!(first.reason.contains("bad_range"), "{}", first.reason);

    let console_of = |i: usize| {
        report.steps[i]
            .boot
            .as_ref()
            .unwrap()
            .boot
            .as_ref()
            .unwrap()
    };
    let b = console_of(1);
    assert!(
        b.verdict
            .audit
            .is_some_and(|a| a.bad_range > 0 && a.unpaired == 0)
    );
    assert!(
        b.verdict
            .audit_reports
            .iter()
            .any(|r| r.contains("bad range in invalidate_range_start")),
        "{:?}",
        b.verdict.audit_reports
    );

    let b = console_of(2);
    assert_eq!(report.steps[2].status, StepStatus::Fail);
    assert!(
        b.verdict
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::AuditViolation && p.text.contains("unpaired")),
        "{:?}",
        b.verdict.problems
    );
    assert!(
        b.verdict
            .audit_reports
            .iter()
            .any(|r| r.contains("invalidate_range_end without a matching start")),
        "{:?}",
        b.verdict.audit_reports
    );
    assert!(
        b.console.contains("try_to_unmap_one"),
        "the auditor's stack trace names the culprit"
    );
    let junit = std::fs::read_to_string(opts.junit.as_ref().unwrap()).unwrap();
    assert!(junit.contains("failures=\"2\""), "{junit}");
}

/// Other architectures' files of a commit are cross-compiled with Debian's
/// cross compilers (or reported "not compile-tested", never passed).
/// Ignored by default: four defconfigs and `make prepare`s cost minutes.
#[test]
#[ignore = "several minutes: cargo test --test kernel boot:: -- --ignored"]
fn other_architectures_files_are_cross_compiled() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let (keep, clone) = common::clone_without_checkout(&tree, "kseries-boot-cross-");
    let base = common::git(&clone, &["rev-parse", "HEAD"]).unwrap();
    let mut head = base.trim().to_string();
    let files = [
        "arch/arm/include/asm/kvm_host.h",
        "arch/arm64/include/asm/kvm_host.h",
        "arch/mips/include/asm/kvm_host.h",
        "arch/powerpc/include/asm/kvm_host.h",
        "arch/powerpc/platforms/powernv/npu-dma.c",
    ];
    for f in files {
        let text = std::fs::read_to_string(tree.join(f)).unwrap();
        head = commit_file(
            &clone,
            keep.path(),
            &head,
            f,
            &format!("{text}/* kseries cross test */\n"),
            &format!("touch {f}"),
        );
    }
    common::git(&clone, &["update-ref", "refs/heads/cross", &head]).unwrap();
    let mut opts = options(&clone, &format!("{}..cross", base.trim()), "cross");
    opts.compile_check = false;
    opts.boot = false;
    opts.keep_going = true;
    let report = verify_series(&opts).expect("verify runs");
    show(&report);
    for (step, f) in report.steps.iter().zip(files) {
        assert_eq!(step.cross.len(), 1, "{f}");
        let r = &step.cross[0];
        eprintln!("{f}: {:?} in {} ms", r.result, r.duration_ms);
        match &r.result {
            // FailsAtBase: the same errors at the base (gcc 12 noise).
            kseries::verify::FileResult::Ok | kseries::verify::FileResult::FailsAtBase { .. } => {}
            kseries::verify::FileResult::NotCompileTested { reason } => {
                assert!(reason.contains("no cross compiler"), "{f}: {reason}")
            }
            other => panic!("{f}: {other:?}"),
        }
    }
    assert!(report.passed() || report.steps.iter().all(|s| s.status == StepStatus::Pass));
}

/// The acceptance run: the series kseries generates for 4.12 passes verify
/// at every step (x86_64 compile check and cross compiles of every
/// architecture it touches), and its final commit, with the API gone,
/// boots with the auditor seeing events and no violation.
#[test]
fn the_generated_series_verifies_and_its_final_commit_audits_clean() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let (_guard, clone) = common::fresh_clone(&tree);
    common::git(&clone, &["config", "user.name", "kseries test"]).unwrap();
    common::git(&clone, &["config", "user.email", "kseries@example.invalid"]).unwrap();
    let out = common::kseries_ok(&["series", "--format", "json", clone.to_str().unwrap()]);
    let series: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let (base, tip) = (
        series["base"].as_str().unwrap(),
        series["tip"].as_str().unwrap(),
    );
    let commits = series["patches"].as_array().unwrap().len();

    let mut every = options(&clone, &format!("{base}..{tip}"), "series");
    every.boot = false;
    let report = verify_series(&every).expect("verify runs");
    show(&report);
    assert_eq!(report.steps.len(), commits);
    assert!(report.passed(), "{:?}", report.first_failure);

    let mut last = options(&clone, tip, "final");
    last.compile_check = false;
    last.cross = false;
    let report = verify_series(&last).expect("verify runs");
    show(&report);
    assert!(report.passed(), "{:?}", report.first_failure);
    let test = report.steps[0].boot.as_ref().expect("booted");
    assert!(
        !test.auditor.as_ref().unwrap().invalidate_page,
        "the API is gone at the tip"
    );
    let audit = test
        .boot
        .as_ref()
        .unwrap()
        .verdict
        .audit
        .expect("verdict line");
    eprintln!("final verdict: {audit}");
    assert!(audit.events > 0, "{audit}");
    assert_eq!(audit.page, 0, "{audit}");
    assert!(audit.violations().is_empty(), "{audit}");

    the_workflow_matrix_jobs_pass(&clone, base, tip, commits);
}

/// What the GitHub workflow does with the series: `bot matrix` plans one
/// job per commit and check (cross builds only where `arch/<x>/` is
/// touched), and a cross build job and the boot job, run as the verify
/// jobs run them, give results the collector merges into passing checks.
fn the_workflow_matrix_jobs_pass(clone: &Path, base: &str, tip: &str, commits: usize) {
    use kseries::bot::check_runs::{CheckKind, Conclusion, JobResult, merge_job_results};
    use kseries::bot::matrix::Matrix;
    let kseries = |args: &[&str]| String::from_utf8(common::kseries_ok(args)).unwrap();
    let repo = clone.to_str().unwrap();
    let matrix: Matrix = serde_json::from_str(&kseries(&[
        "bot",
        "matrix",
        "--repo",
        repo,
        "--range",
        &format!("{base}..{tip}"),
    ]))
    .unwrap();
    let of = |check: CheckKind, arch: &str| -> Vec<&str> {
        matrix
            .include
            .iter()
            .filter(|j| j.check == check && j.arch == arch)
            .map(|j| j.sha.as_str())
            .collect()
    };
    assert_eq!(of(CheckKind::Build, "x86_64").len(), commits);
    assert_eq!(of(CheckKind::Boot, "x86_64").len(), commits);
    let arm64 = of(CheckKind::Build, "arm64");
    assert!(
        !arm64.is_empty() && arm64.len() < commits,
        "the arm64 builds are the commits that touch arch/arm64: {arm64:?}"
    );
    for sha in &arm64 {
        let touched = common::git(
            clone,
            &["diff-tree", "--no-commit-id", "--name-only", "-r", sha],
        )
        .unwrap();
        assert!(touched.contains("arch/arm64/"), "{sha}: {touched}");
    }

    let work = work_dir();
    let job = |sha: &str, check: &str, arch: &str| -> JobResult {
        let out = kseries(&[
            "verify",
            "--repo",
            repo,
            "--work-dir",
            work.to_str().unwrap(),
            "--commit",
            sha,
            "--check",
            check,
            "--arch",
            arch,
            "--format",
            "job-json",
        ]);
        serde_json::from_str(&out).unwrap()
    };
    let cross = job(arm64[0], "build", "arm64");
    assert_eq!(
        (cross.check, cross.arch.as_str()),
        (CheckKind::Build, "arm64")
    );
    assert_eq!(cross.conclusion, Conclusion::Success, "{cross:?}");
    assert!(cross.files.iter().all(|f| f.status == "ok"), "{cross:?}");
    assert!(!cross.files.is_empty());
    let boot = job(tip, "boot", "x86_64");
    assert_eq!(boot.conclusion, Conclusion::Success, "{boot:?}");
    assert_eq!(boot.files[0].status, "passed", "{boot:?}");

    let merged = merge_job_results(&[cross.clone(), boot]);
    assert_eq!(merged.len(), 2);
    assert!(
        merged.values().all(|o| o.conclusion == Conclusion::Success),
        "{merged:?}"
    );
    assert!(
        merged[&(cross.sha.clone(), CheckKind::Build)]
            .title
            .contains("arm64")
    );
}

/// The auditor's source against stub headers of both shapes (gcc
/// `-fsyntax-only`, no kernel needed): with the flags kseries chooses from
/// each header it compiles, and with the other shape's flags it does not,
/// so a wrong detection or a wrong `#ifdef` fails here.
#[test]
fn the_auditor_compiles_against_both_shapes_of_the_notifier_header() {
    use kseries::verify::boot::{AUDIT_C, auditor_cflags};
    let stubs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audit");
    let compile = |shape_dir: &str, flags: &[String]| -> (bool, String) {
        let dir = tempfile::tempdir().unwrap();
        let linux = dir.path().join("linux");
        std::fs::create_dir_all(&linux).unwrap();
        for h in [
            "module",
            "kernel",
            "init",
            "mm",
            "proc_fs",
            "sched",
            "spinlock",
            "kallsyms",
            "stacktrace",
            "uaccess",
        ] {
            std::fs::write(linux.join(format!("{h}.h")), "").unwrap();
        }
        std::fs::copy(
            stubs.join(shape_dir).join("mmu_notifier.h"),
            linux.join("mmu_notifier.h"),
        )
        .unwrap();
        let c = dir.path().join("kseries_audit.c");
        std::fs::write(&c, AUDIT_C).unwrap();
        let out = std::process::Command::new("gcc")
            .args(["-fsyntax-only", "-std=gnu11", "-Werror"])
            .arg("-Werror=incompatible-pointer-types")
            .arg("-include")
            .arg(stubs.join("kstub.h"))
            .arg("-I")
            .arg(dir.path())
            .args(flags)
            .arg(&c)
            .output()
            .expect("gcc runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The flags verify's build_auditor uses, read from a tree with that
    // header.
    let flags_of = |shape_dir: &str| -> Vec<String> {
        let tree = tempfile::tempdir().unwrap();
        let inc = tree.path().join("include/linux");
        std::fs::create_dir_all(&inc).unwrap();
        std::fs::copy(
            stubs.join(shape_dir).join("mmu_notifier.h"),
            inc.join("mmu_notifier.h"),
        )
        .unwrap();
        auditor_cflags(tree.path())
            .2
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    let old = flags_of("old");
    let range = flags_of("range");
    assert_eq!(range, ["-DHAVE_NOTIFIER_RANGE"]);
    assert_eq!(old, ["-DHAVE_INVALIDATE_PAGE"]);
    for (shape, flags) in [("old", &old), ("range", &range)] {
        let (ok, err) = compile(shape, flags);
        assert!(
            ok,
            "auditor against the {shape} header with {flags:?}:\n{err}"
        );
    }
    // The other shape's callbacks do not fit: the test can tell.
    let (ok, _) = compile("range", &old);
    assert!(
        !ok,
        "old callbacks must not compile against the range header"
    );
    let both: Vec<String> = range.iter().chain(&old).cloned().collect();
    let (ok, _) = compile("old", &both);
    assert!(
        !ok,
        "range callbacks must not compile against the old header"
    );
}

/// The second recipe on 4.12, in both orders: the notifier-range series
/// alone, and on top of the invalidate-page series.  Every step compiles
/// (x86_64 and the architectures it touches), and the tip boots with the
/// auditor's range callbacks taking the range structure, auditing clean.
#[test]
fn the_notifier_range_series_verifies_in_both_orders() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let (_guard, clone) = common::fresh_clone(&tree);
    common::git(&clone, &["config", "user.name", "kseries test"]).unwrap();
    common::git(&clone, &["config", "user.email", "kseries@example.invalid"]).unwrap();
    let dir = clone.to_str().unwrap();

    verify_recipe_series(&clone, "notifier-range", "kseries/nr-alone", "nr-alone");

    common::kseries_ok(&["series", "--format", "json", dir]);
    common::git(&clone, &["checkout", "-q", kseries::series::DEFAULT_BRANCH]).unwrap();
    verify_recipe_series(&clone, "notifier-range", "kseries/nr-after", "nr-after");
}

/// `series --recipe RECIPE` on the clone's HEAD, then verify: every step
/// compiled, the tip booted with the structure-form auditor.
fn verify_recipe_series(clone: &Path, recipe: &str, branch: &str, name: &str) {
    let out = common::kseries_ok(&[
        "series",
        "--format",
        "json",
        "--recipe",
        recipe,
        "--branch",
        branch,
        clone.to_str().unwrap(),
    ]);
    let series: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let (base, tip) = (
        series["base"].as_str().unwrap(),
        series["tip"].as_str().unwrap(),
    );
    let commits = series["patches"].as_array().unwrap().len();
    assert!(commits >= 2, "{recipe} on {name}: {commits} commits");

    let mut every = options(clone, &format!("{base}..{tip}"), name);
    every.boot = false;
    let report = verify_series(&every).expect("verify runs");
    show(&report);
    assert_eq!(report.steps.len(), commits);
    assert!(report.passed(), "{name}: {:?}", report.first_failure);

    let mut last = options(clone, tip, &format!("{name}-tip"));
    last.compile_check = false;
    last.cross = false;
    let report = verify_series(&last).expect("verify runs");
    show(&report);
    assert!(report.passed(), "{name}: {:?}", report.first_failure);
    let test = report.steps[0].boot.as_ref().expect("booted");
    let auditor = test.auditor.as_ref().unwrap();
    assert!(
        auditor.range_callbacks.range_struct,
        "{name}: the tip's callbacks take the range structure"
    );
    let audit = test
        .boot
        .as_ref()
        .unwrap()
        .verdict
        .audit
        .expect("verdict line");
    eprintln!("{name} tip verdict: {audit}");
    assert!(audit.events > 0, "{audit}");
    assert!(audit.violations().is_empty(), "{audit}");
}
