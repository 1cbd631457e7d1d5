//! `kseries rewrite` on the corpus and on the real 4.12 tree.

use crate::common;

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn kseries() -> Command {
    Command::cargo_bin("kseries").unwrap()
}

/// A git copy of the corpus, without the files whose API uses must wait
/// for a human (a macro that hides a call, code that does not parse).
fn convertible_corpus() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join("corpus");
    common::copy_dir(&common::corpus(), &dst);
    std::fs::remove_file(dst.join("fs/blobfs/blob_compat.h")).unwrap();
    std::fs::remove_file(dst.join("fs/blobfs/broken.c")).unwrap();
    // The linter's fixtures of historical bugs are bugs on purpose, and
    // its later-kernel and range-structure trees have a bracket API of
    // their own.
    for own in ["check/bugs", "check/later", "check/range"] {
        std::fs::remove_dir_all(dst.join(own)).unwrap();
    }
    git_init(&dst);
    (tmp, dst)
}

fn git_init(dir: &Path) {
    common::git(dir, &["init", "-q"]).unwrap();
    common::git(dir, &["add", "-A"]).unwrap();
    common::git(dir, &["commit", "-q", "-m", "base"]).unwrap();
}

fn plan_json(dir: &Path) -> Value {
    let dir = dir.to_str().unwrap();
    let out = common::kseries_ok(&["rewrite", "--format", "json", "--allow-partial", dir]);
    serde_json::from_slice(&out).unwrap()
}

fn scan_kinds(dir: &Path) -> Value {
    let out = common::kseries_ok(&["scan", "--format", "json", dir.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&out).unwrap();
    v["summary"]["sites"].clone()
}

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap()
}

/// The body of function `name` in C source `src` (from its name to the
/// closing brace at column 0).
fn function<'a>(src: &'a str, name: &str) -> &'a str {
    let start = src
        .find(&format!("{name}("))
        .unwrap_or_else(|| panic!("{name} not found"));
    let end = src[start..].find("\n}\n").map(|e| start + e + 3).unwrap();
    &src[start..end]
}

