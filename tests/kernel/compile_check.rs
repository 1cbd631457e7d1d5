//! The compile check on the real Linux 4.12 tree.
//!
//! The shared tree is only read: objects go to a build directory in the
//! user's cache (`default_build_dir`), which persists across runs so that a
//! warm run skips `make allmodconfig`.  Tests that write source use a fresh
//! clone and a temporary build directory.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use kseries::verify::{
    Arch, Baseline, CompileReport, CompileRequest, FileResult, VerifyError, compile_check,
    default_build_dir,
};

/// One kernel build at a time in this binary: the machine has 2 cores and
/// each build already runs `make -j2`.  (The build directory itself is also
/// locked by the library, which is what makes sharing it safe.)
static ONE_BUILD_AT_A_TIME: Mutex<()> = Mutex::new(());

fn build_slot() -> MutexGuard<'static, ()> {
    ONE_BUILD_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn paths(files: &[&str]) -> Vec<PathBuf> {
    files.iter().map(PathBuf::from).collect()
}

fn check(tree: &Path, files: &[&str]) -> CompileReport {
    let build_dir = default_build_dir(tree, Arch::X86_64);
    let req = CompileRequest::new(tree, build_dir, paths(files));
    let report = compile_check(&req).expect("compile check runs");
    print_timings(&report);
    report
}

fn print_timings(report: &CompileReport) {
    if let Some(config) = &report.config {
        eprintln!(
            "[timing] {}: allmodconfig {}, prepare {} ms",
            report.build_dir.display(),
            config
                .config_ms
                .map_or("reused".to_string(), |ms| format!("{ms} ms")),
            config.prepare_ms
        );
    }
    for file in &report.files {
        eprintln!(
            "[timing] {}: {} ms, {:?}",
            file.file.display(),
            file.duration_ms,
            status(&file.result)
        );
    }
    eprintln!("[timing] total {} ms", report.total_ms);
}

fn status(result: &FileResult) -> &'static str {
    match result {
        FileResult::Ok => "ok",
        FileResult::Failed { .. } => "failed",
        FileResult::FailsAtBase { .. } => "fails_at_base",
        FileResult::NotCompileTested { .. } => "not_compile_tested",
    }
}

fn result_of<'a>(report: &'a CompileReport, file: &str) -> &'a FileResult {
    &report
        .file(file)
        .unwrap_or_else(|| panic!("{file} missing from report"))
        .result
}

/// Nothing may appear in the shared tree: no `.config`, no objects, no
/// generated headers (`--ignored` lists what the kernel's .gitignore hides).
fn assert_tree_untouched(tree: &Path) {
    let out = Command::new("git")
        .current_dir(tree)
        .args([
            "status",
            "--porcelain",
            "--ignored",
            "--untracked-files=all",
        ])
        // Read-only: do not let `git status` refresh the shared index.
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .expect("git status");
    assert!(out.status.success());
    let dirty = String::from_utf8_lossy(&out.stdout);
    assert!(dirty.is_empty(), "the shared tree was modified:\n{dirty}");
}

#[test]
fn invalidate_page_users_compile_ok_for_x86_64() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let _slot = build_slot();
    let files = [
        "mm/rmap.c",
        "fs/dax.c",
        "mm/mmu_notifier.c",
        "virt/kvm/kvm_main.c",
        "arch/x86/kvm/x86.c",
    ];
    let report = check(&tree, &files);
    for file in files {
        assert_eq!(result_of(&report, file), &FileResult::Ok, "{file}");
    }
    // Every Ok stands for an object that was really built just now.
    for file in &report.files {
        let object = report.build_dir.join(file.object.as_ref().unwrap());
        assert!(object.is_file(), "{} missing", object.display());
        assert!(file.duration_ms > 0);
    }
    assert_eq!(
        report.files[3].object.as_deref(),
        Some(Path::new("virt/kvm/kvm_main.o"))
    );
    let config = report.config.as_ref().expect("a build was configured");
    assert_eq!(config.target, "allmodconfig");
    let kconfig = std::fs::read_to_string(report.build_dir.join(".config")).unwrap();
    assert!(kconfig.contains("CONFIG_KVM=m"));
    assert!(kconfig.contains("# CONFIG_STACK_VALIDATION is not set"));
    assert!(report.no_failures());
    assert_tree_untouched(&tree);
}