#[test]
fn corpus_plan_is_in_bisectable_stage_order() {
    let (_tmp, dir) = convertible_corpus();
    let plan = plan_json(&dir);
    let stages: Vec<&str> = plan["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["callers", "callbacks", "callbacks", "kvm", "api"]);
    assert_eq!(plan["needs_review"], serde_json::json!([]));
    for u in plan["units"].as_array().unwrap() {
        assert!(
            !u["rationale"].as_array().unwrap().is_empty(),
            "every unit says why: {u}"
        );
        for f in u["files"].as_array().unwrap() {
            assert_eq!(f["base_blob"].as_str().unwrap().len(), 40);
        }
    }
    let gizmo = &plan["units"][1];
    assert!(
        gizmo["review_notes"][0]
            .as_str()
            .unwrap()
            .contains("converted, not removed"),
        "{gizmo}"
    );
}

#[test]
fn corpus_apply_leaves_no_old_api_and_every_bracket_closed() {
    let (_tmp, dir) = convertible_corpus();
    let plan = plan_json(&dir);
    common::kseries_ok(&["rewrite", "--apply", dir.to_str().unwrap()]);

    assert_migrated(&dir, &plan);

    let shrink = read(&dir, "mm/shrink.c");
    // Each converted function: one start, an end on every path out, and
    // the atomic call with a byte range under the lock.
    for (f, ends) in [
        ("shrink_wrprotect_one", 2),
        ("shrink_clear_pte", 2),
        ("shrink_list", 2),
    ] {
        let body = function(&shrink, f);
        assert_bracketed(body, ends);
        assert!(
            !body.contains("1UL << compound_order"),
            "page count used as a length: {body}"
        );
    }
    let walk = function(&shrink, "shrink_wrprotect_one");
    assert!(
        walk.contains("span = PAGE_SIZE << compound_order(page);"),
        "{walk}"
    );
    assert!(
        walk.contains("start = max(vma->vm_start, address & ~(span - 1));"),
        "{walk}"
    );
    // The early return gets its end after the walk is done with the lock.
    let ret = walk.find("return false;").unwrap();
    let end_before_ret = walk[..ret]
        .rfind("mmu_notifier_invalidate_range_end(")
        .unwrap();
    assert!(
        walk[..end_before_ret]
            .rfind("page_vma_mapped_walk_done(&pvmw);")
            .is_some()
    );

    // The pre-4.11 shapes: a lookup that returns the pte with its lock
    // held through an out-parameter, and the call after the unlock.
    let legacy = read(&dir, "mm/legacy_rmap.c");
    for (f, ends) in [("legacy_wrprotect_one", 1), ("legacy_unmap_one", 2)] {
        let body = function(&legacy, f);
        assert_bracketed(body, ends);
        assert!(!body.contains("invalidate_page"), "{body}");
        // The lookup's entry may be a huge one: the bracket covers the
        // whole compound page, and starts right before the lookup.
        assert!(
            body.contains("span = PAGE_SIZE << compound_order(page);"),
            "{body}"
        );
        let after_start = body
            .split("mmu_notifier_invalidate_range_start(mm, start, end);\n")
            .nth(1)
            .unwrap();
        assert!(
            after_start.trim_start().starts_with("pte = page_lock_pte("),
            "{body}"
        );
    }
    let clean = function(&legacy, "legacy_wrprotect_one");
    assert!(
        clean.contains("set_pte_at(mm, address, pte, entry);\n\t\tmmu_notifier_invalidate_range(mm, address, address + PAGE_SIZE);"),
        "the range call goes under the lock right after the change: {clean}"
    );
    assert!(
        clean.contains("\tif (changed)\n\t\t(*count)++;\n"),
        "a one-statement block loses its braces: {clean}"
    );
    assert!(
        clean.contains("out:\n\tmmu_notifier_invalidate_range_end(mm, start, end);\n\treturn 0;"),
        "{clean}"
    );
    let unmap = function(&legacy, "legacy_unmap_one");
    assert!(
        unmap.contains(
            "out_unmap:\n\tif (ret != LEGACY_FAIL && ret != LEGACY_MLOCKED)\n\t\tmmu_notifier_invalidate_range(mm, address, address + PAGE_SIZE);\n\tpte_unmap_unlock(pte, ptl);\n"
        ),
        "changes on several paths: the range call moves before the unlock, under the same test: {unmap}"
    );
    let start = unmap.find("mmu_notifier_invalidate_range_start(").unwrap();
    assert!(
        unmap[..start].contains("goto out;"),
        "the early exit before the lookup stays outside the bracket"
    );
    assert!(
        unmap.contains("if (!pte) {\n\t\tmmu_notifier_invalidate_range_end(mm, start, end);\n\t\tgoto out;\n\t}"),
        "{unmap}"
    );
    assert!(
        unmap.contains("mmu_notifier_invalidate_range_end(mm, start, end);\nout:\n"),
        "{unmap}"
    );

    // The callback whose work is not covered is converted, not dropped.
    let gizmo = read(&dir, "drivers/gizmo/gizmo_svm.c");
    assert!(
        gizmo.contains("gizmo_invalidate_page(mn, mm, addr);"),
        "{gizmo}"
    );
    assert!(gizmo.contains("g->dirty_hint = 0;"));
    // A callback used elsewhere stays; its entry goes.
    assert!(read(&dir, "drivers/widget/widget_tlb.c").contains("void widget_zap("));
    // The real arch hook checks its address against the range.
    let bar = read(&dir, "arch/bar/kvm/bar.c");
    assert!(
        bar.contains("if (start <= address && address < end)"),
        "{bar}"
    );
    // KVM's hook runs from a new ->invalidate_range callback, after the
    // change, inside the SRCU read lock the page callback held; not from
    // range_start, before the change.
    let kvm = read(&dir, "virt/kvm/kvm_main.c");
    let cb = function(&kvm, "static void kvm_mmu_notifier_invalidate_range");
    assert!(
        cb.contains("\tidx = srcu_read_lock(&kvm->srcu);\n\tkvm_arch_mmu_notifier_invalidate_range(kvm, start, end);\n\tsrcu_read_unlock(&kvm->srcu, idx);"),
        "{cb}"
    );
    assert!(
        !function(&kvm, "kvm_mmu_notifier_invalidate_range_start").contains("kvm_arch_"),
        "{kvm}"
    );
    assert!(
        kvm.contains(".invalidate_range\t= kvm_mmu_notifier_invalidate_range,"),
        "{kvm}"
    );
    assert!(
        read(&dir, "include/linux/kvm_host.h")
            .contains("void kvm_arch_mmu_notifier_invalidate_range(")
    );
    // The false friends are untouched.
    let diff = common::git(&dir, &["diff", "--name-only"]).unwrap();
    assert!(
        !diff.contains("cleancache") && !diff.contains("swapcache") && !diff.contains("blob"),
        "{diff}"
    );
}

/// A tree of our own shapes (tests/fixtures/migration) next to the
/// corpus' notifier header.
fn migration_tree() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join("tree");
    common::copy_dir(
        &common::project_root().join("tests/fixtures/migration"),
        &dst,
    );
    std::fs::create_dir_all(dst.join("include/linux")).unwrap();
    std::fs::copy(
        common::corpus().join("include/linux/mmu_notifier.h"),
        dst.join("include/linux/mmu_notifier.h"),
    )
    .unwrap();
    git_init(&dst);
    (tmp, dst)
}

fn unit_of<'a>(plan: &'a Value, file: &str) -> &'a Value {
    plan["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| {
            u["files"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["path"] == file)
        })
        .unwrap_or_else(|| panic!("no unit touches {file}: {plan}"))
}

fn texts(u: &Value, field: &str) -> String {
    u[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn callbacks_go_with_what_only_they_fed_or_are_converted_when_not_shown_covered() {
    let (_tmp, dir) = migration_tree();
    let plan = plan_json(&dir);
    assert_eq!(plan["needs_review"], serde_json::json!([]), "{plan}");

    // frob: its flush is the range callback's for the page; its counter
    // goes with its declaration and printer, its debug message with it.
    let frob = unit_of(&plan, "drivers/frob/frob_mn.c");
    let files: Vec<&str> = frob["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "drivers/frob/frob.h",
            "drivers/frob/frob_mn.c",
            "drivers/frob/frob_proc.c"
        ]
    );
    let why = texts(frob, "rationale");
    assert!(
        why.contains("`frob_flush(f, address, PAGE_SIZE)` is `frob_flush(f, start, end - start)` in frob_range_start()"),
        "{why}"
    );
    assert!(
        why.contains(
            "`FROB_STAT(page_flushes)` fed `page_flushes`, which nothing else in the tree feeds"
        ),
        "{why}"
    );
    assert!(why.contains("pr_debug("), "{why}");
    let notes = texts(frob, "review_notes");
    assert!(
        notes.contains("drivers/frob/frob_proc.c: `printstat(s, page_flushes)`"),
        "{notes}"
    );
    assert!(
        notes.contains(
            "`trace_frob_page(address)` was the only caller of the trace point frob_page"
        ),
        "{notes}"
    );

    // blip: a store no range callback makes; it sleeps, so its work moves
    // to a new invalidate_range_end callback.
    let blip = texts(unit_of(&plan, "drivers/blip/blip_mn.c"), "rationale");
    assert!(blip.contains("`b->evictions++`"), "{blip}");
    assert!(blip.contains("mutex_lock"), "{blip}");

    // zork: the same helper with another flag is not the same flush.
    let zork = texts(unit_of(&plan, "drivers/zork/zork_mn.c"), "rationale");
    assert!(
        zork.contains("zork_range() makes `zork_flush(z, start, (end - start) >> PAGE_SHIFT, 0)`, with other values"),
        "{zork}"
    );
    assert!(
        !zork.contains("is `zork_flush"),
        "no pair of different flushes: {zork}"
    );

    // The walker's accessed-bit test ends up inside the bracket: named.
    let age = unit_of(&plan, "mm/age.c");
    assert!(
        texts(age, "rationale")
            .contains("age_unmap_one() now calls ptep_clear_flush_young_notify() inside"),
        "{age}"
    );
    assert!(texts(age, "review_notes").contains("ptep_clear_flush_young_notify()"));

    common::kseries_ok(&["rewrite", "--apply", dir.to_str().unwrap()]);
    let h = read(&dir, "drivers/frob/frob.h");
    assert!(!h.contains("page_flushes") && h.contains("range_flushes") && h.contains("faults"));
    let p = read(&dir, "drivers/frob/frob_proc.c");
    assert!(!p.contains("page_flushes") && p.contains("printstat(s, faults);"));
    assert!(!read(&dir, "drivers/frob/frob_mn.c").contains("frob_page"));
    let b = read(&dir, "drivers/blip/blip_mn.c");
    assert!(
        b.contains(".invalidate_range_end\t= blip_page_range_end,"),
        "{b}"
    );
    assert!(function(&b, "static void blip_page_range_end").contains("blip_page(mn, mm, addr);"));
    let z = read(&dir, "drivers/zork/zork_mn.c");
    assert!(
        function(&z, "static void zork_range").contains("zork_page(mn, mm, addr);"),
        "{z}"
    );
    // The linter: only the named accessed-bit test, no error.
    assert_check_clean(&dir, &plan);
}

/// KVM ops that already set `->invalidate_range`: the hook is not merged
/// into that callback blindly; the KVM unit waits for a human, and so
/// does the API.
#[test]
fn an_existing_atomic_callback_is_left_to_a_human() {
    let (_tmp, dir) = convertible_corpus();
    let kvm = read(&dir, "virt/kvm/kvm_main.c");
    let kvm = kvm
        .replace(
            "static const struct mmu_notifier_ops kvm_mmu_notifier_ops = {\n",
            "static void kvm_mmu_notifier_flush(struct mmu_notifier *mn,\n\t\t\t\t    struct mm_struct *mm,\n\t\t\t\t    unsigned long start, unsigned long end)\n{\n\tkvm_flush_remote_tlbs(mmu_notifier_to_kvm(mn));\n}\n\nstatic const struct mmu_notifier_ops kvm_mmu_notifier_ops = {\n\t.invalidate_range\t= kvm_mmu_notifier_flush,\n",
        );
    std::fs::write(dir.join("virt/kvm/kvm_main.c"), kvm).unwrap();
    common::git(&dir, &["commit", "-qam", "kvm with invalidate_range"]).unwrap();
    let plan = plan_json(&dir);
    let review = plan["needs_review"].to_string();
    assert!(
        review.contains("already sets .invalidate_range = kvm_mmu_notifier_flush()"),
        "{review}"
    );
    let stages: Vec<&str> = plan["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["callers", "callbacks", "callbacks"]);
}

#[test]
fn uses_left_for_review_keep_the_later_stages_and_fail_without_allow_partial() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("corpus");
    common::copy_dir(&common::corpus(), &dir);
    let out = kseries().arg("rewrite").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fs/blobfs/blob_compat.h:6: needs-review"),
        "{err}"
    );
    assert!(
        err.contains("callbacks, KVM hooks and the API are kept"),
        "{err}"
    );

    let plan = plan_json(&dir);
    let stages: Vec<&str> = plan["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        ["callers"],
        "only the callers may change while uses wait for review"
    );
}