#[test]
fn a_header_is_checked_through_a_c_file_that_includes_it() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let _slot = build_slot();
    let report = check(&tree, &["include/linux/mmu_notifier.h"]);
    let file = report.file("include/linux/mmu_notifier.h").unwrap();
    assert_eq!(file.result, FileResult::Ok);
    let host = file.compiled_as.as_ref().expect("a host .c file");
    eprintln!(
        "include/linux/mmu_notifier.h compiled as {}",
        host.display()
    );
    assert_eq!(host.extension().unwrap(), "c");
    let text = std::fs::read_to_string(tree.join(host)).unwrap();
    assert!(
        text.contains("#include <linux/mmu_notifier.h>"),
        "{}",
        host.display()
    );
    assert_tree_untouched(&tree);
}

/// The tree lacks two vega10 `*_sh_mask.h` headers.  Files that include
/// them cannot be compiled and are "not compile-tested", never failed nor
/// ok.  `amdgpu_mn.c` (the invalidate_page user) does not include them:
/// measured, its object compiles on its own, and its dependency list
/// proves the missing headers play no part, so Ok is the honest answer.
/// A file no Makefile builds and userspace code are not compile-tested
/// either.
#[test]
fn files_this_tree_cannot_build_are_not_compile_tested() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let _slot = build_slot();
    let amdgpu_mn = "drivers/gpu/drm/amd/amdgpu/amdgpu_mn.c";
    let nbio = "drivers/gpu/drm/amd/amdgpu/nbio_v6_1.c";
    let no_makefile = "Documentation/scheduler/sched-pelt.c";
    let userspace = "tools/perf/perf.c";
    let report = check(&tree, &[amdgpu_mn, nbio, no_makefile, userspace]);
    let reason_of = |file| match result_of(&report, file) {
        FileResult::NotCompileTested { reason } => reason.clone(),
        other => panic!("{file}: expected not compile-tested, got {other:?}"),
    };
    let reason = reason_of(nbio);
    assert!(reason.starts_with("missing headers"), "{reason}");
    assert!(reason.contains("nbio_6_1_sh_mask.h"), "{reason}");
    let reason = reason_of(no_makefile);
    assert!(reason.contains("no Makefile rule"), "{reason}");
    let reason = reason_of(userspace);
    assert!(reason.contains("userspace"), "{reason}");
    assert_eq!(report.file(userspace).unwrap().duration_ms, 0);

    assert_eq!(result_of(&report, amdgpu_mn), &FileResult::Ok);
    let deps = report
        .build_dir
        .join("drivers/gpu/drm/amd/amdgpu/.amdgpu_mn.o.cmd");
    let deps = std::fs::read_to_string(deps).unwrap();
    assert!(deps.contains("include/linux/mmu_notifier.h"));
    assert!(!deps.contains("_sh_mask.h"));
    assert!(report.no_failures());
    assert_tree_untouched(&tree);
}

#[test]
fn other_architectures_are_not_compile_tested_on_x86_64() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let files = ["arch/arm/include/asm/kvm_host.h", "arch/arm64/kvm/guest.c"];
    let report = check(&tree, &files);
    for file in files {
        match result_of(&report, file) {
            FileResult::NotCompileTested { reason } => {
                assert!(reason.contains("arch/arm"), "{file}: {reason}")
            }
            other => panic!("{file}: expected not compile-tested, got {other:?}"),
        }
    }
    // Nothing to build, so nothing was built.
    assert!(report.config.is_none());
}