#[test]
fn apply_refuses_a_dirty_tree_and_a_tree_without_git() {
    let (_tmp, dir) = convertible_corpus();
    std::fs::write(
        dir.join("mm/shrink.c"),
        read(&dir, "mm/shrink.c") + "\n/* local edit */\n",
    )
    .unwrap();
    let before = read(&dir, "mm/shrink.c");
    let out = kseries()
        .args(["rewrite", "--apply"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("uncommitted changes"));
    assert_eq!(read(&dir, "mm/shrink.c"), before, "nothing written");

    let tmp = tempfile::tempdir().unwrap();
    let plain = tmp.path().join("plain");
    common::copy_dir(&common::corpus(), &plain);
    let out = kseries()
        .args(["rewrite", "--apply", "--allow-partial"])
        .arg(&plain)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a git work tree"));
}

#[test]
fn linux_4_12_rewrite_is_complete_clean_and_compiles() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let (_guard, clone) = common::fresh_clone(&tree);
    let before = scan_json_full(&clone);
    let plan = plan_json(&clone);
    assert_eq!(
        plan["needs_review"],
        serde_json::json!([]),
        "the 4.12 tree converts fully"
    );

    common::kseries_ok(&["rewrite", "--apply", clone.to_str().unwrap()]);
    assert_migrated(&clone, &plan);

    // Only the files that hold a site (and the generic KVM header that
    // gains the range hook) change, and those a unit's rationale names
    // (the declaration and printer of a counter only a removed callback
    // fed).
    let changed: Vec<String> = common::git(&clone, &["diff", "--name-only"])
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let site_files: std::collections::BTreeSet<String> = before["sites"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["kind"] != "unrelated" || s["reason"].as_str().unwrap().starts_with("comment")
        })
        .map(|s| s["file"].as_str().unwrap().to_string())
        .collect();
    let rationale: String = plan["units"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|u| u["rationale"].as_array().unwrap().iter())
        .map(|r| r.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    for f in &changed {
        assert!(
            site_files.contains(f)
                || f == "include/linux/kvm_host.h"
                || rationale.contains(&format!("({f})")),
            "{f} changed without a site"
        );
    }
    // A counter only a removed page callback fed (GRU's) goes with its
    // declaration and printer, in files that hold no site.
    let counters: Vec<&str> = rationale
        .split("\n")
        .filter(|r| r.contains("which nothing else in the tree feeds"))
        .collect();
    assert!(!counters.is_empty(), "{rationale}");
    assert!(
        changed
            .iter()
            .any(|f| !site_files.contains(f)
                && counters.iter().any(|r| r.contains(&format!("({f})")))),
        "{changed:?}"
    );

    // checkpatch judges the whole diff.
    let diff = common::git(&clone, &["diff"]).unwrap();
    let patch = clone.join("../rewrite.diff");
    std::fs::write(&patch, &diff).unwrap();
    let cp = std::process::Command::new("perl")
        .args([
            "scripts/checkpatch.pl",
            "--no-tree",
            "--strict",
            "--no-signoff",
            "--quiet",
        ])
        .arg(&patch)
        .current_dir(&clone)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&cp.stdout);
    assert!(
        !report.contains("ERROR:") && !report.contains("WARNING:"),
        "{report}"
    );

    // Every touched x86_64 .c file compiles.
    let files: Vec<PathBuf> = changed
        .iter()
        .filter(|f| f.ends_with(".c"))
        .map(PathBuf::from)
        .collect();
    let build = common::cache_dir().join("build-rewrite-test");
    let req = kseries::verify::CompileRequest::new(clone.clone(), build, files.clone());
    let report = kseries::verify::compile_check(&req).expect("compile check runs");
    for f in &report.files {
        match &f.result {
            kseries::verify::FileResult::Ok => {}
            kseries::verify::FileResult::NotCompileTested { reason } => {
                assert!(
                    !f.file.starts_with("arch/x86") && !f.file.starts_with("mm"),
                    "{}: {reason}",
                    f.file.display()
                );
            }
            other => panic!("{} does not compile: {other:?}", f.file.display()),
        }
    }
    let compiled = report
        .files
        .iter()
        .filter(|f| matches!(f.result, kseries::verify::FileResult::Ok))
        .count();
    assert!(
        compiled >= 10,
        "most touched files compile for x86_64: {:?}",
        report.files
    );
}

fn scan_json_full(dir: &Path) -> Value {
    let out = kseries()
        .args(["scan", "--format", "json"])
        .arg(dir)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// One start, `ends` ends (one per path out), and one atomic call.
fn assert_bracketed(body: &str, ends: usize) {
    for (call, n) in [
        ("mmu_notifier_invalidate_range_start(", 1),
        ("mmu_notifier_invalidate_range_end(", ends),
        ("mmu_notifier_invalidate_range(", 1),
    ] {
        assert_eq!(body.matches(call).count(), n, "{call}: {body}");
    }
}

/// No site of the old API is left, and the linter is content.
fn assert_migrated(dir: &Path, plan: &Value) {
    let kinds = scan_kinds(dir);
    for k in [
        "call",
        "ops-entry",
        "callback",
        "arch-hook",
        "api",
        "needs-review",
    ] {
        assert_eq!(kinds[k], 0, "{k} left after rewrite: {kinds}");
    }
    assert_check_clean(dir, plan);
}

/// `kseries check` finds no error and no warning (notes may remain: they
/// point at brackets far up a call chain, which pristine code has too),
/// but the accessed-bit tests (W2) the plan's review notes name.
fn assert_check_clean(dir: &Path, plan: &Value) {
    let notes: Vec<String> = plan["units"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|u| u["review_notes"].as_array().unwrap().iter())
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    let out = kseries()
        .args(["check", "--format", "json"])
        .arg(dir)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bad: Vec<&Value> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] != "note")
        .filter(|d| {
            let named = d["code"] == "W2"
                && notes.iter().any(|n| {
                    n.starts_with(&format!("{}:", d["file"].as_str().unwrap()))
                        && n.contains(&format!("{}()", d["function"].as_str().unwrap_or("?")))
                });
            !named
        })
        .collect();
    assert!(bad.is_empty(), "check after rewrite: {bad:?}");
    assert!(out.status.success());
}