#[test]
fn a_syntax_error_fails_with_its_line_and_base_failures_are_told_apart() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    // Cloning is disk work (tens of seconds here): let builds run meanwhile.
    let (_guard, clone) = common::fresh_clone(&tree);
    let rmap = clone.join("mm/rmap.c");
    let text = std::fs::read_to_string(&rmap).unwrap();
    let broken = text.replacen(
        "void page_add_new_anon_rmap(",
        "int kseries_broken = ;\nvoid page_add_new_anon_rmap(",
        1,
    );
    assert_ne!(text, broken, "injection point not found");
    std::fs::write(&rmap, broken).unwrap();
    // A header the tree lacks, but included by the patch, not by the base.
    let dax = clone.join("fs/dax.c");
    let text = std::fs::read_to_string(&dax).unwrap();
    std::fs::write(&dax, format!("#include <linux/kseries_no_such.h>\n{text}")).unwrap();

    let _slot = build_slot();
    let build = tempfile::Builder::new()
        .prefix("kseries-build-")
        .tempdir_in(common::cache_dir())
        .unwrap();
    // hns_roce_alloc.c fails with gcc 12 at the base already.
    let hns = "drivers/infiniband/hw/hns/hns_roce_alloc.c";
    let mut req = CompileRequest::new(&clone, build.path(), paths(&["mm/rmap.c", hns, "fs/dax.c"]));
    req.baseline = Some(Baseline {
        tree: tree.clone(),
        build_dir: default_build_dir(&tree, Arch::X86_64),
    });
    let report = compile_check(&req).expect("compile check runs");
    print_timings(&report);

    match result_of(&report, "mm/rmap.c") {
        FileResult::Failed { errors } => {
            eprintln!("mm/rmap.c errors:\n{errors}");
            let first = errors.lines().next().unwrap();
            assert!(first.contains("mm/rmap.c:"), "{errors}");
            assert!(first.contains("error:"), "{errors}");
            assert!(errors.lines().count() < 20, "noise kept:\n{errors}");
        }
        other => panic!("expected failure, got {other:?}"),
    }
    match result_of(&report, hns) {
        FileResult::FailsAtBase { errors } => assert!(errors.contains("error:"), "{errors}"),
        other => panic!("expected a failure the base has too, got {other:?}"),
    }
    match result_of(&report, "fs/dax.c") {
        FileResult::Failed { errors } => {
            eprintln!("fs/dax.c errors:\n{errors}");
            assert!(errors.contains("kseries_no_such.h"), "{errors}");
            assert!(errors.contains("base tree compiles"), "{errors}");
        }
        other => panic!("a missing header the base does not miss is a failure, got {other:?}"),
    }
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["files"][0]["result"]["status"], "failed");
    assert_eq!(json["files"][1]["result"]["status"], "fails_at_base");
    assert_tree_untouched(&tree);
}

/// A directory with just enough to pass for a kernel tree, for the checks
/// that must stop before any `make` runs.
fn fake_tree() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for file in ["Makefile", "Kbuild", "mm/rmap.c"] {
        let path = tmp.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
    }
    tmp
}

#[test]
fn a_build_dir_kseries_did_not_make_is_refused_not_wiped() {
    let tree = fake_tree();
    let build = tempfile::tempdir().unwrap();
    std::fs::write(build.path().join("notes.txt"), "mine").unwrap();
    let req = CompileRequest::new(tree.path(), build.path(), paths(&["mm/rmap.c"]));
    let err = compile_check(&req).unwrap_err();
    assert!(matches!(err, VerifyError::ForeignBuildDir(_)), "{err}");
    assert!(build.path().join("notes.txt").is_file());
}

#[test]
fn a_source_tree_configured_in_place_is_refused() {
    let tree = fake_tree();
    std::fs::write(tree.path().join(".config"), "").unwrap();
    let build = tempfile::tempdir().unwrap();
    let req = CompileRequest::new(tree.path(), build.path(), paths(&["mm/rmap.c"]));
    let err = compile_check(&req).unwrap_err();
    assert!(matches!(err, VerifyError::SourceTreeNotClean(_)), "{err}");
}

#[test]
fn paths_outside_the_tree_are_refused() {
    let tree = fake_tree();
    let build = tempfile::tempdir().unwrap();
    let req = CompileRequest::new(tree.path(), build.path(), paths(&["../etc/passwd"]));
    let err = compile_check(&req).unwrap_err();
    assert!(matches!(err, VerifyError::BadPath(_)), "{err}");
}