/// `git status --porcelain`, untracked files included, one entry a line.
fn status(dir: &Path) -> String {
    common::git(dir, &["status", "--porcelain", "--untracked-files=all"]).unwrap()
}

fn commit_all(dir: &Path, msg: &str) {
    common::git(dir, &["add", "-A"]).unwrap();
    common::git(dir, &["commit", "-q", "-m", msg]).unwrap();
}

/// Removing the API is a decision about the whole tree: `rewrite` of a
/// subdirectory plans the whole work tree and applies only what lies
/// inside, and never what code outside it still needs.
#[test]
fn a_subdirectory_never_loses_what_the_rest_of_the_tree_uses() {
    let (_tmp, dir) = convertible_corpus();
    let api_file = read(&dir, "mm/mmu_notifier.c");
    assert!(api_file.contains("__mmu_notifier_invalidate_page("));

    // The diff: paths from the top, only mm/, nothing that removes.
    let out = kseries()
        .arg("rewrite")
        .arg(dir.join("mm"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let diff = String::from_utf8_lossy(&out.stdout);
    let files: Vec<&str> = diff
        .lines()
        .filter_map(|l| l.strip_prefix("diff --git a/"))
        .collect();
    assert_eq!(
        files,
        [
            "mm/legacy_rmap.c b/mm/legacy_rmap.c",
            "mm/shrink.c b/mm/shrink.c"
        ],
        "{diff}"
    );
    assert!(err.contains("planned the whole tree"), "{err}");
    assert!(
        err.contains("remove the invalidate_page API) is left out"),
        "{err}"
    );

    common::kseries_ok(&["rewrite", "--apply", dir.join("mm").to_str().unwrap()]);
    let changed = common::git(&dir, &["diff", "--name-only"]).unwrap();
    assert_eq!(changed, "mm/legacy_rmap.c\nmm/shrink.c\n");
    assert_eq!(
        read(&dir, "mm/mmu_notifier.c"),
        api_file,
        "the API stays while others use it"
    );
    let kinds = scan_kinds(&dir);
    assert_eq!(kinds["call"], 0, "{kinds}");
    assert_eq!(kinds["api"], 5, "{kinds}");
    assert_eq!(kinds["ops-entry"], 3, "{kinds}");

    // The whole tree from the top then finishes the migration.
    commit_all(&dir, "mm part");
    let plan = plan_json(&dir);
    common::kseries_ok(&["rewrite", "--apply", dir.to_str().unwrap()]);
    assert_migrated(&dir, &plan);
}

/// A file that changed since the plan refuses the apply before any file
/// is written.
#[test]
fn apply_checks_every_file_before_writing_any() {
    let (_tmp, dir) = convertible_corpus();
    let recipe = kseries::recipe::by_id("invalidate-page").unwrap();
    let report = kseries::scan::scan(&dir, &recipe).unwrap();
    let plan = kseries::rewrite::plan(&dir, &report, &recipe).unwrap();
    let outcome = kseries::rewrite::outcome(&dir, &plan).unwrap();
    assert!(outcome.len() > 3);
    // The last file to be written changes (and is committed, so the tree
    // is clean) between plan and apply.
    let last = outcome.keys().last().unwrap().clone();
    std::fs::write(dir.join(&last), read(&dir, &last) + "\n/* later */\n").unwrap();
    commit_all(&dir, "a later change");
    let err = kseries::rewrite::apply(&dir, &outcome).unwrap_err();
    assert_eq!(status(&dir), "", "no file written, no file left: {err}");
    assert!(err.to_string().contains(&last), "{err}");
    assert!(err.to_string().contains("nothing was written"), "{err}");
}

/// An untracked file the rewrite would change refuses the apply: its
/// change would not show in `git diff` nor be undone by `git checkout`.
#[test]
fn apply_refuses_to_change_an_untracked_file() {
    let (_tmp, dir) = convertible_corpus();
    common::git(&dir, &["rm", "-q", "--cached", "mm/shrink.c"]).unwrap();
    common::git(&dir, &["commit", "-q", "-m", "untrack"]).unwrap();
    let before = read(&dir, "mm/shrink.c");
    let (code, err) = apply_run(&dir);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("does not track") && err.contains("mm/shrink.c"),
        "{err}"
    );
    assert_eq!(read(&dir, "mm/shrink.c"), before);
    assert_eq!(status(&dir), "?? mm/shrink.c\n", "nothing else written");
}

/// `rewrite --apply DIR`: its exit code and stderr.
fn apply_run(dir: &Path) -> (Option<i32>, String) {
    let out = kseries()
        .args(["rewrite", "--apply"])
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `rewrite --apply` until it stops at `point`, then kills it with
/// SIGKILL.
fn kill_apply_at(dir: &Path, point: &str) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kseries"))
        .args(["rewrite", "--apply"])
        .arg(dir)
        .env(kseries::crashpoint::ENV, point)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.starts_with(kseries::crashpoint::PAUSED) {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            return;
        }
        seen.push(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("kseries never reached {point}: {seen:#?}");
}

/// kill -9 while the temporary files are written: they show in `git
/// status` even under the kernel's `.*` ignore rule, and the next run
/// removes them and applies.
#[test]
fn a_killed_apply_leaves_visible_temporary_files_that_the_next_run_removes() {
    let (_tmp, dir) = convertible_corpus();
    std::fs::write(dir.join(".gitignore"), ".*\n!.gitignore\n*.o\n").unwrap();
    commit_all(&dir, "ignore like the kernel");
    let plan = plan_json(&dir);

    kill_apply_at(&dir, "rewrite-apply-temps-written");
    let st = status(&dir);
    let leftovers: Vec<&str> = st.lines().collect();
    assert!(!leftovers.is_empty(), "the temporary files show");
    for l in &leftovers {
        assert!(
            l.starts_with("?? ") && l.ends_with(kseries::rewrite::apply::TEMP_SUFFIX),
            "only untracked temporary files, no file changed: {st}"
        );
    }

    let (code, err) = apply_run(&dir);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        err.matches("left by an interrupted --apply").count(),
        leftovers.len(),
        "{err}"
    );
    assert!(
        !status(&dir).contains(kseries::rewrite::apply::TEMP_SUFFIX),
        "{}",
        status(&dir)
    );
    assert_migrated(&dir, &plan);
}

/// kill -9 between two renames: the next run removes the temporary
/// files, refuses the half-written tree and says how to undo it; after
/// `git checkout -- .` the apply goes through.
#[test]
fn a_killed_apply_between_renames_is_refused_then_redone() {
    let (_tmp, dir) = convertible_corpus();
    let plan = plan_json(&dir);
    kill_apply_at(&dir, "rewrite-apply-renaming");
    let st = status(&dir);
    assert_eq!(
        st.lines().filter(|l| l.starts_with(" M ")).count(),
        1,
        "{st}"
    );

    let (code, err) = apply_run(&dir);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("an earlier --apply was interrupted") && err.contains("git checkout -- ."),
        "{err}"
    );
    let st = status(&dir);
    assert!(!st.contains(kseries::rewrite::apply::TEMP_SUFFIX), "{st}");

    common::git(&dir, &["checkout", "--", "."]).unwrap();
    common::kseries_ok(&["rewrite", "--apply", dir.to_str().unwrap()]);
    assert_migrated(&dir, &plan);
}

/// A Latin-1 byte in a line the rewrite changes: the diff carries it as
/// it is, and `git apply` takes the diff.
#[test]
fn the_diff_carries_bytes_that_are_not_utf8() {
    let (_tmp, dir) = convertible_corpus();
    let path = dir.join("mm/shrink.c");
    let src = std::fs::read(&path).unwrap();
    let at = src
        .windows(b"mmu_notifier_invalidate_page(".len())
        .position(|w| w == b"mmu_notifier_invalidate_page(")
        .unwrap();
    let eol = at + src[at..].iter().position(|&b| b == b'\n').unwrap();
    let mut latin1 = src[..eol].to_vec();
    latin1.extend_from_slice(b" /* caf\xe9 */");
    latin1.extend_from_slice(&src[eol..]);
    std::fs::write(&path, &latin1).unwrap();
    commit_all(&dir, "latin-1");
    let plan = plan_json(&dir);

    let diff = common::kseries_ok(&["rewrite", dir.to_str().unwrap()]);
    assert!(
        diff.windows(4).any(|w| w == b"caf\xe9"),
        "the byte itself, not U+FFFD"
    );
    let patch = dir.join("../rewrite.diff");
    std::fs::write(&patch, &diff).unwrap();
    common::git(&dir, &["apply", "--check", patch.to_str().unwrap()]).unwrap();
    common::git(&dir, &["apply", patch.to_str().unwrap()]).unwrap();
    assert_migrated(&dir, &plan);
}