#[test]
fn default_build_dirs_are_per_tree_and_outside_it() {
    let a = fake_tree();
    let b = fake_tree();
    let dir_a = default_build_dir(a.path(), Arch::X86_64);
    assert_ne!(dir_a, default_build_dir(b.path(), Arch::X86_64));
    assert!(!dir_a.starts_with(a.path()));
    assert!(!dir_a.starts_with(common::project_root()));
    let name = dir_a.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.ends_with("-x86_64"), "{name}");
    assert!(dir_a.to_string_lossy().contains("kseries/build/"));
}

/// A stand-in for the kernel's top Makefile, to test the pipeline around
/// `make` in milliseconds: `allmodconfig` writes a `.config`, `prepare`
/// fails with a compiler error when `prepare_error` exists in the tree,
/// `mm/ok.o` is built, `mm/bad.o` fails, `mm/lazy.o` "succeeds" without
/// writing an object.
const FAKE_KBUILD: &str = r#"
allmodconfig:
\t@test -f "$(KCONFIG_ALLCONFIG)" && cp "$(KCONFIG_ALLCONFIG)" "$(O)/.config"
prepare:
\t@if [ -f prepare_error ]; then echo 'include/linux/x.h:1:2: error: broken header'; exit 1; fi
mm/ok.o:
\t@mkdir -p "$(O)/mm" && touch "$(O)/mm/ok.o"
mm/bad.o:
\t@echo 'mm/bad.c:3:1: warning: noise'; echo 'mm/bad.c:7:1: error: oops'; exit 1
mm/lazy.o:
\t@true
"#;

fn fake_kbuild_tree() -> tempfile::TempDir {
    let tree = fake_tree();
    // Recipes need real tabs; the source spells them `\t`.
    let makefile = FAKE_KBUILD.replace("\\t", "\t");
    std::fs::write(tree.path().join("Makefile"), makefile).unwrap();
    for file in ["mm/ok.c", "mm/bad.c", "mm/lazy.c"] {
        std::fs::write(tree.path().join(file), "").unwrap();
    }
    tree
}

#[test]
fn results_follow_what_make_really_did() {
    let tree = fake_kbuild_tree();
    let build = tempfile::tempdir().unwrap();
    let files = paths(&["mm/ok.c", "mm/bad.c", "mm/lazy.c"]);
    let req = CompileRequest::new(tree.path(), build.path(), files);
    let report = compile_check(&req).unwrap();
    assert_eq!(result_of(&report, "mm/ok.c"), &FileResult::Ok);
    assert_eq!(
        result_of(&report, "mm/bad.c"),
        &FileResult::Failed {
            errors: "mm/bad.c:7:1: error: oops".to_string()
        }
    );
    // make said yes but built nothing: not a pass.
    assert!(matches!(
        result_of(&report, "mm/lazy.c"),
        FileResult::NotCompileTested { .. }
    ));
    let config = report.config.as_ref().unwrap();
    assert!(config.config_ms.is_some());
    let kconfig = std::fs::read_to_string(build.path().join(".config")).unwrap();
    assert!(kconfig.contains("# CONFIG_STACK_VALIDATION is not set"));

    // Second run: configuration reused, the object rebuilt from scratch.
    let report = compile_check(&req).unwrap();
    assert_eq!(report.config.as_ref().unwrap().config_ms, None);
    assert_eq!(result_of(&report, "mm/ok.c"), &FileResult::Ok);
}

#[test]
fn a_prepare_broken_by_the_code_fails_every_file() {
    let tree = fake_kbuild_tree();
    std::fs::write(tree.path().join("prepare_error"), "").unwrap();
    let build = tempfile::tempdir().unwrap();
    let req = CompileRequest::new(tree.path(), build.path(), paths(&["mm/ok.c"]));
    let report = compile_check(&req).unwrap();
    match result_of(&report, "mm/ok.c") {
        FileResult::Failed { errors } => {
            assert!(errors.contains("make prepare failed"), "{errors}");
            assert!(errors.contains("include/linux/x.h:1:2: error: broken header"));
        }
        other => panic!("expected failure, got {other:?}"),
    }
}
